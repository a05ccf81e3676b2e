"""Report exports on a generated tenant: time and peak memory of each report type.

    python benchmarks/reports.py                        # TermShape.large(): ~10M events
    python benchmarks/reports.py --events 200000        # a quick check
    python benchmarks/reports.py --db postgres --events 1000000 --keep
    python benchmarks/reports.py --db postgres --reuse ssea_bench_reports

A build creates the schema and an ``enterprise`` tenant and loads a generated term
(``ssea_core.demo.load_demo``: catalogue, then events through the product's write
path). The default shape is ``TermShape.large()``: 20,000 users, 500 courses, 52
weeks, about 10M events; ``--events N`` scales people and courses to about N events
over the same year.

Then each of the six report types runs as a report job, the way a deployment runs it:
the job is queued, a :class:`ReportWorker` takes it and streams the rows into a local
artifact folder. Every report runs in a fresh Python process, so its peak resident
memory (``ru_maxrss``, interpreter and imports included) is its own; the same job is
then run once more under ``tracemalloc`` for the peak of the Python heap during the
job alone (that run is slower and not timed). Each artifact is checked: its header is
the report's columns and it holds as many records as the worker says.

Parameters: the periods are the last 30 days of the term (the default), retention
covers the whole term (cohorts of every week, ``max_weeks`` 12), assessment takes
every grade, the early warning summary is as of the term's last day.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
from sqlalchemy import Engine, func, select, text

from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.demo import TermShape, load_demo
from ssea_core.ingest.service import Ingestor
from ssea_core.reports import REPORT_TYPES, REPORTS, resolve_request
from ssea_core.reports.service import new_job
from ssea_core.reports.worker import ReportWorker, WorkerConfig
from ssea_core.settings import Settings
from ssea_storage.artifacts import FsspecArtifactStore
from ssea_storage.secrets import SecretBox
from ssea_storage.sql.executor import make_engine
from ssea_storage.sql.schema import artifacts, events, tenants
from ssea_storage.sql.store import SqlStore

POSTGRES_URL = os.environ.get(
    "SSEA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEFAULT_SCHEMA = "ssea_bench_reports"
TENANT_NAME = "Reports benchmark"
# A fixed key, so a kept database opens again; it guards generated data only.
MASTER_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"ssea reports benchmark").digest()
).decode()
TARGET_EVENTS = 10_000_000


# -- where the data lives --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Database:
    """A SQLite file or a PostgreSQL schema."""

    url: str
    schema: str = ""

    def engine(self) -> Engine:
        if not self.schema:
            return make_engine(self.url)
        return make_engine(
            self.url, connect_args={"options": f"-csearch_path={self.schema}"}
        )

    def create_empty(self) -> None:
        if not self.schema:
            path = self.url.split(":///", 1)[1]
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            return
        admin = make_engine(self.url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        admin.dispose()

    def drop(self) -> None:
        if not self.schema:
            return
        admin = make_engine(self.url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        admin.dispose()

    def describe(self) -> str:
        if self.schema:
            return f"PostgreSQL schema {self.schema}"
        return f"SQLite {self.url.split(':///', 1)[1]}"


def choose_database(spec: str, reuse: str | None, folder: str) -> tuple[Database, bool]:
    """The database and whether it must be built."""
    if spec.startswith("sqlite"):
        if reuse:
            return Database(f"sqlite:///{os.path.abspath(reuse)}"), False
        if spec.startswith("sqlite:///"):
            return Database(spec), True
        return Database(f"sqlite:///{os.path.join(folder, 'reports.db')}"), True
    url = POSTGRES_URL if spec == "postgres" else spec
    return Database(url, reuse or DEFAULT_SCHEMA), reuse is None


def shape_for(events_wanted: int | None) -> TermShape:
    """``TermShape.large()``, or its people and courses scaled to about N events."""
    large = TermShape.large()
    if events_wanted is None:
        return large
    factor = events_wanted / large.estimated_events
    return replace(
        large,
        students=max(4, round(large.students * factor)),
        teachers=max(1, round(large.teachers * factor)),
        courses=max(1, round(large.courses * factor)),
    )


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC)


async def build(database: Database, shape: TermShape) -> None:
    """Create the schema and a tenant, and load the term through ``load_demo``."""
    database.create_empty()
    engine = database.engine()
    store = SqlStore(engine, SecretBox(MASTER_KEY))
    store.create_schema()
    clock = FixedClock(end_of(shape.end))
    tenant = await store.operator.create_tenant(
        TENANT_NAME, "enterprise", now=clock.now()
    )
    settings = Settings(database_url="sqlite://", master_key=MASTER_KEY)
    print(
        f"building {database.describe()}: {shape.students + shape.teachers:,} users, "
        f"{shape.courses} courses, {shape.weeks} weeks from {shape.start}, about "
        f"{shape.estimated_events:,} events",
        flush=True,
    )
    started = time.perf_counter()
    last = [started]

    def progress(stage: str, done: int) -> None:
        if time.perf_counter() - last[0] >= 60:
            last[0] = time.perf_counter()
            print(f"  {stage}: {done:,} after {last[0] - started:,.0f} s", flush=True)

    summary = await load_demo(
        Ingestor(Services(store, settings, clock)),
        tenant.tenant_id,
        shape,
        progress=progress,
    )
    if database.schema:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    await store.aclose()
    print(
        f"built in {time.perf_counter() - started:,.0f} s: {summary.events:,} events "
        f"({summary.events_stored:,} stored)",
        flush=True,
    )


def find_tenant(database: Database) -> tuple[UUID, date, int]:
    """The benchmark tenant, the day of its last event and its stored events."""
    engine = database.engine()
    with engine.connect() as connection:
        tenant_id = connection.execute(
            select(tenants.c.tenant_id).order_by(tenants.c.created_at.desc()).limit(1)
        ).scalar_one()
        last, count = connection.execute(
            select(func.max(events.c.occurred_at), func.count()).where(
                events.c.tenant_id == tenant_id
            )
        ).one()
    engine.dispose()
    last_day = (
        last.date()
        if isinstance(last, datetime)
        else date.fromisoformat(str(last)[:10])
    )
    return tenant_id, last_day, int(count)


# -- one report, in a process of its own -----------------------------------------------


def rss_mb() -> float:
    """The current resident set size in MiB (Linux), else the peak so far."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if platform.system() == "Linux" else peak / 1024 / 1024


def params_for(report_type: str, first: date, last: date) -> dict[str, Any]:
    """Retention over the whole term; every other report takes its defaults."""
    if report_type == "retention_cohort":
        return {"date_from": first.isoformat(), "date_to": last.isoformat()}
    return {}


async def run_one(args: argparse.Namespace) -> dict[str, Any]:
    """Queue one job, run it with a worker, check the artifact; the figures."""
    database = Database(args.url, args.schema)
    store = SqlStore(database.engine(), SecretBox(MASTER_KEY))
    tenant_id, last = UUID(args.tenant), date.fromisoformat(args.last_day)
    first = date.fromisoformat(args.first_day)
    clock = FixedClock(end_of(last))
    settings = Settings(database_url="sqlite://", master_key=MASTER_KEY)
    folder = Path(args.folder)
    services = Services(
        store,
        settings,
        clock,
        artifacts=FsspecArtifactStore(f"file://{folder}", clock=clock),
    )
    request = resolve_request(
        args.one, params_for(args.one, first, last), last, args.format
    )
    jobs = store.for_tenant(tenant_id).report_jobs()
    job = new_job(tenant_id, request, "benchmark", clock.now())
    await jobs.create_job(job)
    worker = ReportWorker(services, worker_id="bench", config=WorkerConfig())
    before = rss_mb()

    started, cpu = time.perf_counter(), time.process_time()
    outcome = await worker.run_one()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu

    peak = peak_rss_mb()
    # The same job again under tracemalloc: the Python heap's own peak (slower, so
    # timed apart from the run above).
    await jobs.create_job(new_job(tenant_id, request, "benchmark", clock.now()))
    tracemalloc.start()
    traced_outcome = await worker.run_one()
    heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    row = await store.executor.run(
        lambda c: c.execute(
            select(artifacts).where(
                artifacts.c.tenant_id == tenant_id, artifacts.c.job_id == job.job_id
            )
        ).one()
    )
    path = folder / str(tenant_id) / row.storage_key
    records, header_ok = count_records(path, args.one, args.format)
    await store.aclose()
    return {
        "report_type": args.one,
        "format": args.format,
        "outcome": outcome,
        "wall_s": wall,
        "cpu_s": cpu,
        "bytes": row.size,
        "records": records,
        "header_ok": header_ok,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "heap_peak_mb": heap_peak,
        "verified": outcome == traced_outcome == "completed"
        and header_ok
        and path.stat().st_size == row.size,
    }


def count_records(path: Path, report_type: str, report_format: str) -> tuple[int, bool]:
    """Records in an artifact (one line each; no value holds a line break here)."""
    names = REPORTS[report_type].names  # type: ignore[index]
    with path.open(encoding="utf-8") as file:
        if report_format == "csv":
            header = file.readline().rstrip("\r\n").split(",")
            return sum(1 for _ in file), tuple(header) == names
        # The writer puts one row on a line, a comma after every row but the last.
        lines = [line.rstrip().rstrip(",") for line in file if line.startswith("{")]
        keys = tuple(json.loads(lines[0])) if lines else names
        return len(lines), keys == names


# -- the run ---------------------------------------------------------------------------


def measure(
    database: Database,
    tenant_id: UUID,
    first: date,
    last: date,
    report_format: str,
    folder: str,
) -> list[dict[str, Any]]:
    results = []
    for report_type in REPORT_TYPES:
        command = [
            sys.executable,
            __file__,
            "--one",
            report_type,
            "--url",
            database.url,
            "--schema",
            database.schema,
            "--tenant",
            str(tenant_id),
            "--first-day",
            first.isoformat(),
            "--last-day",
            last.isoformat(),
            "--format",
            report_format,
            "--folder",
            folder,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            raise SystemExit(f"{report_type} failed")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"  {report_type}: {result['wall_s']:.2f} s, {result['records']:,} rows, "
            f"peak {result['peak_rss_mb']:.0f} MiB",
            flush=True,
        )
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| report | rows | MiB out | wall s | cpu s | peak RSS MiB | "
        "Python heap peak MiB | verified |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for item in results:
        lines.append(
            f"| {item['report_type']} ({item['format']}) | {item['records']:,} | "
            f"{item['bytes'] / 2**20:,.1f} | {item['wall_s']:.2f} | "
            f"{item['cpu_s']:.2f} | {item['peak_rss_mb']:.0f} | "
            f"{item['heap_peak_mb']:.1f} | "
            f"{'yes' if item['verified'] else 'NO'} |"
        )
    return "\n".join(lines)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, help="about N events (default ~10M)")
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres or a URL")
    parser.add_argument("--reuse", help="a kept SQLite file or PostgreSQL schema")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--format", default="csv", choices=["csv", "json", "both"])
    # One report in this process (what the run starts for each report type).
    parser.add_argument("--one", choices=REPORT_TYPES, help=argparse.SUPPRESS)
    for name in ("--url", "--schema", "--tenant", "--first-day", "--last-day"):
        parser.add_argument(name, default="", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.one:
        print(json.dumps(anyio.run(run_one, args)))
        return 0
    folder = tempfile.mkdtemp(prefix="ssea-reports-")
    database, fresh = choose_database(args.db, args.reuse, folder)
    try:
        if fresh:
            anyio.run(build, database, shape_for(args.events))
        tenant_id, last, stored = find_tenant(database)
        # The term's first day (52 weeks back for a reused database): within 366 days.
        first = shape_for(args.events).start if fresh else last - timedelta(days=363)
        print(
            f"{database.describe()}: tenant {tenant_id}, {stored:,} events, "
            f"term to {last}; load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        formats = ["csv", "json"] if args.format == "both" else [args.format]
        results = []
        for report_format in formats:
            results += measure(database, tenant_id, first, last, report_format, folder)
        print()
        print(
            f"{stored:,} events ({stored / TARGET_EVENTS:.0%} of the 10M target), "
            f"Python {platform.python_version()}, {os.cpu_count()} cpus"
        )
        print(table(results))
        return 0 if all(item["verified"] for item in results) else 1
    finally:
        if not args.keep and not args.reuse:
            database.drop()
            shutil.rmtree(folder, ignore_errors=True)
        elif fresh:
            print(f"kept: {database.describe()}")


if __name__ == "__main__":
    raise SystemExit(main())
