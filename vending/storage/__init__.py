"""Storage: SQLAlchemy Core tables, the transaction runner and Alembic migrations."""
