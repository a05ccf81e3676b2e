"""What the D1 driver reads from SQL text, and how it fits statements to D1's limits.

SQLAlchemy's SQLite dialect writes the SQL; these functions only classify it (read,
write, which table a write changes) and rewrite it within D1's limit of 100 bound
parameters: None binds as a ``NULL`` literal, an ``IN`` list of a statement with too
many parameters becomes one JSON array read by ``json_each``, and the rows of an
executemany INSERT are packed into multi-row ``VALUES``. A ``?`` inside a quoted
string or identifier is never taken for a placeholder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: D1's limit of bound parameters per statement.
MAX_PARAMETERS = 100
#: Stands for every table: a write that may delete rows, which foreign keys cascade.
EVERYTHING = "*"
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})

_KEYWORD = re.compile(r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*\(?\s*([A-Za-z]+)", re.S)
_READS = frozenset({"SELECT", "PRAGMA", "EXPLAIN", "VALUES", "WITH"})
_WRITE_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
_RETURNING = re.compile(r"\bRETURNING\b", re.I)
_TARGET = re.compile(
    r"\s*(INSERT(?:\s+OR\s+(\w+))?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|"
    r"DELETE\s+FROM)\s+\"?(\w+)",
    re.I,
)
_NAMES = re.compile(r"(?<![.\w\"])\"?([A-Za-z_]\w*)")
_ROW = re.compile(r"^(INSERT\b.*?\bVALUES\s*)(\((?:\?,\s*)*\?\))(.*)$", re.S | re.I)
_PLACES = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\bIN \((\?(?:, \?)+)\)|\?", re.I
)


@dataclass(slots=True)
class Statement:
    """One statement with its values; ``changes`` once D1 ran it."""

    sql: str
    values: tuple[Any, ...]
    changes: int | None = None
    last_row_id: int | None = None


def kind(sql: str) -> str:
    """The statement's first keyword, upper-cased (``SELECT``, ``INSERT``…)."""
    found = _KEYWORD.match(sql)
    return found.group(1).upper() if found else ""


def is_read(sql: str) -> bool:
    """True for a statement that changes nothing."""
    word = kind(sql)
    if word == "WITH":
        return not _WRITE_WORD.search(sql)
    return word in _READS


def is_buffered_write(sql: str) -> bool:
    """A write whose result is not needed at once (no ``RETURNING``)."""
    return kind(sql) in WRITES and not _RETURNING.search(sql)


def written(sql: str) -> str:
    """The table a write changes, or :data:`EVERYTHING` when it may delete rows."""
    found = _TARGET.match(sql)
    if found is None or (found.group(2) or "").upper() == "REPLACE":
        return EVERYTHING
    verb = found.group(1).split()[0].upper()
    return EVERYTHING if verb in ("DELETE", "REPLACE") else found.group(3).lower()


def names(sql: str) -> set[str]:
    """Every identifier not qualified by another: the tables a statement may read
    (a superset, as column labels are included)."""
    return {name.lower() for name in _NAMES.findall(sql)}


def pack(sql: str, rows: Sequence[Sequence[Any]]) -> list[Statement]:
    """One statement per row, or the rows of one INSERT in multi-row ``VALUES``.

    SQLite applies the rows of a multi-row INSERT (and its ``ON CONFLICT``) one by
    one, in order, exactly as it applies one statement per row.
    """
    found = _ROW.match(sql) if len(rows) > 1 else None
    if found is None or "?" in found.group(3) or not rows[0]:
        return [Statement(sql, tuple(row)) for row in rows]
    per = max(1, MAX_PARAMETERS // len(rows[0]))
    head, values, tail = found.groups()
    return [
        Statement(
            head + ", ".join([values] * len(rows[start : start + per])) + tail,
            tuple(value for row in rows[start : start + per] for value in row),
        )
        for start in range(0, len(rows), per)
    ]


def fit(
    sql: str, values: Sequence[Any], blob: Callable[[bytes], Any]
) -> tuple[str, list[Any]]:
    """``sql`` and the values to bind, within D1's limits (module docstring).

    Raises ``ValueError`` when the values do not match the placeholders.
    """
    packed = len(values) > MAX_PARAMETERS
    given = iter(values)
    parts: list[str] = []
    bound: list[Any] = []
    end = 0

    def place(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bytes | bytearray | memoryview):
            value = blob(bytes(value))
        bound.append(value)
        return "?"

    try:
        for found in _PLACES.finditer(sql):
            if found.group(0)[0] in "'\"":
                continue
            parts.append(sql[end : found.start()])
            end = found.end()
            if found.group(1) is None:
                parts.append(place(next(given)))
                continue
            group = [next(given) for _ in range(found.group(1).count("?"))]
            if packed and all(isinstance(v, str | int | float) for v in group):
                bound.append(json.dumps(group))
                parts.append("IN (SELECT value FROM json_each(?))")
            else:
                parts.append("IN (" + ", ".join(place(v) for v in group) + ")")
    except StopIteration:
        raise ValueError("fewer values than placeholders") from None
    if next(given, given) is not given:
        raise ValueError("more values than placeholders")
    return "".join([*parts, sql[end:]]), bound
