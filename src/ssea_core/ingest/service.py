"""The ingest use case: validate, prepare, store, and say what happened (SPEC §2).

A batch is validated as a whole; an invalid event is skipped with its index and
reason and never fails the others. Stored means committed: the outcome is known only
after the repository's transaction is done.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from typing import Any
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError

from ssea_core.context import Services
from ssea_core.errors import DailyCapExceededError, NotFoundError
from ssea_core.ingest.events import PreparedEvent, prepare_fields
from ssea_core.ingest.models import (
    STANDARD_EVENT_TYPES,
    SYNC_KEYS,
    SYNC_MODELS,
    EventFields,
    EventIn,
)
from ssea_core.ingest.sessions import SessionPolicy
from ssea_core.records import TenantRecord
from ssea_core.settings import Settings
from ssea_core.validation import describe_error

logger = logging.getLogger(__name__)

#: Events per transaction of :meth:`Ingestor.ingest_many` unless told otherwise: at
#: 1M stored events, 25,000 a chunk is 1.2x faster than 5,000 and costs a few tens of
#: MB while a chunk is in hand.
LIBRARY_CHUNK = 25_000

_EVENTS = TypeAdapter(list[EventFields])
#: Says why events are invalid, in the words the API has always used.
_EVENT_MODELS = TypeAdapter(list[EventIn])


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item that was not stored, with the reason."""

    index: int
    code: str
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "code": self.code, "error": self.error}


@dataclass(slots=True)
class IngestOutcome:
    """The answer to one batch: accepted counts, duplicates and skipped items."""

    event_ids: list[str] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    #: Newly stored events that do not count as the user's activity, by reason.
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        """Valid events the service holds now: newly stored plus already stored."""
        return self.stored + self.duplicates

    def merge(self, other: IngestOutcome, offset: int) -> None:
        self.event_ids.extend(other.event_ids)
        self.stored += other.stored
        self.duplicates += other.duplicates
        for reason, count in other.excluded.items():
            self.excluded[reason] = self.excluded.get(reason, 0) + count
        self.skipped.extend(
            Skipped(s.index + offset, s.code, s.error) for s in other.skipped
        )


@dataclass(slots=True)
class SyncOutcome:
    upserted: int = 0
    deleted: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def _validate_all(
    adapter: TypeAdapter[list[Any]],
    raw: Sequence[Any],
    explain: TypeAdapter[list[Any]] | None = None,
) -> tuple[list[tuple[int, Any]], list[Skipped]]:
    """Validate a list as a whole; the bad indexes are skipped, the rest kept.

    With ``explain``, an adapter that refuses the same items, a list with errors is
    validated again by it and its messages are the reasons given.
    """
    try:
        return list(enumerate(adapter.validate_python(list(raw)))), []
    except ValidationError as exc:
        errors = exc.errors()
        if explain is not None:
            try:
                explain.validate_python(list(raw))
            except ValidationError as explained:
                errors = explained.errors()
        reasons: dict[int, list[str]] = {}
        for error in errors:
            index = error["loc"][0]
            assert isinstance(index, int)
            inner = {**error, "loc": error["loc"][1:]}
            reasons.setdefault(index, []).append(describe_error(inner))  # type: ignore[arg-type]
    skipped = [
        Skipped(index, "INVALID_ITEM", "; ".join(texts))
        for index, texts in sorted(reasons.items())
    ]
    good_indexes = [i for i in range(len(raw)) if i not in reasons]
    values = adapter.validate_python([raw[i] for i in good_indexes])
    return list(zip(good_indexes, values, strict=True)), skipped


def exclusion_reason(event: EventIn, settings: Settings) -> str | None:
    """Why an event is not the user's own activity, or None when it is.

    Reasons: ``logged_in_as`` (done by someone logged in as the user),
    ``origin_<origin>`` (cli, restore by default), ``no_user`` (user 0),
    ``site_admin`` and ``passive`` (done to the user by someone else: graded,
    enrolled). Each is a setting and can be switched off.
    """
    return _exclusion(
        event.event_type, event.user_id, event.real_user_id, event.origin, settings
    )


def _exclusion(
    event_type: str,
    user_id: str,
    real_user_id: str | None,
    origin: str | None,
    settings: Settings,
) -> str | None:
    if settings.exclude_logged_in_as and real_user_id not in (None, user_id):
        return "logged_in_as"
    if origin is not None and origin in settings.excluded_origins:
        return f"origin_{origin}"
    if user_id in settings.excluded_user_ids:
        return "no_user"
    if user_id in settings.site_admin_user_ids:
        return "site_admin"
    if event_type in settings.passive_event_types:
        return "passive"
    return None


def seconds_until_next_utc_day(now: datetime) -> int:
    """Whole seconds from ``now`` to the next UTC midnight, rounded up."""
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=UTC)
    return math.ceil((tomorrow - now).total_seconds())


class Ingestor:
    """Validates and stores events and catalogue items for a tenant."""

    def __init__(self, services: Services) -> None:
        self._services = services
        settings = services.settings
        self._types = STANDARD_EVENT_TYPES | frozenset(settings.extra_event_types)
        self._policy = SessionPolicy(
            gap_seconds=settings.session_gap_seconds,
            tail_seconds=settings.session_tail_seconds,
        )

    async def tenant(self, tenant_id: UUID) -> TenantRecord:
        tenant = await self._services.store.operator.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"No tenant {tenant_id}.")
        return tenant

    def prepare(
        self, tenant_id: UUID, raw_events: Sequence[Any]
    ) -> tuple[list[tuple[int, PreparedEvent]], list[Skipped]]:
        """Validate raw events and give the good ones their ids."""
        # Validated models are accepted as they are, as the model adapter did.
        raw = [
            item
            if type(item) is dict or not isinstance(item, EventIn)
            else item.model_dump()
            for item in raw_events
        ]
        valid, skipped = _validate_all(_EVENTS, raw, _EVENT_MODELS)
        settings = self._services.settings
        future = settings.max_future_seconds
        latest = self._services.clock.now() + timedelta(seconds=future)
        tenant = str(tenant_id)
        prepared: list[tuple[int, PreparedEvent]] = []
        for index, fields in valid:
            event_type = fields["event_type"]
            if event_type not in self._types:
                skipped.append(
                    Skipped(
                        index,
                        "UNKNOWN_EVENT_TYPE",
                        f"field 'event_type': '{event_type}' is not a registered "
                        "event type.",
                    )
                )
            elif fields["timestamp"] > latest:
                skipped.append(
                    Skipped(
                        index,
                        "TIMESTAMP_IN_FUTURE",
                        f"field 'timestamp': more than {future} s in the future.",
                    )
                )
            else:
                reason = _exclusion(
                    event_type,
                    fields["user_id"],
                    fields.get("real_user_id"),
                    fields.get("origin"),
                    settings,
                )
                prepared.append((index, prepare_fields(tenant, fields, reason)))
        skipped.sort(key=lambda s: s.index)
        return prepared, skipped

    async def ingest(self, tenant_id: UUID, raw_events: Sequence[Any]) -> IngestOutcome:
        """Validate and store one batch in one transaction.

        Raises :class:`DailyCapExceededError` when the plan's cap leaves room for none
        of the batch's new events.
        """
        tenant = await self.tenant(tenant_id)
        prepared, skipped = self.prepare(tenant_id, raw_events)
        outcome = IngestOutcome(skipped=skipped)
        if not prepared:
            return outcome

        now = self._services.clock.now()
        result = await self._services.store.for_tenant(tenant_id).ingest_events(
            [event for _, event in prepared],
            policy=self._policy,
            daily_cap=tenant.daily_event_cap,
            now=now,
        )
        over_cap = set(result.over_cap)
        if over_cap and not result.stored and not result.duplicates:
            raise DailyCapExceededError(
                f"The {tenant.plan} plan's cap of {tenant.daily_event_cap} events per "
                "UTC day is reached; retry after midnight UTC.",
                retry_after=seconds_until_next_utc_day(now),
            )
        if not over_cap:
            outcome.event_ids = [event.event_id for _, event in prepared]
        else:
            for index, event in prepared:
                if event.event_id in over_cap:
                    outcome.skipped.append(
                        Skipped(
                            index,
                            "DAILY_CAP_EXCEEDED",
                            "The daily event cap is reached.",
                        )
                    )
                else:
                    outcome.event_ids.append(event.event_id)
        outcome.skipped.sort(key=lambda s: s.index)
        outcome.stored = len(result.stored)
        outcome.duplicates = len(outcome.event_ids) - outcome.stored
        outcome.excluded = _excluded(prepared, set(result.stored))
        logger.info(
            "ingested tenant=%s stored=%d duplicates=%d skipped=%d",
            tenant_id,
            outcome.stored,
            outcome.duplicates,
            len(outcome.skipped),
        )
        return outcome

    async def ingest_many(
        self,
        tenant_id: UUID,
        raw_events: Iterable[Any],
        *,
        chunk_size: int = LIBRARY_CHUNK,
    ) -> IngestOutcome:
        """Store any number of events, one transaction per chunk (library use).

        Larger chunks are cheaper per event once a tenant holds many events: each
        chunk's inserts dirty pages all over the event-id index, so fewer, larger
        chunks write each page less often (see benchmarks/README.md).
        """
        total = IngestOutcome()
        remaining = iter(raw_events)
        offset = 0
        while chunk := [_plain(raw) for raw in islice(remaining, max(1, chunk_size))]:
            total.merge(await self.ingest(tenant_id, chunk), offset)
            offset += len(chunk)
        return total

    async def sync(
        self, tenant_id: UUID, entity: str, raw_items: Sequence[Any]
    ) -> SyncOutcome:
        """Upsert or delete catalogue items of one entity (SPEC §2)."""
        await self.tenant(tenant_id)
        model = SYNC_MODELS[entity]
        valid, skipped = _validate_all(TypeAdapter(list[model]), raw_items)  # type: ignore[valid-type]
        latest: dict[tuple[Any, ...], BaseModel] = {}
        for _, item in valid:
            key = tuple(getattr(item, name) for name in SYNC_KEYS[entity])
            latest.pop(key, None)
            latest[key] = item  # a later item with the same key replaces the earlier
        outcome = SyncOutcome(skipped=skipped)
        if latest:
            result = await self._services.store.for_tenant(tenant_id).sync(
                entity, list(latest.values()), now=self._services.clock.now()
            )
            outcome.upserted, outcome.deleted = result.upserted, result.deleted
        logger.info(
            "synced tenant=%s entity=%s upserted=%d deleted=%d skipped=%d",
            tenant_id,
            entity,
            outcome.upserted,
            outcome.deleted,
            len(skipped),
        )
        return outcome


def _plain(item: Any) -> Any:
    # A dict is the common case: pydantic's isinstance check costs more than it.
    if type(item) is dict or not isinstance(item, BaseModel):
        return item
    return item.model_dump()


def _excluded(
    prepared: Sequence[tuple[int, PreparedEvent]], stored: set[str]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, event in prepared:
        reason = event.excluded_because
        if reason is not None and event.event_id in stored:
            counts[reason] = counts.get(reason, 0) + 1
            stored.discard(event.event_id)  # a repeat within the batch counts once
    return counts
