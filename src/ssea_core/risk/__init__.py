"""Explainable risk scores and alert rules (SPEC §6), as pure functions.

Build a ``StudentFeatures`` per student (and course) as of a moment, call ``score``
with the tenant's ``RiskSettings``, then ``evaluate_alerts`` with the previous
``AlertState``. Nothing exported here reads a clock, a database or a file.

The use case around them lives in submodules: ``builder`` assembles the features
from rows a store read (pure too), ``repository`` is the storage seam, ``service``
recomputes a tenant, evaluates its alerts and runs the background scheduler.
"""

from ssea_core.risk.alerts import (
    AlertProposal,
    AlertState,
    AlertType,
    Severity,
    completion_milestone_alert,
    evaluate_alerts,
    inactivity_alert,
    next_state,
    performance_drop_alert,
    risk_level_alert,
)
from ssea_core.risk.factors import (
    FACTORS,
    Factor,
    completion,
    engagement,
    grades,
    inactivity,
    quizzes,
    submissions,
)
from ssea_core.risk.features import (
    ActivityCounts,
    CompletionCounts,
    GradeResult,
    PeerDistribution,
    StudentFeatures,
    SubmissionCounts,
    days_inactive,
    elapsed_share,
    percentile_rank,
)
from ssea_core.risk.scoring import (
    FactorScore,
    RiskAssessment,
    RiskLevel,
    level_for,
    overall,
    round_half_up,
    score,
    score_many,
)
from ssea_core.risk.settings import AlertSettings, RiskSettings, RiskWeights

__all__ = [
    "FACTORS",
    "ActivityCounts",
    "AlertProposal",
    "AlertSettings",
    "AlertState",
    "AlertType",
    "CompletionCounts",
    "Factor",
    "FactorScore",
    "GradeResult",
    "PeerDistribution",
    "RiskAssessment",
    "RiskLevel",
    "RiskSettings",
    "RiskWeights",
    "Severity",
    "StudentFeatures",
    "SubmissionCounts",
    "completion",
    "completion_milestone_alert",
    "days_inactive",
    "elapsed_share",
    "engagement",
    "evaluate_alerts",
    "grades",
    "inactivity",
    "inactivity_alert",
    "level_for",
    "next_state",
    "overall",
    "percentile_rank",
    "performance_drop_alert",
    "quizzes",
    "risk_level_alert",
    "round_half_up",
    "score",
    "score_many",
    "submissions",
]
