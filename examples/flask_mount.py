"""ssea mounted under /analytics in a Flask application (WSGI).

    pip install "ssea[examples]"
    python examples/flask_mount.py           # http://127.0.0.1:8000/analytics/health
    python examples/flask_mount.py --check   # serves on a free port, asks, exits 0

Configuration comes from the ``SSEA_*`` variables (default: ``ssea.db`` here).
werkzeug's ``DispatcherMiddleware`` sends ``/analytics/...`` to ssea with
``SCRIPT_NAME=/analytics``; everything else stays Flask's. ssea runs its async core
on one event-loop thread of its own, started on the first request; ``close()`` (here
at exit) stops it and closes the store. Report jobs need ``ssea worker`` beside it.
"""

from __future__ import annotations

import argparse
import atexit
import sys

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from ssea_adapters.wsgi import create_wsgi_app
from ssea_core import Settings


def build(settings: Settings) -> Flask:
    """A Flask app with a route of its own and ssea below ``/analytics``."""
    app = Flask(__name__)
    analytics = create_wsgi_app(settings)
    atexit.register(analytics.close)

    @app.get("/")
    def home() -> dict[str, str]:
        return {"app": "flask", "analytics": "/analytics/health"}

    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, {"/analytics": analytics}
    )
    return app


def check() -> None:
    from _check import fetch, serving_wsgi, throwaway_settings

    with throwaway_settings() as settings, serving_wsgi(build(settings)) as url:
        health = fetch(url + "/analytics/health")
        missing = fetch(url + "/analytics/v1/nothing-here")
        home = fetch(url + "/")
    assert health == (200, {"ok": True, "data": {"status": "ok"}}), health
    assert (missing[0], missing[1]["code"]) == (404, "NOT_FOUND"), missing
    assert home[1]["app"] == "flask", home


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="one request, exit 0")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.check:
        check()
        print("flask_mount: ok")
    else:
        build(Settings()).run(host="127.0.0.1", port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
