"""The SQL store on Cloudflare D1, through SQLAlchemy's SQLite dialect.

The unchanged :class:`~ssea_storage.sql.store.SqlStore` runs on a D1 binding: its
statements are compiled by the SQLite dialect (``sqlite+d1://``, :class:`D1Dialect`)
and executed by the DB-API driver of :mod:`ssea_storage.d1.dbapi`, which awaits the
binding with ``run_sync`` (JSPI). Workers has no threads, so :class:`D1Store` runs
each unit of work inline on the calling task (:class:`InlineExecutor`).

D1 has no interactive transactions; a ``batch`` of statements is atomic. What holds
for one unit of work:

- Its writes are sent as one batch at commit: a unit that never reads a table it
  wrote, nor a rowcount of its own writes, is all or nothing.
- A read of a table it wrote (of any table after a DELETE, which foreign keys
  cascade), or the use of a write's rowcount, first sends the writes so far as one
  batch. Reads always see the unit's own writes; such a unit commits in as many
  atomic steps, and a rollback drops only the writes not sent yet.
- No isolation: another isolate may write between a unit's reads and its commit.
  The write units of one isolate queue on one lock.

The ingest write path: a batch whose events all follow each user's newest stored
event commits in one batch. A batch holding an older event re-reads that user's
events, so its events and usage are sent first and its sessions, tails and rollups
after; a failure in between leaves those events without their sessions and rollups,
and a retry counts them as duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any, TypeVar, cast
from uuid import UUID

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.pool import NullPool

from ssea_core.errors import MisconfiguredError, SseaError
from ssea_core.reports.params import ReportRequest
from ssea_core.settings import Settings
from ssea_storage.d1 import dbapi
from ssea_storage.jsbridge import JsBridge, pyodide_bridge
from ssea_storage.secrets import SecretBox
from ssea_storage.sql.executor import SqlExecutor
from ssea_storage.sql.reports import Row, SqlReportQueries, _batches, _next_batch
from ssea_storage.sql.store import (
    SqlOperatorRepository,
    SqlStore,
    SqlTenantRepository,
)

__all__ = ["D1Dialect", "D1Store", "InlineExecutor", "d1_engine", "open_d1_store"]

T = TypeVar("T")
logger = logging.getLogger(__name__)
#: Words in D1's errors that say the call, not the statement, failed (a 503).
_TRANSIENT = ("network connection lost", "overloaded", "internal error", "reset")


class D1Dialect(SQLiteDialect_pysqlite):
    """SQLAlchemy's SQLite dialect over the D1 driver: no user functions, no
    isolation pragmas, a new DB-API connection (and write buffer) per checkout."""

    driver = "d1"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> DBAPIModule:
        return cast(DBAPIModule, dbapi)

    @classmethod
    def get_pool_class(cls, url: Any) -> type[NullPool]:
        return NullPool

    def on_connect(self) -> Callable[[Any], None]:
        return lambda connection: None  # D1 runs no user-defined functions

    def create_connect_args(self, url: Any) -> Any:
        return ([], {})

    def get_isolation_level(self, dbapi_connection: Any) -> Any:
        return "SERIALIZABLE"

    def set_isolation_level(self, dbapi_connection: Any, level: Any) -> None:
        pass

    def is_disconnect(self, e: Any, connection: Any, cursor: Any) -> bool:
        text = str(e).lower()
        return any(marker in text for marker in _TRANSIENT)


def d1_engine(database: Any, bridge: JsBridge | None = None) -> Engine:
    """A SQLAlchemy engine whose connections talk to the D1 binding ``database``."""
    registry.register("sqlite.d1", __name__, "D1Dialect")
    chosen = bridge or pyodide_bridge()
    return create_engine(
        "sqlite+d1://",
        creator=lambda: dbapi.D1Connection(database, chosen),
        poolclass=NullPool,
    )


class InlineExecutor(SqlExecutor):
    """Runs each unit of work on the calling task: Workers has no threads."""

    async def run(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        if write and self._write_lock is not None:
            async with self._write_lock:
                return self.run_sync(work, write=True)
        return self.run_sync(work, write=write)

    async def aclose(self) -> None:
        self.engine.dispose()


class _InlineReportQueries(SqlReportQueries):
    # SqlReportQueries.rows reads in worker threads of its own, not through the
    # executor; on D1 its batches are read inline until it goes through SqlExecutor.
    async def rows(self, request: ReportRequest) -> AsyncGenerator[Row, None]:
        producer = self._producers[request.report_type]
        batches = _batches(
            self._engine, lambda connection: producer(connection, request)
        )
        try:
            while (batch := _next_batch(batches)) is not None:
                for row in batch:
                    yield row
        finally:
            batches.close()


class _D1TenantRepository(SqlTenantRepository):
    def reports(self) -> SqlReportQueries:
        return _InlineReportQueries(self._executor, self._tenant_id)


class D1Store(SqlStore):
    """A :class:`SqlStore` on a D1 binding, with an :class:`InlineExecutor`."""

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        super().__init__(engine, box)
        # One executor serves every repository, so the operator one is rebuilt too.
        self.executor = InlineExecutor(engine)
        self._operator = SqlOperatorRepository(self.executor, box)

    def for_tenant(self, tenant_id: UUID) -> SqlTenantRepository:
        return _D1TenantRepository(self.executor, self._box, tenant_id)

    @classmethod
    def from_binding(
        cls, database: Any, *, master_key: str | bytes, bridge: JsBridge | None = None
    ) -> D1Store:
        """The store on ``env.DB``, tenant secrets sealed under ``master_key``."""
        return cls(d1_engine(database, bridge), SecretBox(master_key))


async def open_d1_store(
    database: Any, settings: Settings, *, migrate: bool, bridge: JsBridge | None = None
) -> D1Store:
    """The store on ``database`` with its schema at head: upgraded when ``migrate``,
    else only checked.

    Raises :class:`MisconfiguredError` without a master key, with an outdated
    schema, or when D1 fails.
    """
    from ssea_storage.migrate import SchemaOutdatedError, prepare_schema

    if settings.master_key is None:
        raise MisconfiguredError(
            "SSEA_MASTER_KEY is not set: `wrangler secret put SSEA_MASTER_KEY` "
            "with a key from `ssea keys master`."
        )
    key = settings.master_key.get_secret_value()
    store = D1Store.from_binding(database, master_key=key, bridge=bridge)
    try:
        await prepare_schema(store, upgrade=migrate)
    except SchemaOutdatedError as exc:
        raise MisconfiguredError(
            f"The D1 database is not at schema revision {exc.head}: apply the "
            "schema (examples/workers/README.md) or set SSEA_D1_MIGRATE=true once."
        ) from exc
    except SseaError:
        raise
    except Exception as exc:
        # The driver's words go to the operator's log; clients get only the kind.
        logger.error("the D1 store failed: %s: %s", type(exc).__name__, exc)
        raise MisconfiguredError(
            f"The D1 store could not be opened ({type(exc).__name__})."
        ) from exc
    return store
