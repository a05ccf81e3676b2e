"""The ASGI adapter, through httpx's ASGI transport and over a real socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ssea_adapters.asgi import SseaAsgiApp, create_app
from ssea_adapters.asgi import _path as asgi_path
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_core.settings import Settings
from ssea_storage.migrate import is_up_to_date
from ssea_storage.sql.store import SqlStore
from tests.conftest import MASTER_KEY, drop_postgres_schema
from tests.storage.test_migrations import postgres_schema_url

EVENT = {
    "event_type": "course_viewed",
    "user_id": 7,
    "course_id": 3,
    "timestamp": "2026-03-02T10:00:00Z",
}


@pytest.fixture
def asgi_app(store: SqlStore, settings: Settings, clock: FixedClock) -> SseaAsgiApp:
    return create_app(settings, store=store, clock=clock)


@pytest.fixture
async def http(asgi_app: SseaAsgiApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as client:
        yield client


def envelope_code(answer: httpx.Response) -> str:
    body = answer.json()
    assert body["ok"] is False
    assert body["error"]
    return str(body["code"])


async def test_health_answers_ok(http: httpx.AsyncClient) -> None:
    answer = await http.get("/health")

    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "data": {"status": "ok"}}
    assert answer.headers["content-type"] == "application/json"


async def test_an_event_with_a_key_is_accepted(
    http: httpx.AsyncClient, api_key: str
) -> None:
    answer = await http.post("/v1/events", json=EVENT, headers={"X-SSEA-Key": api_key})

    assert answer.status_code == 202, answer.text
    assert answer.json()["data"]["queued"] == 1


async def test_an_event_without_a_key_is_refused(http: httpx.AsyncClient) -> None:
    answer = await http.post("/v1/events", json=EVENT)

    assert answer.status_code == 401
    assert envelope_code(answer) == "MISSING_CREDENTIAL"


async def test_another_method_is_405_with_allow(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/events")

    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert envelope_code(answer) == "METHOD_NOT_ALLOWED"


async def test_an_unknown_path_is_a_404_envelope(http: httpx.AsyncClient) -> None:
    answer = await http.get("/v1/nothing-here")

    assert answer.status_code == 404
    assert envelope_code(answer) == "NOT_FOUND"


async def test_a_body_in_several_chunks_is_read_whole(
    asgi_app: SseaAsgiApp, api_key: str
) -> None:
    body = httpx.Request("POST", "/", json=EVENT).read()
    scope = http_scope("POST", "/v1/events", headers={"x-ssea-key": api_key})
    chunks = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.request", "body": body[10:], "more_body": False},
    ]

    sent = await call(asgi_app, scope, chunks)

    assert sent[0]["status"] == 202
    assert sent[1]["body"].startswith(b'{"ok":true')


async def test_a_mounted_app_routes_below_its_root_path(
    asgi_app: SseaAsgiApp,
) -> None:
    scope = http_scope("GET", "/analytics/health", root_path="/analytics")

    sent = await call(asgi_app, scope, [{"type": "http.request", "body": b""}])

    assert sent[0]["status"] == 200


@pytest.mark.parametrize(
    ("path", "root_path", "raw_path", "core_path"),
    [
        # No raw path: the decoded path, re-encoded (a "%" stays a "%").
        ("/v1/users/50%41", "", None, "/v1/users/50%2541"),
        # The raw path keeps an encoded "/" inside an id; a query in it is dropped.
        ("/v1/users/a/b", "", b"/v1/users/a%2Fb?x=1", "/v1/users/a%2Fb"),
        # Mounted (Starlette: path and raw_path both hold the mount point).
        (
            "/analytics/v1/users/a/b",
            "/analytics",
            b"/analytics/v1/users/a%2Fb",
            "/v1/users/a%2Fb",
        ),
        # The mount point spelled otherwise in the raw path (lowercase hex; uvicorn
        # --root-path puts it there unencoded).
        ("/ü/v1/users/a/b", "/ü", b"/%c3%bc/v1/users/a%2Fb", "/v1/users/a%2Fb"),
        (
            "/an alytics/v1/users/a/b",
            "/an alytics",
            b"/an alytics/v1/users/a%2Fb",
            "/v1/users/a%2Fb",
        ),
        # A server that leaves the mount point out of path.
        (
            "/v1/users/a/b",
            "/analytics",
            b"/analytics/v1/users/a%2Fb",
            "/v1/users/a%2Fb",
        ),
        # The host rewrote path (middleware): what it routed decides.
        ("/analytics/health", "/analytics", b"/analytics/health/", "/health"),
        ("/analytics/v1/x", "/analytics", b"/analytics/latest/x", "/v1/x"),
        # A mount point is whole segments: "/v" is not a prefix of "/v1".
        ("/v1/health", "/v", b"/v1/health", "/v1/health"),
    ],
)
def test_the_core_gets_the_encoded_path_below_the_mount_point(
    path: str, root_path: str, raw_path: bytes | None, core_path: str
) -> None:
    scope = http_scope("GET", path, root_path=root_path)
    if raw_path is not None:
        scope["raw_path"] = raw_path

    assert asgi_path(scope) == core_path


async def test_a_starlette_mount_serves_ids_with_percent_and_slash(
    asgi_app: SseaAsgiApp, api_key: str, tenant: TenantRecord
) -> None:
    routing = pytest.importorskip("starlette.routing")
    applications = pytest.importorskip("starlette.applications")
    host = applications.Starlette(routes=[routing.Mount("/analytics", app=asgi_app)])
    key = {"X-SSEA-Key": api_key}
    users = f"/analytics/v1/tenants/{tenant.tenant_id}/users/"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=host), base_url="http://testserver"
    ) as client:
        for user_id in ("50%41", "a/b"):
            event = {
                "event_type": "user_login",
                "user_id": user_id,
                "timestamp": "2026-03-02T10:00:00Z",
            }
            sent = await client.post("/analytics/v1/events", json=event, headers=key)
            assert sent.status_code == 202, sent.text
        percent = await client.get(users + "50%2541", headers=key)
        slash = await client.get(users + "a%2Fb", headers=key)
        twice = await client.get(users + "50A", headers=key)

    assert percent.json()["user"]["user_id"] == "50%41"
    assert slash.json()["user"]["user_id"] == "a/b"
    assert twice.status_code == 404


async def test_without_lifespan_the_store_opens_on_first_request(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'lazy.db'}"
    app = create_app(Settings(database_url=url, master_key=MASTER_KEY))
    try:
        async with client_for(app) as client:
            answer = await client.get("/health")
    finally:
        await app.aclose()

    assert answer.status_code == 200
    assert is_up_to_date(url)


async def test_a_store_that_cannot_open_answers_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSEA_MASTER_KEY", raising=False)
    # A server database without a master key is refused before any connection.
    app = create_app(Settings(database_url="postgresql://127.0.0.1:1/none"))

    async with client_for(app) as client:
        first = await client.get("/health")
        again = await client.post("/v1/events", json=EVENT)

    assert first.status_code == again.status_code == 503
    assert envelope_code(first) == "MISCONFIGURED"
    assert "SSEA_MASTER_KEY" in first.json()["error"]


async def test_an_unreachable_store_answers_503() -> None:
    settings = Settings(
        database_url="postgresql://127.0.0.1:1/none", master_key=MASTER_KEY
    )
    app = create_app(settings)

    async with client_for(app) as client:
        answer = await client.get("/health")

    assert answer.status_code == 503
    assert envelope_code(answer) == "STORE_UNAVAILABLE"


async def test_lifespan_opens_and_closes_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lifespan.db'}"
    app = create_app(Settings(database_url=url, master_key=MASTER_KEY))

    async with lifespan(app) as exchange:
        started = await exchange("lifespan.startup")
        migrated = is_up_to_date(url)
        health = await call(
            app, http_scope("GET", "/health"), [{"type": "http.request"}]
        )
        stopped = await exchange("lifespan.shutdown")

    assert started["type"] == "lifespan.startup.complete"
    assert migrated
    assert health[0]["status"] == 200
    assert stopped["type"] == "lifespan.shutdown.complete"


async def test_a_startup_failure_is_reported_to_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSEA_MASTER_KEY", raising=False)
    app = create_app(Settings(database_url="postgresql://127.0.0.1:1/none"))

    async with lifespan(app) as exchange:
        answer = await exchange("lifespan.startup")

    assert answer["type"] == "lifespan.startup.failed"
    assert "SSEA_MASTER_KEY" in answer["message"]


@pytest.mark.postgres
async def test_an_outdated_server_schema_fails_startup(postgres_url: str) -> None:
    app = create_app(Settings(database_url=postgres_url, master_key=MASTER_KEY))

    async with lifespan(app) as exchange:
        answer = await exchange("lifespan.startup")

    assert answer["type"] == "lifespan.startup.failed"
    assert "ssea db upgrade" in answer["message"]


async def test_websockets_are_closed(asgi_app: SseaAsgiApp) -> None:
    sent = await call(asgi_app, {"type": "websocket", "path": "/"}, [])

    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_ssea_serve_answers_over_a_real_socket(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSEA_")}
    command = [sys.executable, "-m", "ssea_adapters.cli", "serve", "--port", str(port)]
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            answer = wait_for_health(f"http://127.0.0.1:{port}/health", server)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)

    assert answer.status_code == 200, (tmp_path / "serve.log").read_text()
    assert answer.json()["data"]["status"] == "ok"
    assert (tmp_path / "ssea.db").exists()
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert server.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()


# -- helpers -------------------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    schema = f"ssea_asgi_{os.getpid()}"
    yield postgres_schema_url(schema)
    drop_postgres_schema(schema)


def client_for(app: SseaAsgiApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    )


def http_scope(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    root_path: str = "",
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "root_path": root_path,
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
    }


async def call(
    app: SseaAsgiApp, scope: dict[str, Any], messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Drive the app with ``messages``; return what it sent."""
    inbox = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    return sent


@asynccontextmanager
async def lifespan(
    app: SseaAsgiApp,
) -> AsyncIterator[Callable[[str], Awaitable[dict[str, Any]]]]:
    """Play the server's side of the lifespan protocol, one message at a time."""
    to_app, app_inbox = anyio.create_memory_object_stream[dict[str, Any]](1)
    to_server, server_inbox = anyio.create_memory_object_stream[dict[str, Any]](1)

    async def exchange(kind: str) -> dict[str, Any]:
        await to_app.send({"type": kind})
        return await server_inbox.receive()

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    async with (
        to_app,
        app_inbox,
        to_server,
        server_inbox,
        anyio.create_task_group() as group,
    ):
        group.start_soon(app, scope, app_inbox.receive, to_server.send)
        yield exchange


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_health(url: str, server: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def test_a_body_over_the_limit_is_a_413_envelope(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'limit.db'}",
        master_key=MASTER_KEY,
        max_body_bytes=2048,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post(
            "/v1/events/batch",
            content=b"x" * 4096,
            headers={"X-SSEA-Key": "ssea_" + "0" * 32},
        )
    await app.aclose()
    assert answer.status_code == 413
    assert answer.json() == {
        "ok": False,
        "error": "The body exceeds 2048 bytes.",
        "code": "PAYLOAD_TOO_LARGE",
    }
