"""Report jobs through the API (SPEC §7): create, run by a worker, read, download.

The data is the small tenant of ``tests/storage/test_report_queries.py`` (its values
are checked there, report by report); here every report type and format goes the
whole way: ``POST …/reports/jobs`` → a worker runs it → the job is completed with
an artifact → the artifact downloads inline and through its signed URL, and parses
back to exactly the rows the report queries give.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest

from ssea_core.app import SseaApp
from ssea_core.artifacts import local_signature
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_core.reports import REPORTS, ReportRequest, parse_csv, parse_json
from ssea_core.reports.worker import ReportWorker, WorkerConfig
from ssea_core.risk.service import recompute
from ssea_core.settings import Settings
from ssea_storage.artifacts import FsspecArtifactStore, artifact_store_from_settings
from ssea_storage.sql.store import SqlStore
from tests.auth_support import bearer, session_token
from tests.conftest import JWT_SECRET, MASTER_KEY, make_key, make_tenant
from tests.log_guard import remember
from tests.storage.test_artifacts import (
    ACCESS_KEY,
    BUCKET,
    REGION,
    SECRET_KEY,
    http_get,
    s3_endpoint,
)
from tests.storage.test_jobs import clear_queue
from tests.storage.test_report_queries import load, report
from tests.support import Answer, ApiClient

SIGNING_SECRET = "artifact-signing-secret-for-the-tests-0123456789"
__all__ = ["s3_endpoint"]  # the moto server fixture, shared with the storage tests
remember(SIGNING_SECRET)

#: One request per report type, with parameters where the type takes them.
REQUESTS: dict[str, dict[str, Any]] = {
    "retention_cohort": {
        "date_from": "2026-02-01",
        "date_to": "2026-02-28",
        "max_weeks": 4,
    },
    "activity_funnel": {},
    "teacher_course_health": {"date_from": "2026-02-01", "date_to": "2026-03-02"},
    "student_learning_profile": {"course_id": "c1"},
    "assessment_performance": {"date_from": "2026-02-01"},
    "early_warning_summary": {"date_to": "2026-03-01"},
}


def report_settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "sqlite://",
        "master_key": MASTER_KEY,
        "jwt_secrets": [JWT_SECRET],
        "artifact_signing_secret": SIGNING_SECRET,
        "rate_limit_enabled": False,
    }
    return Settings(**(values | changes))


def make_app(
    store: SqlStore, clock: FixedClock, folder: Path, **changes: Any
) -> SseaApp:
    settings = report_settings(**changes)
    secret = settings.artifact_signing_secret
    artifacts = FsspecArtifactStore(
        f"file://{folder}",
        signing_secret=secret.get_secret_value() if secret else None,
        clock=clock,
    )
    return SseaApp(store, settings, clock=clock, artifacts=artifacts)


def worker(app: SseaApp, name: str = "w1", **config: Any) -> ReportWorker:
    return ReportWorker(app.services, worker_id=name, config=WorkerConfig(**config))


@pytest.fixture(autouse=True)
async def only_our_jobs(store: SqlStore) -> None:
    await clear_queue(store)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
async def app(
    store: SqlStore, clock: FixedClock, folder: Path, tenant: TenantRecord, api_key: str
) -> SseaApp:
    built = make_app(store, clock, folder)
    await load(ApiClient(built, {"X-SSEA-Key": api_key}))
    return built


@pytest.fixture
def client(app: SseaApp, api_key: str) -> ApiClient:
    return ApiClient(app, {"X-SSEA-Key": api_key})


def jobs_path(tenant: TenantRecord) -> str:
    return f"/v1/tenants/{tenant.tenant_id}/reports/jobs"


async def create(
    client: ApiClient,
    tenant: TenantRecord,
    report_type: str,
    report_format: str | None = "csv",
    **params: Any,
) -> str:
    body: dict[str, Any] = {"report_type": report_type, "params": params}
    if report_format is not None:
        body["format"] = report_format
    answer = await client.post(jobs_path(tenant), json_body=body)
    assert answer.status == 202, answer.body
    created = answer.json()
    assert set(created) == {"job_id", "status", "requested_at"}
    assert created["status"] == "pending"
    assert answer.headers["location"] == f"{jobs_path(tenant)}/{created['job_id']}"
    return str(created["job_id"])


async def job(client: ApiClient, tenant: TenantRecord, job_id: str) -> dict[str, Any]:
    answer = await client.get(f"{jobs_path(tenant)}/{job_id}")
    assert answer.status == 200, answer.body
    found: dict[str, Any] = answer.json()
    return found


def path_of(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    query = dict(pair.split("=", 1) for pair in parts.query.split("&") if pair)
    return parts.path, query


async def follow(anonymous: ApiClient, url: str) -> Answer:
    path, query = path_of(url)
    return await anonymous.get(path, params=query)


def rows_of(report_type: str, report_format: str, body: bytes) -> list[dict[str, Any]]:
    definition = REPORTS[report_type]  # type: ignore[index]
    if report_format == "csv":
        return parse_csv(definition, body.decode())
    return parse_json(definition, body.decode())


async def expected_rows(
    store: SqlStore, tenant: TenantRecord, report_type: str, **params: Any
) -> list[dict[str, Any]]:
    queries = store.for_tenant(tenant.tenant_id).reports()
    return await report(queries, report_type, **params)  # type: ignore[arg-type]


# -- the whole way ---------------------------------------------------------------------


@pytest.mark.parametrize("report_format", ["csv", "json"])
@pytest.mark.parametrize("report_type", sorted(REQUESTS))
async def test_a_job_runs_and_downloads_inline_and_by_signed_url(
    app: SseaApp,
    client: ApiClient,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
    folder: Path,
    report_type: str,
    report_format: str,
) -> None:
    params = REQUESTS[report_type]
    job_id = await create(client, tenant, report_type, report_format, **params)
    pending = await job(client, tenant, job_id)
    assert (pending["status"], pending["artifacts"]) == ("pending", [])
    assert (pending["report_type"], pending["format"]) == (report_type, report_format)

    assert await worker(app).run_one() == "completed"
    assert await worker(app).run_one() is None

    done = await job(client, tenant, job_id)
    assert done["status"] == "completed"
    assert done["completed_at"] == "2026-03-02T12:00:00Z"
    assert done["attempts"] == 1
    [artifact] = done["artifacts"]
    assert artifact["format"] == report_format
    assert artifact["expires_at"] == "2026-03-02T13:00:00Z"  # the URL's hour
    expected = await expected_rows(store, tenant, report_type, **params)

    signed = await follow(ApiClient(app), artifact["url"])
    assert signed.status == 200, signed.body
    assert rows_of(report_type, report_format, signed.body) == expected

    redirect = await client.get(f"{jobs_path(tenant)}/{job_id}/download")
    assert redirect.status == 302
    assert path_of(redirect.headers["location"])[0] == path_of(artifact["url"])[0]
    assert (await follow(ApiClient(app), redirect.headers["location"])).body == (
        signed.body
    )

    inline_app = make_app(store, clock, folder, report_download_mode="inline")
    inline = await ApiClient(inline_app, client.headers).get(
        f"{jobs_path(tenant)}/{job_id}/download"
    )
    assert inline.status == 200
    assert inline.body == signed.body
    content_type = (
        "text/csv; charset=utf-8" if report_format == "csv" else ("application/json")
    )
    assert inline.headers["content-type"] == content_type
    assert inline.headers["content-length"] == str(len(signed.body))
    assert inline.headers["content-disposition"] == (
        f'attachment; filename="{report_type}-{job_id}.{report_format}"'
    )


async def test_defaults_are_fixed_when_the_job_is_created(
    app: SseaApp, client: ApiClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    job_id = await create(client, tenant, "retention_cohort", None, max_weeks=2)
    clock.advance(days=3)  # a worker that runs later computes the same period

    assert await worker(app).run_one() == "completed"
    found = await job(client, tenant, job_id)

    assert found["format"] == "csv"
    assert found["params"] == {
        "date_from": "2026-02-17",
        "date_to": "2026-03-02",
        "max_weeks": 2,
    }
    assert found["requested_at"] == "2026-03-02T12:00:00Z"


async def test_without_a_signing_secret_downloads_are_inline(
    store: SqlStore,
    clock: FixedClock,
    folder: Path,
    tenant: TenantRecord,
    api_key: str,
) -> None:
    app = make_app(store, clock, folder, artifact_signing_secret=None)
    client = ApiClient(app, {"X-SSEA-Key": api_key})
    await load(client)
    job_id = await create(client, tenant, "early_warning_summary")
    await worker(app).run_one()

    found = await job(client, tenant, job_id)
    download = f"{jobs_path(tenant)}/{job_id}/download"
    answer = await client.get(download)

    assert found["artifacts"][0]["url"] == download
    assert found["artifacts"][0]["expires_at"] == "2026-03-09T12:00:00Z"
    assert answer.status == 200
    assert answer.body.startswith(b"course_id,shortname,fullname,enrolled")
    link = f"/v1/artifacts/{tenant.tenant_id}/reports/{job_id}/1/x.csv"
    refused = await ApiClient(app).get(link, params={"expires": 1, "signature": "0"})
    assert refused.status == 404


async def test_head_of_a_download_sends_no_body(
    app: SseaApp,
    client: ApiClient,
    tenant: TenantRecord,
    store: SqlStore,
    clock: FixedClock,
    folder: Path,
) -> None:
    job_id = await create(client, tenant, "activity_funnel")
    await worker(app).run_one()
    inline = make_app(store, clock, folder, report_download_mode="inline")
    download = f"{jobs_path(tenant)}/{job_id}/download"

    redirect = await client.request("HEAD", download)
    streamed = await ApiClient(inline, client.headers).request("HEAD", download)

    assert (redirect.status, redirect.body) == (302, b"")
    assert (streamed.status, streamed.body) == (200, b"")
    assert int(streamed.headers["content-length"]) > 0


# -- risk, as the dashboard counts it --------------------------------------------------


async def built_rows(
    app: SseaApp, client: ApiClient, tenant: TenantRecord, report_type: str
) -> list[dict[str, Any]]:
    """A job of ``report_type`` (JSON) run by a worker, its artifact parsed."""
    job_id = await create(client, tenant, report_type, "json")
    assert await worker(app).run_one() == "completed"
    [artifact] = (await job(client, tenant, job_id))["artifacts"]
    answer = await follow(ApiClient(app), artifact["url"])
    assert answer.status == 200, answer.body
    return rows_of(report_type, "json", answer.body)


async def test_reports_count_risk_as_the_dashboard_does(
    app: SseaApp,
    client: ApiClient,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    tenant_path = f"/v1/tenants/{tenant.tenant_id}"

    async def dashboard() -> tuple[dict[str, int], set[tuple[str, str, str]]]:
        """At risk per course (the course list) and who (the at-risk list)."""
        listed = (await client.get(f"{tenant_path}/courses")).json()
        counts = {course["course_id"]: course["at_risk_count"] for course in listed}
        students = set()
        for course_id in counts:
            answer = await client.get(
                f"{tenant_path}/at-risk", params={"course_id": course_id}
            )
            students |= {
                (item["user_id"], course_id, item["risk_level"])
                for item in answer.json()
            }
        return counts, students

    async def reported() -> tuple[dict[str, int], dict[str, int], set[Any]]:
        health = await built_rows(app, client, tenant, "teacher_course_health")
        warning = await built_rows(app, client, tenant, "early_warning_summary")
        profile = await built_rows(app, client, tenant, "student_learning_profile")
        return (
            {row["course_id"]: row["at_risk_count"] for row in health},
            {
                row["course_id"]: row["risk_high"] + row["risk_critical"]
                for row in warning
            },
            {
                (row["user_id"], row["course_id"], row["risk_level"])
                for row in profile
                if row["risk_level"] in ("high", "critical")
            },
        )

    before = await dashboard()
    assert before == ({"c1": 0, "c2": 0, "c3": 0}, set())
    assert await reported() == (before[0], before[0], before[1])

    # The risk service scores the tenant; the reports read what it stored.
    await recompute(store, tenant.tenant_id, as_of=clock.now(), now=clock.now())
    counts, students = await dashboard()
    assert sum(counts.values()) > 0  # someone is at risk: the check below has teeth
    assert await reported() == (counts, counts, students)


# -- states ----------------------------------------------------------------------------


async def test_downloads_before_completion_after_failure_and_after_expiry(
    app: SseaApp, client: ApiClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    job_id = await create(client, tenant, "early_warning_summary")
    download = f"{jobs_path(tenant)}/{job_id}/download"

    early = await client.get(download)
    assert (early.status, early.json()["code"]) == (409, "REPORT_NOT_READY")

    await worker(app).run_one()
    clock.advance(days=6, hours=23, minutes=30)
    # The last half hour: a URL lives no longer than its artifact.
    late = (await job(client, tenant, job_id))["artifacts"][0]
    assert late["expires_at"] == "2026-03-09T12:00:00Z"
    clock.advance(minutes=30)

    expired = await client.get(download)
    assert (expired.status, expired.json()["code"]) == (410, "ARTIFACT_EXPIRED")
    assert (await job(client, tenant, job_id))["status"] == "expired"
    gone = await follow(ApiClient(app), late["url"])
    assert gone.status == 403  # the link expired with the artifact


async def test_the_sweep_deletes_expired_artifacts(
    app: SseaApp,
    client: ApiClient,
    tenant: TenantRecord,
    clock: FixedClock,
    folder: Path,
) -> None:
    job_id = await create(client, tenant, "activity_funnel")
    runner = worker(app)
    await runner.run_one()
    stored = folder / str(tenant.tenant_id) / "reports" / job_id / "1"
    assert [path.name for path in stored.iterdir()] == ["activity_funnel.csv"]

    assert (await runner.sweep()).expired == 0
    clock.advance(days=7)
    summary = await runner.sweep()

    assert summary.expired == 1
    assert list(stored.iterdir()) == []
    found = await job(client, tenant, job_id)
    assert (found["status"], found["artifacts"]) == ("expired", [])
    listed = await client.get(jobs_path(tenant), params={"status": "expired"})
    assert [item["job_id"] for item in listed.json()] == [job_id]
    assert (await runner.sweep()).expired == 0


class BrokenSource:
    """A report source that fails after its first row."""

    def __init__(self) -> None:
        self.calls = 0

    async def rows(
        self, request: ReportRequest
    ) -> AsyncGenerator[dict[str, Any], None]:
        self.calls += 1
        yield dict.fromkeys(REPORTS[request.report_type].names)
        raise RuntimeError("the database went away with secret=hunter2")


async def test_a_job_that_keeps_failing_ends_failed_with_its_error(
    app: SseaApp, client: ApiClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    job_id = await create(client, tenant, "activity_funnel")
    source = BrokenSource()
    runner = ReportWorker(
        app.services,
        worker_id="w1",
        config=WorkerConfig(max_attempts=2, retry_delay=timedelta(seconds=30)),
        sources=lambda _tenant: source,
    )

    assert await runner.run_one() == "retry"
    waiting = await job(client, tenant, job_id)
    assert (waiting["status"], waiting["attempts"]) == ("pending", 1)
    assert await runner.run_one() is None  # the retry waits 30 s
    clock.advance(seconds=30)
    assert await runner.run_one() == "failed"

    failed = await job(client, tenant, job_id)
    assert failed["status"] == "failed"
    assert failed["attempts"] == 2
    assert failed["completed_at"] is None
    assert failed["failed_at"] == "2026-03-02T12:00:30Z"
    assert "RuntimeError" in failed["error"]
    assert "hunter2" not in failed["error"]
    assert failed["artifacts"] == []
    answer = await client.get(f"{jobs_path(tenant)}/{job_id}/download")
    assert (answer.status, answer.json()["code"]) == (409, "REPORT_FAILED")
    assert source.calls == 2


# -- listing ---------------------------------------------------------------------------


async def test_jobs_are_listed_newest_first_with_filters(
    app: SseaApp, client: ApiClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    made = []
    for report_type in ("activity_funnel", "early_warning_summary", "activity_funnel"):
        made.append(await create(client, tenant, report_type))
        clock.advance(minutes=1)
    await worker(app).run_one()  # the oldest first

    every = await client.get(jobs_path(tenant))
    page = await client.get(jobs_path(tenant), params={"limit": 1, "offset": 1})
    pending = await client.get(jobs_path(tenant), params={"status": "pending"})
    bad = await client.get(jobs_path(tenant), params={"status": "lost"})
    too_many = await client.get(jobs_path(tenant), params={"limit": 201})

    assert [item["job_id"] for item in every.json()] == made[::-1]
    assert every.headers["x-total-count"] == "3"
    assert [item["status"] for item in every.json()] == [
        "pending",
        "pending",
        "completed",
    ]
    assert "artifacts" not in every.json()[0]
    assert [item["job_id"] for item in page.json()] == [made[1]]
    assert page.headers["x-total-count"] == "3"
    assert [item["job_id"] for item in pending.json()] == made[:0:-1]
    assert pending.headers["x-total-count"] == "2"
    assert (bad.status, bad.json()["code"]) == (400, "BAD_REQUEST")
    assert too_many.status == 400


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"report_type": "gossip"}, 422, "report_type"),
        ({"report_type": "activity_funnel", "format": "xlsx"}, 422, "format"),
        ({"report_type": "activity_funnel", "colour": "red"}, 422, "colour"),
        (
            {"report_type": "activity_funnel", "params": {"max_weeks": 3}},
            422,
            "params.max_weeks",
        ),
        (
            {"report_type": "retention_cohort", "params": {"max_weeks": 99}},
            422,
            "params.max_weeks",
        ),
        (
            {
                "report_type": "activity_funnel",
                "params": {"date_from": "2026-03-02", "date_to": "2026-01-01"},
            },
            422,
            "after",
        ),
        ({"report_type": "activity_funnel", "params": "all"}, 422, "params"),
    ],
)
async def test_bad_requests_are_refused(
    client: ApiClient,
    tenant: TenantRecord,
    body: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    answer = await client.post(jobs_path(tenant), json_body=body)

    assert answer.status == status, answer.body
    assert answer.json()["code"] == "VALIDATION_FAILED"
    assert fragment in answer.json()["error"]


async def test_a_body_that_is_not_json_is_a_400(
    client: ApiClient, tenant: TenantRecord
) -> None:
    answer = await client.post(jobs_path(tenant), content=b"report_type=x")

    assert (answer.status, answer.json()["code"]) == (400, "INVALID_JSON")


# -- who sees what ---------------------------------------------------------------------


async def test_credentials_and_roles(
    app: SseaApp, tenant: TenantRecord, clock: FixedClock
) -> None:
    settings = app.services.settings
    tid = tenant.tenant_id

    def as_role(role: str, user: str) -> ApiClient:
        return ApiClient(
            app, bearer(session_token(settings, clock.now(), tid, role, user))
        )

    body = {"report_type": "early_warning_summary"}
    missing = await ApiClient(app).post(jobs_path(tenant), json_body=body)
    student = await as_role("student", "s1").post(jobs_path(tenant), json_body=body)
    manager = await as_role("manager", "m1").post(jobs_path(tenant), json_body=body)

    assert (missing.status, missing.json()["code"]) == (401, "MISSING_CREDENTIAL")
    assert (student.status, student.json()["code"]) == (403, "FORBIDDEN")
    assert manager.status == 202


async def test_teachers_ask_about_their_courses_and_see_their_jobs(
    app: SseaApp, client: ApiClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    settings, tid = app.services.settings, tenant.tenant_id
    teacher = ApiClient(
        app, bearer(session_token(settings, clock.now(), tid, "teacher", "t1"))
    )
    whole = {"report_type": "teacher_course_health"}
    elsewhere = {**whole, "params": {"course_id": "c2"}}
    own = {**whole, "params": {"course_id": "c1"}}

    refused = await teacher.post(jobs_path(tenant), json_body=whole)
    outside = await teacher.post(jobs_path(tenant), json_body=elsewhere)
    accepted = await teacher.post(jobs_path(tenant), json_body=own)
    admins = await create(client, tenant, "teacher_course_health")

    assert (refused.status, refused.json()["code"]) == (403, "OUT_OF_SCOPE")
    assert "params.course_id" in refused.json()["error"]
    assert (outside.status, outside.json()["code"]) == (403, "OUT_OF_SCOPE")
    assert accepted.status == 202
    mine = accepted.json()["job_id"]
    listed = await teacher.get(jobs_path(tenant))
    assert [item["job_id"] for item in listed.json()] == [mine]
    assert listed.headers["x-total-count"] == "1"
    admin_view = await client.get(jobs_path(tenant))
    assert {item["job_id"] for item in admin_view.json()} == {mine, admins}
    hidden = await teacher.get(f"{jobs_path(tenant)}/{admins}")
    assert (hidden.status, hidden.json()["code"]) == (404, "NOT_FOUND")
    hidden = await teacher.get(f"{jobs_path(tenant)}/{admins}/download")
    assert hidden.status == 404

    await worker(app).run_one()
    await worker(app).run_one()
    download = await teacher.get(f"{jobs_path(tenant)}/{mine}/download")
    assert download.status == 302
    rows = parse_csv(
        REPORTS["teacher_course_health"],
        (await follow(ApiClient(app), download.headers["location"])).body.decode(),
    )
    assert [row["course_id"] for row in rows] == ["c1"]


async def test_another_tenants_jobs_and_artifacts_are_not_found(
    app: SseaApp,
    client: ApiClient,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    job_id = await create(client, tenant, "early_warning_summary")
    await worker(app).run_one()
    url = (await job(client, tenant, job_id))["artifacts"][0]["url"]
    path, query = path_of(url)
    key = path.split("/", 4)[4]

    other = await make_tenant(store, clock, name="Other U")
    theirs = ApiClient(app, {"X-SSEA-Key": await make_key(store, clock, other)})
    their_path = f"/v1/tenants/{other.tenant_id}/reports/jobs/{job_id}"
    assert (await theirs.get(their_path)).status == 404
    assert (await theirs.get(f"{their_path}/download")).status == 404
    crossing = await theirs.get(f"{jobs_path(tenant)}/{job_id}")
    assert (crossing.status, crossing.json()["code"]) == (403, "TENANT_MISMATCH")

    # A link to tenant A's key, moved to tenant B's path: the signature binds both.
    anonymous = ApiClient(app)
    moved = await anonymous.get(f"/v1/artifacts/{other.tenant_id}/{key}", params=query)
    assert (moved.status, moved.json()["code"]) == (403, "INVALID_DOWNLOAD_LINK")
    # Correctly signed for tenant B, the key names nothing of B's: a 404.
    signature = local_signature(
        SIGNING_SECRET, other.tenant_id, key, int(query["expires"])
    )
    theirs_signed = await anonymous.get(
        f"/v1/artifacts/{other.tenant_id}/{key}",
        params={"expires": query["expires"], "signature": signature},
    )
    assert (theirs_signed.status, theirs_signed.json()["code"]) == (404, "NOT_FOUND")


async def test_signed_links_are_checked_before_storage(
    app: SseaApp, client: ApiClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    job_id = await create(client, tenant, "early_warning_summary")
    await worker(app).run_one()
    url = (await job(client, tenant, job_id))["artifacts"][0]["url"]
    path, query = path_of(url)
    anonymous = ApiClient(app)

    tampered = await anonymous.get(path, params={**query, "signature": "f" * 64})
    later = await anonymous.get(
        path, params={**query, "expires": str(int(query["expires"]) + 60)}
    )
    bare = await anonymous.get(path)
    odd_tenant = await anonymous.get(
        path.replace(str(tenant.tenant_id), "not-a-uuid"), params=query
    )
    good = await anonymous.get(path, params=query)
    clock.advance(hours=1)
    expired = await anonymous.get(path, params=query)

    assert (tampered.status, tampered.json()["code"]) == (403, "INVALID_DOWNLOAD_LINK")
    assert (later.status, later.json()["code"]) == (403, "INVALID_DOWNLOAD_LINK")
    assert (bare.status, bare.json()["code"]) == (400, "BAD_REQUEST")
    assert odd_tenant.status == 403
    assert good.status == 200
    assert good.headers["content-type"] == "text/csv; charset=utf-8"
    assert (expired.status, expired.json()["code"]) == (403, "DOWNLOAD_LINK_EXPIRED")


async def test_an_app_without_an_artifact_store_says_so(
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    api_key: str,
    folder: Path,
) -> None:
    app = make_app(store, clock, folder)
    client = ApiClient(app, {"X-SSEA-Key": api_key})
    await load(client)
    job_id = await create(client, tenant, "early_warning_summary")
    await worker(app).run_one()
    bare = SseaApp(store, app.services.settings, clock=clock)

    answer = await ApiClient(bare, client.headers).get(f"{jobs_path(tenant)}/{job_id}")

    assert (answer.status, answer.json()["code"]) == (503, "ARTIFACT_STORE_MISSING")


# -- S3 --------------------------------------------------------------------------------


async def test_an_s3_artifact_downloads_through_its_presigned_url(
    s3_endpoint: str,
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    api_key: str,
) -> None:
    settings = report_settings(
        artifact_url=f"s3://{BUCKET}/api-{tenant.tenant_id}",
        artifact_s3_endpoint_url=s3_endpoint,
        artifact_s3_region=REGION,
        artifact_s3_access_key_id=ACCESS_KEY,
        artifact_s3_secret_access_key=SECRET_KEY,
        artifact_s3_addressing_style="path",
    )
    artifacts = artifact_store_from_settings(settings, clock=clock)
    app = SseaApp(store, settings, clock=clock, artifacts=artifacts)
    client = ApiClient(app, {"X-SSEA-Key": api_key})
    await load(client)
    job_id = await create(client, tenant, "student_learning_profile", "json")
    runner = worker(app)
    assert await runner.run_one() == "completed"

    [artifact] = (await job(client, tenant, job_id))["artifacts"]
    redirect = await client.get(f"{jobs_path(tenant)}/{job_id}/download")
    fetched = await anyio.to_thread.run_sync(http_get, artifact["url"])
    followed = await anyio.to_thread.run_sync(http_get, redirect.headers["location"])

    assert "X-Amz-Signature=" in artifact["url"]
    assert urlsplit(artifact["url"]).path == (
        f"/{BUCKET}/api-{tenant.tenant_id}/{tenant.tenant_id}/reports/{job_id}/1/"
        "student_learning_profile.json"
    )
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/json"
    expected = await expected_rows(store, tenant, "student_learning_profile")
    assert rows_of("student_learning_profile", "json", fetched.content) == expected
    assert redirect.status == 302
    assert followed.content == fetched.content

    key = f"reports/{job_id}/1/student_learning_profile.json"
    clock.advance(days=7)
    assert (await runner.sweep()).expired == 1
    assert await artifacts.exists(tenant.tenant_id, key) is False
