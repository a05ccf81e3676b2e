"""The storage seams of risk scores and alerts (SPEC §6).

A :class:`RiskRepository` is obtained for one tenant
(``store.for_tenant(tenant_id).risk()``) and binds every statement to it. Its reads
take the :class:`~ssea_core.auth.scope.Scope` the policy granted, as every dashboard
read does. The :class:`RiskQueue` is the one cross-tenant part: the tenants whose data
changed since their scores were computed (``store.risk_queue()``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from ssea_core.auth.scope import Scope
from ssea_core.metrics.repository import Page, Paged
from ssea_core.risk.alerts import AlertProposal, AlertState
from ssea_core.risk.builder import Pair, RiskInputs
from ssea_core.risk.records import (
    AlertChanges,
    AlertRecord,
    AtRiskStudent,
    PendingTenant,
    StoredRisk,
)
from ssea_core.risk.scoring import RiskLevel
from ssea_core.risk.settings import AlertSettings, RiskSettings

AtRiskSort = Literal["score_desc", "score_asc", "last_seen_asc", "days_inactive_desc"]


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One score to store: a course's (``course_id``) or the overall one (``''``)."""

    user_id: str
    course_id: str
    score: float | None
    level: RiskLevel | None
    #: ``ssea_core.risk.records.score_detail``
    detail: dict[str, object]


@dataclass(frozen=True, slots=True)
class AtRiskFilter:
    """Which students the at-risk list shows and in which order.

    Without ``level`` the list is the students at risk (high or critical); with it,
    the students of that level. With ``course_id`` the scores of that course are used.
    """

    course_id: str | None = None
    level: RiskLevel | None = None
    sort: AtRiskSort = "score_desc"


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts a list shows; acknowledged ones only when asked for."""

    include_acknowledged: bool = False
    user_id: str | None = None
    course_id: str | None = None
    alert_type: str | None = None


class RiskRepository(Protocol):
    """Risk scores, acknowledgements and alerts of one tenant."""

    async def settings(self) -> tuple[RiskSettings, AlertSettings]:
        """The tenant's settings (``risk`` and ``alerts`` of its settings JSON),
        defaults where absent; ``MisconfiguredError`` when they are invalid."""
        ...

    async def save_settings(
        self, risk: RiskSettings, alerts: AlertSettings, *, now: datetime
    ) -> None:
        """Store the tenant's settings (other keys of its settings JSON kept) and
        mark it for a recompute."""
        ...

    async def inputs(self, as_of: datetime, settings: RiskSettings) -> RiskInputs:
        """Everything the features are built from, dated before ``as_of``."""
        ...

    async def save_scores(
        self, rows: Sequence[ScoreRow], *, as_of: datetime, computed_at: datetime
    ) -> None:
        """Replace the tenant's stored scores with ``rows``, in one transaction."""
        ...

    async def alert_states(self) -> dict[Pair, AlertState]:
        """What the alert rules kept per (user_id, course_id) last time."""
        ...

    async def save_alerts(
        self,
        proposals: Sequence[AlertProposal],
        states: Mapping[Pair, AlertState],
        *,
        now: datetime,
    ) -> AlertChanges:
        """Raise or update alerts (one open alert per type, user and course) and
        replace the kept states, in one transaction."""
        ...

    async def at_risk(
        self, scope: Scope, where: AtRiskFilter, page: Page
    ) -> Paged[AtRiskStudent]:
        """A page of scored students in scope, by the filter, and the total."""
        ...

    async def current_risk(self, scope: Scope, user_id: str) -> StoredRisk | None:
        """The score of one user as the scope sees it; None when none is stored."""
        ...

    async def acknowledge_student(
        self, user_id: str, level: RiskLevel, *, by: str, now: datetime
    ) -> None:
        """Mark a student's risk flag handled at ``level`` (again: a new mark)."""
        ...

    async def alerts(
        self, scope: Scope, where: AlertFilter, page: Page
    ) -> Paged[AlertRecord]:
        """A page of alerts in scope, newest first, and the total."""
        ...

    async def acknowledge_alert(
        self, scope: Scope, alert_id: str, *, by: str, now: datetime
    ) -> bool:
        """Acknowledge one alert in scope (again: no change); False when none."""
        ...

    async def acknowledge_all(self, scope: Scope, *, by: str, now: datetime) -> int:
        """Acknowledge every pending alert in scope; how many were."""
        ...


class RiskQueue(Protocol):
    """Tenants waiting for a recompute; the write path marks them.

    A scheduler takes a mark in three steps: ``pending``, ``claim`` (only if the mark
    is still the one it read), recompute, ``clear`` (only if nothing marked the tenant
    again meanwhile). A claim is pending too: taken again once older than a lease, it
    is how a recompute interrupted by a crash is resumed.
    """

    async def pending(self) -> list[PendingTenant]:
        """Every marked tenant, oldest mark (and claims left behind) first."""
        ...

    async def mark(self, tenant_id: UUID, *, now: datetime) -> None:
        """Mark a tenant (or move its mark to ``now``)."""
        ...

    async def claim(
        self, mark: PendingTenant, *, now: datetime
    ) -> PendingTenant | None:
        """Take a mark read by ``pending`` at ``now``; None when it changed since."""
        ...

    async def clear(self, claim: PendingTenant) -> bool:
        """Remove a claimed mark; False when the tenant was marked again meanwhile."""
        ...
