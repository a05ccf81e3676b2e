"""entry.py outside Cloudflare: the Worker as it is, on local doubles of its runtime.

    python examples/workers/locally.py           # prints what the Worker answers
    python examples/workers/locally.py --check   # asserts the answers, exits 0

A Python Worker needs Cloudflare's runtime (``uv run pywrangler dev`` runs it on
your machine). Without it, this script loads entry.py unchanged on the test suite's
doubles of that runtime, tests/workers_double.py, so it needs a checkout of the
repository: the ``workers`` SDK, Pyodide's ``run_sync`` and ``to_js``, the D1
database as a temporary sqlite3 file and the R2 bucket in memory. The env is that of
wrangler.toml (binding names, vars) with a new master key as the secret and
``SSEA_D1_MIGRATE = "true"``, so the first request migrates D1 as a first deploy
does; then the cron trigger ticks once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import runpy
import sqlite3
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any
from unittest.mock import patch

from ssea_storage.secrets import new_master_key

HERE = Path(__file__).resolve().parent
NOBODY = "/v1/tenants/00000000-0000-0000-0000-000000000000/overview"


def worker_env(double: Any, folder: str) -> Any:
    """The Worker's env as wrangler.toml declares it, on the doubles."""
    config = tomllib.loads((HERE / "wrangler.toml").read_text())
    bindings = {
        config["d1_databases"][0]["binding"]: double.D1Database(f"{folder}/d1.db"),
        config["r2_buckets"][0]["binding"]: double.R2Bucket(),
    }
    values = {**config["vars"], "SSEA_D1_MIGRATE": "true"}
    return double.Env(**bindings, **values, SSEA_MASTER_KEY=new_master_key())


async def visit(double: Any, env: Any) -> list[tuple[str, int, Any]]:
    """Load entry.py as Workers does; send it two requests, then a cron tick."""
    default = runpy.run_path(str(HERE / "entry.py"))["Default"]
    client = double.WorkersClient(default, env)
    answers = []
    for path in ("/health", NOBODY):
        answer = await client.get(path)
        answers.append((path, answer.status, answer.json()))
    await default(object(), env).scheduled(object())
    return answers


def check(answers: list[tuple[str, int, Any]], database: sqlite3.Connection) -> None:
    (_, status, health), (_, refused, envelope) = answers
    assert (status, health) == (200, {"ok": True, "data": {"status": "ok"}}), health
    assert (refused, envelope["code"]) == (401, "MISSING_CREDENTIAL"), envelope
    [(revision,)] = database.execute("SELECT version_num FROM alembic_version")
    assert revision, "D1 was not migrated"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="assert, exit 0")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from _check import workers_double

    double = workers_double()
    with (
        tempfile.TemporaryDirectory() as folder,
        patch.dict(sys.modules, double.runtime_modules()),
    ):
        env = worker_env(double, folder)
        answers = asyncio.run(visit(double, env))
        if args.check:
            check(answers, env.DB.sqlite)
        env.DB.sqlite.close()
    if args.check:
        print("workers: ok")
    else:
        for path, status, body in answers:
            print(f"GET {path} -> {status} {json.dumps(body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
