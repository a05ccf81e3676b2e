"""Monitors through the API (SPEC §8): validation, counts, ownership, tenancy.

The data is the small tenant of ``tests/storage/test_report_queries.py`` (today is
2026-03-02). Active students: s1 (c1, c2), s2 (c1, c2), s3 (c1); s4 is suspended in
c1. Last counted activity: s1 03-02 (c1) and 02-24 (c2); s2 03-01 (c1); s3 02-11.
Stored risk levels (written here, as the risk evaluation would): overall s1 high,
s2 critical, s3 low; in c1 s1 high and s2 medium; in c2 s2 critical.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, insert

from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_storage.sql.schema import risk_scores
from ssea_storage.sql.store import SqlStore
from tests.auth_support import bearer, session_token
from tests.conftest import make_key, make_tenant
from tests.storage.test_report_queries import load
from tests.support import ApiClient

RISK = [
    ("s1", "", "high", 60.0),
    ("s2", "", "critical", 80.0),
    ("s3", "", "low", 10.0),
    ("s1", "c1", "high", 55.0),
    ("s2", "c1", "medium", 40.0),
    ("s2", "c2", "critical", 90.0),
]


async def store_risk(store: SqlStore, tenant: TenantRecord, clock: FixedClock) -> None:
    rows = [
        {
            "tenant_id": tenant.tenant_id,
            "user_id": user,
            "course_id": course,
            "score": score,
            "level": level,
            "factors": [],
            "as_of": clock.now(),
            "computed_at": clock.now(),
        }
        for user, course, level, score in RISK
    ]

    def work(connection: Any) -> None:
        connection.execute(
            delete(risk_scores).where(risk_scores.c.tenant_id == tenant.tenant_id)
        )
        connection.execute(insert(risk_scores), rows)

    await store.executor.run(work, write=True)


@pytest.fixture
async def loaded(
    client: ApiClient, store: SqlStore, tenant: TenantRecord, clock: FixedClock
) -> ApiClient:
    await load(client)
    await store_risk(store, tenant, clock)
    return client


def monitors_path(tenant: TenantRecord) -> str:
    return f"/v1/tenants/{tenant.tenant_id}/monitors"


async def create(
    client: ApiClient, tenant: TenantRecord, target: str, **filters: Any
) -> dict[str, Any]:
    body = {"name": f"{target} {sorted(filters)}", "target": target, "filters": filters}
    answer = await client.post(monitors_path(tenant), json_body=body)
    assert answer.status == 201, answer.body
    assert answer.json()["ok"] is True
    data: dict[str, Any] = answer.json()["data"]
    return data


def counts(monitor: dict[str, Any]) -> tuple[int, int]:
    return monitor["match_count"], monitor["at_risk_count"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, (3, 2)),
        ({"course_id": "c1"}, (3, 1)),  # at risk in c1: s1 only
        ({"course_id": "c2"}, (2, 1)),  # s2 critical in c2
        ({"course_id": "c3"}, (0, 0)),
        ({"risk_level": "critical"}, (1, 1)),
        ({"risk_level": ["low", "high"]}, (2, 1)),
        ({"course_id": "c1", "risk_level": ["medium"]}, (1, 0)),
        ({"inactive_days": 7}, (1, 0)),  # s3, last active 02-11
        ({"inactive_days": 1}, (2, 1)),  # s1 was active today, s2 yesterday
        ({"course_id": "c2", "inactive_days": 5}, (2, 1)),
        ({"q": "ann"}, (1, 1)),
        ({"q": "BAKER"}, (1, 1)),
        ({"q": "%"}, (0, 0)),  # a wildcard in SQL, plain text here
        ({"user_ids": ["s1", "s4", "nobody"]}, (1, 1)),  # s4 is suspended
    ],
)
async def test_student_monitors_count_matches_and_risk(
    loaded: ApiClient,
    tenant: TenantRecord,
    filters: dict[str, Any],
    expected: tuple[int, int],
) -> None:
    created = await create(loaded, tenant, "students", **filters)

    assert counts(created) == expected
    level = filters.get("risk_level")
    normal = {**filters, "risk_level": [level]} if isinstance(level, str) else filters
    assert created["filters"] == normal  # stored as validated: one level is a list
    assert created["target"] == "students"
    assert created["created_by"].startswith("api_key:")
    assert created["created_at"] == "2026-03-02T12:00:00Z"
    assert created["monitor_id"].startswith("mon_")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, (3, 2)),  # c1 (s1 high there) and c2 (s2 critical there) are at risk
        ({"course_ids": ["c1", "c3"]}, (2, 1)),
        ({"q": "python"}, (1, 1)),
        ({"inactive_days": 5}, (2, 1)),  # c2 (last 02-24) and c3 (never)
        ({"inactive_days": 30}, (1, 0)),
        ({"risk_level": "critical"}, (1, 1)),
    ],
)
async def test_course_monitors_count_matches_and_risk(
    loaded: ApiClient,
    tenant: TenantRecord,
    filters: dict[str, Any],
    expected: tuple[int, int],
) -> None:
    assert counts(await create(loaded, tenant, "courses", **filters)) == expected


async def test_list_read_and_delete(
    loaded: ApiClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    first = await create(loaded, tenant, "students", course_id="c1")
    clock.advance(seconds=1)
    second = await create(loaded, tenant, "courses")

    listed = await loaded.get(monitors_path(tenant))
    page = await loaded.get(monitors_path(tenant), params={"limit": 1, "offset": 1})
    one = await loaded.get(f"{monitors_path(tenant)}/{first['monitor_id']}")
    deleted = await loaded.request(
        "DELETE", f"{monitors_path(tenant)}/{first['monitor_id']}"
    )
    again = await loaded.request(
        "DELETE", f"{monitors_path(tenant)}/{first['monitor_id']}"
    )
    gone = await loaded.get(f"{monitors_path(tenant)}/{first['monitor_id']}")
    after = await loaded.get(monitors_path(tenant))

    assert [item["monitor_id"] for item in listed.json()] == [
        first["monitor_id"],
        second["monitor_id"],
    ]
    assert listed.headers["x-total-count"] == "2"
    assert listed.json()[0] == first
    assert [item["monitor_id"] for item in page.json()] == [second["monitor_id"]]
    assert one.json() == first
    assert (deleted.status, deleted.json()) == (200, {"ok": True})
    assert (again.status, again.json()["code"]) == (404, "NOT_FOUND")
    assert gone.status == 404
    assert [item["monitor_id"] for item in after.json()] == [second["monitor_id"]]


async def test_counts_follow_the_data(
    loaded: ApiClient, store: SqlStore, tenant: TenantRecord, clock: FixedClock
) -> None:
    created = await create(loaded, tenant, "students", inactive_days=7)
    clock.advance(days=1)

    listed = (await loaded.get(monitors_path(tenant))).json()
    clock.advance(days=5)  # 03-08: quiet since 03-01 or earlier is 7 days or more
    later = (await loaded.get(monitors_path(tenant))).json()

    assert counts(created) == (1, 0)
    assert counts(listed[0]) == (1, 0)
    assert counts(later[0]) == (2, 1)  # s3 and now s2 (last active 03-01)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x", "target": "students", "filters": {"colour": "red"}}, "colour"),
        (
            {"name": "x", "target": "students", "filters": {"course_ids": ["c1"]}},
            "filters.course_ids",
        ),
        (
            {"name": "x", "target": "courses", "filters": {"user_ids": ["s1"]}},
            "filters.user_ids",
        ),
        (
            {"name": "x", "target": "students", "filters": {"risk_level": "dire"}},
            "risk",
        ),
        (
            {"name": "x", "target": "students", "filters": {"inactive_days": 0}},
            "inactive_days",
        ),
        ({"name": "x", "target": "students", "filters": {"user_ids": []}}, "user_ids"),
        ({"name": " ", "target": "students"}, "name"),
        ({"target": "students"}, "name"),
        ({"name": "x", "target": "teachers"}, "target"),
        ({"name": "x", "target": "students", "owner": "me"}, "owner"),
    ],
)
async def test_bad_monitors_are_refused(
    loaded: ApiClient, tenant: TenantRecord, body: dict[str, Any], fragment: str
) -> None:
    answer = await loaded.post(monitors_path(tenant), json_body=body)

    assert answer.status == 422, answer.body
    assert answer.json()["code"] == "VALIDATION_FAILED"
    assert fragment in answer.json()["error"]


async def test_an_unknown_filter_lists_what_the_target_accepts(
    loaded: ApiClient, tenant: TenantRecord
) -> None:
    body = {"name": "x", "target": "courses", "filters": {"course_id": "c1"}}

    answer = await loaded.post(monitors_path(tenant), json_body=body)

    assert answer.json()["error"] == (
        "field 'filters.course_id': Extra inputs are not permitted. A courses "
        "monitor accepts: course_ids, inactive_days, q, risk_level."
    )


async def test_teachers_see_their_own_monitors_counted_in_their_courses(
    app: SseaApp, loaded: ApiClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    settings, tid = app.services.settings, tenant.tenant_id
    teacher = ApiClient(
        app, bearer(session_token(settings, clock.now(), tid, "teacher", "t1"))
    )
    admins = await create(loaded, tenant, "students")

    mine = await create(teacher, tenant, "students")
    clock.advance(seconds=1)
    courses = await create(teacher, tenant, "courses")
    outside = await teacher.post(
        monitors_path(tenant),
        json_body={"name": "c2", "target": "students", "filters": {"course_id": "c2"}},
    )
    outside_courses = await teacher.post(
        monitors_path(tenant),
        json_body={"name": "c", "target": "courses", "filters": {"course_ids": ["c2"]}},
    )
    listed = await teacher.get(monitors_path(tenant))
    hidden = await teacher.get(f"{monitors_path(tenant)}/{admins['monitor_id']}")
    not_theirs = await teacher.request(
        "DELETE", f"{monitors_path(tenant)}/{admins['monitor_id']}"
    )
    everyone = await loaded.get(monitors_path(tenant))

    assert counts(admins) == (3, 2)
    # The teacher's students: c1's s1, s2, s3; at risk overall: s1, s2.
    assert counts(mine) == (3, 2)
    assert mine["created_by"] == "user:t1"
    assert counts(courses) == (1, 1)  # c1 only
    assert (outside.status, outside.json()["code"]) == (403, "OUT_OF_SCOPE")
    assert (outside_courses.status, outside_courses.json()["code"]) == (
        403,
        "OUT_OF_SCOPE",
    )
    assert [item["monitor_id"] for item in listed.json()] == [
        mine["monitor_id"],
        courses["monitor_id"],
    ]
    assert hidden.status == 404
    assert not_theirs.status == 404
    assert everyone.headers["x-total-count"] == "3"
    # The admin reads the teacher's course monitor over the whole tenant.
    by_admin = {item["monitor_id"]: item for item in everyone.json()}
    assert counts(by_admin[courses["monitor_id"]]) == (3, 2)


async def test_roles_and_other_tenants(
    app: SseaApp,
    loaded: ApiClient,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    created = await create(loaded, tenant, "students")
    other = await make_tenant(store, clock, name="Other U")
    theirs = ApiClient(app, {"X-SSEA-Key": await make_key(store, clock, other)})
    student = ApiClient(
        app,
        bearer(
            session_token(
                app.services.settings, clock.now(), tenant.tenant_id, "student", "s1"
            )
        ),
    )
    their_path = f"/v1/tenants/{other.tenant_id}/monitors/{created['monitor_id']}"

    assert (await theirs.get(their_path)).status == 404
    assert (await theirs.request("DELETE", their_path)).status == 404
    assert (await theirs.get(f"/v1/tenants/{other.tenant_id}/monitors")).json() == []
    crossing = await theirs.get(monitors_path(tenant))
    assert (crossing.status, crossing.json()["code"]) == (403, "TENANT_MISMATCH")
    refused = await student.get(monitors_path(tenant))
    assert (refused.status, refused.json()["code"]) == (403, "FORBIDDEN")
    missing = await ApiClient(app).get(monitors_path(tenant))
    assert missing.status == 401
    assert (await loaded.get(monitors_path(tenant))).json()[0] == created
