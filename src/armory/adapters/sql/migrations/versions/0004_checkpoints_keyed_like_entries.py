"""Kept checkpoints keyed like entries: one integer, the book's number << 40 | the size.

The table had a key of (book, size), which on SQLite is a table and an index beside it: keeping
one checkpoint wrote a page of each into the append's transaction. Keyed by one integer, the
key is the table's own b-tree (its rowid on SQLite), and each book's checkpoints follow one
another in it as its entries do.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# 1099511627776 below is 1 << 40: the positions of each book (tables.INDEX_BITS).


def upgrade() -> None:
    op.rename_table("checkpoints", "checkpoints_by_book")
    op.create_table(
        "checkpoints",
        sa.Column("pos", Key, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.execute(
        "INSERT INTO checkpoints (pos, note) "
        "SELECT b.no * 1099511627776 + c.size, c.note "
        "FROM checkpoints_by_book c JOIN books b ON b.id = c.book"
    )
    op.drop_table("checkpoints_by_book")


def downgrade() -> None:
    op.rename_table("checkpoints", "checkpoints_by_pos")
    op.create_table(
        "checkpoints",
        sa.Column("book", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.execute(
        "INSERT INTO checkpoints (book, size, note) "
        "SELECT b.id, c.pos - b.no * 1099511627776, c.note "
        "FROM checkpoints_by_pos c JOIN books b ON c.pos >= b.no * 1099511627776 "
        "AND c.pos < (b.no + 1) * 1099511627776"
    )
    op.drop_table("checkpoints_by_pos")
