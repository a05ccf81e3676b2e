"""``POST /v1/auth/sso`` (SPEC §4.2): a plugin token in, a session JWT out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ssea_core.api.schemas import SessionAnswer
from ssea_core.auth.sso import exchange_sso_token
from ssea_core.context import RequestContext
from ssea_core.http import Response
from ssea_core.routing import Answer, Router

#: Far longer than any real plugin token; keeps parsing bounded.
MAX_TOKEN_CHARS = 8192


class SsoIn(BaseModel):
    """The body of ``POST /v1/auth/sso``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)


async def sso(ctx: RequestContext) -> Response:
    body = ctx.body(SsoIn)
    services = ctx.services
    session = await exchange_sso_token(
        body.token,
        store=services.store,
        settings=services.settings,
        clock=services.clock,
    )
    data = {
        "token": session.token,
        "tenant_id": session.claims.tenant_id,
        "expires_at": session.expires_at,
    }
    return Response.json({"ok": True, "data": data})


def register(router: Router) -> None:
    """Add the SSO exchange (public: the token is the credential)."""
    router.add(
        "POST",
        "/v1/auth/sso",
        sso,
        auth=("public",),
        summary="Exchange a plugin-signed token for a session JWT",
        tags=("auth",),
        body=SsoIn,
        responses=(
            Answer(200, "The session token and when it expires.", SessionAnswer),
            Answer(401, "The token is invalid, expired, replayed or too long-lived."),
        ),
    )
