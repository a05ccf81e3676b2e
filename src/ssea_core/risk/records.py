"""Plain records of stored risk: scores, acknowledgements, alerts, the recompute queue.

A stored score keeps, beside the score and the level, the figures a list shows next
to it (days inactive, completion) as they were at ``as_of``, so that every answer
that shows a score shows the snapshot it came from. ``score_detail`` writes that
snapshot as JSON and :meth:`StoredRisk.from_detail` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ssea_core.risk.features import StudentFeatures, days_inactive
from ssea_core.risk.scoring import LEVELS, RiskAssessment, RiskLevel, round_half_up

#: The course key of a student's overall score (their highest-scoring course).
OVERALL = ""


def level_rank(level: str | None) -> int:
    """low 0 … critical 3; -1 for no level."""
    return LEVELS.index(level) if level in LEVELS else -1


def score_detail(
    assessment: RiskAssessment, features: StudentFeatures | None
) -> dict[str, Any]:
    """The JSON kept with a score: factors, the course, days inactive, completion."""
    counts = features.completion if features is not None else None
    percent = counts.percent if counts is not None else None
    return {
        "course_id": assessment.course_id,
        "factors": [factor.as_dict() for factor in assessment.factors],
        "unavailable": list(assessment.unavailable),
        "days_inactive": days_inactive(features) if features is not None else None,
        "completion_pct": round_half_up(percent) if percent is not None else None,
    }


@dataclass(frozen=True, slots=True)
class StoredRisk:
    """A stored score of one student, overall or in one course, as of ``as_of``."""

    user_id: str
    #: The course the score is about; for an overall score, the highest course.
    course_id: str | None
    score: float | None
    level: RiskLevel | None
    as_of: datetime
    computed_at: datetime
    factors: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    days_inactive: int | None = None
    completion_pct: float | None = None

    @classmethod
    def from_detail(
        cls,
        user_id: str,
        score: float | None,
        level: str | None,
        as_of: datetime,
        computed_at: datetime,
        detail: Mapping[str, Any] | None,
    ) -> StoredRisk:
        """A stored row and its JSON detail (``score_detail``) as a record."""
        found = dict(detail or {})
        known_level: RiskLevel | None = level if level in LEVELS else None
        return cls(
            user_id=user_id,
            course_id=found.get("course_id") or None,
            score=score,
            level=known_level,
            as_of=as_of,
            computed_at=computed_at,
            factors=list(found.get("factors") or []),
            unavailable=list(found.get("unavailable") or []),
            days_inactive=found.get("days_inactive"),
            completion_pct=found.get("completion_pct"),
        )


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """Who marked a student's risk flag as handled, when, and at which level."""

    level: RiskLevel
    acknowledged_at: datetime
    acknowledged_by: str

    def covers(self, level: str | None) -> bool:
        """Whether the flag is still handled at ``level``: not risen above the mark."""
        return level_rank(level) <= level_rank(self.level)


@dataclass(frozen=True, slots=True)
class AtRiskStudent:
    """A row of the at-risk list: the student, their score and its acknowledgement."""

    user_id: str
    username: str | None
    full_name: str | None
    last_seen_at: datetime | None
    risk: StoredRisk
    acknowledgement: Acknowledgement | None = None

    @property
    def acknowledged(self) -> bool:
        """Marked as handled at this level or a higher one."""
        mark = self.acknowledgement
        return mark is not None and mark.covers(self.risk.level)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A stored alert (SPEC §6 fields)."""

    alert_id: str
    user_id: str
    course_id: str | None
    alert_type: str
    severity: str
    message: str
    triggered_at: datetime
    acknowledged: bool
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


@dataclass(frozen=True, slots=True)
class AlertChanges:
    """What one evaluation did to the alerts: new ones, open ones updated."""

    raised: int = 0
    updated: int = 0


@dataclass(frozen=True, slots=True)
class PendingTenant:
    """A tenant whose data changed since its scores were computed.

    ``since`` identifies the mark (the last change, or the claim that took it);
    ``claimed_at`` is set when a scheduler claimed the mark and has not cleared it
    yet: it is computing, or it died.
    """

    tenant_id: UUID
    since: datetime
    claimed_at: datetime | None = None
