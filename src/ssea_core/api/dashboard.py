"""Dashboard read routes (SPEC §3) under ``/v1/tenants/{tenant_id}/``.

Handlers parse the query, ask :class:`ssea_core.metrics.Analytics` and answer the bare
object or array; lists carry their total in ``X-Total-Count``. Tenant and role checks
happen in ``ssea_core.policy`` before a handler runs, so handlers check nothing; the
reads they make are narrowed to the scope the policy granted (``ctx.analytics()``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import BaseModel

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
from ssea_core.routing import AuthMode, Router

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


def register(router: Router) -> None:
    """Add the dashboard reads: API keys and sessions of the reader roles."""
    routes = (
        ("/overview", overview),
        ("/overview/trends", trends),
        ("/users", list_users),
        ("/users/{user_id}", user_profile),
        ("/top", top),
        ("/heatmap", heatmap),
        ("/courses", list_courses),
        ("/courses/{course_id}/grades", course_grades),
        ("/courses/{course_id}/completion", course_completion),
        ("/enrollments", enrolments),
        ("/grades", grades),
        ("/completion", completion),
    )
    for suffix, handler in routes:
        roles = PROFILE_READERS if handler is user_profile else READERS
        router.add("GET", PREFIX + suffix, handler, auth=CREDENTIALS, roles=roles)
