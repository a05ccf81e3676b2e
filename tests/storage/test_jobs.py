"""The report job queue in SQL: claims, leases, completion once, retries, expiry.

Every test runs on SQLite and PostgreSQL. The queue is called directly with a fixed
clock, so a lease "runs out" by moving the clock.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select

from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.records import TenantRecord
from ssea_core.reports import REPORTS, ReportRequest, resolve_request
from ssea_core.reports.jobs import (
    JobListQuery,
    JobVisibility,
    ReportJob,
    StoredArtifact,
)
from ssea_core.reports.service import new_job
from ssea_core.reports.worker import ReportWorker, WorkerConfig
from ssea_core.settings import Settings
from ssea_storage.artifacts import FsspecArtifactStore
from ssea_storage.sql.jobs import SqlReportQueue
from ssea_storage.sql.schema import artifacts, report_jobs
from ssea_storage.sql.store import SqlStore
from tests.conftest import make_tenant

LEASE = timedelta(seconds=60)
TODAY = date(2026, 3, 2)


def request(course: str | None = None) -> ReportRequest:
    params = {"course_id": course} if course else {}
    return resolve_request("early_warning_summary", params, TODAY)


async def queued(
    store: SqlStore,
    tenant: TenantRecord,
    at: datetime,
    *,
    by: str = "api_key:k1",
    course: str | None = None,
) -> ReportJob:
    job = new_job(tenant.tenant_id, request(course), by, at)
    await store.for_tenant(tenant.tenant_id).report_jobs().create_job(job)
    return job


def artifact_for(job: ReportJob, now: datetime) -> StoredArtifact:
    return StoredArtifact(
        job_id=job.job_id,
        format="csv",
        storage_key=f"reports/{job.job_id}/{job.attempts}/early_warning_summary.csv",
        content_type="text/csv; charset=utf-8",
        size=10,
        created_at=now,
        expires_at=now + timedelta(days=7),
    )


async def claim(
    queue: SqlReportQueue, worker: str, clock: FixedClock, max_attempts: int = 3
) -> ReportJob | None:
    now = clock.now()
    return await queue.claim(
        worker, now=now, lease_until=now + LEASE, max_attempts=max_attempts
    )


async def stored_job(store: SqlStore, job: ReportJob) -> Any:
    query = select(report_jobs).where(
        report_jobs.c.tenant_id == job.tenant_id, report_jobs.c.job_id == job.job_id
    )
    return await store.executor.run(lambda c: c.execute(query).one())


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder`` (dot files too), relative to it."""
    return sorted(
        str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()
    )


async def artifact_rows(store: SqlStore, job: ReportJob) -> list[Any]:
    query = select(artifacts).where(
        artifacts.c.tenant_id == job.tenant_id, artifacts.c.job_id == job.job_id
    )
    return await store.executor.run(lambda c: list(c.execute(query)))


FAR = datetime(2200, 1, 1, tzinfo=UTC)


async def clear_queue(store: SqlStore) -> None:
    """Settle what other tests left in the shared database: the queue is the one
    thing that looks across tenants, so a test must find only its own jobs there."""
    queue = store.report_queue()
    while (
        job := await queue.claim(
            "clear", now=FAR, lease_until=FAR + LEASE, max_attempts=999
        )
    ) is not None:
        await queue.fail(job, "clear", "cleared by the tests", now=FAR, retry_at=None)
    while due := await queue.due_artifacts(now=FAR, limit=500):
        for job, artifact in due:
            await queue.mark_expired(job, artifact, now=FAR)


@pytest.fixture
async def fresh_queue(store: SqlStore) -> SqlReportQueue:
    await clear_queue(store)
    return store.report_queue()


# -- claims and leases -----------------------------------------------------------------


async def test_the_oldest_job_is_claimed_with_a_lease(
    store: SqlStore,
    fresh_queue: SqlReportQueue,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    first = await queued(store, tenant, clock.now())
    second = await queued(store, tenant, clock.now() + timedelta(seconds=1))

    taken = await claim(fresh_queue, "w1", clock)
    other = await claim(fresh_queue, "w2", clock)
    none = await claim(fresh_queue, "w3", clock)

    assert taken is not None
    assert other is not None
    assert (taken.job_id, other.job_id, none) == (first.job_id, second.job_id, None)
    assert taken.status == "running"
    assert (taken.lease_owner, taken.lease_expires_at) == ("w1", clock.now() + LEASE)
    assert taken.attempts == 1
    assert taken.started_at == clock.now()
    assert taken.request == first.request


async def test_a_lost_lease_is_taken_again_and_the_loser_writes_nothing(
    store: SqlStore,
    fresh_queue: SqlReportQueue,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    await queued(store, tenant, clock.now())
    first = await claim(fresh_queue, "w1", clock)
    assert first is not None
    assert await claim(fresh_queue, "w2", clock) is None  # the lease still holds

    assert await fresh_queue.renew(first, "w1", until=clock.now() + 2 * LEASE)
    clock.advance(seconds=61)
    assert await claim(fresh_queue, "w2", clock) is None  # renewed: still held
    clock.advance(seconds=60)
    second = await claim(fresh_queue, "w2", clock)

    assert second is not None
    assert (second.job_id, second.attempts, second.lease_owner) == (
        first.job_id,
        2,
        "w2",
    )
    now = clock.now()
    assert not await fresh_queue.renew(first, "w1", until=now + LEASE)
    assert not await fresh_queue.complete(
        first, "w1", artifact_for(first, now), now=now
    )
    assert not await fresh_queue.fail(first, "w1", "late", now=now, retry_at=None)
    assert not await fresh_queue.release(first, "w1")
    assert await artifact_rows(store, first) == []

    assert await fresh_queue.complete(second, "w2", artifact_for(second, now), now=now)
    assert not await fresh_queue.complete(
        second, "w2", artifact_for(second, now), now=now
    )
    row = await stored_job(store, second)
    assert (row.status, row.attempts, row.lease_owner, row.completed_at) == (
        "completed",
        2,
        None,
        now,
    )
    [stored] = await artifact_rows(store, second)
    assert stored.storage_key.endswith(f"/{second.job_id}/2/early_warning_summary.csv")


async def test_a_job_whose_worker_keeps_dying_is_failed(
    store: SqlStore,
    fresh_queue: SqlReportQueue,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    job = await queued(store, tenant, clock.now())
    for attempt in (1, 2):
        taken = await claim(fresh_queue, f"w{attempt}", clock, max_attempts=2)
        assert taken is not None
        assert taken.attempts == attempt
        clock.advance(seconds=61)

    assert await claim(fresh_queue, "w3", clock, max_attempts=2) is None

    row = await stored_job(store, job)
    assert (row.status, row.attempts, row.lease_owner) == ("failed", 2, None)
    assert "stopped responding" in row.error
    assert row.completed_at == clock.now()


async def test_a_failed_attempt_waits_then_retries_and_a_last_one_fails(
    store: SqlStore,
    fresh_queue: SqlReportQueue,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    job = await queued(store, tenant, clock.now())
    taken = await claim(fresh_queue, "w1", clock)
    assert taken is not None

    retry_at = clock.now() + timedelta(seconds=30)
    assert await fresh_queue.fail(
        taken, "w1", "boom", now=clock.now(), retry_at=retry_at
    )
    waiting = await stored_job(store, job)
    assert (waiting.status, waiting.error, waiting.lease_owner) == (
        "pending",
        "boom",
        None,
    )
    assert await claim(fresh_queue, "w1", clock) is None
    clock.advance(seconds=30)
    again = await claim(fresh_queue, "w2", clock)
    assert again is not None
    assert again.attempts == 2

    assert await fresh_queue.fail(again, "w2", "boom 2", now=clock.now(), retry_at=None)
    row = await stored_job(store, job)
    assert (row.status, row.error, row.completed_at) == (
        "failed",
        "boom 2",
        clock.now(),
    )
    assert await claim(fresh_queue, "w3", clock) is None


async def test_a_released_job_is_pending_without_counting_the_attempt(
    store: SqlStore,
    fresh_queue: SqlReportQueue,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    job = await queued(store, tenant, clock.now())
    taken = await claim(fresh_queue, "w1", clock)
    assert taken is not None

    assert await fresh_queue.release(taken, "w1")

    row = await stored_job(store, job)
    assert (row.status, row.attempts, row.lease_owner) == ("pending", 0, None)
    again = await claim(fresh_queue, "w2", clock)
    assert again is not None
    assert again.attempts == 1


async def test_concurrent_claims_are_disjoint(
    store: SqlStore,
    fresh_queue: SqlReportQueue,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    made = {
        (await queued(store, tenant, clock.now() + timedelta(seconds=i))).job_id
        for i in range(30)
    }
    taken: dict[str, list[str]] = {f"w{i}": [] for i in range(6)}

    async def claimer(worker: str) -> None:
        while (job := await claim(fresh_queue, worker, clock)) is not None:
            taken[worker].append(job.job_id)
            now = clock.now()
            assert await fresh_queue.complete(
                job, worker, artifact_for(job, now), now=now
            )

    async with anyio.create_task_group() as group:
        for worker in taken:
            group.start_soon(claimer, worker)

    every = [job for jobs in taken.values() for job in jobs]
    assert sorted(every) == sorted(made)  # each job once, none twice
    assert sum(1 for jobs in taken.values() if jobs) > 1


# -- expiry ----------------------------------------------------------------------------


async def test_due_artifacts_are_found_and_marked_expired(
    store: SqlStore,
    fresh_queue: SqlReportQueue,
    tenant: TenantRecord,
    clock: FixedClock,
) -> None:
    job = await queued(store, tenant, clock.now())
    taken = await claim(fresh_queue, "w1", clock)
    assert taken is not None
    artifact = artifact_for(taken, clock.now())
    await fresh_queue.complete(taken, "w1", artifact, now=clock.now())

    soon = clock.now() + timedelta(days=7) - timedelta(seconds=1)
    later = clock.now() + timedelta(days=7)
    assert [
        found.job_id
        for found, _ in await fresh_queue.due_artifacts(now=soon, limit=10)
        if found.tenant_id == tenant.tenant_id
    ] == []
    due = [
        (found, stored)
        for found, stored in await fresh_queue.due_artifacts(now=later, limit=100)
        if found.tenant_id == tenant.tenant_id
    ]
    assert [(found.job_id, stored.storage_key) for found, stored in due] == [
        (job.job_id, artifact.storage_key)
    ]

    await fresh_queue.mark_expired(due[0][0], due[0][1], now=later)

    assert (await stored_job(store, job)).status == "expired"
    [row] = await artifact_rows(store, job)
    assert row.expired is True
    assert not [
        found
        for found, _ in await fresh_queue.due_artifacts(now=later, limit=100)
        if found.tenant_id == tenant.tenant_id
    ]


# -- a tenant's jobs -------------------------------------------------------------------


async def test_jobs_stay_in_their_tenant_and_teachers_see_their_own(
    store: SqlStore, tenant: TenantRecord, clock: FixedClock
) -> None:
    other = await make_tenant(store, clock, name="Other U")
    mine = await queued(store, tenant, clock.now(), by="user:t1", course="c1")
    moved = await queued(store, tenant, clock.now(), by="user:t1", course="c2")
    admins = await queued(store, tenant, clock.now(), by="api_key:k1")
    jobs = store.for_tenant(tenant.tenant_id).report_jobs()
    theirs = store.for_tenant(other.tenant_id).report_jobs()
    everyone, teacher = JobVisibility(), JobVisibility("user:t1", frozenset({"c1"}))

    assert await theirs.get_job(mine.job_id, everyone) is None
    assert await theirs.list_jobs(JobListQuery(), everyone) == ([], 0)
    found = await jobs.get_job(mine.job_id, everyone)
    assert found is not None
    assert found.request == mine.request
    assert await jobs.get_job(admins.job_id, teacher) is None
    assert await jobs.get_job(moved.job_id, teacher) is None  # no longer their course
    listed, total = await jobs.list_jobs(JobListQuery(), teacher)
    assert ([job.job_id for job in listed], total) == ([mine.job_id], 1)
    assert teacher.allows(mine)
    assert not teacher.allows(moved)
    _, every = await jobs.list_jobs(JobListQuery(), everyone)
    assert every == 3


# -- the worker against the queue ------------------------------------------------------


class GatedSource:
    """Report rows that wait for a gate: a slow report under the test's control."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.gate = anyio.Event()

    async def rows(
        self, request: ReportRequest
    ) -> AsyncGenerator[dict[str, Any], None]:
        self.started.set()
        await self.gate.wait()
        row = dict.fromkeys(REPORTS[request.report_type].names)
        yield {**row, "course_id": "c1", "enrolled": 3}


async def test_a_worker_that_lost_its_lease_never_completes_the_job(
    store: SqlStore,
    fresh_queue: SqlReportQueue,
    tenant: TenantRecord,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    job = await queued(store, tenant, clock.now())
    folder = tmp_path / "artifacts"
    services = Services(
        store,
        Settings(database_url="sqlite://"),
        clock,
        artifacts=FsspecArtifactStore(f"file://{folder}", clock=clock),
    )
    slow_source, quick_source = GatedSource(), GatedSource()
    quick_source.gate.set()
    config = WorkerConfig(lease=timedelta(seconds=600))
    slow = ReportWorker(
        services, worker_id="slow", config=config, sources=lambda _t: slow_source
    )
    quick = ReportWorker(
        services, worker_id="quick", config=config, sources=lambda _t: quick_source
    )
    outcomes: dict[str, Any] = {}

    async def run(worker: ReportWorker) -> None:
        outcomes[worker.worker_id] = await worker.run_one()

    async with anyio.create_task_group() as group:
        group.start_soon(run, slow)
        await slow_source.started.wait()
        clock.advance(seconds=601)  # the slow worker's lease runs out unrenewed
        await run(quick)
        slow_source.gate.set()

    assert outcomes == {"slow": "lost", "quick": "completed"}
    row = await stored_job(store, job)
    assert (row.status, row.attempts) == ("completed", 2)
    [stored] = await artifact_rows(store, job)
    assert stored.storage_key == f"reports/{job.job_id}/2/early_warning_summary.csv"
    base = folder / str(tenant.tenant_id) / "reports" / job.job_id
    assert sorted(path.name for path in (base / "2").iterdir()) == [
        "early_warning_summary.csv"
    ]
    assert list((base / "1").iterdir()) == []  # the loser deleted its file


async def test_a_cancelled_worker_gives_its_job_back(
    store: SqlStore,
    fresh_queue: SqlReportQueue,
    tenant: TenantRecord,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    job = await queued(store, tenant, clock.now())
    source = GatedSource()
    services = Services(
        store,
        Settings(database_url="sqlite://"),
        clock,
        artifacts=FsspecArtifactStore(f"file://{tmp_path}", clock=clock),
    )
    worker = ReportWorker(services, worker_id="w1", sources=lambda _t: source)

    async with anyio.create_task_group() as group:
        group.start_soon(worker.run_one)
        await source.started.wait()
        group.cancel_scope.cancel()

    row = await stored_job(store, job)
    assert (row.status, row.attempts, row.lease_owner) == ("pending", 0, None)
    assert files_under(tmp_path) == []
