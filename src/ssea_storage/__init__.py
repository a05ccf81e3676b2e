"""ssea storage: SQL (SQLite, PostgreSQL) implementations of the core's protocols."""

from ssea_storage.factory import open_store, resolve_master_key
from ssea_storage.sql.store import SqlStore

__all__ = ["SqlStore", "open_store", "resolve_master_key"]
