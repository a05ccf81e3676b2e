"""Rows of chosen tables from a MySQL dump (mysqldump or phpMyAdmin), streamed.

Reads ``CREATE TABLE`` (for column names) and ``INSERT [IGNORE] INTO`` /
``REPLACE INTO`` statements, with or without a column list, one or many tuples each,
over one or many lines. Values follow MySQL's literal rules: quoted strings with
backslash escapes (``\\\\ \\' \\" \\n \\r \\t \\0 \\Z \\b``) and doubled quotes,
``NULL``, numbers, ``0x`` hex and ``_binary`` strings. Statements of other tables are
skipped without being held in memory; one tuple at a time is held for the others.
Values are returned as ``str``, ``int``, ``float`` or ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from typing import Any

_INSERT = re.compile(
    r"^\s*(?:INSERT(?:\s+(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY))*|REPLACE)"
    r"\s+INTO\s+[`\"]?(?P<table>[\w$]+)[`\"]?\s*(?:\((?P<columns>[^)]*)\))?\s*VALUES\s*",
    re.IGNORECASE,
)
_CREATE = re.compile(
    r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[`\"]?(?P<table>[\w$]+)",
    re.IGNORECASE,
)
_COLUMN_LINE = re.compile(r"^\s*`(?P<name>[^`]+)`\s+\w")
_STRING = r"'(?:[^'\\]|\\.|'')*'"
_TUPLE = re.compile(rf"\s*,?\s*\((?P<body>(?:[^'()]|{_STRING})*)\)", re.DOTALL)
_END = re.compile(r"\s*;")
_VALUE = re.compile(
    rf"\s*(?:(?:_binary|_utf8mb4|_utf8|_latin1)\s*)?"
    rf"(?:(?P<string>{_STRING})|(?P<null>NULL)\b|(?P<hex>0x[0-9A-Fa-f]*)"
    r"|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<word>[A-Za-z_]\w*))\s*(?:,|$)",
    re.DOTALL,
)
_QUOTES = re.compile(r"\\.|['\"`;]", re.DOTALL)
_ESCAPES = {
    "0": "\x00",
    "b": "\b",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "Z": "\x1a",
    "%": "\\%",
    "_": "\\_",
}
_ESCAPE = re.compile(r"\\(.)|''", re.DOTALL)


class DumpFormatError(ValueError):
    """A statement of a wanted table that cannot be parsed."""


def unescape(body: str) -> str:
    """The text of a MySQL string literal's body (between its quotes)."""
    if "\\" not in body and "''" not in body:
        return body

    def replace(found: re.Match[str]) -> str:
        char = found[1]
        if char is None:
            return "'"
        return _ESCAPES.get(char, char)

    return _ESCAPE.sub(replace, body)


def parse_values(body: str) -> list[Any]:
    """The values of one tuple's body (without its parentheses)."""
    values: list[Any] = []
    position = 0
    body = body.strip()
    while position < len(body):
        found = _VALUE.match(body, position)
        if found is None:
            raise DumpFormatError(f"cannot read a value at {body[position:][:40]!r}")
        values.append(_literal(found))
        position = found.end()
    return values


def _literal(found: re.Match[str]) -> Any:
    if found["string"] is not None:
        return unescape(found["string"][1:-1])
    if found["null"] is not None:
        return None
    if found["hex"] is not None:
        return bytes.fromhex(found["hex"][2:]).decode("utf-8", errors="replace")
    if found["number"] is not None:
        text = found["number"]
        return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)
    return found["word"]  # TRUE, FALSE, CURRENT_TIMESTAMP: kept as written


def dump_rows(
    lines: Iterable[str], tables: Collection[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(table, {column: value})`` for each row inserted into one of ``tables``."""
    reader = _DumpReader(set(tables))
    for line in lines:
        yield from reader.feed(line)
    yield from reader.finish()


class _DumpReader:
    def __init__(self, tables: set[str]) -> None:
        self.tables = tables
        self.columns: dict[str, list[str]] = {}
        self.mode = "scan"
        self.quote: str | None = None
        self.buffer = ""
        self.table = ""
        self.row_columns: list[str] = []
        self.creating: str | None = None

    def feed(self, line: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if self.mode == "values":
            self.buffer += line
            yield from self._tuples()
        elif self.mode == "skip":
            self._skip(line)
        elif self.mode == "create":
            self._create_line(line)
        else:
            yield from self._statement_start(line)

    def finish(self) -> Iterator[tuple[str, dict[str, Any]]]:
        if self.mode == "values" and self.buffer.strip():
            raise DumpFormatError(f"the INSERT into {self.table} is not complete")
        return iter(())

    def _statement_start(self, line: str) -> Iterator[tuple[str, dict[str, Any]]]:
        stripped = line.strip()
        if not stripped or stripped.startswith(("--", "#")):
            return
        insert = _INSERT.match(line)
        if insert is not None and insert["table"] in self.tables:
            self._begin_values(insert)
            self.buffer = line[insert.end() :]
            yield from self._tuples()
            return
        create = _CREATE.match(line)
        if create is not None:
            self.creating = create["table"]
            self.columns[self.creating] = []
            self.mode = "create"
            self._create_line(line[create.end() :])
            return
        self._skip(line)

    def _begin_values(self, insert: re.Match[str]) -> None:
        self.table = insert["table"]
        if insert["columns"]:
            names = [name.strip(' `"\n\r\t') for name in insert["columns"].split(",")]
        else:
            names = self.columns.get(self.table, [])
            if not names:
                raise DumpFormatError(
                    f"INSERT into {self.table} without a column list and no CREATE "
                    "TABLE before it"
                )
        self.row_columns = names
        self.mode = "values"

    def _tuples(self) -> Iterator[tuple[str, dict[str, Any]]]:
        position = 0
        while True:
            found = _TUPLE.match(self.buffer, position)
            if found is None:
                break
            position = found.end()
            values = parse_values(found["body"])
            if len(values) != len(self.row_columns):
                raise DumpFormatError(
                    f"a row of {self.table} has {len(values)} values for "
                    f"{len(self.row_columns)} columns"
                )
            yield self.table, dict(zip(self.row_columns, values, strict=True))
        end = _END.match(self.buffer, position)
        if end is not None:
            rest = self.buffer[end.end() :]
            self.buffer = ""
            self.mode = "scan"
            if rest.strip():
                yield from self._statement_start(rest)
        else:
            self.buffer = self.buffer[position:]

    def _create_line(self, line: str) -> None:
        assert self.creating is not None
        column = _COLUMN_LINE.match(line)
        if column is not None:
            self.columns[self.creating].append(column["name"])
        if line.strip().startswith(")") and line.rstrip().endswith(";"):
            self.mode = "scan"
            self.creating = None

    def _skip(self, line: str) -> None:
        """Follow quotes through a statement we do not read, up to its ';'."""
        self.mode = "skip"
        for found in _QUOTES.finditer(line):
            char = found[0]
            if self.quote is not None:
                if char == self.quote:
                    self.quote = None
            elif char in "'\"`":
                self.quote = char
            elif char == ";":
                self.mode = "scan"
