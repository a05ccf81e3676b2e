"""CORS and the security headers of every answer, in the core so every adapter has them.

No maintained framework-neutral CORS library exists for Python (the maintained ones
are framework middleware); why this is a module of our own is in ``docs/auth.md``.

Invariants:
- Only configured origins get ``Access-Control-Allow-Origin``, echoed exactly; a
  configured ``*`` is answered as ``*`` and never with ``Allow-Credentials`` (settings
  refuse that combination).
- With CORS configured, every answer varies on ``Origin``.
- A preflight (OPTIONS with Origin and Access-Control-Request-Method) is a 204 for an
  allowed origin and a method the path serves, else a 403 ``CORS_REJECTED``; it needs
  no credential and is not rate limited.
- Every answer is ``nosniff``, ``no-referrer``, ``no-store`` and not frameable, except
  viewer answers, which only the tenant's Moodle origin may frame.
"""

from __future__ import annotations

from collections.abc import Sequence

from ssea_core.errors import CorsRejectedError, NotFoundError
from ssea_core.http import Request, Response
from ssea_core.settings import Settings

ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-SSEA-Key",
    "X-SSEA-Viewer-Context",
    "X-SSEA-Viewer-Signature",
)
EXPOSE_HEADERS = (
    "X-Total-Count",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)


def set_header(response: Response, name: str, value: str) -> None:
    """Set a header, replacing every earlier value of it."""
    wanted = name.lower()
    response.headers[:] = [(k, v) for k, v in response.headers if k.lower() != wanted]
    response.headers.append((name, value))


class CorsPolicy:
    """Which browser origins may call the API, and the headers that say so."""

    def __init__(
        self, origins: Sequence[str], *, allow_credentials: bool, max_age: int
    ) -> None:
        self._origins = frozenset(origins)
        self._any = "*" in self._origins
        self._credentials = allow_credentials and not self._any
        self._max_age = max_age

    @classmethod
    def from_settings(cls, settings: Settings) -> CorsPolicy:
        return cls(
            settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            max_age=settings.cors_max_age,
        )

    @property
    def enabled(self) -> bool:
        return bool(self._origins)

    def allows(self, origin: str | None) -> bool:
        """Whether a browser page of ``origin`` may read answers."""
        if origin is None:
            return False
        return self._any or origin.rstrip("/").lower() in self._origins

    @staticmethod
    def is_preflight(request: Request) -> bool:
        return (
            request.method == "OPTIONS"
            and request.header("origin") is not None
            and request.header("access-control-request-method") is not None
        )

    def preflight(self, request: Request, methods: Sequence[str]) -> Response:
        """The answer to a preflight for a path served by ``methods``.

        Raises :class:`NotFoundError` for an unknown path and
        :class:`CorsRejectedError` for another origin or method.
        """
        if not methods:
            raise NotFoundError(f"No route for {request.path}.")
        wanted = (request.header("access-control-request-method") or "").upper()
        if not self.allows(request.header("origin")) or wanted not in methods:
            raise CorsRejectedError
        response = Response(status=204)
        set_header(response, "Access-Control-Allow-Methods", ", ".join(methods))
        set_header(response, "Access-Control-Allow-Headers", ", ".join(ALLOW_HEADERS))
        set_header(response, "Access-Control-Max-Age", str(self._max_age))
        return response

    def decorate(self, request: Request, response: Response) -> None:
        """Add the CORS headers an answer to ``request`` needs."""
        if not self.enabled:
            return
        set_header(response, "Vary", "Origin")
        origin = request.header("origin")
        if not self.allows(origin) or origin is None:
            return
        set_header(
            response, "Access-Control-Allow-Origin", "*" if self._any else origin
        )
        set_header(response, "Access-Control-Expose-Headers", ", ".join(EXPOSE_HEADERS))
        if self._credentials:
            set_header(response, "Access-Control-Allow-Credentials", "true")


def add_security_headers(response: Response, frame_origin: str | None = None) -> None:
    """Headers every answer carries; ``frame_origin`` alone may frame the answer."""
    set_header(response, "X-Content-Type-Options", "nosniff")
    set_header(response, "Referrer-Policy", "no-referrer")
    set_header(response, "Cache-Control", "no-store")
    ancestors = frame_origin or "'none'"
    set_header(
        response,
        "Content-Security-Policy",
        f"default-src 'none'; frame-ancestors {ancestors}",
    )
    if frame_origin is None:
        set_header(response, "X-Frame-Options", "DENY")
