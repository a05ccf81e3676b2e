"""The policy as pure decisions: who may call a route, and the scope they get."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from ssea_core.auth.principal import Principal
from ssea_core.auth.scope import WHOLE_TENANT, Scope
from ssea_core.errors import (
    CredentialKindError,
    ForbiddenError,
    OutOfScopeError,
    TenantMismatchError,
)
from ssea_core.policy import authorize, resolve_scope
from ssea_core.routing import Router

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
TENANT = uuid4()


class Enrolments:
    """A scope source over a fixed table: teacher t1 teaches c1 and c2."""

    teaching = {"t1": frozenset({"c1", "c2"})}
    students = {"c1": {"u1", "u2"}, "c2": {"u3"}, "c9": {"u9"}}

    async def teacher_courses(
        self, moodle_user_id: str, *, now: datetime
    ) -> frozenset[str]:
        return self.teaching.get(moodle_user_id, frozenset())

    async def is_student_in(self, user_id: str, course_ids: Collection[str]) -> bool:
        return any(user_id in self.students.get(course, ()) for course in course_ids)


async def _noop(ctx: Any) -> Any:
    return None


ROUTER = Router()
PROFILE = ROUTER.add(
    "GET",
    "/v1/tenants/{tenant_id}/users/{user_id}",
    _noop,
    auth=("api_key", "session"),
    roles=("admin", "manager", "teacher", "student"),
)
GRADES = ROUTER.add(
    "GET",
    "/v1/tenants/{tenant_id}/courses/{course_id}/grades",
    _noop,
    auth=("api_key", "session"),
    roles=("admin", "manager", "teacher"),
)
HEALTH = ROUTER.add(
    "GET",
    "/v1/tenants/{tenant_id}/viewer/teacher/{moodle_user_id}/courses/health",
    _noop,
    auth=("viewer",),
    roles=("teacher",),
    caller_path=True,
)


def principal(role: Any, user: str | None = None, **extra: Any) -> Principal:
    kind = extra.pop("credential", "session")
    return Principal(TENANT, role, kind, "id", moodle_user_id=user, **extra)


def params(**values: str) -> dict[str, str]:
    return {"tenant_id": str(TENANT), **values}


async def scope_of(route: Any, who: Principal, **values: str) -> Scope:
    found = params(**values)
    authorize(route, who, found)
    return await resolve_scope(route, who, found, Enrolments(), now=NOW)


async def test_admins_and_managers_see_the_tenant_narrowed_to_a_named_user() -> None:
    for role in ("admin", "manager"):
        assert await scope_of(GRADES, principal(role), course_id="c9") == WHOLE_TENANT
        assert await scope_of(PROFILE, principal(role), user_id="u9") == Scope(
            user_id="u9"
        )


async def test_a_teacher_sees_their_courses_and_students() -> None:
    teacher = principal("teacher", "t1")

    assert await scope_of(GRADES, teacher, course_id="c1") == Scope(
        course_ids=frozenset({"c1", "c2"})
    )
    assert await scope_of(PROFILE, teacher, user_id="u3") == Scope(
        course_ids=frozenset({"c1", "c2"}), user_id="u3"
    )
    assert await scope_of(PROFILE, teacher, user_id="t1") == Scope(user_id="t1")


@pytest.mark.parametrize(
    ("route", "values"),
    [(GRADES, {"course_id": "c9"}), (PROFILE, {"user_id": "u9"})],
)
async def test_a_teacher_cannot_name_what_is_not_theirs(
    route: Any, values: dict[str, str]
) -> None:
    with pytest.raises(OutOfScopeError):
        await scope_of(route, principal("teacher", "t1"), **values)


async def test_a_sessions_course_ids_only_narrow_the_enrolments() -> None:
    narrowed = principal("teacher", "t1", course_ids=frozenset({"c2", "c9"}))

    assert await scope_of(GRADES, narrowed, course_id="c2") == Scope(
        course_ids=frozenset({"c2"})
    )
    with pytest.raises(OutOfScopeError):
        await scope_of(GRADES, narrowed, course_id="c9")  # in the token, not taught
    with pytest.raises(OutOfScopeError):
        await scope_of(PROFILE, narrowed, user_id="u1")  # a student of c1 only


async def test_a_student_sees_only_themselves() -> None:
    student = principal("student", "u1")

    assert await scope_of(PROFILE, student, user_id="u1") == Scope(user_id="u1")
    with pytest.raises(OutOfScopeError):
        await scope_of(PROFILE, student, user_id="u2")
    with pytest.raises(ForbiddenError):
        await scope_of(GRADES, student, course_id="c1")


async def test_a_caller_path_must_name_the_caller_and_keeps_their_scope() -> None:
    teacher = principal("teacher", "t1", credential="viewer")

    assert await scope_of(HEALTH, teacher, moodle_user_id="t1") == Scope(
        course_ids=frozenset({"c1", "c2"})
    )
    with pytest.raises(OutOfScopeError):
        await scope_of(HEALTH, teacher, moodle_user_id="t2")


def test_credential_kind_role_and_tenant_are_checked_in_that_order() -> None:
    with pytest.raises(TenantMismatchError):
        authorize(GRADES, principal("student", "u1"), {"tenant_id": str(uuid4())})
    with pytest.raises(CredentialKindError):
        authorize(HEALTH, principal("teacher", "t1"), params(moodle_user_id="t1"))
    with pytest.raises(ForbiddenError):
        authorize(GRADES, principal("student", "u1"), params(course_id="c1"))
