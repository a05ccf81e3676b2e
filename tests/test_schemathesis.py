"""Property-based checks of the API against its own OpenAPI document (schemathesis).

Every operation of the document gets generated requests, sent to the ASGI app over a
SQLite tenant that holds a term of data, risk scores, alerts, a completed report job
and a monitor. Each answer must not be a 5xx, must have a documented status, and its
body, content type and headers must meet what is documented for that status.

Requests carry the credential their operation takes (an API key, or a viewer
signature for viewer-only routes) and the seeded tenant's id, so handlers run rather
than refuse; half of the generated ids in a path are swapped for ids that exist, so
both real answers and 404s are checked. Hypothesis runs derandomized (a fixed seed) on
a bounded budget of examples per operation.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import anyio
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ssea_adapters.asgi import SseaAsgiApp
from ssea_core.app import build_router
from ssea_core.clock import FixedClock
from ssea_core.openapi import build_document
from ssea_core.reports.worker import ReportWorker
from ssea_core.risk.service import recompute
from ssea_core.settings import Settings
from ssea_storage.secrets import SecretBox
from ssea_storage.sql.executor import make_engine
from ssea_storage.sql.schema import metadata
from ssea_storage.sql.store import SqlStore
from tests.auth_support import tenant_secret, viewer_headers
from tests.conftest import JWT_SECRET, MASTER_KEY, make_key, make_tenant
from tests.storage.test_risk_store import load_term
from tests.support import ApiClient

NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)
#: Generated examples per operation (beside schemathesis' boundary cases); raise it
#: with SSEA_SCHEMATHESIS_EXAMPLES for a longer hunt.
MAX_EXAMPLES = int(os.environ.get("SSEA_SCHEMATHESIS_EXAMPLES", "15"))
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "x-ssea-key", "x-ssea-viewer-context", "x-ssea-viewer-signature"}
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]

SCHEMA = schemathesis.openapi.from_dict(build_document(build_router().routes))


@dataclass
class Service:
    """The app under test and what a request needs to reach real data."""

    app: SseaAsgiApp
    store: SqlStore
    tenant_id: UUID
    api_key: str
    viewers: dict[str, dict[str, str]]
    #: Ids that exist, by path parameter.
    known: dict[str, str] = field(default_factory=dict)


async def _seed(folder: Path) -> Service:
    engine = make_engine(f"sqlite:///{folder / 'ssea.db'}")
    metadata.create_all(engine)
    store = SqlStore(engine, SecretBox(MASTER_KEY))
    clock = FixedClock(NOON)
    service_settings = Settings(
        database_url=f"sqlite:///{folder / 'ssea.db'}",
        master_key=MASTER_KEY,
        jwt_secrets=[JWT_SECRET],
        artifact_url=f"file://{folder / 'artifacts'}",
        artifact_signing_secret="schemathesis-signing-secret-" + "s" * 16,
        rate_limit_enabled=False,
        risk_scheduler_enabled=False,
        report_worker_enabled=False,
    )
    app = SseaAsgiApp(service_settings, store=store, clock=clock)
    core = await app.core()

    tenant = await make_tenant(store, clock)
    key = await make_key(store, clock, tenant)
    tid = tenant.tenant_id
    admin = ApiClient(core, {"X-SSEA-Key": key})
    await load_term(admin)
    await recompute(store, tid, as_of=NOON, now=NOON, alerts=True)

    prefix = f"/v1/tenants/{tid}"
    job = await admin.post(
        prefix + "/reports/jobs", json_body={"report_type": "activity_funnel"}
    )
    await ReportWorker(core.services, worker_id="schemathesis").run_one()
    monitor = await admin.post(
        prefix + "/monitors",
        json_body={"name": "k1", "target": "students", "filters": {"course_id": "k1"}},
    )
    alerts = (await admin.get(prefix + "/alerts")).json()

    secret = await tenant_secret(store, tid, "viewer", NOON)
    exp = int(NOON.timestamp()) + 3000
    viewers = {
        role: viewer_headers(secret, tid, role, user, exp)  # type: ignore[arg-type]
        for role, user in (("student", "s1"), ("teacher", "t1"))
    }
    known = {
        "user_id": "s1",
        "course_id": "k1",
        "job_id": job.json()["job_id"],
        "monitor_id": monitor.json()["data"]["monitor_id"],
        "alert_id": alerts[0]["alert_id"],
        "entity": "users",
    }
    return Service(app, store, tid, key, viewers, known)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("schemathesis")
    built = anyio.run(_seed, folder)
    yield built
    anyio.run(built.app.aclose)
    anyio.run(built.store.aclose)


def _aim(case: schemathesis.Case, service: Service) -> dict[str, str]:
    """Point the case at the seeded tenant and its data; return its credential."""
    path = case.path_parameters or {}
    if "tenant_id" in path:
        path["tenant_id"] = str(service.tenant_id)
    for name, value in path.items():
        if name in service.known and zlib.crc32(str(value).encode()) % 2 == 0:
            path[name] = service.known[name]

    # Generated credentials (schemathesis fills the documented security headers) give
    # way to real ones: the access matrix tests refusals, this test the handlers.
    case.headers = {
        name: value
        for name, value in (case.headers or {}).items()
        if name.lower() not in CREDENTIAL_HEADERS
    }
    security = case.operation.definition.raw.get("security", [])
    kinds = {name for requirement in security for name in requirement}
    if not kinds:
        return {}
    if "ApiKey" in kinds:
        return {"X-SSEA-Key": service.api_key}
    role = "teacher" if "/teacher/" in case.operation.path else "student"
    path["moodle_user_id"] = "t1" if role == "teacher" else "s1"
    return service.viewers[role]


@SCHEMA.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_documented_contract(
    case: schemathesis.Case, service: Service
) -> None:
    headers = _aim(case, service)

    case.call_and_validate(app=service.app, headers=headers, checks=CHECKS)


def test_every_operation_is_checked() -> None:
    operations = [result.ok() for result in SCHEMA.get_all_operations()]

    assert len(operations) == len(build_router().routes)
    assert all(
        "tenant_id" not in operation.path or "{tenant_id}" in operation.path
        for operation in operations
    )
