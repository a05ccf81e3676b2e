"""Viewer iframes (SPEC §4.3): signed contexts, scopes, audit and framing.

The tenant is the dashboard suite's (``tests/test_dashboard_api.py``): t1 teaches c1;
u1 studies c1 and c2, u2 c1, u3 c1 (suspended) and c2. This suite adds u5, a student
of c2 only. The clock stands at 2026-03-02 12:00 UTC.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from ssea_core.auth.viewer import encode_context, sign_context, sign_viewer_context
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_storage.sql.schema import viewer_audit
from ssea_storage.sql.store import SqlStore
from tests.auth_support import tenant_secret, viewer_headers
from tests.conftest import make_tenant
from tests.log_guard import remember
from tests.support import Answer, ApiClient
from tests.test_dashboard_api import load

DOCS = Path(__file__).resolve().parents[1] / "docs" / "auth.md"
MOODLE = "https://moodle.example.edu"


class Viewer:
    """Signs viewer requests for one tenant and reads its audit."""

    def __init__(
        self, client: ApiClient, store: SqlStore, tenant: TenantRecord, secret: bytes
    ) -> None:
        self.client = client
        self.store = store
        self.tenant = tenant
        self.secret = secret
        self.clock: FixedClock

    def headers(
        self, role: Any, user: str, *, ahead: int = 600, secret: bytes | None = None
    ) -> dict[str, str]:
        exp = int(self.clock.now().timestamp()) + ahead
        return viewer_headers(
            secret or self.secret, self.tenant.tenant_id, role, user, exp
        )

    async def get(self, path: str, headers: dict[str, str], **params: Any) -> Answer:
        return await self.client.get(
            f"/v1/tenants/{self.tenant.tenant_id}{path}", headers=headers, params=params
        )

    def audit(self) -> list[tuple[Any, ...]]:
        query = (
            select(
                viewer_audit.c.route,
                viewer_audit.c.role,
                viewer_audit.c.moodle_user_id,
                viewer_audit.c.target_id,
                viewer_audit.c.status,
                viewer_audit.c.outcome,
            )
            .where(viewer_audit.c.tenant_id == self.tenant.tenant_id)
            .order_by(viewer_audit.c.at, viewer_audit.c.audit_id)
        )
        with self.store.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]


@pytest.fixture
async def viewer(
    client: ApiClient,
    anonymous: ApiClient,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
) -> Viewer:
    await load(client)
    extra = {"user_id": "u5", "course_id": "c2", "role": "student"}
    answer = await client.post("/v1/sync/enrolments", json_body={"items": [extra]})
    assert answer.status == 202
    access = store.for_tenant(tenant.tenant_id).access()
    await access.set_moodle_origin(MOODLE)
    secret = await tenant_secret(store, tenant.tenant_id, "viewer", clock.now())
    found = Viewer(anonymous, store, tenant, secret)
    found.clock = clock
    return found


def assert_error(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.json()["code"] == code, answer.body


# -- the signature scheme -------------------------------------------------------------


def test_the_worked_example_in_the_docs_is_what_the_code_computes() -> None:
    headers = sign_viewer_context(
        b"example-viewer-secret-not-for-production",
        tenant_id=UUID("6f9619ff-8b86-4011-b42d-00c04fc964ff"),
        role="student",
        moodle_user_id="42",
        exp=1767225600,
    )
    text = DOCS.read_text()

    assert (
        '{"tenant_id":"6f9619ff-8b86-4011-b42d-00c04fc964ff","role":"student",'
        '"moodle_user_id":"42","exp":1767225600}' in text
    )
    assert headers.context in text
    assert headers.signature in text
    assert headers.signature == (
        "9309527cef05f103d0d49e09a6c3ffe7867638591a96b6ddf9f95389d1e98be1"
    )


def test_the_context_is_compact_unpadded_base64url() -> None:
    context = encode_context(
        tenant_id=UUID(int=1), role="teacher", moodle_user_id="7", exp=1
    )

    assert "=" not in context
    assert set(context) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert sign_context(context, b"k" * 32) == sign_context(context, b"k" * 32).lower()


# -- what a viewer reaches -------------------------------------------------------------


async def test_a_student_sees_their_own_profile(
    viewer: Viewer, client: ApiClient
) -> None:
    answer = await viewer.get(
        "/viewer/student/u1/profile", viewer.headers("student", "u1")
    )

    assert answer.status == 200, answer.body
    admin = await client.get(f"/v1/tenants/{viewer.tenant.tenant_id}/users/u1")
    assert answer.json() == admin.json()


async def test_a_student_sees_their_progress_by_course_and_activity(
    viewer: Viewer,
) -> None:
    answer = await viewer.get(
        "/viewer/student/u1/progress", viewer.headers("student", "u1")
    )

    assert answer.status == 200, answer.body

    def activity(
        module: str, name: str, modname: str, tracked: bool, done: bool
    ) -> Any:
        return {
            "module_id": module,
            "name": name,
            "modname": modname,
            "tracked": tracked,
            "completed": done,
        }

    assert answer.json() == {
        "user_id": "u1",
        "courses": [
            {
                "course_id": "c1",
                "fullname": "Introduction to Python",
                "shortname": "CS101",
                "progress_pct": 100.0,
                "grade_pct": 85.0,
                "activities": [
                    activity("m1", "Quiz 1", "quiz", True, True),
                    activity("m2", "Essay", "assign", True, True),
                    activity("m3", "Reading", "page", False, False),
                ],
            },
            {
                "course_id": "c2",
                "fullname": "Data Science",
                "shortname": "DS201",
                "progress_pct": 100.0,
                "grade_pct": 75.0,
                "activities": [
                    activity("m4", "Project", "assign", True, True),
                    activity("m5", "Hidden quiz", "quiz", False, True),
                ],
            },
        ],
    }


async def test_progress_counts_only_the_students_own_completions(
    viewer: Viewer,
) -> None:
    answer = await viewer.get(
        "/viewer/student/u2/progress", viewer.headers("student", "u2")
    )

    courses = answer.json()["courses"]
    assert [course["course_id"] for course in courses] == ["c1"]
    assert [
        (row["module_id"], row["completed"]) for row in courses[0]["activities"]
    ] == [
        ("m1", False),  # complete_fail
        ("m2", True),
        ("m3", False),
    ]


async def test_a_teacher_sees_the_health_of_the_courses_they_teach(
    viewer: Viewer,
) -> None:
    answer = await viewer.get(
        "/viewer/teacher/t1/courses/health", viewer.headers("teacher", "t1")
    )

    assert answer.status == 200, answer.body
    assert answer.headers["x-total-count"] == "1"
    assert answer.json() == [
        {
            "course_id": "c1",
            "fullname": "Introduction to Python",
            "shortname": "CS101",
            # Students' activity in c1 only: u1 3 events and 1020 s, u2 2 events and
            # 900 s (t1's own views and site-level logins and logouts do not count).
            "active_users": 2,
            "total_events": 5,
            "avg_time_mins": 16.0,
            "enrolled": 2,
            "completion_pct": 75.0,
            "avg_grade_pct": 65.0,
            "at_risk_count": 0,
        }
    ]


async def test_a_teacher_sees_a_students_profile_in_their_courses_only(
    viewer: Viewer,
) -> None:
    answer = await viewer.get(
        "/viewer/student/u1/profile", viewer.headers("teacher", "t1")
    )

    assert answer.status == 200, answer.body
    body = answer.json()
    assert [course["course_id"] for course in body["courses"]] == ["c1"]
    assert body["user"]["total_events"] == 3  # u1's events in c1 only
    assert len(body["quiz_attempts"]) == 1


# -- what a viewer does not reach ------------------------------------------------------


async def test_a_student_cannot_see_another_student(viewer: Viewer) -> None:
    headers = viewer.headers("student", "u1")

    for page in ("profile", "progress"):
        answer = await viewer.get(f"/viewer/student/u2/{page}", headers)
        assert_error(answer, 403, "OUT_OF_SCOPE")


async def test_a_student_cannot_use_the_teacher_view(viewer: Viewer) -> None:
    answer = await viewer.get(
        "/viewer/teacher/u1/courses/health", viewer.headers("student", "u1")
    )

    assert_error(answer, 403, "FORBIDDEN")


async def test_a_teacher_cannot_see_students_outside_their_courses(
    viewer: Viewer,
) -> None:
    answer = await viewer.get(
        "/viewer/student/u5/profile", viewer.headers("teacher", "t1")
    )

    assert_error(answer, 403, "OUT_OF_SCOPE")


async def test_a_teacher_cannot_ask_for_another_teachers_courses(
    viewer: Viewer,
) -> None:
    answer = await viewer.get(
        "/viewer/teacher/t9/courses/health", viewer.headers("teacher", "t1")
    )

    assert_error(answer, 403, "OUT_OF_SCOPE")


async def test_a_tampered_context_is_refused(viewer: Viewer) -> None:
    good = viewer.headers("student", "u1")
    forged_context = encode_context(
        tenant_id=viewer.tenant.tenant_id,
        role="student",
        moodle_user_id="u2",
        exp=int(viewer.clock.now().timestamp()) + 600,
    )
    tampered = {**good, "X-SSEA-Viewer-Context": forged_context}

    answer = await viewer.get("/viewer/student/u2/profile", tampered)

    assert_error(answer, 401, "INVALID_SIGNATURE")


@pytest.mark.parametrize(
    ("ahead", "status", "code"),
    [
        (-61, 401, "EXPIRED_CREDENTIAL"),
        (-59, 200, None),  # within the 60 s of clock skew
        (3660, 200, None),
        (3661, 401, "TOKEN_TOO_LONG_LIVED"),
        (86_400, 401, "TOKEN_TOO_LONG_LIVED"),
    ],
)
async def test_exp_is_checked_with_60_seconds_of_skew(
    viewer: Viewer, ahead: int, status: int, code: str | None
) -> None:
    answer = await viewer.get(
        "/viewer/student/u1/progress", viewer.headers("student", "u1", ahead=ahead)
    )

    assert answer.status == status, answer.body
    if code is not None:
        assert answer.json()["code"] == code


async def test_a_signature_with_the_wrong_secret_is_refused(viewer: Viewer) -> None:
    headers = viewer.headers("student", "u1", secret=b"w" * 43)

    answer = await viewer.get("/viewer/student/u1/profile", headers)

    assert_error(answer, 401, "INVALID_SIGNATURE")


async def test_an_uppercase_hex_signature_is_refused(viewer: Viewer) -> None:
    headers = viewer.headers("student", "u1")
    shouting = {
        **headers,
        "X-SSEA-Viewer-Signature": headers["X-SSEA-Viewer-Signature"].upper(),
    }

    answer = await viewer.get("/viewer/student/u1/profile", shouting)

    assert_error(answer, 401, "INVALID_SIGNATURE")


async def test_another_tenants_context_is_403(
    viewer: Viewer, store: SqlStore, clock: FixedClock
) -> None:
    other = await make_tenant(store, clock, name="Other U")
    secret = await tenant_secret(store, other.tenant_id, "viewer", clock.now())
    exp = int(clock.now().timestamp()) + 600
    theirs = viewer_headers(secret, other.tenant_id, "student", "u1", exp)

    answer = await viewer.get("/viewer/student/u1/profile", theirs)

    assert_error(answer, 403, "TENANT_MISMATCH")


async def test_a_context_naming_this_tenant_signed_by_another_is_401(
    viewer: Viewer, store: SqlStore, clock: FixedClock
) -> None:
    other = await make_tenant(store, clock, name="Other U")
    secret = await tenant_secret(store, other.tenant_id, "viewer", clock.now())

    answer = await viewer.get(
        "/viewer/student/u1/profile", viewer.headers("student", "u1", secret=secret)
    )

    assert_error(answer, 401, "INVALID_SIGNATURE")


def _context(viewer: Viewer, **changes: Any) -> str:
    import base64
    import json

    payload: dict[str, Any] = {
        "tenant_id": str(viewer.tenant.tenant_id),
        "role": "student",
        "moodle_user_id": "u1",
        "exp": int(viewer.clock.now().timestamp()) + 600,
        **changes,
    }
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "case", ["not-base64", "empty", "padded", "extra-key", "admin-role"]
)
async def test_malformed_contexts_are_401(viewer: Viewer, case: str) -> None:
    context = {
        "not-base64": "not base64!",
        "empty": "e30",  # {}
        "padded": _context(viewer) + "==",
        "extra-key": _context(viewer, course_ids=["c1"]),
        "admin-role": _context(viewer, role="admin"),
    }[case]
    signature = sign_context(context, viewer.secret)
    remember(signature)
    headers = {"X-SSEA-Viewer-Context": context, "X-SSEA-Viewer-Signature": signature}

    answer = await viewer.get("/viewer/student/u1/profile", headers)

    assert_error(answer, 401, "INVALID_CREDENTIAL")


async def test_one_viewer_header_alone_is_401(viewer: Viewer) -> None:
    headers = viewer.headers("student", "u1")
    for name in headers:
        alone = {name: headers[name]}
        answer = await viewer.get("/viewer/student/u1/profile", alone)
        assert_error(answer, 401, "MISSING_CREDENTIAL")


async def test_the_previous_viewer_secret_works_during_its_grace(
    viewer: Viewer, store: SqlStore, clock: FixedClock
) -> None:
    access = store.for_tenant(viewer.tenant.tenant_id).access()
    new = await access.rotate_secret(
        "viewer", now=clock.now(), grace=timedelta(hours=1)
    )
    remember(new)

    for secret in (new, viewer.secret):
        headers = viewer.headers("student", "u1", secret=secret)
        assert (await viewer.get("/viewer/student/u1/profile", headers)).status == 200
    clock.advance(hours=1, seconds=1)
    late = viewer.headers("student", "u1", secret=viewer.secret)
    answer = await viewer.get("/viewer/student/u1/profile", late)
    assert_error(answer, 401, "INVALID_SIGNATURE")


# -- audit and framing -----------------------------------------------------------------


async def test_every_viewer_access_is_audited(viewer: Viewer) -> None:
    student, teacher = viewer.headers("student", "u1"), viewer.headers("teacher", "t1")
    wrong = viewer.headers("student", "u1", secret=b"z" * 43)
    calls = [
        ("/viewer/student/u1/profile", student),
        ("/viewer/student/u2/profile", student),
        ("/viewer/teacher/t1/courses/health", teacher),
        ("/viewer/student/u1/progress", wrong),
        ("/viewer/student/nobody/progress", viewer.headers("student", "nobody")),
        ("/overview", student),
    ]
    for path, headers in calls:
        await viewer.get(path, headers)
        viewer.clock.advance(seconds=1)  # rows are ordered by time

    assert viewer.audit() == [
        ("viewer_student_profile", "student", "u1", "u1", 200, "allowed"),
        ("viewer_student_profile", "student", "u1", "u2", 403, "OUT_OF_SCOPE"),
        ("viewer_teacher_course_health", "teacher", "t1", "t1", 200, "allowed"),
        ("viewer_student_progress", None, None, "u1", 401, "INVALID_SIGNATURE"),
        ("viewer_student_progress", "student", "nobody", "nobody", 404, "NOT_FOUND"),
        ("overview", "student", "u1", None, 403, "CREDENTIAL_NOT_ACCEPTED"),
    ]


async def test_viewer_answers_are_frameable_by_the_tenants_moodle_only(
    viewer: Viewer, client: ApiClient
) -> None:
    framed = await viewer.get(
        "/viewer/student/u1/profile", viewer.headers("student", "u1")
    )
    normal = await client.get(f"/v1/tenants/{viewer.tenant.tenant_id}/overview")

    assert framed.headers["content-security-policy"] == (
        f"default-src 'none'; frame-ancestors {MOODLE}"
    )
    assert "x-frame-options" not in framed.headers
    assert normal.headers["x-frame-options"] == "DENY"
    assert normal.headers["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )
    for answer in (framed, normal):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"


async def test_without_a_moodle_origin_viewer_answers_are_not_frameable(
    viewer: Viewer, store: SqlStore
) -> None:
    await store.for_tenant(viewer.tenant.tenant_id).access().set_moodle_origin(None)

    answer = await viewer.get(
        "/viewer/student/u1/profile", viewer.headers("student", "u1")
    )

    assert answer.status == 200
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


async def test_an_api_key_may_not_use_viewer_routes(
    viewer: Viewer, client: ApiClient
) -> None:
    answer = await client.get(
        f"/v1/tenants/{viewer.tenant.tenant_id}/viewer/student/u1/profile"
    )

    assert_error(answer, 403, "CREDENTIAL_NOT_ACCEPTED")
    assert viewer.audit()[-1][-1] == "CREDENTIAL_NOT_ACCEPTED"
