"""The ASGI adapter: serve :class:`~ssea_core.app.SseaApp` with uvicorn or any server.

It only translates: an HTTP scope and its body become a
:class:`~ssea_core.http.Request`, the core's :class:`~ssea_core.http.Response` becomes
the ``http.response.*`` messages (a streamed body chunk by chunk). The store is opened
at lifespan startup, or on the first request when the server sends no lifespan (e.g.
``httpx.ASGITransport``); a store that cannot be opened answers 503 envelopes instead
of crashing the worker. With a lifespan, the background tasks (the risk scheduler,
report workers) run in one task group from startup to shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any
from urllib.parse import unquote

import anyio

from ssea_core.app import SseaApp, render_error
from ssea_core.artifacts import ArtifactStore
from ssea_core.clock import Clock
from ssea_core.errors import PayloadTooLargeError, SseaError
from ssea_core.http import Request, Response, encoded_path
from ssea_core.protocols import Store
from ssea_core.reports.worker import run_worker
from ssea_core.risk.service import run_risk_scheduler
from ssea_core.settings import Settings
from ssea_storage.artifacts import artifact_store_from_settings
from ssea_storage.migrate import open_ready_store

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: A task that runs from startup until the event is set at shutdown.
Background = Callable[[anyio.Event], Coroutine[Any, Any, None]]
#: Seconds background tasks get at shutdown to finish what they hold (a report).
SHUTDOWN_GRACE_SECONDS = 10.0


class SseaAsgiApp:
    """An ASGI 3 application around one :class:`SseaApp`.

    A store passed in belongs to the caller; a store this app opens from settings is
    closed at lifespan shutdown or by :meth:`aclose`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        migrate: bool | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._migrate = migrate
        self._artifacts = artifacts or artifact_store_from_settings(
            settings, clock=clock
        )
        self._core = (
            SseaApp(store, settings, clock=clock, artifacts=self._artifacts)
            if store is not None
            else None
        )
        self._owned: Store | None = None
        self._lock = anyio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            # Websockets are not part of the API: closing before accept is a 403.
            await send({"type": "websocket.close", "code": 1008})

    async def core(self) -> SseaApp:
        """The core application, opening the store on first use.

        Raises :class:`~ssea_core.errors.MisconfiguredError` (or a subclass) when the
        store cannot be opened or its schema is not current; a later call tries again.
        """
        if self._core is not None:
            return self._core
        async with self._lock:
            if self._core is None:
                store = await open_ready_store(self.settings, upgrade=self._migrate)
                self._owned = store
                self._core = SseaApp(
                    store, self.settings, clock=self._clock, artifacts=self._artifacts
                )
                logger.info("store opened (%s)", store.executor.dialect)
            return self._core

    async def aclose(self) -> None:
        """Close the store this app opened, if any; it reopens on the next request."""
        async with self._lock:
            if self._core is not None:
                await self._core.aclose()
            if self._owned is not None:
                await self._owned.aclose()
                self._owned = None
                self._core = None
                logger.info("store closed")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive, self.settings.max_body_bytes)
        except PayloadTooLargeError as error:
            request = _request(scope, b"")
            await _send(send, request, self._render_error(request, error))
            return
        if body is None:
            return
        request = _request(scope, body)
        try:
            core = await self.core()
        except SseaError as error:
            await _send(send, request, self._render_error(request, error))
            return
        await _send(send, request, await core.handle(request))

    def _render_error(self, request: Request, error: SseaError) -> Response:
        # Errors before the core serves still get its security and CORS headers.
        return render_error(request, error, self.settings)

    def background_tasks(self, core: SseaApp) -> list[Background]:
        """What runs beside the server: the risk scheduler unless
        ``risk_scheduler_enabled`` is off, and ``report_worker_concurrency`` report
        workers unless ``report_worker_enabled`` is off."""
        services, settings = core.services, self.settings
        tasks: list[Background] = []
        if settings.risk_scheduler_enabled:

            async def risk_scheduler(stop: anyio.Event) -> None:
                await run_risk_scheduler(
                    services.store, settings, services.clock, stop_event=stop
                )

            tasks.append(risk_scheduler)
        if not settings.report_worker_enabled or services.artifacts is None:
            return tasks

        async def report_worker(stop: anyio.Event) -> None:
            await run_worker(services, stop_event=stop)

        return tasks + [report_worker] * settings.report_worker_concurrency

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        stop, stopped = anyio.Event(), anyio.Event()
        async with anyio.create_task_group() as group:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        core = await self.core()
                    except SseaError as error:
                        logger.error("startup failed: %s", error.message)
                        await send(
                            {
                                "type": "lifespan.startup.failed",
                                "message": error.message,
                            }
                        )
                        return
                    tasks = self.background_tasks(core)
                    group.start_soon(_run_background, tasks, stop, stopped)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    stop.set()
                    with anyio.move_on_after(SHUTDOWN_GRACE_SECONDS):
                        await stopped.wait()
                    group.cancel_scope.cancel()
                    break
        await self.aclose()
        await send({"type": "lifespan.shutdown.complete"})


async def _run_background(
    tasks: list[Background], stop: anyio.Event, stopped: anyio.Event
) -> None:
    """Run every background task until ``stop``; ``stopped`` once all have ended."""
    if tasks:
        logger.info("background tasks started: %d", len(tasks))
    async with anyio.create_task_group() as group:
        for task in tasks:
            group.start_soon(task, stop)
    stopped.set()


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    migrate: bool | None = None,
    artifacts: ArtifactStore | None = None,
) -> SseaAsgiApp:
    """The ASGI application for ``settings`` (default: ``SSEA_*`` variables).

    Without ``store``, the configured database is opened at startup. ``migrate`` None
    upgrades the embedded SQLite database and only checks a server database, whose
    startup then fails until ``ssea db upgrade`` was run; True or False force it.
    Without ``artifacts``, the ``SSEA_ARTIFACT_*`` settings name the artifact store.
    """
    return SseaAsgiApp(
        settings or Settings(),
        store=store,
        clock=clock,
        migrate=migrate,
        artifacts=artifacts,
    )


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body; None when the client left before sending it.

    Raises :class:`PayloadTooLargeError` as soon as more than ``limit`` bytes came.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"The body exceeds {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _request(scope: Scope, body: bytes) -> Request:
    client = scope.get("client")
    return Request.build(
        scope["method"],
        _path(scope),
        query_string=scope.get("query_string", b""),
        headers=[
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope.get("headers", [])
        ],
        body=body,
        client=client[0] if client else None,
    )


def _path(scope: Scope) -> str:
    """The percent-encoded path below the mount point.

    ``path`` (decoded) is what the host routed, so it decides; ``raw_path`` is used
    only when it spells that same path, which keeps an encoded ``/`` inside an id. A
    host that rewrote ``path`` (middleware) or a server that spells the mount point
    differently gets its decoded path re-encoded instead.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root) :] or "/"
    raw = scope.get("raw_path")
    if raw:
        rest = _below_decoded(raw.decode("latin-1").split("?", 1)[0], root)
        if rest is not None and unquote(rest) == path:
            return rest
    return encoded_path(path)


def _below_decoded(encoded: str, root: str) -> str | None:
    """``encoded`` without the leading segments that decode to ``root`` (however
    they were spelled), or None when they do not; "/" for nothing left."""
    if not root:
        return encoded or "/"
    end = 0
    while end < len(encoded):
        following = encoded.find("/", end + 1)
        end = len(encoded) if following == -1 else following
        head = unquote(encoded[:end])
        if head == root:
            return encoded[end:] or "/"
        if len(head) >= len(root):
            return None
    return None


async def _send(send: Send, request: Request, response: Response) -> None:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers
    ]
    # A HEAD answer has no body, so its length would be wrong; the server omits it.
    sized = request.method != "HEAD" and response.stream is None
    if sized and response.header("content-length") is None:
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send(
        {"type": "http.response.start", "status": response.status, "headers": headers}
    )
    if response.stream is None:
        await send({"type": "http.response.body", "body": response.body})
        return
    try:
        async for chunk in response.stream:
            if chunk:
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
        await send({"type": "http.response.body", "body": b""})
    finally:
        await response.drop_stream()
