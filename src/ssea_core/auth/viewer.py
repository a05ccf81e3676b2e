"""Viewer signatures for Moodle iframes (SPEC §4.3).

Invariants:
- ``X-SSEA-Viewer-Context`` is the unpadded base64url of a compact JSON object with
  exactly ``tenant_id``, ``role``, ``moodle_user_id`` and ``exp``; padding, other
  alphabets and other keys are refused.
- ``X-SSEA-Viewer-Signature`` is the lowercase hex HMAC-SHA256 of the context header
  value exactly as sent (not of the decoded JSON), keyed with the tenant's viewer
  secret. It is compared in constant time with every accepted secret (the current one,
  and the previous one during its grace period). Uppercase hex is refused, so a context
  has exactly one valid signature.
- ``exp`` is not past and at most one hour ahead, each with 60 s of clock skew.
- A viewer context is a student's or a teacher's; what each reaches is decided by
  ``ssea_core.policy`` like for any other credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ssea_core.auth.records import TenantAuth
from ssea_core.errors import (
    ExpiredCredentialError,
    InvalidCredentialError,
    InvalidSignatureError,
    MisconfiguredError,
    TokenTooLongLivedError,
)

CONTEXT_HEADER = "x-ssea-viewer-context"
SIGNATURE_HEADER = "x-ssea-viewer-signature"
MAX_AHEAD_SECONDS = 3600
CLOCK_SKEW_SECONDS = 60
MAX_CONTEXT_CHARS = 1024
ViewerRole = Literal["student", "teacher"]
VIEWER_ROLES: tuple[ViewerRole, ...] = ("student", "teacher")

_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


class ViewerContext(BaseModel):
    """The decoded context of a viewer request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: UUID
    role: ViewerRole
    moodle_user_id: str = Field(min_length=1, max_length=64)
    exp: int

    @field_validator("moodle_user_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


@dataclass(frozen=True, slots=True)
class ViewerHeaders:
    """The two headers of a signed viewer request."""

    context: str
    signature: str = field(repr=False)

    def as_dict(self) -> dict[str, str]:
        """The headers by their canonical names."""
        return {
            "X-SSEA-Viewer-Context": self.context,
            "X-SSEA-Viewer-Signature": self.signature,
        }


def encode_context(
    *, tenant_id: UUID, role: ViewerRole, moodle_user_id: str, exp: int
) -> str:
    """The context header value: compact JSON in base64url without padding."""
    payload = {
        "tenant_id": str(tenant_id),
        "role": role,
        "moodle_user_id": str(moodle_user_id),
        "exp": int(exp),
    }
    compact = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(compact).rstrip(b"=").decode("ascii")


def sign_context(context: str, secret: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of a context header value."""
    return hmac.new(secret, context.encode("ascii"), hashlib.sha256).hexdigest()


def sign_viewer_context(
    secret: bytes,
    *,
    tenant_id: UUID,
    role: ViewerRole,
    moodle_user_id: str,
    exp: int,
) -> ViewerHeaders:
    """Both headers for one viewer: what the Moodle plugin computes per iframe."""
    context = encode_context(
        tenant_id=tenant_id, role=role, moodle_user_id=moodle_user_id, exp=exp
    )
    return ViewerHeaders(context, sign_context(context, secret))


def read_context(value: str) -> ViewerContext:
    """Decode a context header value *without* verifying it (to find the tenant).

    Raises :class:`InvalidCredentialError` for anything but the exact format.
    """
    if len(value) > MAX_CONTEXT_CHARS or not _BASE64URL.fullmatch(value):
        raise InvalidCredentialError(
            "X-SSEA-Viewer-Context must be unpadded base64url of a JSON object."
        )
    try:
        padded = value + "=" * (-len(value) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
        return ViewerContext.model_validate(payload)
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise InvalidCredentialError(
            "X-SSEA-Viewer-Context must hold exactly tenant_id, role (student or "
            "teacher), moodle_user_id and exp."
        ) from exc


def verify_viewer(
    context_value: str, signature: str, tenant: TenantAuth, *, now: datetime
) -> ViewerContext:
    """The context of a viewer request whose signature ``tenant``'s secrets verify.

    Raises :class:`InvalidSignatureError` (bad, uppercase or malformed signature),
    :class:`ExpiredCredentialError`, :class:`TokenTooLongLivedError` (``exp`` more
    than an hour ahead) or :class:`InvalidCredentialError`.
    """
    context = read_context(context_value)
    if not tenant.viewer_secrets:
        raise MisconfiguredError("Viewer signatures are not configured for the tenant.")
    if not _SIGNATURE.fullmatch(signature) or not _matches(
        context_value, signature, tenant.viewer_secrets
    ):
        raise InvalidSignatureError(
            "X-SSEA-Viewer-Signature is not the lowercase hex HMAC-SHA256 of the "
            "context with the tenant's viewer secret."
        )
    if context.tenant_id != tenant.tenant_id:
        raise InvalidCredentialError("The viewer context names another tenant.")
    _check_expiry(context.exp, int(now.timestamp()))
    return context


def _matches(context: str, signature: str, secrets: tuple[bytes, ...]) -> bool:
    # Every secret is tried, so the time taken does not tell which one matched.
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(sign_context(context, secret), signature)
    return found


def _check_expiry(exp: int, now: int) -> None:
    if exp < now - CLOCK_SKEW_SECONDS:
        raise ExpiredCredentialError("The viewer context has expired.")
    if exp > now + MAX_AHEAD_SECONDS + CLOCK_SKEW_SECONDS:
        raise TokenTooLongLivedError(
            "The viewer context's exp is more than one hour ahead."
        )
