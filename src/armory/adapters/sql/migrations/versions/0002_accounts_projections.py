"""Accounts (password and PIN hashes) and the projections of each book.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("pin_hash", sa.Text, nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("pin_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pin_locked_until", sa.Float, nullable=True),
        sa.Column("created_at", sa.String(24), nullable=False),
    )
    # Derived state, rebuilt from the ledger by `armory rebuild`: updated in place, unlike entries.
    op.create_table(
        "projections",
        sa.Column("book", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("doc", sa.Text, nullable=False),
    )
    # Which entries name which item, person or cross-book reference: what `trace` reads.
    op.create_table(
        "item_entries",
        sa.Column("book", sa.String(64), primary_key=True),
        sa.Column("item", sa.String(128), primary_key=True),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    )


def downgrade() -> None:
    op.drop_table("item_entries")
    op.drop_table("projections")
    op.drop_table("accounts")
