"""Who may call what, and what they see. The only place that decides on roles.

Invariants:
- A path that names a tenant is served only to a principal of that tenant (403).
- A route is served only to the credential kinds and the roles it lists (403); the
  role matrix lives in the route table and is written out in ``docs/auth.md``.
- Every authenticated request gets a :class:`Scope`, and every read takes it:
  admin and manager (and API keys) see the whole tenant; a teacher the courses they
  teach now (active ``teacher``/``editingteacher`` enrolments, intersected with the
  session's ``course_ids`` when it has them) and the students in them; a student only
  themselves.
- A path that names a user narrows the scope to that user: oneself always; for a
  teacher only a student of their courses; for a student nobody else (403). A path
  that names a course outside a teacher's courses is a 403.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol
from uuid import UUID

from ssea_core.auth.principal import Principal
from ssea_core.auth.scope import WHOLE_TENANT, Scope
from ssea_core.errors import (
    CredentialKindError,
    ForbiddenError,
    OutOfScopeError,
    TenantMismatchError,
)
from ssea_core.routing import Route

#: Path parameters that name a Moodle user.
USER_PARAMS = ("user_id", "moodle_user_id")
WHOLE_TENANT_ROLES = frozenset({"admin", "manager"})


class ScopeSource(Protocol):
    """The enrolment lookups a scope is computed from (one tenant)."""

    async def teacher_courses(
        self, moodle_user_id: str, *, now: datetime
    ) -> frozenset[str]: ...

    async def is_student_in(
        self, user_id: str, course_ids: Collection[str]
    ) -> bool: ...


def path_tenant(params: dict[str, str]) -> UUID | None:
    """The tenant a path names; an unparsable id names no tenant of anyone's."""
    raw = params.get("tenant_id")
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError as exc:
        raise TenantMismatchError from exc


def authorize(route: Route, principal: Principal, params: dict[str, str]) -> None:
    """Raise 403 unless ``principal`` may call ``route`` with these path parameters."""
    tenant = path_tenant(params)
    if tenant is not None and tenant != principal.tenant_id:
        raise TenantMismatchError
    if route.is_public:
        return
    if principal.credential not in route.auth:
        accepted = ", ".join(kind for kind in route.auth)
        raise CredentialKindError(
            f"{route.name} accepts {accepted} credentials, not {principal.credential}."
        )
    if principal.role not in route.roles:
        raise ForbiddenError(f"The role {principal.role} may not call {route.name}.")
    if route.caller_path and params.get("moodle_user_id") != principal.moodle_user_id:
        raise OutOfScopeError("This path must name the caller's own moodle_user_id.")


def subject_user(route: Route, params: dict[str, str]) -> str | None:
    """The user a path asks about, if any (not the caller of a caller path)."""
    if route.caller_path:
        return None
    return next((params[name] for name in USER_PARAMS if name in params), None)


async def resolve_scope(
    route: Route,
    principal: Principal,
    params: dict[str, str],
    source: ScopeSource,
    *,
    now: datetime,
) -> Scope:
    """The scope of an authorized request; 403 for a user or course outside it."""
    scope = await principal_scope(principal, source, now=now)
    subject = subject_user(route, params)
    if subject is not None:
        scope = await _narrow_to_subject(scope, principal, subject, source)
    course = params.get("course_id")
    if course is not None and not scope.allows_course(course):
        raise OutOfScopeError("The course is not one of the caller's courses.")
    return scope


async def principal_scope(
    principal: Principal, source: ScopeSource, *, now: datetime
) -> Scope:
    """What a principal may see when the path names nobody in particular."""
    if principal.role in WHOLE_TENANT_ROLES:
        return WHOLE_TENANT
    user = principal.moodle_user_id
    if user is None:  # sessions and viewers of these roles always name a user
        raise ForbiddenError("This credential names no user.")
    if principal.role == "student":
        return Scope(user_id=user)
    courses = await source.teacher_courses(user, now=now)
    if principal.course_ids is not None:
        courses &= principal.course_ids
    return Scope(course_ids=courses)


async def _narrow_to_subject(
    scope: Scope, principal: Principal, subject: str, source: ScopeSource
) -> Scope:
    if subject == principal.moodle_user_id:
        return Scope(user_id=subject)  # everyone sees all of their own data
    if principal.role == "student":
        raise OutOfScopeError("A student sees only their own data.")
    if scope.course_ids is not None and not (
        scope.course_ids and await source.is_student_in(subject, scope.course_ids)
    ):
        raise OutOfScopeError("The user is not a student of the caller's courses.")
    return scope.narrowed_to_user(subject)
