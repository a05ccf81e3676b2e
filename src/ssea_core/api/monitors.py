"""Monitor routes (SPEC §8): list, create, read and delete saved filters.

A monitor is answered with its current ``match_count`` and ``at_risk_count``,
counted inside the reader's scope. Teachers see and delete only their own monitors,
and a teacher's filters may name only their courses (403 ``OUT_OF_SCOPE``).
"""

from __future__ import annotations

from ssea_core.api.dashboard import page_answer
from ssea_core.api.schemas import (
    MonitorAnswer,
    MonitorCreated,
    MonitorPath,
    Ok,
    TenantPath,
)
from ssea_core.auth.scope import Scope
from ssea_core.context import RequestContext
from ssea_core.errors import NotFoundError, OutOfScopeError
from ssea_core.http import Response
from ssea_core.metrics.params import PageQuery
from ssea_core.monitors import (
    CourseFilters,
    Monitor,
    MonitorIn,
    MonitorOwner,
    MonitorRepository,
    StudentFilters,
    monitor_answer,
    new_monitor_id,
)
from ssea_core.reports.jobs import requester
from ssea_core.routing import Answer, AuthMode, Router

PREFIX = "/v1/tenants/{tenant_id}/monitors"
CREDENTIALS: tuple[AuthMode, ...] = ("api_key", "session")
READERS = ("admin", "manager", "teacher")
TOTAL_HEADER = "X-Total-Count"


def _monitors(ctx: RequestContext) -> MonitorRepository:
    return ctx.repository().monitors()


def _owner(ctx: RequestContext) -> MonitorOwner:
    if ctx.scope.whole_tenant:
        return MonitorOwner()
    return MonitorOwner(created_by=requester(ctx.caller))


def _check_scope(filters: StudentFilters | CourseFilters, scope: Scope) -> None:
    if scope.course_ids is None:
        return
    named = (
        [filters.course_id]
        if isinstance(filters, StudentFilters)
        else filters.course_ids
    )
    outside = sorted(
        set(course for course in named or () if course is not None) - scope.course_ids
    )
    if outside:
        raise OutOfScopeError("The filters name a course that is not one of yours.")


async def _answer(ctx: RequestContext, monitor: Monitor) -> dict[str, object]:
    today = ctx.services.clock.now().date()
    counts = await _monitors(ctx).count(monitor, ctx.scope, today)
    return monitor_answer(monitor, counts)


async def list_monitors(ctx: RequestContext) -> Response:
    page = ctx.query(PageQuery)
    found, total = await _monitors(ctx).list_monitors(
        _owner(ctx), limit=page.limit, offset=page.offset
    )
    payload = [await _answer(ctx, monitor) for monitor in found]
    return Response.json(payload, headers={TOTAL_HEADER: str(total)})


async def create_monitor(ctx: RequestContext) -> Response:
    body = ctx.body(MonitorIn)
    filters = body.checked_filters()
    _check_scope(filters, ctx.scope)
    monitor = Monitor(
        monitor_id=new_monitor_id(),
        name=body.name,
        target=body.target,
        filters=filters.model_dump(mode="json", exclude_none=True),
        created_by=requester(ctx.caller),
        created_at=ctx.services.clock.now(),
    )
    await _monitors(ctx).create_monitor(monitor)
    return Response.json({"ok": True, "data": await _answer(ctx, monitor)}, status=201)


async def get_monitor(ctx: RequestContext) -> Response:
    monitor_id = ctx.params["monitor_id"]
    monitor = await _monitors(ctx).get_monitor(monitor_id, _owner(ctx))
    if monitor is None:
        raise NotFoundError(f"No monitor {monitor_id}.")
    return Response.json(await _answer(ctx, monitor))


async def delete_monitor(ctx: RequestContext) -> Response:
    monitor_id = ctx.params["monitor_id"]
    if not await _monitors(ctx).delete_monitor(monitor_id, _owner(ctx)):
        raise NotFoundError(f"No monitor {monitor_id}.")
    return Response.json({"ok": True})


def register(router: Router) -> None:
    """Add the monitor routes: API keys and sessions of admins, managers, teachers."""
    one = PREFIX + "/{monitor_id}"
    tags = ("monitors",)
    no_monitor = Answer(404, "No such monitor the caller may see.")
    router.add(
        "GET",
        PREFIX,
        list_monitors,
        auth=CREDENTIALS,
        roles=READERS,
        summary="Monitors, with their current counts",
        tags=tags,
        path=TenantPath,
        query=PageQuery,
        responses=(page_answer(MonitorAnswer, "A page of monitors."),),
    )
    router.add(
        "POST",
        PREFIX,
        create_monitor,
        auth=CREDENTIALS,
        roles=READERS,
        summary="Save a filter over students or courses",
        tags=tags,
        path=TenantPath,
        body=MonitorIn,
        examples=(
            {
                "name": "Inactive for a week",
                "target": "students",
                "filters": {"inactive_days": 7, "risk_level": ["high", "critical"]},
            },
        ),
        responses=(Answer(201, "The monitor, with its counts.", MonitorCreated),),
    )
    router.add(
        "GET",
        one,
        get_monitor,
        auth=CREDENTIALS,
        roles=READERS,
        summary="One monitor, with its current counts",
        tags=tags,
        path=MonitorPath,
        responses=(Answer(200, "The monitor.", MonitorAnswer), no_monitor),
    )
    router.add(
        "DELETE",
        one,
        delete_monitor,
        auth=CREDENTIALS,
        roles=READERS,
        summary="Delete a monitor",
        tags=tags,
        path=MonitorPath,
        responses=(Answer(200, "Deleted.", Ok), no_monitor),
    )
