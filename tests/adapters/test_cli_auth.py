"""The CLI for auth: `tenants rotate-secret`, `tenants configure`, `viewer sign`."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ssea_adapters.asgi import create_app
from ssea_core.settings import Settings
from tests.adapters.test_cli import new_tenant, refused, ssea, ssea_json
from tests.conftest import JWT_SECRET
from tests.log_guard import remember


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory and no SSEA_* settings from the environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SSEA_"):
            monkeypatch.delenv(name)
    return tmp_path


def request(method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to the app serving the working directory's database."""

    async def send() -> httpx.Response:
        app = create_app(Settings(jwt_secrets=[JWT_SECRET]))
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                return await client.request(method, path, **kwargs)
        finally:
            await app.aclose()

    return anyio.run(send)


def plugin_token(tenant_id: str, secret: str | bytes, **extra: Any) -> str:
    now = int(time.time())
    claims = {
        "tenant_id": tenant_id,
        "moodle_user_id": "42",
        "role": "student",
        "iat": now,
        "exp": now + 60,
        "jti": f"cli-{now}-{len(extra)}",
        **extra,
    }
    algorithm = "RS256" if not isinstance(secret, str | bytes) else "HS256"
    token = jwt.encode(claims, secret, algorithm=algorithm)
    remember(token)
    return token


def sso(token: str) -> httpx.Response:
    answer = request("POST", "/v1/auth/sso", json={"token": token})
    if answer.status_code == 200:
        remember(answer.json()["data"]["token"])
    return answer


def rotate(tenant_id: str, kind: str, *grace: str) -> dict[str, Any]:
    payload: dict[str, Any] = ssea_json(
        "tenants", "rotate-secret", "--tenant", tenant_id, "--kind", kind, *grace
    )
    remember(payload["secret"])
    return payload


def test_a_rotated_sso_secret_is_shown_once_and_signs_sso_tokens() -> None:
    tenant_id = new_tenant()

    first = rotate(tenant_id, "sso", "--grace-hours", "0")
    second = rotate(tenant_id, "sso")

    assert first["secret"] != second["secret"]
    assert len(second["secret"]) >= 32
    assert sso(plugin_token(tenant_id, second["secret"])).status_code == 200
    assert sso(plugin_token(tenant_id, first["secret"], n=1)).status_code == 200
    listing = ssea("tenants", "list")
    assert second["secret"] not in listing.output


def test_rotating_with_no_grace_drops_the_old_secret_at_once() -> None:
    tenant_id = new_tenant()
    old = rotate(tenant_id, "sso", "--grace-hours", "0")
    rotate(tenant_id, "sso", "--grace-hours", "0")

    answer = sso(plugin_token(tenant_id, old["secret"]))

    assert answer.status_code == 401
    assert answer.json()["code"] == "INVALID_SIGNATURE"


def test_viewer_sign_prints_headers_the_service_accepts() -> None:
    tenant_id = new_tenant()
    rotate(tenant_id, "viewer", "--grace-hours", "0")

    signed = ssea_json(
        "viewer", "sign", "--tenant", tenant_id, "--role", "student", "--user", "42"
    )
    remember(signed["headers"]["X-SSEA-Viewer-Signature"])
    answer = request(
        "GET",
        f"/v1/tenants/{tenant_id}/viewer/student/42/progress",
        headers=signed["headers"],
    )

    # Authenticated and allowed; user 42 is simply not in the catalogue yet.
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "NOT_FOUND"
    text = ssea(
        "viewer", "sign", "--tenant", tenant_id, "--role", "teacher", "--user", "7"
    )
    assert text.exit_code == 0
    assert text.stdout.startswith("X-SSEA-Viewer-Context: ")


def test_viewer_sign_refuses_bad_input() -> None:
    tenant_id = new_tenant()
    missing = "00000000-0000-4000-8000-000000000000"

    refused(
        ssea("viewer", "sign", "--tenant", missing, "--role", "student", "--user", "1"),
        "No tenant",
    )
    too_long = ssea(
        "viewer",
        "sign",
        "--tenant",
        tenant_id,
        "--role",
        "student",
        "--user",
        "1",
        "--ttl",
        "3601",
    )
    assert too_long.exit_code == 2
    admin = ssea(
        "viewer", "sign", "--tenant", tenant_id, "--role", "admin", "--user", "1"
    )
    assert admin.exit_code == 2


def test_configure_sets_the_moodle_origin_and_an_sso_public_key(
    workdir: Path,
) -> None:
    tenant_id = new_tenant()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = workdir / "plugin.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )

    configured = ssea_json(
        "tenants",
        "configure",
        "--tenant",
        tenant_id,
        "--moodle-origin",
        "https://Moodle.example.edu/",
        "--sso-public-key",
        str(pem),
        "--sso-algorithm",
        "RS256",
    )

    assert configured == {
        "tenant_id": tenant_id,
        "moodle_origin": "https://moodle.example.edu",
        "sso_key_algorithm": "RS256",
    }
    assert sso(plugin_token(tenant_id, key)).status_code == 200
    secret = rotate(tenant_id, "sso")["secret"]
    shared = sso(plugin_token(tenant_id, secret))
    assert shared.json()["code"] == "DISALLOWED_ALGORITHM"


def test_configure_refuses_bad_keys_and_origins(workdir: Path) -> None:
    tenant_id = new_tenant()
    junk = workdir / "junk.pem"
    junk.write_text("not a key")

    bad_key = ssea(
        "tenants",
        "configure",
        "--tenant",
        tenant_id,
        "--sso-public-key",
        str(junk),
        "--sso-algorithm",
        "EdDSA",
    )
    alone = ssea(
        "tenants", "configure", "--tenant", tenant_id, "--sso-algorithm", "RS256"
    )
    origin = ssea(
        "tenants", "configure", "--tenant", tenant_id, "--moodle-origin", "http://x.y"
    )

    assert bad_key.exit_code == 2
    assert "not a PEM public key" in bad_key.output
    assert alone.exit_code == 2
    assert origin.exit_code == 2
