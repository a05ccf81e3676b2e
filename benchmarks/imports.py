"""Import throughput and peak memory of Moodle log files, at 1x and 10x their size.

    python benchmarks/imports.py                      # 100,000 and 1,000,000 rows
    python benchmarks/imports.py --rows 20000         # a quick check (20k and 200k)
    python benchmarks/imports.py --db postgres --kinds logstore

For each kind (``moodle-logs``: a *Reports → Logs → Download* CSV, newest row first;
``logstore``: a ``logstore_standard_log`` CSV dump, oldest row first) a seeded file of
``--rows`` rows and one of ``--factor`` times that are written; both describe the same
half year of sessions of the same 2,000 users, the larger one ten times as busy. Each
file is then measured in fresh Python processes of its own:

1. parse: the importer (``open_source``) iterated, nothing stored;
2. import: ``import_into`` into a fresh database (SQLite file or PostgreSQL schema)
   and ``enterprise`` tenant, the path ``ssea import`` takes.

Each process reports rows/s and the peak resident memory of the measured part: the
kernel's peak (``VmHWM``) is reset just before it starts (``/proc/self/clear_refs``),
and the resident size at that moment is subtracted, so the interpreter, the imported
modules and the set-up are not counted. Memory is flat when the 10x file's peak is at
most ``FLAT_SLACK_MIB`` above the 1x file's: at the default sizes, fewer than 10 bytes
for each of the 900,000 added rows, when keeping even an id per row would cost 50 or
more (with a smaller ``--rows`` the bound is looser). A run counts only when every
row was read and turned into an event and, for an import, the database holds exactly
one event per row and sessions and rollups were written.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

import anyio
from _common import (
    MASTER_KEY,
    Target,
    describe_machine,
    make_tenant,
    stored_event_count,
)
from sqlalchemy import func, select

from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.importers import import_into, open_source
from ssea_core.importers.logstore import LOGSTORE_COLUMNS
from ssea_core.ingest.service import Ingestor
from ssea_core.settings import Settings
from ssea_storage.secrets import SecretBox
from ssea_storage.sql.schema import daily_rollups, sessions
from ssea_storage.sql.store import SqlStore

KINDS = ("moodle-logs", "logstore")
FLAT_SLACK_MIB = 8.0  # flat: the 10x file's peak at most this far above the 1x file's
DAYS = 180
FIRST_DAY = date(2026, 1, 1)
NOW = datetime.combine(FIRST_DAY + timedelta(days=DAYS + 1), datetime.min.time(), UTC)
USERS = 2_000
FIRST_USER = 100
COURSES = 50
COURSES_PER_USER = 3
MODULES_PER_COURSE = 30  # 10 files, 10 pages, 5 quizzes, 5 assignments
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 11, 11, 9, 10, 11, 11, 10, 9, 9, 10,
                11, 10, 7)  # fmt: skip
LOG_HEADER = (
    "Time",
    "User full name",
    "Affected user",
    "Event context",
    "Component",
    "Event name",
    "Description",
    "Origin",
    "IP address",
)


# -- the activity both files describe ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    """One logged action: Unix time, user, course, module (0 for none), what."""

    at: int
    user: int
    course: int
    module: int
    what: str  # login, course, resource, page, quiz, attempt, assign, completion
    number: int = 0  # the quiz attempt's id


_USER_WEIGHTS = list(
    accumulate(random.Random(1).lognormvariate(0, 0.8) for _ in range(USERS))
)


def user_courses(user: int) -> list[int]:
    """The courses (2 to 51; 1 is Moodle's front page) a user is enrolled in."""
    return [2 + (user * 7 + k * 13) % COURSES for k in range(COURSES_PER_USER)]


def module_kind(module: int) -> str:
    index = module % 100
    if index < 10:
        return "resource"
    if index < 20:
        return "page"
    return "quiz" if index < 25 else "assign"


def day_actions(seed: int, day: int, budget: int) -> list[Action]:
    """``budget`` actions of day ``day``, in time order; the same for any file order."""
    rng = random.Random(seed * 1_000_003 + day)
    start = int(
        datetime.combine(
            FIRST_DAY + timedelta(days=day), datetime.min.time(), UTC
        ).timestamp()
    )
    actions: list[Action] = []
    while len(actions) < budget:
        actions.extend(_session(rng, start, start + 86_399))
    del actions[budget:]
    actions.sort(key=lambda action: action.at)  # stable: ties keep their order
    return actions


def _session(rng: random.Random, day_start: int, day_end: int) -> list[Action]:
    """One visit: maybe a login, a course page, then views, attempts, completions."""
    user = FIRST_USER + rng.choices(range(USERS), cum_weights=_USER_WEIGHTS)[0]
    course = rng.choice(user_courses(user))
    hour = rng.choices(range(len(HOUR_WEIGHTS)), HOUR_WEIGHTS)[0]
    at = day_start + hour * 3600 + rng.randrange(3600)
    out: list[Action] = []

    def add(what: str, module: int = 0, number: int = 0) -> None:
        nonlocal at
        out.append(Action(min(at, day_end), user, course, module, what, number))
        at += 5 + int(rng.expovariate(1 / 60))

    if rng.random() < 0.5:
        add("login")
    add("course")
    for _ in range(1 + int(rng.expovariate(1 / 8))):
        module = course * 100 + rng.randrange(MODULES_PER_COURSE)
        kind = module_kind(module)
        add(kind, module)
        if kind == "quiz" and rng.random() < 0.4:
            add("attempt", module, rng.randrange(1, 10**7))
        elif kind in ("resource", "page") and rng.random() < 0.3:
            add("completion", module)
    return out


def budgets(rows: int) -> list[int]:
    """Actions per day: ``rows`` spread evenly over the days."""
    base, extra = divmod(rows, DAYS)
    return [base + (day < extra) for day in range(DAYS)]


# -- the two files ------------------------------------------------------------------


def write_moodle_logs(path: str, rows: int, seed: int) -> None:
    """A Logs download in English, as Moodle writes it: newest row first, to the
    minute, names removed, the user only in the Description."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(LOG_HEADER)
        per_day = budgets(rows)
        for day in reversed(range(DAYS)):
            for action in reversed(day_actions(seed, day, per_day[day])):
                writer.writerow(_log_row(action))


def _log_row(action: Action) -> tuple[str, ...]:
    when = datetime.fromtimestamp(action.at, UTC)
    user, course, module = action.user, action.course, action.module
    week = module % 10 + 1
    someone = f"The user with id '{user}'"
    if action.what == "login":
        context, component, name = "System", "System", "User has logged in"
        description = f"{someone} has logged in."
    elif action.what == "course":
        context, component, name = f"Course: Course {course}", "System", "Course viewed"
        description = f"{someone} viewed the course with id '{course}'."
    elif action.what in ("resource", "page", "quiz"):
        label = {"resource": "File", "page": "Page", "quiz": "Quiz"}[action.what]
        thing = {"resource": "notes", "page": "reading", "quiz": "quiz"}[action.what]
        context, component = f"{label}: Week {week} {thing}", label
        name = "Course module viewed"
        description = (
            f"{someone} viewed the '{action.what}' activity with course module id "
            f"'{module}'."
        )
    elif action.what == "attempt":
        context, component, name = (
            f"Quiz: Week {week} quiz",
            "Quiz",
            "Quiz attempt submitted",
        )
        description = (
            f"{someone} has submitted the attempt with id '{action.number}' for the "
            f"quiz with course module id '{module}'."
        )
    elif action.what == "assign":
        context, component = f"Assignment: Week {week} essay &amp; notes", "Assignment"
        name = "The status of the submission has been viewed."
        description = (
            f"{someone} has viewed the submission status page for the assignment "
            f"with course module id '{module}'."
        )
    else:  # completion
        context, component, name = (
            "System",
            "System",
            "Course activity completion updated",
        )
        description = (
            f"{someone} updated the completion state for the course module with id "
            f"'{module}' for the user with id '{user}'."
        )
    return (
        f"{when.day}/{when:%m/%y, %H:%M}",
        "-",
        "-",
        context,
        component,
        name,
        description,
        "web",
        _ip(user),
    )


def write_logstore(path: str, rows: int, seed: int) -> None:
    """A ``logstore_standard_log`` CSV dump: every column, oldest row first, ``\\N``
    for NULL, ``other`` PHP-serialised."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(LOGSTORE_COLUMNS)
        log_id = 0
        for day, budget in enumerate(budgets(rows)):
            for action in day_actions(seed, day, budget):
                log_id += 1
                writer.writerow(_logstore_row(log_id, action))


_NULL = "\\N"
_MODULE_EVENTS = {
    # what: eventname, component, action, target, objecttable, crud, edulevel
    "resource": ("\\mod_resource\\event\\course_module_viewed", "mod_resource",
                 "viewed", "course_module", "resource", "r", 2),
    "page": ("\\mod_page\\event\\course_module_viewed", "mod_page", "viewed",
             "course_module", "page", "r", 2),
    "quiz": ("\\mod_quiz\\event\\course_module_viewed", "mod_quiz", "viewed",
             "course_module", "quiz", "r", 2),
    "attempt": ("\\mod_quiz\\event\\attempt_submitted", "mod_quiz", "submitted",
                "attempt", "quiz_attempts", "u", 2),
    "assign": ("\\mod_assign\\event\\submission_status_viewed", "mod_assign",
               "viewed", "submission_status", _NULL, "r", 0),
    "completion": ("\\core\\event\\course_module_completion_updated", "core",
                   "updated", "course_module_completion",
                   "course_modules_completion", "u", 0),
}  # fmt: skip


def _logstore_row(log_id: int, action: Action) -> tuple[Any, ...]:
    user, course, module = action.user, action.course, action.module
    related: Any = _NULL
    if action.what == "login":
        head: tuple[Any, ...] = ("\\core\\event\\user_loggedin", "core", "loggedin",
                                 "user", "user", user, "r", 0)  # fmt: skip
        where: tuple[Any, ...] = (1, 10, 0)
        course_id = 0
        other = _php({"username": f"s{user}"})
    elif action.what == "course":
        head = ("\\core\\event\\course_viewed", "core", "viewed", "course", _NULL,
                _NULL, "r", 2)  # fmt: skip
        where, course_id, other = (1_000 + course, 50, course), course, "N;"
    else:
        name, component, verb, target, table, crud, level = _MODULE_EVENTS[action.what]
        object_id: Any = module if table != _NULL else _NULL
        other = "N;"
        if action.what == "attempt":
            object_id = action.number
            related = user
            other = _php({"submitterid": user, "quizid": module})
        elif action.what == "completion":
            object_id = log_id
            related = user
            other = _php({"relateduserid": user, "overrideby": None})
        elif action.what == "assign":
            other = _php({"assignid": module})
        head = (name, component, verb, target, table, object_id, crud, level)
        where, course_id = (100_000 + module, 70, module), course
    return (
        log_id,
        *head,
        *where,
        user,
        course_id,
        related,
        0,
        other,
        action.at,
        "web",
        _ip(user),
        _NULL,
    )


def _php(values: dict[str, Any]) -> str:
    """A flat dict as PHP's ``serialize()`` writes it."""
    parts = []
    for key, value in values.items():
        parts.append(f's:{len(key)}:"{key}";')
        if value is None:
            parts.append("N;")
        elif isinstance(value, int):
            parts.append(f"i:{value};")
        else:
            parts.append(f's:{len(value.encode())}:"{value}";')
    return f"a:{len(values)}:{{{''.join(parts)}}}"


def _ip(user: int) -> str:
    return f"10.{user % 250}.{user // 250}.{user % 7 + 1}"


WRITERS = {"moodle-logs": write_moodle_logs, "logstore": write_logstore}


# -- one measured run, in a process of its own -----------------------------------


def status_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in KiB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


class PeakMemory:
    """The peak resident memory of a section, above the resident size at its start.

    Writing 5 to ``/proc/self/clear_refs`` resets the kernel's peak (``VmHWM``) to the
    current resident size, so what the set-up touched before does not count.
    """

    def __init__(self) -> None:
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")
            self.reset = True
        except OSError:
            self.reset = False  # the peak then includes the set-up
        self.start_kib = status_kib("VmRSS")

    def result(self) -> dict[str, Any]:
        peak = status_kib("VmHWM")
        return {"start_kib": self.start_kib, "peak_kib": peak, "reset": self.reset}


def source_options(kind: str) -> dict[str, Any]:
    """What ``ssea import`` passes to the importer by default."""
    return {"timezone": "UTC"} if kind == "moodle-logs" else {}


def child_parse(kind: str, path: str) -> dict[str, Any]:
    source = open_source(kind, path, **source_options(kind))
    memory = PeakMemory()
    started, cpu = time.perf_counter(), time.process_time()
    events = sum(1 for _ in source)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {
        "rows": source.tally.rows_read,
        "events": events,
        "stored": None,
        "in_database": None,
        "skipped": dict(source.tally.skipped),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        **memory.result(),
    }


async def child_import(
    kind: str, path: str, db: str, chunk_size: int
) -> dict[str, Any]:
    label = path.rsplit("/", 1)[-1].removesuffix(".csv").replace("-", "_")
    with Target(db).fresh_engine(label) as engine:
        store = SqlStore(engine, SecretBox(MASTER_KEY))
        clock = FixedClock(NOW)
        tenant = await make_tenant(store, clock.now())
        ingestor = Ingestor(Services(store=store, settings=Settings(), clock=clock))
        source = open_source(kind, path, **source_options(kind))
        memory = PeakMemory()
        started, cpu = time.perf_counter(), time.process_time()
        summary = await import_into(
            ingestor, tenant.tenant_id, source, chunk_size=chunk_size
        )
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        peak = memory.result()
        in_database = stored_event_count(engine, tenant.tenant_id)
        with engine.connect() as connection:
            session_rows = connection.execute(
                select(func.count()).select_from(sessions)
            ).scalar_one()
            rollup_rows = connection.execute(
                select(func.count()).select_from(daily_rollups)
            ).scalar_one()
        await store.aclose()
    return {
        "rows": summary.rows_read,
        "events": summary.events,
        "stored": summary.stored,
        "duplicates": summary.duplicates,
        "skipped": summary.skipped,
        "stopped": summary.stopped,
        "in_database": in_database,
        "sessions": session_rows,
        "daily_rollups": rollup_rows,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        **peak,
    }


def run_child(
    args: argparse.Namespace, kind: str, mode: str, path: str
) -> dict[str, Any]:
    """One measurement in a fresh interpreter; it answers one JSON line."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        mode,
        kind,
        path,
        "--db",
        args.db,
        "--chunk-size",
        str(args.chunk_size),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} {kind} {path} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


# -- the report -------------------------------------------------------------------


def growth_mib(result: dict[str, Any]) -> float:
    """Peak resident memory of the measured part above its start, in MiB."""
    return float(result["peak_kib"] - result["start_kib"]) / 1024


def is_flat(before_mib: float, after_mib: float) -> bool:
    """Whether the 10x peak (``after``) stays within the bound of the 1x peak."""
    return after_mib <= before_mib + FLAT_SLACK_MIB


def verify(result: dict[str, Any], rows: int, mode: str) -> list[str]:
    """Every row read and turned into an event; for imports, all of them stored."""
    problems = []
    if result["rows"] != rows:
        problems.append(f"read {result['rows']:,} rows of {rows:,}")
    if result["events"] != rows:
        problems.append(f"{result['events']:,} events from {rows:,} rows")
    if result["skipped"]:
        problems.append(f"skipped {result['skipped']}")
    if mode == "import":
        if result["stopped"]:
            problems.append(f"stopped: {result['stopped']}")
        if result["stored"] != rows or result["duplicates"]:
            problems.append(
                f"stored {result['stored']:,}, duplicates {result['duplicates']:,}"
            )
        if result["in_database"] != rows:
            problems.append(f"the database holds {result['in_database']:,} events")
        if not result["sessions"] or not result["daily_rollups"]:
            problems.append("no sessions or rollups were written")
    return problems


def report(
    files: dict[tuple[str, str], tuple[int, float]],
    results: dict[tuple[str, str, str], dict[str, Any]],
    labels: tuple[str, str],
) -> bool:
    """Print the table; True when every run verified and memory stayed flat."""
    print()
    print(
        "| kind | file | rows | MiB | step | rows/s | rows/cpu s | wall s | "
        "peak MiB above start | peak RSS MiB | load | verified |"
    )
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
    ok = True
    for (kind, label, mode), result in results.items():
        rows, size = files[(kind, label)]
        problems = verify(result, rows, mode)
        ok &= not problems
        print(
            f"| {kind} | {label} | {rows:,} | {size:,.0f} | {mode} | "
            f"{rows / result['seconds']:,.0f} | "
            f"{rows / result['cpu_seconds']:,.0f} | {result['seconds']:,.1f} | "
            f"{growth_mib(result):,.1f} | {result['peak_kib'] / 1024:,.0f} | "
            f"{result['load']:.2f} | {'yes' if not problems else 'NO'} |"
        )
        for problem in problems:
            print(f"|   | {problem} |")
    print()
    small, large = labels
    for kind in dict.fromkeys(kind for kind, _, _ in results):
        for mode in ("parse", "import"):
            if (kind, small, mode) not in results or (kind, large, mode) not in results:
                continue
            before = growth_mib(results[(kind, small, mode)])
            after = growth_mib(results[(kind, large, mode)])
            flat = is_flat(before, after)
            ok &= flat
            (rows_small, _), (rows_large, _) = (
                files[(kind, small)],
                files[(kind, large)],
            )
            per_row = (after - before) * 2**20 / max(rows_large - rows_small, 1)
            rate = (rows_large / results[(kind, large, mode)]["seconds"]) / (
                rows_small / results[(kind, small, mode)]["seconds"]
            )
            print(
                f"{kind} {mode}: peak {after:,.1f} MiB at {large} against "
                f"{before:,.1f} MiB at {small} ({per_row:+,.1f} bytes per added row), "
                f"flat: {'yes' if flat else 'NO'}; rows/s at {large} / at {small} = "
                f"{rate:.2f}"
            )
    if not all(result["reset"] for result in results.values()):
        print("note: the peak could not be reset; it includes the set-up")
    return ok


# -- the command ------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the 1x file")
    parser.add_argument("--factor", type=int, default=10, help="size of the large file")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help=f"a subset of {','.join(KINDS)}"
    )
    parser.add_argument(
        "--db",
        default="sqlite",
        help="sqlite (temp dir), postgres (SSEA_BENCH_POSTGRES_URL or local), or a URL",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=2_000, help="as ssea import --chunk-size"
    )
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--no-parse", action="store_true", help="measure imports only")
    parser.add_argument("--keep-files", action="store_true", help="keep the CSVs")
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "KIND", "PATH"), help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        mode, kind, path = args.child
        if mode == "parse":
            result = child_parse(kind, path)
        else:
            result = anyio.run(child_import, kind, path, args.db, args.chunk_size)
        print(json.dumps(result))
        return 0

    kinds = [kind for kind in args.kinds.split(",") if kind]
    unknown = set(kinds) - set(KINDS)
    if unknown or args.rows < 1 or args.factor < 1:
        raise SystemExit(f"--kinds from {', '.join(KINDS)}; --rows, --factor >= 1")
    labels = ("1x", f"{args.factor}x")
    sizes = {labels[0]: args.rows, labels[1]: args.rows * args.factor}
    print(f"ssea import benchmark into {Target(args.db).describe()}")
    print(f"machine: {describe_machine()}", flush=True)
    folder = tempfile.mkdtemp(prefix="ssea-import-files-")
    try:
        files: dict[tuple[str, str], tuple[int, float]] = {}
        for kind in kinds:
            for label, rows in sizes.items():
                path = os.path.join(folder, f"{kind}_{label}.csv")
                started = time.perf_counter()
                WRITERS[kind](path, rows, args.seed)
                size = os.path.getsize(path) / 2**20
                files[(kind, label)] = (rows, size)
                print(
                    f"wrote {path}: {rows:,} rows, {size:,.0f} MiB in "
                    f"{time.perf_counter() - started:,.0f} s",
                    flush=True,
                )
        results: dict[tuple[str, str, str], dict[str, Any]] = {}
        modes = ("import",) if args.no_parse else ("parse", "import")
        for kind, label in files:
            path = os.path.join(folder, f"{kind}_{label}.csv")
            for mode in modes:
                result = run_child(args, kind, mode, path)
                results[(kind, label, mode)] = result
                rows = files[(kind, label)][0]
                print(
                    f"  {kind} {label} {mode}: {rows / result['seconds']:,.0f} rows/s, "
                    f"peak +{growth_mib(result):,.1f} MiB, load {result['load']:.2f}",
                    flush=True,
                )
        ok = report(files, results, labels)
        print(f"load {os.getloadavg()[0]:.2f} at the end")
        return 0 if ok else 1
    finally:
        if args.keep_files:
            print(f"files kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
