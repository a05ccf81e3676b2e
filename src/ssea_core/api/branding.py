"""Branding routes (SPEC §8): public by Host, and the tenant's own (PUT for admins)."""

from __future__ import annotations

from ssea_core.api.schemas import (
    BrandingUpdated,
    PublicBranding,
    TenantBranding,
    TenantPath,
)
from ssea_core.branding import BrandingIn, host_name
from ssea_core.context import RequestContext
from ssea_core.errors import NotFoundError
from ssea_core.http import Response
from ssea_core.routing import Answer, Router

PREFIX = "/v1/tenants/{tenant_id}"
EVERY_ROLE = ("admin", "manager", "teacher", "student")


async def public_branding(ctx: RequestContext) -> Response:
    domain = host_name(ctx.request.header("host"))
    found = None
    if domain is not None:
        found = await ctx.services.store.operator.branding_by_domain(domain)
    if found is None:
        raise NotFoundError("No tenant has this host as its custom domain.")
    return Response.json(found.public())


async def get_branding(ctx: RequestContext) -> Response:
    return Response.json((await ctx.repository().get_branding()).private())


async def put_branding(ctx: RequestContext) -> Response:
    changes = ctx.body(BrandingIn).changes()
    updated = await ctx.repository().update_branding(changes)
    return Response.json({"ok": True, "data": updated.private()})


def register(router: Router) -> None:
    """Add the branding routes: any role reads its tenant's, only admins change it."""
    router.add(
        "GET",
        "/v1/branding",
        public_branding,
        auth=("public",),
        summary="The branding of the tenant whose custom domain is the Host",
        tags=("branding",),
        responses=(
            Answer(200, "The tenant's public branding.", PublicBranding),
            Answer(404, "No active tenant has this Host as its custom domain."),
        ),
    )
    router.add(
        "GET",
        PREFIX + "/branding",
        get_branding,
        auth=("api_key", "session", "viewer"),
        roles=EVERY_ROLE,
        summary="The tenant's branding",
        tags=("branding",),
        path=TenantPath,
        responses=(Answer(200, "The branding and custom domain.", TenantBranding),),
    )
    router.add(
        "PUT",
        PREFIX + "/branding",
        put_branding,
        auth=("api_key", "session"),
        summary="Change the tenant's branding (fields sent; null clears one)",
        tags=("branding",),
        path=TenantPath,
        body=BrandingIn,
        examples=({"primary_color": "#4f46e5", "product_name": "Acme Analytics"},),
        responses=(
            Answer(200, "The new branding.", BrandingUpdated),
            Answer(409, "Another tenant has this custom domain (`CONFLICT`)."),
        ),
    )
