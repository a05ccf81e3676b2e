"""Session JWTs and the SSO exchange through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import func, select

from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_core.settings import Settings
from ssea_storage.sql.schema import sso_jtis, tenants
from ssea_storage.sql.store import SqlStore
from tests.auth_support import (
    bearer,
    forged,
    plugin_claims,
    session_token,
    signed,
    tenant_secret,
)
from tests.conftest import MASTER_KEY, make_key, make_tenant
from tests.log_guard import remember
from tests.support import Answer, ApiClient

ENROLMENTS = [
    {"user_id": "t1", "course_id": "c1", "role": "editingteacher"},
    {"user_id": "t1", "course_id": "c2", "role": "teacher"},
    {"user_id": "t1", "course_id": "c3", "role": "teacher", "status": "suspended"},
    {"user_id": "t1", "course_id": "c4", "role": "student"},
    {"user_id": "u1", "course_id": "c1", "role": "student"},
]


def assert_error(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    body = answer.json()
    assert (body["ok"], body["code"]) == (False, code)


@pytest.fixture
async def sso_secret(store: SqlStore, tenant: TenantRecord, clock: FixedClock) -> bytes:
    return await tenant_secret(store, tenant.tenant_id, "sso", clock.now())


async def exchange(anonymous: ApiClient, token: str) -> Answer:
    answer = await anonymous.post("/v1/auth/sso", json_body={"token": token})
    if answer.status == 200:
        remember(answer.json()["data"]["token"])
    return answer


async def test_sso_exchange_mints_a_session(
    anonymous: ApiClient,
    tenant: TenantRecord,
    clock: FixedClock,
    sso_secret: bytes,
) -> None:
    token = signed(
        plugin_claims(tenant.tenant_id, clock.now(), role="admin"), sso_secret
    )

    answer = await exchange(anonymous, token)

    assert answer.status == 200, answer.body
    data = answer.json()["data"]
    assert answer.json()["ok"] is True
    assert data["tenant_id"] == str(tenant.tenant_id)
    assert data["expires_at"] == "2026-03-02T13:00:00Z"
    overview = await anonymous.get(
        f"/v1/tenants/{tenant.tenant_id}/overview", headers=bearer(data["token"])
    )
    assert overview.status == 200, overview.body


async def test_a_teachers_session_lists_the_courses_they_teach_now(
    anonymous: ApiClient,
    client: ApiClient,
    tenant: TenantRecord,
    clock: FixedClock,
    sso_secret: bytes,
) -> None:
    synced = await client.post("/v1/sync/enrolments", json_body={"items": ENROLMENTS})
    assert synced.status == 202
    claims = plugin_claims(tenant.tenant_id, clock.now(), user="t1", role="teacher")

    answer = await exchange(anonymous, signed(claims, sso_secret))

    import jwt

    minted = jwt.decode(
        answer.json()["data"]["token"], options={"verify_signature": False}
    )
    assert minted["course_ids"] == ["c1", "c2"]
    assert (minted["role"], minted["moodle_user_id"], minted["sub"]) == (
        "teacher",
        "t1",
        "t1",
    )
    assert minted["iss"] == "ssea"
    assert minted["exp"] - minted["iat"] == 3600


async def test_each_jti_is_accepted_once(
    anonymous: ApiClient, tenant: TenantRecord, clock: FixedClock, sso_secret: bytes
) -> None:
    token = signed(plugin_claims(tenant.tenant_id, clock.now()), sso_secret)

    assert (await exchange(anonymous, token)).status == 200
    assert_error(await exchange(anonymous, token), 401, "TOKEN_REPLAYED")


async def test_used_jtis_are_forgotten_once_expired(
    anonymous: ApiClient,
    tenant: TenantRecord,
    clock: FixedClock,
    sso_secret: bytes,
    store: SqlStore,
) -> None:
    for _ in range(3):
        token = signed(plugin_claims(tenant.tenant_id, clock.now()), sso_secret)
        assert (await exchange(anonymous, token)).status == 200
    clock.advance(minutes=10)
    fresh = signed(plugin_claims(tenant.tenant_id, clock.now()), sso_secret)
    assert (await exchange(anonymous, fresh)).status == 200

    count = select(func.count()).where(sso_jtis.c.tenant_id == tenant.tenant_id)
    with store.engine.connect() as connection:
        assert connection.execute(count).scalar_one() == 1


@pytest.mark.parametrize(
    ("issued", "lifetime", "role", "code"),
    [
        (0, 301, "student", "TOKEN_TOO_LONG_LIVED"),
        (-600, 120, "student", "EXPIRED_CREDENTIAL"),
        (300, 120, "student", "NOT_YET_VALID"),
        (0, 120, "dean", "INVALID_CREDENTIAL"),
    ],
)
async def test_refused_plugin_tokens(
    anonymous: ApiClient,
    tenant: TenantRecord,
    clock: FixedClock,
    sso_secret: bytes,
    issued: int,
    lifetime: int,
    role: str,
    code: str,
) -> None:
    at = clock.now() + timedelta(seconds=issued)
    claims = plugin_claims(tenant.tenant_id, at, lifetime=lifetime, role=role)

    assert_error(await exchange(anonymous, signed(claims, sso_secret)), 401, code)


async def test_a_token_signed_with_another_secret_is_refused(
    anonymous: ApiClient, tenant: TenantRecord, clock: FixedClock, sso_secret: bytes
) -> None:
    token = signed(plugin_claims(tenant.tenant_id, clock.now()), b"x" * 32)

    assert_error(await exchange(anonymous, token), 401, "INVALID_SIGNATURE")


async def test_an_unknown_or_inactive_tenant_is_refused(
    anonymous: ApiClient,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
    sso_secret: bytes,
) -> None:
    from uuid import uuid4

    unknown = signed(plugin_claims(uuid4(), clock.now()), sso_secret)
    assert_error(await exchange(anonymous, unknown), 401, "INVALID_CREDENTIAL")

    with store.engine.begin() as connection:
        connection.execute(
            tenants.update()
            .where(tenants.c.tenant_id == tenant.tenant_id)
            .values(active=False)
        )
    token = signed(plugin_claims(tenant.tenant_id, clock.now()), sso_secret)
    assert_error(await exchange(anonymous, token), 401, "INVALID_CREDENTIAL")


async def test_the_previous_sso_secret_works_during_the_grace_period(
    anonymous: ApiClient, store: SqlStore, tenant: TenantRecord, clock: FixedClock
) -> None:
    access = store.for_tenant(tenant.tenant_id).access()
    old = await access.rotate_secret("sso", now=clock.now(), grace=timedelta(0))
    new = await access.rotate_secret("sso", now=clock.now(), grace=timedelta(hours=24))
    remember(old, new)

    for secret in (new, old):
        token = signed(plugin_claims(tenant.tenant_id, clock.now()), secret)
        assert (await exchange(anonymous, token)).status == 200
    clock.advance(hours=24, seconds=1)
    late = signed(plugin_claims(tenant.tenant_id, clock.now()), old)
    assert_error(await exchange(anonymous, late), 401, "INVALID_SIGNATURE")


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
async def test_a_tenant_may_verify_sso_with_a_public_key(
    anonymous: ApiClient,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
    algorithm: str,
) -> None:
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    access = store.for_tenant(tenant.tenant_id).access()
    await access.set_sso_public_key(pem.decode(), algorithm)  # type: ignore[arg-type]
    claims = plugin_claims(tenant.tenant_id, clock.now())

    good = signed(claims, private, algorithm=algorithm)
    assert (await exchange(anonymous, good)).status == 200
    confused = forged(
        plugin_claims(tenant.tenant_id, clock.now()), pem, {"alg": "HS256"}
    )
    assert_error(await exchange(anonymous, confused), 401, "DISALLOWED_ALGORITHM")


@pytest.mark.parametrize(
    "body", [{}, {"token": ""}, {"token": 5}, {"token": "x", "extra": 1}]
)
async def test_a_bad_body_is_422(anonymous: ApiClient, body: dict[str, Any]) -> None:
    answer = await anonymous.post("/v1/auth/sso", json_body=body)

    assert_error(answer, 422, "VALIDATION_FAILED")


async def test_garbage_tokens_are_401(anonymous: ApiClient) -> None:
    for token in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
        answer = await exchange(anonymous, token)
        assert answer.status == 401, answer.body


async def test_without_session_secrets_sso_and_bearer_are_503(
    store: SqlStore, tenant: TenantRecord, clock: FixedClock, sso_secret: bytes
) -> None:
    bare = SseaApp(
        store, Settings(database_url="sqlite://", master_key=MASTER_KEY), clock=clock
    )
    client = ApiClient(bare)
    token = signed(plugin_claims(tenant.tenant_id, clock.now()), sso_secret)

    answer = await client.post("/v1/auth/sso", json_body={"token": token})
    assert_error(answer, 503, "MISCONFIGURED")
    assert answer.json()["error"] == (
        "Session tokens are not configured: set SSEA_JWT_SECRETS."
    )
    read = await client.get(
        f"/v1/tenants/{tenant.tenant_id}/overview", headers=bearer("a.b.c")
    )
    assert_error(read, 503, "MISCONFIGURED")


# -- session tokens on the dashboard ---------------------------------------------------


async def test_session_tokens_of_every_kind_of_failure_are_401(
    anonymous: ApiClient, tenant: TenantRecord, clock: FixedClock, settings: Settings
) -> None:
    path = f"/v1/tenants/{tenant.tenant_id}/overview"
    good = session_token(settings, clock.now(), tenant.tenant_id, "manager", "m1")
    other_secret = Settings(jwt_secrets=["y" * 40])
    cases = {
        "EXPIRED_CREDENTIAL": session_token(
            settings,
            clock.now() - timedelta(hours=2),
            tenant.tenant_id,
            "manager",
            "m1",
        ),
        "INVALID_SIGNATURE": session_token(
            other_secret, clock.now(), tenant.tenant_id, "manager", "m1"
        ),
        "INVALID_CREDENTIAL": good[:-4] + "@@@@",
        "DISALLOWED_ALGORITHM": forged(
            {"sub": "x"}, b"k" * 32, {"alg": "none", "typ": "JWT"}
        ),
    }
    assert (await anonymous.get(path, headers=bearer(good))).status == 200
    for code, token in cases.items():
        assert_error(await anonymous.get(path, headers=bearer(token)), 401, code)
    basic = await anonymous.get(path, headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert_error(basic, 401, "INVALID_CREDENTIAL")


async def test_rotated_session_secrets_keep_old_sessions_valid(
    store: SqlStore, tenant: TenantRecord, clock: FixedClock, settings: Settings
) -> None:
    old = session_token(settings, clock.now(), tenant.tenant_id, "manager", "m1")
    new_secret = "n" * 40
    remember(new_secret)
    rotated = Settings(
        database_url="sqlite://",
        master_key=MASTER_KEY,
        jwt_secrets=[new_secret, settings.jwt_secrets[0].get_secret_value()],
    )
    client = ApiClient(SseaApp(store, rotated, clock=clock))

    answer = await client.get(
        f"/v1/tenants/{tenant.tenant_id}/overview", headers=bearer(old)
    )
    assert answer.status == 200, answer.body


async def test_two_credentials_at_once_are_refused(
    app: SseaApp,
    api_key: str,
    tenant: TenantRecord,
    clock: FixedClock,
    settings: Settings,
) -> None:
    token = session_token(settings, clock.now(), tenant.tenant_id, "admin")
    client = ApiClient(app, {"X-SSEA-Key": api_key, **bearer(token)})

    answer = await client.get(f"/v1/tenants/{tenant.tenant_id}/overview")

    assert_error(answer, 401, "AMBIGUOUS_CREDENTIAL")


async def test_an_inactive_tenants_sessions_stop_at_once(
    anonymous: ApiClient,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
    settings: Settings,
) -> None:
    token = session_token(settings, clock.now(), tenant.tenant_id, "admin")
    with store.engine.begin() as connection:
        connection.execute(
            tenants.update()
            .where(tenants.c.tenant_id == tenant.tenant_id)
            .values(active=False)
        )

    answer = await anonymous.get(
        f"/v1/tenants/{tenant.tenant_id}/overview", headers=bearer(token)
    )

    assert_error(answer, 401, "INVALID_CREDENTIAL")


async def test_a_session_of_another_tenant_is_403(
    anonymous: ApiClient,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
    settings: Settings,
) -> None:
    other = await make_tenant(store, clock, name="Other U")
    await make_key(store, clock, other)
    token = session_token(settings, clock.now(), other.tenant_id, "admin")

    answer = await anonymous.get(
        f"/v1/tenants/{tenant.tenant_id}/overview", headers=bearer(token)
    )

    assert_error(answer, 403, "TENANT_MISMATCH")
