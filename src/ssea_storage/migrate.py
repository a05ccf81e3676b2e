"""Schema migrations (alembic, configured from code) and opening a store that is ready.

The revisions live in the package (``ssea_storage/migrations``); no ``alembic.ini`` is
needed. The embedded SQLite database is upgraded automatically when it is opened; a
server database is only checked, and an operator upgrades it with ``ssea db upgrade``,
so that several instances never race to change a shared schema.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from ssea_core.errors import MisconfiguredError, SseaError
from ssea_core.settings import Settings
from ssea_storage.factory import open_store
from ssea_storage.sql.executor import SqlExecutor, make_engine, normalise_url
from ssea_storage.sql.schema import UtcDateTime
from ssea_storage.sql.store import SqlStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_PATH = Path(__file__).resolve().parent / "migrations"

#: The PostgreSQL advisory lock that serialises upgrades of one database.
PG_MIGRATION_LOCK = 0x55EA_2026

# alembic runs revisions through module-level proxies (alembic.op, alembic.context),
# so two upgrades in one process must not overlap.
_ALEMBIC_LOCK = threading.Lock()


class SchemaOutdatedError(MisconfiguredError):
    """A server database is not at the schema revision this ssea needs (503)."""

    code = "SCHEMA_OUTDATED"

    def __init__(self, current: str | None, head: str) -> None:
        found = f"is at revision {current}" if current else "has no ssea schema yet"
        super().__init__(
            f"The database {found}; this ssea needs revision {head}. "
            "Run `ssea db upgrade` (with the same --db or SSEA_DATABASE_URL)."
        )
        self.current = current
        self.head = head


def migration_options(dialect: str | None = None) -> dict[str, Any]:
    """The options every alembic context of ssea is configured with.

    ``render_as_batch`` lets later revisions alter tables on SQLite, which cannot
    ``ALTER`` constraints in place.
    """
    return {
        "compare_type": True,
        "render_as_batch": dialect == "sqlite",
        "render_item": _render_item,
    }


def _render_item(
    kind: str, item: Any, autogen_context: AutogenContext
) -> str | Literal[False]:
    # Revisions stay frozen: they name the plain SQL type, not our Python decorator.
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic :class:`Config` for the packaged revisions, bound to a connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_PATH).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this version of ssea ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration revisions found in {MIGRATIONS_PATH}")
    return head


def upgrades_automatically(url: str) -> bool:
    """True for the embedded SQLite database, which ssea upgrades when it opens it."""
    return normalise_url(url).startswith("sqlite")


def _upgrade_on(connection: Connection, revision: str = "head") -> None:
    if connection.dialect.name == "postgresql":
        # Instances that upgrade at the same time queue here; the later ones then find
        # the schema at head. SQLite gets the same from BEGIN IMMEDIATE.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
        )
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(connection), revision)


def _revision_on(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``; a no-op when already there.

    Raises :class:`~ssea_core.errors.MisconfiguredError` (or a subclass) when the
    database cannot be reached or upgraded.
    """
    _run_on_url(url, partial(_upgrade_on, revision=revision), write=True)
    logger.info("database upgraded to %s", revision)


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None when it was never migrated.

    Raises :class:`~ssea_core.errors.MisconfiguredError` when it cannot be read.
    """
    return _run_on_url(url, _revision_on)


def is_up_to_date(url: str) -> bool:
    """True when the database at ``url`` is at this ssea's head revision."""
    return current_revision(url) == head_revision()


async def prepare_schema(store: SqlStore, *, upgrade: bool) -> None:
    """Upgrade the store's database to head, or check that it is there.

    Raises :class:`SchemaOutdatedError` when ``upgrade`` is false and it is not.
    """
    if upgrade:
        await store.executor.run(_upgrade_on, write=True)
        return
    current = await store.executor.run(_revision_on)
    head = head_revision()
    if current != head:
        raise SchemaOutdatedError(current, head)


async def open_ready_store(
    settings: Settings, *, upgrade: bool | None = None
) -> SqlStore:
    """Open the configured store with its schema at head.

    ``upgrade`` None upgrades the embedded SQLite database and only checks any other.
    Every failure is raised as a :class:`~ssea_core.errors.MisconfiguredError`
    (unreachable store, outdated schema, missing master key, unusable URL).
    """
    if upgrade is None:
        upgrade = upgrades_automatically(settings.database_url)
    with _store_errors():
        store = open_store(settings)
    try:
        with _store_errors():
            await prepare_schema(store, upgrade=upgrade)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await store.aclose()
        raise
    return store


@asynccontextmanager
async def ready_store(settings: Settings) -> AsyncIterator[SqlStore]:
    """:func:`open_ready_store` as a context manager that closes the store."""
    store = await open_ready_store(settings)
    try:
        yield store
    finally:
        await store.aclose()


def _run_on_url(url: str, work: Callable[[Connection], T], *, write: bool = False) -> T:
    with _store_errors():
        engine = make_engine(url)
        try:
            return SqlExecutor(engine).run_sync(work, write=write)
        finally:
            engine.dispose()


@contextmanager
def _store_errors() -> Iterator[None]:
    """Turn any failure to open, read or migrate a store into a 503 error."""
    try:
        yield
    except SseaError:
        raise
    except Exception as exc:
        # The driver's words go to the operator's log; clients get only the kind.
        logger.error("the data store failed: %s: %s", type(exc).__name__, exc)
        logger.debug("data store failure", exc_info=exc)
        raise MisconfiguredError(
            f"The data store could not be opened or migrated ({type(exc).__name__}); "
            "check SSEA_DATABASE_URL and the server log."
        ) from exc
