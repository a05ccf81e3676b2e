"""``ssea import`` and ``ssea demo``: data in from the shell, then read back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner

from ssea_adapters.asgi import create_app
from ssea_adapters.cli import cli
from ssea_core.settings import Settings

LOG = (
    "\ufeffTime,User full name,Affected user,Event context,Component,Event name,"
    "Description,Origin,IP address\r\n"
    '"2/03/26, 10:05",-,-,"Course: Chemistry",System,Course viewed,'
    "\"The user with id '41' viewed the course with id '7'.\",web,10.0.0.1\r\n"
    '"2/03/26, 10:01",-,-,"Course: Chemistry",System,Course viewed,'
    "\"The user with id '42' viewed the course with id '7'.\",web,10.0.0.2\r\n"
    '"2/03/26, 09:58",-,-,"Course: Chemistry",System,Course viewed,'
    "\"The user with id '42' viewed the course with id '7'.\",cli,\r\n"
    '"2/03/26, 09:50",-,-,System,System,Dashboard viewed,'
    '"Somebody viewed the dashboard.",web,10.0.0.3\r\n'
)


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SSEA_"):
            monkeypatch.delenv(name)
    return tmp_path


def ssea_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def read(path: str, key: str) -> Any:
    settings = Settings(master_key_file=Path("ssea-master.key"))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get(path, headers={"X-SSEA-Key": key})
    await app.aclose()
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_import_counts_every_row_and_a_second_import_stores_nothing(
    workdir: Path,
) -> None:
    (workdir / "log.csv").write_bytes(LOG.encode())
    tenant = ssea_json("tenants", "create", "--name", "Import U")["tenant_id"]

    first = ssea_json("import", "moodle-logs", "log.csv", "--tenant", tenant)
    second = ssea_json("import", "moodle-logs", "log.csv", "--tenant", tenant)

    assert first["rows_read"] == 4
    assert first["stored"] == 3
    assert first["skipped"] == {"no_user_id": 1}
    assert first["excluded"] == {"origin_cli": 1}
    assert (second["stored"], second["duplicates"]) == (0, 3)


def test_import_refuses_an_unknown_tenant(workdir: Path) -> None:
    (workdir / "log.csv").write_bytes(LOG.encode())
    result = CliRunner().invoke(
        cli,
        [
            "import",
            "moodle-logs",
            "log.csv",
            "--tenant",
            "0" * 8 + "-0000-0000-0000-" + "0" * 12,
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_demo_loads_a_term_once_and_its_key_reads_it() -> None:
    options = [
        "demo",
        "--no-serve",
        "--students",
        "12",
        "--courses",
        "2",
        "--weeks",
        "2",
    ]
    first = ssea_json(*options)
    again = ssea_json(*options)

    assert first["events_stored"] == first["events"] > 0
    assert again["already_loaded"] is True
    assert again["tenant_id"] == first["tenant_id"]
    assert len(first["curl"]) == 3

    overview = anyio.run(
        read, f"/v1/tenants/{first['tenant_id']}/overview?days=30", again["api_key"]
    )
    assert overview["tenant_id"] == first["tenant_id"]
    assert 0 < overview["total_events"] <= first["events_stored"]
