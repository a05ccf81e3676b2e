"""Turn a request's credential into a :class:`Principal`, or refuse it (401).

Invariants:
- A request carries exactly one kind of credential: an API key, a session JWT or a
  viewer signature; none is a 401 MISSING_CREDENTIAL, several an AMBIGUOUS_CREDENTIAL.
- Only active tenants authenticate; the tenant is checked on every request, so
  deactivating one locks out its keys, sessions and viewers at once.
- API keys are looked up by their SHA-256 and the stored hash is then compared in
  constant time, so neither step's timing depends on how close a guess was.
- Nothing here logs a credential; lines carry key ids and tenant ids only.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

from ssea_core.auth.api_keys import hash_api_key, is_well_formed
from ssea_core.auth.principal import CredentialKind, Principal
from ssea_core.auth.sessions import session_keys, verify_session
from ssea_core.auth.viewer import (
    CONTEXT_HEADER,
    SIGNATURE_HEADER,
    read_context,
    verify_viewer,
)
from ssea_core.clock import Clock
from ssea_core.errors import (
    AmbiguousCredentialError,
    ExpiredCredentialError,
    InvalidCredentialError,
    MissingCredentialError,
    RevokedCredentialError,
)
from ssea_core.http import Request
from ssea_core.protocols import Store
from ssea_core.settings import Settings

logger = logging.getLogger(__name__)

API_KEY_HEADER = "x-ssea-key"
AUTHORIZATION_HEADER = "authorization"
#: Last use is recorded at most this often per key, so reads stay free of writes.
LAST_USE_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A verified caller, and the origin that may frame its viewer answers."""

    principal: Principal
    frame_origin: str | None = None


def presented_credentials(request: Request) -> list[CredentialKind]:
    """The kinds of credential a request carries (possibly none, possibly several)."""
    kinds: list[CredentialKind] = []
    if request.header(API_KEY_HEADER) is not None:
        kinds.append("api_key")
    if request.header(AUTHORIZATION_HEADER) is not None:
        kinds.append("session")
    viewer = (request.header(CONTEXT_HEADER), request.header(SIGNATURE_HEADER))
    if viewer != (None, None):
        kinds.append("viewer")
    return kinds


async def authenticate(
    request: Request, store: Store, settings: Settings, clock: Clock
) -> Authenticated:
    """The caller of a non-public route.

    Raises a subclass of :class:`AuthenticationError` (401) for a missing, ambiguous or
    refused credential, and :class:`MisconfiguredError` (503) when what verifies it is
    not configured.
    """
    kinds = presented_credentials(request)
    if not kinds:
        raise MissingCredentialError
    if len(kinds) > 1:
        raise AmbiguousCredentialError
    if kinds[0] == "api_key":
        return Authenticated(await authenticate_api_key(request, store, clock))
    if kinds[0] == "session":
        principal = await authenticate_session(request, store, settings, clock)
        return Authenticated(principal)
    return await authenticate_viewer(request, store, clock)


async def authenticate_api_key(
    request: Request, store: Store, clock: Clock
) -> Principal:
    """Resolve ``X-SSEA-Key``; an API key acts as its tenant's admin (SPEC §4.4).

    Raises a subclass of :class:`AuthenticationError` for a missing, malformed,
    unknown, revoked or expired key, or a key of an inactive tenant.
    """
    operator = store.operator
    key = (request.header(API_KEY_HEADER) or "").strip()
    if not key:
        raise MissingCredentialError
    if not is_well_formed(key):
        logger.info("api key refused: malformed")
        raise InvalidCredentialError("The API key is not of the form ssea_<32 hex>.")

    digest = hash_api_key(key)
    record = await operator.find_api_key(digest)
    if record is None or not hmac.compare_digest(record.key_hash or "", digest):
        logger.info("api key refused: unknown key")
        raise InvalidCredentialError("The API key is not known.")
    if not record.active or record.revoked_at is not None:
        logger.info("api key refused: revoked key_id=%s", record.key_id)
        raise RevokedCredentialError
    now = clock.now()
    if record.expires_at is not None and record.expires_at <= now:
        logger.info("api key refused: expired key_id=%s", record.key_id)
        raise ExpiredCredentialError("The API key has expired.")

    tenant = await operator.get_tenant(record.tenant_id)
    if tenant is None or not tenant.active:
        logger.info("api key refused: inactive tenant key_id=%s", record.key_id)
        raise InvalidCredentialError("The API key's tenant is not active.")

    if record.last_used_at is None or now - record.last_used_at >= LAST_USE_RESOLUTION:
        await store.for_tenant(record.tenant_id).touch_api_key(record.key_id, now=now)
    return Principal(
        tenant_id=record.tenant_id,
        role="admin",
        credential="api_key",
        credential_id=record.key_id,
    )


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 for another scheme."""
    value = (request.header(AUTHORIZATION_HEADER) or "").strip()
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidCredentialError("Authorization must be 'Bearer <session JWT>'.")
    return token.strip()


async def authenticate_session(
    request: Request, store: Store, settings: Settings, clock: Clock
) -> Principal:
    """Resolve ``Authorization: Bearer``: a session JWT of an active tenant.

    Raises :class:`MisconfiguredError` when no session secret is configured and a
    subclass of :class:`AuthenticationError` for every refused token.
    """
    token = bearer_token(request)
    keys = session_keys(settings.jwt_secrets)
    now = clock.now()
    claims = verify_session(
        token,
        keys=keys,
        issuer=settings.jwt_issuer,
        now=now,
        leeway=settings.jwt_leeway_seconds,
    )
    tenant = await store.operator.get_tenant(claims.tenant_id)
    if tenant is None or not tenant.active:
        logger.info("session refused: inactive tenant=%s", claims.tenant_id)
        raise InvalidCredentialError("The session's tenant is not active.")
    return Principal(
        tenant_id=claims.tenant_id,
        role=claims.role,
        credential="session",
        credential_id=claims.jti,
        moodle_user_id=claims.moodle_user_id,
        course_ids=(
            frozenset(claims.course_ids) if claims.course_ids is not None else None
        ),
    )


async def authenticate_viewer(
    request: Request, store: Store, clock: Clock
) -> Authenticated:
    """Resolve the viewer headers of a Moodle iframe (SPEC §4.3).

    Raises a subclass of :class:`AuthenticationError` for a missing header, a
    malformed context, an unknown or inactive tenant, a bad signature or a bad ``exp``.
    """
    value = (request.header(CONTEXT_HEADER) or "").strip()
    signature = (request.header(SIGNATURE_HEADER) or "").strip()
    if not value or not signature:
        raise MissingCredentialError(
            "Viewer requests need X-SSEA-Viewer-Context and X-SSEA-Viewer-Signature."
        )
    now = clock.now()
    claimed = read_context(value)
    tenant = await store.operator.tenant_auth(claimed.tenant_id, now=now)
    if tenant is None or not tenant.active:
        logger.info("viewer refused: inactive tenant=%s", claimed.tenant_id)
        raise InvalidCredentialError("The viewer context names no active tenant.")

    context = verify_viewer(value, signature, tenant, now=now)
    principal = Principal(
        tenant_id=context.tenant_id,
        role=context.role,
        credential="viewer",
        credential_id=f"{context.role}:{context.moodle_user_id}",
        moodle_user_id=context.moodle_user_id,
    )
    return Authenticated(principal, frame_origin=tenant.moodle_origin)
