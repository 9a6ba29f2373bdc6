"""Alembic migrations (one linear chain for every package's tables)."""
