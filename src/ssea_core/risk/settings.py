"""Tenant-editable risk and alert settings, with the defaults of SPEC §6.

Invariants:
- Level thresholds are strictly increasing inside 0..100; weights are non-negative and
  at least one is positive. A settings object that breaks either is never built.
- Settings are frozen: one object can be shared by every scoring call of a tenant.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

FACTOR_NAMES = (
    "inactivity",
    "engagement",
    "grades",
    "quizzes",
    "submissions",
    "completion",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RiskWeights(_Frozen):
    """Relative weight of each factor; re-normalised over the factors with data."""

    inactivity: float = Field(default=0.25, ge=0)
    engagement: float = Field(default=0.20, ge=0)
    grades: float = Field(default=0.20, ge=0)
    quizzes: float = Field(default=0.10, ge=0)
    submissions: float = Field(default=0.15, ge=0)
    completion: float = Field(default=0.10, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if not any(getattr(self, name) > 0 for name in FACTOR_NAMES):
            raise ValueError("at least one risk weight must be positive")
        return self

    def of(self, name: str) -> float:
        """The weight of the factor called ``name``."""
        weight: float = getattr(self, name)
        return weight


class RiskSettings(_Frozen):
    """How a tenant scores risk. Every field has the documented default."""

    weights: RiskWeights = Field(default_factory=RiskWeights)
    #: low < medium_from ≤ medium < high_from ≤ high < critical_from ≤ critical
    medium_from: float = Field(default=25.0, gt=0, lt=100)
    high_from: float = Field(default=50.0, gt=0, lt=100)
    critical_from: float = Field(default=75.0, gt=0, le=100)
    #: Inactivity is 0 up to the grace and reaches 1 at ``inactivity_full_days``.
    inactivity_grace_days: int = Field(default=2, ge=0)
    inactivity_full_days: int = Field(default=14, ge=1)
    #: The "recent" activity window that peers are compared over.
    recent_window_days: int = Field(default=14, ge=1, le=366)
    #: Fewer students than this in a course and peer comparison says nothing.
    min_peers: int = Field(default=5, ge=2)
    #: At or above this percentile of the course, engagement adds no risk.
    engagement_reference_percentile: float = Field(default=50.0, gt=0, le=100)
    #: Pass mark used for results whose item has none.
    default_pass_percent: float = Field(default=50.0, gt=0, lt=100)
    #: An average this many points above the pass mark adds no risk.
    grade_margin_points: float = Field(default=20.0, ge=0)
    #: A late submission counts as this share of a missing one.
    late_weight: float = Field(default=0.5, ge=0, le=1)
    #: Course length assumed when a course has no end date (16 weeks).
    default_course_length_days: int = Field(default=112, ge=1)

    @model_validator(mode="after")
    def _ordered_levels(self) -> Self:
        if not self.medium_from < self.high_from < self.critical_from:
            raise ValueError(
                "level thresholds must increase: medium_from < high_from < "
                f"critical_from, got {self.medium_from}, {self.high_from}, "
                f"{self.critical_from}"
            )
        if self.inactivity_full_days <= self.inactivity_grace_days:
            raise ValueError("inactivity_full_days must exceed inactivity_grace_days")
        return self

    @property
    def recent_window(self) -> timedelta:
        """``recent_window_days`` as a timedelta."""
        return timedelta(days=self.recent_window_days)

    @property
    def default_course_length(self) -> timedelta:
        """``default_course_length_days`` as a timedelta."""
        return timedelta(days=self.default_course_length_days)


class AlertSettings(_Frozen):
    """When the alert rules fire and how severe their alerts are."""

    #: ``inactivity`` fires after this many days without activity while enrolled.
    inactivity_days: int = Field(default=7, ge=1)
    #: ... and is critical from this many days on.
    inactivity_critical_days: int = Field(default=14, ge=1)
    #: "Clearly below the earlier level": the recent average is at least this many
    #: percentage points under the average of earlier results.
    performance_drop_points: float = Field(default=15.0, gt=0, le=100)
    #: Results graded within this many days before ``as_of`` are "recent".
    performance_window_days: int = Field(default=14, ge=1)
    #: Completion percentages that raise a ``completion_milestone`` alert.
    completion_milestones: tuple[float, ...] = (50.0, 100.0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.inactivity_critical_days < self.inactivity_days:
            raise ValueError("inactivity_critical_days must be ≥ inactivity_days")
        if any(not 0 < step <= 100 for step in self.completion_milestones):
            raise ValueError("completion milestones must lie in (0, 100]")
        return self

    @property
    def performance_window(self) -> timedelta:
        """``performance_window_days`` as a timedelta."""
        return timedelta(days=self.performance_window_days)
