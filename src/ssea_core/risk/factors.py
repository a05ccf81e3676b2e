"""The risk factors (SPEC §6): each turns a feature set into a value and a reason.

Invariants:
- A factor returns ``None`` when its inputs are unknown, otherwise a value in 0..1
  (0 = no concern, 1 = the strongest signal the factor gives) and a reason in plain
  words that quotes the numbers the value was computed from.
- A factor reads only its ``StudentFeatures`` and the settings; the same inputs always
  give the same value and the same reason.
- Higher inactivity, lower relative activity, lower results, more late or missing work
  and slower completion never lower a factor's value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ssea_core.risk.features import (
    ActivityCounts,
    GradeResult,
    PeerDistribution,
    ResultKind,
    StudentFeatures,
    SubmissionCounts,
    elapsed_share,
    inactivity_clock,
    percentile_rank,
    whole_days,
)
from ssea_core.risk.settings import RiskSettings


@dataclass(frozen=True, slots=True)
class Factor:
    """One factor's verdict: ``value`` in 0..1 and the reason in plain words."""

    name: str
    value: float
    reason: str


FactorFunction = Callable[[StudentFeatures, RiskSettings], Factor | None]


def clip(value: float) -> float:
    """``value`` limited to 0..1."""
    return min(1.0, max(0.0, value))


def number(value: float) -> str:
    """A figure as people write it: whole when it is, else one decimal."""
    return f"{value:.1f}".removesuffix(".0")


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 day``, ``2 days``; ``many`` for irregular plurals."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {many or word + 's'}"


def inactivity(features: StudentFeatures, settings: RiskSettings) -> Factor | None:
    """Days without course activity, 0 up to the grace days and 1 from
    ``inactivity_full_days`` on, counted from the last visit or, when the student has
    not come since, from enrolment or the course start, whichever is later."""
    clock_from = inactivity_clock(features)
    if clock_from is None:
        return None
    days = whole_days(clock_from, features.as_of)
    grace, full = settings.inactivity_grace_days, settings.inactivity_full_days
    value = clip((days - grace) / (full - grace))
    return Factor("inactivity", value, _inactivity_reason(features, clock_from, days))


def _inactivity_reason(
    features: StudentFeatures, clock_from: datetime, days: int
) -> str:
    if clock_from == features.last_seen_at:
        if days == 0:
            return "active in the course within the last day"
        return f"no course access for {plural(days, 'day')}"
    since = "enrolment" if clock_from == features.enrolled_at else "the course start"
    return f"no course access in the {plural(days, 'day')} since {since}"


def engagement(features: StudentFeatures, settings: RiskSettings) -> Factor | None:
    """Where the student's activity ranks among the course's students: the mean
    percentile over the recent window and since enrolment, for events, active days
    and time (measures on which every student is equal are left out)."""
    recent_span = f"over the last {plural(settings.recent_window_days, 'day')}"
    views = [
        (features.recent, features.peers_recent, recent_span),
        (features.since_enrolment, features.peers_since_enrolment, "since enrolment"),
    ]
    ranks: list[float] = []
    described = ""
    for counts, peers, span in views:
        if counts is None or peers is None or peers.size < settings.min_peers:
            continue
        view_ranks = _ranks(counts, peers)
        if view_ranks and not described:
            described = _describe(counts, peers, span)
        ranks.extend(view_ranks)
    if not ranks:
        return None
    percentile = sum(ranks) / len(ranks)
    reference = settings.engagement_reference_percentile
    value = clip((reference - percentile) / reference)
    return Factor("engagement", value, f"{_standing(percentile)} {described}")


def _ranks(counts: ActivityCounts, peers: PeerDistribution) -> list[float]:
    return [
        percentile_rank(getattr(counts, measure), getattr(peers, measure))
        for measure in peers.spread
    ]


def _standing(percentile: float) -> str:
    if percentile < 50:
        return f"activity in the bottom {max(1, math.ceil(percentile))} % of the course"
    top = max(1, math.ceil(100 - percentile))
    return f"activity in the top {top} % of the course"


def _describe(counts: ActivityCounts, peers: PeerDistribution, span: str) -> str:
    student = f"{plural(counts.events, 'event')} on {plural(counts.active_days, 'day')}"
    median = (
        f"{number(peers.median_events)} events on "
        f"{number(peers.median_active_days)} days"
    )
    return f"{span} ({student}; course median {median})"


def grades(features: StudentFeatures, settings: RiskSettings) -> Factor | None:
    """The average of graded items other than quizzes against their pass marks."""
    return _results("grades", "grade", features, settings)


def quizzes(features: StudentFeatures, settings: RiskSettings) -> Factor | None:
    """The average quiz score against the quizzes' pass marks."""
    return _results("quizzes", "quiz", features, settings)


def shortfall(average: float, pass_mark: float, margin: float) -> float:
    """0 at or above ``pass_mark + margin`` (capped at 100), 0.5 at the pass mark,
    1 at zero; linear in between."""
    safe = min(100.0, pass_mark + margin)
    if average >= safe:
        return 0.0
    if average >= pass_mark:
        return 0.5 * (safe - average) / (safe - pass_mark)
    return clip(0.5 + 0.5 * (pass_mark - average) / pass_mark)


def _results(
    name: str, kind: ResultKind, features: StudentFeatures, settings: RiskSettings
) -> Factor | None:
    chosen = [result for result in features.results if result.kind == kind]
    if not chosen:
        return None
    average, pass_mark, failing = summarise(chosen, settings.default_pass_percent)
    value = shortfall(average, pass_mark, settings.grade_margin_points)
    if kind == "quiz":
        label, count = "quiz", plural(len(chosen), "quiz", "quizzes")
    else:
        label, count = "grade", plural(len(chosen), "graded item")
    reason = (
        f"{label} average {number(average)} % against a pass mark of "
        f"{number(pass_mark)} % ({count}, {failing} below the pass mark)"
    )
    return Factor(name, value, reason)


def summarise(
    results: Sequence[GradeResult], default_pass: float
) -> tuple[float, float, int]:
    """Mean percent, mean pass mark and how many results fall below their own pass
    mark; results without a pass mark use ``default_pass``."""
    total = passes = 0.0
    failing = 0
    for result in results:
        pass_mark = default_pass if result.pass_percent is None else result.pass_percent
        total += result.percent
        passes += pass_mark
        failing += result.percent < pass_mark
    return total / len(results), passes / len(results), failing


def submissions(features: StudentFeatures, settings: RiskSettings) -> Factor | None:
    """Missing and late work among the work already due; a late piece counts as
    ``late_weight`` of a missing one."""
    counts = features.submissions
    if counts is None or counts.due == 0:
        return None
    value = clip((counts.missing + settings.late_weight * counts.late) / counts.due)
    return Factor("submissions", value, _submission_reason(counts))


def _submission_reason(counts: SubmissionCounts) -> str:
    due = plural(counts.due, "assignment")
    if counts.missing == 0 and counts.late == 0:
        return f"all {due} due so far handed in on time"
    if counts.missing == 0:
        return f"{counts.late} of {due} due so far handed in late"
    reason = f"{counts.missing} of {due} due so far missing"
    return reason + (f", {counts.late} late" if counts.late else "")


def completion(features: StudentFeatures, settings: RiskSettings) -> Factor | None:
    """Completed tracked modules against how many should be complete by now: the
    site's own figure, or the tracked modules times the share of course time elapsed."""
    counts = features.completion
    if counts is None or counts.tracked == 0:
        return None
    share = elapsed_share(features, settings.default_course_length)
    if counts.expected is not None:
        expected = min(float(counts.tracked), counts.expected)
    elif share is not None:
        expected = counts.tracked * share
    else:
        return None
    value = clip((expected - counts.completed) / max(expected, 1.0))
    tracked = plural(counts.tracked, "tracked activity", "tracked activities")
    reason = (
        f"{counts.completed} of {tracked} completed;"
        f" about {number(expected)} expected by now"
    )
    if share is not None:
        reason += f" ({number(share * 100)} % of course time elapsed)"
    return Factor("completion", value, reason)


FACTORS: dict[str, FactorFunction] = {
    "inactivity": inactivity,
    "engagement": engagement,
    "grades": grades,
    "quizzes": quizzes,
    "submissions": submissions,
    "completion": completion,
}
