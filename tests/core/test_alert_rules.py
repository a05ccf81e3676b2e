"""Alert rules (SPEC §6): each fires on a change, at and around its threshold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ssea_core.risk import (
    ActivityCounts,
    AlertSettings,
    AlertState,
    CompletionCounts,
    GradeResult,
    RiskAssessment,
    RiskSettings,
    StudentFeatures,
    SubmissionCounts,
    completion_milestone_alert,
    evaluate_alerts,
    inactivity_alert,
    next_state,
    performance_drop_alert,
    risk_level_alert,
    score,
)

NOW = datetime(2026, 3, 24, 12, 0, tzinfo=UTC)
ALERTS = AlertSettings()


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def student(**fields: object) -> StudentFeatures:
    return StudentFeatures("u1", NOW, "c1", **fields)  # type: ignore[arg-type]


def state(**fields: object) -> AlertState:
    return AlertState(days_ago(1), **fields)  # type: ignore[arg-type]


# --- inactivity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "severity"),
    [(6, None), (7, "high"), (13, "high"), (14, "critical"), (30, "critical")],
)
def test_inactivity_fires_from_seven_days_and_is_critical_from_fourteen(
    days: int, severity: str | None
) -> None:
    proposal = inactivity_alert(None, student(last_seen_at=days_ago(days)), ALERTS)
    assert (proposal and proposal.severity) == severity


def test_inactivity_message_names_the_days_and_the_last_visit() -> None:
    proposal = inactivity_alert(None, student(last_seen_at=days_ago(9)), ALERTS)
    assert proposal is not None
    assert proposal.message == "No course activity for 9 days (last seen 2026-03-15)"
    assert proposal.dedupe_key == ("inactivity", "u1", "c1")
    assert proposal.triggered_at == NOW


def test_inactivity_of_a_student_never_seen() -> None:
    features = student(enrolled_at=days_ago(8), since_enrolment=ActivityCounts())
    proposal = inactivity_alert(None, features, ALERTS)
    assert proposal is not None
    assert proposal.message == "No course activity in the 8 days since enrolment"


def test_no_inactivity_alert_when_not_enrolled_or_not_tracked() -> None:
    gone = student(last_seen_at=days_ago(20), enrolment_active=False)
    untracked = student(enrolled_at=days_ago(20))
    assert inactivity_alert(None, gone, ALERTS) is None
    assert inactivity_alert(None, untracked, ALERTS) is None


def test_the_same_spell_is_announced_once_per_severity() -> None:
    seen = days_ago(10)
    announced = state(last_seen_at=seen, days_inactive=8)
    assert inactivity_alert(announced, student(last_seen_at=seen), ALERTS) is None
    later = replace(student(last_seen_at=seen), as_of=NOW + timedelta(days=4))
    escalated = inactivity_alert(announced, later, ALERTS)
    assert escalated is not None
    assert escalated.severity == "critical"


def test_a_new_spell_after_a_visit_fires_again() -> None:
    announced = state(last_seen_at=days_ago(30), days_inactive=20)
    proposal = inactivity_alert(announced, student(last_seen_at=days_ago(7)), ALERTS)
    assert proposal is not None
    assert proposal.severity == "high"


def test_inactivity_days_are_a_setting() -> None:
    settings = AlertSettings(inactivity_days=3, inactivity_critical_days=5)
    assert inactivity_alert(None, student(last_seen_at=days_ago(2)), settings) is None
    three = inactivity_alert(None, student(last_seen_at=days_ago(3)), settings)
    five = inactivity_alert(None, student(last_seen_at=days_ago(5)), settings)
    assert (three and three.severity, five and five.severity) == ("high", "critical")


# --- performance_drop ---------------------------------------------------------------


def results(*scores: tuple[float, float]) -> tuple[GradeResult, ...]:
    """(percent, days ago) pairs, pass mark 50."""
    return tuple(GradeResult(percent, 50.0, days_ago(age)) for percent, age in scores)


EARLIER = ((80.0, 40.0), (70.0, 30.0))  # average 75


@pytest.mark.parametrize(
    ("recent", "severity"),
    [
        (61.0, None),  # 14 points down, above the pass mark
        (60.0, "medium"),  # exactly 15 points down
        (58.0, "medium"),
        (45.0, "high"),  # down and below the pass mark
        (35.0, "high"),  # 15 under the pass mark is not "more than 15"
        (34.0, "critical"),  # down, below, and far below
    ],
)
def test_a_drop_below_the_earlier_level(recent: float, severity: str | None) -> None:
    features = student(results=results(*EARLIER, (recent, 2)))
    proposal = performance_drop_alert(None, features, ALERTS)
    assert (proposal and proposal.severity) == severity


def test_the_drop_message_has_the_numbers() -> None:
    features = student(results=results(*EARLIER, (58.0, 2)))
    proposal = performance_drop_alert(None, features, ALERTS)
    assert proposal is not None
    assert proposal.message == (
        "Recent results average 58 % (1 result in the last 14 days), down 17 points "
        "from 75 % earlier; pass mark 50 %"
    )
    assert proposal.dedupe_key == ("performance_drop", "u1", "c1")


def test_below_the_pass_mark_without_earlier_results() -> None:
    proposal = performance_drop_alert(None, student(results=results((45, 3))), ALERTS)
    assert proposal is not None
    assert proposal.severity == "medium"
    assert proposal.message == (
        "Recent results average 45 % (1 result in the last 14 days); pass mark 50 %"
    )
    assert (
        performance_drop_alert(None, student(results=results((50, 3))), ALERTS) is None
    )


def test_the_recent_window_includes_its_first_moment() -> None:
    edge = student(results=results(*EARLIER, (40.0, 14)))
    outside = student(results=results(*EARLIER, (40.0, 14.01)))
    assert performance_drop_alert(None, edge, ALERTS) is not None
    assert performance_drop_alert(None, outside, ALERTS) is None  # nothing recent


def test_no_new_result_no_alert() -> None:
    features = student(results=results(*EARLIER, (40.0, 2)))
    assert performance_drop_alert(state(results_seen=3), features, ALERTS) is None
    assert performance_drop_alert(state(results_seen=2), features, ALERTS) is not None


def test_undated_results_are_not_judged_for_a_drop() -> None:
    features = student(results=(GradeResult(10.0), GradeResult(20.0, kind="quiz")))
    assert performance_drop_alert(None, features, ALERTS) is None


def test_the_drop_size_is_a_setting() -> None:
    features = student(results=results(*EARLIER, (66.0, 2)))
    assert performance_drop_alert(None, features, ALERTS) is None
    tight = AlertSettings(performance_drop_points=9)
    assert performance_drop_alert(None, features, tight) is not None


# --- risk_level_change --------------------------------------------------------------


def assessed(missing: int, due: int = 1000) -> RiskAssessment:
    features = student(submissions=SubmissionCounts(due, missing=missing))
    return score(features, RiskSettings())


@pytest.mark.parametrize(
    ("before", "missing", "severity"),
    [
        ("medium", 500, "high"),
        ("low", 750, "critical"),
        ("high", 750, "critical"),
        (None, 600, "high"),
        ("high", 600, None),
        ("critical", 600, None),
        ("low", 499, None),
        ("critical", 800, None),
    ],
)
def test_risk_alert_when_the_level_rises_into_high_or_critical(
    before: str | None, missing: int, severity: str | None
) -> None:
    previous = state(risk_level=before)
    proposal = risk_level_alert(previous, assessed(missing))
    assert (proposal and proposal.severity) == severity


def test_risk_alert_message_gives_the_score_and_the_reasons() -> None:
    proposal = risk_level_alert(state(risk_level="medium"), assessed(500, due=1000))
    assert proposal is not None
    assert proposal.message == (
        "Risk rose from medium to high (score 50.0): 500 of 1000 assignments due so "
        "far missing"
    )
    assert proposal.dedupe_key == ("risk_level_change", "u1", "c1")
    first = risk_level_alert(None, assessed(500))
    assert first is not None
    assert first.message.startswith("Risk rose to high (score 50.0)")


def test_no_risk_alert_without_a_score() -> None:
    assert risk_level_alert(None, score(student(), RiskSettings())) is None


# --- completion_milestone -----------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "completed", "message"),
    [
        (40.0, 6, "Completed 50 % of the course (6 of 12 tracked activities done)"),
        (None, 7, "Completed 50 % of the course (7 of 12 tracked activities done)"),
        (40.0, 12, "Completed the course (12 of 12 tracked activities done)"),
        (50.0, 7, None),
        (40.0, 5, None),
        (100.0, 12, None),
    ],
)
def test_completion_milestones(
    before: float | None, completed: int, message: str | None
) -> None:
    previous = state(completion_percent=before)
    features = student(completion=CompletionCounts(12, completed))
    proposal = completion_milestone_alert(previous, features, ALERTS)
    assert (proposal and proposal.message) == message
    if proposal is not None:
        assert proposal.severity == "low"


def test_just_under_a_milestone_does_not_fire() -> None:
    features = student(completion=CompletionCounts(1000, 499))  # 49.9 %
    assert completion_milestone_alert(None, features, ALERTS) is None


def test_course_completion_counts_as_a_hundred_percent() -> None:
    features = student(completion=CompletionCounts(0, 0, course_complete=True))
    proposal = completion_milestone_alert(
        state(completion_percent=60.0), features, ALERTS
    )
    assert proposal is not None
    assert proposal.message == "Completed the course"


def test_milestones_are_a_setting() -> None:
    settings = AlertSettings(completion_milestones=(25.0, 75.0))
    features = student(completion=CompletionCounts(4, 3))
    proposal = completion_milestone_alert(None, features, settings)
    assert proposal is not None
    assert proposal.message.startswith("Completed 75 % of the course")


# --- all rules together -------------------------------------------------------------


def troubled() -> StudentFeatures:
    return student(
        last_seen_at=days_ago(14),
        results=results(*EARLIER, (40.0, 2)),
        submissions=SubmissionCounts(4, missing=3),
        completion=CompletionCounts(10, 5),
    )


def test_every_rule_in_order_then_nothing_on_re_evaluation() -> None:
    features = troubled()
    assessment = score(features, RiskSettings())
    proposals = evaluate_alerts(None, features, assessment, ALERTS)
    kinds = [proposal.alert_type for proposal in proposals]
    assert kinds == [
        "inactivity",
        "performance_drop",
        "risk_level_change",
        "completion_milestone",
    ]
    keys = {proposal.dedupe_key for proposal in proposals}
    assert len(keys) == 4

    remembered = next_state(features, assessment)
    assert remembered.results_seen == 3
    assert remembered.days_inactive == 14
    assert remembered.risk_level == assessment.level == "high"
    assert remembered.completion_percent == 50.0
    again = evaluate_alerts(remembered, features, assessment, ALERTS)
    assert again == []


def test_a_site_level_proposal_has_an_empty_course_in_its_key() -> None:
    features = replace(student(last_seen_at=days_ago(8)), course_id=None)
    proposal = inactivity_alert(None, features, ALERTS)
    assert proposal is not None
    assert proposal.dedupe_key == ("inactivity", "u1", "")


@pytest.mark.parametrize(
    "fields",
    [
        {"inactivity_days": 10, "inactivity_critical_days": 9},
        {"completion_milestones": [0]},
        {"completion_milestones": [120]},
        {"performance_drop_points": 0},
    ],
)
def test_inconsistent_alert_settings_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AlertSettings.model_validate(fields)
