"""One client shape over every runtime: the behaviour suite runs against each.

``http`` is parametrised over :data:`RUNTIMES`; each gives an object with the async
interface of :class:`tests.support.ApiClient` (``request``, ``get``, ``post``
answering :class:`~tests.support.Answer`), built over the same store, settings and
clock:

- ``core``: :meth:`SseaApp.handle` in-process (the reference every runtime matches);
- ``asgi``: :func:`ssea_adapters.asgi.create_app` through ``httpx.ASGITransport``;
- ``wsgi``: :func:`ssea_adapters.wsgi.create_wsgi_app` through
  ``httpx.WSGITransport``, which is sync, so a worker thread sends each request;
- ``workers``: a Python Worker's ``Default`` (:mod:`ssea_adapters.workers`) through
  the double of :mod:`tests.workers_double`, over a
  :class:`~ssea_storage.d1.D1Store` whose D1 binding is sqlite3 on the store's own
  database file, so every runtime sees the same rows. The D1 store is handed to the
  entrypoint, not opened from ``env.DB``: that file is built by ``create_all``, not
  by the migrations whose revision opening checks. D1 is SQLite, so on PostgreSQL
  this runtime is skipped.

A new runtime adds one name to :data:`RUNTIMES` and one builder in :class:`Runtimes`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import partial
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
import pytest

from ssea_adapters.asgi import create_app
from ssea_adapters.wsgi import create_wsgi_app
from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock
from ssea_core.http import Request
from ssea_core.settings import Settings
from ssea_storage.d1 import D1Store
from ssea_storage.sql.store import SqlStore
from tests.conftest import JWT_SECRET, MASTER_KEY
from tests.support import Answer
from tests.workers_double import (
    D1Database,
    Env,
    R2Bucket,
    WorkersClient,
    double_bridge,
    double_entrypoint,
)

RUNTIMES = ("core", "asgi", "wsgi", "workers")
#: The browser origin the behaviour settings allow (CORS).
DASHBOARD = "https://dashboard.example.edu"
#: The body cap of the behaviour settings; the adapters answer 413 past it.
MAX_BODY_BYTES = 16 * 1024

#: Sends one request: method, path, query string, headers, body.
Send = Callable[[str, str, str, dict[str, str], bytes], Awaitable[Answer]]


class HttpClient:
    """The :class:`ApiClient` interface over one runtime's ``send``."""

    def __init__(
        self, runtime: str, send: Send, headers: dict[str, str] | None = None
    ) -> None:
        self.runtime = runtime
        self.headers = dict(headers or {})
        self._send = send

    def with_headers(self, headers: dict[str, str]) -> HttpClient:
        """The same runtime, sending ``headers`` on every request too."""
        return HttpClient(self.runtime, self._send, {**self.headers, **headers})

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        body = content if content is not None else b""
        if json_body is not None:
            body = json.dumps(json_body).encode()
        query = urlencode(params or {}, doseq=True)
        merged = {**self.headers, **(headers or {})}
        return await self._send(method, path, query, merged, body)

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)


class Runtimes:
    """Builds each runtime's app over one store; :meth:`aclose` closes them all."""

    def __init__(self, store: SqlStore, settings: Settings, clock: FixedClock) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        self._closers: list[Callable[[], Awaitable[None]]] = []

    @property
    def names(self) -> tuple[str, ...]:
        """The runtimes this store can serve: Workers only on SQLite (D1)."""
        on_d1 = self.store.executor.dialect == "sqlite"
        return RUNTIMES if on_d1 else tuple(n for n in RUNTIMES if n != "workers")

    def client(self, runtime: str, headers: dict[str, str] | None = None) -> HttpClient:
        """A client over ``runtime``; skips the test where the store cannot serve it."""
        if runtime not in self.names:
            dialect = self.store.executor.dialect
            pytest.skip(f"{runtime} serves from D1 (SQLite), not from {dialect}")
        build = {
            "core": self._core,
            "asgi": self._asgi,
            "wsgi": self._wsgi,
            "workers": self._workers,
        }[runtime]
        return HttpClient(runtime, build(), headers)

    async def aclose(self) -> None:
        for close in reversed(self._closers):
            await close()

    def _core(self) -> Send:
        app = SseaApp(self.store, self.settings, clock=self.clock)
        self._closers.append(app.aclose)

        async def send(
            method: str, path: str, query: str, headers: dict[str, str], body: bytes
        ) -> Answer:
            request = Request.build(
                method, path, query_string=query, headers=headers, body=body
            )
            response = await app.handle(request)
            body = await response.read_body()
            return Answer(response.status, joined(response.headers), body)

        return send

    def _asgi(self) -> Send:
        app = create_app(self.settings, store=self.store, clock=self.clock)
        self._closers.append(app.aclose)
        transport = httpx.ASGITransport(app=app)

        async def send(
            method: str, path: str, query: str, headers: dict[str, str], body: bytes
        ) -> Answer:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                answer = await client.request(
                    method, url(path, query), headers=headers, content=body
                )
            return answered(answer)

        return send

    def _wsgi(self) -> Send:
        app = create_wsgi_app(self.settings, store=self.store, clock=self.clock)

        async def close() -> None:
            await anyio.to_thread.run_sync(app.close)

        self._closers.append(close)
        transport = httpx.WSGITransport(app=as_pep3333(app))

        def call(
            method: str, path: str, query: str, headers: dict[str, str], body: bytes
        ) -> Answer:
            with httpx.Client(
                transport=transport, base_url="http://testserver"
            ) as client:
                answer = client.request(
                    method, url(path, query), headers=headers, content=body
                )
            return answered(answer)

        async def send(
            method: str, path: str, query: str, headers: dict[str, str], body: bytes
        ) -> Answer:
            return await anyio.to_thread.run_sync(
                partial(call, method, path, query, headers, body)
            )

        return send

    def _workers(self) -> Send:
        database = D1Database(str(self.store.executor.engine.url.database))
        store = D1Store.from_binding(
            database, master_key=MASTER_KEY, bridge=double_bridge()
        )
        entrypoint = double_entrypoint(
            settings=self.settings, store=store, clock=self.clock
        )
        client = WorkersClient(entrypoint, Env(DB=database, ARTIFACTS=R2Bucket()))

        async def close() -> None:
            if entrypoint.ssea._core is not None:
                await entrypoint.ssea._core.aclose()
            await store.executor.aclose()
            database.sqlite.close()

        self._closers.append(close)

        async def send(
            method: str, path: str, query: str, headers: dict[str, str], body: bytes
        ) -> Answer:
            response = await client.fetch(method, path, query, headers, body)
            return Answer(
                response.status, joined(response.headers), await response.bytes()
            )

        return send


def as_pep3333(app: Any) -> Any:
    """httpx's WSGI transport decodes ``PATH_INFO`` as UTF-8; PEP 3333 servers
    (wsgiref, gunicorn) decode its bytes as latin-1, which the adapter expects."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        environ["PATH_INFO"] = path.encode("utf-8").decode("latin-1")
        return app(environ, start_response)

    return wrapped


def url(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def answered(answer: httpx.Response) -> Answer:
    return Answer(
        answer.status_code, joined(answer.headers.multi_items()), answer.content
    )


def joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header pairs as one lower-cased entry per name, repeated values joined."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


@pytest.fixture
def settings() -> Settings:
    """The shared settings, with CORS configured and a small body cap."""
    return Settings(
        database_url="sqlite://",
        master_key=MASTER_KEY,
        jwt_secrets=[JWT_SECRET],
        cors_origins=[DASHBOARD],
        max_body_bytes=MAX_BODY_BYTES,
    )


@pytest.fixture
async def runtimes(
    store: SqlStore, settings: Settings, clock: FixedClock
) -> AsyncIterator[Runtimes]:
    built = Runtimes(store, settings, clock)
    yield built
    await built.aclose()


@pytest.fixture(params=RUNTIMES)
def http(request: pytest.FixtureRequest, runtimes: Runtimes) -> HttpClient:
    """A client without credentials, over each runtime in turn."""
    return runtimes.client(str(request.param))


@pytest.fixture
def keyed(http: HttpClient, api_key: str) -> HttpClient:
    """The same runtime, sending the tenant's API key."""
    return http.with_headers({"X-SSEA-Key": api_key})
