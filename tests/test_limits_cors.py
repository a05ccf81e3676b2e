"""Rate limits, CORS, security headers and misconfiguration, as every adapter gets them.

The Redis test uses the server at 127.0.0.1:6379 (``SSEA_TEST_REDIS_URL``); it skips
when none answers, except in CI (``CI`` or ``SSEA_REQUIRE_POSTGRES``), like PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_core.settings import Settings
from ssea_storage.secrets import SecretBox, new_master_key
from ssea_storage.sql.store import SqlStore
from tests.auth_support import plugin_claims, signed, tenant_secret
from tests.conftest import JWT_SECRET, MASTER_KEY, REQUIRE_POSTGRES
from tests.support import ApiClient

REDIS_URL = os.environ.get("SSEA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DASHBOARD = "https://dashboard.example.edu"


def make_settings(**changes: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": "sqlite://",
        "master_key": MASTER_KEY,
        "jwt_secrets": [JWT_SECRET],
    }
    return Settings(**{**base, **changes})


@pytest.fixture
async def apps(store: SqlStore, clock: FixedClock) -> AsyncIterator[list[SseaApp]]:
    """Apps a test makes; their limiters are closed at the end."""
    made: list[SseaApp] = []
    yield made
    for app in made:
        await app.aclose()


def app_with(
    apps: list[SseaApp], store: SqlStore, clock: FixedClock, **changes: Any
) -> SseaApp:
    app = SseaApp(store, make_settings(**changes), clock=clock)
    apps.append(app)
    return app


def overview(tenant: TenantRecord) -> str:
    return f"/v1/tenants/{tenant.tenant_id}/overview"


# -- rate limits -----------------------------------------------------------------------


async def test_a_credential_over_its_rate_gets_429_with_headers(
    apps: list[SseaApp],
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    api_key: str,
) -> None:
    client = ApiClient(
        app_with(apps, store, clock, rate_limit="3/minute"), {"X-SSEA-Key": api_key}
    )

    answers = [await client.get(overview(tenant)) for _ in range(4)]

    assert [answer.status for answer in answers] == [200, 200, 200, 429]
    assert [answer.headers["x-ratelimit-remaining"] for answer in answers] == [
        "2",
        "1",
        "0",
        "0",
    ]
    refused = answers[-1]
    assert refused.headers["x-ratelimit-limit"] == "3"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert 0 <= int(refused.headers["x-ratelimit-reset"]) <= 60
    assert refused.json()["code"] == "RATE_LIMITED"


async def test_ingestion_has_a_rate_of_its_own(
    apps: list[SseaApp],
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    api_key: str,
) -> None:
    app = app_with(
        apps, store, clock, rate_limit="1/minute", rate_limit_ingest="3/minute"
    )
    client = ApiClient(app, {"X-SSEA-Key": api_key})
    event = {
        "event_type": "user_login",
        "user_id": "1",
        "timestamp": "2026-03-01T10:00:00Z",
    }

    posts = [await client.post("/v1/events", json_body=event) for _ in range(3)]
    reads = [await client.get(overview(tenant)) for _ in range(2)]

    assert [answer.status for answer in posts] == [202, 202, 202]
    assert posts[0].headers["x-ratelimit-limit"] == "3"
    assert [answer.status for answer in reads] == [200, 429]


async def test_public_routes_are_limited_per_client_and_health_never(
    apps: list[SseaApp], store: SqlStore, clock: FixedClock
) -> None:
    client = ApiClient(app_with(apps, store, clock, rate_limit_public="2/minute"))

    branding = [await client.get("/v1/branding") for _ in range(3)]
    health = [await client.get("/health") for _ in range(5)]

    assert [answer.status for answer in branding] == [404, 404, 429]
    assert {answer.status for answer in health} == {200}
    assert "x-ratelimit-limit" not in health[0].headers


async def test_failed_authentications_are_limited_apart_from_public_calls(
    apps: list[SseaApp], store: SqlStore, clock: FixedClock, tenant: TenantRecord
) -> None:
    client = ApiClient(app_with(apps, store, clock, rate_limit_public="2/minute"))
    guess = {"X-SSEA-Key": "ssea_" + "1" * 32}

    guesses = [await client.get(overview(tenant), headers=guess) for _ in range(3)]
    public = await client.get("/v1/branding")

    assert [answer.status for answer in guesses] == [401, 401, 429]
    assert public.status == 404  # not starved by the guesses


def _redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), 1
        ):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not _redis_reachable(REDIS_URL):
        message = f"Redis at {REDIS_URL} is unreachable"
        if REQUIRE_POSTGRES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return REDIS_URL


async def test_two_instances_share_one_limit_through_redis(
    apps: list[SseaApp],
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    api_key: str,
    redis_url: str,
) -> None:
    shared = {"rate_limit": "3/minute", "rate_limit_storage": redis_url}
    first = ApiClient(app_with(apps, store, clock, **shared), {"X-SSEA-Key": api_key})
    second = ApiClient(app_with(apps, store, clock, **shared), {"X-SSEA-Key": api_key})

    statuses = [
        (await client.get(overview(tenant))).status
        for client in (first, second, first, second)
    ]

    assert statuses == [200, 200, 200, 429]


async def test_a_failing_limit_storage_lets_requests_through(
    apps: list[SseaApp],
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = app_with(apps, store, clock, rate_limit_storage="redis://127.0.0.1:1/0")
    client = ApiClient(app, {"X-SSEA-Key": api_key})

    with caplog.at_level(logging.WARNING, logger="ssea_core.ratelimit"):
        answer = await client.get(overview(tenant))

    assert answer.status == 200
    assert "x-ratelimit-limit" not in answer.headers
    assert "rate limit storage failed" in caplog.text


async def test_limits_can_be_turned_off(
    apps: list[SseaApp],
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    api_key: str,
) -> None:
    app = app_with(apps, store, clock, rate_limit="1/minute", rate_limit_enabled=False)
    client = ApiClient(app, {"X-SSEA-Key": api_key})

    answers = [await client.get(overview(tenant)) for _ in range(3)]

    assert {answer.status for answer in answers} == {200}
    assert "x-ratelimit-limit" not in answers[0].headers


# -- CORS ------------------------------------------------------------------------------


def preflight(origin: str, method: str = "GET") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization",
    }


async def test_a_preflight_from_a_configured_origin_is_204(
    apps: list[SseaApp], store: SqlStore, clock: FixedClock, tenant: TenantRecord
) -> None:
    client = ApiClient(app_with(apps, store, clock, cors_origins=[DASHBOARD]))

    answer = await client.request(
        "OPTIONS", overview(tenant), headers=preflight(DASHBOARD)
    )

    assert answer.status == 204, answer.body
    assert answer.body == b""
    assert answer.headers["access-control-allow-origin"] == DASHBOARD
    assert answer.headers["access-control-allow-methods"] == "GET, HEAD"
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert {"authorization", "x-ssea-key", "x-ssea-viewer-signature"} <= {
        name.strip() for name in allowed.split(",")
    }
    assert answer.headers["access-control-max-age"] == "600"
    assert answer.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in answer.headers


@pytest.mark.parametrize(
    ("origin", "method", "path", "status", "code"),
    [
        ("https://evil.example.com", "GET", "/overview", 403, "CORS_REJECTED"),
        (DASHBOARD, "DELETE", "/overview", 403, "CORS_REJECTED"),
        (DASHBOARD, "GET", "/nope", 404, "NOT_FOUND"),
    ],
)
async def test_other_preflights_are_refused(
    apps: list[SseaApp],
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    origin: str,
    method: str,
    path: str,
    status: int,
    code: str,
) -> None:
    client = ApiClient(app_with(apps, store, clock, cors_origins=[DASHBOARD]))

    answer = await client.request(
        "OPTIONS",
        f"/v1/tenants/{tenant.tenant_id}{path}",
        headers=preflight(origin, method),
    )

    assert (answer.status, answer.json()["code"]) == (status, code)
    if origin != DASHBOARD:
        assert "access-control-allow-origin" not in answer.headers


async def test_answers_to_allowed_origins_expose_the_api_headers(
    apps: list[SseaApp],
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    api_key: str,
) -> None:
    app = app_with(
        apps, store, clock, cors_origins=[DASHBOARD], cors_allow_credentials=True
    )
    client = ApiClient(app, {"X-SSEA-Key": api_key})

    mine = await client.get(
        f"/v1/tenants/{tenant.tenant_id}/users", headers={"Origin": DASHBOARD}
    )
    theirs = await client.get(
        overview(tenant), headers={"Origin": "https://evil.example"}
    )

    assert mine.headers["access-control-allow-origin"] == DASHBOARD
    assert mine.headers["access-control-allow-credentials"] == "true"
    exposed = mine.headers["access-control-expose-headers"]
    for name in ("X-Total-Count", "Retry-After", "X-RateLimit-Remaining"):
        assert name in exposed
    assert mine.headers["vary"] == theirs.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in theirs.headers


async def test_a_wildcard_is_never_combined_with_credentials(
    apps: list[SseaApp], store: SqlStore, clock: FixedClock, tenant: TenantRecord
) -> None:
    client = ApiClient(app_with(apps, store, clock, cors_origins=["*"]))

    answer = await client.request(
        "OPTIONS", overview(tenant), headers=preflight("https://a.example")
    )

    assert answer.status == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    with pytest.raises(ValidationError, match="cannot be combined"):
        make_settings(cors_origins=["*"], cors_allow_credentials=True)


async def test_without_cors_origins_nothing_is_allowed(
    app: SseaApp, tenant: TenantRecord
) -> None:
    answer = await ApiClient(app).request(
        "OPTIONS", overview(tenant), headers=preflight(DASHBOARD)
    )

    assert (answer.status, answer.json()["code"]) == (403, "CORS_REJECTED")
    assert "vary" not in answer.headers


@pytest.mark.parametrize("path", ["/health", "/nope", "/v1/tenants/x/overview"])
async def test_every_answer_has_the_security_headers(
    anonymous: ApiClient, path: str
) -> None:
    answer = await anonymous.get(path)

    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


# -- misconfiguration ------------------------------------------------------------------


async def test_secrets_the_master_key_cannot_open_are_503_without_detail(
    store: SqlStore, clock: FixedClock, tenant: TenantRecord
) -> None:
    secret = await tenant_secret(store, tenant.tenant_id, "sso", clock.now())
    wrong = SqlStore(store.engine, SecretBox(new_master_key()))
    client = ApiClient(SseaApp(wrong, make_settings(), clock=clock))
    token = signed(plugin_claims(tenant.tenant_id, clock.now()), secret)

    answer = await client.post("/v1/auth/sso", json_body={"token": token})

    assert answer.status == 503
    assert answer.json() == {
        "ok": False,
        "error": "A tenant secret cannot be decrypted with the configured master key.",
        "code": "MISCONFIGURED",
    }


def test_rates_and_secrets_are_validated_in_settings() -> None:
    with pytest.raises(ValidationError, match="is not a rate"):
        make_settings(rate_limit="lots")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        make_settings(jwt_secrets=["short"])


def test_list_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSEA_JWT_SECRETS", f"{'a' * 32},{'b' * 32}")
    monkeypatch.setenv("SSEA_CORS_ORIGINS", '["https://Dash.example.edu/"]')

    settings = Settings()

    assert [s.get_secret_value() for s in settings.jwt_secrets] == ["a" * 32, "b" * 32]
    assert settings.cors_origins == ["https://dash.example.edu"]
