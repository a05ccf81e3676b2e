"""Turn what the store read about a tenant into one ``StudentFeatures`` per enrolment.

The store answers with plain rows (:class:`RiskInputs`), already limited to what
happened before ``as_of``; this module only assembles them, so it is pure and the
tests call it with hand-made rows.

Invariants:
- One feature set per active student enrolment, in the order the enrolments came.
- Activity is known for every student or for none (``activity_tracked``): when the
  tenant sends events, a student without any course activity has zero counts and is
  "never seen"; when it sends none, activity is unknown and its factors drop out.
- Peers are every student of the course, the student included; each course's two
  distributions are built once and shared.
- Due work counts only from the student's enrolment on, and a piece of work nobody
  in the course handed in is left out (it was not submitted through Moodle), as the
  evaluation in ``docs/risk.md`` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from ssea_core.risk.features import (
    ActivityCounts,
    CompletionCounts,
    GradeResult,
    PeerDistribution,
    StudentFeatures,
    SubmissionCounts,
)

#: (user_id, course_id)
Pair = tuple[str, str]
ZERO = ActivityCounts()


@dataclass(frozen=True, slots=True)
class Enrolled:
    """An active student enrolment as of the moment computed for."""

    user_id: str
    course_id: str
    enrolled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CourseDates:
    """A course's start and end dates, when the catalogue has them."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class CourseActivity:
    """A student's activity in one course, from the daily rollups before ``as_of``."""

    recent: ActivityCounts = ZERO
    since_enrolment: ActivityCounts = ZERO
    #: The last UTC day with an event in the course (rollups are per day).
    last_active_day: date | None = None


@dataclass(frozen=True, slots=True)
class DueWork:
    """An assignment of a course whose due date is before ``as_of``."""

    module_id: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """Everything the store read for one tenant as of ``as_of``, before assembly."""

    as_of: datetime
    students: list[Enrolled]
    courses: Mapping[str, CourseDates] = field(default_factory=dict)
    #: False when the tenant has no activity at all before ``as_of``.
    activity_tracked: bool = True
    activity: Mapping[Pair, CourseActivity] = field(default_factory=dict)
    results: Mapping[Pair, list[GradeResult]] = field(default_factory=dict)
    due: Mapping[str, list[DueWork]] = field(default_factory=dict)
    #: The first submission of each (user_id, module_id) before ``as_of``.
    submitted: Mapping[Pair, datetime] = field(default_factory=dict)
    #: Completion-tracked modules per course.
    tracked: Mapping[str, int] = field(default_factory=dict)
    #: Tracked modules each student completed before ``as_of``.
    completed: Mapping[Pair, int] = field(default_factory=dict)
    #: Enrolments whose whole course was completed before ``as_of``.
    course_complete: frozenset[Pair] = frozenset()


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time(), tzinfo=UTC)


def build_features(inputs: RiskInputs) -> list[StudentFeatures]:
    """One feature set per enrolment of ``inputs.students``, in their order."""
    peers = _peers(inputs)
    handed_in = _modules_handed_in(inputs)
    return [
        _features(inputs, student, peers.get(student.course_id), handed_in)
        for student in inputs.students
    ]


def _activity(inputs: RiskInputs, pair: Pair) -> CourseActivity | None:
    if not inputs.activity_tracked:
        return None
    return inputs.activity.get(pair, CourseActivity())


def _peers(
    inputs: RiskInputs,
) -> dict[str, tuple[PeerDistribution, PeerDistribution]]:
    if not inputs.activity_tracked:
        return {}
    by_course: dict[str, list[CourseActivity]] = defaultdict(list)
    for student in inputs.students:
        pair = (student.user_id, student.course_id)
        by_course[student.course_id].append(inputs.activity.get(pair, CourseActivity()))
    return {
        course: (
            PeerDistribution.of(row.recent for row in rows),
            PeerDistribution.of(row.since_enrolment for row in rows),
        )
        for course, rows in by_course.items()
    }


def _modules_handed_in(inputs: RiskInputs) -> frozenset[str]:
    return frozenset(module for _, module in inputs.submitted)


def _features(
    inputs: RiskInputs,
    student: Enrolled,
    peers: tuple[PeerDistribution, PeerDistribution] | None,
    handed_in: frozenset[str],
) -> StudentFeatures:
    pair = (student.user_id, student.course_id)
    dates = inputs.courses.get(student.course_id, CourseDates())
    activity = _activity(inputs, pair)
    last_day = activity.last_active_day if activity is not None else None
    return StudentFeatures(
        user_id=student.user_id,
        as_of=inputs.as_of,
        course_id=student.course_id,
        enrolled_at=student.enrolled_at,
        course_start=dates.start,
        course_end=dates.end,
        last_seen_at=day_start(last_day) if last_day is not None else None,
        recent=activity.recent if activity is not None else None,
        since_enrolment=activity.since_enrolment if activity is not None else None,
        peers_recent=peers[0] if peers is not None else None,
        peers_since_enrolment=peers[1] if peers is not None else None,
        results=tuple(_ordered(inputs.results.get(pair, ()))),
        submissions=_submissions(inputs, student, handed_in),
        completion=_completion(inputs, pair),
    )


def _ordered(results: Iterable[GradeResult]) -> list[GradeResult]:
    # Undated results last; the order only makes the feature set reproducible.
    latest = datetime.max.replace(tzinfo=UTC)
    return sorted(results, key=lambda item: (item.graded_at or latest, item.percent))


def _submissions(
    inputs: RiskInputs, student: Enrolled, handed_in: frozenset[str]
) -> SubmissionCounts | None:
    work = inputs.due.get(student.course_id)
    if not work:
        return None
    due = late = missing = 0
    for item in work:
        enrolled = student.enrolled_at
        if item.module_id not in handed_in or (enrolled and item.due_at <= enrolled):
            continue
        due += 1
        submitted = inputs.submitted.get((student.user_id, item.module_id))
        if submitted is None:
            missing += 1
        elif submitted > item.due_at:
            late += 1
    return SubmissionCounts(due=due, late=late, missing=missing)


def _completion(inputs: RiskInputs, pair: Pair) -> CompletionCounts | None:
    tracked = inputs.tracked.get(pair[1], 0)
    complete = pair in inputs.course_complete
    if tracked == 0 and not complete:
        return None
    completed = min(tracked, inputs.completed.get(pair, 0))
    return CompletionCounts(tracked, completed, course_complete=complete)
