"""The size and rhythm of a generated Moodle term.

A :class:`TermShape` says how big the term is (people, courses, weeks) and which seed
makes it; everything generated from the same shape is identical. The behaviour
constants below (archetypes, weekday and hour rhythms) are shared by the generator and
by :attr:`TermShape.estimated_events`, so the estimate follows the model.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

#: A Monday: terms start on one by default so weeks line up with calendar weeks.
DEFAULT_START = date(2026, 1, 5)


@dataclass(frozen=True, slots=True)
class Archetype:
    """How one kind of student behaves over a term."""

    name: str
    share: float
    #: Chance of browsing on a weekday at full engagement, before ``activity``.
    day_probability: float
    #: Chance of a second session on an active day (a third has its square).
    extra_session: float
    ability: float
    view_probability: float
    view_delay_days: float
    post_probability: float
    quiz_probability: float
    submit_probability: float
    late_probability: float
    #: Mean days between starting work on a quiz or assignment and its due date.
    lead_days: float


# name, share, day probability, extra session, ability, view probability, view delay,
# post probability, quiz probability, submit probability, late probability, lead days
ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("engaged", 0.25, 0.62, 0.45, 0.82, 0.97, 1.0, 0.8, 0.97, 0.98, 0.03, 1.6),
    Archetype("average", 0.45, 0.42, 0.30, 0.68, 0.85, 2.5, 0.5, 0.90, 0.92, 0.10, 0.8),
    Archetype(
        "struggling", 0.17, 0.25, 0.2, 0.50, 0.6, 4.0, 0.25, 0.72, 0.75, 0.3, 0.3
    ),
    Archetype(
        "drifting", 0.13, 0.45, 0.30, 0.60, 0.85, 2.5, 0.45, 0.88, 0.9, 0.15, 0.6
    ),
)
ARCHETYPE_NAMES: tuple[str, ...] = tuple(a.name for a in ARCHETYPES)
DRIFTING = "drifting"

#: Activity by weekday, Monday first: a quiet Saturday, Sunday catching up.
WEEKDAY_FACTORS: tuple[float, ...] = (1.0, 1.0, 0.97, 0.92, 0.78, 0.42, 0.58)

#: Relative session starts by UTC hour: afternoon and evening peaks, quiet nights.
HOUR_WEIGHTS: tuple[float, ...] = (
    0.5, 0.25, 0.1, 0.05, 0.05, 0.1, 0.3, 0.8, 1.5, 2.2, 2.6, 2.6,
    2.3, 2.6, 3.2, 3.5, 3.6, 3.2, 3.0, 3.4, 3.8, 3.6, 2.6, 1.4,
)  # fmt: skip

#: The browsing session recipe (``events.py``): a login, one or two courses, each a
#: course page then views (1 + a geometric number), now and then a forum reply, and
#: sometimes a logout.
LOGIN_CHANCE = 0.8
SECOND_COURSE_CHANCE = 0.3
EXTRA_VIEWS_MEAN = 2.0
FORUM_REPLY_CHANCE = 0.06
LOGOUT_CHANCE = 0.3
_EXTRA_VIEWS = math.exp(-1 / EXTRA_VIEWS_MEAN) / (1 - math.exp(-1 / EXTRA_VIEWS_MEAN))
#: Mean events of one browsing session, from the recipe above.
EVENTS_PER_SESSION = (
    LOGIN_CHANCE
    + (1 + SECOND_COURSE_CHANCE) * (2 + _EXTRA_VIEWS + FORUM_REPLY_CHANCE)
    + LOGOUT_CHANCE
)
#: A teacher's chance of browsing their courses, by weekday.
TEACHER_DAY_PROBABILITY = (0.6, 0.6, 0.6, 0.6, 0.5, 0.12, 0.18)
#: Share of resources, pages, links and forums with completion tracking.
TRACKED_SHARE = {"resource": 0.75, "page": 0.75, "url": 0.75, "forum": 0.7}

# Estimates only (the generator does not read these): a work session's wrapping (a
# login 85 %, the course page, a last look 50 %, a logout 30 %, less what pieces of
# work on the same day share), a quiz's events (about 1.3 attempts of three events
# each, plus completions), and a drifting student's engagement over a whole term.
WRAP = 2.4
QUIZ_EVENTS = 5.0
DRIFTING_ENGAGEMENT = 0.6
#: Module kinds, in the order a course's sections cycle through them.
MODULE_CYCLE: tuple[str, ...] = (
    "resource", "quiz", "page", "forum", "assign",
    "url", "resource", "quiz", "page", "assign",
)  # fmt: skip


def drift_half_life(days: int) -> float:
    """Days over which a drifting student's activity halves once it starts fading."""
    return max(1.5, days * 0.035)


def fade(day: int, fade_day: int | None, half_life: float) -> float:
    """Engagement left on ``day`` for a student fading from ``fade_day`` (1 = all)."""
    if fade_day is None or day < fade_day:
        return 1.0
    left: float = 0.5 ** ((day - fade_day) / half_life)
    return max(0.03, left)


def make_rng(seed: int, *parts: object) -> random.Random:
    """A generator for one named part of the term, independent of every other part.

    Seeding from text keeps each part reproducible on its own: a day or a module gives
    the same draws whatever was generated before it.
    """
    label = "/".join(str(part) for part in (seed, *parts))
    return random.Random(label)  # noqa: S311 - simulated data, not secrets


@dataclass(frozen=True, slots=True)
class TermShape:
    """The size of a generated term: people, courses, weeks, seed.

    The term runs ``weeks`` full weeks from ``start`` (a date; events are UTC). To end
    the term near today, as ``ssea demo`` does, use :meth:`ending_on`. ``activity``
    scales how often students browse (1.0 is a busy campus term).
    """

    students: int = 300
    teachers: int = 12
    courses: int = 12
    weeks: int = 14
    start: date = DEFAULT_START
    seed: int = 7
    modules_per_course: int = 10
    activity: float = 1.0
    min_courses_per_student: int = 2
    max_courses_per_student: int = 5

    def __post_init__(self) -> None:
        counts = {
            "students": self.students,
            "teachers": self.teachers,
            "courses": self.courses,
            "weeks": self.weeks,
            "modules_per_course": self.modules_per_course,
            "min_courses_per_student": self.min_courses_per_student,
        }
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"TermShape.{name} must be at least 1, got {value}")
        if self.max_courses_per_student < self.min_courses_per_student:
            raise ValueError(
                "TermShape.max_courses_per_student must be at least "
                f"min_courses_per_student ({self.min_courses_per_student}), got "
                f"{self.max_courses_per_student}"
            )
        if not 0 < self.activity <= 1.5:
            raise ValueError(
                f"TermShape.activity must be in (0, 1.5], got {self.activity}"
            )

    @classmethod
    def large(cls, **changes: Any) -> TermShape:
        """The benchmark tenant: 20,000 users, 500 courses, a year, about 10M events."""
        fields: dict[str, Any] = {
            "students": 19_400,
            "teachers": 600,
            "courses": 500,
            "weeks": 52,
            "modules_per_course": 20,
            "activity": 0.22,
        }
        return cls(**(fields | changes))

    @classmethod
    def ending_on(cls, last_day: date, **changes: Any) -> TermShape:
        """A shape whose term ends on ``last_day`` (e.g. yesterday for ``ssea demo``).

        Events are refused more than a day in the future, so the last day should not
        be later than today.
        """
        shape = cls(**changes)
        return replace(shape, start=last_day - timedelta(days=shape.days - 1))

    @property
    def days(self) -> int:
        """Days in the term."""
        return self.weeks * 7

    @property
    def end(self) -> date:
        """The last day of the term."""
        return self.start + timedelta(days=self.days - 1)

    @property
    def estimated_events(self) -> int:
        """About how many events :func:`generate_events` yields for this shape."""
        return round(
            _estimate_browsing(self)
            + _estimate_planned(self)
            + _estimate_teachers(self)
            + _estimate_setup(self)
        )


def mean_courses_per_student(shape: TermShape) -> float:
    """Expected enrolments per student, after capping at the number of courses."""
    low, high = shape.min_courses_per_student, shape.max_courses_per_student
    return sum(min(k, shape.courses) for k in range(low, high + 1)) / (high - low + 1)


def _weekdays(shape: TermShape) -> list[int]:
    return [(shape.start + timedelta(days=day)).weekday() for day in range(shape.days)]


def _mean_fade(shape: TermShape, day: int) -> float:
    """A drifting student's engagement on ``day``, averaged over fade starts."""
    half_life = drift_half_life(shape.days)
    first, last = drift_window(shape.days)
    starts = range(first, last + 1)
    return sum(fade(day, start, half_life) for start in starts) / len(starts)


def drift_window(days: int) -> tuple[int, int]:
    """First and last day on which a drifting student may start to fade.

    On a 14-week term that is weeks 4 to 8; other lengths scale.
    """
    return round(days * 0.28), max(round(days * 0.28), round(days * 0.57))


def _estimate_browsing(shape: TermShape) -> float:
    weekdays = _weekdays(shape)
    total = 0.0
    for archetype in ARCHETYPES:
        sessions = 1 + archetype.extra_session + archetype.extra_session**2
        for day, weekday in enumerate(weekdays):
            chance = archetype.day_probability * WEEKDAY_FACTORS[weekday]
            chance = min(0.97, chance * shape.activity)
            if archetype.name == DRIFTING:
                chance *= _mean_fade(shape, day)
            total += archetype.share * shape.students * chance * sessions
    return total * EVENTS_PER_SESSION


def _estimate_planned(shape: TermShape) -> float:
    """Work on modules: the work's own events plus the session wrapped around it."""
    share = {
        kind: MODULE_CYCLE.count(kind) / len(MODULE_CYCLE) for kind in MODULE_CYCLE
    }
    viewed = share["resource"] + share["page"] + share["url"]
    per_module = 0.0
    for archetype in ARCHETYPES:
        engagement = DRIFTING_ENGAGEMENT if archetype.name == DRIFTING else 1.0
        views = TRACKED_SHARE["resource"] * archetype.view_probability * (2 + WRAP)
        posts = archetype.post_probability * (1 + TRACKED_SHARE["forum"] + WRAP)
        quizzes = archetype.quiz_probability * (QUIZ_EVENTS + WRAP)
        submissions = archetype.submit_probability * (3 + WRAP)
        work = (
            viewed * views
            + share["forum"] * posts
            + share["quiz"] * quizzes
            + share["assign"] * submissions
        )
        per_module += archetype.share * engagement * work
    return (
        per_module
        * shape.students
        * mean_courses_per_student(shape)
        * (shape.modules_per_course)
    )


def _estimate_teachers(shape: TermShape) -> float:
    """Teachers browse their courses and wrap a session around each grading."""
    teaching = min(shape.teachers, shape.courses)
    chance = sum(TEACHER_DAY_PROBABILITY[weekday] for weekday in _weekdays(shape))
    assignments = MODULE_CYCLE.count("assign") / len(MODULE_CYCLE)
    gradings = shape.courses * shape.modules_per_course * assignments
    return teaching * chance * EVENTS_PER_SESSION + gradings * WRAP


def _estimate_setup(shape: TermShape) -> float:
    """Enrolments, and each course's grade items set up in one session."""
    enrolments = shape.students * mean_courses_per_student(shape) + shape.courses * 1.3
    graded = sum(1 for kind in MODULE_CYCLE if kind in ("quiz", "assign"))
    items = shape.modules_per_course * graded / len(MODULE_CYCLE) + 1
    return enrolments + shape.courses * (items + WRAP)
