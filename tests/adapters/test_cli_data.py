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


def test_the_import_summary_reads_as_reason_count_lists(workdir: Path) -> None:
    (workdir / "log.csv").write_bytes(LOG.encode())
    tenant = ssea_json("tenants", "create", "--name", "Import U")["tenant_id"]

    result = CliRunner().invoke(
        cli, ["import", "moodle-logs", "log.csv", "--tenant", tenant]
    )

    assert result.exit_code == 0, result.output
    lines = {
        line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines()
    }
    assert lines["excluded"] == "origin_cli: 1"
    assert lines["skipped"] == "no_user_id: 1"
    assert lines["notes"] == "-"


def test_site_course_id_makes_that_course_site_level(workdir: Path) -> None:
    (workdir / "log.csv").write_bytes(LOG.encode())
    courses = {}
    for site_course in ("1", "7"):
        tenant = ssea_json("tenants", "create", "--name", f"Site {site_course}")
        tenant_id = tenant["tenant_id"]
        ssea_json(
            "import",
            "moodle-logs",
            "log.csv",
            "--tenant",
            tenant_id,
            "--site-course-id",
            site_course,
        )
        key = ssea_json("keys", "create", "--tenant", tenant_id)["key"]
        path = f"/v1/tenants/{tenant_id}/courses?from=2026-03-02&to=2026-03-02"
        courses[site_course] = anyio.run(read, path, key)

    assert [course["course_id"] for course in courses["1"]] == ["7"]
    assert courses["7"] == []


def test_site_course_id_is_refused_for_oulad(workdir: Path) -> None:
    tenant = ssea_json("tenants", "create", "--name", "OU")["tenant_id"]
    result = CliRunner().invoke(
        cli,
        ["import", "oulad", str(workdir), "--tenant", tenant, "--site-course-id", "1"],
    )

    assert result.exit_code == 2
    assert "--site-course-id applies to" in result.stderr


@pytest.mark.parametrize("kind", ["logstore", "xapi", "oulad"])
def test_timezone_is_refused_where_times_are_not_local(
    workdir: Path, kind: str
) -> None:
    tenant = ssea_json("tenants", "create", "--name", "TZ")["tenant_id"]
    result = CliRunner().invoke(
        cli,
        [
            "import",
            kind,
            str(workdir),
            "--tenant",
            tenant,
            "--timezone",
            "Europe/Madrid",
        ],
    )

    assert result.exit_code == 2
    assert "--timezone applies to moodle-logs imports only" in result.stderr


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


def test_demo_run_again_says_its_term_options_are_ignored() -> None:
    shape = ["--students", "5", "--courses", "1", "--weeks", "1"]
    ssea_json("demo", "--no-serve", *shape)

    same = CliRunner().invoke(cli, ["demo", "--no-serve"])
    other = CliRunner().invoke(cli, ["demo", "--no-serve", "--students", "9"])

    assert same.exit_code == other.exit_code == 0, other.output
    assert "delete ssea.db or pass another --db" in same.stdout
    assert "Ignored" not in same.stderr
    assert "Ignored --students: the demo term is already loaded" in other.stderr
    assert "delete ssea.db or pass another --db" in other.stderr
