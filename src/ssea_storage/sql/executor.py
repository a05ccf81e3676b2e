"""The one bridge from the async core to a synchronous SQLAlchemy engine.

Statements run in worker threads. On SQLite a write transaction starts with
``BEGIN IMMEDIATE`` and writes are queued on one lock, so a transaction never fails
half-way on a lock; on PostgreSQL concurrency is left to the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from ssea_core.errors import StoreUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")
_WRITE = "ssea_write"


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the ``postgres`` extra)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **options: Any) -> Engine:
    """An engine set up for ssea: WAL and immediate write transactions on SQLite."""
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, **options)

    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=StaticPool if in_memory else None,
        **options,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class SqlExecutor:
    """Runs a unit of work in one transaction, in a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._write_lock = anyio.Lock() if self.dialect == "sqlite" else None

    def run_sync(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        """Run ``work`` in a transaction on this thread; commit unless it raises."""
        try:
            with self.engine.connect() as connection:
                if write:
                    connection = connection.execution_options(**{_WRITE: True})
                with connection.begin():
                    return work(connection)
        except OperationalError as exc:
            if exc.connection_invalidated or _unreachable(exc):
                logger.warning("store unreachable: %s", type(exc.orig).__name__)
                raise StoreUnavailableError from exc
            raise

    async def run(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        """Run ``work`` in a transaction in a worker thread."""
        if write and self._write_lock is not None:
            async with self._write_lock:
                return await anyio.to_thread.run_sync(self._run_write, work)
        return await anyio.to_thread.run_sync(self._call, work, write)

    def _run_write(self, work: Callable[[Connection], T]) -> T:
        return self.run_sync(work, write=True)

    def _call(self, work: Callable[[Connection], T], write: bool) -> T:
        return self.run_sync(work, write=write)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self.engine.dispose)


def _unreachable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in ("connection refused", "could not connect", "unable to open")
    )
