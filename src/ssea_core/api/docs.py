"""``GET /openapi.json``: the OpenAPI document of the router that serves it."""

from __future__ import annotations

from ssea_core.api.schemas import OpenApiDocument
from ssea_core.context import RequestContext
from ssea_core.http import Response, dumps
from ssea_core.openapi import build_document
from ssea_core.routing import Answer, Handler, Router


def register(router: Router) -> None:
    """Add the document route (public, never limited, like ``/health``).

    The document is built from the router's table at the first request and kept: a
    route table does not change while the service runs.
    """
    built: list[bytes] = []

    async def openapi_document(ctx: RequestContext) -> Response:
        if not built:
            built.append(dumps(build_document(router.routes)))
        return Response(
            200, body=built[0], headers=[("content-type", "application/json")]
        )

    handler: Handler = openapi_document
    router.add(
        "GET",
        "/openapi.json",
        handler,
        auth=("public",),
        rate_group="none",
        summary="This OpenAPI 3.1 document",
        tags=("service",),
        responses=(Answer(200, "The OpenAPI document.", OpenApiDocument),),
    )
