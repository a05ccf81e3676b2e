"""A Django project's WSGI entry point with ssea mounted under /analytics.

    pip install "ssea[examples]"
    python examples/django_project/wsgi.py           # wsgiref, http://127.0.0.1:8000
    python examples/django_project/wsgi.py --check   # serves on a free port, exits 0
    gunicorn --chdir examples/django_project wsgi:application   # in production

Requests below ``/analytics`` go to ssea (``SCRIPT_NAME`` grows by the prefix, so ssea
sees ``/health``, ``/v1/...``); all others to Django. Configuration comes from the
``SSEA_*`` variables. Report jobs need ``ssea worker`` beside it.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.core.wsgi import get_wsgi_application

from ssea_adapters.wsgi import create_wsgi_app
from ssea_core import Settings

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PrefixDispatcher:
    """Send requests below ``prefix`` to ``mounted``, every other one to ``app``."""

    def __init__(self, app: WsgiApp, prefix: str, mounted: WsgiApp) -> None:
        self.app, self.prefix, self.mounted = app, prefix.rstrip("/"), mounted

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            return self.app(environ, start_response)
        script = environ.get("SCRIPT_NAME", "") + self.prefix
        below = {
            **environ,
            "SCRIPT_NAME": script,
            "PATH_INFO": path[len(self.prefix) :],
        }
        return self.mounted(below, start_response)


def build(settings: Settings) -> PrefixDispatcher:
    """Django's application with ssea in front of it under ``/analytics``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    analytics = create_wsgi_app(settings)
    atexit.register(analytics.close)
    return PrefixDispatcher(get_wsgi_application(), "/analytics", analytics)


application = build(Settings())


def check() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from _check import fetch, serving_wsgi, throwaway_settings

    with throwaway_settings() as settings, serving_wsgi(build(settings)) as url:
        health = fetch(url + "/analytics/health")
        missing = fetch(url + "/analytics/v1/nothing-here")
        home = fetch(url + "/")
    assert health == (200, {"ok": True, "data": {"status": "ok"}}), health
    assert (missing[0], missing[1]["code"]) == (404, "NOT_FOUND"), missing
    assert home[1]["app"] == "django", home


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="one request, exit 0")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.check:
        check()
        print("django_project: ok")
        return 0
    from wsgiref.simple_server import make_server

    with make_server("127.0.0.1", args.port, application) as server:
        print(f"serving on http://127.0.0.1:{args.port}/ (wsgiref, for development)")
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
