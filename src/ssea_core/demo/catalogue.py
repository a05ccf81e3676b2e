"""The catalogue of a generated term, as the plugin's sync calls send it (SPEC §2).

Items carry exactly the fields of ``ssea_core.ingest.models.SYNC_MODELS``. Grades and
completions come from :func:`~ssea_core.demo.plans.plan_module`, the same plans the
event stream replays, so the gradebook and the events agree.

Choices where Moodle leaves room:
- only completed modules have a completion row (Moodle keeps no row for untouched
  ones); every student has a course completion row, ``complete`` when every tracked
  module is ``complete`` or ``complete_pass``, at the moment the last one became so;
- a grade row exists once the item is graded; the course total ("Course total",
  item_type ``course``, 0 to 100, pass 50) is the mean percent of the student's graded
  items, counting quizzes and assignments not done within the term as 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ssea_core.demo.plans import STATE_NAMES, Outcome, plan_module
from ssea_core.demo.roster import Course, Module, Roster, build_roster
from ssea_core.demo.shape import TermShape

ENTITIES: tuple[str, ...] = (
    "users",
    "courses",
    "modules",
    "enrolments",
    "grades",
    "completions",
)
Item = dict[str, Any]


def instant(roster: Roster, day: int, second: int) -> str:
    """ISO-8601 UTC text of ``second`` into term day ``day``."""
    hours, rest = divmod(second, 3600)
    return (
        f"{roster.day(day).isoformat()}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
    )


def iter_catalogue(shape: TermShape) -> Iterator[tuple[str, Item]]:
    """Yield ``(entity, item)`` pairs for the whole catalogue, streaming.

    Users, courses, modules and enrolments come first; then each course's grades and
    completions. Memory stays at the size of the roster plus one course's work.
    """
    roster = build_roster(shape)
    for person in roster.people:
        yield "users", _user(roster, person.index)
    for course in roster.courses:
        yield "courses", _course(roster, course)
    for course in roster.courses:
        for module in course.modules:
            yield "modules", _module(roster, course, module)
    for enrolment in roster.enrolments:
        course = roster.courses[enrolment.course]
        yield (
            "enrolments",
            {
                "user_id": roster.people[enrolment.person].user_id,
                "course_id": course.course_id,
                "role": enrolment.role,
                "status": "active",
                "time_start": instant(roster, 0, enrolment.enrolled_at),
                "time_end": None,
            },
        )
    for course in roster.courses:
        yield from _course_work(roster, course)


def generate_catalogue(shape: TermShape) -> dict[str, list[Item]]:
    """The whole catalogue in memory: sync items by entity, in sync order.

    For the large benchmark shape prefer :func:`iter_catalogue`, which streams.
    """
    catalogue: dict[str, list[Item]] = {entity: [] for entity in ENTITIES}
    for entity, item in iter_catalogue(shape):
        catalogue[entity].append(item)
    return catalogue


def _user(roster: Roster, index: int) -> Item:
    person = roster.people[index]
    return {
        "user_id": person.user_id,
        "username": person.username,
        "full_name": person.full_name,
        "email": person.email,
        "suspended": False,
    }


def _course(roster: Roster, course: Course) -> Item:
    return {
        "course_id": course.course_id,
        "shortname": course.shortname,
        "fullname": course.fullname,
        "category": course.category,
        "start_date": roster.shape.start.isoformat(),
        "end_date": instant(roster, roster.shape.days - 1, 86_399),
        "visible": True,
    }


def _module(roster: Roster, course: Course, module: Module) -> Item:
    due = None if module.due_day is None else instant(roster, module.due_day, 86_340)
    return {
        "module_id": module.module_id,
        "course_id": course.course_id,
        "modname": module.modname,
        "name": module.name,
        "completion_enabled": module.tracked,
        "due_date": due,
        "visible": True,
    }


class _Gradebook:
    """A course's running totals per enrolment while its modules are planned."""

    def __init__(self) -> None:
        self.percents: dict[int, list[float]] = {}
        self.latest: dict[int, tuple[int, int]] = {}
        self.firsts: dict[int, list[tuple[int, int]]] = {}

    def add(self, module: Module, outcome: Outcome) -> None:
        index = outcome.learner.enrolment
        if outcome.grade is not None:
            finalgrade, day, second = outcome.grade
            self.percents.setdefault(index, []).append(
                finalgrade / module.grademax * 100
            )
            self.latest[index] = max(self.latest.get(index, (0, 0)), (day, second))
        elif outcome.missing:
            self.percents.setdefault(index, []).append(0.0)
        if outcome.first_complete is not None and module.tracked:
            self.firsts.setdefault(index, []).append(outcome.first_complete)


def _course_work(roster: Roster, course: Course) -> Iterator[tuple[str, Item]]:
    book = _Gradebook()
    for module in course.modules:
        for outcome in plan_module(roster, module):
            book.add(module, outcome)
            yield from _outcome_items(roster, course, module, outcome)
    tracked = course.tracked_count
    for learner in roster.learners(course):
        user_id = learner.user_id
        yield from _course_total(roster, course, user_id, book, learner.enrolment)
        firsts = book.firsts.get(learner.enrolment, [])
        done = tracked > 0 and len(firsts) == tracked
        yield (
            "completions",
            {
                "user_id": user_id,
                "course_id": course.course_id,
                "module_id": None,
                "state": "complete" if done else "incomplete",
                "completed_at": instant(roster, *max(firsts)) if done else None,
            },
        )


def _outcome_items(
    roster: Roster, course: Course, module: Module, outcome: Outcome
) -> Iterator[tuple[str, Item]]:
    user_id = outcome.learner.user_id
    if outcome.grade is not None and module.item_id is not None:
        finalgrade, day, second = outcome.grade
        yield (
            "grades",
            {
                "user_id": user_id,
                "course_id": course.course_id,
                "item_id": module.item_id,
                "item_name": module.name,
                "item_type": "mod",
                "finalgrade": finalgrade,
                "grademin": 0.0,
                "grademax": module.grademax,
                "gradepass": module.gradepass,
                "graded_at": instant(roster, day, second),
            },
        )
    if outcome.completion is not None:
        state, day, second = outcome.completion
        yield (
            "completions",
            {
                "user_id": user_id,
                "course_id": course.course_id,
                "module_id": module.module_id,
                "state": STATE_NAMES[state],
                "completed_at": instant(roster, day, second),
            },
        )


def _course_total(
    roster: Roster, course: Course, user_id: str, book: _Gradebook, index: int
) -> Iterator[tuple[str, Item]]:
    percents = book.percents.get(index)
    if not percents:
        return
    latest = book.latest.get(index)
    yield (
        "grades",
        {
            "user_id": user_id,
            "course_id": course.course_id,
            "item_id": course.total_item_id,
            "item_name": "Course total",
            "item_type": "course",
            "finalgrade": round(sum(percents) / len(percents), 2),
            "grademin": 0.0,
            "grademax": 100.0,
            "gradepass": 50.0,
            "graded_at": None if latest is None else instant(roster, *latest),
        },
    )
