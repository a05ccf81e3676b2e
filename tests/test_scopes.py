"""Teachers see their courses' students, students themselves: exact answers.

The tenant is the dashboard suite's (``tests/test_dashboard_api.py``): t1 teaches c1,
where u1 and u2 are active students and u3 a suspended one; u1 and u3 also study c2,
which t1 does not teach. In c1 the students did: u1 3 events (Feb 20 view; Mar 1 view
and quiz) for 1020 s, u2 2 events (Mar 2 view and essay) for 900 s. Logins, logouts
and t1's own views are not student activity in c1.
"""

from __future__ import annotations

from typing import Any

import pytest

from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_core.settings import Settings
from tests.auth_support import bearer, session_token
from tests.support import ApiClient
from tests.test_dashboard_api import load


class Caller:
    """GETs of one session under the tenant's prefix."""

    def __init__(self, client: ApiClient, prefix: str, token: str) -> None:
        self.client, self.prefix, self.token = client, prefix, token

    async def get(self, path: str, status: int = 200, **params: Any) -> Any:
        answer = await self.client.get(
            self.prefix + path, params=params, headers=bearer(self.token)
        )
        assert answer.status == status, answer.body
        return answer.json()


@pytest.fixture
async def seeded(client: ApiClient) -> ApiClient:
    await load(client)
    return client


@pytest.fixture
def as_role(
    seeded: ApiClient,
    anonymous: ApiClient,
    tenant: TenantRecord,
    settings: Settings,
    clock: FixedClock,
) -> Any:
    def make(
        role: str, user: str | None, course_ids: list[str] | None = None
    ) -> Caller:
        token = session_token(
            settings, clock.now(), tenant.tenant_id, role, user, course_ids
        )
        return Caller(anonymous, f"/v1/tenants/{tenant.tenant_id}", token)

    return make


def _user(
    user_id: str, name: str, full: str, events: int, minutes: int, seen: Any
) -> Any:
    return {
        "user_id": user_id,
        "username": name,
        "full_name": full,
        "last_seen_at": seen,
        "total_events": events,
        "total_time_mins": minutes,
        "risk_level": None,
        "risk_score": None,
    }


async def test_a_teachers_overview_counts_their_students_in_their_courses(
    as_role: Any, tenant: TenantRecord
) -> None:
    teacher = as_role("teacher", "t1")

    assert await teacher.get("/overview") == {
        "tenant_id": str(tenant.tenant_id),
        "period_days": 30,
        "total_events": 5,
        "active_users": 2,
        "total_sessions": 2,  # u1's Feb 20 session and u2's Mar 2 one start in c1
        "avg_time_spent_mins": 16.0,  # (1020 + 900) s over 2 students
        "at_risk_count": 0,
    }


async def test_a_teachers_users_are_the_students_of_their_courses(
    as_role: Any,
) -> None:
    teacher = as_role("teacher", "t1")

    body = await teacher.get("/users")

    assert body == [
        _user("u1", "alice", "Alice Archer", 3, 17, "2026-03-01T11:30:00Z"),
        _user("u2", "bob", "Bob Baker", 2, 15, "2026-03-02T08:15:00Z"),
        _user("u3", "carol", "Carol Chen", 0, 0, None),
    ]


async def test_a_teachers_courses_are_the_ones_they_teach(as_role: Any) -> None:
    teacher = as_role("teacher", "t1")

    assert await teacher.get("/courses") == [
        {
            "course_id": "c1",
            "fullname": "Introduction to Python",
            "shortname": "CS101",
            "active_users": 2,
            "total_events": 5,
            "avg_time_mins": 16.0,
            "enrolled": 2,
            "completion_pct": 75.0,
            "avg_grade_pct": 65.0,
            "at_risk_count": 0,
        }
    ]


async def test_the_other_reads_of_a_teacher_are_narrowed_too(as_role: Any) -> None:
    teacher = as_role("teacher", "t1")

    top = await teacher.get("/top")
    assert [(row["user_id"], row["total_events"]) for row in top["users"]] == [
        ("u1", 3),
        ("u2", 2),
    ]
    assert [(row["course_id"], row["total_events"]) for row in top["courses"]] == [
        ("c1", 5)
    ]
    enrolments = await teacher.get("/enrollments")
    assert [(row["course_id"], row["role"], row["total"]) for row in enrolments] == [
        ("c1", "editingteacher", 1),
        ("c1", "student", 3),
    ]
    grades = await teacher.get("/grades")
    assert (grades["count"], grades["avg"]) == (2, 65.0)  # c1's totals 85 and 45
    completion = await teacher.get("/completion")
    assert [row["course_id"] for row in completion] == ["c1"]
    trends = await teacher.get("/overview/trends", days=2)
    assert [point["events"] for point in trends["series"]] == [2, 2]
    profile = await teacher.get("/users/u1")
    assert [course["course_id"] for course in profile["courses"]] == ["c1"]
    assert profile["user"]["total_events"] == 3


async def test_a_teacher_cannot_name_what_they_do_not_teach(as_role: Any) -> None:
    teacher = as_role("teacher", "t1")

    for path in ("/courses/c2/grades", "/courses/c2/completion", "/users/99"):
        body = await teacher.get(path, status=403)
        assert body["code"] == "OUT_OF_SCOPE"
    assert (await teacher.get("/courses/c1/grades"))[0]["item_id"] == "q1"


async def test_a_sessions_course_ids_can_only_narrow(as_role: Any) -> None:
    narrowed = as_role("teacher", "t1", course_ids=["c2"])  # t1 does not teach c2

    assert await narrowed.get("/courses") == []
    assert (await narrowed.get("/overview"))["total_events"] == 0
    assert (await narrowed.get("/courses/c1/grades", status=403))["code"] == (
        "OUT_OF_SCOPE"
    )


async def test_a_course_taken_away_leaves_the_scope_at_once(
    as_role: Any, seeded: ApiClient
) -> None:
    teacher = as_role("teacher", "t1", course_ids=["c1"])
    assert len(await teacher.get("/courses")) == 1

    item = {"user_id": "t1", "course_id": "c1", "role": "editingteacher"}
    answer = await seeded.post(
        "/v1/sync/enrolments", json_body={"items": [{**item, "status": "suspended"}]}
    )
    assert answer.status == 202

    assert await teacher.get("/courses") == []


async def test_a_student_sees_only_themselves(as_role: Any, seeded: ApiClient) -> None:
    student = as_role("student", "u1")

    assert (await student.get("/users", status=403))["code"] == "FORBIDDEN"
    assert (await student.get("/overview", status=403))["code"] == "FORBIDDEN"
    assert (await student.get("/users/u2", status=403))["code"] == "OUT_OF_SCOPE"
    own = await student.get("/users/u1")
    assert own["user"]["total_events"] == 5
    assert [course["course_id"] for course in own["courses"]] == ["c1", "c2"]


async def test_a_manager_sees_the_whole_tenant(
    as_role: Any, seeded: ApiClient, tenant: TenantRecord
) -> None:
    manager = as_role("manager", "m1")
    admin = await seeded.get(f"/v1/tenants/{tenant.tenant_id}/users")

    assert await manager.get("/users") == admin.json()


async def test_a_teachers_filters_cannot_look_outside_their_courses(
    as_role: Any, seeded: ApiClient, tenant: TenantRecord
) -> None:
    teacher = as_role("teacher", "t1")
    admin = await seeded.get(
        f"/v1/tenants/{tenant.tenant_id}/users", params={"course_id": "c2"}
    )

    assert [row["user_id"] for row in admin.json()] == ["u1", "u3"]
    assert await teacher.get("/users", course_id="c2") == []
    assert [row["user_id"] for row in await teacher.get("/users", q="carol")] == ["u3"]
