"""The demo term generator: deterministic, valid, and shaped like a real term."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from ssea_core.demo import (
    ARCHETYPE_NAMES,
    ENTITIES,
    TermShape,
    generate_catalogue,
    generate_events,
    iter_catalogue,
)
from ssea_core.demo.roster import build_roster
from ssea_core.ingest.models import SYNC_MODELS, EventIn

#: The 13 types the Moodle plugin sends (SPEC §2.2); importers' generic ones excluded.
PLUGIN_TYPES = {
    "user_login",
    "user_logout",
    "user_enrolled",
    "course_viewed",
    "resource_viewed",
    "page_viewed",
    "quiz_attempted",
    "quiz_submitted",
    "assignment_submitted",
    "forum_post_created",
    "grade_updated",
    "grade_item_updated",
    "course_completed",
    "module_completed",
}
DEFAULT = TermShape()
SMALL = TermShape(students=60, teachers=4, courses=4, weeks=5, seed=11)

Event = dict[str, Any]


@pytest.fixture(scope="module")
def default_events() -> list[Event]:
    return list(generate_events(DEFAULT))


@pytest.fixture(scope="module")
def default_catalogue() -> dict[str, list[dict[str, Any]]]:
    return generate_catalogue(DEFAULT)


def digest(items: Any) -> str:
    text = json.dumps(list(items), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def users_of(archetype: str, shape: TermShape = DEFAULT) -> set[str]:
    roster = build_roster(shape)
    index = ARCHETYPE_NAMES.index(archetype)
    return {
        roster.people[student.person].user_id
        for student in roster.students
        if student.archetype == index
    }


def term_day(event: Event, shape: TermShape = DEFAULT) -> int:
    return (date.fromisoformat(event["timestamp"][:10]) - shape.start).days


# Determinism


def test_the_same_shape_gives_the_same_term() -> None:
    first = digest(itertools.islice(generate_events(SMALL), 5_000))
    again = digest(itertools.islice(generate_events(SMALL), 5_000))
    assert first == again
    assert digest(iter_catalogue(SMALL)) == digest(iter_catalogue(SMALL))


def test_another_seed_gives_another_term() -> None:
    other = TermShape(students=60, teachers=4, courses=4, weeks=5, seed=12)
    first = digest(itertools.islice(generate_events(SMALL), 5_000))
    assert digest(itertools.islice(generate_events(other), 5_000)) != first
    assert digest(iter_catalogue(other)) != digest(iter_catalogue(SMALL))


def test_the_global_random_state_plays_no_part() -> None:
    random.seed(1)
    first = digest(itertools.islice(generate_events(SMALL), 3_000))
    random.seed(2)
    assert digest(itertools.islice(generate_events(SMALL), 3_000)) == first


def test_importing_draws_nothing_and_generating_is_lazy() -> None:
    probe = (
        "import random; random.seed(5); expected = random.random(); random.seed(5)\n"
        "import ssea_core.demo as demo\n"
        "events = demo.generate_events(demo.TermShape.large())\n"
        "assert random.random() == expected\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)


# Validity


def test_every_catalogue_item_validates(
    default_catalogue: dict[str, list[dict[str, Any]]],
) -> None:
    assert list(default_catalogue) == list(ENTITIES)
    for entity, items in default_catalogue.items():
        assert items, entity
        TypeAdapter(list[SYNC_MODELS[entity]]).validate_python(items)  # type: ignore[valid-type]


def test_every_event_validates_and_is_a_plugin_type(
    default_events: list[Event],
) -> None:
    TypeAdapter(list[EventIn]).validate_python(default_events)
    assert {event["event_type"] for event in default_events} == PLUGIN_TYPES


def test_events_come_in_time_order_with_increasing_log_ids(
    default_events: list[Event],
) -> None:
    stamps = [event["timestamp"] for event in default_events]
    assert stamps == sorted(stamps)
    log_ids = [int(event["moodle_log_id"]) for event in default_events]
    assert log_ids == list(range(1, len(log_ids) + 1))


def test_events_stay_inside_the_term(default_events: list[Event]) -> None:
    first, last = default_events[0]["timestamp"], default_events[-1]["timestamp"]
    assert first >= f"{DEFAULT.start}T00:00:00Z"
    assert last <= f"{DEFAULT.end}T23:59:59Z"


def test_metadata_is_what_the_plugin_adds(default_events: list[Event]) -> None:
    expected = {
        "quiz_attempted": {"attempt_number", "time_limit_seconds", "quiz_name"},
        "quiz_submitted": {
            "attempt_number",
            "score_percent",
            "raw_score",
            "time_taken_seconds",
            "state",
        },
        "assignment_submitted": {"submission_status", "is_late", "due_date"},
        "forum_post_created": {"is_reply", "discussion_id", "word_count"},
        "grade_updated": {
            "finalgrade",
            "grademin",
            "grademax",
            "gradepass",
            "percent",
            "passed",
            "item_type",
        },
        "grade_item_updated": {
            "item_name",
            "item_type",
            "item_module",
            "grademax",
            "gradepass",
        },
        "module_completed": {"completionstate"},
    }
    for event in default_events:
        assert set(event["metadata"]) == expected.get(event["event_type"], set())


# The catalogue


def test_the_catalogue_has_the_shape_s_counts(
    default_catalogue: dict[str, list[dict[str, Any]]],
) -> None:
    users = default_catalogue["users"]
    assert len(users) == DEFAULT.students + DEFAULT.teachers
    assert len({user["username"] for user in users}) == len(users)
    assert all(user["email"].endswith("@example.org") for user in users)
    assert len(default_catalogue["courses"]) == DEFAULT.courses
    modules = default_catalogue["modules"]
    assert len(modules) == DEFAULT.courses * DEFAULT.modules_per_course
    assert {"resource", "page", "url", "quiz", "assign", "forum"} == {
        module["modname"] for module in modules
    }
    per_student = Counter(
        e["user_id"] for e in default_catalogue["enrolments"] if e["role"] == "student"
    )
    assert len(per_student) == DEFAULT.students
    assert set(per_student.values()) <= {2, 3, 4, 5}
    teaching = [e for e in default_catalogue["enrolments"] if e["role"] != "student"]
    assert {e["course_id"] for e in teaching if e["role"] == "editingteacher"} == {
        course["course_id"] for course in default_catalogue["courses"]
    }


def test_graded_modules_have_due_dates_and_grade_items(
    default_catalogue: dict[str, list[dict[str, Any]]],
) -> None:
    for module in default_catalogue["modules"]:
        graded = module["modname"] in ("quiz", "assign")
        assert (module["due_date"] is not None) == graded
        if graded:
            assert module["completion_enabled"]
    totals = [g for g in default_catalogue["grades"] if g["item_type"] == "course"]
    students = [e for e in default_catalogue["enrolments"] if e["role"] == "student"]
    assert len(totals) == len(students)
    assert all(0 <= g["finalgrade"] <= 100 for g in totals)


def test_about_one_student_in_eight_drifts_away() -> None:
    share = len(users_of("drifting")) / DEFAULT.students
    assert 0.10 <= share <= 0.15


def test_grades_and_completions_agree_with_the_events(
    default_events: list[Event],
    default_catalogue: dict[str, list[dict[str, Any]]],
) -> None:
    graded = {
        (e["user_id"], e["course_id"], e["timestamp"], e["metadata"]["finalgrade"])
        for e in default_events
        if e["event_type"] == "grade_updated"
    }
    for grade in default_catalogue["grades"]:
        if grade["item_type"] == "mod":
            key = (
                grade["user_id"],
                grade["course_id"],
                grade["graded_at"],
                grade["finalgrade"],
            )
            assert key in graded
    completed = {
        (e["user_id"], e["module_id"], e["timestamp"])
        for e in default_events
        if e["event_type"] == "module_completed"
    }
    finished = {
        (e["user_id"], e["course_id"], e["timestamp"])
        for e in default_events
        if e["event_type"] == "course_completed"
    }
    courses_done = set()
    for row in default_catalogue["completions"]:
        if row["module_id"] is not None:
            assert (row["user_id"], row["module_id"], row["completed_at"]) in completed
        elif row["state"] == "complete":
            courses_done.add((row["user_id"], row["course_id"], row["completed_at"]))
    assert courses_done == finished
    course_rows = [
        r for r in default_catalogue["completions"] if r["module_id"] is None
    ]
    assert 0.1 < len(finished) / len(course_rows) < 0.8


def test_the_same_students_do_well_and_poorly(
    default_catalogue: dict[str, list[dict[str, Any]]],
) -> None:
    totals = {
        g["user_id"]: g["finalgrade"]
        for g in default_catalogue["grades"]
        if g["item_type"] == "course"
    }
    mean = {
        name: statistics.mean(totals[user] for user in users_of(name) if user in totals)
        for name in ARCHETYPE_NAMES
    }
    assert mean["engaged"] > mean["average"] > mean["struggling"]
    assert mean["drifting"] < mean["average"] - 10


# Rhythms


def test_weekdays_are_busier_than_weekends(default_events: list[Event]) -> None:
    per_day = Counter(event["timestamp"][:10] for event in default_events[10_000:])
    weekday: list[int] = []
    weekend: list[int] = []
    for day, count in per_day.items():
        is_weekend = date.fromisoformat(day).weekday() >= 5
        (weekend if is_weekend else weekday).append(count)
    assert statistics.mean(weekday) > 1.3 * statistics.mean(weekend)


def test_activity_peaks_in_the_afternoon_and_evening(
    default_events: list[Event],
) -> None:
    hours = Counter(int(event["timestamp"][11:13]) for event in default_events)
    busiest = max(hours, key=lambda hour: hours[hour])
    assert 13 <= busiest <= 22
    assert sum(hours[h] for h in range(12, 24)) > 0.6 * len(default_events)
    assert sum(hours[h] for h in range(0, 7)) < 0.06 * len(default_events)


def test_drifting_students_fade_and_engaged_ones_do_not(
    default_events: list[Event],
) -> None:
    weeks = DEFAULT.weeks

    def early_and_late(users: set[str]) -> tuple[int, int]:
        early = late = 0
        for event in default_events:
            if event["user_id"] in users and event["event_type"] != "user_enrolled":
                week = term_day(event) // 7
                early += week < 3
                late += week >= weeks - 3
        return early, late

    early, late = early_and_late(users_of("drifting"))
    assert late < 0.2 * early
    early, late = early_and_late(users_of("engaged"))
    assert late > 0.6 * early


def test_sessions_start_with_a_login_and_quizzes_are_submitted_after_starting(
    default_events: list[Event],
) -> None:
    by_user: dict[str, list[Event]] = defaultdict(list)
    for event in default_events:
        by_user[event["user_id"]].append(event)
    starts = logins = 0
    for events in by_user.values():
        previous: datetime | None = None
        started: dict[tuple[str, int], str] = {}
        for event in events:
            moment = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            if previous is None or moment - previous > timedelta(minutes=30):
                starts += 1
                logins += event["event_type"] == "user_login"
            previous = moment
            key = (event["module_id"], event["metadata"].get("attempt_number", 0))
            if event["event_type"] == "quiz_attempted":
                started[key] = event["timestamp"]
            elif event["event_type"] == "quiz_submitted":
                assert started[key] <= event["timestamp"]
    assert logins > 0.6 * starts


def test_assignments_cluster_before_the_deadline(
    default_events: list[Event],
) -> None:
    before: Counter[int] = Counter()
    for event in default_events:
        if event["event_type"] == "assignment_submitted":
            due = date.fromisoformat(event["metadata"]["due_date"][:10])
            days = (due - date.fromisoformat(event["timestamp"][:10])).days
            before[days] += 1
            assert event["metadata"]["is_late"] == (days < 0)
    total = sum(before.values())
    assert before[0] + before[1] > 0.5 * total
    assert 0 < sum(n for days, n in before.items() if days < 0) < 0.2 * total


# Volume


@pytest.mark.parametrize(
    "shape",
    [
        DEFAULT,
        SMALL,
        TermShape(students=150, courses=20, weeks=8, modules_per_course=16, seed=3),
        TermShape(students=200, weeks=20, activity=0.4, seed=4),
    ],
    ids=["default", "small", "many-courses", "long-quiet"],
)
def test_event_volume_matches_the_estimate(shape: TermShape) -> None:
    produced = sum(1 for _ in generate_events(shape))
    assert abs(produced - shape.estimated_events) < 0.3 * shape.estimated_events


def test_the_large_shape_is_the_benchmark_tenant() -> None:
    large = TermShape.large()
    assert large.students + large.teachers == 20_000
    assert (large.courses, large.weeks) == (500, 52)
    assert 8_500_000 < large.estimated_events < 11_500_000


# The shape


def test_ending_on_ends_the_term_on_that_day() -> None:
    shape = TermShape.ending_on(date(2026, 3, 1), weeks=3)
    assert shape.end == date(2026, 3, 1)
    assert shape.start == date(2026, 2, 9)
    assert shape.days == 21


@pytest.mark.parametrize(
    "changes",
    [
        {"students": 0},
        {"weeks": 0},
        {"activity": 0},
        {"min_courses_per_student": 4, "max_courses_per_student": 3},
    ],
)
def test_a_nonsensical_shape_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="TermShape"):
        TermShape(**changes)


def test_a_tiny_term_still_works() -> None:
    tiny = TermShape(students=3, teachers=1, courses=1, weeks=1, modules_per_course=2)
    events = list(generate_events(tiny))
    TypeAdapter(list[EventIn]).validate_python(events)
    catalogue = generate_catalogue(tiny)
    assert len(catalogue["enrolments"]) == 4
