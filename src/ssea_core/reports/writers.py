"""Streaming CSV and JSON writers of report rows; bytes go out in bounded chunks.

Invariants:
- CSV follows RFC 4180: a header row of the report's column names, CRLF line ends,
  fields quoted when they hold a comma, a quote or a line break, UTF-8 without BOM.
  Null is an empty field; booleans are ``true``/``false``; dates ``2026-03-02``;
  times ``2026-03-02T12:00:00Z``.
- JSON is one top-level array of objects whose keys are the column names in order,
  written one row at a time; null is ``null``, dates and times are the strings above.
- A writer holds at most about one chunk (64 KiB by default) plus one row in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ssea_core.artifacts import DEFAULT_CHUNK_SIZE, ArtifactWriter
from ssea_core.reports.definitions import ColumnType, ReportDefinition, ReportFormat


@dataclass(frozen=True, slots=True)
class WriteSummary:
    """How many rows and bytes a writer produced."""

    rows: int
    bytes: int


def _instant(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def _plain(value: Any) -> Any:
    """A row value as JSON has it: dates and times as ISO strings."""
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_text(value: Any) -> str:
    """A row value as a CSV field (before quoting)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(_plain(value))


def parse_value(kind: ColumnType, value: Any) -> Any:
    """A CSV field or JSON value back as the column's Python value (tests, clients).

    An empty CSV field is null, also in a string column.
    """
    if value is None or value == "":
        return None
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else value == "true"
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    return str(value)


def parse_csv(definition: ReportDefinition, text: str) -> list[dict[str, Any]]:
    """Rows of a CSV report, typed by the report's columns; checks the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if tuple(header) != definition.names:
        raise ValueError(f"unexpected header {header}")
    kinds = [column.type for column in definition.columns]
    return [
        {
            name: parse_value(kind, field)
            for name, kind, field in zip(header, kinds, row, strict=True)
        }
        for row in reader
    ]


def parse_json(definition: ReportDefinition, text: str) -> list[dict[str, Any]]:
    """Rows of a JSON report, typed by the report's columns."""
    kinds = {column.name: column.type for column in definition.columns}
    return [
        {name: parse_value(kinds[name], value) for name, value in row.items()}
        for row in json.loads(text)
    ]


class _Chunker:
    """Gathers text into chunks of about ``size`` bytes for the sink."""

    def __init__(self, sink: ArtifactWriter, size: int) -> None:
        self._sink = sink
        self._size = size
        self._buffer = bytearray()
        self.total = 0

    async def add(self, text: str) -> None:
        self._buffer += text.encode()
        if len(self._buffer) >= self._size:
            await self.flush()

    async def flush(self) -> None:
        if self._buffer:
            self.total += len(self._buffer)
            await self._sink.write(bytes(self._buffer))
            self._buffer.clear()


class _CsvLine:
    """Formats one row as one RFC 4180 record."""

    def __init__(self) -> None:
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")

    def __call__(self, fields: list[str]) -> str:
        self._text.seek(0)
        self._text.truncate()
        self._writer.writerow(fields)
        return self._text.getvalue()


async def write_csv(
    definition: ReportDefinition,
    rows: AsyncIterable[Mapping[str, Any]],
    sink: ArtifactWriter,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> WriteSummary:
    """Write the header and every row as CSV into ``sink``; a row must hold every
    column (``KeyError`` otherwise)."""
    out, line, count = _Chunker(sink, chunk_size), _CsvLine(), 0
    names = definition.names
    await out.add(line(list(names)))
    async for row in rows:
        await out.add(line([csv_text(row[name]) for name in names]))
        count += 1
    await out.flush()
    return WriteSummary(count, out.total)


async def write_json(
    definition: ReportDefinition,
    rows: AsyncIterable[Mapping[str, Any]],
    sink: ArtifactWriter,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> WriteSummary:
    """Write every row as one JSON array into ``sink``, one object per line."""
    out, count = _Chunker(sink, chunk_size), 0
    names = definition.names
    await out.add("[")
    async for row in rows:
        item = {name: _plain(row[name]) for name in names}
        text = json.dumps(item, ensure_ascii=False, allow_nan=False)
        await out.add(("," if count else "") + "\n" + text)
        count += 1
    await out.add("\n]\n")
    await out.flush()
    return WriteSummary(count, out.total)


async def write_report(
    definition: ReportDefinition,
    rows: AsyncIterable[Mapping[str, Any]],
    report_format: ReportFormat,
    sink: ArtifactWriter,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> WriteSummary:
    """:func:`write_csv` or :func:`write_json`, by ``report_format``."""
    writer = write_csv if report_format == "csv" else write_json
    return await writer(definition, rows, sink, chunk_size=chunk_size)
