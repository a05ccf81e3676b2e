"""The OpenAPI 3.1 document of the service, built from the route table.

Invariants:
- Every route of the table is one operation, under its pattern (``{key:path}`` is
  written ``{key}``) and method; nothing is documented that the table does not serve.
  HEAD, which every GET route also answers, and CORS preflights are described once,
  in ``info.description``.
- Schemas are pydantic's JSON Schemas of the models a route declares (``Route.path``,
  ``query``, ``body`` and its :class:`~ssea_core.routing.Answer` bodies): request
  models in validation mode, answers in serialization mode, every named model once
  under ``#/components/schemas``.
- Each operation lists every status it can answer. Besides those the route declares,
  the generator adds the errors that follow from the route itself: 400 for a query or
  a body, 401 and 403 for a route that needs a credential, 413 and 422 for a body,
  429 for a rate-limited route, and 503 for all (store unreachable). Every error
  answer is the envelope of SPEC §9.
- Security follows ``Route.auth``: ``X-SSEA-Key``, a Bearer session JWT, or the pair
  of viewer headers; a public route has an empty security list.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from ssea_core.api.schemas import ErrorAnswer
from ssea_core.routing import Answer, Route

logger = logging.getLogger(__name__)

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
TITLE = "SSEA — SoftSys Edu Analytics"
DESCRIPTION = """\
The REST API of ssea: ingestion for the Moodle plugin, dashboard reads, risk and
alerts, report jobs, monitors, branding and the viewer routes for Moodle iframes.

- Every error answers `{"ok": false, "error": "...", "code": "UPPER_SNAKE"}`
  (SPEC §9); a 422 adds `details`, one item per failing field.
- Lists are bare arrays with the total of every page in `X-Total-Count`.
- Every GET route also answers HEAD (same status and headers, no body).
- `OPTIONS` with `Origin` and `Access-Control-Request-Method` is a CORS preflight:
  204 for a configured origin, else 403 `CORS_REJECTED`.
- Rate-limited answers carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
  `X-RateLimit-Reset` (seconds); a 429 also `Retry-After`.
"""

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-SSEA-Key",
        "description": "A tenant's API key, `ssea_` and 32 hex digits; acts as admin.",
    },
    "Session": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A session JWT from `POST /v1/auth/sso`; the role it carries.",
    },
    "ViewerContext": {
        "type": "apiKey",
        "in": "header",
        "name": "X-SSEA-Viewer-Context",
        "description": "Base64url JSON {tenant_id, role, moodle_user_id, exp}.",
    },
    "ViewerSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-SSEA-Viewer-Signature",
        "description": "Lowercase hex HMAC-SHA256 of the context header value.",
    },
}
SECURITY: dict[str, dict[str, list[str]]] = {
    "api_key": {"ApiKey": []},
    "session": {"Session": []},
    "viewer": {"ViewerContext": [], "ViewerSignature": []},
}

HEADERS: dict[str, dict[str, Any]] = {
    "X-Total-Count": {
        "description": "How many items all pages of the list hold.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "Location": {
        "description": "Where the created job, or the signed download, is.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "X-RateLimit-Limit": {
        "description": "Calls allowed in the window (when limits are on).",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Calls left in the window.",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Reset": {
        "description": "Seconds until the window resets.",
        "schema": {"type": "integer"},
    },
}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

#: The errors a route answers because of what it is; a route may describe them better.
STANDARD_ERRORS: dict[int, str] = {
    400: "A query parameter is invalid (`BAD_REQUEST`), or the body is not JSON "
    "or holds NaN, Infinity, a NUL or an unpaired surrogate (`INVALID_JSON`).",
    401: "No credential, or one that is invalid, expired or revoked.",
    403: "Another tenant's path, a credential kind or role the route does not "
    "take, or a user or course outside the caller's scope.",
    413: "The body is larger than the service accepts.",
    422: "The body fails validation; the message and `details` name each field.",
    429: "Over a rate limit, or the plan's daily event cap.",
    503: "The service cannot serve: a missing secret or an unreachable store.",
}


def service_version() -> str:
    """The installed version of ssea, or ``0.0.0`` when it is not installed."""
    try:
        return version("ssea")
    except PackageNotFoundError:
        return "0.0.0"


def build_document(routes: Sequence[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (a router's table), as JSON values.

    Raises ``ValueError`` when a route's path model does not name exactly the path's
    parameters, or two routes share an operation id.
    """
    schemas = _Schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for route in routes:
        if route.name in seen:
            raise ValueError(f"two routes are named {route.name!r}")
        seen.add(route.name)
        operation = _operation(route, schemas)
        paths.setdefault(route.template, {})[route.method.lower()] = operation

    components: dict[str, Any] = {
        "schemas": schemas.definitions,
        "responses": _standard_responses(),
        "headers": HEADERS,
        "securitySchemes": SECURITY_SCHEMES,
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": TITLE,
            "version": service_version(),
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": components,
    }


class _Schemas:
    """The JSON Schemas of every request and answer model of the routes, made in
    one pass so that each named model appears once under ``components/schemas``."""

    def __init__(self, routes: Sequence[Route]) -> None:
        pairs: list[tuple[Any, JsonSchemaMode]] = [(ErrorAnswer, "serialization")]
        for route in routes:
            if route.body is not None:
                pairs.append((route.body, "validation"))
            pairs += [
                (answer.body, "serialization")
                for answer in route.responses
                if answer.body is not None
            ]
        wanted = {pair: TypeAdapter(pair[0]) for pair in dict.fromkeys(pairs)}
        inputs = [(key, key[1], adapter) for key, adapter in wanted.items()]
        found, top = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)
        self._found = {key[0]: value for key, value in found.items()}
        self.definitions: dict[str, Any] = dict(sorted(top.get("$defs", {}).items()))

    def schema(self, tp: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        value: dict[str, Any] = self._found[(tp, mode)]
        return value

    def parameters_of(self, model: type[BaseModel]) -> tuple[dict[str, Any], set[str]]:
        """The properties of a flat parameter model, and which are required."""
        schema = model.model_json_schema(mode="validation", ref_template=REF_TEMPLATE)
        for name, definition in schema.get("$defs", {}).items():
            known = self.definitions.setdefault(name, definition)
            if known != definition:
                raise ValueError(f"two schemas are named {name!r}")
        return schema.get("properties", {}), set(schema.get("required", ()))


def _operation(route: Route, schemas: _Schemas) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary or route.name.replace("_", " ").capitalize(),
        "description": _roles_text(route),
        "tags": list(route.tags),
        "parameters": _path_parameters(route, schemas)
        + _query_parameters(route, schemas),
    }
    if route.body is not None:
        media: dict[str, Any] = {"schema": schemas.schema(route.body, "validation")}
        if route.examples:
            media["examples"] = {
                f"example{index}": {"value": value}
                for index, value in enumerate(route.examples, start=1)
            }
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": media},
        }
    operation["responses"] = _responses(route, schemas)
    operation["security"] = [] if route.is_public else _security(route)
    return operation


def _roles_text(route: Route) -> str:
    if route.is_public:
        return "Public: no credential."
    kinds = ", ".join(route.auth)
    roles = ", ".join(sorted(route.roles))
    return f"Credentials: {kinds}. Roles: {roles}."


def _security(route: Route) -> list[dict[str, list[str]]]:
    return [SECURITY[kind] for kind in route.auth if kind in SECURITY]


def _path_parameters(route: Route, schemas: _Schemas) -> list[dict[str, Any]]:
    names = route.parameters
    properties: dict[str, Any] = {}
    if route.path is not None:
        properties, _required = schemas.parameters_of(route.path)
        if set(properties) != set(names):
            raise ValueError(
                f"{route.method} {route.pattern}: the path model names "
                f"{sorted(properties)}, the pattern {sorted(names)}"
            )
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _parameter_schema(properties.get(name, {"type": "string"})),
        }
        for name in names
    ]


def _query_parameters(route: Route, schemas: _Schemas) -> list[dict[str, Any]]:
    if route.query is None:
        return []
    properties, required = schemas.parameters_of(route.query)
    parameters = []
    for name, definition in properties.items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _parameter_schema(definition),
        }
        if "description" in definition:
            parameter["description"] = definition["description"]
        parameters.append(parameter)
    return parameters


def _parameter_schema(definition: dict[str, Any]) -> dict[str, Any]:
    """A property as a parameter's schema: no title, and no null branch (a query
    string cannot send null; leaving the parameter out is how to say none)."""
    schema = {
        key: value
        for key, value in definition.items()
        if key not in ("title", "description")
    }
    branches = schema.get("anyOf")
    if branches is not None:
        kept = [branch for branch in branches if branch != {"type": "null"}]
        del schema["anyOf"]
        if schema.get("default", ...) is None:
            del schema["default"]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept
    return schema


def _responses(route: Route, schemas: _Schemas) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for answer in route.responses:
        responses[str(answer.status)] = _response(route, answer, schemas)
    for status in _standard_statuses(route):
        responses.setdefault(
            str(status), {"$ref": f"#/components/responses/Error{status}"}
        )
    return dict(sorted(responses.items()))


def _standard_statuses(route: Route) -> list[int]:
    statuses = [503]
    if route.query is not None or route.body is not None:
        statuses.append(400)
    if not route.is_public:
        statuses += [401, 403]
    if route.body is not None:
        statuses += [413, 422]
    if route.rate_group != "none":
        statuses.append(429)
    return sorted(statuses)


def _response(route: Route, answer: Answer, schemas: _Schemas) -> dict[str, Any]:
    response: dict[str, Any] = {"description": answer.description}
    headers = list(answer.headers)
    if answer.status < 400 and route.rate_group != "none":
        headers += RATE_HEADERS
    if answer.status == 429:
        headers.append("Retry-After")
    if headers:
        response["headers"] = {
            name: {"$ref": f"#/components/headers/{name}"} for name in headers
        }
    if answer.body is not None:
        schema = schemas.schema(answer.body, "serialization")
        response["content"] = {"application/json": {"schema": schema}}
    elif answer.status >= 400:
        response["content"] = _error_content(schemas)
    elif answer.media_types:
        # A file: any bytes of these types (a JSON report is any JSON).
        response["content"] = {media: {"schema": {}} for media in answer.media_types}
    return response


def _error_content(schemas: _Schemas) -> dict[str, Any]:
    return {
        "application/json": {"schema": schemas.schema(ErrorAnswer, "serialization")}
    }


def _standard_responses() -> dict[str, Any]:
    error = {
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorAnswer"}}
    }
    responses: dict[str, Any] = {}
    for status, text in STANDARD_ERRORS.items():
        response: dict[str, Any] = {"description": text, "content": error}
        if status == 429:
            response["headers"] = {
                "Retry-After": {"$ref": "#/components/headers/Retry-After"}
            }
        responses[f"Error{status}"] = response
    return responses
