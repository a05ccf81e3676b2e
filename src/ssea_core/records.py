"""Plain records that repositories return to the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

Plan = Literal["free", "starter", "pro", "enterprise"]
PLANS: tuple[Plan, ...] = ("free", "starter", "pro", "enterprise")

#: Ingested events per UTC day (SPEC §9); None is unlimited.
DAILY_EVENT_CAPS: dict[Plan, int | None] = {
    "free": 1_000,
    "starter": 5_000,
    "pro": 100_000,
    "enterprise": None,
}


@dataclass(frozen=True, slots=True)
class TenantRecord:
    tenant_id: UUID
    name: str
    plan: Plan
    active: bool
    created_at: datetime
    timezone: str = "UTC"
    custom_domain: str | None = None

    @property
    def daily_event_cap(self) -> int | None:
        return DAILY_EVENT_CAPS[self.plan]


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    tenant_id: UUID
    name: str
    prefix: str
    active: bool
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    #: The stored SHA-256, for the constant-time check after a lookup (never shown).
    key_hash: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one write did: ids newly stored, ids already stored, ids over the cap."""

    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    over_cap: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SyncResult:
    upserted: int = 0
    deleted: int = 0
