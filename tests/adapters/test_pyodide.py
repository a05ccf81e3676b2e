"""examples/workers/entry.py in real Pyodide (314, Python 3.14) under Node 22.

The real ``workers-runtime-sdk`` and the real core answer real Fetch ``Request``s;
what workerd would add around them is played by tests/workers_pyodide.mjs: the two
JS modules the SDK imports from the runtime, the ctx, the call of
``Default(ctx, env).fetch(request)``, the D1 binding (``JS_D1_DOUBLE``: node:sqlite
behind D1's API) and an in-memory R2 binding. The tenant and its key are made with
the ``ssea`` CLI on a SQLite file and their rows replayed into D1, as
examples/workers/README.md tells operators to do.

The first run downloads Node 22, Pyodide and the wheels from npm and PyPI into the
cache of :mod:`tests.pyodide_runtime`; without the registries it skips, unless
``SSEA_REQUIRE_PYODIDE=1`` (``nox -s pyodide``) makes that a failure.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ssea_storage.secrets import new_master_key
from tests.pyodide_runtime import PYODIDE, Runtime, ready
from tests.test_dashboard_api import CATALOGUE, EVENTS
from tests.workers_double import JS_D1_DOUBLE, ORIGIN

pytestmark = pytest.mark.pyodide

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "examples" / "workers"
#: The day tests.test_dashboard_api's clock stands on; its events are moved so that
#: this day becomes yesterday (UTC) and its expected overview holds today.
DASHBOARD_DAY = date(2026, 3, 2)
NOBODY = "/v1/tenants/00000000-0000-0000-0000-000000000000/overview"


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return ready()


def _cli(master_key: str, *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "ssea_adapters.cli", *args, "--json"],
        env={**os.environ, "SSEA_MASTER_KEY": master_key},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def operator_rows(folder: Path, master_key: str) -> tuple[str, str, str]:
    """A tenant and a key made with the CLI on SQLite; their rows as SQL INSERTs."""
    url = f"sqlite:///{folder / 'ops.db'}"
    subprocess.run(
        [sys.executable, "-m", "ssea_adapters.cli", "db", "upgrade", "--db", url],
        env={**os.environ, "SSEA_MASTER_KEY": master_key},
        capture_output=True,
        timeout=120,
        check=True,
    )
    tenant = _cli(master_key, "tenants", "create", "--name", "Pyodide U", "--db", url)
    key = _cli(
        master_key, "keys", "create", "--tenant", tenant["tenant_id"], "--db", url
    )
    with sqlite3.connect(folder / "ops.db") as database:
        dump = list(database.iterdump())
    database.close()
    rows = [  # tenants first: api_keys refer to them
        line
        for table in ("tenants", "api_keys")
        for line in dump
        if line.startswith(f'INSERT INTO "{table}"')
    ]
    return tenant["tenant_id"], key["key"], "\n".join(rows)


def shifted(events: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    moved = []
    for event in events:
        at = datetime.fromisoformat(event["timestamp"]) + timedelta(days=days)
        moved.append({**event, "timestamp": at.isoformat().replace("+00:00", "Z")})
    return moved


def request(
    method: str, path: str, key: str | None = None, body: Any = None
) -> dict[str, Any]:
    headers = {"content-type": "application/json"} if body is not None else {}
    if key is not None:
        headers["x-ssea-key"] = key
    text = None if body is None else json.dumps(body)
    sent = {"method": method, "path": path, "headers": headers, "body": text}
    return {"request": sent}


def run_worker(
    runtime: Runtime, folder: Path, master_key: str, steps: list[dict[str, Any]]
) -> dict[str, Any]:
    """Run the steps through entry.py in Pyodide; the harness's report."""
    (folder / "d1double.mjs").write_text(JS_D1_DOUBLE)
    wrangler = tomllib.loads((WORKER / "wrangler.toml").read_text())
    config = {
        "pyodide": str(runtime.pyodide),
        "site": str(runtime.site),
        "src": str(ROOT / "src"),
        "entry": str(WORKER),
        "d1_double": str(folder / "d1double.mjs"),
        "origin": ORIGIN,
        "vars": {
            **wrangler["vars"],
            "SSEA_D1_MIGRATE": "true",
            "SSEA_MASTER_KEY": master_key,
        },
        "steps": steps,
    }
    (folder / "config.json").write_text(json.dumps(config))
    harness = ROOT / "tests" / "workers_pyodide.mjs"
    flags = ["--experimental-wasm-jspi", "--no-warnings"]
    result = subprocess.run(
        [runtime.node, *flags, harness, folder / "config.json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def envelope(answer: dict[str, Any], status: int, code: str) -> None:
    assert answer["status"] == status, answer["body"]
    assert answer["headers"]["content-type"] == "application/json"
    body = json.loads(answer["body"])
    assert (body["ok"], body["code"]) == (False, code), body
    assert answer["headers"]["x-content-type-options"] == "nosniff"


def test_entry_py_serves_in_real_pyodide(runtime: Runtime, tmp_path: Path) -> None:
    """Health, sync and ingest, an overview with the dashboard's known values, a 401
    and a 404, all answered by the real core in Pyodide through the real SDK."""
    master_key = new_master_key()
    tenant_id, key, rows = operator_rows(tmp_path, master_key)
    days = (datetime.now(UTC).date() - timedelta(days=1) - DASHBOARD_DAY).days
    prefix = f"/v1/tenants/{tenant_id}"
    steps = [
        request("GET", "/health"),  # opens the store: migrates D1 through the bridge
        {"d1_execute": rows},
        *(
            request("POST", f"/v1/sync/{entity}", key, {"items": items})
            for entity, items in CATALOGUE
        ),
        request("POST", "/v1/events/batch", key, {"events": shifted(EVENTS, days)}),
        request("GET", prefix + "/overview", key),
        request("GET", prefix + "/overview"),
        request("GET", "/v1/nowhere", key),
        request("GET", NOBODY, key),
    ]

    report = run_worker(runtime, tmp_path, master_key, steps)
    health, _, *synced, ingest, overview, anonymous, nowhere, other = report["answers"]

    assert (report["pyodide"], report["python"][:4]) == (PYODIDE, "3.14")
    assert report["workers_file"] == "/site/workers/__init__.py"
    assert report["ssea_core_file"] == "/src/ssea_core/__init__.py"
    assert report["cryptography"] is False
    assert all(answer["response_is_js"] for answer in report["answers"][2:])
    assert (health["status"], json.loads(health["body"])) == (
        200,
        {"ok": True, "data": {"status": "ok"}},
    )
    assert [answer["status"] for answer in synced] == [202] * len(CATALOGUE)
    assert ingest["status"] == 202, ingest["body"]
    assert json.loads(ingest["body"])["data"] == {
        "queued": len(EVENTS),
        "skipped": 0,
        "duplicates": 0,
        "errors": [],
    }
    assert overview["status"] == 200, overview["body"]
    assert json.loads(overview["body"]) == {
        "tenant_id": tenant_id,
        "period_days": 30,
        "total_events": 11,
        "active_users": 4,
        "total_sessions": 7,
        "avg_time_spent_mins": 10.5,
        "at_risk_count": 0,
    }
    envelope(anonymous, 401, "MISSING_CREDENTIAL")
    envelope(nowhere, 404, "NOT_FOUND")
    envelope(other, 403, "TENANT_MISMATCH")
