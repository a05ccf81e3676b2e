"""Scoring a 20,000-student tenant end to end: features from SQL, score, store.

    python benchmarks/risk_tenant.py [--db sqlite|postgres|URL] [--repeat 3]
        [--students 19400] [--weeks 8] [--activity 0.05] [--modules 5]

A generated term (``ssea_core.demo``: the ``TermShape.large`` tenant of 19,400
students, 600 teachers and 500 courses, made shorter and quieter so that it loads in
minutes) is synced and ingested through the ingestion use case into a fresh database.
Then ``ssea_core.risk.service.recompute`` runs as of the day after the term, as the
scheduler would, ``--repeat`` times; each run is split into its stages (wall seconds;
``cpu s`` is this process's CPU time, the database server's excluded):

1. inputs   the SQL reads behind the features (enrolments, rollup sums, grades,
            modules, submission events, completions) in one transaction
2. build    ``build_features``: one ``StudentFeatures`` per enrolment, peers per course
3. score    ``score`` for every enrolment, and the overall row per student
4. store    ``save_scores``: the tenant's rows replaced in one transaction
5. alerts   the kept states read, the rules run, alerts and states written

The first run evaluates alerts against no kept state (every rule may fire); later runs
find the states of the run before, as a scheduler pass after new data does. On
PostgreSQL the tables are analyzed after the load, as autovacuum does on a running
server: right after a bulk load, before that, the planner misjudges the joins and the
inputs stage takes several times longer.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from _common import Target, describe_machine, make_tenant, peak_rss_mb
from sqlalchemy import func, select, text

from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.demo import TermShape, load_demo
from ssea_core.ingest.service import Ingestor
from ssea_core.risk.builder import build_features
from ssea_core.risk.scoring import score
from ssea_core.risk.service import Assessed, evaluate
from ssea_core.settings import Settings
from ssea_storage.secrets import SecretBox, new_master_key
from ssea_storage.sql.schema import daily_rollups, events, risk_scores
from ssea_storage.sql.store import SqlStore

STAGES = ("inputs", "build", "score", "store", "alerts")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres or a URL")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--students", type=int, default=19_400)
    parser.add_argument("--courses", type=int, default=500)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--activity", type=float, default=0.05)
    parser.add_argument("--modules", type=int, default=5)
    return parser.parse_args(argv)


def shape_of(args: argparse.Namespace) -> TermShape:
    return TermShape.large(
        students=args.students,
        courses=args.courses,
        teachers=max(1, round(args.courses * 1.2)),
        weeks=args.weeks,
        activity=args.activity,
        modules_per_course=args.modules,
        min_courses_per_student=1,
        max_courses_per_student=3,
    )


async def load(store: SqlStore, shape: TermShape, now: datetime) -> Any:
    tenant = await make_tenant(store, now)
    services = Services(store, Settings(database_url="sqlite://"), FixedClock(now))
    started = time.perf_counter()
    summary = await load_demo(Ingestor(services), tenant.tenant_id, shape)
    print(
        f"loaded {summary.events_stored:,} events and the catalogue in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return tenant


async def one_run(store: SqlStore, tenant_id: Any, as_of: datetime) -> dict[str, Any]:
    """One recompute, stage by stage (the same calls ``recompute`` makes)."""
    repository = store.for_tenant(tenant_id).risk()
    times: dict[str, float] = {}
    clock = time.perf_counter()
    cpu = time.process_time()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[stage] = now - clock
        clock = now

    risk_settings, alert_settings = await repository.settings()
    inputs = await repository.inputs(as_of, risk_settings)
    lap("inputs")
    features = build_features(inputs)
    lap("build")
    assessments = [score(item, risk_settings) for item in features]
    assessed = Assessed(as_of, features, assessments, risk_settings, alert_settings)
    rows = assessed.score_rows()
    lap("score")
    await repository.save_scores(rows, as_of=as_of, computed_at=as_of)
    lap("store")
    changes = await evaluate(repository, assessed, now=as_of)
    lap("alerts")
    return {
        "times": times,
        "cpu": time.process_time() - cpu,
        "enrolments": len(features),
        "students": len({item.user_id for item in features}),
        "rows": len(rows),
        "alerts": (changes.raised, changes.updated),
    }


def counts(store: SqlStore, tenant_id: Any) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {
            name: int(
                connection.execute(
                    select(func.count()).where(table.c.tenant_id == tenant_id)
                ).scalar_one()
            )
            for name, table in (
                ("events", events),
                ("rollup rows", daily_rollups),
                ("score rows", risk_scores),
            )
        }


async def run(args: argparse.Namespace) -> int:
    target = Target(args.db)
    shape = shape_of(args)
    now = datetime.combine(shape.end + timedelta(days=1), datetime.min.time(), UTC)
    print(describe_machine())
    print(f"target: {target.describe()}")
    print(
        f"term: {shape.students:,} students, {shape.teachers} teachers, "
        f"{shape.courses} courses, {shape.weeks} weeks, {shape.modules_per_course} "
        f"modules per course, about {shape.estimated_events:,} events"
    )
    with target.fresh_engine("risk") as engine:
        store = SqlStore(engine, SecretBox(new_master_key()))
        tenant = await load(store, shape, now)
        if target.dialect == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        runs = [await one_run(store, tenant.tenant_id, now) for _ in range(args.repeat)]
        sizes = counts(store, tenant.tenant_id)
        await store.aclose()
    report(runs, sizes)
    return 0


def report(runs: list[dict[str, Any]], sizes: dict[str, int]) -> None:
    first = runs[0]
    print(
        f"scored {first['enrolments']:,} enrolments of {first['students']:,} "
        f"students ({first['rows']:,} score rows); "
        + ", ".join(f"{name} {value:,}" for name, value in sizes.items())
    )
    print(
        "| run | " + " | ".join(STAGES) + " | total s | cpu s | alerts raised/updated |"
    )
    print("|---" * (len(STAGES) + 4) + "|")
    for index, item in enumerate(runs, 1):
        times = item["times"]
        cells = " | ".join(f"{times[stage]:.2f}" for stage in STAGES)
        raised, updated = item["alerts"]
        total = sum(times.values())
        print(
            f"| {index} | {cells} | {total:.2f} | {item['cpu']:.2f} | "
            f"{raised:,} / {updated:,} |"
        )
    best = min(sum(item["times"].values()) for item in runs)
    per = best / first["enrolments"] * 1e6
    print(f"best total {best:.2f} s ({per:.0f} µs per enrolment); peak RSS "
          f"{peak_rss_mb():.0f} MiB")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    return anyio.run(run, parse(argv))


if __name__ == "__main__":
    sys.exit(main())
