"""The ``ssea`` command line, run in a temporary working directory."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from ssea_adapters.asgi import create_app
from ssea_adapters.cli import cli
from ssea_core.settings import Settings
from ssea_storage.migrate import head_revision
from tests.conftest import MASTER_KEY, drop_postgres_schema
from tests.storage.test_migrations import postgres_schema_url

EVENT = {
    "event_type": "course_viewed",
    "user_id": 7,
    "course_id": 3,
    "timestamp": "2026-03-02T10:00:00Z",
}
PLAINTEXT_KEY = re.compile(r"ssea_[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory and no SSEA_* settings from the environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SSEA_"):
            monkeypatch.delenv(name)
    return tmp_path


def ssea(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def ssea_json(*args: str) -> Any:
    result = ssea(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def new_tenant(name: str = "Test U") -> str:
    return str(ssea_json("tenants", "create", "--name", name)["tenant_id"])


def new_key(tenant_id: str) -> dict[str, Any]:
    created: dict[str, Any] = ssea_json(
        "keys", "create", "--tenant", tenant_id, "--name", "plugin"
    )
    return created


def post_event(key: str) -> httpx.Response:
    """POST one event to the app serving the working directory's database."""

    async def post() -> httpx.Response:
        app = create_app(Settings())
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                return await client.post(
                    "/v1/events", json=EVENT, headers={"X-SSEA-Key": key}
                )
        finally:
            await app.aclose()

    return anyio.run(post)


def test_a_key_works_until_it_is_revoked(workdir: Path) -> None:
    tenant_id = new_tenant()
    created = new_key(tenant_id)
    listing = ssea("keys", "list", "--tenant", tenant_id)
    accepted = post_event(created["key"])

    revoked = ssea(
        "keys", "revoke", "--tenant", tenant_id, "--key-id", created["key_id"]
    )
    refused_after = post_event(created["key"])

    assert PLAINTEXT_KEY.fullmatch(created["key"])
    assert created["tenant_id"] == tenant_id
    assert listing.exit_code == 0
    assert created["key_id"] in listing.stdout
    assert PLAINTEXT_KEY.search(listing.output) is None
    assert accepted.status_code == 202, accepted.text
    assert revoked.exit_code == 0, revoked.output
    assert refused_after.status_code == 401
    assert refused_after.json()["code"] == "REVOKED_CREDENTIAL"
    assert (workdir / "ssea.db").exists()
    assert (workdir / "ssea-master.key").exists()


def test_json_outputs_are_one_object_each() -> None:
    tenant = ssea_json(
        "tenants",
        "create",
        "--name",
        "Uni",
        "--plan",
        "pro",
        "--timezone",
        "Europe/Madrid",
    )
    key = new_key(tenant["tenant_id"])
    keys = ssea_json("keys", "list", "--tenant", tenant["tenant_id"])
    tenants = ssea_json("tenants", "list")
    revoked = ssea_json(
        "keys", "revoke", "--tenant", tenant["tenant_id"], "--key-id", key["key_id"]
    )
    current = ssea_json("db", "current")

    assert tenant["plan"] == "pro"
    assert tenant["timezone"] == "Europe/Madrid"
    assert tenant["daily_event_cap"] == 100_000
    assert [row["tenant_id"] for row in tenants["tenants"]] == [tenant["tenant_id"]]
    assert [row["key_id"] for row in keys["keys"]] == [key["key_id"]]
    assert "key" not in keys["keys"][0]
    assert "key_hash" not in keys["keys"][0]
    assert revoked["key_id"] == key["key_id"]
    assert revoked["revoked_at"]
    assert current == {
        "database": "sqlite:///ssea.db",
        "revision": head_revision(),
        "head": head_revision(),
        "up_to_date": True,
    }


def test_a_key_expires_after_the_days_given() -> None:
    key = ssea_json("keys", "create", "--tenant", new_tenant(), "--expires-days", "30")

    assert key["expires_at"] > key["created_at"]


def test_the_master_key_is_a_fernet_key() -> None:
    master = ssea_json("keys", "master")["master_key"]

    assert Fernet(master).decrypt(Fernet(master).encrypt(b"x")) == b"x"


def test_db_upgrade_on_the_embedded_database() -> None:
    first = ssea_json("db", "upgrade")
    again = ssea_json("db", "upgrade")

    assert first["revision"] == again["revision"] == head_revision()
    assert again["up_to_date"] is True


def test_revoking_a_key_of_another_tenant_fails() -> None:
    owner, other = new_tenant("Owner"), new_tenant("Other")
    key = new_key(owner)

    result = ssea("keys", "revoke", "--tenant", other, "--key-id", key["key_id"])

    refused(result, "has no key")
    still = ssea_json("keys", "list", "--tenant", owner)["keys"][0]
    assert still["revoked_at"] is None


def test_revoking_an_unknown_key_fails() -> None:
    result = ssea("keys", "revoke", "--tenant", new_tenant(), "--key-id", "key_nope")

    refused(result, "has no key key_nope")


def test_an_unknown_tenant_fails() -> None:
    unknown = "00000000-0000-0000-0000-000000000000"

    refused(ssea("keys", "create", "--tenant", unknown), "No tenant")
    refused(ssea("keys", "list", "--tenant", unknown), "No tenant")


def test_an_error_with_json_prints_the_envelope() -> None:
    tenant_id = new_tenant()

    result = ssea("keys", "revoke", "--tenant", tenant_id, "--key-id", "x", "--json")

    refused(result, "has no key x")
    assert json.loads(result.stdout) == {
        "ok": False,
        "error": f"Tenant {tenant_id} has no key x.",
        "code": "NOT_FOUND",
    }


def test_a_bad_database_url_fails_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSEA_MASTER_KEY", MASTER_KEY)

    refused(ssea("tenants", "list", "--db", "nope"), "could not be opened")
    refused(ssea("db", "upgrade", "--db", "nope"), "could not be opened")


def test_bad_options_are_usage_errors() -> None:
    wrong_plan = ssea("tenants", "create", "--name", "x", "--plan", "gold")
    wrong_zone = ssea("tenants", "create", "--name", "x", "--timezone", "Mars/Base")

    assert wrong_plan.exit_code == wrong_zone.exit_code == 2
    assert "unknown time zone" in wrong_zone.stderr


def _command_paths(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _command_paths(command, (*path, name))


def test_help_texts_show_no_markup() -> None:
    paths = list(_command_paths(cli))
    assert ("openapi",) in paths
    assert ("db", "upgrade") in paths

    for path in paths:
        result = ssea(*path, "--help")
        assert result.exit_code == 0, result.output
        assert "``" not in result.stdout, path


def test_an_unreachable_database_fails_cleanly() -> None:
    result = ssea("db", "current", "--db", "postgresql://127.0.0.1:1/none")

    refused(result, "unreachable")


def test_serve_without_uvicorn_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)

    refused(ssea("serve"), 'pip install "ssea[server]"')


# -- PostgreSQL ---------------------------------------------------------------------


@pytest.fixture
def postgres_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SSEA_MASTER_KEY", MASTER_KEY)
    schema = f"ssea_cli_{os.getpid()}"
    yield postgres_schema_url(schema)
    drop_postgres_schema(schema)


@pytest.mark.postgres
def test_a_server_database_must_be_upgraded_first(postgres_url: str) -> None:
    before = ssea("tenants", "list", "--db", postgres_url)
    serve = ssea("serve", "--db", postgres_url)
    upgraded = ssea_json("db", "upgrade", "--db", postgres_url)
    current = ssea_json("db", "current", "--db", postgres_url)
    tenant = ssea_json("tenants", "create", "--name", "PG U", "--db", postgres_url)

    refused(before, "ssea db upgrade")
    refused(serve, "ssea db upgrade")
    assert upgraded["revision"] == current["revision"] == head_revision()
    assert current["up_to_date"] is True
    assert tenant["name"] == "PG U"


@pytest.mark.postgres
def test_the_database_url_comes_from_the_environment(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSEA_DATABASE_URL", postgres_url)

    upgraded = ssea_json("db", "upgrade")

    assert upgraded["database"].startswith("postgresql")
    assert not Path("ssea.db").exists()
