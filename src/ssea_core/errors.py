"""The error tree of ssea.

Every error the core raises on purpose derives from :class:`SseaError` and carries,
as data, the HTTP status, an UPPER_SNAKE code, a message that is safe to show a client
and optional response headers. Adapters only render them into the envelope of SPEC §9:
``{"ok": false, "error": message, "code": code}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class SseaError(Exception):
    """Root of every error ssea raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "Internal error."

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        details: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.headers = dict(headers or {})
        self.details = list(details) if details is not None else None
        super().__init__(self.message)

    def envelope(self) -> dict[str, Any]:
        """Return the JSON body of SPEC §9 for this error."""
        body: dict[str, Any] = {"ok": False, "error": self.message, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequestError(SseaError):
    """A query parameter is wrong or the body is not JSON (400)."""

    status = 400
    code = "BAD_REQUEST"
    default_message = "Bad request."


class InvalidJsonError(BadRequestError):
    """The request body could not be parsed as JSON."""

    code = "INVALID_JSON"
    default_message = "The request body is not valid JSON."


class AuthenticationError(SseaError):
    """Parent of every reason a credential is refused (401)."""

    status = 401
    code = "UNAUTHORIZED"
    default_message = "Authentication required."


class MissingCredentialError(AuthenticationError):
    code = "MISSING_CREDENTIAL"
    default_message = "No credential: send X-SSEA-Key or Authorization: Bearer."


class InvalidCredentialError(AuthenticationError):
    code = "INVALID_CREDENTIAL"
    default_message = "The credential is not valid."


class ExpiredCredentialError(AuthenticationError):
    code = "EXPIRED_CREDENTIAL"
    default_message = "The credential has expired."


class RevokedCredentialError(AuthenticationError):
    code = "REVOKED_CREDENTIAL"
    default_message = "The credential has been revoked."


class ForbiddenError(SseaError):
    """The principal may not do this (403)."""

    status = 403
    code = "FORBIDDEN"
    default_message = "Not allowed."


class TenantMismatchError(ForbiddenError):
    code = "TENANT_MISMATCH"
    default_message = "The credential belongs to another tenant than the path names."


class NotFoundError(SseaError):
    """Unknown route, or a resource that does not exist in the caller's tenant."""

    status = 404
    code = "NOT_FOUND"
    default_message = "Not found."


class MethodNotAllowedError(SseaError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed."

    def __init__(self, allowed: Sequence[str], method: str) -> None:
        allow = ", ".join(sorted(set(allowed)))
        super().__init__(
            f"{method} is not allowed here; allowed: {allow}.", headers={"Allow": allow}
        )


class ValidationFailedError(SseaError):
    """A body failed validation (422); the message names the field and the reason."""

    status = 422
    code = "VALIDATION_FAILED"
    default_message = "The request body failed validation."


class PayloadTooLargeError(SseaError):
    """The body is larger than the service accepts (413)."""

    status = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large."


class RateLimitedError(SseaError):
    status = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


class DailyCapExceededError(RateLimitedError):
    code = "DAILY_CAP_EXCEEDED"
    default_message = "The plan's daily event cap is reached."


class MisconfiguredError(SseaError):
    """The service cannot serve: a missing secret, an unreachable store (503)."""

    status = 503
    code = "MISCONFIGURED"
    default_message = "The service is misconfigured."


class StoreUnavailableError(MisconfiguredError):
    code = "STORE_UNAVAILABLE"
    default_message = "The data store is unreachable."
