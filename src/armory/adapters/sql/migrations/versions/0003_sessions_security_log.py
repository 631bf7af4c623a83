"""Signing in: password lockout, bearer tokens, and the security log.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("password_failures", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("password_locked_until", sa.Float, nullable=True))
    # A bearer token is kept only as its SHA-256: the database never holds a usable token.
    op.create_table(
        "tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.String(24), nullable=False),
    )
    op.create_index("tokens_by_account", "tokens", ["account"])
    # Failed logins, wrong PINs, refused requests: kept apart from the ledger (SPEC §4), and
    # never holding a password, a PIN or a token.
    op.create_table(
        "security_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=True),
        sa.Column("book", sa.String(64), nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("security_log")
    op.drop_index("tokens_by_account", "tokens")
    op.drop_table("tokens")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("password_locked_until")
        batch.drop_column("password_failures")
