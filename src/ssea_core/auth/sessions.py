"""Session JWTs (SPEC §4.2): what the dashboard sends as ``Authorization: Bearer``.

Invariants:
- HS256 only, signed with the first configured secret and verified with any of them
  (``SSEA_JWT_SECRETS``), so secrets rotate without logging anyone out.
- ``sub``, ``tenant_id``, ``role``, ``iat``, ``exp``, ``iss`` and ``jti`` are required;
  the issuer must be this service's; teachers and students carry ``moodle_user_id``.
- ``course_ids`` is a hint only: a teacher's scope is always recomputed from the
  current enrolments (``ssea_core.policy``) and this list can only narrow it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from ssea_core.auth.jwt_checks import check_times, decode_verified
from ssea_core.auth.principal import Role
from ssea_core.errors import InvalidCredentialError, MisconfiguredError

SESSION_ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "tenant_id", "role", "iat", "exp", "iss", "jti")
#: Roles whose session names a Moodle user (their scope depends on it).
PERSONAL_ROLES = frozenset({"teacher", "student"})


class SessionClaims(BaseModel):
    """The verified claims of a session token."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: str = Field(min_length=1, max_length=200)
    tenant_id: UUID
    role: Role
    moodle_user_id: str | None = Field(default=None, min_length=1, max_length=64)
    course_ids: list[str] | None = None
    iat: int
    exp: int
    iss: str
    jti: str = Field(min_length=1, max_length=128)

    @model_validator(mode="after")
    def _personal_roles_name_a_user(self) -> SessionClaims:
        if self.role in PERSONAL_ROLES and self.moodle_user_id is None:
            raise ValueError(f"a {self.role} session needs moodle_user_id")
        return self


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A freshly minted session token and when it expires."""

    token: str = field(repr=False)
    expires_at: datetime
    claims: SessionClaims


def session_keys(configured: Sequence[SecretStr]) -> list[bytes]:
    """The configured secrets as bytes; 503 when there is none."""
    if not configured:
        raise MisconfiguredError(
            "Session tokens are not configured: set SSEA_JWT_SECRETS."
        )
    return [secret.get_secret_value().encode() for secret in configured]


def mint_session(
    *,
    keys: Sequence[bytes],
    issuer: str,
    ttl: timedelta,
    now: datetime,
    tenant_id: UUID,
    role: Role,
    moodle_user_id: str | None,
    course_ids: Sequence[str] | None = None,
) -> IssuedSession:
    """Sign a session for one user with the first key; valid for ``ttl``."""
    issued = int(now.timestamp())
    payload: dict[str, Any] = {
        "sub": moodle_user_id or f"tenant:{tenant_id}",
        "tenant_id": str(tenant_id),
        "role": role,
        "moodle_user_id": moodle_user_id,
        "iat": issued,
        "exp": issued + int(ttl.total_seconds()),
        "iss": issuer,
        "jti": secrets.token_hex(16),
    }
    if role == "teacher" and course_ids is not None:
        payload["course_ids"] = sorted(course_ids)
    claims = SessionClaims.model_validate(payload)
    token = jwt.encode(payload, keys[0], algorithm=SESSION_ALGORITHM)
    return IssuedSession(token, datetime.fromtimestamp(claims.exp, UTC), claims)


def verify_session(
    token: str,
    *,
    keys: Sequence[bytes],
    issuer: str,
    now: datetime,
    leeway: int,
) -> SessionClaims:
    """The claims of a valid session token.

    Raises a subclass of :class:`AuthenticationError`: another algorithm, a bad
    signature, a missing claim, another issuer, expired or not yet valid.
    """
    raw = decode_verified(
        token, keys, SESSION_ALGORITHM, required=REQUIRED_CLAIMS, issuer=issuer
    )
    check_times(raw, int(now.timestamp()), leeway)
    try:
        return SessionClaims.model_validate(raw)
    except ValidationError as exc:
        raise InvalidCredentialError("The session token's claims are invalid.") from exc
