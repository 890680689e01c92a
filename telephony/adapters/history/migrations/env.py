"""Alembic's environment for the history database: run by `telephony.adapters.history.migrate`
on the connection it hands over (config.attributes["connection"])."""

from __future__ import annotations

from alembic import context

from telephony.adapters.history.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
