"""The ASGI adapter passes auth headers through and adds nothing of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ssea_adapters.asgi import create_app
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_core.settings import Settings
from ssea_storage.sql.store import SqlStore
from tests.auth_support import bearer, session_token
from tests.conftest import JWT_SECRET, MASTER_KEY

ORIGIN = "https://dashboard.example.edu"


def make_settings(**changes: object) -> Settings:
    return Settings(
        database_url="sqlite://",
        master_key=MASTER_KEY,
        jwt_secrets=[JWT_SECRET],
        cors_origins=[ORIGIN],
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture
async def http(store: SqlStore, clock: FixedClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(max_body_bytes=1024), store=store, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client
    await app.aclose()


async def test_a_bearer_token_and_a_preflight_pass_through(
    http: httpx.AsyncClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    path = f"/v1/tenants/{tenant.tenant_id}/overview"
    token = session_token(
        make_settings(), clock.now(), tenant.tenant_id, "manager", "m1"
    )

    answer = await http.get(path, headers={**bearer(token), "Origin": ORIGIN})
    preflight = await http.options(
        path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert answer.headers["x-ratelimit-limit"] == "600"
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "GET, HEAD"


async def test_errors_before_the_core_still_carry_the_core_headers(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.post(
        "/v1/events", content=b"x" * 2048, headers={"Origin": ORIGIN}
    )

    assert answer.status_code == 413
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["access-control-allow-origin"] == ORIGIN


async def test_an_unreachable_store_answers_503_with_the_core_headers() -> None:
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none", master_key=MASTER_KEY
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/health")

    assert answer.status_code == 503
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "nobody" not in answer.text
