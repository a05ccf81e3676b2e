"""Alembic migrations of the SQL schema; run them with :mod:`ssea_storage.migrate`."""
