"""ssea mounted under /analytics in a Starlette application (ASGI).

    pip install "ssea[examples]"
    python examples/starlette_mount.py           # http://127.0.0.1:8000/analytics/health
    python examples/starlette_mount.py --check   # serves on a free port, asks, exits 0

Configuration comes from the ``SSEA_*`` variables (default: ``ssea.db`` here).
``Mount`` hands ssea a ``root_path`` of ``/analytics``, below which it routes. A
mounted app gets no lifespan of its own: its store opens on the first request, and
the host app's lifespan closes it. Report jobs then need ``ssea worker`` beside it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from ssea_adapters.asgi import create_app
from ssea_core import Settings


def build(settings: Settings) -> Starlette:
    """A Starlette app with a route of its own and ssea below ``/analytics``."""
    analytics = create_app(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await analytics.aclose()

    async def home(_request: Request) -> JSONResponse:
        return JSONResponse({"app": "starlette", "analytics": "/analytics/health"})

    routes = [Route("/", home), Mount("/analytics", app=analytics)]
    return Starlette(routes=routes, lifespan=lifespan)


def check() -> None:
    from _check import fetch, serving_asgi, throwaway_settings

    with throwaway_settings() as settings, serving_asgi(build(settings)) as url:
        health = fetch(url + "/analytics/health")
        missing = fetch(url + "/analytics/v1/nothing-here")
        home = fetch(url + "/")
    assert health == (200, {"ok": True, "data": {"status": "ok"}}), health
    assert (missing[0], missing[1]["code"]) == (404, "NOT_FOUND"), missing
    assert home[1]["app"] == "starlette", home


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="one request, exit 0")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.check:
        check()
        print("starlette_mount: ok")
    else:
        uvicorn.run(build(Settings()), host="127.0.0.1", port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
