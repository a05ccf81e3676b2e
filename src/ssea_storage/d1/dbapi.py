"""A PEP 249 driver over a D1 binding (qmark parameters), for SQLAlchemy.

Invariants (``ssea_storage.d1`` says what they mean for a unit of work):

- Writes (INSERT, UPDATE, DELETE without RETURNING) are buffered on the connection
  and sent as one D1 ``batch`` (atomic) by :meth:`D1Connection.commit`, or earlier
  by :meth:`D1Connection.flush`; ``rollback`` drops the buffer. ``BEGIN`` is a no-op
  and savepoints are refused: D1 has neither.
- Before any other statement runs, the buffer is flushed if that statement may read
  a table with buffered writes, or if it is not a read (DDL, RETURNING). A buffered
  statement's ``rowcount`` is a number that flushes when first used.
- Reads run one by one with ``raw({columnNames: true})``, so a result keeps its
  column order, duplicate names and its columns when it has no row.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError

from ssea_storage.d1 import statements as sql_text
from ssea_storage.d1.statements import Statement
from ssea_storage.jsbridge import JsBridge, pyodide_bridge

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"
#: Read by SQLAlchemy's SQLite dialect to choose features (RETURNING needs 3.35).
sqlite_version_info = (3, 45, 0)
sqlite_version = "3.45.0"
Binary = bytes


class Error(Exception):
    """Root of this driver's errors (PEP 249)."""


class Warning(Exception):  # the name PEP 249 gives it
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


def _error(exc: Exception) -> Error:
    """The DB-API error for what D1 threw (``D1_ERROR: … SQLITE_CONSTRAINT``)."""
    text = str(exc)
    if "constraint" in text.lower():
        return IntegrityError(text)
    if any(marker in text for marker in ("SQLITE_", "D1_", "syntax", "no such")):
        return OperationalError(text)
    return DatabaseError(text)


@functools.total_ordering
class _Count:
    """A rowcount known once its buffered statements are sent; using it sends them."""

    def __init__(self, connection: D1Connection, sent: list[Statement]) -> None:
        self._connection = connection
        self._statements = sent

    def __int__(self) -> int:
        if any(statement.changes is None for statement in self._statements):
            self._connection.flush_for(self._statements[0].sql)
        return sum(statement.changes or 0 for statement in self._statements)

    __index__ = __int__

    def __bool__(self) -> bool:
        return int(self) != 0

    def __eq__(self, other: object) -> bool:
        return int(self) == other

    def __lt__(self, other: int) -> bool:
        return int(self) < other

    def __hash__(self) -> int:
        return hash(int(self))

    def __repr__(self) -> str:
        return repr(int(self))


class D1Connection:
    """A DB-API connection to one D1 binding; each holds its own write buffer."""

    isolation_level = ""  # read by SQLAlchemy's SQLite dialect

    def __init__(self, database: Any, bridge: JsBridge) -> None:
        self._database = database
        self._bridge = bridge
        self._pending: list[Statement] = []
        self._dirty: set[str] = set()

    def cursor(self) -> D1Cursor:
        return D1Cursor(self)

    def commit(self) -> None:
        self.flush()

    def rollback(self) -> None:
        for statement in self._pending:
            statement.changes = 0
        self._pending.clear()
        self._dirty.clear()

    def close(self) -> None:
        self.rollback()

    def flush(self) -> None:
        """Send every buffered write as one batch (atomic on D1)."""
        batch, self._pending = self._pending, []
        self._dirty.clear()
        if not batch:
            return
        prepared = [self._prepare(statement) for statement in batch]
        if len(prepared) == 1:
            results = [self._call(prepared[0].run())]
        else:
            results = self._call(self._database.batch(self._bridge.array(prepared)))
        for statement, result in zip(batch, results, strict=True):
            meta = result.get("meta") or {}
            statement.changes = int(meta.get("changes") or 0)
            statement.last_row_id = meta.get("last_row_id")

    def flush_for(self, sql: str) -> None:
        """:meth:`flush` for a rowcount used outside SQLAlchemy's execution, with
        SQLAlchemy's wrapping of the error."""
        try:
            self.flush()
        except Error as exc:
            raise DBAPIError.instance(sql, None, exc, Error) from exc

    def execute(self, cursor: D1Cursor, sql: str, rows: list[tuple[Any, ...]]) -> None:
        word = sql_text.kind(sql)
        if word in sql_text.CONTROL:
            self._control(word, sql)
        elif sql_text.is_buffered_write(sql):
            buffered = sql_text.pack(sql, rows)
            self._pending.extend(buffered)
            self._dirty.add(sql_text.written(sql))
            cursor.rowcount = _Count(self, buffered)
        else:
            for values in rows:
                self._immediate(cursor, sql, values)

    def _control(self, word: str, sql: str) -> None:
        if word in ("COMMIT", "END"):
            self.commit()
        elif word == "ROLLBACK" and "TO" not in sql.upper().split():
            self.rollback()
        elif word != "BEGIN":
            raise NotSupportedError("D1 has no savepoints.")

    def _immediate(self, cursor: D1Cursor, sql: str, values: tuple[Any, ...]) -> None:
        read = sql_text.is_read(sql)
        if not read or self._touches_dirty(sql):
            self.flush()
        prepared = self._prepare(Statement(sql, values))
        if read or sql_text.kind(sql) in sql_text.WRITES:  # a write with RETURNING
            table = self._call(prepared.raw(columnNames=True))
            columns = list(table[0]) if table else []
            cursor.load(columns, [tuple(map(_value, row)) for row in table[1:]])
            return
        meta = self._call(prepared.run()).get("meta") or {}
        cursor.rowcount = int(meta.get("changes") or 0)
        cursor.lastrowid = meta.get("last_row_id")

    def _touches_dirty(self, sql: str) -> bool:
        if sql_text.EVERYTHING in self._dirty:
            return True
        return bool(self._dirty) and not self._dirty.isdisjoint(sql_text.names(sql))

    def _prepare(self, statement: Statement) -> Any:
        try:
            sql, values = sql_text.fit(
                statement.sql, statement.values, self._bridge.blob
            )
        except ValueError as exc:
            raise ProgrammingError(str(exc)) from exc
        prepared = self._database.prepare(sql)
        return prepared.bind(*values) if values else prepared

    def _call(self, awaitable: Awaitable[Any]) -> Any:
        try:
            return self._bridge.to_py(self._bridge.wait(awaitable))
        except Exception as exc:
            raise _error(exc) from exc


def _value(value: Any) -> Any:
    # D1 answers a BLOB as an array of byte values.
    return bytes(value) if isinstance(value, list) else value


class D1Cursor:
    """A DB-API cursor; the rows of a read are fetched whole."""

    arraysize = 1

    def __init__(self, connection: D1Connection) -> None:
        self.connection = connection
        self.description: tuple[tuple[Any, ...], ...] | None = None
        self.rowcount: Any = -1
        self.lastrowid: int | None = None
        self._rows: Iterator[tuple[Any, ...]] = iter(())

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> D1Cursor:
        return self.executemany(sql, [parameters])

    def executemany(self, sql: str, seq: Sequence[Sequence[Any]]) -> D1Cursor:
        self.description, self.rowcount, self.lastrowid = None, -1, None
        self._rows = iter(())
        self.connection.execute(self, sql, [tuple(values) for values in seq])
        return self

    def load(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.description = tuple((name, *[None] * 6) for name in columns) or None
        self.rowcount = len(rows)
        self._rows = iter(rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        return next(self._rows, None)

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        wanted = size or self.arraysize
        return [row for _, row in zip(range(wanted), self._rows, strict=False)]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def close(self) -> None:
        self._rows = iter(())

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass


def connect(database: Any, bridge: JsBridge | None = None) -> D1Connection:
    """A connection to the D1 binding ``database`` (``env.DB``)."""
    return D1Connection(database, bridge or pyodide_bridge())
