"""Alembic migrations of the order database (``strikeflow cdc migrate`` applies them)."""
