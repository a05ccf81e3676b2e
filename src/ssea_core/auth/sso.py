"""The Moodle plugin's SSO tokens (SPEC §4.2) and their exchange for a session.

Invariants:
- The token's ``tenant_id`` claim is read before verification only to pick the keys;
  nothing else of an unverified token is used.
- A tenant with a public key accepts only that key's algorithm (RS256 or EdDSA);
  any other tenant only HS256 with its shared secret (the current one, or the previous
  one during its grace period). A token "signed" with the public key as an HMAC
  secret therefore fails, and so does an RS256 token where HS256 is expected.
- A token lives at most five minutes (``exp - iat <= 300``), and each ``jti`` is
  accepted once per tenant: storage remembers it until its ``exp`` has passed.
- Only an existing, active tenant gets a session; a teacher's ``course_ids`` are their
  current teaching enrolments.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ssea_core.auth.jwt_checks import Key, check_times, decode_verified
from ssea_core.auth.jwt_checks import unverified_claims as _unverified
from ssea_core.auth.principal import Role
from ssea_core.auth.records import PublicKeyAlgorithm, TenantAuth
from ssea_core.auth.sessions import IssuedSession, mint_session, session_keys
from ssea_core.clock import Clock
from ssea_core.errors import (
    InvalidCredentialError,
    MisconfiguredError,
    ReplayedTokenError,
)
from ssea_core.protocols import Store
from ssea_core.settings import Settings

logger = logging.getLogger(__name__)

MAX_SSO_LIFETIME_SECONDS = 300
REQUIRED_CLAIMS = ("tenant_id", "moodle_user_id", "role", "iat", "exp", "jti")
SHARED_KEY_ALGORITHM = "HS256"
MIN_RSA_BITS = 2048


class SsoClaims(BaseModel):
    """The verified claims of a plugin token."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    tenant_id: UUID
    moodle_user_id: str = Field(min_length=1, max_length=64)
    role: Role
    iat: int
    exp: int
    jti: str = Field(min_length=1, max_length=255)

    @field_validator("moodle_user_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        # Moodle ids are numbers; the plugin may send them as JSON numbers.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


def token_tenant(token: str) -> UUID:
    """The tenant a plugin token names, unverified; 401 when it names none."""
    raw = _unverified(token).get("tenant_id")
    try:
        return UUID(str(raw))
    except ValueError as exc:
        raise InvalidCredentialError("The token's tenant_id is not a UUID.") from exc


def accepted_keys(tenant: TenantAuth) -> tuple[str, list[Key]]:
    """The one algorithm and the keys a tenant's plugin tokens are verified with."""
    if tenant.sso_public_key is not None and tenant.sso_key_algorithm is not None:
        return tenant.sso_key_algorithm, [tenant.sso_public_key]
    if not tenant.sso_secrets:
        raise MisconfiguredError(
            "SSO is not configured for this tenant: the operator must run "
            "`ssea tenants rotate-secret --kind sso`."
        )
    return SHARED_KEY_ALGORITHM, list(tenant.sso_secrets)


def verify_sso_token(
    token: str, tenant: TenantAuth, *, now: datetime, leeway: int
) -> SsoClaims:
    """The claims of a plugin token that ``tenant``'s keys verify.

    Raises a subclass of :class:`AuthenticationError` for another algorithm, a bad
    signature, a missing claim, another tenant, expired, not yet valid, or a lifetime
    over five minutes.
    """
    algorithm, keys = accepted_keys(tenant)
    raw = decode_verified(token, keys, algorithm, required=REQUIRED_CLAIMS)
    check_times(
        raw, int(now.timestamp()), leeway, max_lifetime=MAX_SSO_LIFETIME_SECONDS
    )
    try:
        claims = SsoClaims.model_validate(raw)
    except ValidationError as exc:
        raise InvalidCredentialError("The SSO token's claims are invalid.") from exc
    if claims.tenant_id != tenant.tenant_id:
        raise InvalidCredentialError("The SSO token names another tenant.")
    return claims


def check_public_key(pem: str, algorithm: PublicKeyAlgorithm) -> None:
    """Raise ``ValueError`` unless ``pem`` is a public key usable with ``algorithm``."""
    # Imported here: the core serves without cryptography (Pyodide from PyPI).
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError("not a PEM public key") from exc
    if algorithm == "RS256":
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("RS256 needs an RSA public key")
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"RSA keys need at least {MIN_RSA_BITS} bits")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("EdDSA needs an Ed25519 public key")


async def exchange_sso_token(
    token: str, *, store: Store, settings: Settings, clock: Clock
) -> IssuedSession:
    """Verify a plugin token and mint a session JWT for its user.

    Raises :class:`MisconfiguredError` (503) when session secrets are missing, and a
    subclass of :class:`AuthenticationError` (401) for every refused token: unknown
    or inactive tenant, bad signature or algorithm, times, lifetime, replayed jti.
    """
    keys = session_keys(settings.jwt_secrets)
    now = clock.now()
    tenant_id = token_tenant(token)
    tenant = await store.operator.tenant_auth(tenant_id, now=now)
    if tenant is None or not tenant.active:
        raise InvalidCredentialError("The SSO token names no active tenant.")

    claims = verify_sso_token(
        token, tenant, now=now, leeway=settings.jwt_leeway_seconds
    )
    access = store.for_tenant(tenant_id).access()
    expires = datetime.fromtimestamp(claims.exp, now.tzinfo)
    if not await access.use_jti(claims.jti, expires_at=expires, now=now):
        logger.info("sso refused: replayed jti tenant=%s", tenant_id)
        raise ReplayedTokenError

    courses = None
    if claims.role == "teacher":
        courses = sorted(await access.teacher_courses(claims.moodle_user_id, now=now))
    session = mint_session(
        keys=keys,
        issuer=settings.jwt_issuer,
        ttl=timedelta(seconds=settings.session_ttl_seconds),
        now=now,
        tenant_id=tenant_id,
        role=claims.role,
        moodle_user_id=claims.moodle_user_id,
        course_ids=courses,
    )
    logger.info("sso session issued tenant=%s role=%s", tenant_id, claims.role)
    return session
