"""Alert rules (SPEC §6) as pure functions of (previous state, features, assessment).

Invariants:
- A rule proposes an alert only on a change since the previous evaluation: a
  threshold crossed, a new spell of inactivity, a new result, a level risen to. So
  re-evaluating unchanged data proposes nothing, and an acknowledged alert is not
  raised again until something new happens.
- With no previous state (a student evaluated for the first time), every rule
  compares against a blank state: inactivity 0 days, level unknown, completion 0 %,
  no results seen.
- Every proposal carries ``dedupe_key`` = (alert_type, user_id, course_id or ""): the
  store keeps at most one open alert per key and updates it instead of adding one.
- Messages are plain words with the numbers that triggered them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ssea_core.risk.factors import number, plural, summarise
from ssea_core.risk.features import (
    GradeResult,
    StudentFeatures,
    days_inactive,
    inactivity_clock,
)
from ssea_core.risk.scoring import LEVELS, RiskAssessment, RiskLevel
from ssea_core.risk.settings import AlertSettings, RiskSettings

AlertType = Literal[
    "inactivity", "performance_drop", "risk_level_change", "completion_milestone"
]
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class AlertState:
    """What the rules remember of one student in one course from the last evaluation."""

    as_of: datetime
    last_seen_at: datetime | None = None
    days_inactive: int | None = None
    risk_level: RiskLevel | None = None
    completion_percent: float | None = None
    results_seen: int = 0


@dataclass(frozen=True, slots=True)
class AlertProposal:
    """An alert a rule wants raised; the store decides whether it is new."""

    alert_type: AlertType
    user_id: str
    course_id: str | None
    severity: Severity
    message: str
    triggered_at: datetime

    @property
    def dedupe_key(self) -> tuple[str, str, str]:
        """(alert_type, user_id, course_id or ""): one open alert per key."""
        return (self.alert_type, self.user_id, self.course_id or "")


def _propose(
    kind: AlertType, features: StudentFeatures, severity: Severity, message: str
) -> AlertProposal:
    return AlertProposal(
        kind, features.user_id, features.course_id, severity, message, features.as_of
    )


def _inactivity_tier(days: int | None, settings: AlertSettings) -> int:
    if days is None or days < settings.inactivity_days:
        return 0
    return 2 if days >= settings.inactivity_critical_days else 1


def _days(previous: AlertState | None) -> int | None:
    return None if previous is None else previous.days_inactive


def inactivity_alert(
    previous: AlertState | None, features: StudentFeatures, settings: AlertSettings
) -> AlertProposal | None:
    """``inactivity``: no activity for ``inactivity_days`` while enrolled; ``high``,
    or ``critical`` from ``inactivity_critical_days``. Proposed when the spell
    reaches a tier it had not reached at the previous evaluation, or is a new spell
    (the student came back in between)."""
    days = days_inactive(features)
    tier = _inactivity_tier(days, settings)
    if not features.enrolment_active or days is None or tier == 0:
        return None
    same_spell = previous is not None and previous.last_seen_at == features.last_seen_at
    if same_spell and tier <= _inactivity_tier(_days(previous), settings):
        return None
    severity: Severity = "critical" if tier == 2 else "high"
    return _propose("inactivity", features, severity, _inactive_message(features, days))


def _inactive_message(features: StudentFeatures, days: int) -> str:
    seen = features.last_seen_at
    if seen is not None and inactivity_clock(features) == seen:
        return (
            f"No course activity for {plural(days, 'day')} "
            f"(last seen {seen.date().isoformat()})"
        )
    return f"No course activity in the {plural(days, 'day')} since enrolment"


def performance_drop_alert(
    previous: AlertState | None,
    features: StudentFeatures,
    settings: AlertSettings,
    default_pass_percent: float = 50.0,
) -> AlertProposal | None:
    """``performance_drop``: results graded in the recent window average at least
    ``performance_drop_points`` below the student's earlier results, or below their
    pass mark. Proposed only when a result arrived since the previous evaluation.
    Severity grows with each condition met (clear drop, below the pass mark, more
    than ``performance_drop_points`` below it): medium, high, critical."""
    dated = [(item.graded_at, item) for item in features.results if item.graded_at]
    seen = 0 if previous is None else previous.results_seen
    if len(dated) <= seen:
        return None
    window_start = features.as_of - settings.performance_window
    recent = [item for at, item in dated if at >= window_start]
    earlier = [item for at, item in dated if at < window_start]
    if not recent:
        return None
    average, pass_mark, _ = summarise(recent, default_pass_percent)
    before = summarise(earlier, default_pass_percent)[0] if earlier else None
    points = settings.performance_drop_points
    met = [
        before is not None and before - average >= points,
        average < pass_mark,
        average < pass_mark - points,
    ]
    if not any(met):
        return None
    severity = SEVERITIES[min(3, sum(met))]
    message = _drop_message(recent, average, pass_mark, before, settings)
    return _propose("performance_drop", features, severity, message)


def _drop_message(
    recent: list[GradeResult],
    average: float,
    pass_mark: float,
    before: float | None,
    settings: AlertSettings,
) -> str:
    window = plural(settings.performance_window_days, "day")
    message = (
        f"Recent results average {number(average)} % "
        f"({plural(len(recent), 'result')} in the last {window})"
    )
    if before is not None:
        change = before - average
        direction = "down" if change >= 0 else "up"
        message += (
            f", {direction} {number(abs(change))} points from {number(before)} % "
            "earlier"
        )
    return message + f"; pass mark {number(pass_mark)} %"


def _rank(level: RiskLevel | None) -> int:
    return -1 if level is None else LEVELS.index(level)


def risk_level_alert(
    previous: AlertState | None, assessment: RiskAssessment
) -> AlertProposal | None:
    """``risk_level_change``: the level rose into ``high`` or ``critical`` (from a
    lower level, or from unknown). The severity is the new level."""
    level = assessment.level
    if level is None or not assessment.at_risk:
        return None
    before = None if previous is None else previous.risk_level
    if _rank(before) >= _rank(level):
        return None
    reasons = "; ".join(factor.reason for factor in assessment.factors[:2])
    origin = f"from {before} " if before is not None else ""
    message = f"Risk rose {origin}to {level} (score {assessment.score}): {reasons}"
    return AlertProposal(
        "risk_level_change",
        assessment.user_id,
        assessment.course_id,
        level,
        message,
        assessment.as_of,
    )


def completion_milestone_alert(
    previous: AlertState | None, features: StudentFeatures, settings: AlertSettings
) -> AlertProposal | None:
    """``completion_milestone``: completion crossed one of ``completion_milestones``
    (50 %, 100 % by default) since the previous evaluation; the highest milestone
    crossed is announced, with severity ``low``."""
    counts = features.completion
    percent = None if counts is None else counts.percent
    if counts is None or percent is None:
        return None
    before = 0.0
    if previous is not None and previous.completion_percent is not None:
        before = previous.completion_percent
    crossed = [
        step for step in settings.completion_milestones if before < step <= percent
    ]
    if not crossed:
        return None
    step = max(crossed)
    if step >= 100:
        message = "Completed the course"
    else:
        message = f"Completed {number(step)} % of the course"
    if counts.tracked:
        message += f" ({counts.completed} of {counts.tracked} tracked activities done)"
    return _propose("completion_milestone", features, "low", message)


def evaluate_alerts(
    previous: AlertState | None,
    features: StudentFeatures,
    assessment: RiskAssessment,
    settings: AlertSettings,
    risk_settings: RiskSettings | None = None,
) -> list[AlertProposal]:
    """Every rule over one student in one course; the proposals in rule order."""
    pass_mark = (risk_settings or RiskSettings()).default_pass_percent
    proposals = [
        inactivity_alert(previous, features, settings),
        performance_drop_alert(previous, features, settings, pass_mark),
        risk_level_alert(previous, assessment),
        completion_milestone_alert(previous, features, settings),
    ]
    return [proposal for proposal in proposals if proposal is not None]


def next_state(features: StudentFeatures, assessment: RiskAssessment) -> AlertState:
    """The state to keep for the next evaluation of this student in this course."""
    counts = features.completion
    return AlertState(
        as_of=features.as_of,
        last_seen_at=features.last_seen_at,
        days_inactive=days_inactive(features),
        risk_level=assessment.level,
        completion_percent=None if counts is None else counts.percent,
        results_seen=sum(item.graded_at is not None for item in features.results),
    )
