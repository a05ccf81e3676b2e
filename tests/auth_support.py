"""Credentials for tests: session JWTs, plugin SSO tokens and viewer headers.

Everything made here is remembered by the log guard, so a test can never leak one
into a log line unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from ssea_core.auth.sessions import mint_session
from ssea_core.auth.viewer import ViewerRole, sign_viewer_context
from ssea_core.settings import Settings
from ssea_storage.sql.store import SqlStore
from tests.log_guard import remember


def session_token(
    settings: Settings,
    now: datetime,
    tenant_id: UUID,
    role: Any,
    user: str | None = None,
    course_ids: list[str] | None = None,
) -> str:
    """A valid session JWT, minted the way the service mints them."""
    keys = [secret.get_secret_value().encode() for secret in settings.jwt_secrets]
    session = mint_session(
        keys=keys,
        issuer=settings.jwt_issuer,
        ttl=timedelta(seconds=settings.session_ttl_seconds),
        now=now,
        tenant_id=tenant_id,
        role=role,
        moodle_user_id=user,
        course_ids=course_ids,
    )
    remember(session.token)
    return session.token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(claims: dict[str, Any], key: Any, algorithm: str = "HS256") -> str:
    """A JWT over ``claims`` signed by PyJWT (remembered)."""
    token = jwt.encode(claims, key, algorithm=algorithm)
    remember(token)
    return token


def forged(claims: dict[str, Any], key: bytes, header: dict[str, Any]) -> str:
    """A JWT with any header, HMAC-SHA256 signed by hand (PyJWT refuses some keys)."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    token = f"{signing_input}.{signature}"
    remember(token)
    return token


def plugin_claims(
    tenant_id: UUID,
    now: datetime,
    *,
    user: str = "u1",
    role: str = "student",
    lifetime: int = 120,
    **extra: Any,
) -> dict[str, Any]:
    """Claims of an SSO token as the Moodle plugin makes them."""
    issued = int(now.timestamp())
    claims = {
        "tenant_id": str(tenant_id),
        "moodle_user_id": user,
        "role": role,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": secrets.token_hex(8),
    }
    return {**claims, **extra}


async def tenant_secret(
    store: SqlStore, tenant_id: UUID, kind: str, now: datetime
) -> bytes:
    """A tenant's current shared secret (rotated, so the test knows it)."""
    secret = (
        await store.for_tenant(tenant_id)
        .access()
        .rotate_secret(
            kind,  # type: ignore[arg-type]
            now=now,
            grace=timedelta(0),
        )
    )
    remember(secret)
    return secret


def viewer_headers(
    secret: bytes,
    tenant_id: UUID,
    role: ViewerRole,
    user: str,
    exp: int,
) -> dict[str, str]:
    """Signed viewer headers (remembered)."""
    headers = sign_viewer_context(
        secret, tenant_id=tenant_id, role=role, moodle_user_id=user, exp=exp
    )
    remember(headers.signature)
    return headers.as_dict()
