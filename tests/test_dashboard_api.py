"""The dashboard reads (SPEC §3) against a small tenant with hand-computed answers.

The clock stands at 2026-03-02 12:00 UTC (a Monday), so the default period of 30 days
is 2026-02-01 to 2026-03-02. Sessions use the defaults: 30 minutes gap, 60 s tail.

Activity (counted events only), and what it rolls up to:
- u1 Alice: Feb 20 09:00 view c1 (a session of 60 s); Mar 1 10:00 login, 10:05 view
  c1, 10:20 quiz m1 (one session: 300 + 900 + 60 s), 11:30 view c2 (a new session,
  60 s). A 10:10 view from the CLI is stored but not counted. 5 events, 3 sessions,
  1380 s (23 min).
- u2 Bob: Mar 2 08:00 view c1, 08:10 assignment m2, 08:15 logout: one session of
  600 + 300 + 60 = 960 s (16 min).
- t1 Tina (teacher): Feb 25 14:00 and 14:40 views of c1: two sessions of 60 s.
- u4 Dave (deleted): Feb 15 12:00 view of c2: one session of 60 s.
- 99 (never synced): Jan 15 10:00 view of c1, before the default period.
- u3 Carol: catalogue only, no events.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete

from ssea_core.records import TenantRecord
from ssea_storage.sql.schema import events as events_table
from ssea_storage.sql.store import SqlStore
from tests.conftest import make_key, make_tenant
from tests.support import ApiClient

USERS = [
    {
        "user_id": "u1",
        "username": "alice",
        "full_name": "Alice Archer",
        "email": "alice@example.edu",
    },
    {"user_id": "u2", "username": "bob", "full_name": "Bob Baker"},
    {"user_id": "u3", "username": "carol", "full_name": "Carol Chen"},
    {"user_id": "u4", "username": "dave", "full_name": "Dave Deleted"},
    {"user_id": "t1", "username": "tina", "full_name": "Tina Teacher"},
]
COURSES = [
    {"course_id": "c1", "shortname": "CS101", "fullname": "Introduction to Python"},
    {"course_id": "c2", "shortname": "DS201", "fullname": "Data Science"},
    {"course_id": "c3", "shortname": "EC1", "fullname": "Empty Course"},
]
MODULES = [
    {
        "module_id": "m1",
        "course_id": "c1",
        "modname": "quiz",
        "name": "Quiz 1",
        "completion_enabled": True,
    },
    {
        "module_id": "m2",
        "course_id": "c1",
        "modname": "assign",
        "name": "Essay",
        "completion_enabled": True,
    },
    {"module_id": "m3", "course_id": "c1", "modname": "page", "name": "Reading"},
    {
        "module_id": "m4",
        "course_id": "c2",
        "modname": "assign",
        "name": "Project",
        "completion_enabled": True,
    },
    {
        "module_id": "m5",
        "course_id": "c2",
        "modname": "quiz",
        "name": "Hidden quiz",
        "completion_enabled": True,
        "visible": False,
    },
]


def _enrolment(user: str, course: str, role: str, start: str, **extra: Any) -> Any:
    return {
        "user_id": user,
        "course_id": course,
        "role": role,
        "time_start": start,
        **extra,
    }


ENROLMENTS = [
    _enrolment("u1", "c1", "student", "2026-02-20"),
    _enrolment("u2", "c1", "student", "2026-01-10"),
    _enrolment("u3", "c1", "student", "2026-02-25", status="suspended"),
    _enrolment("t1", "c1", "editingteacher", "2025-12-01"),
    _enrolment("u1", "c2", "student", "2026-01-05"),
    _enrolment("u3", "c2", "student", "2026-03-01"),
]


def _completion(user: str, course: str, module: str | None, state: str) -> Any:
    return {"user_id": user, "course_id": course, "module_id": module, "state": state}


COMPLETIONS = [
    _completion("u1", "c1", "m1", "complete"),
    _completion("u1", "c1", "m2", "complete_pass"),
    _completion("u2", "c1", "m1", "complete_fail"),
    _completion("u2", "c1", "m2", "complete"),
    _completion("u3", "c1", "m1", "complete"),  # suspended: not a student now
    _completion("u1", "c1", None, "complete"),  # the whole course
    _completion("u1", "c2", "m4", "complete"),
    _completion("u1", "c2", "m5", "complete"),  # hidden module: not tracked
    _completion("u3", "c2", "m4", "incomplete"),
]


def _grade(user: str, course: str, item: str, final: float | None, **item_fields: Any):
    return {
        "user_id": user,
        "course_id": course,
        "item_id": item,
        "finalgrade": final,
        **item_fields,
    }


QUIZ = {"item_name": "Quiz 1", "item_type": "mod", "grademax": 10, "gradepass": 5}
TOTAL = {"item_name": "Course total", "item_type": "course", "gradepass": 50}
PROJECT = {"item_name": "Project", "item_type": "mod", "grademax": 20}
GRADES = [
    _grade("u1", "c1", "q1", 8, **QUIZ),  # 80 %
    _grade("u2", "c1", "q1", 4, **QUIZ),  # 40 %
    _grade("u3", "c1", "q1", None, **QUIZ),  # not graded yet
    _grade("u1", "c1", "ct1", 85, **TOTAL),
    _grade("u2", "c1", "ct1", 45, **TOTAL),
    _grade("u1", "c2", "a1", 15, **PROJECT),  # 75 %
    _grade("u3", "c2", "a1", 9, **PROJECT),  # 45 %
]


def _event(kind: str, user: str, at: str, course: str | None = None, **extra: Any):
    event: dict[str, Any] = {"event_type": kind, "user_id": user, "timestamp": at}
    if course is not None:
        event["course_id"] = course
    return {**event, **extra}


QUIZ_META = {
    "attempt_number": 1,
    "score_percent": 80.0,
    "raw_score": 8,
    "time_taken_seconds": 600,
    "state": "finished",
}
ESSAY_META = {
    "submission_status": "submitted",
    "is_late": False,
    "due_date": "2026-03-05T00:00:00Z",
}
EVENTS = [
    _event("course_viewed", "u1", "2026-02-20T09:00:00Z", "c1"),
    _event("user_login", "u1", "2026-03-01T10:00:00Z"),
    _event("course_viewed", "u1", "2026-03-01T10:05:00Z", "c1"),
    _event("course_viewed", "u1", "2026-03-01T10:10:00Z", "c1", origin="cli"),
    _event(
        "quiz_submitted",
        "u1",
        "2026-03-01T10:20:00Z",
        "c1",
        module_id="m1",
        metadata=QUIZ_META,
    ),
    _event("course_viewed", "u1", "2026-03-01T11:30:00Z", "c2"),
    _event("course_viewed", "u2", "2026-03-02T08:00:00Z", "c1"),
    _event(
        "assignment_submitted",
        "u2",
        "2026-03-02T08:10:00Z",
        "c1",
        module_id="m2",
        metadata=ESSAY_META,
    ),
    _event("user_logout", "u2", "2026-03-02T08:15:00Z"),
    _event("course_viewed", "t1", "2026-02-25T14:00:00Z", "c1"),
    _event("course_viewed", "t1", "2026-02-25T14:40:00Z", "c1"),
    _event("course_viewed", "u4", "2026-02-15T12:00:00Z", "c2"),
    _event("course_viewed", "99", "2026-01-15T10:00:00Z", "c1"),
]

CATALOGUE = [
    ("users", USERS),
    ("users", [{"user_id": "u4", "deleted": True}]),
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
    assert answer.json()["data"] == {
        "queued": len(EVENTS),
        "skipped": 0,
        "duplicates": 0,
        "errors": [],
    }


@pytest.fixture
async def api(client: ApiClient, tenant: TenantRecord) -> Reader:
    await load(client)
    return Reader(client, f"/v1/tenants/{tenant.tenant_id}")


class Reader:
    """GETs under one tenant's prefix that expect a status."""

    def __init__(self, client: ApiClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    async def get(self, path: str, status: int = 200, **params: Any) -> Any:
        answer = await self.client.get(self.prefix + path, params=params)
        assert answer.status == status, answer.body
        return answer.json()

    async def page(self, path: str, **params: Any) -> tuple[Any, int]:
        answer = await self.client.get(self.prefix + path, params=params)
        assert answer.status == 200, answer.body
        return answer.json(), int(answer.headers["x-total-count"])


def _zeros() -> list[list[int]]:
    return [[0] * 24 for _ in range(7)]


# -- overview and trends ---------------------------------------------------------------


async def test_overview_default_period(api: Reader, tenant: TenantRecord) -> None:
    assert await api.get("/overview") == {
        "tenant_id": str(tenant.tenant_id),
        "period_days": 30,
        "total_events": 11,
        "active_users": 4,
        "total_sessions": 7,
        "avg_time_spent_mins": 10.5,  # 2520 s = 42 min over 4 users
        "at_risk_count": 0,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"days": 1}, (1, 3, 1, 1, 16.0)),
        ({"days": 2}, (2, 7, 2, 3, 19.0)),
        ({"from": "2026-03-01"}, (2, 7, 2, 3, 19.0)),
        ({"from": "2026-01-01", "to": "2026-01-31"}, (31, 1, 1, 1, 1.0)),
        ({"to": "2026-02-25"}, (30, 4, 3, 4, 1.3)),
        ({"days": 1, "to": "2026-02-20"}, (1, 1, 1, 1, 1.0)),
        ({"from": "2026-04-01", "to": "2026-04-02"}, (2, 0, 0, 0, 0.0)),
    ],
)
async def test_overview_periods(
    api: Reader, params: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    body = await api.get("/overview", **params)
    assert (
        body["period_days"],
        body["total_events"],
        body["active_users"],
        body["total_sessions"],
        body["avg_time_spent_mins"],
    ) == expected


async def test_trends_by_day_include_empty_days(api: Reader) -> None:
    body = await api.get("/overview/trends", days=7)
    assert body["granularity"] == "day"
    assert (body["from"], body["to"]) == ("2026-02-24", "2026-03-02")
    zero = {"events": 0, "active_users": 0, "sessions": 0}
    assert body["series"] == [
        {"bucket": "2026-02-24", **zero},
        {"bucket": "2026-02-25", "events": 2, "active_users": 1, "sessions": 2},
        {"bucket": "2026-02-26", **zero},
        {"bucket": "2026-02-27", **zero},
        {"bucket": "2026-02-28", **zero},
        {"bucket": "2026-03-01", "events": 4, "active_users": 1, "sessions": 2},
        {"bucket": "2026-03-02", "events": 3, "active_users": 1, "sessions": 1},
    ]


async def test_trends_by_hour(api: Reader) -> None:
    body = await api.get("/overview/trends", days=1, granularity="hour")
    series = body["series"]
    assert len(series) == 24
    assert series[0]["bucket"] == "2026-03-02T00:00:00Z"
    assert series[8] == {
        "bucket": "2026-03-02T08:00:00Z",
        "events": 3,
        "active_users": None,
        "sessions": 1,
    }
    assert sum(point["events"] for point in series) == 3
    assert all(point["active_users"] is None for point in series)


async def test_trends_by_hour_are_capped(api: Reader) -> None:
    body = await api.get("/overview/trends", status=400, days=32, granularity="hour")
    assert body["code"] == "BAD_REQUEST"
    assert "31 days" in body["error"]


# -- users -----------------------------------------------------------------------------


def _user(user_id: str, events: int, minutes: int, last_seen: str | None) -> Any:
    names = {row["user_id"]: row for row in USERS}.get(user_id, {})
    return {
        "user_id": user_id,
        "username": names.get("username"),
        "full_name": names.get("full_name"),
        "last_seen_at": last_seen,
        "total_events": events,
        "total_time_mins": minutes,
        "risk_level": None,
        "risk_score": None,
    }


U1 = _user("u1", 5, 23, "2026-03-01T11:30:00Z")
U2 = _user("u2", 3, 16, "2026-03-02T08:15:00Z")
T1 = _user("t1", 2, 2, "2026-02-25T14:40:00Z")
U3 = _user("u3", 0, 0, None)
GHOST = _user("99", 0, 0, "2026-01-15T10:00:00Z")


async def test_users_list(api: Reader) -> None:
    body, total = await api.page("/users")
    assert body == [U1, U2, T1, GHOST, U3]  # deleted u4 is hidden
    assert total == 5


@pytest.mark.parametrize("sort", ["events_desc", "name_asc"])
async def test_users_past_the_end_still_count(api: Reader, sort: str) -> None:
    last, total = await api.page("/users", sort=sort, limit=2, offset=4)
    beyond, beyond_total = await api.page("/users", sort=sort, limit=2, offset=9)
    nobody, none_total = await api.page("/users", sort=sort, q="nobody-here")

    assert (len(last), total) == (1, 5)
    assert (beyond, beyond_total) == ([], 5)
    assert (nobody, none_total) == ([], 0)


@pytest.mark.parametrize("sort", ["name_asc", "last_seen_desc", "last_seen_asc"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"days": 1},
        {"from": "2026-01-01", "to": "2026-01-31"},
        {"course_id": "c1"},
        {"limit": 2, "offset": 1},
    ],
)
async def test_users_in_any_order_carry_the_same_totals(
    api: Reader, sort: str, params: dict[str, Any]
) -> None:
    # These orders cut the page first and sum only its users' rollups afterwards.
    page = {"limit": 200} if "limit" not in params else {}
    ordered, total = await api.page("/users", sort=sort, **{**page, **params})
    every, _ = await api.page("/users", **{**params, "limit": 200, "offset": 0})
    by_id = {row["user_id"]: row for row in every}

    assert ordered == [by_id[row["user_id"]] for row in ordered]
    assert len(ordered) == (2 if "limit" in params else total)
    assert any(row["total_events"] for row in ordered) or params == {"days": 1}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort": "name_asc"}, ["u1", "u2", "u3", "t1", "99"]),
        ({"sort": "last_seen_desc"}, ["u2", "u1", "t1", "99", "u3"]),
        ({"sort": "last_seen_asc"}, ["99", "t1", "u1", "u2", "u3"]),
        ({"sort": "events_asc"}, ["99", "u3", "t1", "u2", "u1"]),
        ({"sort": "time_desc"}, ["u1", "u2", "t1", "99", "u3"]),
        ({"role": "student"}, ["u1", "u2", "u3"]),
        ({"role": "editingteacher"}, ["t1"]),
        ({"role": "manager"}, []),
        ({"q": "AR"}, ["u1", "u3"]),
        ({"q": "bob"}, ["u2"]),
        ({"q": "%"}, []),
        ({"course_id": "nope"}, []),
        ({"risk_level": "high"}, []),
        ({"from": "2026-01-01", "to": "2026-01-31"}, ["99", "t1", "u1", "u2", "u3"]),
    ],
)
async def test_users_filters_and_order(
    api: Reader, params: dict[str, Any], expected: list[str]
) -> None:
    body, total = await api.page("/users", **params)
    assert [row["user_id"] for row in body] == expected
    assert total == len(expected)


async def test_users_in_a_course_count_that_course_only(api: Reader) -> None:
    body, total = await api.page("/users", course_id="c2")
    assert body == [
        {**U1, "total_events": 1, "total_time_mins": 1},
        U3,
    ]
    assert total == 2


async def test_users_pagination(api: Reader) -> None:
    assert await api.page("/users", limit=2, offset=1) == ([U2, T1], 5)
    assert await api.page("/users", limit=2, offset=4) == ([U3], 5)
    assert await api.page("/users", offset=10) == ([], 5)


async def test_user_profile(api: Reader) -> None:
    body = await api.get("/users/u1")
    assert body["user"] == {
        **U1,
        "email": "alice@example.edu",
        "suspended": False,
        "first_seen_at": "2026-02-20T09:00:00Z",
    }
    assert body["courses"] == [
        {
            "course_id": "c1",
            "fullname": "Introduction to Python",
            "shortname": "CS101",
            "role": "student",
            "status": "active",
            "progress_pct": 100.0,
            "grade_pct": 85.0,  # the course total, not the quiz
        },
        {
            "course_id": "c2",
            "fullname": "Data Science",
            "shortname": "DS201",
            "role": "student",
            "status": "active",
            "progress_pct": 100.0,  # m5 is hidden, so m4 is the only tracked one
            "grade_pct": 75.0,
        },
    ]
    timeline = {row["day"]: row for row in body["timeline"]}
    assert len(body["timeline"]) == 30
    assert body["timeline"][0]["day"] == "2026-02-01"
    assert timeline["2026-02-20"] == {
        "day": "2026-02-20",
        "events": 1,
        "sessions": 1,
        "time_mins": 1.0,
    }
    assert timeline["2026-03-01"] == {
        "day": "2026-03-01",
        "events": 4,
        "sessions": 2,
        "time_mins": 22.0,
    }
    assert sum(row["events"] for row in body["timeline"]) == 5
    assert body["quiz_attempts"] == [
        {
            "course_id": "c1",
            "module_id": "m1",
            "module_name": "Quiz 1",
            "submitted_at": "2026-03-01T10:20:00Z",
            "attempt_number": 1,
            "score_percent": 80.0,
            "raw_score": 8.0,
            "time_taken_seconds": 600,
            "state": "finished",
        }
    ]
    assert body["assignment_submissions"] == []
    assert body["risk"] is None


async def test_user_profile_submissions_and_progress(api: Reader) -> None:
    body = await api.get("/users/u2", days=1)
    assert body["user"]["total_events"] == 3
    assert [row["day"] for row in body["timeline"]] == ["2026-03-02"]
    assert body["courses"] == [
        {
            "course_id": "c1",
            "fullname": "Introduction to Python",
            "shortname": "CS101",
            "role": "student",
            "status": "active",
            "progress_pct": 50.0,  # m2 complete, m1 complete_fail
            "grade_pct": 45.0,
        }
    ]
    assert body["assignment_submissions"] == [
        {
            "course_id": "c1",
            "module_id": "m2",
            "module_name": "Essay",
            "submitted_at": "2026-03-02T08:10:00Z",
            "submission_status": "submitted",
            "is_late": False,
            "due_date": "2026-03-05T00:00:00Z",
        }
    ]


async def test_profile_of_a_user_known_only_from_events(api: Reader) -> None:
    body = await api.get("/users/99", **{"from": "2026-01-15", "to": "2026-01-15"})
    assert body["user"] == {
        **GHOST,
        "total_events": 1,
        "total_time_mins": 1,
        "email": None,
        "suspended": False,
        "first_seen_at": "2026-01-15T10:00:00Z",
    }
    assert body["courses"] == []


@pytest.mark.parametrize("user_id", ["nobody", "u4"])
async def test_unknown_or_deleted_user_is_404(api: Reader, user_id: str) -> None:
    body = await api.get(f"/users/{user_id}", status=404)
    assert body == {
        "ok": False,
        "error": f"No user '{user_id}' in this tenant.",
        "code": "NOT_FOUND",
    }


# -- top and heatmap -------------------------------------------------------------------


async def test_top(api: Reader) -> None:
    assert await api.get("/top") == {
        "users": [
            {
                "user_id": "u1",
                "username": "alice",
                "full_name": "Alice Archer",
                "total_events": 5,
                "total_time_mins": 23,
            },
            {
                "user_id": "u2",
                "username": "bob",
                "full_name": "Bob Baker",
                "total_events": 3,
                "total_time_mins": 16,
            },
            {
                "user_id": "t1",
                "username": "tina",
                "full_name": "Tina Teacher",
                "total_events": 2,
                "total_time_mins": 2,
            },
        ],
        "courses": [
            {
                "course_id": "c1",
                "fullname": "Introduction to Python",
                "shortname": "CS101",
                "total_events": 7,
                "active_users": 3,
            },
            {
                "course_id": "c2",
                "fullname": "Data Science",
                "shortname": "DS201",
                "total_events": 2,
                "active_users": 2,
            },
        ],
    }
    small = await api.get("/top", limit=1)
    assert [row["user_id"] for row in small["users"]] == ["u1"]
    assert [row["course_id"] for row in small["courses"]] == ["c1"]


async def test_heatmap_in_utc(api: Reader) -> None:
    cells = _zeros()
    cells[0][8] = 3  # Mon Mar 2 08h: u2
    cells[2][14] = 2  # Wed Feb 25 14h: t1
    cells[4][9] = 1  # Fri Feb 20 09h: u1
    cells[6][10] = 3  # Sun Mar 1 10h: u1 (the CLI event does not count)
    cells[6][11] = 1  # Sun Mar 1 11h: u1
    cells[6][12] = 1  # Sun Feb 15 12h: u4
    assert await api.get("/heatmap") == {
        "tz": "UTC",
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "cells": cells,
    }


async def test_heatmap_in_a_zone_that_moves_days(api: Reader) -> None:
    cells = _zeros()  # UTC+14: Sunday 10h and 11h UTC are Monday 0h and 1h
    cells[0][22] = 3
    cells[0][0] = 3
    cells[0][1] = 1
    cells[3][4] = 2
    cells[4][23] = 1
    cells[0][2] = 1
    body = await api.get("/heatmap", tz="Pacific/Kiritimati")
    assert body["tz"] == "Pacific/Kiritimati"
    assert body["cells"] == cells


async def test_heatmap_defaults_to_the_tenant_zone(
    store: SqlStore, clock: Any, app: Any
) -> None:
    tenant = await store.operator.create_tenant(
        "Tokyo U", "pro", now=clock.now(), timezone="Asia/Tokyo"
    )
    client = ApiClient(app, {"X-SSEA-Key": await make_key(store, clock, tenant)})
    event = _event("course_viewed", "u1", "2026-03-01T10:00:00Z", "c1")
    answer = await client.post("/v1/events/batch", json_body={"events": [event]})
    assert answer.status == 202
    answer = await client.get(f"/v1/tenants/{tenant.tenant_id}/heatmap")
    cells = _zeros()
    cells[6][19] = 1  # Sunday 10h UTC is 19h in Tokyo
    assert answer.json() == {
        "tz": "Asia/Tokyo",
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "cells": cells,
    }


# -- courses, enrolments, grades, completion -------------------------------------------

C1 = {
    "course_id": "c1",
    "fullname": "Introduction to Python",
    "shortname": "CS101",
    "active_users": 3,
    "total_events": 7,
    "avg_time_mins": 11.3,  # 2040 s = 34 min over 3 users
    "enrolled": 2,  # u3 is suspended, t1 teaches
    "completion_pct": 75.0,  # 3 of 2 students x 2 tracked modules
    "avg_grade_pct": 65.0,  # course totals 85 and 45
    "at_risk_count": 0,
}
C2 = {
    "course_id": "c2",
    "fullname": "Data Science",
    "shortname": "DS201",
    "active_users": 2,
    "total_events": 2,
    "avg_time_mins": 1.0,
    "enrolled": 2,
    "completion_pct": 50.0,  # 1 of 2 students x 1 tracked module
    "avg_grade_pct": 60.0,  # no course total: items 75 and 45
    "at_risk_count": 0,
}
C3 = {
    "course_id": "c3",
    "fullname": "Empty Course",
    "shortname": "EC1",
    "active_users": 0,
    "total_events": 0,
    "avg_time_mins": 0.0,
    "enrolled": 0,
    "completion_pct": None,
    "avg_grade_pct": None,
    "at_risk_count": 0,
}


async def test_courses(api: Reader) -> None:
    assert await api.page("/courses") == ([C1, C2, C3], 3)
    assert await api.page("/courses", limit=1, offset=1) == ([C2], 3)
    names, _ = await api.page("/courses", sort="name_asc")
    assert [row["course_id"] for row in names] == ["c2", "c3", "c1"]
    busy, _ = await api.page("/courses", sort="active_users_desc")
    assert [row["course_id"] for row in busy] == ["c1", "c2", "c3"]


async def test_courses_include_courses_known_only_from_events(api: Reader) -> None:
    body, total = await api.page(
        "/courses", **{"from": "2026-01-15", "to": "2026-01-15"}
    )
    assert total == 3
    assert body[0] == {
        **C1,
        "active_users": 1,
        "total_events": 1,
        "avg_time_mins": 1.0,
    }


async def test_enrollments(api: Reader) -> None:
    c1 = {"course_id": "c1", "fullname": "Introduction to Python", "shortname": "CS101"}
    c2 = {"course_id": "c2", "fullname": "Data Science", "shortname": "DS201"}
    expected = [
        {
            **c1,
            "role": "editingteacher",
            "total": 1,
            "active": 1,
            "suspended": 0,
            "new_in_period": 0,
        },
        {
            **c1,
            "role": "student",
            "total": 3,
            "active": 2,
            "suspended": 1,
            "new_in_period": 2,
        },
        {
            **c2,
            "role": "student",
            "total": 2,
            "active": 2,
            "suspended": 0,
            "new_in_period": 1,
        },
    ]
    assert await api.page("/enrollments") == (expected, 3)
    assert await api.page("/enrollments", limit=1, offset=2) == (expected[2:], 3)
    body, _ = await api.page("/enrollments", days=1)
    assert [row["new_in_period"] for row in body] == [0, 0, 0]


def _bins(**counts: int) -> list[dict[str, int]]:
    return [
        {"from": low, "to": low + 10, "count": counts.get(f"b{low}", 0)}
        for low in range(0, 100, 10)
    ]


async def test_tenant_grades(api: Reader) -> None:
    assert await api.get("/grades") == {
        "count": 4,  # c1's course totals 85 and 45, c2's items 75 and 45
        "avg": 62.5,
        "min": 45.0,
        "max": 85.0,
        "median": 60.0,
        "pass_rate": 50.0,  # only c1's total has a pass mark
        "histogram": _bins(b40=2, b70=1, b80=1),
    }


async def test_course_grades(api: Reader) -> None:
    quiz = {
        "item_id": "q1",
        "item_name": "Quiz 1",
        "item_type": "mod",
        "grademin": 0.0,
        "grademax": 10.0,
        "gradepass": 5.0,
        "count": 2,
        "avg": 60.0,
        "min": 40.0,
        "max": 80.0,
        "median": 60.0,
        "pass_rate": 50.0,
        "histogram": _bins(b40=1, b80=1),
    }
    total = {
        "item_id": "ct1",
        "item_name": "Course total",
        "item_type": "course",
        "grademin": 0.0,
        "grademax": 100.0,
        "gradepass": 50.0,
        "count": 2,
        "avg": 65.0,
        "min": 45.0,
        "max": 85.0,
        "median": 65.0,
        "pass_rate": 50.0,
        "histogram": _bins(b40=1, b80=1),
    }
    assert await api.page("/courses/c1/grades") == ([quiz, total], 2)
    assert await api.page("/courses/c1/grades", limit=1, offset=1) == ([total], 2)
    c2, _ = await api.page("/courses/c2/grades")
    assert c2[0]["pass_rate"] is None
    assert (c2[0]["count"], c2[0]["median"]) == (2, 60.0)
    assert await api.page("/courses/c3/grades") == ([], 0)


async def test_completion(api: Reader) -> None:
    expected = [
        {
            "course_id": "c1",
            "fullname": "Introduction to Python",
            "shortname": "CS101",
            "students": 2,
            "tracked_modules": 2,
            "completion_pct": 75.0,
            "course_completed": 1,
            "course_completion_pct": 50.0,
        },
        {
            "course_id": "c2",
            "fullname": "Data Science",
            "shortname": "DS201",
            "students": 2,
            "tracked_modules": 1,
            "completion_pct": 50.0,
            "course_completed": 0,
            "course_completion_pct": 0.0,
        },
        {
            "course_id": "c3",
            "fullname": "Empty Course",
            "shortname": "EC1",
            "students": 0,
            "tracked_modules": 0,
            "completion_pct": None,
            "course_completed": 0,
            "course_completion_pct": None,
        },
    ]
    assert await api.page("/completion") == (expected, 3)
    assert await api.page("/completion", limit=2) == (expected[:2], 3)


async def test_course_completion_by_module(api: Reader) -> None:
    def module(module_id: str, name: str, modname: str, **rest: Any) -> Any:
        return {
            "module_id": module_id,
            "name": name,
            "modname": modname,
            "students": 2,
            **rest,
        }

    c1 = [
        module("m1", "Quiz 1", "quiz", tracked=True, completed=1, completion_pct=50.0),
        module(
            "m2", "Essay", "assign", tracked=True, completed=2, completion_pct=100.0
        ),
        module(
            "m3", "Reading", "page", tracked=False, completed=0, completion_pct=None
        ),
    ]
    assert await api.page("/courses/c1/completion") == (c1, 3)
    assert await api.page("/courses/c1/completion", limit=2) == (c1[:2], 3)
    c2, _ = await api.page("/courses/c2/completion")
    assert c2 == [
        module(
            "m4", "Project", "assign", tracked=True, completed=1, completion_pct=50.0
        ),
        module(
            "m5", "Hidden quiz", "quiz", tracked=False, completed=1, completion_pct=None
        ),
    ]


@pytest.mark.parametrize(
    "path", ["/courses/nope/grades", "/courses/nope/completion", "/nope"]
)
async def test_unknown_course_or_route_is_404(api: Reader, path: str) -> None:
    body = await api.get(path, status=404)
    assert body["code"] == "NOT_FOUND"


# -- parameters, auth and isolation ----------------------------------------------------

READS = [
    "/overview",
    "/overview/trends",
    "/users",
    "/users/u1",
    "/top",
    "/heatmap",
    "/courses",
    "/enrollments",
    "/grades",
    "/courses/c1/grades",
    "/completion",
    "/courses/c1/completion",
]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/overview", {"days": 0}),
        ("/overview", {"days": 367}),
        ("/overview", {"days": "abc"}),
        ("/overview", {"from": "2026-13-01"}),
        ("/overview", {"from": "2026-03-05", "to": "2026-03-01"}),
        ("/overview", {"days": 5, "from": "2026-03-01"}),
        ("/overview", {"from": "2024-01-01"}),
        ("/overview/trends", {"granularity": "week"}),
        ("/users", {"limit": 0}),
        ("/users", {"limit": 201}),
        ("/users", {"offset": -1}),
        ("/users", {"sort": "bogus"}),
        ("/users", {"role": "dean"}),
        ("/users", {"risk_level": "extreme"}),
        ("/users/u1", {"days": 400}),
        ("/top", {"limit": 0}),
        ("/heatmap", {"tz": "Mars/Olympus_Mons"}),
        ("/heatmap", {"tz": "../../etc/passwd"}),
        ("/courses", {"sort": "bogus"}),
        ("/enrollments", {"limit": "many"}),
        ("/courses/c1/grades", {"offset": "x"}),
        ("/completion", {"limit": 1000}),
    ],
)
async def test_bad_parameters_are_400(
    api: Reader, path: str, params: dict[str, Any]
) -> None:
    body = await api.get(path, status=400, **params)
    assert body["ok"] is False
    assert body["code"] == "BAD_REQUEST"
    assert body["error"]


@pytest.mark.parametrize("path", READS)
async def test_reads_need_a_credential(
    anonymous: ApiClient, tenant: TenantRecord, path: str
) -> None:
    answer = await anonymous.get(f"/v1/tenants/{tenant.tenant_id}{path}")
    assert answer.status == 401
    assert answer.json()["code"] == "MISSING_CREDENTIAL"


@pytest.mark.parametrize("path", READS)
async def test_another_tenants_path_is_403(
    client: ApiClient, store: SqlStore, clock: Any, path: str
) -> None:
    other = await make_tenant(store, clock, name="Other U")
    answer = await client.get(f"/v1/tenants/{other.tenant_id}{path}")
    assert answer.status == 403
    assert answer.json()["code"] == "TENANT_MISMATCH"


async def test_another_tenants_user_and_course_are_404(
    api: Reader, store: SqlStore, clock: Any, app: Any
) -> None:
    other = await make_tenant(store, clock, name="Other U")
    theirs = ApiClient(app, {"X-SSEA-Key": await make_key(store, clock, other)})
    for entity, items in (
        ("users", [{"user_id": "x1", "username": "xavier"}]),
        ("courses", [{"course_id": "cx", "fullname": "Theirs"}]),
    ):
        answer = await theirs.post(f"/v1/sync/{entity}", json_body={"items": items})
        assert answer.status == 202
    for path in ("/users/x1", "/courses/cx/grades", "/courses/cx/completion"):
        await api.get(path, status=404)
    mine, total = await api.page("/users", q="xavier")
    assert (mine, total) == ([], 0)


async def test_reads_do_not_scan_events(
    api: Reader, store: SqlStore, tenant: TenantRecord
) -> None:
    paths = [
        ("/overview", {}),
        ("/overview/trends", {}),
        ("/overview/trends", {"days": 2, "granularity": "hour"}),
        ("/heatmap", {}),
        ("/courses", {}),
        ("/users", {}),
        ("/top", {}),
        ("/enrollments", {}),
        ("/grades", {}),
        ("/completion", {}),
    ]
    before = [await api.get(path, **params) for path, params in paths]
    with store.engine.begin() as connection:
        connection.execute(
            delete(events_table).where(events_table.c.tenant_id == tenant.tenant_id)
        )
    after = [await api.get(path, **params) for path, params in paths]
    assert after == before
    profile = await api.get("/users/u1")
    assert profile["user"]["total_events"] == 5
    assert profile["quiz_attempts"] == []  # the one per-user read of raw events
