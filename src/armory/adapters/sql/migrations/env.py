"""Alembic environment: runs on the connection Armory hands it (see armory.adapters.sql.schema)."""

from __future__ import annotations

from alembic import context

from armory.adapters.sql.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
