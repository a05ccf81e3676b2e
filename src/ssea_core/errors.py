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


class AmbiguousCredentialError(AuthenticationError):
    """More than one kind of credential came with the request."""

    code = "AMBIGUOUS_CREDENTIAL"
    default_message = (
        "Send exactly one credential: X-SSEA-Key, Authorization: Bearer, or the "
        "X-SSEA-Viewer-Context and X-SSEA-Viewer-Signature pair."
    )


class InvalidSignatureError(AuthenticationError):
    """A token or viewer context whose signature does not verify."""

    code = "INVALID_SIGNATURE"
    default_message = "The signature does not verify."


class DisallowedAlgorithmError(AuthenticationError):
    """A token signed with an algorithm the service does not accept for it."""

    code = "DISALLOWED_ALGORITHM"
    default_message = "The token's signing algorithm is not accepted here."


class NotYetValidError(AuthenticationError):
    """A credential issued in the future (beyond the allowed clock skew)."""

    code = "NOT_YET_VALID"
    default_message = "The credential is not valid yet; check the signer's clock."


class InvalidIssuerError(AuthenticationError):
    code = "INVALID_ISSUER"
    default_message = "The token was not issued by this service."


class TokenTooLongLivedError(AuthenticationError):
    """A short-lived token (SSO, viewer context) whose lifetime exceeds the cap."""

    code = "TOKEN_TOO_LONG_LIVED"
    default_message = "The token lives longer than allowed."


class ReplayedTokenError(AuthenticationError):
    """A single-use token (SSO ``jti``) that was already accepted once."""

    code = "TOKEN_REPLAYED"
    default_message = "The token was already used."


class ForbiddenError(SseaError):
    """The principal may not do this (403)."""

    status = 403
    code = "FORBIDDEN"
    default_message = "Not allowed."


class TenantMismatchError(ForbiddenError):
    code = "TENANT_MISMATCH"
    default_message = "The credential belongs to another tenant than the path names."


class CredentialKindError(ForbiddenError):
    """A valid credential of a kind this route does not accept."""

    code = "CREDENTIAL_NOT_ACCEPTED"
    default_message = "This route does not accept this kind of credential."


class OutOfScopeError(ForbiddenError):
    """The path names a user or course outside the caller's scope."""

    code = "OUT_OF_SCOPE"
    default_message = "The caller may not see this user or course."


class CorsRejectedError(ForbiddenError):
    """A CORS preflight from an origin or for a method that is not allowed."""

    code = "CORS_REJECTED"
    default_message = "This origin may not call the API from a browser."


class NotFoundError(SseaError):
    """Unknown route, or a resource that does not exist in the caller's tenant."""

    status = 404
    code = "NOT_FOUND"
    default_message = "Not found."


class ConflictError(SseaError):
    """The change would break a uniqueness rule, e.g. a custom domain in use (409)."""

    status = 409
    code = "CONFLICT"
    default_message = "The change conflicts with existing data."


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

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        wait = str(max(1, retry_after))
        super().__init__(message, headers={**(headers or {}), "Retry-After": wait})
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
