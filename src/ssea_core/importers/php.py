"""The subset of PHP's ``unserialize`` that Moodle's log ``other`` column uses.

Reads ``N;``, ``b:``, ``i:``, ``d:``, ``s:`` (lengths in bytes, as PHP counts them),
``a:`` arrays and ``O:`` objects (their properties, without the class). An array whose
keys are exactly 0..n-1 becomes a list; any other array or object a dict with text
keys. Anything else (references, custom serialisation) raises
:class:`PhpFormatError`; callers keep the raw text instead. Nothing is ever executed
or instantiated: this is a data parser, not PHP's object revival.
"""

from __future__ import annotations

import re
from typing import Any

_NUMBER = re.compile(rb"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|-?INF|NAN")
_MAX_DEPTH = 64


class PhpFormatError(ValueError):
    """The text is not PHP-serialised data of the supported subset."""


def unserialize(text: str | bytes) -> Any:
    """The value a PHP-serialised text holds; raises :class:`PhpFormatError`."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    parser = _Parser(data)
    value = parser.value(0)
    if parser.position != len(data):
        raise PhpFormatError(f"trailing data at byte {parser.position}")
    return value


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise PhpFormatError("nesting too deep")
        tag = self.data[self.position : self.position + 2]
        self.position += 2
        if tag == b"N;":
            return None
        if tag == b"b:":
            return self._until(b";") == b"1"
        if tag == b"i:":
            return int(self._checked_number(self._until(b";")))
        if tag == b"d:":
            return float(self._checked_number(self._until(b";")))
        if tag == b"s:":
            return self._string()
        if tag == b"a:":
            return self._array(depth)
        if tag == b"O:":
            self._string(terminator=b":")
            return self._mapping(depth)
        raise PhpFormatError(f"unsupported type {tag!r} at byte {self.position - 2}")

    def _until(self, end: bytes) -> bytes:
        stop = self.data.find(end, self.position)
        if stop < 0:
            raise PhpFormatError(f"missing {end!r} after byte {self.position}")
        found = self.data[self.position : stop]
        self.position = stop + len(end)
        return found

    def _checked_number(self, raw: bytes) -> bytes:
        if not _NUMBER.fullmatch(raw):
            raise PhpFormatError(f"bad number {raw!r}")
        return raw

    def _string(self, terminator: bytes = b";") -> str:
        length = self._length(b":")
        if self.data[self.position : self.position + 1] != b'"':
            raise PhpFormatError(f"missing opening quote at byte {self.position}")
        start = self.position + 1
        end = start + length
        if self.data[end : end + 1 + len(terminator)] != b'"' + terminator:
            raise PhpFormatError(f"string length {length} does not match at {start}")
        self.position = end + 1 + len(terminator)
        return self.data[start:end].decode("utf-8", errors="replace")

    def _length(self, end: bytes) -> int:
        raw = self._until(end)
        if not raw.isdigit():
            raise PhpFormatError(f"bad length {raw!r}")
        return int(raw)

    def _array(self, depth: int) -> Any:
        mapping = self._mapping(depth)
        keys = list(mapping)
        if keys == [str(index) for index in range(len(keys))]:
            return list(mapping.values())
        return mapping

    def _mapping(self, depth: int) -> dict[str, Any]:
        count = self._length(b":")
        if self.data[self.position : self.position + 1] != b"{":
            raise PhpFormatError(f"missing '{{' at byte {self.position}")
        self.position += 1
        result: dict[str, Any] = {}
        for _ in range(count):
            key = self.value(depth + 1)
            if not isinstance(key, int | str):
                raise PhpFormatError(f"bad array key {key!r}")
            result[str(key)] = self.value(depth + 1)
        if self.data[self.position : self.position + 1] != b"}":
            raise PhpFormatError(f"missing '}}' at byte {self.position}")
        self.position += 1
        return result
