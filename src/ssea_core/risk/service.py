"""Recompute a tenant's risk scores and evaluate its alerts; the background scheduler.

Invariants:
- A recompute as of a moment uses only data dated before it (the repository filters
  every source), scores every active student enrolment, and replaces the tenant's
  stored scores in one transaction: readers see the previous set or the new one.
- A student's overall score (course ``''``) is their highest course (``overall``).
- Alerts are evaluated against the states kept by the previous evaluation and keep
  one open alert per (type, user, course); evaluating unchanged data changes nothing.
- The scheduler claims a tenant's mark, recomputes, and clears the mark only if
  nothing marked the tenant again meanwhile; a failed or interrupted recompute leaves
  the mark pending. So a change is never forgotten, and a tenant marked many times
  between two passes is computed once. Several schedulers (server processes) share
  the marks: a claim is theirs for ``CLAIM_LEASE``.
- Scoring yields to the event loop every ``CHUNK`` students, so a large tenant does
  not stall the requests an application serves meanwhile.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import anyio

from ssea_core.clock import Clock
from ssea_core.errors import MisconfiguredError, SseaError
from ssea_core.risk.alerts import AlertProposal, AlertState, evaluate_alerts, next_state
from ssea_core.risk.builder import Pair, build_features
from ssea_core.risk.features import StudentFeatures
from ssea_core.risk.records import OVERALL, AlertChanges, PendingTenant, score_detail
from ssea_core.risk.repository import RiskQueue, RiskRepository, ScoreRow
from ssea_core.risk.scoring import AT_RISK_LEVELS, RiskAssessment, overall, score
from ssea_core.risk.settings import AlertSettings, RiskSettings
from ssea_core.settings import Settings

logger = logging.getLogger(__name__)

#: Students scored between two checkpoints of the event loop.
CHUNK = 2_000
#: A claimed mark older than this is taken again: its scheduler died (or is slow).
CLAIM_LEASE = timedelta(minutes=15)


class _TenantSide(Protocol):
    def risk(self) -> RiskRepository: ...


class RiskStore(Protocol):
    """What the risk use case needs of a store (``ssea_core.protocols.Store``)."""

    def for_tenant(self, tenant_id: UUID) -> _TenantSide: ...

    def risk_queue(self) -> RiskQueue: ...


@dataclass(frozen=True, slots=True)
class Assessed:
    """Every enrolment of a tenant scored as of ``as_of``, with its features."""

    as_of: datetime
    features: list[StudentFeatures]
    assessments: list[RiskAssessment]
    risk_settings: RiskSettings
    alert_settings: AlertSettings

    def score_rows(self) -> list[ScoreRow]:
        """One row per enrolment and one overall row per student."""
        rows: list[ScoreRow] = []
        by_user: dict[str, list[tuple[RiskAssessment, StudentFeatures]]] = defaultdict(
            list
        )
        for features, assessment in zip(self.features, self.assessments, strict=True):
            by_user[features.user_id].append((assessment, features))
            rows.append(_row(assessment, features, features.course_id or OVERALL))
        for user_id, pairs in by_user.items():
            best = overall(assessment for assessment, _ in pairs)
            if best is None:
                blank = RiskAssessment(user_id, None, self.as_of, None, None)
                rows.append(_row(blank, None, OVERALL))
                continue
            features = next(item for score_, item in pairs if score_ is best)
            rows.append(_row(best, features, OVERALL))
        return rows


def _row(
    assessment: RiskAssessment, features: StudentFeatures | None, course_id: str
) -> ScoreRow:
    return ScoreRow(
        user_id=assessment.user_id,
        course_id=course_id,
        score=assessment.score,
        level=assessment.level,
        detail=score_detail(assessment, features),
    )


@dataclass(frozen=True, slots=True)
class RecomputeSummary:
    """What one recompute of a tenant did."""

    tenant_id: UUID
    as_of: datetime
    computed_at: datetime
    #: Student enrolments scored, and distinct students.
    enrolments: int
    students: int
    #: Students per overall level; ``none`` counts students with no data at all.
    levels: dict[str, int] = field(default_factory=dict)
    #: None when alerts were not evaluated.
    alerts: AlertChanges | None = None

    @property
    def at_risk(self) -> int:
        """Students whose overall level is high or critical."""
        return sum(self.levels.get(level, 0) for level in AT_RISK_LEVELS)

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values (CLI, logs)."""
        alerts = self.alerts
        return {
            "tenant_id": str(self.tenant_id),
            "as_of": self.as_of,
            "computed_at": self.computed_at,
            "enrolments": self.enrolments,
            "students": self.students,
            "at_risk": self.at_risk,
            "levels": dict(self.levels),
            "alerts": (
                None
                if alerts is None
                else {"raised": alerts.raised, "updated": alerts.updated}
            ),
        }


async def assess(repository: RiskRepository, as_of: datetime) -> Assessed:
    """Read a tenant's data as of ``as_of``, build the features and score them."""
    risk_settings, alert_settings = await repository.settings()
    inputs = await repository.inputs(as_of, risk_settings)
    features = build_features(inputs)
    assessments: list[RiskAssessment] = []
    for start in range(0, len(features), CHUNK):
        assessments.extend(
            score(item, risk_settings) for item in features[start : start + CHUNK]
        )
        await anyio.lowlevel.checkpoint()
    return Assessed(as_of, features, assessments, risk_settings, alert_settings)


async def evaluate(
    repository: RiskRepository, assessed: Assessed, *, now: datetime
) -> AlertChanges:
    """Run the alert rules over an assessed tenant and store what they raise."""
    previous = await repository.alert_states()
    proposals: list[AlertProposal] = []
    states: dict[Pair, AlertState] = {}
    pairs = zip(assessed.features, assessed.assessments, strict=True)
    for features, assessment in pairs:
        key = (features.user_id, features.course_id or OVERALL)
        proposals.extend(
            evaluate_alerts(
                previous.get(key),
                features,
                assessment,
                assessed.alert_settings,
                assessed.risk_settings,
            )
        )
        states[key] = next_state(features, assessment)
    return await repository.save_alerts(proposals, states, now=now)


def _levels(rows: Sequence[ScoreRow]) -> dict[str, int]:
    counts = Counter(row.level or "none" for row in rows if row.course_id == OVERALL)
    return dict(sorted(counts.items()))


async def recompute(
    store: RiskStore,
    tenant_id: UUID,
    *,
    as_of: datetime,
    now: datetime,
    alerts: bool = True,
) -> RecomputeSummary:
    """Score every student of a tenant as of ``as_of`` and store the scores; then,
    unless ``alerts`` is False, evaluate the alert rules as of the same moment.

    Raises :class:`MisconfiguredError` when the tenant's risk settings are invalid.
    """
    repository = store.for_tenant(tenant_id).risk()
    assessed = await assess(repository, as_of)
    rows = assessed.score_rows()
    await repository.save_scores(rows, as_of=as_of, computed_at=now)
    changes = await evaluate(repository, assessed, now=now) if alerts else None
    summary = RecomputeSummary(
        tenant_id=tenant_id,
        as_of=as_of,
        computed_at=now,
        enrolments=len(assessed.features),
        students=len({item.user_id for item in assessed.features}),
        levels=_levels(rows),
        alerts=changes,
    )
    logger.info(
        "risk recomputed tenant=%s as_of=%s enrolments=%d at_risk=%d alerts=%s",
        tenant_id,
        as_of.isoformat(),
        summary.enrolments,
        summary.at_risk,
        "skipped" if changes is None else f"+{changes.raised}/~{changes.updated}",
    )
    return summary


async def evaluate_tenant_alerts(
    store: RiskStore, tenant_id: UUID, *, now: datetime
) -> AlertChanges:
    """Evaluate a tenant's alert rules as of ``now`` without storing new scores."""
    repository = store.for_tenant(tenant_id).risk()
    changes = await evaluate(repository, await assess(repository, now), now=now)
    logger.info(
        "alerts evaluated tenant=%s raised=%d updated=%d",
        tenant_id,
        changes.raised,
        changes.updated,
    )
    return changes


async def run_pending(
    store: RiskStore, clock: Clock, *, stop_event: anyio.Event | None = None
) -> list[RecomputeSummary]:
    """Recompute every marked tenant once, as of now; clear the marks that were not
    set again meanwhile. A failing tenant keeps its mark and is tried next time;
    once ``stop_event`` is set, the tenants not reached yet wait for the next pass."""
    queue = store.risk_queue()
    done: list[RecomputeSummary] = []
    for mark in await queue.pending():
        if stop_event is not None and stop_event.is_set():
            break
        summary = await _recompute_marked(store, queue, mark, clock)
        if summary is not None:
            done.append(summary)
    return done


async def _recompute_marked(
    store: RiskStore, queue: RiskQueue, mark: PendingTenant, clock: Clock
) -> RecomputeSummary | None:
    now = clock.now()
    if mark.claimed_at is not None and now - mark.claimed_at < CLAIM_LEASE:
        return None  # another scheduler is computing it
    claim = await queue.claim(mark, now=now)
    if claim is None:
        return None  # another scheduler took it, or new data came: next pass
    try:
        summary = await recompute(store, mark.tenant_id, as_of=now, now=now)
    except MisconfiguredError as error:
        logger.warning("risk recompute tenant=%s: %s", mark.tenant_id, error.message)
        return None
    except Exception:
        logger.exception("risk recompute failed tenant=%s", mark.tenant_id)
        return None
    if not await queue.clear(claim):
        logger.debug("tenant=%s marked again during its recompute", mark.tenant_id)
    return summary


async def run_risk_scheduler(
    store: RiskStore,
    settings: Settings,
    clock: Clock,
    *,
    interval: float | None = None,
    stop_event: anyio.Event | None = None,
) -> None:
    """Recompute marked tenants every ``interval`` seconds (default
    ``settings.risk_interval_seconds``), the first pass at once, until ``stop_event``
    is set (between passes) or the task is cancelled. A pass that fails (the store
    unreachable for a while) is logged and the next one runs as planned."""
    seconds = interval if interval is not None else settings.risk_interval_seconds
    stop = stop_event or anyio.Event()
    logger.info("risk scheduler started interval=%ss", seconds)
    try:
        while not stop.is_set():
            try:
                await run_pending(store, clock, stop_event=stop)
            except SseaError as error:
                logger.warning("risk scheduler pass failed: %s", error.code)
            with anyio.move_on_after(seconds):
                await stop.wait()
    finally:
        logger.info("risk scheduler stopped")
