"""Fixtures that compose: backend → store → tenant → API key → client.

Every store fixture runs on SQLite and on PostgreSQL. PostgreSQL comes from
``SSEA_TEST_POSTGRES_URL`` (default: 127.0.0.1:5432, database ``test``); when it cannot
be reached those tests skip, unless ``CI`` or ``SSEA_REQUIRE_POSTGRES`` is set, where an
unreachable server is an error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from ssea_core.app import SseaApp
from ssea_core.auth.api_keys import generate_api_key
from ssea_core.clock import FixedClock
from ssea_core.records import Plan, TenantRecord
from ssea_core.settings import Settings
from ssea_storage.secrets import SecretBox, new_master_key
from ssea_storage.sql.executor import make_engine
from ssea_storage.sql.schema import metadata
from ssea_storage.sql.store import SqlStore
from tests.log_guard import LogCollector, leaks, redacted, remember, remembered
from tests.support import ApiClient

POSTGRES_URL = os.environ.get(
    "SSEA_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = bool(os.environ.get("SSEA_REQUIRE_POSTGRES") or os.environ.get("CI"))
REAL_DATA = Path(
    os.environ.get("SSEA_REAL_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MASTER_KEY = new_master_key()
JWT_SECRET = "test-session-secret-" + new_master_key()[:24]
remember(MASTER_KEY, JWT_SECRET)


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log_line() -> Iterator[LogCollector]:
    """Collect every log record of the run; at the end, none may hold a secret."""
    collector = LogCollector()
    root = logging.getLogger()
    level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    yield collector
    root.removeHandler(collector)
    root.setLevel(level)
    secrets = remembered()
    leaked = [redacted(line, secrets) for line in leaks(collector.lines, secrets)]
    assert not leaked, f"{len(leaked)} log lines hold a secret: {leaked[:3]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgres":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def postgres_engine(schema: str) -> Engine:
    """An engine on a schema of its own, so that concurrent runs never collide."""
    probe = make_engine(POSTGRES_URL)
    try:
        with probe.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        message = f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    finally:
        probe.dispose()
    return make_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}
    )


def drop_postgres_schema(schema: str) -> None:
    probe = make_engine(POSTGRES_URL)
    with probe.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    probe.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One database per backend for the whole run; tests are isolated by tenant."""
    schema = f"ssea_test_{os.getpid()}"
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "ssea.db"
        created = make_engine(f"sqlite:///{path}")
    else:
        created = postgres_engine(schema)
    metadata.create_all(created)
    yield created
    created.dispose()
    if backend == "postgres":
        drop_postgres_schema(schema)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings() -> Settings:
    return Settings(
        database_url="sqlite://", master_key=MASTER_KEY, jwt_secrets=[JWT_SECRET]
    )


@pytest.fixture
async def store(engine: Engine) -> SqlStore:
    return SqlStore(engine, SecretBox(MASTER_KEY))


async def make_tenant(
    store: SqlStore, clock: FixedClock, plan: Plan = "pro", name: str = "Test U"
) -> TenantRecord:
    return await store.operator.create_tenant(name, plan, now=clock.now())


async def make_key(store: SqlStore, clock: FixedClock, tenant: TenantRecord) -> str:
    key = generate_api_key()
    await store.for_tenant(tenant.tenant_id).create_api_key(
        key_hash=key.key_hash,
        prefix=key.prefix,
        name="test",
        now=clock.now(),
        expires_at=None,
    )
    remember(key.plaintext)
    return key.plaintext


@pytest.fixture
async def tenant(store: SqlStore, clock: FixedClock) -> TenantRecord:
    return await make_tenant(store, clock)


@pytest.fixture
async def api_key(store: SqlStore, clock: FixedClock, tenant: TenantRecord) -> str:
    return await make_key(store, clock, tenant)


@pytest.fixture
def app(store: SqlStore, settings: Settings, clock: FixedClock) -> SseaApp:
    return SseaApp(store, settings, clock=clock)


@pytest.fixture
def client(app: SseaApp, api_key: str) -> ApiClient:
    """A client that sends the tenant's API key."""
    return ApiClient(app, {"X-SSEA-Key": api_key})


@pytest.fixture
def anonymous(app: SseaApp) -> ApiClient:
    """A client without any credential."""
    return ApiClient(app)


@pytest.fixture
def real_data() -> Path:
    """The real data folder; skips when absent, except in CI."""
    if not REAL_DATA.is_dir():
        if REQUIRE_POSTGRES and os.environ.get("CI"):
            pytest.fail(f"real data missing at {REAL_DATA}", pytrace=False)
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA
