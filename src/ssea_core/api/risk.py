"""Risk and alert routes (SPEC §3, §6) under ``/v1/tenants/{tenant_id}/``.

Reads answer the stored scores and alerts (``ssea_core.risk.service`` computes them),
narrowed to the scope the policy granted; writes answer ``{"ok": true}`` (with
``data`` for acknowledge-all). An alert or student outside the caller's tenant or
scope is a 404, the same as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from ssea_core.api.dashboard import (
    CREDENTIALS,
    PREFIX,
    READERS,
    list_answer,
    page_answer,
)
from ssea_core.api.schemas import AcknowledgedAll, AlertPath, Ok, TenantPath, UserPath
from ssea_core.auth.principal import Principal
from ssea_core.context import RequestContext
from ssea_core.errors import NotFoundError
from ssea_core.http import Response
from ssea_core.metrics.repository import Page
from ssea_core.risk.answers import AlertItem, AlertsQuery, AtRiskItem, AtRiskQuery
from ssea_core.risk.repository import AlertFilter, AtRiskFilter
from ssea_core.routing import Answer, Handler, Router


def acting(principal: Principal) -> str:
    """Who acknowledges: the API key's id, or the session's subject (the Moodle user
    id SSO put in ``sub``, else ``tenant:<id>``)."""
    if principal.credential == "api_key":
        return principal.credential_id
    return principal.moodle_user_id or f"tenant:{principal.tenant_id}"


async def at_risk_answer(ctx: RequestContext) -> Response:
    """The at-risk list of the caller's scope (dashboard and teacher viewer)."""
    query = ctx.query(AtRiskQuery)
    where = AtRiskFilter(
        course_id=query.course_id, level=query.risk_level, sort=query.sort
    )
    page = Page(limit=query.limit, offset=query.offset)
    rows, total = await ctx.repository().risk().at_risk(ctx.scope, where, page)
    return list_answer([AtRiskItem.of(row) for row in rows], total)


async def alerts_answer(ctx: RequestContext) -> Response:
    """The alerts of the caller's scope (dashboard and student viewer)."""
    query = ctx.query(AlertsQuery)
    where = AlertFilter(
        include_acknowledged=query.include_acknowledged,
        user_id=query.user_id,
        course_id=query.course_id,
        alert_type=query.alert_type,
    )
    page = Page(limit=query.limit, offset=query.offset)
    rows, total = await ctx.repository().risk().alerts(ctx.scope, where, page)
    return list_answer([AlertItem.of(row) for row in rows], total)


async def at_risk(ctx: RequestContext) -> Response:
    return await at_risk_answer(ctx)


async def acknowledge_student(ctx: RequestContext) -> Response:
    user_id = ctx.params["user_id"]
    risk = ctx.repository().risk()
    current = await risk.current_risk(ctx.scope, user_id)
    if current is None or current.level is None:
        raise NotFoundError(f"User '{user_id}' has no risk score to acknowledge.")
    await risk.acknowledge_student(
        user_id, current.level, by=acting(ctx.caller), now=ctx.services.clock.now()
    )
    return Response.json({"ok": True})


async def alerts(ctx: RequestContext) -> Response:
    return await alerts_answer(ctx)


async def acknowledge_alert(ctx: RequestContext) -> Response:
    alert_id = ctx.params["alert_id"]
    found = (
        await ctx.repository()
        .risk()
        .acknowledge_alert(
            ctx.scope, alert_id, by=acting(ctx.caller), now=ctx.services.clock.now()
        )
    )
    if not found:
        raise NotFoundError(f"No alert '{alert_id}' in this tenant.")
    return Response.json({"ok": True})


async def acknowledge_all(ctx: RequestContext) -> Response:
    count = (
        await ctx.repository()
        .risk()
        .acknowledge_all(ctx.scope, by=acting(ctx.caller), now=ctx.services.clock.now())
    )
    return Response.json({"ok": True, "data": {"acknowledged": count}})


def _path_model(suffix: str) -> type[TenantPath]:
    if "{user_id}" in suffix:
        return UserPath
    if "{alert_id}" in suffix:
        return AlertPath
    return TenantPath


def register(router: Router) -> None:
    """Add the at-risk and alert routes: API keys and sessions of the reader roles."""
    acknowledged = Answer(200, "Acknowledged.", Ok)
    routes: tuple[tuple[str, str, Handler, str, Any, tuple[Answer, ...]], ...] = (
        (
            "GET",
            "/at-risk",
            at_risk,
            "Students at risk, with score, level and factors",
            AtRiskQuery,
            (page_answer(AtRiskItem, "A page of scored students."),),
        ),
        (
            "POST",
            "/at-risk/{user_id}/acknowledge",
            acknowledge_student,
            "Mark a student's risk flag as handled",
            None,
            (acknowledged, Answer(404, "The user has no risk score in scope.")),
        ),
        (
            "GET",
            "/alerts",
            alerts,
            "Alerts, pending ones unless include_acknowledged",
            AlertsQuery,
            (page_answer(AlertItem, "A page of alerts."),),
        ),
        (
            "POST",
            "/alerts/acknowledge-all",
            acknowledge_all,
            "Acknowledge every pending alert in scope",
            None,
            (Answer(200, "How many were acknowledged.", AcknowledgedAll),),
        ),
        (
            "POST",
            "/alerts/{alert_id}/acknowledge",
            acknowledge_alert,
            "Acknowledge one alert",
            None,
            (acknowledged, Answer(404, "No such alert in scope.")),
        ),
    )
    for method, suffix, handler, summary, query, responses in routes:
        router.add(
            method,
            PREFIX + suffix,
            handler,
            auth=CREDENTIALS,
            roles=READERS,
            summary=summary,
            tags=("risk",),
            path=_path_model(suffix),
            query=query,
            responses=responses,
        )
