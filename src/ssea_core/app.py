"""The application: one request in, one response out, whatever runtime serves it.

Every request takes the same steps, so every adapter gets all of them: CORS preflight,
route, authenticate, rate limit, authorize and scope (``ssea_core.policy``), handler,
viewer audit, and the security, CORS and rate-limit headers of the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from ssea_core.api import (
    auth,
    branding,
    dashboard,
    docs,
    ingest,
    monitors,
    reports,
    risk,
    viewer,
)
from ssea_core.artifacts import ArtifactStore
from ssea_core.auth.authenticate import (
    Authenticated,
    authenticate,
    presented_credentials,
)
from ssea_core.auth.records import ViewerAccess
from ssea_core.clock import Clock, SystemClock
from ssea_core.context import RequestContext, Services
from ssea_core.cors import CorsPolicy, add_security_headers
from ssea_core.errors import (
    AuthenticationError,
    MisconfiguredError,
    RateLimitedError,
    SseaError,
)
from ssea_core.http import Request, Response
from ssea_core.policy import authorize, path_tenant, resolve_scope
from ssea_core.protocols import Store
from ssea_core.ratelimit import RateLimiter, RateLimitState, rate_limiter_from_settings
from ssea_core.routing import Route, Router
from ssea_core.settings import Settings

logger = logging.getLogger(__name__)


def build_router() -> Router:
    """The route table of the service."""
    router = Router()
    ingest.register(router)
    auth.register(router)
    branding.register(router)
    dashboard.register(router)
    risk.register(router)
    viewer.register(router)
    reports.register(router)
    monitors.register(router)
    docs.register(router)
    return router


@dataclass(slots=True)
class _Exchange:
    """What one request learned on its way: route, caller, rate-limit state."""

    request: Request
    route: Route | None = None
    params: dict[str, str] = field(default_factory=dict)
    caller: Authenticated | None = None
    limit: RateLimitState | None = None
    error_code: str | None = None


class SseaApp:
    """The core application that every adapter mounts."""

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        router: Router | None = None,
        rate_limiter: RateLimiter | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> None:
        settings = settings or Settings()
        self.services = Services(
            store=store,
            settings=settings,
            clock=clock or SystemClock(),
            artifacts=artifacts,
        )
        self.router = router or build_router()
        self.cors = CorsPolicy.from_settings(settings)
        self.limiter = rate_limiter or rate_limiter_from_settings(settings)

    async def handle(self, request: Request) -> Response:
        """Serve one request. Never raises: every failure becomes an envelope."""
        exchange = _Exchange(request)
        try:
            response = await self._serve(exchange)
        except SseaError as error:
            logger.debug(
                "%s %s -> %d %s", request.method, request.path, error.status, error.code
            )
            exchange.error_code = error.code
            response = Response.from_error(error)
        except Exception:
            logger.exception("unhandled error on %s %s", request.method, request.path)
            exchange.error_code = SseaError.code
            response = Response.from_error(SseaError())
        response = await self._audit(exchange, response)
        self._finish(exchange, response)
        if request.method == "HEAD":
            await response.drop_stream()
        return response

    async def aclose(self) -> None:
        """Release what the app holds (the rate-limit storage); not the store."""
        await self.limiter.aclose()

    # -- the steps -------------------------------------------------------------------

    async def _serve(self, exchange: _Exchange) -> Response:
        request = exchange.request
        if self.cors.is_preflight(request):
            return self.cors.preflight(request, self.router.methods_for(request.path))
        match = self.router.match(request.method, request.path)
        exchange.route, exchange.params = match.route, match.params
        if match.route.is_public:
            await self._limit(exchange, _client_key(request), match.route.rate_group)
            return await match.route.handler(
                RequestContext(request, match.params, self.services)
            )
        return await self._serve_authenticated(exchange, match.route)

    async def _serve_authenticated(self, exchange: _Exchange, route: Route) -> Response:
        services, request = self.services, exchange.request
        try:
            caller = await authenticate(
                request, services.store, services.settings, services.clock
            )
        except AuthenticationError:
            # Failed attempts count per client address, so guessing is limited; in a
            # bucket of their own, so they cannot starve the public routes.
            await self._limit(exchange, _client_key(request), "auth-failure")
            raise
        exchange.caller = caller
        principal = caller.principal
        await self._limit(exchange, _credential_key(caller), route.rate_group)

        authorize(route, principal, exchange.params)
        source = services.store.for_tenant(principal.tenant_id).access()
        scope = await resolve_scope(
            route, principal, exchange.params, source, now=services.clock.now()
        )
        context = RequestContext(request, exchange.params, services, principal, scope)
        return await route.handler(context)

    async def _limit(self, exchange: _Exchange, key: str, group: str) -> None:
        if group == "none":
            return
        settings = self.services.settings
        rate = {
            "default": settings.rate_limit,
            "ingest": settings.rate_limit_ingest,
            "public": settings.rate_limit_public,
            "auth-failure": settings.rate_limit_public,
        }[group]
        state = await self.limiter.hit(f"{group}:{key}", rate)
        exchange.limit = state
        if state is not None and not state.allowed:
            raise RateLimitedError(
                f"More than {rate} calls; retry after {state.reset_after} s.",
                retry_after=state.reset_after,
                headers=state.headers(),
            )

    async def _audit(self, exchange: _Exchange, response: Response) -> Response:
        """Write the viewer audit row; no viewer answer leaves without one."""
        tenant = self._audit_tenant(exchange)
        if tenant is None:
            return response
        access = _viewer_access(exchange, response, self.services.clock.now())
        try:
            await (
                self.services.store.for_tenant(tenant)
                .access()
                .record_viewer_access(access)
            )
        except Exception as exc:
            logger.error(
                "viewer audit failed tenant=%s: %s", tenant, type(exc).__name__
            )
            return Response.from_error(
                MisconfiguredError("The viewer access could not be audited.")
            )
        return response

    def _audit_tenant(self, exchange: _Exchange) -> UUID | None:
        viewer_route = exchange.route is not None and "viewer" in exchange.route.auth
        sent = "viewer" in presented_credentials(exchange.request)
        if not (viewer_route or sent):
            return None
        try:
            tenant = path_tenant(exchange.params)
        except SseaError:
            tenant = None
        if tenant is None and exchange.caller is not None:
            tenant = exchange.caller.principal.tenant_id
        return tenant

    def _finish(self, exchange: _Exchange, response: Response) -> None:
        request = exchange.request
        add_security_headers(response, _frame_origin(exchange))
        self.cors.decorate(request, response)
        if exchange.limit is not None and response.header("X-RateLimit-Limit") is None:
            response.headers.extend(exchange.limit.headers().items())
        if request.method == "HEAD":
            response.body = b""


def render_error(request: Request, error: SseaError, settings: Settings) -> Response:
    """An error answer with the security and CORS headers, for an adapter's failures
    before any :class:`SseaApp` can serve (body too large, store unreachable)."""
    response = Response.from_error(error)
    add_security_headers(response)
    CorsPolicy.from_settings(settings).decorate(request, response)
    if request.method == "HEAD":
        response.body = b""
    return response


def _client_key(request: Request) -> str:
    return f"client:{request.client or 'unknown'}"


def _credential_key(caller: Authenticated) -> str:
    principal = caller.principal
    return f"{principal.tenant_id}:{principal.credential}:{principal.credential_id}"


def _frame_origin(exchange: _Exchange) -> str | None:
    route, caller = exchange.route, exchange.caller
    if route is None or caller is None or "viewer" not in route.auth:
        return None
    return caller.frame_origin


def _viewer_access(
    exchange: _Exchange, response: Response, now: datetime
) -> ViewerAccess:
    principal = exchange.caller.principal if exchange.caller is not None else None
    params = exchange.params
    if response.status < 400:
        outcome = "allowed"
    else:
        outcome = exchange.error_code or f"HTTP_{response.status}"
    return ViewerAccess(
        at=now,
        route=exchange.route.name if exchange.route is not None else "unknown",
        status=response.status,
        outcome=outcome,
        role=principal.role if principal is not None else None,
        moodle_user_id=principal.moodle_user_id if principal is not None else None,
        target_id=params.get("moodle_user_id") or params.get("user_id"),
    )
