"""HTTP-neutral request and response values.

Adapters build a :class:`Request` from whatever their runtime hands them and write a
:class:`Response` back; nothing in the core knows which runtime is serving it.
Header names are stored lower-cased.

A JSON body is refused (400 ``INVALID_JSON``) unless every number in it is finite and
every string is text that both stores take: no ``NaN``, ``Infinity`` or number beyond
a double, no NUL character and no unpaired surrogate (PostgreSQL stores neither, and
an infinite number cannot be answered as JSON).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

from ssea_core.errors import InvalidJsonError, SseaError


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as the core sees it.

    ``path`` is percent-encoded, as it came over the wire: the router decodes each
    path parameter once. A server that hands over a decoded path re-encodes it with
    :func:`encoded_path`.
    """

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str | None = None

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        *,
        query_string: str | bytes = "",
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes = b"",
        client: str | None = None,
    ) -> Request:
        """Build a request from raw parts: a query string and header pairs."""
        if isinstance(query_string, bytes):
            query_string = query_string.decode("latin-1")
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        folded: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            folded[key] = f"{folded[key]}, {value}" if key in folded else value
        return cls(
            method=method.upper(),
            path=path or "/",
            query=parse_qs(query_string, keep_blank_values=True),
            headers=folded,
            body=body,
            client=client,
        )

    def header(self, name: str) -> str | None:
        """Return a header's value, or None when it is absent."""
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        """Return the last value of a query parameter, or None."""
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        """Parse the body as JSON; raise :class:`InvalidJsonError` when it is not."""
        if not self.body.strip():
            raise InvalidJsonError(
                "The request body is empty; a JSON body is expected."
            )
        try:
            payload = json.loads(self.body)
        except RecursionError as exc:
            raise InvalidJsonError("The request body nests too deeply.") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidJsonError(
                f"The request body is not valid JSON: {exc}."
            ) from exc
        if _ODD_JSON.search(self.body):
            _check_values(payload)
        return payload


#: What can make a parsed value one the stores cannot keep: the constants Python's
#: parser accepts, numbers too long or large for a double, and escapes of NUL or of a
#: surrogate. Most bodies hold none, so only those are walked.
_ODD_JSON = re.compile(
    rb"NaN|Infinity|[0-9]{300}|[0-9.][eE][+]?[0-9]{3}|\\u0000|\\u[dD][89a-fA-F]"
)


def _check_values(payload: Any) -> None:
    """Raise :class:`InvalidJsonError` for a non-finite number, or a string (value
    or key) holding NUL or an unpaired surrogate; iterative, so depth is no issue."""
    pending = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidJsonError(
                "The request body holds NaN, Infinity or a number too large for a "
                "double; send finite numbers."
            )
        elif isinstance(value, str) and not storable_text(value):
            raise InvalidJsonError(
                "The request body holds a NUL character (\\u0000) or an unpaired "
                "surrogate (\\ud800 to \\udfff); no field accepts them."
            )


def storable_text(text: str) -> bool:
    """Whether every store can keep ``text``: no NUL, no unpaired surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


@dataclass(slots=True)
class Response:
    """One HTTP response: a status, header pairs and the body bytes.

    A large body (a report download) is a ``stream`` of chunks instead: adapters send
    ``body`` when there is no stream, else every chunk of the stream in order.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: AsyncIterator[bytes] | None = None

    @classmethod
    def streamed(
        cls,
        chunks: AsyncIterator[bytes],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A response whose body is sent chunk by chunk, as ``chunks`` yields them."""
        return cls(status=status, headers=list((headers or {}).items()), stream=chunks)

    async def read_body(self) -> bytes:
        """The whole body: ``body``, or every chunk of the stream (which it uses up)."""
        if self.stream is None:
            return self.body
        chunks = [chunk async for chunk in self.stream]
        self.stream = None
        return b"".join(chunks)

    async def drop_stream(self) -> None:
        """Close the stream unsent (a HEAD request, a client gone)."""
        stream, self.stream = self.stream, None
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()

    @classmethod
    def json(
        cls,
        payload: Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A JSON response; datetimes and other values are encoded by :func:`dumps`."""
        pairs = [("content-type", "application/json")]
        pairs.extend((headers or {}).items())
        return cls(status=status, body=dumps(payload), headers=pairs)

    @classmethod
    def from_error(cls, error: SseaError) -> Response:
        """Render an error into the envelope of SPEC §9."""
        return cls.json(error.envelope(), status=error.status, headers=error.headers)

    def header(self, name: str) -> str | None:
        """Return the first value of a header, or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


def _default(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        text: str = isoformat()
        return text.replace("+00:00", "Z")
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def dumps(payload: Any) -> bytes:
    """Encode a payload as compact UTF-8 JSON; datetimes in ISO-8601 with ``Z``."""
    return json.dumps(
        payload, default=_default, ensure_ascii=False, separators=(",", ":")
    ).encode()


def encoded_path(decoded: str) -> str:
    """The percent-encoded form of a path a server has already decoded (ASGI's
    ``path``, WSGI's ``PATH_INFO``), so the router decodes it exactly once: an id
    holding ``%41`` stays ``%41``. An encoded ``/`` inside a segment is lost once
    decoded; a server that keeps the raw path (ASGI's ``raw_path``) should pass that."""
    return quote(decoded, safe="/")
