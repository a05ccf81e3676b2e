"""The SQL of the six reports (SPEC §7) on a small tenant with hand-computed answers.

The clock stands at 2026-03-02 12:00 UTC (a Monday): a request resolved today has
``as_of`` 2026-03-02 and, by default, the period 2026-02-01 to 2026-03-02. Sessions
use the defaults (30 minutes gap, 60 s tail). The data goes in through the sync and
batch endpoints, as a Moodle plugin would send it.

Students (role student) and when their enrolments started:
- s1 Ann: c1 from Mon 02-02, c2 from Mon 02-16; s2 Ben: c1 from Wed 02-04, c2 from
  Tue 02-17; s3 Cat: c1 from Tue 02-10; s4 Dan: c1 from Tue 02-03, now suspended.
- t1 Tom teaches c1 (editingteacher). c3 has nobody.

Counted activity, each event its own 60 s session unless said:
- s1 in c1: 02-02 09:00 and 09:10 (one session, 600 + 60 s), 02-10 08:05, 02-25,
  03-02 (quiz): 5 events, 4 sessions, 840 s (14 min), 4 active days. s1 also logs in
  site-wide on 02-10 at 06:00 (no course). s1 in c2: 02-16 and 02-24.
- s2 in c1: 02-05, 02-12, 03-01. s3 in c1: 02-11. s4 in c1: 02-03. t1 in c1: 02-20.

Completions: c1 m1 (quiz, tracked): s1 complete_pass, s2 complete_fail, s4 complete;
c1 m2 (assign, tracked): s1 complete, s2 incomplete; c1 m3 (page, not tracked): s3
complete; s1 completed course c1; c2 m4 (assign, tracked): s1 and s2 complete.

Grades: c1 q1 (quiz, 0-10, pass 5): s1 8, s2 4, s4 9, s3 none; c1 ct1 (course total,
0-100, pass 50): s1 85, s2 45, s4 90; c2 a1 (project, 0-20, no pass mark): s1 15,
s2 9; c2 q2 (quiz, 0-10, pass 6): only an ungraded row.
"""

from __future__ import annotations

import csv
import io
import statistics
from contextlib import aclosing
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.importers import OuladSource, import_into
from ssea_core.ingest.service import Ingestor
from ssea_core.records import TenantRecord
from ssea_core.reports import (
    REPORTS,
    ReportType,
    export_report,
    parse_csv,
    parse_json,
    resolve_request,
)
from ssea_core.risk.repository import ScoreRow
from ssea_core.settings import Settings
from ssea_storage.artifacts import FsspecArtifactStore
from ssea_storage.sql import reports as report_sql
from ssea_storage.sql.reports import SqlReportQueries
from ssea_storage.sql.store import SqlStore
from tests.conftest import make_key, make_tenant
from tests.support import ApiClient

TODAY = date(2026, 3, 2)

USERS = [
    {"user_id": "s1", "username": "ann", "full_name": "Ann Archer"},
    {"user_id": "s2", "username": "ben", "full_name": "Ben Baker"},
    {"user_id": "s3", "username": "cat", "full_name": "Cat Chen"},
    {"user_id": "s4", "username": "dan", "full_name": "Dan Dunn"},
    {"user_id": "t1", "username": "tom", "full_name": "Tom Teacher"},
]
COURSES = [
    {"course_id": "c1", "shortname": "CS101", "fullname": "Introduction to Python"},
    {"course_id": "c2", "shortname": "DS201", "fullname": "Data Science"},
    {"course_id": "c3", "shortname": "EC1", "fullname": "Empty Course"},
]


def _module(module: str, course: str, modname: str, name: str, tracked: bool) -> Any:
    return {
        "module_id": module,
        "course_id": course,
        "modname": modname,
        "name": name,
        "completion_enabled": tracked,
    }


MODULES = [
    _module("m1", "c1", "quiz", "Quiz 1", True),
    _module("m2", "c1", "assign", "Essay", True),
    _module("m3", "c1", "page", "Reading", False),
    _module("m4", "c2", "assign", "Project", True),
]


def _enrolment(
    user: str, course: str, start: str, role: str = "student", **extra: Any
) -> Any:
    return {
        "user_id": user,
        "course_id": course,
        "role": role,
        "time_start": start,
        **extra,
    }


ENROLMENTS = [
    _enrolment("s1", "c1", "2026-02-02"),
    _enrolment("s2", "c1", "2026-02-04T15:30:00Z"),
    _enrolment("s3", "c1", "2026-02-10"),
    _enrolment("s4", "c1", "2026-02-03", status="suspended"),
    _enrolment("t1", "c1", "2026-01-01", role="editingteacher"),
    _enrolment("s1", "c2", "2026-02-16"),
    _enrolment("s2", "c2", "2026-02-17"),
]


def _completion(user: str, course: str, module: str | None, state: str) -> Any:
    return {"user_id": user, "course_id": course, "module_id": module, "state": state}


COMPLETIONS = [
    _completion("s1", "c1", "m1", "complete_pass"),
    _completion("s2", "c1", "m1", "complete_fail"),
    _completion("s4", "c1", "m1", "complete"),
    _completion("s1", "c1", "m2", "complete"),
    _completion("s2", "c1", "m2", "incomplete"),
    _completion("s3", "c1", "m3", "complete"),
    _completion("s1", "c1", None, "complete"),
    _completion("s1", "c2", "m4", "complete"),
    _completion("s2", "c2", "m4", "complete"),
]

QUIZ = {"item_name": "Quiz 1", "item_type": "mod", "grademax": 10, "gradepass": 5}
TOTAL = {"item_name": "Course total", "item_type": "course", "gradepass": 50}
PROJECT = {"item_name": "Project", "item_type": "mod", "grademax": 20}
QUIZ2 = {"item_name": "Quiz 2", "item_type": "mod", "grademax": 10, "gradepass": 6}


def _grade(
    user: str, course: str, item: str, final: float | None, at: str | None, **item_: Any
) -> Any:
    return {
        "user_id": user,
        "course_id": course,
        "item_id": item,
        "finalgrade": final,
        "graded_at": at,
        **item_,
    }


GRADES = [
    _grade("s1", "c1", "q1", 8, "2026-02-10T12:00:00Z", **QUIZ),
    _grade("s2", "c1", "q1", 4, "2026-02-20T12:00:00Z", **QUIZ),
    _grade("s3", "c1", "q1", None, None, **QUIZ),
    _grade("s4", "c1", "q1", 9, "2026-02-05T12:00:00Z", **QUIZ),
    _grade("s1", "c1", "ct1", 85, "2026-02-27T12:00:00Z", **TOTAL),
    _grade("s2", "c1", "ct1", 45, "2026-02-27T12:00:00Z", **TOTAL),
    _grade("s4", "c1", "ct1", 90, "2026-02-06T12:00:00Z", **TOTAL),
    _grade("s1", "c2", "a1", 15, "2026-02-24T12:00:00Z", **PROJECT),
    _grade("s2", "c2", "a1", 9, "2026-03-01T12:00:00Z", **PROJECT),
    _grade("s1", "c2", "q2", None, None, **QUIZ2),
]


def _event(kind: str, user: str, at: str, course: str | None = None, **extra: Any):
    event: dict[str, Any] = {"event_type": kind, "user_id": user, "timestamp": at}
    if course is not None:
        event["course_id"] = course
    return {**event, **extra}


EVENTS = [
    _event("course_viewed", "s1", "2026-02-02T09:00:00Z", "c1"),
    _event("page_viewed", "s1", "2026-02-02T09:10:00Z", "c1", module_id="m3"),
    _event("course_viewed", "s4", "2026-02-03T10:00:00Z", "c1"),
    _event("course_viewed", "s2", "2026-02-05T10:00:00Z", "c1"),
    _event("user_login", "s1", "2026-02-10T06:00:00Z"),
    _event("course_viewed", "s1", "2026-02-10T08:05:00Z", "c1"),
    _event("course_viewed", "s3", "2026-02-11T10:00:00Z", "c1"),
    _event("course_viewed", "s2", "2026-02-12T10:00:00Z", "c1"),
    _event("course_viewed", "s1", "2026-02-16T10:00:00Z", "c2"),
    _event("course_viewed", "t1", "2026-02-20T10:00:00Z", "c1"),
    _event("course_viewed", "s1", "2026-02-24T10:00:00Z", "c2"),
    _event("course_viewed", "s1", "2026-02-25T10:00:00Z", "c1"),
    _event("course_viewed", "s2", "2026-03-01T10:00:00Z", "c1"),
    _event("quiz_submitted", "s1", "2026-03-02T09:00:00Z", "c1", module_id="m1"),
]

CATALOGUE = [
    ("users", USERS),
    ("courses", COURSES),
    ("modules", MODULES),
    ("enrolments", ENROLMENTS),
    ("completions", COMPLETIONS),
    ("grades", GRADES),
]


async def load(client: ApiClient) -> None:
    """Sync the catalogue and send the events through the ingestion API."""
    for entity, items in CATALOGUE:
        answer = await client.post(f"/v1/sync/{entity}", json_body={"items": items})
        assert answer.status == 202, answer.body
        assert answer.json()["data"]["skipped"] == 0, answer.body
    answer = await client.post("/v1/events/batch", json_body={"events": EVENTS})
    assert answer.status == 202, answer.body
    assert answer.json()["data"]["queued"] == len(EVENTS), answer.body


@pytest.fixture
async def queries(
    client: ApiClient, store: SqlStore, tenant: TenantRecord
) -> SqlReportQueries:
    await load(client)
    return SqlReportQueries(store.executor, tenant.tenant_id)


async def report(
    queries: SqlReportQueries, report_type: ReportType, **params: Any
) -> list[dict[str, Any]]:
    request = resolve_request(report_type, params, TODAY)
    async with aclosing(queries.rows(request)) as rows:
        found = [row async for row in rows]
    for row in found:
        assert tuple(row) == REPORTS[report_type].names
    return found


def pick(rows: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(row[name] for name in names) for row in rows]


# -- retention_cohort ------------------------------------------------------------------


RETENTION = (
    "cohort_week",
    "cohort_size",
    "week",
    "observed",
    "active",
    "retention_pct",
)


async def test_retention_cohort(queries: SqlReportQueries) -> None:
    rows = await report(
        queries,
        "retention_cohort",
        date_from="2026-02-01",
        date_to="2026-02-28",
        max_weeks=4,
    )

    feb2, feb9, feb16 = date(2026, 2, 2), date(2026, 2, 9), date(2026, 2, 16)
    assert pick(rows, *RETENTION) == [
        # s1, s4, s2 in c1. s2's activity on 03-01 is in its week 3, which has not
        # ended by 03-02, so it does not count (s2 is not observed in week 3).
        (feb2, 3, 0, 3, 3, 100.0),
        (feb2, 3, 1, 3, 2, 66.7),
        (feb2, 3, 2, 3, 0, 0.0),
        (feb2, 3, 3, 1, 1, 100.0),
        # s3 in c1.
        (feb9, 1, 0, 1, 1, 100.0),
        (feb9, 1, 1, 1, 0, 0.0),
        (feb9, 1, 2, 0, 0, None),
        (feb9, 1, 3, 0, 0, None),
        # s1 and s2 in c2.
        (feb16, 2, 0, 2, 1, 50.0),
        (feb16, 2, 1, 1, 1, 100.0),
        (feb16, 2, 2, 0, 0, None),
        (feb16, 2, 3, 0, 0, None),
    ]


async def test_retention_cohort_of_one_course_and_default_window(
    queries: SqlReportQueries,
) -> None:
    rows = await report(queries, "retention_cohort", course_id="c2", max_weeks=2)

    # Default window: the 14 days ending today, 02-17 to 03-02: only s2 in c2.
    assert pick(rows, *RETENTION) == [
        (date(2026, 2, 16), 1, 0, 1, 0, 0.0),
        (date(2026, 2, 16), 1, 1, 0, 0, None),
    ]


async def test_retention_cohort_without_enrolments_is_empty(
    queries: SqlReportQueries,
) -> None:
    assert await report(queries, "retention_cohort", course_id="c3") == []


# -- activity_funnel -------------------------------------------------------------------


async def test_activity_funnel(queries: SqlReportQueries) -> None:
    rows = await report(queries, "activity_funnel")

    assert rows[0] == {
        "course_id": "c1",
        "course_shortname": "CS101",
        "module_id": "m1",
        "module_name": "Quiz 1",
        "modname": "quiz",
        "tracked": True,
        "enrolled": 3,
        "active_in_course": 3,
        "started": 2,
        "completed": 2,
        "passed": 1,
        "failed": 1,
        "started_pct": 66.7,
        "completed_pct": 66.7,
        "passed_pct": 33.3,
    }
    assert pick(
        rows,
        "module_id",
        "tracked",
        "enrolled",
        "active_in_course",
        "started",
        "completed",
        "passed",
        "failed",
        "started_pct",
        "completed_pct",
        "passed_pct",
    ) == [
        ("m1", True, 3, 3, 2, 2, 1, 1, 66.7, 66.7, 33.3),
        ("m2", True, 3, 3, 2, 1, 0, 0, 66.7, 33.3, 0.0),
        ("m3", False, 3, 3, 1, 1, 0, 0, 33.3, 33.3, 0.0),
        ("m4", True, 2, 1, 2, 2, 0, 0, 100.0, 100.0, 0.0),
    ]


async def test_activity_funnel_period_moves_only_active_in_course(
    queries: SqlReportQueries,
) -> None:
    rows = await report(
        queries, "activity_funnel", course_id="c1", date_from="2026-02-20"
    )

    # 02-20 to 03-02: s1 (02-25, 03-02) and s2 (03-01); t1 is no student.
    assert pick(rows, "module_id", "active_in_course", "started") == [
        ("m1", 2, 2),
        ("m2", 2, 2),
        ("m3", 2, 1),
    ]


# -- teacher_course_health -------------------------------------------------------------


async def test_teacher_course_health(queries: SqlReportQueries) -> None:
    rows = await report(queries, "teacher_course_health")

    assert rows == [
        {
            "course_id": "c1",
            "shortname": "CS101",
            "fullname": "Introduction to Python",
            "teachers": 1,
            "enrolled": 3,
            "active_7d": 2,  # 02-24 to 03-02: s1, s2
            "active_30d": 3,
            "active_in_period": 3,
            "events": 9,  # s1 5, s2 3, s3 1 (s4 suspended, t1 teaches)
            "avg_time_mins": 6.0,  # (840 + 180 + 60) s / 60 / 3
            "completion_pct": 33.3,  # s1's m1 and m2 of 3 students x 2 modules
            "course_completion_pct": 33.3,
            "avg_grade_pct": 65.0,  # course totals of students s1 85, s2 45
            "at_risk_count": 0,  # no score stored yet
        },
        {
            "course_id": "c2",
            "shortname": "DS201",
            "fullname": "Data Science",
            "teachers": 0,
            "enrolled": 2,
            "active_7d": 1,
            "active_30d": 1,
            "active_in_period": 1,
            "events": 2,
            "avg_time_mins": 2.0,
            "completion_pct": 100.0,
            "course_completion_pct": 0.0,
            "avg_grade_pct": 60.0,  # no course total: items, 75 and 45
            "at_risk_count": 0,  # no score stored yet
        },
        {
            "course_id": "c3",
            "shortname": "EC1",
            "fullname": "Empty Course",
            "teachers": 0,
            "enrolled": 0,
            "active_7d": 0,
            "active_30d": 0,
            "active_in_period": 0,
            "events": 0,
            "avg_time_mins": 0.0,
            "completion_pct": None,
            "course_completion_pct": None,
            "avg_grade_pct": None,
            "at_risk_count": 0,  # no score stored yet
        },
    ]


async def test_teacher_course_health_of_a_past_week(
    queries: SqlReportQueries,
) -> None:
    rows = await report(
        queries,
        "teacher_course_health",
        course_id="c1",
        date_from="2026-02-20",
        date_to="2026-02-26",
    )

    # 7 days to 02-26: s1 on 02-25; 30 days (01-28 to 02-26): s1, s2, s3.
    assert pick(
        rows, "active_7d", "active_30d", "active_in_period", "events", "avg_time_mins"
    ) == [(1, 3, 1, 1, 1.0)]


# -- student_learning_profile ----------------------------------------------------------


def _start(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


async def test_student_learning_profile(queries: SqlReportQueries) -> None:
    rows = await report(queries, "student_learning_profile")

    assert rows[0] == {
        "user_id": "s1",
        "username": "ann",
        "full_name": "Ann Archer",
        "course_id": "c1",
        "course_shortname": "CS101",
        "status": "active",
        "enrolled_at": _start("2026-02-02"),
        "events": 5,
        "active_days": 4,
        "sessions": 4,
        "time_mins": 14.0,
        "last_active_day": date(2026, 3, 2),
        "grade_pct": 85.0,
        "completion_pct": 100.0,
        "course_completed": True,
        "risk_score": None,  # no score stored yet
        "risk_level": None,
    }
    assert pick(
        rows,
        "user_id",
        "course_id",
        "status",
        "enrolled_at",
        "events",
        "active_days",
        "sessions",
        "time_mins",
        "last_active_day",
        "grade_pct",
        "completion_pct",
        "course_completed",
    ) == [
        ("s1", "c1", "active", _start("2026-02-02"), 5, 4, 4, 14.0,
         date(2026, 3, 2), 85.0, 100.0, True),
        ("s2", "c1", "active", _start("2026-02-04T15:30:00"), 3, 3, 3, 3.0,
         date(2026, 3, 1), 45.0, 0.0, False),
        # s3's only grade is not graded yet, and c1 is graded on course totals.
        ("s3", "c1", "active", _start("2026-02-10"), 1, 1, 1, 1.0,
         date(2026, 2, 11), None, 0.0, False),
        ("s4", "c1", "suspended", _start("2026-02-03"), 1, 1, 1, 1.0,
         date(2026, 2, 3), 90.0, 50.0, False),
        ("s1", "c2", "active", _start("2026-02-16"), 2, 2, 2, 2.0,
         date(2026, 2, 24), 75.0, 100.0, False),
        ("s2", "c2", "active", _start("2026-02-17"), 0, 0, 0, 0.0,
         None, 45.0, 100.0, False),
    ]  # fmt: skip


async def test_student_learning_profile_period_and_course(
    queries: SqlReportQueries,
) -> None:
    rows = await report(
        queries,
        "student_learning_profile",
        course_id="c1",
        date_from="2026-02-01",
        date_to="2026-02-10",
    )

    # Up to 02-10: s1's 02-02 session and 02-10 view; last days stop at 02-10.
    assert pick(
        rows, "user_id", "events", "sessions", "time_mins", "last_active_day"
    ) == [
        ("s1", 3, 2, 12.0, date(2026, 2, 10)),
        ("s2", 1, 1, 1.0, date(2026, 2, 5)),
        ("s3", 0, 0, 0.0, None),
        ("s4", 1, 1, 1.0, date(2026, 2, 3)),
    ]


# -- assessment_performance ------------------------------------------------------------

ASSESSMENT = (
    "course_id",
    "item_id",
    "graded",
    "avg_pct",
    "median_pct",
    "min_pct",
    "max_pct",
    "passed",
    "pass_rate",
)


async def test_assessment_performance(queries: SqlReportQueries) -> None:
    rows = await report(queries, "assessment_performance")

    assert rows[0] == {
        "course_id": "c1",
        "course_shortname": "CS101",
        "item_id": "ct1",
        "item_name": "Course total",
        "item_type": "course",
        "grademin": 0.0,
        "grademax": 100.0,
        "gradepass": 50.0,
        "graded": 3,
        "avg_pct": 73.3,
        "median_pct": 85.0,
        "min_pct": 45.0,
        "max_pct": 90.0,
        "passed": 2,
        "pass_rate": 66.7,
        "late_submissions": None,
    }
    assert pick(rows, *ASSESSMENT) == [
        ("c1", "ct1", 3, 73.3, 85.0, 45.0, 90.0, 2, 66.7),
        ("c1", "q1", 3, 70.0, 80.0, 40.0, 90.0, 2, 66.7),
        ("c2", "a1", 2, 60.0, 60.0, 45.0, 75.0, None, None),
        ("c2", "q2", 0, None, None, None, None, 0, None),
    ]


async def test_assessment_performance_in_a_window(queries: SqlReportQueries) -> None:
    rows = await report(
        queries,
        "assessment_performance",
        date_from="2026-02-10",
        date_to="2026-02-28",
    )

    assert pick(rows, *ASSESSMENT) == [
        ("c1", "ct1", 2, 65.0, 65.0, 45.0, 85.0, 1, 50.0),
        ("c1", "q1", 2, 60.0, 60.0, 40.0, 80.0, 1, 50.0),
        ("c2", "a1", 1, 75.0, 75.0, 75.0, 75.0, None, None),
        ("c2", "q2", 0, None, None, None, None, 0, None),
    ]


# -- early_warning_summary -------------------------------------------------------------

WARNING = (
    "course_id",
    "enrolled",
    "inactive_0_7",
    "inactive_8_14",
    "inactive_15_30",
    "inactive_over_30",
    "never_active",
    "failing_grade",
    "low_completion",
)


async def test_early_warning_summary(queries: SqlReportQueries) -> None:
    rows = await report(queries, "early_warning_summary")

    assert rows[0] == {
        "course_id": "c1",
        "shortname": "CS101",
        "fullname": "Introduction to Python",
        "enrolled": 3,
        "inactive_0_7": 2,  # s1 (0 days), s2 (1)
        "inactive_8_14": 0,
        "inactive_15_30": 1,  # s3 (19)
        "inactive_over_30": 0,
        "never_active": 0,
        "failing_grade": 1,  # s2's course total 45 < 50
        "low_completion": 2,  # s2 and s3: 0 of 2 tracked modules
        "risk_low": 0,  # no score stored yet
        "risk_medium": 0,
        "risk_high": 0,
        "risk_critical": 0,
    }
    assert pick(rows, *WARNING) == [
        ("c1", 3, 2, 0, 1, 0, 0, 1, 2),
        ("c2", 2, 1, 0, 0, 0, 1, 0, 0),  # s1 (6 days), s2 never
        ("c3", 0, 0, 0, 0, 0, 0, 0, None),  # no tracked modules
    ]


@pytest.mark.parametrize(
    ("date_to", "c1_buckets"),
    [
        # s1 last 02-10 (8 days), s2 02-12 (6), s3 02-11 (7): the 7/8 boundary.
        ("2026-02-18", (2, 1, 0, 0, 0)),
        # s1 03-02 (11 days), s2 03-01 (12), s3 02-11 (30): the 30 boundary.
        ("2026-03-13", (0, 2, 1, 0, 0)),
        ("2026-03-14", (0, 2, 0, 1, 0)),
        # Before anyone came.
        ("2026-02-01", (0, 0, 0, 0, 3)),
    ],
)
async def test_early_warning_buckets_as_of_a_day(
    queries: SqlReportQueries, date_to: str, c1_buckets: tuple[int, ...]
) -> None:
    rows = await report(
        queries, "early_warning_summary", date_to=date_to, course_id="c1"
    )

    assert pick(rows, *WARNING[2:7]) == [c1_buckets]


# -- stored risk scores ----------------------------------------------------------------

#: Stored scores (user, course, score, level); course "" is the overall score. s4's is
#: left from before their suspension, t1's from a score the teacher never gets (kept
#: to show the role is checked), s1's in c3 from an enrolment that is gone; s2 in c2
#: was scored with nothing known (null score and level).
SCORES = [
    ("s1", "c1", 80.0, "critical"),
    ("s2", "c1", 60.0, "high"),
    ("s3", "c1", 30.0, "medium"),
    ("s4", "c1", 90.0, "critical"),
    ("t1", "c1", 70.0, "high"),
    ("s1", "c2", 10.0, "low"),
    ("s2", "c2", None, None),
    ("s1", "c3", 95.0, "critical"),
    ("s1", "", 80.0, "critical"),
    ("s2", "", 60.0, "high"),
    ("s3", "", 30.0, "medium"),
]
RISK_LEVELS = ("risk_low", "risk_medium", "risk_high", "risk_critical")


async def save_scores(
    store: SqlStore, tenant: TenantRecord, scores: list[tuple[Any, ...]]
) -> None:
    """Store ``scores`` as a recompute would (the tenant's rows replaced)."""
    rows = [
        ScoreRow(user, course, score, level, {"course_id": course or None})
        for user, course, score, level in scores
    ]
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    await (
        store.for_tenant(tenant.tenant_id)
        .risk()
        .save_scores(rows, as_of=at, computed_at=at)
    )


async def test_reports_count_stored_risk_by_course_score(
    queries: SqlReportQueries,
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
) -> None:
    other = await make_tenant(store, clock, name="Other U")
    everyone_critical = [
        (user, course, 99.0, "critical") for user, course, *_ in SCORES
    ]
    await save_scores(store, other, everyone_critical)
    await save_scores(store, tenant, SCORES)

    # c1's active students are s1 (critical), s2 (high) and s3 (medium); s4 is
    # suspended and t1 teaches. c2: s1 low, s2 scored without a level.
    health = await report(queries, "teacher_course_health")
    assert pick(health, "course_id", "enrolled", "at_risk_count") == [
        ("c1", 3, 2),
        ("c2", 2, 0),
        ("c3", 0, 0),
    ]
    warning = await report(queries, "early_warning_summary")
    assert pick(warning, "course_id", "enrolled", *RISK_LEVELS) == [
        ("c1", 3, 0, 1, 1, 1),
        ("c2", 2, 1, 0, 0, 0),
        ("c3", 0, 0, 0, 0, 0),
    ]
    profile = await report(queries, "student_learning_profile")
    assert pick(
        profile, "user_id", "course_id", "status", "risk_score", "risk_level"
    ) == [
        ("s1", "c1", "active", 80.0, "critical"),
        ("s2", "c1", "active", 60.0, "high"),
        ("s3", "c1", "active", 30.0, "medium"),
        ("s4", "c1", "suspended", 90.0, "critical"),  # the score left stored
        ("s1", "c2", "active", 10.0, "low"),
        ("s2", "c2", "active", None, None),
    ]

    one_course = {"course_id": "c1", "date_to": "2026-02-20"}
    assert pick(
        await report(queries, "teacher_course_health", **one_course),
        "course_id",
        "at_risk_count",
    ) == [("c1", 2)]
    assert pick(
        await report(queries, "early_warning_summary", **one_course), *RISK_LEVELS
    ) == [(0, 1, 1, 1)]


async def test_risk_counts_follow_the_stored_scores(
    queries: SqlReportQueries, store: SqlStore, tenant: TenantRecord
) -> None:
    await save_scores(store, tenant, SCORES)
    # A later recompute: s1 fell to medium in c1, s3 rose to critical, s2's overall
    # score alone is high (never counted in a course row).
    await save_scores(
        store,
        tenant,
        [
            ("s1", "c1", 40.0, "medium"),
            ("s2", "c1", 20.0, "low"),
            ("s3", "c1", 75.0, "critical"),
            ("s2", "", 55.0, "high"),
        ],
    )

    health = await report(queries, "teacher_course_health", course_id="c1")
    assert pick(health, "at_risk_count") == [(1,)]
    warning = await report(queries, "early_warning_summary")
    assert pick(warning, "course_id", *RISK_LEVELS) == [
        ("c1", 1, 1, 0, 1),
        ("c2", 0, 0, 0, 0),  # c2's scores are gone
        ("c3", 0, 0, 0, 0),
    ]
    profile = await report(queries, "student_learning_profile", course_id="c2")
    assert pick(profile, "risk_score", "risk_level") == [(None, None), (None, None)]


# -- tenancy, streaming, artifacts -----------------------------------------------------


async def test_reports_see_only_their_tenant(
    queries: SqlReportQueries,
    store: SqlStore,
    clock: FixedClock,
    settings: Settings,
) -> None:
    before = {kind: await report(queries, kind) for kind in REPORTS}
    other = await make_tenant(store, clock, name="Other U")
    key = await make_key(store, clock, other)
    await load(ApiClient(SseaApp(store, settings, clock=clock), {"X-SSEA-Key": key}))

    after = {kind: await report(queries, kind) for kind in REPORTS}
    mirror = SqlReportQueries(store.executor, other.tenant_id)
    assert after == before
    assert (
        await report(mirror, "early_warning_summary") == before["early_warning_summary"]
    )


async def test_rows_stream_in_batches(
    queries: SqlReportQueries, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = await report(queries, "student_learning_profile")
    monkeypatch.setattr(report_sql, "BATCH_ROWS", 2)

    assert await report(queries, "student_learning_profile") == whole


async def test_stopping_early_releases_the_connection(
    queries: SqlReportQueries,
) -> None:
    request = resolve_request("student_learning_profile", {}, TODAY)
    for _ in range(8):  # more than a pool holds, were connections leaked
        async with aclosing(queries.rows(request)) as rows:
            first = await anext(rows)
        assert first["user_id"] == "s1"

    assert len(await report(queries, "student_learning_profile")) == 6


@pytest.mark.parametrize("report_format", ["csv", "json"])
@pytest.mark.parametrize("report_type", list(REPORTS))
async def test_exports_parse_back_to_the_rows(
    queries: SqlReportQueries,
    tenant: TenantRecord,
    tmp_path: Path,
    report_type: ReportType,
    report_format: Any,
) -> None:
    request = resolve_request(report_type, {}, TODAY, report_format)
    artifacts = FsspecArtifactStore(f"file://{tmp_path}")
    key = f"reports/job_1/{report_type}.{report_format}"

    result = await export_report(request, queries, artifacts, tenant.tenant_id, key)

    data = (tmp_path / str(tenant.tenant_id) / key).read_bytes()
    definition = REPORTS[report_type]
    parse = parse_csv if report_format == "csv" else parse_json
    expected = await report(queries, report_type)
    assert parse(definition, data.decode()) == expected
    assert (result.rows, result.bytes) == (len(expected), len(data))
    if report_format == "csv":
        header = next(csv.reader(io.StringIO(data.decode())))
        assert tuple(header) == definition.names
        assert data.count(b"\r\n") == len(expected) + 1


# -- one real data set -----------------------------------------------------------------


def _half_up(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def oulad_item_expectations(folder: Path, course: tuple[str, str]) -> list[Any]:
    """Per assessment of one presentation, from the raw CSV with the csv module."""
    with (folder / "assessments.csv").open(newline="", encoding="utf-8") as handle:
        ids = {
            row["id_assessment"]
            for row in csv.DictReader(handle)
            if (row["code_module"], row["code_presentation"]) == course
        }
    scores: dict[str, list[float]] = {identity: [] for identity in ids}
    path = folder / "studentAssessment_Jpresentations_subset.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["id_assessment"] in ids and row["score"].strip():
                scores[row["id_assessment"]].append(float(row["score"]))
    expected = []
    for identity, values in sorted(
        scores.items(), key=lambda item: f"assessment-{item[0]}"
    ):
        if not values:
            continue
        passed = sum(1 for value in values if value >= 40)  # OULAD's pass mark
        expected.append(
            (
                f"assessment-{identity}",
                len(values),
                _half_up(statistics.fmean(values)),
                _half_up(statistics.median(values)),
                _half_up(min(values)),
                _half_up(max(values)),
                passed,
                _half_up(passed * 100 / len(values)),
            )
        )
    return expected


@pytest.mark.realdata
async def test_assessment_performance_on_oulad(
    real_data: Path,
    store: SqlStore,
    settings: Settings,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    oulad = real_data / "oulad"
    # One presentation's submissions (AAA 2013J: 940 rows), kept as they are.
    for name in ("courses.csv", "assessments.csv"):
        (tmp_path / name).symlink_to(oulad / name)
    source_rows = (oulad / "studentAssessment_Jpresentations_subset.csv").read_text(
        encoding="utf-8"
    )
    wanted = {str(identity) for identity in range(1752, 1758)}
    lines = source_rows.splitlines(keepends=True)
    kept = [lines[0], *(line for line in lines[1:] if line.split(",")[0] in wanted)]
    (tmp_path / "studentAssessment_Jpresentations_subset.csv").write_text(
        "".join(kept), encoding="utf-8"
    )
    tenant = await make_tenant(store, clock, plan="enterprise")
    ingestor = Ingestor(Services(store, settings, clock))
    summary = await import_into(ingestor, tenant.tenant_id, OuladSource(tmp_path))
    assert summary.stored == len(kept) - 1

    queries = SqlReportQueries(store.executor, tenant.tenant_id)
    rows = await report(queries, "assessment_performance", course_id="AAA-2013J")

    expected = oulad_item_expectations(tmp_path, ("AAA", "2013J"))
    assert len(expected) == 3  # the subset holds AAA 2013J's first three TMAs
    assert (
        pick(
            rows,
            "item_id",
            "graded",
            "avg_pct",
            "median_pct",
            "min_pct",
            "max_pct",
            "passed",
            "pass_rate",
        )
        == expected
    )
    assert {(row["grademin"], row["grademax"], row["gradepass"]) for row in rows} == {
        (0.0, 100.0, 40.0)
    }
