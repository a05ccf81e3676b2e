"""Reading a live Moodle database's standard log, read-only and incrementally.

:func:`read_logstore` streams ``{prefix}logstore_standard_log`` rows in id order,
``batch`` rows per query, starting after ``after_id``: a caller that remembers the
last id it imported resumes from there. Rows are plain dicts, the input of
:class:`ssea_core.importers.LogstoreSource`.

Guarantees:
- Nothing is written: SQLite files are opened with ``mode=ro``; on PostgreSQL and
  MySQL each query runs in a read-only transaction that is rolled back.
- No connection is held between batches, so a slow consumer never keeps a
  transaction open on the Moodle server.
- Errors never show the database password.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from ssea_core.errors import SseaError
from ssea_core.importers.logstore import LOGSTORE_COLUMNS
from ssea_storage.sql.executor import normalise_url

logger = logging.getLogger(__name__)


class MoodleDatabaseError(SseaError):
    """The Moodle database cannot be read (unreachable, or no standard log table)."""

    status = 503
    code = "MOODLE_DB_UNAVAILABLE"
    default_message = "The Moodle database cannot be read."


def read_logstore(
    url: str, *, prefix: str = "mdl_", after_id: int = 0, batch: int = 5000
) -> Iterator[dict[str, Any]]:
    """Rows of the standard log with ``id > after_id``, in id order.

    Raises :class:`MoodleDatabaseError` when the database cannot be reached or has no
    ``{prefix}logstore_standard_log`` table.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    shown = _safe_url(url)
    engine = _read_only_engine(url)
    try:
        table = _logstore_table(engine, f"{prefix}logstore_standard_log", shown)
        columns = [table.c[name] for name in LOGSTORE_COLUMNS if name in table.c]
        last = after_id
        while True:
            query = (
                select(*columns)
                .where(table.c.id > last)
                .order_by(table.c.id)
                .limit(batch)
            )
            rows = _fetch(engine, query, shown)
            logger.debug("read %d logstore rows after id %d", len(rows), last)
            yield from rows
            if len(rows) < batch:
                return
            last = int(rows[-1]["id"])
    finally:
        engine.dispose()


def _read_only_engine(url: str) -> Engine:
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None,
        "",
        ":memory:",
    ):
        database = parsed.database or ""
        path = database.removeprefix("file:")
        parsed = parsed.set(
            database=f"file:{path}", query={"mode": "ro", "uri": "true"}
        )
        return create_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True)


def _logstore_table(engine: Engine, name: str, shown: str) -> Table:
    try:
        return Table(name, MetaData(), autoload_with=engine)
    except NoSuchTableError as exc:
        raise MoodleDatabaseError(
            f"No table {name} in the Moodle database at {shown}: check the table "
            "prefix (prefix=...) and that the standard log store is enabled."
        ) from exc
    except SQLAlchemyError as exc:
        raise MoodleDatabaseError(
            f"Cannot read the Moodle database at {shown}: {type(exc).__name__}."
        ) from exc


def _fetch(engine: Engine, query: Any, shown: str) -> list[dict[str, Any]]:
    try:
        with engine.connect() as connection:
            _read_only(connection)
            rows = [dict(row) for row in connection.execute(query).mappings()]
            connection.rollback()
            return rows
    except SQLAlchemyError as exc:
        raise MoodleDatabaseError(
            f"Cannot read the Moodle database at {shown}: {type(exc).__name__}."
        ) from exc


def _read_only(connection: Connection) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
    elif dialect in ("mysql", "mariadb"):
        connection.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparsable URL>"
