"""The WSGI adapter, served by a real WSGI server (wsgiref) and called with environs."""

from __future__ import annotations

import io
import json
import logging
import socketserver
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import setup_testing_defaults

import anyio
import httpx
import pytest

from ssea_adapters.wsgi import SseaWsgiApp, create_wsgi_app
from ssea_core.clock import FixedClock
from ssea_core.http import Request, Response
from ssea_core.settings import Settings
from ssea_storage.migrate import is_up_to_date
from ssea_storage.sql.store import SqlStore
from tests.conftest import MASTER_KEY

EVENT = {
    "event_type": "course_viewed",
    "user_id": 7,
    "course_id": 3,
    "timestamp": "2026-03-02T10:00:00Z",
}


class ThreadingWsgiServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(app: SseaWsgiApp) -> Iterator[str]:
    """Serve ``app`` with wsgiref on a free port of 127.0.0.1; yield its base URL."""
    server = make_server(
        "127.0.0.1",
        0,
        app,
        server_class=ThreadingWsgiServer,
        handler_class=QuietHandler,
    )
    serve = partial(server.serve_forever, poll_interval=0.05)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def wsgi_app(
    store: SqlStore, settings: Settings, clock: FixedClock
) -> Iterator[SseaWsgiApp]:
    app = create_wsgi_app(settings, store=store, clock=clock)
    yield app
    app.close()


@pytest.fixture
async def server(wsgi_app: SseaWsgiApp) -> AsyncIterator[httpx.AsyncClient]:
    with serving(wsgi_app) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            yield client


def alive(ident: int) -> bool:
    return any(thread.ident == ident for thread in threading.enumerate())


def recording(
    app: SseaWsgiApp, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[Request, int]]:
    """Every request the core of ``app`` serves, with the thread that served it."""
    core = app.portal().call(app._runtime.core)
    handle = core.handle
    seen: list[tuple[Request, int]] = []

    async def recorded(request: Request) -> Response:
        seen.append((request, threading.get_ident()))
        return await handle(request)

    monkeypatch.setattr(core, "handle", recorded)
    return seen


def call(
    app: SseaWsgiApp, method: str, path: str, body: bytes = b"", **environ: Any
) -> tuple[str, dict[str, str], bytes]:
    """Call the app as a WSGI server would; answer status line, headers and body."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)) if body else "",
        **environ,
    }
    setup_testing_defaults(env)
    started: list[Any] = []
    chunks = app(env, lambda status, headers: started.append((status, headers)))
    try:
        content = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    status, headers = started[0]
    return status, {name.lower(): value for name, value in headers}, content


async def acall(
    app: SseaWsgiApp, method: str, path: str, body: bytes = b"", **environ: Any
) -> tuple[str, dict[str, str], bytes]:
    """:func:`call` from an async test, in a worker thread."""
    return await anyio.to_thread.run_sync(
        partial(call, app, method, path, body, **environ)
    )


# -- over a real server --------------------------------------------------------------


async def test_health_over_a_real_server(server: httpx.AsyncClient) -> None:
    answer = await server.get("/health")

    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "data": {"status": "ok"}}
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_an_event_with_a_key_is_accepted(
    server: httpx.AsyncClient, api_key: str
) -> None:
    answer = await server.post(
        "/v1/events", json=EVENT, headers={"X-SSEA-Key": api_key}
    )

    assert answer.status_code == 202, answer.text
    assert answer.json()["data"]["queued"] == 1


async def test_head_has_the_headers_and_no_body(server: httpx.AsyncClient) -> None:
    answer = await server.head("/health")

    assert answer.status_code == 200
    assert answer.content == b""
    assert answer.headers["content-type"] == "application/json"


async def test_another_method_is_405_with_allow(server: httpx.AsyncClient) -> None:
    answer = await server.get("/v1/events")

    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_concurrent_requests_share_one_event_loop_thread(
    wsgi_app: SseaWsgiApp,
    server: httpx.AsyncClient,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = recording(wsgi_app, monkeypatch)
    statuses: list[int] = []

    async def send(number: int) -> None:
        event = {**EVENT, "user_id": number}
        answer = await server.post(
            "/v1/events", json=event, headers={"X-SSEA-Key": api_key}
        )
        statuses.append(answer.status_code)

    async with anyio.create_task_group() as group:
        for number in range(12):
            group.start_soon(send, number)

    assert statuses == [202] * 12
    loops = {ident for _, ident in seen}
    assert len(loops) == 1
    (loop,) = loops
    assert loop != threading.get_ident()
    wsgi_app.close()
    assert not alive(loop)


# -- translation ---------------------------------------------------------------------


def test_a_declared_length_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    app = lazy_app(tmp_path, max_body_bytes=2048)
    unread = io.BytesIO(b"x" * 4096)

    status, _, body = call(
        app, "POST", "/v1/events/batch", CONTENT_LENGTH="4096", **{"wsgi.input": unread}
    )

    assert status == "413 Request Entity Too Large"
    assert body == (
        b'{"ok":false,"error":"The body exceeds 2048 bytes.",'
        b'"code":"PAYLOAD_TOO_LARGE"}'
    )
    assert unread.tell() == 0
    assert app._portal is None, "a refused body never reaches the core"


def test_a_terminated_input_is_read_to_its_end_and_capped(tmp_path: Path) -> None:
    app = lazy_app(tmp_path, max_body_bytes=2048)

    status, _, _ = call(
        app,
        "POST",
        "/v1/events",
        CONTENT_LENGTH="",
        **{"wsgi.input": io.BytesIO(b"x" * 5000), "wsgi.input_terminated": True},
    )

    assert status.startswith("413 ")


async def test_a_body_is_read_whole_in_chunks(
    wsgi_app: SseaWsgiApp, api_key: str
) -> None:
    body = b'{"events": [' + b",".join([httpx_json(EVENT)] * 2) + b"]}"
    body = body + b" " * (200_000 - len(body))  # several reads of wsgi.input

    status, _, answer = await acall(
        wsgi_app, "POST", "/v1/events/batch", body, HTTP_X_SSEA_KEY=api_key
    )

    assert status == "202 Accepted", answer
    assert json.loads(answer)["data"]["duplicates"] == 1


def test_a_content_length_that_is_not_a_number_is_400(tmp_path: Path) -> None:
    status, _, body = call(
        lazy_app(tmp_path), "POST", "/v1/events", b"{}", CONTENT_LENGTH="x"
    )

    assert status == "400 Bad Request"
    assert b'"code":"BAD_REQUEST"' in body


async def test_a_mounted_app_routes_below_its_script_name(
    wsgi_app: SseaWsgiApp,
) -> None:
    status, _, _ = await acall(wsgi_app, "GET", "/health", SCRIPT_NAME="/analytics")

    assert status == "200 OK"


async def test_the_request_is_translated(
    wsgi_app: SseaWsgiApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = recording(wsgi_app, monkeypatch)
    wire = "/v1/nothing-ñ".encode().decode("latin-1")  # as PEP 3333 hands it over

    status, _, _ = await acall(
        wsgi_app,
        "POST",
        wire,
        b'{"a": 1}',
        QUERY_STRING="days=7&q=a%20b",
        CONTENT_TYPE="application/json",
        HTTP_X_SSEA_KEY="k",
        HTTP_ORIGIN="https://x.example",
        REMOTE_ADDR="10.1.2.3",
    )

    assert status == "404 Not Found"
    request = seen[0][0]
    assert request.method == "POST"
    assert request.path == "/v1/nothing-%C3%B1"  # the core routes the encoded path
    assert request.query == {"days": ["7"], "q": ["a b"]}
    assert request.body == b'{"a": 1}'
    assert request.client == "10.1.2.3"
    assert request.headers["x-ssea-key"] == "k"
    assert request.headers["origin"] == "https://x.example"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-length"] == "8"


# -- the store and the event loop ----------------------------------------------------


def test_the_store_opens_on_first_request_and_close_stops_the_loop(
    tmp_path: Path,
) -> None:
    app = lazy_app(tmp_path)
    url = app.settings.database_url

    first = call(app, "GET", "/health")
    migrated = is_up_to_date(url)
    loop = app.portal().call(threading.get_ident)
    app.close()
    stopped = not alive(loop)
    again = call(app, "GET", "/health")
    app.close()

    assert first[0] == again[0] == "200 OK"
    assert migrated
    assert stopped
    assert app._portal is None


def test_first_requests_at_once_start_one_loop_and_one_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ssea_adapters")
    app = lazy_app(tmp_path)
    statuses: list[str] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(call(app, "GET", "/health")[0]))
        for _ in range(8)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        core = app.portal().call(app._runtime.core)
        again = app.portal().call(app._runtime.core)
    finally:
        app.close()

    assert statuses == ["200 OK"] * 8
    assert core is again
    started = [r for r in caplog.messages if r == "event loop thread started"]
    opened = [r for r in caplog.messages if r.startswith("store opened")]
    assert (len(started), len(opened)) == (1, 1)


def test_a_store_that_cannot_open_answers_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSEA_MASTER_KEY", raising=False)
    app = create_wsgi_app(Settings(database_url="postgresql://127.0.0.1:1/none"))
    try:
        status, headers, body = call(app, "GET", "/health")
    finally:
        app.close()

    assert status == "503 Service Unavailable"
    assert b'"code":"MISCONFIGURED"' in body
    assert b"SSEA_MASTER_KEY" in body
    assert headers["x-content-type-options"] == "nosniff"


# -- streamed bodies -----------------------------------------------------------------


class Chunks:
    """An async stream of chunks that records whether it was closed."""

    def __init__(self, chunks: Iterable[bytes], fail_after: int | None = None) -> None:
        self.chunks = list(chunks)
        self.fail_after = fail_after
        self.closed = False

    def __aiter__(self) -> Chunks:
        return self

    async def __anext__(self) -> bytes:
        if self.fail_after is not None and self.fail_after == 0:
            raise OSError("the artifact store went away")
        if not self.chunks:
            raise StopAsyncIteration
        if self.fail_after is not None:
            self.fail_after -= 1
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


def streaming(
    app: SseaWsgiApp, chunks: Chunks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Make every answer of ``app`` the streamed ``chunks``."""

    async def handle(request: Request) -> Response:
        return Response.streamed(chunks, headers={"content-type": "text/csv"})

    core = app.portal().call(app._runtime.core)
    monkeypatch.setattr(core, "handle", handle)


async def test_a_streamed_body_is_sent_chunk_by_chunk(
    wsgi_app: SseaWsgiApp, server: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = Chunks([b"a,b\n", b"", b"1,2\n", b"3,4\n"])
    streaming(wsgi_app, chunks, monkeypatch)

    answer = await server.get("/anything")

    assert answer.status_code == 200
    assert answer.text == "a,b\n1,2\n3,4\n"
    assert answer.headers["content-type"] == "text/csv"
    assert "content-length" not in answer.headers
    assert chunks.closed


async def test_a_stream_left_unread_is_closed(
    wsgi_app: SseaWsgiApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = Chunks([b"x" * 10] * 100)
    streaming(wsgi_app, chunks, monkeypatch)
    env: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    setup_testing_defaults(env)

    def read_one_chunk() -> bytes:
        body = wsgi_app(env, lambda status, headers: None)
        first = next(iter(body))
        body.close()  # type: ignore[attr-defined]
        return first

    first = await anyio.to_thread.run_sync(read_one_chunk)

    assert first == b"x" * 10
    assert chunks.closed
    assert len(chunks.chunks) > 90


async def test_a_stream_that_fails_midway_raises_to_the_server(
    wsgi_app: SseaWsgiApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = Chunks([b"a\n", b"b\n", b"c\n"], fail_after=1)
    streaming(wsgi_app, chunks, monkeypatch)

    with pytest.raises(OSError, match="went away"):
        await acall(wsgi_app, "GET", "/")

    assert chunks.closed


# -- helpers -------------------------------------------------------------------------


def lazy_app(tmp_path: Path, **changes: Any) -> SseaWsgiApp:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'wsgi.db'}",
        master_key=MASTER_KEY,
        **changes,
    )
    return create_wsgi_app(settings)


def httpx_json(payload: Any) -> bytes:
    return httpx.Request("POST", "/", json=payload).read()
