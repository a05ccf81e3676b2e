"""Reading text files the way real exports arrive: streamed, in any line ending, in
UTF-8 with or without BOM, with stray Windows-1252 bytes, optionally gzipped.

Invariants:
- Memory stays flat: files are read in blocks and yielded line by line (a CSV field
  that spans lines is held only until it closes).
- Decoding never fails: a line that is not valid UTF-8 keeps its valid sequences and
  reads every invalid byte as Windows-1252 (Latin-1 for the five bytes Windows-1252
  leaves undefined). The number of such bytes is counted, so a summary can say so.
- ``\\r\\n``, ``\\n`` and a lone ``\\r`` all end a line, also across block edges.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

_BLOCK = 1 << 20
_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = "\ufeff"

# CSV fields of real logs can be long (descriptions, serialised data).
csv.field_size_limit(1 << 24)


class ByteStream(Protocol):
    """What is read from: a file opened in binary mode, or a gzip stream."""

    def read(self, size: int = -1, /) -> bytes: ...


@contextmanager
def open_binary(path: Path) -> Iterator[ByteStream]:
    """Open a file for reading bytes; ``.gz`` files are decompressed on the fly."""
    if path.suffix.lower() == ".gz":
        with gzip.GzipFile(path, "rb") as stream:
            yield stream
    else:
        with path.open("rb") as stream:
            yield stream


class Decoder:
    """Decodes lines as UTF-8, falling back to Windows-1252 byte by byte."""

    def __init__(self) -> None:
        self.fallback_bytes = 0

    def decode(self, raw: bytes) -> str:
        """The text of ``raw``; never raises."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._decode_mixed(raw)

    def _decode_mixed(self, raw: bytes) -> str:
        parts: list[str] = []
        position = 0
        while position < len(raw):
            try:
                parts.append(raw[position:].decode("utf-8"))
                break
            except UnicodeDecodeError as exc:
                bad_start = position + exc.start
                bad_end = position + exc.end
                parts.append(raw[position:bad_start].decode("utf-8"))
                parts.append(_legacy(raw[bad_start:bad_end]))
                self.fallback_bytes += bad_end - bad_start
                position = bad_end
        return "".join(parts)


def _legacy(raw: bytes) -> str:
    return "".join(_legacy_byte(byte) for byte in raw)


def _legacy_byte(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return bytes([byte]).decode("latin-1")


def binary_lines(stream: ByteStream) -> Iterator[bytes]:
    """Split a byte stream into lines, each with its own ending kept."""
    pending = b""
    while block := stream.read(_BLOCK):
        pending += block
        start = 0
        for match in _LINE_END.finditer(pending):
            end = match.end()
            if end == len(pending) and pending.endswith(b"\r"):
                break  # a CR at the block edge may be the first half of CRLF
            yield pending[start:end]
            start = end
        pending = pending[start:]
    if pending:
        yield pending


def text_lines(stream: ByteStream, decoder: Decoder) -> Iterator[str]:
    """Decoded lines of a byte stream, without the UTF-8 byte order mark."""
    first = True
    for raw in binary_lines(stream):
        line = decoder.decode(raw)
        if first:
            line = line.removeprefix(_BOM)
            first = False
        yield line


def csv_rows(lines: Iterable[str], delimiter: str | None = None) -> Iterator[list[str]]:
    """CSV rows from decoded lines; the delimiter is sniffed from the header."""
    iterator = iter(lines)
    try:
        header = next(iterator)
    except StopIteration:
        return
    chosen = delimiter or sniff_delimiter(header)
    yield from csv.reader(_chain_first(header, iterator), delimiter=chosen)


def sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: the most frequent of ``, ; \\t``."""
    counts = {char: header.count(char) for char in (",", ";", "\t")}
    best = max(counts, key=lambda char: counts[char])
    return best if counts[best] else ","


def _chain_first(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def is_blank(row: list[Any]) -> bool:
    """Whether a row has no content at all (an empty line, or only commas)."""
    for cell in row:
        if cell is not None and (not isinstance(cell, str) or cell.strip()):
            return False
    return True


def json_values(text: Iterable[str]) -> Iterator[Any]:
    """Stream the records of a JSON document without loading it whole.

    Accepts one top-level array (its elements are yielded; an element that is itself
    an array of objects or arrays is a sheet whose elements are yielded), or any
    number of concatenated values (JSON Lines). Objects are yielded as they are.
    """
    scanner = _JsonScanner(iter(text))
    yield from scanner.values()


class JsonFormatError(ValueError):
    """The text is not the JSON layout an importer reads."""


class _JsonScanner:
    _WHITESPACE = re.compile(r"[\s,]*")

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self._buffer = ""
        self._position = 0
        self._decoder = json.JSONDecoder()
        self._exhausted = False

    def values(self) -> Iterator[Any]:
        self._skip()
        first = self._peek()
        if first == "[":
            self._position += 1
            yield from self._array_items(depth=0)
            return
        while first:
            yield self._one_value()
            self._skip()
            first = self._peek()

    def _array_items(self, depth: int) -> Iterator[Any]:
        while True:
            self._skip()
            char = self._peek()
            if char == "]":
                self._position += 1
                return
            if not char:
                raise JsonFormatError("the JSON array is not closed")
            if char == "[" and depth == 0 and self._is_sheet():
                self._position += 1
                yield from self._array_items(depth=1)
            else:
                yield self._one_value()

    def _is_sheet(self) -> bool:
        """Whether the array at the cursor holds objects or arrays (a sheet)."""
        offset = 1
        while True:
            self._fill(self._position + offset + 1)
            if self._position + offset >= len(self._buffer):
                return False
            char = self._buffer[self._position + offset]
            if not char.isspace():
                return char in "[{"
            offset += 1

    def _one_value(self) -> Any:
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._position)
            except json.JSONDecodeError as exc:
                if self._exhausted:
                    raise JsonFormatError(f"invalid JSON: {exc.msg}") from exc
                self._read_more()
                continue
            if end == len(self._buffer) and not self._exhausted:
                # A number at the end of the buffer may continue in the next chunk.
                self._read_more()
                continue
            self._position = end
            return value

    def _skip(self) -> None:
        while True:
            match = self._WHITESPACE.match(self._buffer, self._position)
            assert match is not None
            self._position = match.end()
            if self._position < len(self._buffer) or self._exhausted:
                return
            self._read_more()

    def _peek(self) -> str:
        self._fill(self._position + 1)
        return self._buffer[self._position : self._position + 1]

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size and not self._exhausted:
            self._read_more()

    def _read_more(self) -> None:
        if self._position > _BLOCK:
            self._buffer = self._buffer[self._position :]
            self._position = 0
        chunk = next(self._chunks, None)
        if chunk is None:
            self._exhausted = True
        else:
            self._buffer += chunk


def text_chunks(stream: ByteStream, decoder: Decoder) -> Iterator[str]:
    """Decoded text of a byte stream in blocks (for JSON), BOM removed."""
    carry = b""
    first = True
    while block := stream.read(_BLOCK):
        block = carry + block
        cut = _complete_utf8(block)
        text, carry = decoder.decode(block[:cut]), block[cut:]
        if first:
            text = text.removeprefix(_BOM)
            first = False
        yield text
    if carry:
        yield decoder.decode(carry)


def _complete_utf8(block: bytes) -> int:
    """Where to cut a block so that no UTF-8 sequence is split at its end."""
    for back in range(1, min(4, len(block)) + 1):
        byte = block[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for the lead
        if byte < 0xC0:
            return len(block)
        needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
        return len(block) - back if needed > back else len(block)
    return len(block)
