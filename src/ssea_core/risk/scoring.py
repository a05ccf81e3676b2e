"""The risk score (SPEC §6): a weighted sum of the factors that have data.

Invariants:
- score = 100 * sum(w * v) / sum(w) over the factors with data and a positive weight, so
  the weights of the others are re-normalised away. It is clipped to 0..100 and
  rounded half up to one decimal.
- With no such factor, the score and the level are ``None``: nothing is invented.
- The level is read from the rounded score, so a shown 25.0 is always ``medium``:
  low < medium_from ≤ medium < high_from ≤ high < critical_from ≤ critical.
- Each factor's contribution is its share of the score in points; contributions add
  up to the unrounded score, and factors are listed largest contribution first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from ssea_core.risk.factors import FACTORS, Factor
from ssea_core.risk.features import StudentFeatures
from ssea_core.risk.settings import RiskSettings

RiskLevel = Literal["low", "medium", "high", "critical"]
LEVELS: tuple[RiskLevel, ...] = ("low", "medium", "high", "critical")
AT_RISK_LEVELS = frozenset({"high", "critical"})
_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class FactorScore:
    """A factor as it entered the score: its value, re-normalised weight and the
    points it contributed."""

    name: str
    value: float
    weight: float
    contribution: float
    reason: str

    def as_dict(self) -> dict[str, object]:
        """The factor for an API answer, figures rounded for display."""
        return {
            "name": self.name,
            "value": round(self.value, 3),
            "weight": round(self.weight, 3),
            "contribution": round_half_up(self.contribution),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """One student's risk as of ``as_of``; ``score`` and ``level`` are ``None`` when
    no factor had data."""

    user_id: str
    course_id: str | None
    as_of: datetime
    score: float | None
    level: RiskLevel | None
    factors: tuple[FactorScore, ...] = ()
    unavailable: tuple[str, ...] = field(default=())

    @property
    def at_risk(self) -> bool:
        """High or critical."""
        return self.level in AT_RISK_LEVELS

    def as_dict(self) -> dict[str, object]:
        """The assessment for an API answer or for storage as JSON."""
        return {
            "user_id": self.user_id,
            "course_id": self.course_id,
            "as_of": self.as_of.isoformat(),
            "score": self.score,
            "level": self.level,
            "at_risk": self.at_risk,
            "factors": [factor.as_dict() for factor in self.factors],
            "unavailable": list(self.unavailable),
        }


def round_half_up(value: float) -> float:
    """``value`` rounded half up to one decimal, as written (24.95 → 25.0)."""
    scaled = value * 10
    nearest = round(scaled)
    # Away from a tie the nearest tenth is the answer; near one, the decimal text
    # decides (24.95 is 249.49999999999997 tenths), which Decimal does exactly.
    if abs(abs(scaled - nearest) - 0.5) > 1e-6:
        return nearest / 10
    return float(Decimal(repr(value)).quantize(_TENTH, rounding=ROUND_HALF_UP))


def level_for(score: float, settings: RiskSettings) -> RiskLevel:
    """The level a (rounded) score falls in."""
    if score >= settings.critical_from:
        return "critical"
    if score >= settings.high_from:
        return "high"
    if score >= settings.medium_from:
        return "medium"
    return "low"


def evaluate_factors(
    features: StudentFeatures, settings: RiskSettings
) -> tuple[list[tuple[Factor, float]], list[str]]:
    """Each factor with data and a positive weight, paired with that weight, and the
    names of the factors left out (no data, or weighted zero)."""
    present: list[tuple[Factor, float]] = []
    missing: list[str] = []
    for name, function in FACTORS.items():
        weight = settings.weights.of(name)
        factor = function(features, settings) if weight > 0 else None
        if factor is None:
            missing.append(name)
        else:
            present.append((factor, weight))
    return present, missing


def combine(
    present: Iterable[tuple[Factor, float]],
) -> tuple[float | None, tuple[FactorScore, ...]]:
    """The unrounded 0..100 score of weighted factors and their contributions."""
    pairs = list(present)
    total_weight = sum(weight for _, weight in pairs)
    if not pairs or total_weight <= 0:
        return None, ()
    scored = [
        FactorScore(
            factor.name,
            factor.value,
            weight / total_weight,
            100.0 * factor.value * weight / total_weight,
            factor.reason,
        )
        for factor, weight in pairs
    ]
    scored.sort(key=lambda item: (-item.contribution, item.name))
    raw = sum(item.contribution for item in scored)
    return min(100.0, max(0.0, raw)), tuple(scored)


def score(features: StudentFeatures, settings: RiskSettings) -> RiskAssessment:
    """Score one student: weighted factors, re-normalised over those with data,
    rounded to one decimal, with the level and the reasons."""
    present, missing = evaluate_factors(features, settings)
    raw, scored = combine(present)
    rounded = None if raw is None else round_half_up(raw)
    level = None if rounded is None else level_for(rounded, settings)
    return RiskAssessment(
        user_id=features.user_id,
        course_id=features.course_id,
        as_of=features.as_of,
        score=rounded,
        level=level,
        factors=scored,
        unavailable=tuple(missing),
    )


def score_many(
    features: Iterable[StudentFeatures], settings: RiskSettings
) -> list[RiskAssessment]:
    """``score`` for each feature set, in order."""
    return [score(item, settings) for item in features]


def overall(assessments: Iterable[RiskAssessment]) -> RiskAssessment | None:
    """A student's tenant-wide risk: the per-course assessment with the highest
    score, so the list shows the course where the student is most at risk. ``None``
    when no assessment has a score."""
    scored = [item for item in assessments if item.score is not None]
    if not scored:
        return None
    return max(scored, key=lambda item: (item.score or 0.0, item.course_id or ""))
