"""ssea on its own under uvicorn: the service that ``ssea serve`` runs.

    pip install "ssea[server]"
    python examples/plain_uvicorn.py           # http://127.0.0.1:8000/health
    python examples/plain_uvicorn.py --check   # serves on a free port, asks, exits 0

Configuration comes from the ``SSEA_*`` variables (default: ``ssea.db`` here). The
lifespan opens the store (migrating SQLite), runs the report workers and closes all
at shutdown. In production, ``uvicorn --factory ssea_adapters.asgi:create_app``
does the same from the command line.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from ssea_adapters.asgi import create_app
from ssea_core import Settings


def check() -> None:
    from _check import fetch, serving_asgi, throwaway_settings

    with throwaway_settings() as settings, serving_asgi(create_app(settings)) as url:
        health = fetch(url + "/health")
        refused = fetch(
            url + "/v1/tenants/00000000-0000-0000-0000-000000000000/overview"
        )
    assert health == (200, {"ok": True, "data": {"status": "ok"}}), health
    assert (refused[0], refused[1]["code"]) == (401, "MISSING_CREDENTIAL"), refused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="one request, exit 0")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.check:
        check()
        print("plain_uvicorn: ok")
    else:
        uvicorn.run(create_app(Settings()), host="127.0.0.1", port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
