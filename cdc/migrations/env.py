"""Alembic's entry point, driven only from :func:`cdc.migrate.migrate` (no alembic.ini).

The caller hands over an open SQLAlchemy connection (the superuser's) and the
:class:`~infra.settings.PostgresSettings` the role migration reads. Migrations run in one
transaction under an advisory lock, so two processes migrating at once (a test session and
the demo) queue instead of racing.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

MIGRATION_LOCK = 0x5F_C0DE_0001  # pg_advisory_xact_lock key: one migrator at a time

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    context.run_migrations()
