"""The application: one request in, one response out, whatever runtime serves it."""

from __future__ import annotations

import logging

from ssea_core.api import dashboard, ingest
from ssea_core.auth.authenticate import authenticate_api_key
from ssea_core.auth.principal import Principal
from ssea_core.clock import Clock, SystemClock
from ssea_core.context import RequestContext, Services
from ssea_core.errors import MissingCredentialError, SseaError
from ssea_core.http import Request, Response
from ssea_core.policy import authorize
from ssea_core.protocols import Store
from ssea_core.routing import Route, Router
from ssea_core.settings import Settings

logger = logging.getLogger(__name__)


def build_router() -> Router:
    """The route table of the service."""
    router = Router()
    ingest.register(router)
    dashboard.register(router)
    return router


class SseaApp:
    """The core application that every adapter mounts."""

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        router: Router | None = None,
    ) -> None:
        self.services = Services(
            store=store, settings=settings or Settings(), clock=clock or SystemClock()
        )
        self.router = router or build_router()

    async def authenticate(self, request: Request, route: Route) -> Principal:
        """The caller of a non-public route; 401 when no accepted credential."""
        if "api_key" in route.auth and request.header("x-ssea-key") is not None:
            return await authenticate_api_key(
                request, self.services.store, self.services.clock
            )
        raise MissingCredentialError

    async def handle(self, request: Request) -> Response:
        """Serve one request. Never raises: every failure becomes an envelope."""
        try:
            match = self.router.match(request.method, request.path)
            principal = None
            if not match.route.is_public:
                principal = await self.authenticate(request, match.route)
                authorize(match.route, principal, match.params)
            context = RequestContext(request, match.params, self.services, principal)
            response = await match.route.handler(context)
        except SseaError as error:
            logger.debug(
                "%s %s -> %d %s", request.method, request.path, error.status, error.code
            )
            response = Response.from_error(error)
        except Exception:
            logger.exception("unhandled error on %s %s", request.method, request.path)
            response = Response.from_error(SseaError())
        if request.method == "HEAD":
            response.body = b""
        return response
