"""What the risk factors know about one student (in one course) at one moment.

Invariants:
- A feature set is a snapshot as of ``as_of``: every figure in it counts only what
  happened before that moment. The factors never look at the clock.
- ``None`` means "unknown", zero means "known to be zero". A factor whose inputs are
  unknown has no data and drops out of the score; it never guesses.
- Peer distributions are sorted ascending and include the student. One distribution
  object is shared by every student of the course, so building them costs one sort per
  course, not per student.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

DAY = timedelta(days=1)
MEASURES = ("events", "active_days", "seconds")

ResultKind = Literal["grade", "quiz"]


@dataclass(frozen=True, slots=True)
class ActivityCounts:
    """A student's activity over a span: events, distinct active days, seconds."""

    events: int = 0
    active_days: int = 0
    seconds: int = 0


@dataclass(frozen=True, slots=True)
class PeerDistribution:
    """The course's students' activity over the same span, each measure sorted.

    The medians and the measures that vary at all are worked out once, when the
    distribution is built, since every student of the course reads them.
    """

    events: tuple[int, ...]
    active_days: tuple[int, ...]
    seconds: tuple[int, ...]
    median_events: float = field(init=False, repr=False, compare=False)
    median_active_days: float = field(init=False, repr=False, compare=False)
    #: The measures (``MEASURES`` names) on which not every student is equal.
    spread: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for measure in MEASURES:
            ordered = getattr(self, measure)
            if any(a > b for a, b in pairwise(ordered)):
                raise ValueError(f"peer {measure} must be sorted ascending")
        # object.__setattr__: the standard way to fill derived fields of a frozen
        # dataclass.
        object.__setattr__(self, "median_events", median(self.events))
        object.__setattr__(self, "median_active_days", median(self.active_days))
        varying = tuple(m for m in MEASURES if is_spread(getattr(self, m)))
        object.__setattr__(self, "spread", varying)

    @classmethod
    def of(cls, counts: Iterable[ActivityCounts]) -> PeerDistribution:
        """Build the distribution of ``counts`` (one per student, the student too)."""
        rows = list(counts)
        return cls(
            events=tuple(sorted(row.events for row in rows)),
            active_days=tuple(sorted(row.active_days for row in rows)),
            seconds=tuple(sorted(row.seconds for row in rows)),
        )

    @property
    def size(self) -> int:
        """How many students the distribution holds."""
        return len(self.events)


@dataclass(frozen=True, slots=True)
class GradeResult:
    """One graded result in percent of the item's range, with the item's pass mark.

    ``kind`` is ``"quiz"`` for quiz attempts and quiz grade items, ``"grade"`` for
    every other item except the course total (which would count the others twice).
    """

    percent: float
    pass_percent: float | None = None
    graded_at: datetime | None = None
    kind: ResultKind = "grade"


@dataclass(frozen=True, slots=True)
class SubmissionCounts:
    """Assessed work whose due date has passed: how many, how many late or missing.

    ``late`` counts work submitted after its due date; ``missing`` counts work not
    submitted at all. Work not yet due is in none of the three.
    """

    due: int
    late: int = 0
    missing: int = 0

    def __post_init__(self) -> None:
        if min(self.due, self.late, self.missing) < 0:
            raise ValueError("submission counts cannot be negative")
        if self.late + self.missing > self.due:
            raise ValueError(
                f"late ({self.late}) + missing ({self.missing}) exceed due ({self.due})"
            )

    @property
    def submitted(self) -> int:
        """Due work that was handed in, on time or late."""
        return self.due - self.missing


@dataclass(frozen=True, slots=True)
class CompletionCounts:
    """Completion-tracked modules of the course and how many the student completed.

    ``expected`` is how many should be complete by now when the site knows it (for
    example tracked modules whose due date passed); when ``None`` it is inferred from
    the share of course time elapsed.
    """

    tracked: int
    completed: int
    expected: float | None = None
    course_complete: bool = False

    @property
    def percent(self) -> float | None:
        """Completed share of the tracked modules in percent; 100 once the course
        itself is complete; ``None`` when nothing is tracked."""
        if self.course_complete:
            return 100.0
        if self.tracked == 0:
            return None
        return min(100.0, 100.0 * self.completed / self.tracked)


@dataclass(frozen=True, slots=True)
class StudentFeatures:
    """Everything the risk factors read about one student, as of ``as_of`` (UTC)."""

    user_id: str
    as_of: datetime
    course_id: str | None = None
    enrolled_at: datetime | None = None
    enrolment_active: bool = True
    course_start: datetime | None = None
    course_end: datetime | None = None
    last_seen_at: datetime | None = None
    recent: ActivityCounts | None = None
    since_enrolment: ActivityCounts | None = None
    peers_recent: PeerDistribution | None = None
    peers_since_enrolment: PeerDistribution | None = None
    results: tuple[GradeResult, ...] = field(default=())
    submissions: SubmissionCounts | None = None
    completion: CompletionCounts | None = None


def whole_days(start: datetime, end: datetime) -> int:
    """Whole days from ``start`` to ``end``; zero when ``end`` is not later."""
    return max(0, (end - start) // DAY)


def inactivity_clock(features: StudentFeatures) -> datetime | None:
    """Where the inactivity count starts: the last visit, or enrolment or the course
    start when either is later (a visit before them says nothing about the course).

    ``None`` when the course has not started, when none of the three is known, or
    when activity is not tracked at all: a student with no ``last_seen_at`` counts as
    never seen only if ``since_enrolment`` is given (zero counts say "known to have
    done nothing"; ``None`` says "we do not know")."""
    start = features.course_start
    if start is not None and features.as_of < start:
        return None
    if features.last_seen_at is None and features.since_enrolment is None:
        return None
    known = [
        mark
        for mark in (features.last_seen_at, features.enrolled_at, start)
        if mark is not None
    ]
    return max(known) if known else None


def days_inactive(features: StudentFeatures) -> int | None:
    """Whole days without course activity as of ``as_of`` (see ``inactivity_clock``)."""
    clock_from = inactivity_clock(features)
    return None if clock_from is None else whole_days(clock_from, features.as_of)


def percentile_rank(value: float, ordered: tuple[int, ...]) -> float:
    """Percent of ``ordered`` below ``value``, ties counted half (0..100)."""
    below = bisect_left(ordered, value)
    ties = bisect_right(ordered, value, lo=below) - below
    return 100.0 * (below + ties / 2) / len(ordered)


def median(ordered: tuple[int, ...]) -> float:
    """The median of a sorted tuple; 0 when it is empty."""
    if not ordered:
        return 0.0
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def is_spread(ordered: tuple[int, ...]) -> bool:
    """Whether a sorted measure varies at all; a flat one says nothing about anyone."""
    return bool(ordered) and ordered[0] != ordered[-1]


def course_span(
    features: StudentFeatures, default_length: timedelta
) -> tuple[datetime, datetime] | None:
    """The course's start and end; the student's enrolment stands in for a missing
    start and ``default_length`` for a missing end. ``None`` when neither start is
    known."""
    start = features.course_start or features.enrolled_at
    if start is None:
        return None
    end = features.course_end
    if end is None or end <= start:
        end = start + default_length
    return start, end


def elapsed_share(features: StudentFeatures, default_length: timedelta) -> float | None:
    """Share of course time elapsed at ``as_of``, clipped to 0..1."""
    span = course_span(features, default_length)
    if span is None:
        return None
    start, end = span
    share = (features.as_of - start) / (end - start)
    return min(1.0, max(0.0, share))
