"""The ledger: books, entries (insert and select only) and kept checkpoints.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_GUARDS = [
    "CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END",
    "CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END",
]

POSTGRES_GUARDS = [
    "CREATE FUNCTION armory_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END $$",
    "CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries "
    "FOR EACH ROW EXECUTE FUNCTION armory_append_only()",
    "CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION armory_append_only()",
]

# The entries as people read them: book id and index instead of the packed key.
ENTRY_VIEW = (
    "CREATE VIEW entry_rows AS SELECT b.id AS book, e.pos - (b.no * 1099511627776) AS idx, "
    "e.body, e.hashes FROM entries e JOIN books b "
    "ON e.pos >= b.no * 1099511627776 AND e.pos < (b.no + 1) * 1099511627776"
)


def upgrade() -> None:
    op.create_table(
        "books",
        sa.Column("no", Key, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(24), nullable=False),
    )
    op.create_table(
        "entries",
        sa.Column("pos", Key, primary_key=True, autoincrement=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("book", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    guards = SQLITE_GUARDS if op.get_bind().dialect.name == "sqlite" else POSTGRES_GUARDS
    for statement in guards:
        op.execute(statement)
    op.execute(ENTRY_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW entry_rows")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS entries_append_only ON entries")
        op.execute("DROP TRIGGER IF EXISTS entries_no_truncate ON entries")
        op.execute("DROP FUNCTION IF EXISTS armory_append_only()")
    op.drop_table("checkpoints")
    op.drop_table("entries")
    op.drop_table("books")
