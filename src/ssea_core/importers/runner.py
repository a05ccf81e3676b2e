"""Feeding an importer through the ingest service, in chunks, with a summary.

Events go through :meth:`Ingestor.ingest`, the same path as ``POST /v1/events/batch``,
so an import is idempotent: importing a file again stores nothing new and counts every
event as a duplicate. Catalogue items go through :meth:`Ingestor.sync`. One chunk is
one transaction; memory holds one chunk of events and one per catalogue entity.

If the plan's daily cap stops a chunk entirely, the import stops there: the summary
says so (``stopped``), and running it again after midnight UTC resumes where it
stopped, because what was stored is then counted as duplicates.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ssea_core.errors import DailyCapExceededError
from ssea_core.importers.base import ImportSource, Payload, SyncItem, Tally
from ssea_core.importers.logstore import LogstoreSource
from ssea_core.importers.moodle_logs import MoodleLogSource
from ssea_core.importers.oulad import OuladSource
from ssea_core.importers.xapi import XapiSource
from ssea_core.ingest.models import MAX_BATCH
from ssea_core.ingest.service import Ingestor, IngestOutcome

logger = logging.getLogger(__name__)

ImportKind = Literal["moodle-logs", "logstore", "xapi", "oulad"]
Progress = Callable[[int], None]

SOURCES: dict[str, Callable[..., ImportSource]] = {
    "moodle-logs": MoodleLogSource,
    "logstore": LogstoreSource,
    "xapi": XapiSource,
    "oulad": OuladSource,
}


class ImportSummary(BaseModel):
    """What an import did: rows read, events stored, duplicates, skips by reason."""

    model_config = ConfigDict(frozen=True)

    kind: str
    rows_read: int
    events: int = Field(description="event payloads the importer produced")
    stored: int
    duplicates: int
    excluded: dict[str, int] = Field(
        default_factory=dict,
        description="events stored but not counted as the user's own activity, by "
        "reason (logged_in_as, origin_cli, origin_restore, no_user, site_admin, "
        "passive)",
    )
    skipped: dict[str, int] = Field(
        description="rows or events not stored, by reason: the importer's reasons "
        "(no_user_id, bad_time, …) and the ingest codes in lower case "
        "(invalid_item, unknown_event_type, timestamp_in_future, daily_cap_exceeded)"
    )
    synced: dict[str, int] = Field(description="catalogue items upserted, by entity")
    sync_skipped: int = 0
    notes: dict[str, int] = Field(
        default_factory=dict,
        description="observations that did not lose data (cp1252_bytes, "
        "ambiguous_local_time, nonexistent_local_time, …)",
    )
    stopped: str | None = Field(
        default=None, description="why the import stopped early, if it did"
    )


def open_source(
    kind: ImportKind | str, path: str | Path, **options: Any
) -> ImportSource:
    """The importer of ``kind`` over ``path``; ``options`` go to its constructor.

    Raises ``ValueError`` for an unknown kind.
    """
    try:
        source_class = SOURCES[kind]
    except KeyError:
        known = ", ".join(sorted(SOURCES))
        raise ValueError(
            f"unknown import kind {kind!r}; expected one of {known}"
        ) from None
    return source_class(path, **options)


class _Run:
    """The counters and buffers of one import."""

    def __init__(
        self,
        ingestor: Ingestor,
        tenant_id: UUID,
        chunk_size: int,
        report: Callable[[], None],
    ) -> None:
        self.ingestor = ingestor
        self.tenant_id = tenant_id
        self.chunk_size = chunk_size
        self.report = report
        self.events: list[Payload] = []
        self.items: dict[str, list[Payload]] = {}
        self.outcome = IngestOutcome()
        self.skipped: Counter[str] = Counter()
        self.excluded: Counter[str] = Counter()
        self.synced: Counter[str] = Counter()
        self.sync_skipped = 0
        self.stopped: str | None = None

    async def add(self, item: Payload | SyncItem) -> None:
        if isinstance(item, SyncItem):
            pending = self.items.setdefault(item.entity, [])
            pending.append(item.item)
            if len(pending) >= min(self.chunk_size, MAX_BATCH):
                await self.flush_entity(item.entity)
            return
        self.events.append(item)
        if len(self.events) >= self.chunk_size:
            await self.flush_events()

    async def flush_events(self) -> None:
        chunk, self.events = self.events, []
        if not chunk:
            return
        try:
            outcome = await self.ingestor.ingest(self.tenant_id, chunk)
        except DailyCapExceededError:
            self.skipped["daily_cap_exceeded"] += len(chunk)
            self.stopped = "daily_cap_exceeded"
            return
        # Counts only: keeping every event id would let memory grow with the file.
        self.outcome.stored += outcome.stored
        self.outcome.duplicates += outcome.duplicates
        self.excluded.update(outcome.excluded)
        self.skipped.update(skip.code.lower() for skip in outcome.skipped)
        self.report()

    async def flush_entity(self, entity: str) -> None:
        chunk = self.items.pop(entity, [])
        if chunk:
            outcome = await self.ingestor.sync(self.tenant_id, entity, chunk)
            self.synced[entity] += outcome.upserted
            self.sync_skipped += len(outcome.skipped)
            self.report()

    async def flush_all(self) -> None:
        # The catalogue first, and even after a stop: the daily cap counts events only.
        for entity in list(self.items):
            await self.flush_entity(entity)
        if not self.stopped:
            await self.flush_events()

    def summary(self, kind: str, tally: Tally) -> ImportSummary:
        skipped = Counter(tally.skipped)
        skipped.update(self.skipped)
        return ImportSummary(
            kind=kind,
            rows_read=tally.rows_read,
            events=tally.events,
            stored=self.outcome.stored,
            duplicates=self.outcome.duplicates,
            excluded=dict(sorted(self.excluded.items())),
            skipped=dict(sorted(skipped.items())),
            synced=dict(sorted(self.synced.items())),
            sync_skipped=self.sync_skipped,
            notes=dict(sorted(tally.notes.items())),
            stopped=self.stopped,
        )


async def import_into(
    ingestor: Ingestor,
    tenant_id: UUID,
    source: ImportSource,
    *,
    chunk_size: int = 2000,
    progress: Progress | None = None,
) -> ImportSummary:
    """Read ``source`` and store its events and catalogue for ``tenant_id``.

    ``progress`` is called with the number of rows read so far after each stored
    chunk and once at the end.
    Raises :class:`~ssea_core.errors.NotFoundError` for an unknown tenant and
    :class:`~ssea_core.importers.base.ImportFormatError` for an unreadable source.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    await ingestor.tenant(tenant_id)

    def report() -> None:
        if progress is not None:
            progress(source.tally.rows_read)

    run = _Run(ingestor, tenant_id, chunk_size, report)
    logger.info("import started tenant=%s kind=%s", tenant_id, source.kind)
    items = iter(source)
    try:
        for item in items:
            await run.add(item)
            if run.stopped:
                break
    finally:
        # A stop leaves the reader suspended: close it now, not whenever GC runs.
        close = getattr(items, "close", None)
        if close is not None:
            close()
    await run.flush_all()
    report()
    summary = run.summary(source.kind, source.tally)
    logger.info(
        "import finished tenant=%s kind=%s rows=%d stored=%d duplicates=%d skipped=%d",
        tenant_id,
        source.kind,
        summary.rows_read,
        summary.stored,
        summary.duplicates,
        sum(summary.skipped.values()),
    )
    return summary
