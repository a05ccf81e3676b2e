"""The WSGI adapter: serve :class:`~ssea_core.app.SseaApp` under Flask, Django, any
WSGI server.

It only translates: a WSGI environ becomes a :class:`~ssea_core.http.Request` and the
core's :class:`~ssea_core.http.Response` goes to ``start_response`` (a streamed body
chunk by chunk). Invariants:

- The async core runs on one event-loop thread, an anyio blocking portal started on
  the first request and shared by every request and thread of the server; this is the
  only place where sync code waits on the core. :meth:`SseaWsgiApp.close` stops it.
- The store opens and closes as in the ASGI adapter, whose lifecycle this app reuses:
  lazily on first request, 503 envelopes while it cannot be opened, same settings.
- A body over ``max_body_bytes`` is a 413 envelope; a declared length over it is
  refused before a byte is read.
- A mounted app routes below ``SCRIPT_NAME``: ``PATH_INFO`` is the core's path.

WSGI has no lifespan, so the background tasks of ``ssea serve`` (report workers, the
risk scheduler) do not run here: report jobs need ``ssea worker`` beside it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future
from contextlib import ExitStack, suppress
from http import HTTPStatus
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ssea_adapters.asgi import SseaAsgiApp
from ssea_core.app import render_error
from ssea_core.artifacts import ArtifactStore
from ssea_core.clock import Clock
from ssea_core.errors import BadRequestError, PayloadTooLargeError, SseaError
from ssea_core.http import Request, Response, encoded_path
from ssea_core.protocols import Store
from ssea_core.settings import Settings

logger = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
#: Bytes read from ``wsgi.input`` at a time.
READ_CHUNK = 64 * 1024


class SseaWsgiApp:
    """A WSGI application around one :class:`~ssea_core.app.SseaApp`.

    A store passed in belongs to the caller; a store this app opens from settings is
    closed by :meth:`close`.
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
        self._runtime = SseaAsgiApp(
            settings, store=store, clock=clock, migrate=migrate, artifacts=artifacts
        )
        self._portal: BlockingPortal | None = None
        self._portal_exit = ExitStack()
        self._portal_lock = threading.Lock()

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        try:
            body = _read_body(environ, self.settings.max_body_bytes)
        except SseaError as error:
            request = _request(environ, b"")
            response = render_error(request, error, self.settings)
        else:
            request = _request(environ, body)
            response = self.portal().call(self._serve, request)
        start_response(_status_line(response.status), _headers(request, response))
        if response.stream is not None:
            return _StreamedBody(self.portal(), response, response.stream)
        return [response.body] if response.body else []

    def portal(self) -> BlockingPortal:
        """The event-loop thread that runs the core, started on first use."""
        portal = self._portal
        if portal is not None:
            return portal
        with self._portal_lock:
            if self._portal is None:
                self._portal = self._portal_exit.enter_context(start_blocking_portal())
                logger.info("event loop thread started")
            return self._portal

    def close(self) -> None:
        """Close the store this app opened, if any, and stop the event-loop thread.

        A later request starts both again.
        """
        with self._portal_lock:
            if self._portal is None:
                return
            try:
                self._portal.call(self._runtime.aclose)
            finally:
                self._portal = None
                self._portal_exit.close()
                logger.info("event loop thread stopped")

    async def _serve(self, request: Request) -> Response:
        try:
            core = await self._runtime.core()
        except SseaError as error:
            return render_error(request, error, self.settings)
        return await core.handle(request)


def create_wsgi_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    migrate: bool | None = None,
    artifacts: ArtifactStore | None = None,
) -> SseaWsgiApp:
    """The WSGI application for ``settings`` (default: ``SSEA_*`` variables).

    The arguments mean what they mean for :func:`ssea_adapters.asgi.create_app`;
    the store opens on the first request. Call :meth:`SseaWsgiApp.close` at exit.
    """
    return SseaWsgiApp(
        settings or Settings(),
        store=store,
        clock=clock,
        migrate=migrate,
        artifacts=artifacts,
    )


class _StreamedBody:
    """A streamed body as a WSGI iterable.

    One task on the portal drives the core's stream to its end (an async generator
    must be resumed by one task), handing chunks over one at a time; the server's
    ``close()`` stops it and closes the stream, sent or not.
    """

    def __init__(
        self, portal: BlockingPortal, response: Response, stream: AsyncIterator[bytes]
    ) -> None:
        self._portal = portal
        sender, self._receiver = portal.call(_chunk_channel)
        self._pump: Future[None] = portal.start_task_soon(
            _pump, response, stream, sender
        )

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return self._portal.call(self._receiver.receive)
        except anyio.EndOfStream:
            self._pump.result()  # a failure mid-stream reaches the server
            raise StopIteration from None

    def close(self) -> None:
        self._portal.call(self._receiver.aclose)
        with suppress(CancelledError):
            self._pump.exception()  # waits until the stream is closed


async def _chunk_channel() -> tuple[
    MemoryObjectSendStream[bytes], MemoryObjectReceiveStream[bytes]
]:
    return anyio.create_memory_object_stream[bytes]()


async def _pump(
    response: Response,
    stream: AsyncIterator[bytes],
    sender: MemoryObjectSendStream[bytes],
) -> None:
    try:
        async with sender:
            async for chunk in stream:
                if chunk:
                    await sender.send(chunk)
    except anyio.BrokenResourceError:
        pass  # the server stopped reading: the client left
    finally:
        with anyio.CancelScope(shield=True):
            await response.drop_stream()


def _read_body(environ: Environ, limit: int) -> bytes:
    """The request body: ``CONTENT_LENGTH`` bytes, or all of a terminated input.

    Raises :class:`PayloadTooLargeError` past ``limit`` bytes, before reading any when
    the declared length says so.
    """
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared:
        try:
            length = int(declared)
        except ValueError:
            raise BadRequestError(
                f"The Content-Length header is not a number: {declared[:20]!r}."
            ) from None
    elif environ.get("wsgi.input_terminated"):
        length = -1
    else:
        return b""
    if length > limit:
        raise PayloadTooLargeError(f"The body exceeds {limit} bytes.")
    stream = environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    while length < 0 or size < length:
        wanted = READ_CHUNK if length < 0 else min(READ_CHUNK, length - size)
        chunk = stream.read(wanted)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"The body exceeds {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _request(environ: Environ, body: bytes) -> Request:
    headers = [
        (name[5:].replace("_", "-"), value)
        for name, value in environ.items()
        if name.startswith("HTTP_")
    ]
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers.append((name.replace("_", "-"), environ[name]))
    return Request.build(
        environ["REQUEST_METHOD"],
        encoded_path(_native_to_text(environ.get("PATH_INFO", ""))),
        query_string=environ.get("QUERY_STRING", ""),
        headers=headers,
        body=body,
        client=environ.get("REMOTE_ADDR") or None,
    )


def _native_to_text(value: str) -> str:
    # PEP 3333 hands the path over as bytes decoded with latin-1; the core, like ASGI,
    # sees the UTF-8 text.
    return value.encode("latin-1").decode("utf-8", errors="replace")


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _headers(request: Request, response: Response) -> list[tuple[str, str]]:
    headers = list(response.headers)
    # A HEAD answer has no body, so its length would be wrong; the server omits it.
    sized = request.method != "HEAD" and response.stream is None
    if sized and response.header("content-length") is None:
        headers.append(("content-length", str(len(response.body))))
    return headers
