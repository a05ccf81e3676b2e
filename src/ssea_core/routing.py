"""A route table with path parameters.

Patterns are literal segments and ``{name}`` segments; a parameter matches one
non-empty path segment, and a last ``{name:path}`` matches the rest of the path
(several segments, e.g. an artifact key). An unknown path is a 404; a known path with
another method is a 405 that lists the allowed methods. A path parameter holding a
NUL character or an unpaired surrogate names nothing (404): no id has one, and
PostgreSQL could not even look it up.

A route also declares its contract, which ``ssea_core.openapi`` turns into the OpenAPI
document: the pydantic models of its path parameters, query and JSON body, and its
answers (:class:`Answer`). Error answers that follow from the route's credentials,
query and body are added by the generator; a route lists only the others it gives.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from pydantic import BaseModel

from ssea_core.errors import MethodNotAllowedError, NotFoundError
from ssea_core.http import storable_text

if TYPE_CHECKING:
    from ssea_core.context import RequestContext
    from ssea_core.http import Response

Handler = Callable[["RequestContext"], Awaitable["Response"]]
AuthMode = Literal["public", "api_key", "session", "viewer"]
#: Which rate applies: ``default`` and ``ingest`` per credential, ``public`` per
#: client address, ``none`` for probes such as /health.
RateGroup = Literal["default", "ingest", "public", "none"]
_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)(:path)?\}")


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer a route documents.

    ``body`` is the type of the JSON body (a pydantic model, or e.g.
    ``list[Model]``); None is no JSON body: an error answer of status 400 or more then
    carries the error envelope of SPEC §9, another answer has ``media_types`` (a
    download) or no body at all. ``headers`` names the response headers it always
    carries, such as ``X-Total-Count`` on lists.
    """

    status: int
    description: str
    body: Any = None
    headers: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """One route: method, pattern, handler, who may call it, and its contract."""

    method: str
    pattern: str
    handler: Handler
    name: str
    auth: tuple[AuthMode, ...] = ("api_key",)
    roles: frozenset[str] = frozenset({"admin"})
    #: The path's ``moodle_user_id`` names the caller (must be them), not a subject.
    caller_path: bool = False
    rate_group: RateGroup = "default"
    summary: str = ""
    tags: tuple[str, ...] = ()
    #: Models of the path parameters, the query string and the JSON body, if any.
    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    #: Bodies that show a client what to send (and give property tests a valid one).
    examples: tuple[Any, ...] = ()
    responses: tuple[Answer, ...] = ()
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = _PARAM.split(self.pattern)
        pieces = []
        for index in range(0, len(parts), 3):
            pieces.append(re.escape(parts[index]))
            if index + 1 < len(parts):
                name, rest = parts[index + 1], parts[index + 2]
                segment = r"[^/]+(?:/[^/]+)*" if rest else "[^/]+"
                pieces.append(f"(?P<{name}>{segment})")
        source = "".join(pieces)
        object.__setattr__(self, "regex", re.compile(f"^{source}$"))

    @property
    def is_public(self) -> bool:
        return "public" in self.auth

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the path parameters, in the order the pattern has them."""
        return tuple(found[1] for found in _PARAM.finditer(self.pattern))

    @property
    def template(self) -> str:
        """The pattern as an OpenAPI path template: ``{key:path}`` reads ``{key}``."""
        return _PARAM.sub(lambda found: "{" + found[1] + "}", self.pattern)


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    params: dict[str, str]


class Router:
    """Holds the routes of the application and finds the one a request names."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    @property
    def routes(self) -> Sequence[Route]:
        return tuple(self._routes)

    def add(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        *,
        name: str | None = None,
        auth: Sequence[AuthMode] = ("api_key",),
        roles: Sequence[str] = ("admin",),
        caller_path: bool = False,
        rate_group: RateGroup | None = None,
        summary: str = "",
        tags: Sequence[str] = (),
        path: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        examples: Sequence[Any] = (),
        responses: Sequence[Answer] = (),
    ) -> Route:
        """Register a handler; returns the route.

        ``auth`` lists the credential kinds the route accepts and ``roles`` the roles
        that may call it (``ssea_core.policy`` enforces both); a public route has
        neither. ``rate_group`` defaults to ``public`` for public routes. The rest is
        the route's contract for the OpenAPI document: ``path``, ``query`` and ``body``
        are the models the handler validates with, ``examples`` bodies to show,
        ``responses`` its answers.
        """
        auth = tuple(auth)
        route = Route(
            method=method.upper(),
            pattern=pattern,
            handler=handler,
            name=name or handler.__name__,
            auth=auth,
            roles=frozenset(() if "public" in auth else roles),
            caller_path=caller_path,
            rate_group=rate_group or ("public" if "public" in auth else "default"),
            summary=summary,
            tags=tuple(tags),
            path=path,
            query=query,
            body=body,
            examples=tuple(examples),
            responses=tuple(responses),
        )
        self._routes.append(route)
        return route

    def methods_for(self, path: str) -> list[str]:
        """The methods some route serves at ``path`` (HEAD with GET), sorted."""
        routable = _routable(path)
        methods = {
            route.method
            for route in self._routes
            if _params(route.regex.match(routable)) is not None
        }
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)

    def match(self, method: str, path: str) -> Match:
        """Find the route for a method and path.

        Raises :class:`NotFoundError` for an unknown path and
        :class:`MethodNotAllowedError` when only other methods serve it.
        """
        allowed: list[str] = []
        routable = _routable(path)
        for route in self._routes:
            params = _params(route.regex.match(routable))
            if params is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return Match(route, params)
            allowed.append(route.method)
        if allowed:
            raise MethodNotAllowedError(allowed, method)
        raise NotFoundError(f"No route for {path}.")


def _params(found: re.Match[str] | None) -> dict[str, str] | None:
    """A match's parameters, decoded; None for no match, or for a parameter with a
    NUL or an unpaired surrogate, which names nothing that could be stored."""
    if found is None:
        return None
    params = {key: unquote(value) for key, value in found.groupdict().items()}
    return params if all(storable_text(v) for v in params.values()) else None


def _routable(path: str) -> str:
    """The percent-encoded ``path`` with each segment decoded, but for the two
    characters that would change its meaning: ``%`` and ``/`` stay encoded. Literal
    segments then match however a client encoded them, and one ``unquote`` of a
    parameter gives the text the client meant, decoded exactly once."""
    return "/".join(
        unquote(segment).replace("%", "%25").replace("/", "%2F")
        for segment in path.split("/")
    )
