"""Dashboard read routes (SPEC §3) under ``/v1/tenants/{tenant_id}/``.

Handlers parse the query, ask :class:`ssea_core.metrics.Analytics` and answer the bare
object or array; lists carry their total in ``X-Total-Count``. Tenant and role checks
happen in ``ssea_core.policy`` before a handler runs, so handlers check nothing; the
reads they make are narrowed to the scope the policy granted (``ctx.analytics()``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from ssea_core.api.schemas import CoursePath, TenantPath, UserPath
from ssea_core.context import RequestContext
from ssea_core.http import Response
from ssea_core.metrics import Analytics
from ssea_core.metrics.params import (
    CoursesQuery,
    HeatmapQuery,
    PagedPeriodQuery,
    PageQuery,
    PeriodQuery,
    TopQuery,
    TrendsQuery,
    UsersQuery,
    zone,
)
from ssea_core.metrics.results import (
    CourseCompletion,
    CourseSummary,
    EnrolmentCount,
    GradeDistribution,
    Heatmap,
    ItemGrades,
    ModuleCompletion,
    Overview,
    Top,
    Trends,
    UserProfile,
    UserSummary,
)
from ssea_core.routing import Answer, AuthMode, Handler, Router

logger = logging.getLogger(__name__)

PREFIX = "/v1/tenants/{tenant_id}"
TOTAL_HEADER = "X-Total-Count"
CREDENTIALS: tuple[AuthMode, ...] = ("api_key", "session")


#: Who may read the dashboard: teachers see their courses' students only.
READERS = ("admin", "manager", "teacher")
#: The profile route also lets a student read their own profile.
PROFILE_READERS = (*READERS, "student")


def analytics_for(ctx: RequestContext) -> Analytics:
    """The dashboard reads of the caller, narrowed to their scope."""
    return Analytics(ctx.analytics(), ctx.tenant_id, ctx.services.clock.now().date())


def object_answer(answer: BaseModel) -> Response:
    """A bare JSON object, field names as the public page shows them."""
    return Response.json(answer.model_dump(mode="json", by_alias=True))


def list_answer(items: Sequence[BaseModel], total: int) -> Response:
    """A bare JSON array with the total of every page in ``X-Total-Count``."""
    payload = [item.model_dump(mode="json", by_alias=True) for item in items]
    return Response.json(payload, headers={TOTAL_HEADER: str(total)})


async def overview(ctx: RequestContext) -> Response:
    return object_answer(await analytics_for(ctx).overview(ctx.query(PeriodQuery)))


async def trends(ctx: RequestContext) -> Response:
    return object_answer(await analytics_for(ctx).trends(ctx.query(TrendsQuery)))


async def list_users(ctx: RequestContext) -> Response:
    return list_answer(*await analytics_for(ctx).users(ctx.query(UsersQuery)))


async def user_profile(ctx: RequestContext) -> Response:
    query = ctx.query(PeriodQuery)
    return object_answer(await analytics_for(ctx).profile(ctx.params["user_id"], query))


async def top(ctx: RequestContext) -> Response:
    return object_answer(await analytics_for(ctx).top(ctx.query(TopQuery)))


async def heatmap(ctx: RequestContext) -> Response:
    query = ctx.query(HeatmapQuery)
    default = "UTC" if query.tz else await _tenant_zone(ctx)
    return object_answer(await analytics_for(ctx).heatmap(query, default))


async def list_courses(ctx: RequestContext) -> Response:
    return list_answer(*await analytics_for(ctx).courses(ctx.query(CoursesQuery)))


async def enrolments(ctx: RequestContext) -> Response:
    return list_answer(
        *await analytics_for(ctx).enrolments(ctx.query(PagedPeriodQuery))
    )


async def grades(ctx: RequestContext) -> Response:
    return object_answer(await analytics_for(ctx).grades())


async def course_grades(ctx: RequestContext) -> Response:
    query = ctx.query(PageQuery)
    course_id = ctx.params["course_id"]
    return list_answer(*await analytics_for(ctx).course_grades(course_id, query))


async def completion(ctx: RequestContext) -> Response:
    return list_answer(*await analytics_for(ctx).completion(ctx.query(PageQuery)))


async def course_completion(ctx: RequestContext) -> Response:
    query = ctx.query(PageQuery)
    course_id = ctx.params["course_id"]
    return list_answer(*await analytics_for(ctx).course_completion(course_id, query))


async def _tenant_zone(ctx: RequestContext) -> str:
    tenant = await ctx.services.store.operator.get_tenant(ctx.tenant_id)
    name = tenant.timezone if tenant is not None else "UTC"
    try:
        zone(name)
    except ValueError:
        # A bad stored zone should not break the dashboard: fall back, loudly.
        logger.warning("tenant=%s has an unknown timezone; using UTC", ctx.tenant_id)
        return "UTC"
    return name


def _path_model(suffix: str) -> type[TenantPath]:
    if "{user_id}" in suffix:
        return UserPath
    if "{course_id}" in suffix:
        return CoursePath
    return TenantPath


def page_answer(item: Any, what: str) -> Answer:
    """The 200 of a list route: a bare array of ``item``, the total in a header."""
    return Answer(200, what, list[item], headers=(TOTAL_HEADER,))


def register(router: Router) -> None:
    """Add the dashboard reads: API keys and sessions of the reader roles."""
    no_user = Answer(404, "No such user in this tenant (or deleted).")
    no_course = Answer(404, "No such course in this tenant.")
    routes: tuple[tuple[str, Handler, str, Any, Any, tuple[Answer, ...]], ...] = (
        (
            "/overview",
            overview,
            "Activity of the period",
            PeriodQuery,
            Answer(200, "The tenant's activity in the period.", Overview),
            (),
        ),
        (
            "/overview/trends",
            trends,
            "Events, active users and sessions per day or hour",
            TrendsQuery,
            Answer(200, "Every bucket of the period, empty ones included.", Trends),
            (),
        ),
        (
            "/users",
            list_users,
            "Users with their activity and risk",
            UsersQuery,
            page_answer(UserSummary, "A page of users."),
            (),
        ),
        (
            "/users/{user_id}",
            user_profile,
            "One user's profile",
            PeriodQuery,
            Answer(200, "The user, courses, timeline, submissions, risk.", UserProfile),
            (no_user,),
        ),
        (
            "/top",
            top,
            "Busiest users and courses",
            TopQuery,
            Answer(200, "The top users and courses by events.", Top),
            (),
        ),
        (
            "/heatmap",
            heatmap,
            "Events by weekday and hour",
            HeatmapQuery,
            Answer(200, "7 by 24 event counts, Monday first.", Heatmap),
            (),
        ),
        (
            "/courses",
            list_courses,
            "Courses with engagement, completion, grades, risk",
            CoursesQuery,
            page_answer(CourseSummary, "A page of courses."),
            (),
        ),
        (
            "/courses/{course_id}/grades",
            course_grades,
            "Grade distribution per grade item of a course",
            PageQuery,
            page_answer(ItemGrades, "A page of the course's grade items."),
            (no_course,),
        ),
        (
            "/courses/{course_id}/completion",
            course_completion,
            "Completion per activity of a course",
            PageQuery,
            page_answer(ModuleCompletion, "A page of the course's modules."),
            (no_course,),
        ),
        (
            "/enrollments",
            enrolments,
            "Enrolment counts by course and role",
            PagedPeriodQuery,
            page_answer(EnrolmentCount, "A page of course and role counts."),
            (),
        ),
        (
            "/grades",
            grades,
            "Tenant grade distribution",
            None,
            Answer(200, "Grades in percent of each item's range.", GradeDistribution),
            (),
        ),
        (
            "/completion",
            completion,
            "Completion rate by course",
            PageQuery,
            page_answer(CourseCompletion, "A page of courses."),
            (),
        ),
    )
    for suffix, handler, summary, query, answer, errors in routes:
        roles = PROFILE_READERS if handler is user_profile else READERS
        router.add(
            "GET",
            PREFIX + suffix,
            handler,
            auth=CREDENTIALS,
            roles=roles,
            summary=summary,
            tags=("dashboard",),
            path=_path_model(suffix),
            query=query,
            responses=(answer, *errors),
        )
