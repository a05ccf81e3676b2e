"""Load a generated term into a tenant through the ingestion use case.

The catalogue goes first (``Ingestor.sync``, at most 500 items per call, as the plugin
sends them), then the events (``Ingestor.ingest_many``, 5,000 per transaction). Every
event carries a Moodle log id, so loading the same shape again stores nothing new.

The tenant must exist and be on the ``enterprise`` plan: every event is ingested
today, and any other plan's daily cap is smaller than a term.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Protocol
from uuid import UUID

from ssea_core.demo.catalogue import ENTITIES, iter_catalogue
from ssea_core.demo.events import generate_events
from ssea_core.demo.shape import TermShape
from ssea_core.errors import SseaError
from ssea_core.ingest.models import MAX_BATCH
from ssea_core.ingest.service import Ingestor

logger = logging.getLogger(__name__)

EVENT_CHUNK = 5_000


class DemoPlanError(SseaError):
    """The demo tenant's plan caps daily events; a term needs ``enterprise``."""

    status: ClassVar[int] = 409
    code: ClassVar[str] = "DEMO_NEEDS_ENTERPRISE_PLAN"


class DemoProgress(Protocol):
    """Told after each call: the stage (an entity or ``events``) and items sent so far.

    For a progress bar over events, ``TermShape.estimated_events`` is the total.
    """

    def __call__(self, stage: str, done: int) -> None: ...


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What loading a demo term did."""

    tenant_id: UUID
    first_day: date
    last_day: date
    #: Items sent per entity.
    catalogue: dict[str, int] = field(default_factory=dict)
    catalogue_skipped: int = 0
    events: int = 0
    events_stored: int = 0
    events_duplicate: int = 0
    events_skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view, for a CLI summary."""
        return {
            "tenant_id": str(self.tenant_id),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "catalogue": dict(self.catalogue),
            "catalogue_skipped": self.catalogue_skipped,
            "events": self.events,
            "events_stored": self.events_stored,
            "events_duplicate": self.events_duplicate,
            "events_skipped": self.events_skipped,
        }


async def load_demo(
    ingestor: Ingestor,
    tenant_id: UUID,
    shape: TermShape,
    *,
    progress: DemoProgress | None = None,
) -> DemoSummary:
    """Sync the term's catalogue into the tenant, then ingest its events.

    The caller creates the tenant on the ``enterprise`` plan. For a term that ends
    near today pass ``TermShape.ending_on(date.today() - timedelta(days=1), ...)``:
    events more than a day in the future are refused.

    Raises :class:`~ssea_core.errors.NotFoundError` when the tenant does not exist and
    :class:`DemoPlanError` when its plan caps daily events.
    """
    tenant = await ingestor.tenant(tenant_id)
    if tenant.daily_event_cap is not None:
        raise DemoPlanError(
            f"The demo needs a tenant without a daily event cap; tenant {tenant_id} is "
            f"on the {tenant.plan} plan ({tenant.daily_event_cap} events per day). "
            "Create the demo tenant on the enterprise plan."
        )
    logger.info(
        "demo load started tenant=%s students=%d courses=%d weeks=%d seed=%d",
        tenant_id,
        shape.students,
        shape.courses,
        shape.weeks,
        shape.seed,
    )
    sent, skipped = await _sync_catalogue(ingestor, tenant_id, shape, progress)
    events, stored, duplicates, rejected = await _ingest_events(
        ingestor, tenant_id, shape, progress
    )
    summary = DemoSummary(
        tenant_id,
        shape.start,
        shape.end,
        catalogue=sent,
        catalogue_skipped=skipped,
        events=events,
        events_stored=stored,
        events_duplicate=duplicates,
        events_skipped=rejected,
    )
    logger.info(
        "demo load finished tenant=%s events=%d stored=%d duplicates=%d skipped=%d",
        tenant_id,
        summary.events,
        summary.events_stored,
        summary.events_duplicate,
        summary.events_skipped + summary.catalogue_skipped,
    )
    return summary


async def _sync_catalogue(
    ingestor: Ingestor,
    tenant_id: UUID,
    shape: TermShape,
    progress: DemoProgress | None,
) -> tuple[dict[str, int], int]:
    """Send the catalogue in calls of at most 500 items per entity."""
    pending: dict[str, list[dict[str, Any]]] = {entity: [] for entity in ENTITIES}
    sent = dict.fromkeys(ENTITIES, 0)
    skipped = 0

    async def flush(entity: str) -> None:
        nonlocal skipped
        items = pending[entity]
        outcome = await ingestor.sync(tenant_id, entity, items)
        skipped += len(outcome.skipped)
        sent[entity] += len(items)
        pending[entity] = []
        if progress is not None:
            progress(entity, sent[entity])

    for entity, item in iter_catalogue(shape):
        pending[entity].append(item)
        if len(pending[entity]) >= MAX_BATCH:
            await flush(entity)
    for entity in ENTITIES:
        if pending[entity]:
            await flush(entity)
    return sent, skipped


async def _ingest_events(
    ingestor: Ingestor,
    tenant_id: UUID,
    shape: TermShape,
    progress: DemoProgress | None,
) -> tuple[int, int, int, int]:
    """Ingest events, 5,000 per transaction: sent, stored, duplicate, skipped."""
    totals = [0, 0, 0, 0]

    async def flush(chunk: list[dict[str, Any]]) -> None:
        outcome = await ingestor.ingest_many(tenant_id, chunk, chunk_size=EVENT_CHUNK)
        totals[0] += len(chunk)
        totals[1] += outcome.stored
        totals[2] += outcome.duplicates
        totals[3] += len(outcome.skipped)
        if progress is not None:
            progress("events", totals[0])

    chunk: list[dict[str, Any]] = []
    for event in generate_events(shape):
        chunk.append(event)
        if len(chunk) >= EVENT_CHUNK:
            await flush(chunk)
            chunk = []
    if chunk:
        await flush(chunk)
    return totals[0], totals[1], totals[2], totals[3]
