"""Risk factors and the score (SPEC §6), at and around every threshold."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from pydantic import ValidationError

from ssea_core.risk import (
    ActivityCounts,
    CompletionCounts,
    GradeResult,
    PeerDistribution,
    RiskAssessment,
    RiskSettings,
    RiskWeights,
    StudentFeatures,
    SubmissionCounts,
    completion,
    days_inactive,
    elapsed_share,
    engagement,
    grades,
    inactivity,
    level_for,
    overall,
    percentile_rank,
    quizzes,
    round_half_up,
    score,
    submissions,
)
from ssea_core.risk.factors import shortfall

NOW = datetime(2026, 3, 24, 12, 0, tzinfo=UTC)
SETTINGS = RiskSettings()
ALL_FACTORS = (
    "inactivity",
    "engagement",
    "grades",
    "quizzes",
    "submissions",
    "completion",
)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def student(**fields: object) -> StudentFeatures:
    return StudentFeatures("u1", NOW, "c1", **fields)  # type: ignore[arg-type]


def peers(*pairs: tuple[int, int]) -> PeerDistribution:
    return PeerDistribution.of(ActivityCounts(events, days) for events, days in pairs)


TEN_PEERS = peers(*[(value, value) for value in range(10)])


# --- inactivity ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "value"),
    [(0, 0.0), (2, 0.0), (3, 1 / 12), (8, 0.5), (13, 11 / 12), (14, 1.0), (40, 1.0)],
)
def test_inactivity_is_zero_through_the_grace_and_full_at_fourteen_days(
    days: int, value: float
) -> None:
    factor = inactivity(student(last_seen_at=days_ago(days)), SETTINGS)
    assert factor is not None
    assert factor.value == pytest.approx(value)


def test_inactivity_counts_whole_days_and_names_them() -> None:
    factor = inactivity(student(last_seen_at=days_ago(9.9)), SETTINGS)
    assert factor is not None
    assert factor.reason == "no course access for 9 days"
    recent = inactivity(student(last_seen_at=days_ago(0.9)), SETTINGS)
    assert recent is not None
    assert recent.reason == "active in the course within the last day"


def test_inactivity_of_a_student_never_seen_counts_from_enrolment() -> None:
    features = student(enrolled_at=days_ago(5), since_enrolment=ActivityCounts())
    factor = inactivity(features, SETTINGS)
    assert factor is not None
    assert factor.value == pytest.approx(0.25)
    assert factor.reason == "no course access in the 5 days since enrolment"


def test_a_visit_before_the_course_start_does_not_stop_the_clock() -> None:
    features = student(
        last_seen_at=days_ago(30),
        enrolled_at=days_ago(40),
        course_start=days_ago(8),
        since_enrolment=ActivityCounts(3, 1, 60),
    )
    factor = inactivity(features, SETTINGS)
    assert factor is not None
    assert factor.value == pytest.approx(0.5)
    assert factor.reason == "no course access in the 8 days since the course start"


def test_inactivity_has_no_data_without_tracking_or_before_the_course() -> None:
    assert inactivity(student(enrolled_at=days_ago(5)), SETTINGS) is None
    assert inactivity(student(), SETTINGS) is None
    early = student(last_seen_at=days_ago(3), course_start=NOW + timedelta(days=2))
    assert inactivity(early, SETTINGS) is None
    assert days_inactive(early) is None


def test_a_last_visit_in_the_future_counts_as_today() -> None:
    factor = inactivity(student(last_seen_at=NOW + timedelta(hours=3)), SETTINGS)
    assert factor is not None
    assert factor.value == 0.0


def test_inactivity_scale_is_a_setting() -> None:
    settings = RiskSettings(inactivity_grace_days=0, inactivity_full_days=10)
    factor = inactivity(student(last_seen_at=days_ago(4)), settings)
    assert factor is not None
    assert factor.value == pytest.approx(0.4)


# --- engagement ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ordered", "rank"),
    [(2, (1, 2, 2, 3), 50.0), (0, (1, 2, 2, 3), 0.0), (4, (1, 2, 2, 3), 100.0)],
)
def test_percentile_rank_counts_ties_half(
    value: int, ordered: tuple[int, ...], rank: float
) -> None:
    assert percentile_rank(value, ordered) == rank


def test_engagement_in_the_bottom_of_the_course() -> None:
    features = student(recent=ActivityCounts(1, 1, 0), peers_recent=TEN_PEERS)
    factor = engagement(features, SETTINGS)
    assert factor is not None
    # events and days both rank (1 below + 1/2 tie) / 10 = 15 %; seconds are flat
    assert factor.value == pytest.approx((50 - 15) / 50)
    assert factor.reason == (
        "activity in the bottom 15 % of the course over the last 14 days "
        "(1 event on 1 day; course median 4.5 events on 4.5 days)"
    )


@pytest.mark.parametrize(
    ("events", "value"), [(0, 0.9), (4, 0.1), (5, 0.0), (9, 0.0), (50, 0.0)]
)
def test_engagement_adds_nothing_from_the_course_median_up(
    events: int, value: float
) -> None:
    features = student(recent=ActivityCounts(events, events), peers_recent=TEN_PEERS)
    factor = engagement(features, SETTINGS)
    assert factor is not None
    assert factor.value == pytest.approx(value)


def test_engagement_averages_the_recent_window_and_since_enrolment() -> None:
    features = student(
        recent=ActivityCounts(1, 1),
        peers_recent=TEN_PEERS,
        since_enrolment=ActivityCounts(9, 9),
        peers_since_enrolment=TEN_PEERS,
    )
    factor = engagement(features, SETTINGS)
    assert factor is not None
    assert factor.value == pytest.approx(0.0)  # mean of 15 % and 95 % is 55 %
    assert factor.reason.startswith("activity in the top 45 % of the course")


def test_engagement_needs_enough_peers_who_differ() -> None:
    few = peers((1, 1), (2, 2), (3, 3), (4, 4))
    flat = peers(*[(3, 3)] * 10)
    assert (
        engagement(student(recent=ActivityCounts(1, 1), peers_recent=few), SETTINGS)
        is None
    )
    assert (
        engagement(student(recent=ActivityCounts(1, 1), peers_recent=flat), SETTINGS)
        is None
    )
    assert engagement(student(recent=ActivityCounts(1, 1)), SETTINGS) is None


def test_engagement_falls_back_to_since_enrolment_in_the_reason() -> None:
    features = student(
        since_enrolment=ActivityCounts(0, 0), peers_since_enrolment=TEN_PEERS
    )
    factor = engagement(features, SETTINGS)
    assert factor is not None
    assert "since enrolment (0 events on 0 days;" in factor.reason


# --- grades and quizzes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("average", "value"),
    [
        (100, 0.0),
        (70, 0.0),
        (69, 0.025),
        (60, 0.25),
        (50, 0.5),
        (49, 0.51),
        (38, 0.62),
        (0, 1.0),
    ],
)
def test_shortfall_is_half_at_the_pass_mark(average: float, value: float) -> None:
    assert shortfall(average, 50, 20) == pytest.approx(value)


def test_shortfall_with_a_high_pass_mark_caps_the_safe_level_at_100() -> None:
    assert shortfall(100, 90, 20) == 0.0
    assert shortfall(95, 90, 20) == pytest.approx(0.25)


def test_quiz_average_against_the_pass_mark() -> None:
    results = (
        GradeResult(30, 50, kind="quiz"),
        GradeResult(46, 50, kind="quiz"),
        GradeResult(90, 50, kind="grade"),
    )
    factor = quizzes(student(results=results), SETTINGS)
    assert factor is not None
    assert factor.value == pytest.approx(0.62)
    assert factor.reason == (
        "quiz average 38 % against a pass mark of 50 % "
        "(2 quizzes, 2 below the pass mark)"
    )


def test_grades_use_the_default_pass_mark_when_an_item_has_none() -> None:
    results = (GradeResult(62.5), GradeResult(57.5, 40.0))
    factor = grades(student(results=results), SETTINGS)
    assert factor is not None
    # average 60 against mean pass mark 45: safe level 65, so 0.5 * 5 / 20
    assert factor.value == pytest.approx(0.125)
    assert factor.reason == (
        "grade average 60 % against a pass mark of 45 % (2 graded items, 0 below the "
        "pass mark)"
    )


def test_results_of_the_other_kind_do_not_count() -> None:
    assert grades(student(results=(GradeResult(10, kind="quiz"),)), SETTINGS) is None
    assert quizzes(student(results=(GradeResult(10),)), SETTINGS) is None


# --- submissions --------------------------------------------------------------------


def test_missing_and_late_work_among_work_due() -> None:
    factor = submissions(
        student(submissions=SubmissionCounts(5, late=1, missing=2)), SETTINGS
    )
    assert factor is not None
    assert factor.value == pytest.approx(0.5)  # (2 + 0.5 * 1) / 5
    assert factor.reason == "2 of 5 assignments due so far missing, 1 late"


@pytest.mark.parametrize(
    ("counts", "value", "reason"),
    [
        (SubmissionCounts(4), 0.0, "all 4 assignments due so far handed in on time"),
        (
            SubmissionCounts(4, late=2),
            0.25,
            "2 of 4 assignments due so far handed in late",
        ),
        (SubmissionCounts(1, missing=1), 1.0, "1 of 1 assignment due so far missing"),
    ],
)
def test_submission_reasons(
    counts: SubmissionCounts, value: float, reason: str
) -> None:
    factor = submissions(student(submissions=counts), SETTINGS)
    assert factor is not None
    assert (factor.value, factor.reason) == (pytest.approx(value), reason)


def test_no_work_due_means_no_data() -> None:
    assert submissions(student(submissions=SubmissionCounts(0)), SETTINGS) is None
    assert submissions(student(), SETTINGS) is None


def test_submission_counts_must_add_up() -> None:
    with pytest.raises(ValueError, match="exceed due"):
        SubmissionCounts(2, late=1, missing=2)
    with pytest.raises(ValueError, match="negative"):
        SubmissionCounts(-1)


# --- completion ---------------------------------------------------------------------

HALFWAY = {"course_start": days_ago(56), "course_end": NOW + timedelta(days=56)}


def test_completion_against_course_time_elapsed() -> None:
    features = student(completion=CompletionCounts(12, 3), **HALFWAY)
    factor = completion(features, SETTINGS)
    assert factor is not None
    assert factor.value == pytest.approx(0.5)  # 6 expected, 3 done
    assert factor.reason == (
        "3 of 12 tracked activities completed; about 6 expected by now "
        "(50 % of course time elapsed)"
    )


@pytest.mark.parametrize(
    ("completed", "expected", "value"),
    [(3, 4.0, 0.25), (4, 4.0, 0.0), (9, 4.0, 0.0), (0, 0.5, 0.5), (0, 40.0, 1.0)],
)
def test_completion_uses_the_sites_expected_count(
    completed: int, expected: float, value: float
) -> None:
    features = student(completion=CompletionCounts(12, completed, expected), **HALFWAY)
    factor = completion(features, SETTINGS)
    assert factor is not None
    assert factor.value == pytest.approx(value)


def test_a_course_without_dates_runs_from_enrolment_for_the_default_length() -> None:
    features = student(enrolled_at=days_ago(28), completion=CompletionCounts(8, 0))
    assert elapsed_share(features, SETTINGS.default_course_length) == pytest.approx(
        0.25
    )
    factor = completion(features, SETTINGS)
    assert factor is not None
    assert factor.value == pytest.approx(1.0)  # 2 expected, none done
    assert "(25 % of course time elapsed)" in factor.reason


def test_completion_without_tracking_or_time_has_no_data() -> None:
    assert (
        completion(student(completion=CompletionCounts(0, 0), **HALFWAY), SETTINGS)
        is None
    )
    assert completion(student(completion=CompletionCounts(5, 1)), SETTINGS) is None


def test_elapsed_share_is_clipped() -> None:
    before = student(course_start=NOW + timedelta(days=3))
    after = student(course_start=days_ago(300), course_end=days_ago(100))
    length = SETTINGS.default_course_length
    assert elapsed_share(before, length) == 0.0
    assert elapsed_share(after, length) == 1.0
    assert elapsed_share(student(), length) is None


# --- the score ----------------------------------------------------------------------


def only_submissions(missing: int, due: int = 1000) -> StudentFeatures:
    return student(submissions=SubmissionCounts(due, missing=missing))


@pytest.mark.parametrize(
    ("missing", "shown", "level"),
    [
        (249, 24.9, "low"),
        (250, 25.0, "medium"),
        (499, 49.9, "medium"),
        (500, 50.0, "high"),
        (749, 74.9, "high"),
        (750, 75.0, "critical"),
    ],
)
def test_levels_at_their_thresholds(missing: int, shown: float, level: str) -> None:
    assessment = score(only_submissions(missing), SETTINGS)
    assert (assessment.score, assessment.level) == (shown, level)
    assert assessment.at_risk is (level in ("high", "critical"))


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0, "low"),
        (24.9, "low"),
        (25, "medium"),
        (49.9, "medium"),
        (50, "high"),
        (74.9, "high"),
        (75, "critical"),
        (100, "critical"),
    ],
)
def test_level_for(value: float, level: str) -> None:
    assert level_for(value, SETTINGS) == level


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [
        (24.95, 25.0),
        (24.94999, 24.9),
        (0.05, 0.1),
        (81.25, 81.3),
        (74.96, 75.0),
        (3.0, 3.0),
    ],
)
def test_rounding_is_half_up_to_one_decimal(raw: float, rounded: float) -> None:
    assert round_half_up(raw) == rounded


def test_the_fast_rounding_agrees_with_decimal_everywhere() -> None:
    rng = random.Random(5)
    values = [rng.uniform(0, 100) for _ in range(50_000)]
    values += [k / 100 for k in range(10_001)]  # every tie and near-tie of 0..100
    values += [k / 1000 for k in range(100_001)]

    for value in values:
        exact = float(Decimal(repr(value)).quantize(Decimal("0.1"), ROUND_HALF_UP))
        assert round_half_up(value) == exact, value


def test_a_score_that_rounds_up_into_a_level_takes_that_level() -> None:
    assessment = score(only_submissions(4995, due=20000), SETTINGS)  # 24.975
    assert (assessment.score, assessment.level) == (25.0, "medium")


def test_weights_are_renormalised_over_factors_with_data() -> None:
    features = student(
        last_seen_at=days_ago(20),  # inactivity 1.0, weight 0.25
        submissions=SubmissionCounts(4, missing=2),  # submissions 0.5, weight 0.15
    )
    assessment = score(features, SETTINGS)
    assert assessment.score == 81.3  # 100 * (0.25 + 0.075) / 0.40 = 81.25
    names = [factor.name for factor in assessment.factors]
    assert names == ["inactivity", "submissions"]
    assert [factor.weight for factor in assessment.factors] == pytest.approx(
        [0.625, 0.375]
    )
    assert [factor.contribution for factor in assessment.factors] == pytest.approx(
        [62.5, 18.75]
    )
    assert assessment.unavailable == ("engagement", "grades", "quizzes", "completion")


def test_a_factor_weighted_zero_drops_out() -> None:
    settings = RiskSettings(weights=RiskWeights(inactivity=0))
    features = student(
        last_seen_at=days_ago(20), submissions=SubmissionCounts(4, missing=2)
    )
    assessment = score(features, settings)
    assert assessment.score == 50.0
    assert "inactivity" in assessment.unavailable


def test_every_factor_together() -> None:
    features = student(
        last_seen_at=days_ago(8),  # 0.5
        recent=ActivityCounts(1, 1),
        peers_recent=TEN_PEERS,  # 0.7
        results=(GradeResult(60), GradeResult(38, kind="quiz")),  # 0.25, 0.62
        submissions=SubmissionCounts(5, late=1, missing=2),  # 0.5
        completion=CompletionCounts(12, 3),  # 0.5
        **HALFWAY,
    )
    assessment = score(features, SETTINGS)
    expected = 100 * (
        0.25 * 0.5 + 0.2 * 0.7 + 0.2 * 0.25 + 0.1 * 0.62 + 0.15 * 0.5 + 0.1 * 0.5
    )
    assert assessment.score == round_half_up(expected)  # 50.2
    assert assessment.level == "high"
    contributions = [factor.contribution for factor in assessment.factors]
    assert contributions == sorted(contributions, reverse=True)
    assert sum(contributions) == pytest.approx(expected)
    assert assessment.factors[0].name == "engagement"
    assert assessment.unavailable == ()


def test_the_strongest_signals_give_a_hundred() -> None:
    features = student(
        last_seen_at=days_ago(30), submissions=SubmissionCounts(3, missing=3)
    )
    assert score(features, SETTINGS).score == 100.0


def test_no_data_gives_no_score() -> None:
    assessment = score(student(), SETTINGS)
    assert (assessment.score, assessment.level, assessment.at_risk) == (
        None,
        None,
        False,
    )
    assert assessment.factors == ()
    assert assessment.unavailable == ALL_FACTORS


def test_an_assessment_as_a_dict() -> None:
    features = student(
        last_seen_at=days_ago(9), submissions=SubmissionCounts(5, missing=2)
    )
    shape = score(features, SETTINGS).as_dict()
    assert shape["score"] == 51.5  # 100 * (0.25 * 7/12 + 0.15 * 0.4) / 0.4
    assert shape["level"] == "high"
    assert shape["at_risk"] is True
    assert shape["as_of"] == "2026-03-24T12:00:00+00:00"
    assert shape["factors"] == [
        {
            "name": "inactivity",
            "value": 0.583,
            "weight": 0.625,
            "contribution": 36.5,
            "reason": "no course access for 9 days",
        },
        {
            "name": "submissions",
            "value": 0.4,
            "weight": 0.375,
            "contribution": 15.0,
            "reason": "2 of 5 assignments due so far missing",
        },
    ]


def test_overall_is_the_course_with_the_highest_score() -> None:
    low = score(replace(student(last_seen_at=days_ago(1)), course_id="a"), SETTINGS)
    high = score(replace(student(last_seen_at=days_ago(9)), course_id="b"), SETTINGS)
    none = score(replace(student(), course_id="c"), SETTINGS)
    chosen = overall([low, none, high])
    assert isinstance(chosen, RiskAssessment)
    assert chosen.course_id == "b"
    assert overall([none]) is None


# --- settings -----------------------------------------------------------------------


def test_settings_defaults_follow_the_spec() -> None:
    assert (SETTINGS.medium_from, SETTINGS.high_from, SETTINGS.critical_from) == (
        25.0,
        50.0,
        75.0,
    )
    weights = SETTINGS.weights
    assert sum(weights.of(name) for name in ALL_FACTORS) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "fields",
    [
        {"medium_from": 50, "high_from": 50},
        {"high_from": 80, "critical_from": 75},
        {"inactivity_grace_days": 14, "inactivity_full_days": 14},
        {"weights": {name: 0 for name in ALL_FACTORS}},
        {"weights": {"grades": -1}},
        {"unknown_setting": 1},
    ],
)
def test_inconsistent_settings_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RiskSettings.model_validate(fields)


def test_settings_round_trip_through_json() -> None:
    custom = RiskSettings(weights=RiskWeights(grades=0.5), high_from=60)
    assert RiskSettings.model_validate_json(custom.model_dump_json()) == custom
