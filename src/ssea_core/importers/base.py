"""What every importer shares: the items it yields, its running tally, its errors.

An importer is an iterable of *items*: event payloads (plain dicts that
:class:`ssea_core.ingest.models.EventIn` accepts, JSON-serialisable) and
:class:`SyncItem` catalogue records. Iterating reads the source once, streaming, and
keeps a :class:`Tally` that always accounts for every row read::

    rows_read == events + catalogue_rows + sum(skipped.values())

where a row that yields an event counts once under ``events`` even if it also yields
catalogue items, and a row that yields nothing is skipped with a reason.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ssea_core.errors import SseaError
from ssea_core.ingest.models import MAX_METADATA_BYTES

Payload = dict[str, Any]


class ImportFormatError(SseaError):
    """A source cannot be read as the kind it was given as (wrong file or layout)."""

    status = 422
    code = "IMPORT_FORMAT"
    default_message = "The file is not in a format this importer reads."


class MissingExtraError(SseaError):
    """An optional dependency that this import needs is not installed."""

    code = "MISSING_EXTRA"
    default_message = "An optional dependency is missing."


@dataclass(frozen=True, slots=True)
class SyncItem:
    """One catalogue record for ``POST /v1/sync/{entity}``."""

    entity: str
    item: Payload


@dataclass(slots=True)
class Tally:
    """A running count of what an importer has read, yielded and skipped."""

    rows_read: int = 0
    events: int = 0
    catalogue_rows: int = 0
    items: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        """Count a row that yields nothing, with its reason."""
        self.skipped[reason] += 1

    @property
    def accounted(self) -> bool:
        """Whether every row read is an event, a catalogue row or a skip."""
        total = self.events + self.catalogue_rows + sum(self.skipped.values())
        return total == self.rows_read


class ImportSource(ABC):
    """An iterable of event payloads and sync items read from one source."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.tally = Tally()

    def __iter__(self) -> Iterator[Payload | SyncItem]:
        self.tally = Tally()
        for item in self._items():
            if isinstance(item, SyncItem):
                self.tally.items[item.entity] += 1
            else:
                self.tally.events += 1
            yield item

    @abstractmethod
    def _items(self) -> Iterator[Payload | SyncItem]:
        """Read the source; count rows in ``self.tally`` as they are read."""


class RepeatCounter:
    """Numbers identical records within a run of records that share a group key.

    Exports print times to the minute (or the day), so two real events can produce
    identical rows. The n-th repeat within its time group gets ``n`` (the first gets
    0), which keeps them apart while a second import of the same file, or of an export
    that overlaps it, produces the same numbers and deduplicates. Only the current
    group is held, so memory stays flat when the source is ordered by time.
    """

    def __init__(self) -> None:
        self._group: Hashable = object()
        self._seen: Counter[Hashable] = Counter()

    def number(self, group: Hashable, record: Hashable) -> int:
        """How many equal records came before this one in the current group."""
        if group != self._group:
            self._group = group
            self._seen.clear()
        count = self._seen[record]
        self._seen[record] += 1
        return count


def fit_metadata(metadata: Payload, bulky: tuple[str, ...]) -> Payload:
    """Drop bulky keys, in order, until the metadata fits the 16 KiB limit."""
    if _surely_small(metadata):
        return metadata
    for key in bulky:
        if _encoded_size(metadata) <= MAX_METADATA_BYTES:
            break
        if key in metadata:
            metadata = {k: v for k, v in metadata.items() if k != key}
            metadata["truncated"] = True
    return metadata


_FLAT = (str, int, float, bool, type(None))


def _surely_small(metadata: Payload) -> bool:
    """A cheap bound: flat text that fits even if every character were escaped."""
    size = 0
    for key, value in metadata.items():
        if not isinstance(value, _FLAT):
            return False
        size += len(key) + len(str(value)) + 6
    return size * 6 <= MAX_METADATA_BYTES


def _encoded_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def short_hash(*parts: str) -> str:
    """32 hex digits of a SHA-256 over the parts: a stable identity for a record."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def as_id(value: Any) -> str | None:
    """A Moodle id as text, or None for NULL, blanks and non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.startswith("-"):
        return text if text[1:].isdigit() else None
    return text if text.isdigit() else None
