"""From validated payloads to stored events: deterministic ids and privacy.

Invariants:
- ``event_id`` depends only on the tenant and the event's identity: the Moodle log id
  when the event carries one, else its type, actor, course, module, time (to the
  microsecond), real user and metadata. Sending an event again gives the same id.
- An IP address is never stored: SPEC §2.1 allows dropping it or keeping a salted
  hash, and nothing ssea computes needs it, so it is dropped here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from uuid import UUID

from ssea_core.ingest.models import EventFields, EventIn

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PreparedEvent(NamedTuple):
    """An event ready to store: id computed, time in UTC, IP dropped.

    A named tuple rather than a frozen dataclass: just as immutable, and five times
    cheaper to build, which a bulk import does once per event.
    """

    event_id: str
    event_type: str
    user_id: str
    course_id: str | None
    module_id: str | None
    occurred_at: datetime
    metadata: dict[str, Any]
    moodle_log_id: str | None
    real_user_id: str | None
    origin: str | None
    counted: bool = True  # False: stored, but not the user's own activity (hygiene)
    excluded_because: str | None = None

    @property
    def day(self) -> date:
        return self.occurred_at.date()

    @property
    def order_key(self) -> tuple[datetime, str]:
        """Events of one user are ordered by time, then by id to break ties."""
        return (self.occurred_at, self.event_id)


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def compute_event_id(tenant_id: UUID, event: EventIn) -> str:
    """The deterministic id of an event within a tenant (SPEC §2)."""
    return _event_id(
        str(tenant_id),
        event.event_type,
        event.user_id,
        event.course_id,
        event.module_id,
        event.timestamp,
        event.metadata,
        event.moodle_log_id,
        event.real_user_id,
    )


def _event_id(
    tenant: str,
    event_type: str,
    user_id: str,
    course_id: str | None,
    module_id: str | None,
    timestamp: datetime,
    metadata: dict[str, Any],
    moodle_log_id: str | None,
    real_user_id: str | None,
) -> str:
    if moodle_log_id is not None:
        identity = f"{tenant}|log|{moodle_log_id}"
    else:
        identity = "|".join(
            (
                tenant,
                "evt",
                event_type,
                user_id,
                course_id or "",
                module_id or "",
                str(to_micros(timestamp)),
                real_user_id or "",
                canonical_json(metadata),
            )
        )
    return "evt_" + hashlib.sha256(identity.encode()).hexdigest()[:32]


def prepare_event(tenant_id: UUID, event: EventIn) -> PreparedEvent:
    """Give a validated event its id and drop what must not be stored."""
    return PreparedEvent(
        event_id=compute_event_id(tenant_id, event),
        event_type=event.event_type,
        user_id=event.user_id,
        course_id=event.course_id,
        module_id=event.module_id,
        occurred_at=event.timestamp,
        metadata=event.metadata,
        moodle_log_id=event.moodle_log_id,
        real_user_id=event.real_user_id,
        origin=event.origin,
    )


def prepare_fields(
    tenant: str, fields: EventFields, excluded_because: str | None = None
) -> PreparedEvent:
    """:func:`prepare_event` for validated :class:`EventFields`; ``tenant`` is the
    tenant id as text, made once per batch. Same id, same values."""
    metadata = fields.get("metadata")
    if metadata is None:
        metadata = {}
    course_id, module_id = fields.get("course_id"), fields.get("module_id")
    moodle_log_id = fields.get("moodle_log_id")
    real_user_id = fields.get("real_user_id")
    event_type, user_id = fields["event_type"], fields["user_id"]
    timestamp = fields["timestamp"]
    event_id = _event_id(
        tenant,
        event_type,
        user_id,
        course_id,
        module_id,
        timestamp,
        metadata,
        moodle_log_id,
        real_user_id,
    )
    return PreparedEvent(
        event_id,
        event_type,
        user_id,
        course_id,
        module_id,
        timestamp,
        metadata,
        moodle_log_id,
        real_user_id,
        fields.get("origin"),
        excluded_because is None,
        excluded_because,
    )
