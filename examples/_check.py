"""What the examples' ``--check`` runs share: a throwaway configuration, a real server
on a free port of 127.0.0.1 for a few requests, a stdlib HTTP client, and the test
suite's double of Cloudflare Workers for the example that cannot run elsewhere.

Not part of any example's lesson; each example reads fine without it.
"""

from __future__ import annotations

import importlib
import json
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ssea_core import Settings
from ssea_storage.secrets import new_master_key


@contextmanager
def throwaway_settings() -> Iterator[Settings]:
    """Settings whose database, master key and artifacts live in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        yield Settings(
            database_url=f"sqlite:///{folder}/ssea.db",
            master_key=new_master_key(),
            artifact_url=f"file://{folder}/artifacts",
        )


@contextmanager
def serving_asgi(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn (lifespan included); yield its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving_wsgi(app: Callable[..., Any]) -> Iterator[str]:
    """Serve a WSGI app with the stdlib's wsgiref; yield its base URL."""
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=20)


def fetch(url: str) -> tuple[int, Any]:
    """GET ``url``; answer the status and the JSON body (an error's too)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def workers_double() -> ModuleType:
    """``tests.workers_double``: the Workers SDK, Pyodide, D1 and R2 doubles that the
    test suite uses. They come with a checkout of the repository, not the package."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "tests" / "workers_double.py").is_file():
        raise RuntimeError(
            f"No tests/workers_double.py under {root}: the Workers example's check "
            "needs a checkout of the ssea repository."
        )
    sys.path.insert(0, str(root))
    return importlib.import_module("tests.workers_double")
