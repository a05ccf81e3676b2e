"""Report workers as real processes: killed mid-job, side by side, and the CLI.

- A worker process is killed (SIGKILL) while it builds a slow report. Its lease runs
  out, another worker takes the job and completes it exactly once: one artifact row,
  two attempts, the dead worker's ``.part`` file swept away.
- Two worker processes drain one queue at the same time: every job is completed once
  and the two claim disjoint sets of jobs.
- ``ssea worker`` runs until SIGTERM and stops cleanly; ``ssea worker --once`` and
  ``ssea reports run`` serve scripts.

The worker processes run :data:`WORKER`, which wraps the SQL report source so that
each row takes ``delay`` seconds: a report that is slow on purpose, without any hook
in the product code. Both backends; on SQLite the processes share one database file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import pytest
from sqlalchemy import Engine, select

from ssea_adapters.asgi import create_app
from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock, SystemClock
from ssea_core.context import Services
from ssea_core.records import TenantRecord
from ssea_core.reports import REPORTS, parse_csv, resolve_request
from ssea_core.reports.jobs import ReportJob
from ssea_core.reports.service import new_job
from ssea_core.reports.worker import ReportWorker, WorkerConfig
from ssea_core.settings import Settings
from ssea_storage.artifacts import FsspecArtifactStore
from ssea_storage.sql.schema import artifacts, report_jobs
from ssea_storage.sql.store import SqlStore
from tests.adapters.test_asgi import call, http_scope, lifespan
from tests.conftest import MASTER_KEY
from tests.storage.test_jobs import clear_queue
from tests.storage.test_report_queries import TODAY, load, report
from tests.support import ApiClient

WORKER = """
import logging, os, sys
from datetime import timedelta

import anyio

from ssea_core.clock import SystemClock
from ssea_core.context import Services
from ssea_core.reports.worker import ReportWorker, WorkerConfig
from ssea_core.settings import Settings
from ssea_storage.artifacts import FsspecArtifactStore
from ssea_storage.secrets import SecretBox
from ssea_storage.sql.executor import make_engine
from ssea_storage.sql.store import SqlStore

url, schema, folder, name, delay, lease, mode = sys.argv[1:8]
options = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
store = SqlStore(make_engine(url, **options), SecretBox(os.environ["SSEA_MASTER_KEY"]))
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("%(message)s"))
logging.getLogger("ssea_core.reports.worker").addHandler(handler)
logging.getLogger("ssea_core.reports.worker").setLevel(logging.INFO)


class Slow:
    def __init__(self, inner):
        self.inner = inner

    async def rows(self, request):
        async for row in self.inner.rows(request):
            await anyio.sleep(float(delay))
            yield row


async def main():
    services = Services(
        store,
        Settings(database_url=url),
        SystemClock(),
        artifacts=FsspecArtifactStore(f"file://{folder}"),
    )
    worker = ReportWorker(
        services,
        worker_id=name,
        config=WorkerConfig(lease=timedelta(seconds=float(lease))),
        sources=lambda tenant: Slow(store.for_tenant(tenant).reports()),
    )
    if mode == "drain":
        while await worker.run_one() is not None:
            pass
    else:
        await worker.run()


anyio.run(main)
"""
STARTED = re.compile(
    r"report job started tenant=\S+ job=(\S+) type=\S+ attempt=\d+ worker=(\S+)"
)


def database(engine: Engine, backend: str) -> tuple[str, str]:
    """The URL and PostgreSQL schema (or "") of the test database, for a process."""
    url = engine.url.render_as_string(hide_password=False)
    schema = f"ssea_test_{os.getpid()}" if backend == "postgres" else ""
    return url, schema


@contextmanager
def worker_process(
    engine: Engine,
    backend: str,
    folder: Path,
    name: str,
    *,
    delay: float,
    lease: float,
    mode: str,
) -> Iterator[subprocess.Popen[str]]:
    url, schema = database(engine, backend)
    args = [str(folder), name, str(delay), str(lease), mode]
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, url, schema, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SSEA_MASTER_KEY": MASTER_KEY},
    )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    """Kill the process if it still runs, reap it and close its pipes."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)
    for stream in (process.stdout, process.stderr):
        if stream is not None and not stream.closed:
            stream.close()


async def job_row(store: SqlStore, job: ReportJob) -> Any:
    query = select(report_jobs).where(
        report_jobs.c.tenant_id == job.tenant_id, report_jobs.c.job_id == job.job_id
    )
    return await store.executor.run(lambda c: c.execute(query).one())


async def artifact_rows(store: SqlStore, tenant: TenantRecord) -> list[Any]:
    query = select(artifacts).where(artifacts.c.tenant_id == tenant.tenant_id)
    return await store.executor.run(lambda c: list(c.execute(query)))


async def queue_jobs(
    store: SqlStore, tenant: TenantRecord, clock: FixedClock, count: int
) -> list[ReportJob]:
    made = []
    for index in range(count):
        request = resolve_request("early_warning_summary", {}, TODAY)
        job = new_job(
            tenant.tenant_id,
            request,
            "api_key:test",
            clock.now() + timedelta(seconds=index),
        )
        await store.for_tenant(tenant.tenant_id).report_jobs().create_job(job)
        made.append(job)
    return made


async def wait_for(condition: Any, seconds: float = 30.0) -> None:
    with anyio.fail_after(seconds):
        while True:
            if await condition():
                return
            await anyio.sleep(0.1)


def part_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.part") if path.is_file())


@pytest.fixture
async def loaded(app: SseaApp, api_key: str, store: SqlStore) -> None:
    await clear_queue(store)
    await load(ApiClient(app, {"X-SSEA-Key": api_key}))


# -- a worker dies ---------------------------------------------------------------------


@pytest.mark.usefixtures("loaded")
async def test_a_killed_workers_job_is_taken_again_and_completed_once(
    engine: Engine,
    backend: str,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    [job] = await queue_jobs(store, tenant, clock, 1)
    folder = tmp_path / "artifacts"

    with worker_process(
        engine, backend, folder, "doomed", delay=30, lease=2, mode="run"
    ) as doomed:

        async def running() -> bool:
            row = await job_row(store, job)
            return bool(row.status == "running" and part_files(folder))

        await wait_for(running)
        first = await job_row(store, job)
        assert (first.lease_owner, first.attempts) == ("doomed", 1)

        async def renewed() -> bool:
            row = await job_row(store, job)
            return bool(row.lease_expires_at > first.lease_expires_at)

        await wait_for(renewed, seconds=5)  # renewed every third of the lease
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)

    [partial] = part_files(folder)
    assert partial.parent.name == "1"  # attempt 1's folder
    services = Services(
        store,
        Settings(database_url="sqlite://"),
        SystemClock(),
        artifacts=FsspecArtifactStore(f"file://{folder}"),
    )
    survivor = ReportWorker(
        services,
        worker_id="survivor",
        config=WorkerConfig(lease=timedelta(seconds=2), part_max_age=timedelta(0)),
    )
    outcome = None
    with anyio.fail_after(30):
        while outcome is None:  # until the dead worker's lease runs out
            outcome = await survivor.run_one()
            await anyio.sleep(0.1)

    assert outcome == "completed"
    row = await job_row(store, job)
    assert (row.status, row.attempts, row.lease_owner) == ("completed", 2, None)
    [stored] = await artifact_rows(store, tenant)
    assert stored.storage_key == f"reports/{job.job_id}/2/early_warning_summary.csv"
    assert await survivor.run_one() is None  # nothing left: never done twice

    assert (await survivor.sweep()).partial >= 1
    assert part_files(folder) == []
    text = (folder / str(tenant.tenant_id) / stored.storage_key).read_text()
    queries = store.for_tenant(tenant.tenant_id).reports()
    expected = await report(queries, "early_warning_summary")
    assert parse_csv(REPORTS["early_warning_summary"], text) == expected


# -- two workers, one queue ------------------------------------------------------------


@pytest.mark.usefixtures("loaded")
async def test_two_worker_processes_never_run_the_same_job(
    engine: Engine,
    backend: str,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    made = await queue_jobs(store, tenant, clock, 24)
    folder = tmp_path / "artifacts"
    options = {"delay": 0.1, "lease": 30, "mode": "drain"}

    with (
        worker_process(engine, backend, folder, "left", **options) as left,  # type: ignore[arg-type]
        worker_process(engine, backend, folder, "right", **options) as right,  # type: ignore[arg-type]
    ):
        outputs = [process.communicate(timeout=120) for process in (left, right)]

    claims: dict[str, list[str]] = {"left": [], "right": []}
    for (stdout, stderr), process in zip(outputs, (left, right), strict=True):
        assert process.returncode == 0, stderr
        for found in STARTED.finditer(stdout):
            claims[found[2]].append(found[1])
    every = claims["left"] + claims["right"]
    assert sorted(every) == sorted(job.job_id for job in made)  # each once
    assert claims["left"]  # both worked, on disjoint jobs
    assert claims["right"]
    for job in made:
        row = await job_row(store, job)
        assert (row.status, row.attempts) == ("completed", 1)
    stored = await artifact_rows(store, tenant)
    assert sorted(row.job_id for row in stored) == sorted(job.job_id for job in made)


# -- the command line ------------------------------------------------------------------


def ssea(
    *args: str, env: dict[str, str], **options: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssea_adapters.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        **options,
    )


def start_ssea(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ssea_adapters.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SSEA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "SSEA_MASTER_KEY": MASTER_KEY,
        "SSEA_ARTIFACT_URL": f"file://{tmp_path / 'artifacts'}",
        "SSEA_REPORT_WORKER_POLL_SECONDS": "0.2",
    }


def cli_store(env: dict[str, str]) -> SqlStore:
    return SqlStore.from_url(env["SSEA_DATABASE_URL"], master_key=MASTER_KEY)


def cli_tenant(env: dict[str, str]) -> str:
    created = ssea("tenants", "create", "--name", "CLI U", "--json", env=env)
    assert created.returncode == 0, created.stderr
    return str(json.loads(created.stdout)["tenant_id"])


async def cli_job(env: dict[str, str], tenant_id: str) -> tuple[SqlStore, ReportJob]:
    store = cli_store(env)
    tenant = await store.operator.get_tenant(UUID(tenant_id))
    assert tenant is not None
    request = resolve_request("early_warning_summary", {}, TODAY)
    job = new_job(tenant.tenant_id, request, "api_key:test", SystemClock().now())
    await store.for_tenant(tenant.tenant_id).report_jobs().create_job(job)
    return store, job


async def test_ssea_worker_runs_until_sigterm(cli_env: dict[str, str]) -> None:
    tenant_id = cli_tenant(cli_env)
    store, job = await cli_job(cli_env, tenant_id)
    process = start_ssea(["worker", "--concurrency", "2"], cli_env)
    try:

        async def completed() -> bool:
            return bool((await job_row(store, job)).status == "completed")

        await wait_for(completed)
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=30)
    finally:
        stop(process)
        await store.aclose()

    assert process.returncode == 0, stderr
    assert "Stopping after the jobs in hand" in stderr


async def test_ssea_worker_once_and_reports_run(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    tenant_id = cli_tenant(cli_env)
    store, job = await cli_job(cli_env, tenant_id)
    out = tmp_path / "health.json"

    once = ssea("worker", "--once", env=cli_env)
    row = await job_row(store, job)
    await store.aclose()
    ran = ssea(
        "reports", "run", "retention_cohort", "--tenant", tenant_id,
        "--format", "json", "--param", "max_weeks=2", "--param", "date_to=2026-03-01",
        "--out", str(out), "--json", env=cli_env,
    )  # fmt: skip
    to_stdout = ssea(
        "reports", "run", "teacher_course_health", "--tenant", tenant_id, env=cli_env
    )
    bad = ssea(
        "reports", "run", "activity_funnel", "--tenant", tenant_id,
        "--param", "max_weeks=2", env=cli_env,
    )  # fmt: skip
    malformed = ssea(
        "reports", "run", "activity_funnel", "--tenant", tenant_id,
        "--param", "oops", env=cli_env,
    )  # fmt: skip

    assert once.returncode == 0, once.stderr
    assert "1 report jobs run." in once.stderr
    assert row.status == "completed"
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["rows"] == 0
    assert json.loads(out.read_text()) == []
    assert part_files(tmp_path) == []
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout.startswith("course_id,shortname,fullname,teachers")
    assert bad.returncode == 1
    assert "params.max_weeks" in bad.stderr
    assert malformed.returncode == 2
    assert "NAME=VALUE" in malformed.stderr


# -- inside the server -----------------------------------------------------------------


@pytest.mark.usefixtures("loaded")
async def test_the_asgi_lifespan_runs_workers_and_streams_downloads(
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
    api_key: str,
    tmp_path: Path,
) -> None:
    settings = Settings(
        database_url="sqlite://",
        master_key=MASTER_KEY,
        artifact_url=f"file://{tmp_path}",
        report_worker_poll_seconds=0.1,
        report_download_mode="inline",
    )
    app = create_app(settings, store=store, clock=clock)
    [job] = await queue_jobs(store, tenant, clock, 1)

    async def completed() -> bool:
        return bool((await job_row(store, job)).status == "completed")

    async with lifespan(app) as exchange:
        started = await exchange("lifespan.startup")
        await wait_for(completed)
        path = f"/v1/tenants/{tenant.tenant_id}/reports/jobs/{job.job_id}/download"
        scope = http_scope("GET", path, headers={"x-ssea-key": api_key})
        sent = await call(app, scope, [{"type": "http.request", "body": b""}])
        stopped = await exchange("lifespan.shutdown")

    assert started["type"] == "lifespan.startup.complete"
    assert stopped["type"] == "lifespan.shutdown.complete"
    assert sent[0]["status"] == 200
    headers = dict(sent[0]["headers"])
    body = b"".join(message.get("body", b"") for message in sent[1:])
    assert headers[b"content-length"] == str(len(body)).encode()
    assert sent[1]["more_body"] is True
    assert sent[-1] == {"type": "http.response.body", "body": b""}
    rows = parse_csv(REPORTS["early_warning_summary"], body.decode())
    assert [row["course_id"] for row in rows] == ["c1", "c2", "c3"]


@pytest.mark.usefixtures("loaded")
async def test_workers_in_the_server_can_be_switched_off(
    store: SqlStore, tenant: TenantRecord, clock: FixedClock, tmp_path: Path
) -> None:
    settings = Settings(
        database_url="sqlite://",
        master_key=MASTER_KEY,
        artifact_url=f"file://{tmp_path}",
        report_worker_enabled=False,
    )
    app = create_app(settings, store=store, clock=clock)
    [job] = await queue_jobs(store, tenant, clock, 1)

    async with lifespan(app) as exchange:
        await exchange("lifespan.startup")
        await anyio.sleep(0.5)
        stopped = await exchange("lifespan.shutdown")

    assert stopped["type"] == "lifespan.shutdown.complete"
    assert (await job_row(store, job)).status == "pending"
    tasks = app.background_tasks(await app.core())
    assert "report_worker" not in [task.__name__ for task in tasks]
