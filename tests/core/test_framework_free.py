"""The core is framework-free (STYLE): importing it brings no web framework, no
database driver, no object-storage client.

Checked in a fresh interpreter, so that what other tests imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Top-level modules the core must never pull in. fsspec is here too: the core only
#: knows the artifact store as a Protocol; its fsspec implementation lives outside.
FORBIDDEN = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "sqlite3",
        "_sqlite3",
        "psycopg",
        "psycopg2",
        "psycopg_binary",
        "asyncpg",
        "aiosqlite",
        "pymysql",
        "MySQLdb",
        "fsspec",
        "s3fs",
        "botocore",
        "boto3",
        "aiobotocore",
        "uvicorn",
        "starlette",
        "fastapi",
        "flask",
        "django",
        "werkzeug",
        "httpx",
        "httpcore",
        "requests",
        "aiohttp",
    }
)

_PROBE = """
import importlib, json, pkgutil, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
import ssea_core
names = [ssea_core.__name__]
for info in pkgutil.walk_packages(ssea_core.__path__, "ssea_core."):
    importlib.import_module(info.name)
    names.append(info.name)
tops = sorted({module.split(".")[0] for module in sys.modules})
print(json.dumps({"core": names, "loaded": tops}))
"""


def probe(*also_import: str) -> dict[str, list[str]]:
    """Import all of ``ssea_core`` (after ``also_import``) in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *also_import],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, list[str]] = json.loads(done.stdout)
    return found


@pytest.fixture(scope="module")
def core_only() -> dict[str, list[str]]:
    return probe()


def test_every_core_module_is_imported(core_only: dict[str, list[str]]) -> None:
    # A walk that found nothing would make the next test pass vacuously.
    assert {"ssea_core.app", "ssea_core.ingest.service"} <= set(core_only["core"])
    assert "ssea_core.api.ingest" in core_only["core"]


def test_importing_the_core_brings_no_framework_driver_or_storage(
    core_only: dict[str, list[str]],
) -> None:
    assert sorted(FORBIDDEN & set(core_only["loaded"])) == []


def test_the_probe_sees_a_driver_when_one_is_imported() -> None:
    # The storage package uses SQLAlchemy: the same probe must notice it.
    loaded = set(probe("ssea_storage.sql.store")["loaded"])

    assert "sqlalchemy" in FORBIDDEN & loaded
