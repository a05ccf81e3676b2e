"""The event stream of a generated term, day by day, as the plugin would send it.

Invariants:
- Deterministic: each day draws from its own generator (seed, day), each module's work
  from its own (seed, module); the same shape yields the same events.
- Streaming: one day is held at a time (plus the planned work of modules that are
  open), never the term. Within a day events come in time order.
- Every event carries a ``moodle_log_id`` that increases through the term, so each is
  its own event and re-sending the stream stores nothing new.
- A student never views a completion-tracked resource before the planned view that
  completes it, so completions in the catalogue are each student's first.
- Enrolments arrive from the nightly enrolment sync with origin ``cli`` (not the
  student's own activity); everything else is ``web``.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator
from functools import cache
from operator import itemgetter
from random import Random
from typing import Any

from ssea_core.demo.plans import Action, Row, forum_post, plan_module
from ssea_core.demo.roster import Course, Module, Roster, build_roster
from ssea_core.demo.shape import (
    ARCHETYPES,
    EXTRA_VIEWS_MEAN,
    FORUM_REPLY_CHANCE,
    HOUR_WEIGHTS,
    LOGIN_CHANCE,
    LOGOUT_CHANCE,
    SECOND_COURSE_CHANCE,
    TEACHER_DAY_PROBABILITY,
    WEEKDAY_FACTORS,
    TermShape,
    drift_half_life,
    fade,
    make_rng,
)

DAY_END = 86_399
#: Sessions of one person are kept this far apart, so that each is a session (SPEC §5).
SESSION_SPACING = 2_100
VIEW_TYPES = {"resource": "resource_viewed", "url": "resource_viewed"}
_HOUR_CDF = list(itertools.accumulate(HOUR_WEIGHTS))

_by_second = itemgetter(0)


@cache
def _clock_texts() -> tuple[str, ...]:
    """``HH:MM:SSZ`` for every second of a day; formatting is the hot path."""
    return tuple(
        f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
        for second in range(86_400)
    )


def generate_events(shape: TermShape) -> Iterator[dict[str, Any]]:
    """Yield the term's events, day by day, each a dict that ``EventIn`` accepts.

    Nothing is generated until the iterator is consumed.
    """
    yield from _EventStream(build_roster(shape)).events()


class _Browsable:
    """What a course offers to someone browsing it on a given day."""

    def __init__(self, course: Course) -> None:
        views = [m for m in course.modules if m.modname in ("resource", "page", "url")]
        forums = [m for m in course.modules if m.modname == "forum"]
        self.course_id = course.course_id
        self.views = views
        self.view_days = [m.open_day for m in views]
        self.view_types = [VIEW_TYPES.get(m.modname, "page_viewed") for m in views]
        self.forums = forums
        self.forum_days = [m.open_day for m in forums]


class _EventStream:
    """Holds the per-term state while days are generated."""

    def __init__(self, roster: Roster) -> None:
        shape = roster.shape
        self.roster = roster
        self.shape = shape
        self.half_life = drift_half_life(shape.days)
        self.browsable = [_Browsable(course) for course in roster.courses]
        self.positions = {
            module.module_id: module.position
            for course in roster.courses
            for module in course.modules
        }
        self.opening: dict[int, list[Module]] = {}
        for course in roster.courses:
            for module in course.modules:
                self.opening.setdefault(module.open_day, []).append(module)
        self.pending: dict[int, list[Action]] = {}
        self.log_id = 0
        # Per enrolment: modules done (a bit per position), first completions so far,
        # and how many complete the course (-1 for staff, who never complete).
        self.done = [0] * len(roster.enrolments)
        self.completed = [0] * len(roster.enrolments)
        tracked = [course.tracked_count for course in roster.courses]
        self.needed = [
            tracked[e.course] if e.role == "student" else -1 for e in roster.enrolments
        ]
        self.visits = _visits(roster)
        self.chances = [self._chances(weekday) for weekday in range(7)]
        self.extra = [ARCHETYPES[s.archetype].extra_session for s in roster.students]

    def _chances(self, weekday: int) -> list[float]:
        factor = WEEKDAY_FACTORS[weekday] * self.shape.activity
        return [
            min(0.97, ARCHETYPES[s.archetype].day_probability * factor)
            for s in self.roster.students
        ]

    def events(self) -> Iterator[dict[str, Any]]:
        for day in range(self.shape.days):
            yield from self._day(day)

    def _day(self, day: int) -> Iterator[dict[str, Any]]:
        rng = make_rng(self.shape.seed, "day", day)
        rows: list[Row] = []
        if day == 0:
            self._setup(rng, rows)
        for module in self.opening.get(day, ()):
            for outcome in plan_module(self.roster, module):
                for action in outcome.actions:
                    self.pending.setdefault(action[0], []).append(action)
        planned = self.pending.pop(day, [])
        busy = self._planned_sessions(rng, planned, rows)
        self._students_browse(rng, day, busy, rows)
        self._teachers_browse(rng, day, busy, rows)
        # Only now: what is completed today may be browsed from tomorrow.
        for _, _, row in planned:
            if row[6] >= 0 and row[3] is not None:
                self.done[row[6]] |= 1 << self.positions[row[3]]
        rows.sort(key=_by_second)
        return self._emit(day, rows)

    def _setup(self, rng: Random, rows: list[Row]) -> None:
        """Day 0: the enrolment sync, then teachers set up their grade items."""
        roster = self.roster
        for enrolment in roster.enrolments:
            user_id = roster.people[enrolment.person].user_id
            course_id = roster.courses[enrolment.course].course_id
            at = enrolment.enrolled_at
            rows.append(
                (at, user_id, course_id, None, "user_enrolled", None, -1, "cli")
            )
        for course in roster.courses:
            self.pending.setdefault(0, []).extend(_grade_items(rng, roster, course))

    def _planned_sessions(
        self, rng: Random, planned: list[Action], rows: list[Row]
    ) -> dict[int, list[tuple[int, int]]]:
        """Wrap each person's planned work of the day in sessions; return the spans."""
        by_actor: dict[int, list[Row]] = {}
        for _, actor, row in planned:
            by_actor.setdefault(actor, []).append(row)
        busy: dict[int, list[tuple[int, int]]] = {}
        for actor, work in by_actor.items():
            work.sort(key=_by_second)
            user_id = self.roster.people[actor].user_id
            busy[actor] = [
                self._work_session(rng, user_id, group, rows) for group in _groups(work)
            ]
        return busy

    def _work_session(
        self, rng: Random, user_id: str, group: list[Row], rows: list[Row]
    ) -> tuple[int, int]:
        """Wrap planned work in a session; return the span kept free around it.

        A login and the course page come before the work; a last look at the course
        and a logout may follow it.
        """
        rand = rng.random
        start = group[0][0]
        course_id = group[0][2]
        if rand() < 0.85:
            login = start - 60 - int(rand() * 240)
            rows.append((login, user_id, None, None, "user_login", None, -1, "web"))
        viewed = start - 10 - int(rand() * 40)
        rows.append(
            (viewed, user_id, course_id, None, "course_viewed", None, -1, "web")
        )
        rows.extend(group)
        end = group[-1][0]
        if rand() < 0.5 and end + 220 <= DAY_END:
            end += 20 + int(rand() * 200)
            rows.append(
                (end, user_id, course_id, None, "course_viewed", None, -1, "web")
            )
        if rand() < LOGOUT_CHANCE and end + 65 <= DAY_END:
            end += 5 + int(rand() * 60)
            rows.append((end, user_id, None, None, "user_logout", None, -1, "web"))
        return start - 300 - SESSION_SPACING, end + SESSION_SPACING

    def _students_browse(
        self,
        rng: Random,
        day: int,
        busy: dict[int, list[tuple[int, int]]],
        rows: list[Row],
    ) -> None:
        rand = rng.random
        chances = self.chances[self.roster.day(day).weekday()]
        extra = self.extra
        for index, student in enumerate(self.roster.students):
            chance = chances[index]
            if student.fade_day is not None and day >= student.fade_day:
                chance *= fade(day, student.fade_day, self.half_life)
            if rand() >= chance:
                continue
            more = extra[index]
            count = 1 + (rand() < more) + (rand() < more * more)
            person = student.person
            self._browse(rng, day, person, count, busy.get(person), rows)

    def _teachers_browse(
        self,
        rng: Random,
        day: int,
        busy: dict[int, list[tuple[int, int]]],
        rows: list[Row],
    ) -> None:
        rand = rng.random
        chance = TEACHER_DAY_PROBABILITY[self.roster.day(day).weekday()]
        for person in self.roster.teachers:
            if self.visits[person] and rand() < chance:
                self._browse(rng, day, person, 1, busy.get(person), rows, staff=True)

    def _browse(
        self,
        rng: Random,
        day: int,
        person: int,
        count: int,
        spans: list[tuple[int, int]] | None,
        rows: list[Row],
        *,
        staff: bool = False,
    ) -> None:
        """``count`` browsing sessions, apart from each other and from planned work."""
        rand = rng.random
        total = _HOUR_CDF[-1]
        starts = sorted(
            bisect.bisect(_HOUR_CDF, rand() * total) * 3600 + int(rand() * 3600)
            for _ in range(count)
        )
        previous_end = -SESSION_SPACING
        for start in starts:
            # Day 0 begins with the enrolment sync; nobody browses before it is done.
            start = max(
                start, previous_end + SESSION_SPACING, 5 * 3600 if day == 0 else 0
            )
            if start > DAY_END - 60:
                break
            if spans and any(low - 1500 < start < high for low, high in spans):
                continue
            previous_end = self._session(rng, day, person, start, rows, staff)

    def _session(
        self,
        rng: Random,
        day: int,
        person: int,
        second: int,
        rows: list[Row],
        staff: bool,
    ) -> int:
        """One browsing session from ``second``; returns when it ended.

        Written as one loop on purpose: it makes most of the term's events.
        """
        rand = rng.random
        append = rows.append
        user_id = self.roster.people[person].user_id
        visits = self.visits[person]
        if rand() < LOGIN_CHANCE:
            append((second, user_id, None, None, "user_login", None, -1, "web"))
            second += 3 + int(rand() * 30)
        for _ in range(1 + (rand() < SECOND_COURSE_CHANCE)):
            course, enrolment = visits[int(rand() * len(visits))]
            place = self.browsable[course]
            course_id = place.course_id
            append((second, user_id, course_id, None, "course_viewed", None, -1, "web"))
            opened = bisect.bisect_right(place.view_days, day)
            done = -1 if staff else self.done[enrolment]
            views = 1 + int(-math.log(1.0 - rand()) * EXTRA_VIEWS_MEAN)
            for _ in range(views):
                second += 15 + int(rand() * rand() * 600)
                if second > DAY_END:
                    return DAY_END
                if opened:
                    at = opened - 1 - int(rand() * rand() * opened)
                    module = place.views[at]
                    if not module.tracked or done >> module.position & 1:
                        append((second, user_id, course_id, module.module_id,
                                place.view_types[at], None, -1, "web"))  # fmt: skip
                        continue
                append(
                    (second, user_id, course_id, None, "course_viewed", None, -1, "web")
                )
            second += 15 + int(rand() * rand() * 600)
            if second > DAY_END:
                return DAY_END
            if rand() < FORUM_REPLY_CHANCE:
                self._reply(rng, day, place, (second, user_id, done), rows)
        if rand() < LOGOUT_CHANCE and second + 10 <= DAY_END:
            second += 10
            append((second, user_id, None, None, "user_logout", None, -1, "web"))
        return second

    def _reply(
        self,
        rng: Random,
        day: int,
        place: _Browsable,
        who: tuple[int, str, int],
        rows: list[Row],
    ) -> None:
        """A reply in an open forum the person may post in (staff, or already did)."""
        second, user_id, done = who
        opened = bisect.bisect_right(place.forum_days, day)
        if not opened:
            return
        forum = place.forums[int(rng.random() * opened)]
        if forum.tracked and not done >> forum.position & 1:
            return
        metadata = forum_post(rng, forum, 0.7, is_reply=True)
        rows.append((second, user_id, place.course_id, forum.module_id,
                     "forum_post_created", metadata, -1, "web"))  # fmt: skip

    def _emit(self, day: int, rows: list[Row]) -> Iterator[dict[str, Any]]:
        """Rows to event dicts with log ids; a course completes with its last module."""
        prefix = self.roster.day(day).isoformat() + "T"
        clock = _clock_texts()
        completed, needed = self.completed, self.needed
        log_id = self.log_id
        for (
            second,
            user_id,
            course_id,
            module_id,
            event_type,
            metadata,
            first,
            origin,
        ) in rows:
            log_id += 1
            timestamp = prefix + clock[second]
            yield {
                "event_type": event_type,
                "user_id": user_id,
                "course_id": course_id,
                "module_id": module_id,
                "timestamp": timestamp,
                "metadata": {} if metadata is None else metadata,
                "moodle_log_id": str(log_id),
                "origin": origin,
            }
            if first >= 0:
                completed[first] += 1
                if completed[first] == needed[first]:
                    log_id += 1
                    yield {
                        "event_type": "course_completed",
                        "user_id": user_id,
                        "course_id": course_id,
                        "module_id": None,
                        "timestamp": timestamp,
                        "metadata": {},
                        "moodle_log_id": str(log_id),
                        "origin": origin,
                    }
        self.log_id = log_id


def _groups(work: list[Row]) -> list[list[Row]]:
    """Split one person's sorted work into sessions after 30 quiet minutes."""
    groups: list[list[Row]] = []
    end = -SESSION_SPACING
    for row in work:
        if row[0] - end > 1800:
            groups.append([])
        groups[-1].append(row)
        end = row[0]
    return groups


def _visits(roster: Roster) -> list[tuple[tuple[int, int], ...]]:
    """Per person, the (course, enrolment) pairs they can browse."""
    visits: list[list[tuple[int, int]]] = [[] for _ in roster.people]
    for enrolment in roster.enrolments:
        visits[enrolment.person].append((enrolment.course, enrolment.index))
    return [tuple(pairs) for pairs in visits]


def _grade_items(rng: Random, roster: Roster, course: Course) -> list[Action]:
    """The editing teacher sets up the course's grade items on the first morning."""
    teacher = course.editing_teacher
    user_id = roster.people[teacher].user_id
    second = 8 * 3600 + int(rng.random() * 3 * 3600)
    actions = []
    for module in course.modules:
        if module.item_id is None:
            continue
        second += 20 + int(rng.random() * 100)
        metadata = {
            "item_name": module.name,
            "item_type": "mod",
            "item_module": module.modname,
            "grademax": module.grademax,
            "gradepass": module.gradepass,
        }
        row: Row = (second, user_id, course.course_id, module.module_id,
                    "grade_item_updated", metadata, -1, "web")  # fmt: skip
        actions.append((0, teacher, row))
    total = {
        "item_name": "Course total",
        "item_type": "course",
        "item_module": None,
        "grademax": 100.0,
        "gradepass": 50.0,
    }
    row = (second + 30, user_id, course.course_id, None, "grade_item_updated", total,
           -1, "web")  # fmt: skip
    actions.append((0, teacher, row))
    return actions
