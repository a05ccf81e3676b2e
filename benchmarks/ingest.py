"""Ingest throughput: the library call and the batch endpoint against raw inserts.

    python benchmarks/ingest.py [--events N] [--db sqlite|postgres|URL] [--batch B]
    python benchmarks/ingest.py --profile [--events 100000]

One run generates N seeded, Moodle-like events (see ``_common.generate_events``) and
writes them, each time into a fresh database with the schema:

1. library  ``await Ingestor(services).ingest_many(tenant, events, chunk_size=B)``
2. HTTP     ``POST /v1/events/batch``, 500 events a request, through
            ``SseaApp.handle`` with a real API key; JSON encoding is timed too
3. raw      the same unique rows, precomputed, inserted into the same ``events``
            table with one ``connection.execute(events.insert(), rows)`` per chunk
            (no validation, ids, sessions or rollups), and the same with the DBAPI's
            own ``executemany``

Each run is verified: stored events must equal the unique events generated, and for
the library and HTTP runs sessions and rollups are recomputed from scratch and
compared cell by cell. The script exits non-zero when any path does not verify.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import anyio
from _common import (
    MASTER_KEY,
    GeneratedEvents,
    Target,
    check_derived,
    describe_machine,
    generate_events,
    make_api_key,
    make_tenant,
    peak_rss_mb,
    stored_event_count,
)
from sqlalchemy import JSON, Boolean, Connection, Engine, Uuid, select

from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.http import Request
from ssea_core.ingest.models import MAX_BATCH
from ssea_core.ingest.service import LIBRARY_CHUNK, Ingestor
from ssea_core.ingest.sessions import SessionPolicy
from ssea_core.settings import Settings
from ssea_storage.secrets import SecretBox
from ssea_storage.sql.executor import SqlExecutor
from ssea_storage.sql.schema import UtcDateTime, events
from ssea_storage.sql.store import SqlOperatorRepository, SqlStore

TARGET_EVENTS_PER_SECOND = 30_000  # issue 2: library call into SQLite
PROFILE_EVENTS = 100_000


@dataclass(slots=True)
class Measurement:
    """One path's timing and its verification."""

    name: str
    events: int  # what the path was given: input events, or rows for raw inserts
    seconds: float
    cpu_seconds: float
    stored: int
    expected: int
    rss_mb: float = 0.0
    load: float = 0.0  # 1-minute load average when the timed section ended
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def verified(self) -> bool:
        return self.stored == self.expected and not self.problems


class Stopwatch:
    """Wall and process CPU time, summed over the timed sections only."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.load = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._wall
        self.cpu_seconds += time.process_time() - self._cpu
        self.load = os.getloadavg()[0]


# -- the measured paths -------------------------------------------------------------


def _services(store: SqlStore, now: datetime) -> Services:
    return Services(store=store, settings=Settings(), clock=FixedClock(now))


def _policy(settings: Settings) -> SessionPolicy:
    return SessionPolicy(settings.session_gap_seconds, settings.session_tail_seconds)


async def measure_library(
    target: Target, data: GeneratedEvents, batch: int
) -> Measurement:
    with target.fresh_engine("library") as engine:
        store = SqlStore(engine, SecretBox(MASTER_KEY))
        tenant = await make_tenant(store, data.now)
        services = _services(store, data.now)
        with Stopwatch() as watch:
            outcome = await Ingestor(services).ingest_many(
                tenant.tenant_id, data.events, chunk_size=batch
            )
        result = _verified(
            f"library ingest_many (chunk {batch})",
            engine,
            tenant.tenant_id,
            data,
            watch,
            services.settings,
        )
        if (outcome.stored, outcome.duplicates) != (data.unique, data.duplicates):
            result.problems.append(
                f"outcome: stored {outcome.stored} duplicates {outcome.duplicates}, "
                f"expected {data.unique} and {data.duplicates}"
            )
        if outcome.skipped:
            result.problems.append(f"{len(outcome.skipped)} events skipped")
        await store.aclose()
        return result


async def measure_http(target: Target, data: GeneratedEvents) -> Measurement:
    with target.fresh_engine("http") as engine:
        store = SqlStore(engine, SecretBox(MASTER_KEY))
        tenant = await make_tenant(store, data.now)
        key = await make_api_key(store, tenant, data.now)
        app = SseaApp(store, Settings(), clock=FixedClock(data.now))
        headers = {"X-SSEA-Key": key, "Content-Type": "application/json"}
        answers = {"queued": 0, "duplicates": 0, "skipped": 0}
        statuses: set[int] = set()
        with Stopwatch() as watch:
            for start in range(0, len(data.events), MAX_BATCH):
                body = {"events": data.events[start : start + MAX_BATCH]}
                request = Request.build(
                    "POST",
                    "/v1/events/batch",
                    headers=headers,
                    body=json.dumps(body).encode(),
                )
                response = await app.handle(request)
                statuses.add(response.status)
                if response.status == 202:
                    answer = json.loads(response.body)["data"]
                    for name in answers:
                        answers[name] += answer[name]
        result = _verified(
            f"HTTP POST /v1/events/batch ({MAX_BATCH}/request)",
            engine,
            tenant.tenant_id,
            data,
            watch,
            app.services.settings,
        )
        if statuses != {202}:
            result.problems.append(f"statuses {sorted(statuses)}, expected 202 only")
        expected = {"queued": len(data.events), "duplicates": data.duplicates}
        if answers != {**expected, "skipped": 0}:
            result.problems.append(f"answers summed to {answers}, expected {expected}")
        await store.aclose()
        return result


def _verified(
    name: str,
    engine: Engine,
    tenant_id: UUID,
    data: GeneratedEvents,
    watch: Stopwatch,
    settings: Settings,
) -> Measurement:
    return Measurement(
        name=name,
        events=len(data.events),
        seconds=watch.seconds,
        cpu_seconds=watch.cpu_seconds,
        stored=stored_event_count(engine, tenant_id),
        expected=data.unique,
        rss_mb=peak_rss_mb(),
        load=watch.load,
        problems=check_derived(engine, tenant_id, _policy(settings)),
    )


async def measure_raw(
    target: Target, data: GeneratedEvents, batch: int
) -> list[Measurement]:
    """The raw baselines, chunk by chunk: SQLAlchemy Core, then the bare DBAPI.

    Rows are prepared by the library (ids, UTC times) outside the timed sections, so
    both baselines insert exactly the rows the library path stores.
    """
    with (
        target.fresh_engine("raw_core") as core_engine,
        target.fresh_engine("raw_dbapi") as dbapi_engine,
    ):
        # Ids are computed for the first tenant and reused for the second: both
        # databases then hold the same rows but for ``tenant_id``.
        tenant_ids = []
        for engine in (core_engine, dbapi_engine):
            store = SqlStore(engine, SecretBox(MASTER_KEY))
            tenant_ids.append((await make_tenant(store, data.now)).tenant_id)
        core_watch, dbapi_watch = Stopwatch(), Stopwatch()
        raw = dbapi_engine.raw_connection()
        insert_sql = _dbapi_insert_sql(target.dialect)
        ingestor = Ingestor(
            _services(SqlStore(core_engine, SecretBox(MASTER_KEY)), data.now)
        )
        try:
            for rows in _event_rows(ingestor, tenant_ids[0], data, batch):
                with core_watch, core_engine.begin() as connection:
                    connection.execute(events.insert(), rows)
                values = _dbapi_values(rows, tenant_ids[1], target.dialect)
                with dbapi_watch:
                    _dbapi_insert(raw, insert_sql, values, target.dialect)
        finally:
            raw.close()
        driver = "sqlite3" if target.dialect == "sqlite" else "psycopg"
        results = []
        for name, engine, tenant_id, watch in (
            (f"raw SQLAlchemy executemany ({batch}/tx)", core_engine, tenant_ids[0],
             core_watch),
            (f"raw {driver} executemany ({batch}/tx)", dbapi_engine, tenant_ids[1],
             dbapi_watch),
        ):  # fmt: skip
            results.append(
                Measurement(
                    name=name,
                    events=data.unique,
                    seconds=watch.seconds,
                    cpu_seconds=watch.cpu_seconds,
                    stored=stored_event_count(engine, tenant_id),
                    expected=data.unique,
                    rss_mb=peak_rss_mb(),
                    load=watch.load,
                )
            )
        mismatch = _compare_samples(core_engine, dbapi_engine, tenant_ids)
        if mismatch:
            results[1].problems.append(mismatch)
        return results


def _event_rows(
    ingestor: Ingestor, tenant_id: UUID, data: GeneratedEvents, batch: int
) -> Iterator[list[dict[str, Any]]]:
    """Rows of ``events`` as the library stores them, new ids only, by chunk."""
    seen: set[str] = set()
    columns = [column.name for column in events.columns]
    for start in range(0, len(data.events), batch):
        prepared, _ = ingestor.prepare(tenant_id, data.events[start : start + batch])
        rows = []
        for _, item in prepared:
            if item.event_id in seen:
                continue
            seen.add(item.event_id)
            row = {"tenant_id": tenant_id, "ingested_at": data.now}
            row.update(
                (name, getattr(item, name)) for name in columns if name not in row
            )
            rows.append(row)
        yield rows


def _dbapi_insert(
    raw: Any, sql: str, values: list[tuple[Any, ...]], dialect: str
) -> None:
    """One transaction of one ``executemany`` on the bare driver connection."""
    cursor = raw.cursor()
    if dialect == "sqlite":  # the engine left the driver in autocommit mode
        cursor.execute("BEGIN IMMEDIATE")
        cursor.executemany(sql, values)
        cursor.execute("COMMIT")
    else:
        cursor.executemany(sql, values)
        raw.commit()
    cursor.close()


def _dbapi_insert_sql(dialect: str) -> str:
    names = ", ".join(column.name for column in events.columns)
    marker = "?" if dialect == "sqlite" else "%s"
    markers = ", ".join([marker] * len(events.columns))
    return f"INSERT INTO events ({names}) VALUES ({markers})"


def _dbapi_values(
    rows: Sequence[dict[str, Any]], tenant_id: UUID, dialect: str
) -> list[tuple[Any, ...]]:
    """Rows as the driver takes them, converted the way the column types would."""
    converters = [_converter(column.type, dialect) for column in events.columns]
    names = [column.name for column in events.columns]
    return [
        tuple(
            convert(tenant_id if name == "tenant_id" else row[name])
            for name, convert in zip(names, converters, strict=True)
        )
        for row in rows
    ]


def _converter(column_type: Any, dialect: str) -> Callable[[Any], Any]:
    if dialect == "sqlite":
        if isinstance(column_type, Uuid):
            return lambda value: value.hex
        if isinstance(column_type, UtcDateTime):
            return lambda value: value.replace(tzinfo=None).isoformat(
                " ", "microseconds"
            )
        if isinstance(column_type, JSON):
            return json.dumps
        if isinstance(column_type, Boolean):
            return int
        return _same
    if isinstance(column_type, JSON):
        from psycopg.types.json import Jsonb

        return Jsonb
    return _same


def _same(value: Any) -> Any:
    return value


def _compare_samples(first: Engine, second: Engine, tenant_ids: list[UUID]) -> str:
    """The raw DBAPI rows must read back exactly like the SQLAlchemy-inserted ones."""
    samples = []
    for engine, tenant_id in zip((first, second), tenant_ids, strict=True):
        with engine.connect() as connection:
            rows = connection.execute(
                select(events).where(events.c.tenant_id == tenant_id)
                .order_by(events.c.event_id).limit(200)
            )  # fmt: skip
            samples.append([row._asdict() | {"tenant_id": None} for row in rows])
    return "" if samples[0] == samples[1] else "raw DBAPI rows read back differently"


# -- the report ---------------------------------------------------------------------


def report(data: GeneratedEvents, target: Target, results: list[Measurement]) -> None:
    raw = next((r for r in results if r.name.startswith("raw SQLAlchemy")), None)
    print()
    header = (
        f"{'path':<44} {'events/s':>10} {'wall s':>8} {'cpu s':>8} "
        f"{'x raw SA':>9} {'cpu x':>6} {'peak RSS':>9} {'load':>5}  verified"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        ratio = f"{result.rate / raw.rate:.3f}" if raw and raw.rate else "-"
        cpu_ratio = (
            f"{_cpu_rate(result) / _cpu_rate(raw):.2f}" if raw and raw.rate else "-"
        )
        check = "yes" if result.verified else "NO"
        print(
            f"{result.name:<44} {result.rate:>10,.0f} {result.seconds:>8.1f} "
            f"{result.cpu_seconds:>8.1f} {ratio:>9} {cpu_ratio:>6} "
            f"{result.rss_mb:>7,.0f}MB "
            f"{result.load:>5.1f}  {check}"
        )
    print(
        "events/s: input events (duplicates included) per wall second of the timed "
        "section; raw rows: unique events. 'x raw SA': rate / raw SQLAlchemy rate; "
        "'cpu x': the same ratio per CPU second of this process (steadier on a busy "
        "machine, blind to a database server's own work). "
        "Peak RSS is the process peak so far (it includes the generated input); "
        "load is the 1-minute load average when the path finished."
    )
    for result in results:
        counted = f"stored {result.stored:,} of {result.expected:,} unique"
        print(f"  {result.name}: {counted}")
        for problem in result.problems:
            print(f"    PROBLEM {problem}")

    library = next((r for r in results if r.name.startswith("library")), None)
    if library is not None:
        met = library.rate >= TARGET_EVENTS_PER_SECOND
        where = "SQLite" if target.dialect == "sqlite" else "this database"
        print(
            f"\ntarget (issue 2): at least {TARGET_EVENTS_PER_SECOND:,} events/s into "
            f"SQLite through the library call. Measured {library.rate:,.0f} events/s "
            f"into {where}: {'MET' if met else 'NOT MET'} "
            f"({library.rate / TARGET_EVENTS_PER_SECOND:.2f} of the target)"
            + ("" if target.dialect == "sqlite" else "; the target is for SQLite")
        )


def _cpu_rate(result: Measurement) -> float:
    return result.events / result.cpu_seconds if result.cpu_seconds else 0.0


def describe_data(data: GeneratedEvents, seconds: float) -> None:
    print(
        f"events: {len(data.events):,} ({data.unique:,} unique, {data.duplicates:,} "
        f"resent duplicates, {data.late:,} delivered late), {data.users:,} users, "
        f"{data.courses} courses, {data.first:%Y-%m-%d} to {data.last:%Y-%m-%d}; "
        f"generated in {seconds:.1f} s, peak RSS {peak_rss_mb():,.0f} MB"
    )
    mix = ", ".join(f"{name} {count / data.unique:.1%}" for name, count in
                    data.types.most_common())  # fmt: skip
    print(f"types: {mix}")


# -- profiling ----------------------------------------------------------------------


class InlineExecutor(SqlExecutor):
    """Runs work on the calling thread, where cProfile (one thread only) sees it."""

    async def run(
        self, work: Callable[[Connection], Any], *, write: bool = False
    ) -> Any:
        return self.run_sync(work, write=write)


class InlineSqlStore(SqlStore):
    def __init__(self, engine: Engine, box: SecretBox) -> None:
        super().__init__(engine, box)
        self.executor = InlineExecutor(engine)
        self._operator = SqlOperatorRepository(self.executor, box)


async def profile(
    target: Target, data: GeneratedEvents, batch: int, dump: str | None
) -> None:
    with target.fresh_engine("profile") as engine:
        store = InlineSqlStore(engine, SecretBox(MASTER_KEY))
        tenant = await make_tenant(store, data.now)
        ingestor = Ingestor(_services(store, data.now))
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        await ingestor.ingest_many(tenant.tenant_id, data.events, chunk_size=batch)
        profiler.disable()
        seconds = time.perf_counter() - started
        stored = stored_event_count(engine, tenant.tenant_id)
    if dump:
        profiler.dump_stats(dump)
    print(
        f"\nprofiled library path: {len(data.events):,} events in {seconds:.1f} s "
        f"({len(data.events) / seconds:,.0f} events/s under cProfile, statements run "
        f"inline); stored {stored:,} of {data.unique:,} unique"
    )
    stats = pstats.Stats(profiler)
    _shorten_paths(stats)
    _print_breakdown(stats)
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(25)
        text = out.getvalue()
        print(f"\n== top 25 by {order} ==")
        print(text[text.index("   ncalls") :].rstrip())
    if stored != data.unique:
        raise SystemExit("profiled run stored the wrong number of events")


def _shorten_paths(stats: pstats.Stats) -> None:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    renamed = {}
    for (path, line, name), value in table.items():
        for marker in ("site-packages/", "/src/", "lib/python3.11/", "/benchmarks/"):
            if marker in path:
                path = path.split(marker, 1)[1]
                break
        renamed[(path, line, name)] = value
    stats.stats = renamed  # type: ignore[attr-defined]
    # callers inside the values still use the long names; the listings do not need them


_BREAKDOWN = (
    ("Ingestor.ingest_many (all)", "ingest/service.py", "ingest_many"),
    ("  prepare: pydantic + ids", "ingest/service.py", "prepare"),
    ("    TypeAdapter validation", "ingest/service.py", "_validate_all"),
    ("    compute_event_id", "ingest/events.py", "compute_event_id"),
    ("  get tenant (per chunk)", "ingest/service.py", "tenant"),
    ("  EventWriter.write", "sql/writes.py", "write"),
    ("    _existing (id lookups)", "sql/writes.py", "_existing"),
    ("    _insert_events", "sql/writes.py", "_insert_events"),
    ("    _sessionise", "sql/writes.py", "_sessionise"),
    ("      _tails", "sql/writes.py", "_tails"),
    ("      _append (open-session UPDATE)", "sql/writes.py", "_append"),
    ("      _rewindow (late events)", "sql/writes.py", "_rewindow"),
    ("      _save_tails (tail upsert)", "sql/writes.py", "_save_tails"),
    ("    _apply_rollups", "sql/writes.py", "_apply_rollups"),
    ("  Connection.execute (all SQL)", "sqlalchemy/engine/base.py", "execute"),
    (
        "    statement compile (cached)",
        "sqlalchemy/sql/elements.py",
        "_compile_w_cache",
    ),
    ("    bind parameter processing", "sqlalchemy/engine/default.py", "_init_compiled"),
    ("    DBAPI execute", "sqlalchemy/engine/default.py", "do_execute"),
    ("    DBAPI executemany", "sqlalchemy/engine/default.py", "do_executemany"),
)


def _print_breakdown(stats: pstats.Stats) -> None:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max((value[3] for value in table.values()), default=0.0) or 1.0
    print("\n== where the library path spends its time (cumulative) ==")
    for label, path, name in _BREAKDOWN:
        calls = seconds = 0.0
        for (file, _, function), value in table.items():
            if function == name and file.endswith(path):
                calls += value[1]
                seconds += value[3]
        if calls:
            share = seconds / total
            print(f"{label:<38} {seconds:>8.2f} s {share:>6.1%} {calls:>10,.0f} calls")


# -- the command --------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, help="events to generate (1,000,000)")
    parser.add_argument(
        "--db",
        default="sqlite",
        help="sqlite (temp dir), postgres (SSEA_BENCH_POSTGRES_URL or local), or a URL",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=LIBRARY_CHUNK,
        help=f"library chunk size and raw rows a transaction ({LIBRARY_CHUNK:,})",
    )
    parser.add_argument("--seed", type=int, default=20250901)
    parser.add_argument(
        "--paths",
        default="library,http,raw",
        help="comma-separated subset of library,http,raw",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"profile the library path only ({PROFILE_EVENTS:,} events by default)",
    )
    parser.add_argument(
        "--profile-out", metavar="FILE", help="also save the raw profile (pstats)"
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    count = args.events or (PROFILE_EVENTS if args.profile else 1_000_000)
    target = Target(args.db)
    print(f"ssea ingest benchmark: {count:,} events into {target.describe()}")
    print(f"machine: {describe_machine()}")

    started = time.perf_counter()
    data = generate_events(count, seed=args.seed)
    gc.collect()
    gc.freeze()  # the input stays alive all run; the collector need not walk it
    describe_data(data, time.perf_counter() - started)

    if args.profile:
        await profile(target, data, args.batch, args.profile_out)
        return 0
    paths = set(args.paths.split(","))
    results: list[Measurement] = []
    if "library" in paths:
        results.append(await measure_library(target, data, args.batch))
        print(f"  done: {results[-1].name}", flush=True)
    if "http" in paths:
        results.append(await measure_http(target, data))
        print(f"  done: {results[-1].name}", flush=True)
    if "raw" in paths:
        results.extend(await measure_raw(target, data, args.batch))
        print("  done: raw baselines", flush=True)
    report(data, target, results)
    return 0 if all(r.verified for r in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    return anyio.run(run, args)


if __name__ == "__main__":
    sys.exit(main())
