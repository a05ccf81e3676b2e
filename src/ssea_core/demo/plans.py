"""Work on modules: who views, posts, attempts and submits what, when, and the grade.

This is the one source of truth for graded and completed work. The catalogue reads an
outcome's grade and completion; the event stream replays its actions. Both call
:func:`plan_module`, which depends only on the roster and the module, so a grade in the
catalogue always has its ``grade_updated`` event at ``graded_at``, and a completion its
``module_completed`` event at ``completed_at``.

Invariants:
- Every action falls inside the term and inside its day (no work crosses midnight).
- A module is completed once (the ``first`` action); a quiz may later change from
  ``complete_fail`` to ``complete_pass``, which is a new event, not a new completion.
- Quizzes are graded as they are submitted (the highest attempt counts); assignments
  are graded by the course's editing teacher a few days after the due date, or a day
  or two after a late submission; what would be graded after the term stays ungraded.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

from ssea_core.demo.roster import Course, Learner, Module, Roster
from ssea_core.demo.shape import HOUR_WEIGHTS, drift_half_life, fade, make_rng

DAY_SECONDS = 86_400
#: Assignments and quizzes are due at 23:59 UTC of their due day.
DUE_SECOND = DAY_SECONDS - 60
#: Planned work starts at 09:00 at the earliest, leaving room for a login before it.
FIRST_WORK_HOUR = 9
_WORK_CDF = list(itertools.accumulate(HOUR_WEIGHTS[FIRST_WORK_HOUR:]))
#: On a due day, work drifts towards the evening before the deadline.
_DUE_DAY_CDF = list(
    itertools.accumulate(
        weight * (2.5 if hour >= 18 else 1.0)
        for hour, weight in enumerate(HOUR_WEIGHTS[FIRST_WORK_HOUR:], FIRST_WORK_HOUR)
    )
)
VIEW_EVENTS = {"resource": "resource_viewed", "url": "resource_viewed"}

# Moodle's completion states (course_modules_completion.completionstate).
COMPLETE, COMPLETE_PASS, COMPLETE_FAIL = 1, 2, 3
STATE_NAMES = {
    COMPLETE: "complete",
    COMPLETE_PASS: "complete_pass",
    COMPLETE_FAIL: "complete_fail",
}


#: An event as the stream holds it: second of its day, user_id, course_id, module_id,
#: event_type, metadata, ``first`` (the enrolment whose module it completes for the
#: first time, else -1) and origin. Plain tuples: millions are made per term.
Row = tuple[int, str, str | None, str | None, str, dict[str, Any] | None, int, str]
#: A planned event: the term day, the person doing it (whose session it is), its row.
Action = tuple[int, int, Row]


@dataclass(slots=True)
class Outcome:
    """One student's work on one module, and what the gradebook keeps of it."""

    learner: Learner
    actions: list[Action] = field(default_factory=list)
    #: finalgrade, day, second
    grade: tuple[float, int, int] | None = None
    #: completionstate, day, second of the last change
    completion: tuple[int, int, int] | None = None
    #: day, second at which the module first counted as complete (for the course)
    first_complete: tuple[int, int] | None = None
    #: graded work that was not done within the term
    missing: bool = False
    #: day, second of an assignment's submission
    submitted_at: tuple[int, int] = (0, 0)


@dataclass(slots=True)
class _Work:
    """What planning one module needs at hand."""

    rng: random.Random
    module: Module
    course: Course
    half_life: float
    last_day: int
    due_text: str = ""

    def act(
        self,
        learner: Learner,
        when: tuple[int, int],
        event_type: str,
        metadata: dict[str, Any] | None,
        first: int = -1,
    ) -> Action:
        """An event of ``learner`` on this module."""
        row = (
            when[1],
            learner.user_id,
            self.course.course_id,
            self.module.module_id,
            event_type,
            metadata,
            first,
            "web",
        )
        return when[0], learner.person, row

    def complete(self, outcome: Outcome, when: tuple[int, int], state: int) -> Action:
        """A completion event; the first one that counts for the course is flagged."""
        counts = state != COMPLETE_FAIL and outcome.first_complete is None
        if counts:
            outcome.first_complete = when
        outcome.completion = (state, *when)
        first = outcome.learner.enrolment if counts else -1
        return self.act(
            outcome.learner, when, "module_completed", {"completionstate": state}, first
        )


def plan_module(roster: Roster, module: Module) -> list[Outcome]:
    """Every enrolled student's work on ``module``, in enrolment order.

    Students who never touch an ungraded module are left out; graded modules keep an
    outcome for every student, ``missing`` when the work was not done.
    """
    course = roster.courses[module.course]
    work = _Work(
        make_rng(roster.shape.seed, "module", module.index),
        module,
        course,
        drift_half_life(roster.shape.days),
        roster.shape.days - 1,
    )
    learners = roster.learners(course)
    if module.modname == "assign":
        assert module.due_day is not None
        work.due_text = f"{roster.day(module.due_day).isoformat()}T23:59:00Z"
        return _plan_assignment(work, learners)
    planner = _PLANNERS[module.modname]
    outcomes = []
    for learner in learners:
        outcome = planner(work, learner)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _engagement(work: _Work, learner: Learner, day: int) -> float:
    if learner.fade_day is None:
        return 1.0
    return fade(day, learner.fade_day, work.half_life)


def _work_second(rng: random.Random, span: int, cdf: list[float] = _WORK_CDF) -> int:
    """When work lasting ``span`` seconds starts, so that it ends before 23:59."""
    hour = FIRST_WORK_HOUR + bisect.bisect(cdf, rng.random() * cdf[-1])
    second = hour * 3600 + int(rng.random() * 3600)
    return max(FIRST_WORK_HOUR * 3600, min(second, DUE_SECOND - 60 - span))


def _delay(rng: random.Random, mean_days: float) -> int:
    return int(-math.log(1.0 - rng.random()) * mean_days)


def _plan_view(work: _Work, learner: Learner) -> Outcome | None:
    """A tracked resource, page or link: completed on the first view."""
    module, rng = work.module, work.rng
    if not module.tracked:
        return None
    archetype = learner.archetype
    day = module.open_day + _delay(rng, archetype.view_delay_days)
    wanted = archetype.view_probability * _engagement(work, learner, day)
    if rng.random() >= wanted or day > work.last_day:
        return None
    when = (day, _work_second(rng, 0))
    outcome = Outcome(learner)
    event_type = VIEW_EVENTS.get(module.modname, "page_viewed")
    outcome.actions.append(work.act(learner, when, event_type, None))
    outcome.actions.append(work.complete(outcome, when, COMPLETE))
    return outcome


def _plan_forum(work: _Work, learner: Learner) -> Outcome | None:
    """A first post in a forum; tracked forums complete with it."""
    module, rng = work.module, work.rng
    archetype = learner.archetype
    day = module.open_day + _delay(rng, archetype.view_delay_days + 1)
    wanted = archetype.post_probability * _engagement(work, learner, day)
    if rng.random() >= wanted or day > work.last_day:
        return None
    when = (day, _work_second(rng, 0))
    metadata = forum_post(rng, module, learner.ability, is_reply=rng.random() < 0.7)
    outcome = Outcome(learner)
    outcome.actions.append(work.act(learner, when, "forum_post_created", metadata))
    if module.tracked:
        outcome.actions.append(work.complete(outcome, when, COMPLETE))
    return outcome


def forum_post(
    rng: random.Random, module: Module, ability: float, *, is_reply: bool
) -> dict[str, Any]:
    """The metadata the plugin adds to ``forum_post_created`` (SPEC §2.2)."""
    return {
        "is_reply": is_reply,
        "discussion_id": module.discussion_base + int(rng.random() * 3),
        "word_count": int(25 + ability * 220 * (0.4 + rng.random())),
    }


def _plan_quiz(work: _Work, learner: Learner) -> Outcome:
    """Attempts before the due date; the highest attempt is the grade."""
    module, rng = work.module, work.rng
    assert module.due_day is not None
    archetype = learner.archetype
    day = max(module.open_day, module.due_day - _delay(rng, archetype.lead_days))
    engagement = _engagement(work, learner, day)
    if rng.random() >= archetype.quiz_probability * engagement:
        return Outcome(learner, missing=True)
    ability = learner.ability * (0.75 + 0.25 * engagement)
    scores, durations = _attempts(rng, module, ability)
    second = _work_second(rng, sum(durations) + 600 * (len(durations) - 1))
    outcome = Outcome(learner)
    best = 0.0
    for number, (score, taken) in enumerate(zip(scores, durations, strict=True), 1):
        raw = round(score * module.grademax, 2)
        best = max(best, raw)
        done = (day, second + taken)
        outcome.actions.extend(_attempt(work, learner, number, (second, done), raw))
        outcome.actions.append(
            work.act(learner, done, "grade_updated", _grade(module, best))
        )
        outcome.grade = (best, *done)
        state = COMPLETE_PASS if best >= module.gradepass else COMPLETE_FAIL
        if outcome.completion is None or outcome.completion[0] != state:
            outcome.actions.append(work.complete(outcome, done, state))
        second = done[1] + 120 + int(rng.random() * 480)
    return outcome


def _attempts(
    rng: random.Random, module: Module, ability: float
) -> tuple[list[float], list[int]]:
    """Scores (0..1) and durations (s) of a student's attempts at a quiz."""
    passing = module.gradepass / module.grademax
    scores = [min(1.0, max(0.0, rng.gauss(ability, 0.13)))]
    while len(scores) < module.max_attempts:
        retry = 0.7 if max(scores) < passing else 0.2
        if rng.random() >= retry:
            break
        target = 0.5 * max(scores) + 0.5 * ability + 0.08
        scores.append(min(1.0, max(0.0, rng.gauss(target, 0.1))))
    limit = module.time_limit
    durations = [
        int(limit * (0.35 + 0.6 * rng.random()))
        if limit
        else 240 + int(rng.random() * 1260)
        for _ in scores
    ]
    return scores, durations


def _attempt(
    work: _Work,
    learner: Learner,
    number: int,
    times: tuple[int, tuple[int, int]],
    raw: float,
) -> tuple[Action, Action]:
    """``quiz_attempted`` and ``quiz_submitted`` with the plugin's metadata."""
    started, finished = times
    module = work.module
    attempted = {
        "attempt_number": number,
        "time_limit_seconds": module.time_limit,
        "quiz_name": module.name,
    }
    submitted = {
        "attempt_number": number,
        "score_percent": round(raw / module.grademax * 100, 1),
        "raw_score": raw,
        "time_taken_seconds": finished[1] - started,
        "state": "finished",
    }
    return (
        work.act(learner, (finished[0], started), "quiz_attempted", attempted),
        work.act(learner, finished, "quiz_submitted", submitted),
    )


def _grade(module: Module, finalgrade: float) -> dict[str, Any]:
    """The metadata the plugin adds to ``grade_updated`` (SPEC §2.2)."""
    return {
        "finalgrade": finalgrade,
        "grademin": 0.0,
        "grademax": module.grademax,
        "gradepass": module.gradepass,
        "percent": round(finalgrade / module.grademax * 100, 1),
        "passed": finalgrade >= module.gradepass,
        "item_type": "mod",
    }


def _plan_assignment(work: _Work, learners: list[Learner]) -> list[Outcome]:
    """Submissions around the due date, then the teacher's grading."""
    rng, module = work.rng, work.module
    assert module.due_day is not None
    grading_day = module.due_day + 2 + int(rng.random() * 4)
    grading_start = 9 * 3600 + int(rng.random() * 6 * 3600)
    outcomes = [_submission(work, learner) for learner in learners]
    second = grading_start
    for outcome in outcomes:
        if outcome.grade is None:
            continue
        if outcome.submitted_at < (grading_day, grading_start):
            second = min(DAY_SECONDS - 1, second + 40 + int(rng.random() * 120))
            when = (grading_day, second)
        else:
            later = outcome.submitted_at[0] + 1 + int(rng.random() * 2)
            when = (later, 9 * 3600 + int(rng.random() * 9 * 3600))
        _release_grade(work, outcome, when)
    return outcomes


def _submission(work: _Work, learner: Learner) -> Outcome:
    """One student's submission (or its absence); the score waits for grading."""
    rng, module = work.rng, work.module
    assert module.due_day is not None
    archetype = learner.archetype
    engagement = _engagement(work, learner, module.due_day)
    if rng.random() >= archetype.submit_probability * engagement:
        return Outcome(learner, missing=True)
    late = rng.random() < archetype.late_probability + (1 - engagement) * 0.3
    if late:
        day = module.due_day + 1 + int(rng.random() * 4)
    else:
        day = max(module.open_day, module.due_day - _delay(rng, archetype.lead_days))
    cdf = _DUE_DAY_CDF if day == module.due_day else _WORK_CDF
    when = (day, _work_second(rng, 0, cdf))
    ability = learner.ability * (0.75 + 0.25 * engagement)
    score = rng.gauss(ability, 0.1) - (0.08 if late else 0.0)
    if day > work.last_day:
        return Outcome(learner, missing=True)
    outcome = Outcome(learner, submitted_at=when)
    # The score is decided now; the grade (and its time) is released by the teacher.
    outcome.grade = (round(min(1.0, max(0.05, score)) * module.grademax, 1), -1, -1)
    metadata = {
        "submission_status": "submitted",
        "is_late": late,
        "due_date": work.due_text,
    }
    outcome.actions.append(work.act(learner, when, "assignment_submitted", metadata))
    outcome.actions.append(work.complete(outcome, when, COMPLETE))
    return outcome


def _release_grade(work: _Work, outcome: Outcome, when: tuple[int, int]) -> None:
    """The teacher grades a submission; after the term it stays ungraded."""
    assert outcome.grade is not None
    if when[0] > work.last_day:
        outcome.grade = None
        return
    finalgrade = outcome.grade[0]
    outcome.grade = (finalgrade, *when)
    metadata = _grade(work.module, finalgrade)
    day, _, row = work.act(outcome.learner, when, "grade_updated", metadata)
    # The grade is the student's event, done in the teacher's grading session.
    outcome.actions.append((day, work.course.editing_teacher, row))


_PLANNERS = {
    "resource": _plan_view,
    "page": _plan_view,
    "url": _plan_view,
    "forum": _plan_forum,
    "quiz": _plan_quiz,
}
