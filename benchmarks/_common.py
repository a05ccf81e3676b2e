"""Shared helpers for the benchmarks: a seeded Moodle-like event stream, fresh
databases with the schema, a tenant and an API key, and checks that what a run stored
is what it was given.

Invariants:
- The same arguments always generate the same events, in the same order.
- Every benchmark writes into a database (SQLite file or PostgreSQL schema) that it
  created empty, and that is removed afterwards.
- A run counts only when the stored events equal the unique events generated
  (:func:`stored_event_count`); :func:`check_derived` also recomputes sessions and
  rollups from the stored events and compares them cell by cell.
"""

from __future__ import annotations

import os
import platform
import random
import resource
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, func, select, text

from ssea_core.auth.api_keys import generate_api_key
from ssea_core.ingest.sessions import (
    Activity,
    SessionPolicy,
    Tally,
    contributions,
    sessionize,
)
from ssea_core.records import Plan, TenantRecord
from ssea_storage.secrets import new_master_key
from ssea_storage.sql.executor import make_engine
from ssea_storage.sql.schema import (
    daily_rollups,
    events,
    hourly_rollups,
    metadata,
    sessions,
    user_activity,
)
from ssea_storage.sql.store import SqlStore

POSTGRES_URL = os.environ.get(
    "SSEA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MASTER_KEY = new_master_key()
TERM_START = datetime(2025, 9, 1, tzinfo=UTC)  # a Monday
ADMIN_ID = 2  # Moodle's first admin; "logged in as" sessions carry it as real user

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOURS = list(range(24))
_HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 11, 11, 9, 10, 11, 11, 10, 9, 9, 10,
                 11, 10, 7, 3]  # fmt: skip
_MODULE_KINDS = (
    ("resource", 8),
    ("url", 2),
    ("page", 6),
    ("quiz", 5),
    ("assign", 4),
    ("forum", 2),
    ("lesson", 3),
)
_VIEW_TYPE = {
    "resource": "resource_viewed",
    "url": "resource_viewed",
    "page": "page_viewed",
}


# -- the event stream ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Module:
    module_id: int
    course_id: int
    kind: str
    number: int  # 1-based within its kind in the course ("Week 3 quiz")


@dataclass(slots=True)
class GeneratedEvents:
    """A deterministic stream of event bodies and what it is made of."""

    events: list[dict[str, Any]]
    unique: int
    duplicates: int
    late: int
    users: int
    courses: int
    first: datetime
    last: datetime
    types: Counter[str] = field(default_factory=Counter)

    @property
    def now(self) -> datetime:
        """A "now" a week after the term, so no event is in the future."""
        return self.last + timedelta(days=7)


class _Term:
    """Users, courses and modules of one term, and how sessions are made from them."""

    def __init__(self, rng: random.Random, users: int, courses: int, weeks: int):
        self.rng = rng
        self.weeks = weeks
        self.course_ids = list(range(2, 2 + courses))  # course 1 is the site
        self.modules = self._modules()
        teachers = max(1, users // 33)
        self.teacher_ids = list(range(101, 101 + teachers))
        self.student_ids = list(range(101 + teachers, 101 + users))
        popularity = [1.0 / (1 + index / 8) for index in range(courses)]
        self.enrolled = {
            student: self._sample(self.course_ids, popularity, rng.randint(3, 6))
            for student in self.student_ids
        }
        self.teaching = {
            teacher: [self.course_ids[i % courses], rng.choice(self.course_ids)]
            for i, teacher in enumerate(self.teacher_ids)
        }
        self.activity = [rng.lognormvariate(0, 0.8) for _ in self.student_ids]
        self.next_discussion = 1

    def _sample(self, items: list[int], weights: list[float], k: int) -> list[int]:
        chosen: list[int] = []
        while len(chosen) < min(k, len(items)):
            item = self.rng.choices(items, weights)[0]
            if item not in chosen:
                chosen.append(item)
        return chosen

    def _modules(self) -> dict[int, list[Module]]:
        modules: dict[int, list[Module]] = {}
        next_id = 1000
        for course_id in self.course_ids:
            modules[course_id] = []
            for kind, count in _MODULE_KINDS:
                for number in range(1, count + 1):
                    modules[course_id].append(Module(next_id, course_id, kind, number))
                    next_id += 1
        return modules

    def session_start(self) -> int:
        rng = self.rng
        while True:
            day = rng.randrange(self.weeks * 7)
            if day % 7 < 5 or rng.random() < 0.6:  # quieter weekends
                break
        hour = rng.choices(_HOURS, _HOUR_WEIGHTS)[0]
        start = TERM_START + timedelta(days=day, hours=hour)
        return _unix(start) + rng.randrange(3600)

    def gap(self) -> int:
        if self.rng.random() < 0.03:  # a pause long enough to start a new session
            return self.rng.randint(20 * 60, 90 * 60)
        return 2 + int(self.rng.expovariate(1 / 75))

    def student_session(self, user: int) -> list[tuple[int, int, dict[str, Any]]]:
        """One visit: (time, user, body without time, user or log id) per event."""
        rng = self.rng
        at = self.session_start()
        base: dict[str, Any] = {"origin": "ws" if rng.random() < 0.15 else "web"}
        if rng.random() < 0.003:
            base["real_user_id"] = ADMIN_ID  # an admin "logged in as" the student
        base["ip"] = f"10.{user % 200}.{user // 200 % 250}.{rng.randrange(1, 250)}"
        out: list[tuple[int, int, dict[str, Any]]] = []

        def emit(event_type: str, **body: Any) -> None:
            nonlocal at
            out.append((at, user, {"event_type": event_type, **base, **body}))
            at += self.gap()

        if rng.random() < 0.6:
            emit("user_login")
        course = rng.choice(self.enrolled[user])
        emit("course_viewed", course_id=course)
        for _ in range(1 + int(rng.expovariate(1 / 7))):
            if rng.random() < 0.05:
                course = rng.choice(self.enrolled[user])
                emit("course_viewed", course_id=course)
            self._activity(emit, rng.choice(self.modules[course]))
        if rng.random() < 0.25:
            emit("user_logout")
        return out

    def _activity(self, emit: Any, module: Module) -> None:
        rng = self.rng
        where = {"course_id": module.course_id, "module_id": module.module_id}
        if module.kind in _VIEW_TYPE:
            emit(_VIEW_TYPE[module.kind], **where)
        elif module.kind == "quiz" and rng.random() < 0.4:
            self._quiz(emit, module, where)
        elif module.kind == "assign":
            emit("module_viewed", **where)
            if rng.random() < 0.3:
                due = TERM_START + timedelta(weeks=module.number * 3, hours=23)
                emit(
                    "assignment_submitted",
                    **where,
                    metadata={
                        "submission_status": "submitted",
                        "is_late": rng.random() < 0.1,
                        "due_date": due.isoformat(),
                    },
                )
                emit("module_completed", **where, metadata={"completionstate": 1})
        elif module.kind == "forum":
            emit("module_viewed", **where)
            if rng.random() < 0.2:
                self.next_discussion += rng.random() < 0.3
                emit(
                    "forum_post_created",
                    **where,
                    metadata={
                        "is_reply": rng.random() < 0.7,
                        "discussion_id": self.next_discussion,
                        "word_count": rng.randint(5, 400),
                    },
                )
        else:
            emit("module_viewed", **where)
            if rng.random() < 0.3:
                emit("module_completed", **where, metadata={"completionstate": 1})

    def _quiz(self, emit: Any, module: Module, where: dict[str, Any]) -> None:
        rng = self.rng
        attempt = rng.randint(1, 3)
        emit("module_viewed", **where)
        emit(
            "quiz_attempted",
            **where,
            metadata={
                "attempt_number": attempt,
                "time_limit_seconds": 1800,
                "quiz_name": f"Week {module.number} quiz",
            },
        )
        if rng.random() < 0.1:
            return  # abandoned attempt
        raw = rng.randint(0, 10)
        emit(
            "quiz_submitted",
            **where,
            metadata={
                "attempt_number": attempt,
                "score_percent": raw * 10.0,
                "raw_score": float(raw),
                "time_taken_seconds": rng.randint(120, 1800),
                "state": "finished",
            },
        )
        emit(
            "grade_updated",
            **where,
            metadata={
                "finalgrade": float(raw),
                "grademin": 0.0,
                "grademax": 10.0,
                "gradepass": 5.0,
                "percent": raw * 10.0,
                "passed": raw >= 5,
                "item_type": "mod",
            },
        )
        if raw >= 5:
            emit("module_completed", **where, metadata={"completionstate": 2})

    def teacher_session(self, user: int) -> list[tuple[int, int, dict[str, Any]]]:
        rng = self.rng
        at = self.session_start()
        course = rng.choice(self.teaching[user])
        out: list[tuple[int, int, dict[str, Any]]] = []
        for event_type in ("user_login", "course_viewed"):
            out.append((at, user, {"event_type": event_type, "course_id": course}))
            at += self.gap()
        for _ in range(rng.randint(1, 8)):
            module = rng.choice(self.modules[course])
            where = {"course_id": course, "module_id": module.module_id}
            if module.kind in ("quiz", "assign") and rng.random() < 0.5:
                body: dict[str, Any] = {
                    "event_type": "grade_item_updated",
                    **where,
                    "metadata": {
                        "item_name": f"Week {module.number} {module.kind}",
                        "item_type": "mod",
                        "item_module": module.kind,
                        "grademax": 10.0 if module.kind == "quiz" else 100.0,
                        "gradepass": 5.0 if module.kind == "quiz" else 50.0,
                    },
                }
            else:
                body = {"event_type": "page_viewed", **where}
            out.append((at, user, {**body, "origin": "web"}))
            at += self.gap()
        return out

    def system_events(self, budget: int) -> list[tuple[int, int, dict[str, Any]]]:
        """Enrolments at the start of term and completions at its end, by cron."""
        rng = self.rng
        out: list[tuple[int, int, dict[str, Any]]] = []
        pairs = [(s, c) for s, courses in self.enrolled.items() for c in courses]
        rng.shuffle(pairs)
        first_week = _unix(TERM_START - timedelta(days=3))
        last_week = _unix(TERM_START + timedelta(weeks=self.weeks - 1))
        for student, course in pairs[: budget * 4 // 5]:
            at = first_week + rng.randrange(7 * 86_400)
            body = {"event_type": "user_enrolled", "course_id": course, "origin": "cli"}
            out.append((at, student, body))
        for student, course in pairs[: budget // 5]:
            at = last_week + rng.randrange(7 * 86_400)
            body = {"event_type": "course_completed", "course_id": course}
            out.append((at, student, {**body, "origin": "cli"}))
        return out


def _unix(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def generate_events(
    count: int,
    *,
    seed: int = 20250901,
    users: int = 2_000,
    courses: int = 50,
    weeks: int = 15,
    late_fraction: float = 0.01,
    duplicate_fraction: float = 0.005,
) -> GeneratedEvents:
    """``count`` event bodies as a Moodle site's plugin would send them over a term.

    The stream is in the order the plugin delivers: by time, with ``late_fraction`` of
    the events delivered later than their time (a retry queue, an offline phone) and
    ``duplicate_fraction`` of them sent a second time (a retried batch). Ids and times
    are numbers, as Moodle has them; ``moodle_log_id`` grows with time like a log
    store's id.
    """
    rng = random.Random(seed)
    term = _Term(rng, users, courses, weeks)
    duplicates = round(count * duplicate_fraction)
    unique = count - duplicates

    timeline = term.system_events(unique // 100)
    while len(timeline) < unique:
        if rng.random() < 0.04:
            timeline.extend(term.teacher_session(rng.choice(term.teacher_ids)))
        else:
            [student] = rng.choices(term.student_ids, term.activity)
            timeline.extend(term.student_session(student))
    del timeline[unique:]
    timeline.sort(key=lambda item: item[0])  # stable: a session keeps its order

    deliveries: list[tuple[float, int, int]] = []  # (delivered at, order, index)
    late = set(rng.sample(range(unique), round(unique * late_fraction)))
    for index, (at, _, _) in enumerate(timeline):
        deliveries.append((at + _delay(rng) if index in late else at, index, index))
    for index in rng.sample(range(unique), duplicates):
        resent = deliveries[index][0] + rng.uniform(1, 600)
        deliveries.append((resent, unique + index, index))
    deliveries.sort()

    bodies: list[dict[str, Any]] = []
    for index, (at, user, body) in enumerate(timeline):
        bodies.append(
            {
                **body,
                "user_id": user,
                "timestamp": at,
                "moodle_log_id": 5_000_000 + index,
            }
        )
    stream = [
        dict(bodies[index]) if order >= unique else bodies[index]
        for _, order, index in deliveries
    ]
    return GeneratedEvents(
        events=stream,
        unique=unique,
        duplicates=duplicates,
        late=len(late),
        users=len({body["user_id"] for body in bodies}),
        courses=len({body.get("course_id") for body in bodies} - {None}),
        first=_EPOCH + timedelta(seconds=timeline[0][0]),
        last=_EPOCH + timedelta(seconds=timeline[-1][0]),
        types=Counter(body["event_type"] for body in bodies),
    )


def _delay(rng: random.Random) -> float:
    """How late a late event arrives: mostly minutes, sometimes hours or days."""
    roll = rng.random()
    if roll < 0.7:
        return rng.uniform(60, 1800)
    if roll < 0.95:
        return rng.uniform(3600, 12 * 3600)
    return rng.uniform(86_400, 4 * 86_400)


# -- databases, tenants, keys -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Where benchmarks write: ``sqlite`` (temp dir), ``postgres``, or a URL."""

    spec: str

    @property
    def dialect(self) -> str:
        return "sqlite" if self.spec.startswith("sqlite") else "postgresql"

    def describe(self) -> str:
        if self.spec == "sqlite":
            return "SQLite file in a temp dir (WAL, synchronous=NORMAL)"
        if self.spec == "postgres":
            return f"PostgreSQL {_hide_password(POSTGRES_URL)}, fresh schema per run"
        return _hide_password(self.spec)

    @contextmanager
    def fresh_engine(self, label: str) -> Iterator[Engine]:
        """An engine on an empty database with the ssea schema; removed afterwards."""
        if self.dialect == "sqlite":
            with _sqlite_database(self.spec, label) as engine:
                yield engine
        else:
            url = POSTGRES_URL if self.spec == "postgres" else self.spec
            with _postgres_schema(url, label) as engine:
                yield engine


def _hide_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}{at}{host}"


@contextmanager
def _sqlite_database(spec: str, label: str) -> Iterator[Engine]:
    if spec == "sqlite":
        folder = tempfile.mkdtemp(prefix="ssea-bench-")
        path = os.path.join(folder, f"{label}.db")
    else:
        base = spec.split(":///", 1)[1]
        folder = ""
        stem, _ = os.path.splitext(base)
        path = f"{stem}-{label}.db"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    engine = make_engine(f"sqlite:///{path}")
    try:
        metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _postgres_schema(url: str, label: str) -> Iterator[Engine]:
    schema = f"ssea_bench_{os.getpid()}_{label}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


async def make_tenant(
    store: SqlStore, now: datetime, plan: Plan = "enterprise"
) -> TenantRecord:
    """A tenant; ``enterprise`` has no daily cap, so a cap never limits a benchmark."""
    return await store.operator.create_tenant("Benchmark University", plan, now=now)


async def make_api_key(store: SqlStore, tenant: TenantRecord, now: datetime) -> str:
    """A new API key of the tenant, in plaintext."""
    key = generate_api_key()
    await store.for_tenant(tenant.tenant_id).create_api_key(
        key_hash=key.key_hash,
        prefix=key.prefix,
        name="benchmark",
        now=now,
        expires_at=None,
    )
    return key.plaintext


# -- verification -------------------------------------------------------------------


def stored_event_count(engine: Engine, tenant_id: UUID) -> int:
    """How many events the database holds for the tenant."""
    with engine.connect() as connection:
        query = select(func.count()).where(events.c.tenant_id == tenant_id)
        return int(connection.execute(query.select_from(events)).scalar_one())


def check_derived(engine: Engine, tenant_id: UUID, policy: SessionPolicy) -> list[str]:
    """Recompute sessions and rollups from the stored events; list every difference.

    An empty list means the sessions table, both rollups and the per-user tail state
    equal sessionising all stored counted events from scratch.
    """
    by_user: dict[str, list[Activity]] = defaultdict(list)
    with engine.connect() as connection:
        query = select(
            events.c.user_id,
            events.c.occurred_at,
            events.c.event_id,
            events.c.event_type,
            events.c.course_id,
        ).where(events.c.tenant_id == tenant_id, events.c.counted.is_(True))
        for row in connection.execute(query):
            by_user[row[0]].append(Activity(row[1], row[2], row[3], row[4]))
        stored = _stored_derived(connection, tenant_id)

    daily: dict[tuple[date, str, str], tuple[int, int, int]] = {}
    hourly: dict[tuple[datetime, str], Tally] = defaultdict(Tally)
    session_count = session_seconds = 0
    for user_id, activities in by_user.items():
        found = sessionize(activities, policy)
        session_count += len(found)
        session_seconds += sum(session.seconds for session in found)
        cells = contributions(found)
        for (day, course), tally in cells.daily.items():
            daily[(day, user_id, course)] = (
                tally.events,
                tally.sessions,
                tally.seconds,
            )
        for key, tally in cells.hourly.items():
            _accumulate(hourly[key], tally)
    expected = {
        "sessions": (session_count, session_seconds),
        "users": len(by_user),
        "daily": daily,
        "hourly": {k: (t.events, t.sessions, t.seconds) for k, t in hourly.items()},
    }
    return [
        f"{name}: expected {_summary(expected[name])}, stored {_summary(stored[name])}"
        + _cells_differing(expected[name], stored[name])
        for name in expected
        if expected[name] != stored[name]
    ]


def _accumulate(cell: Tally, tally: Tally) -> None:
    cell.events += tally.events
    cell.sessions += tally.sessions
    cell.seconds += tally.seconds


def _stored_derived(connection: Any, tenant_id: UUID) -> dict[str, Any]:
    mine = sessions.c.tenant_id == tenant_id
    totals = connection.execute(
        select(func.count(), func.coalesce(func.sum(sessions.c.seconds), 0)).where(mine)
    ).one()
    users = connection.execute(
        select(func.count())
        .select_from(user_activity)
        .where(user_activity.c.tenant_id == tenant_id)
    ).scalar_one()
    daily = {
        (row.day, row.user_id, row.course_id): (row.events, row.sessions, row.seconds)
        for row in connection.execute(
            select(daily_rollups).where(daily_rollups.c.tenant_id == tenant_id)
        )
        if row.events or row.sessions or row.seconds
    }
    hourly = {
        (row.hour, row.course_id): (row.events, row.sessions, row.seconds)
        for row in connection.execute(
            select(hourly_rollups).where(hourly_rollups.c.tenant_id == tenant_id)
        )
        if row.events or row.sessions or row.seconds
    }
    return {
        "sessions": (int(totals[0]), int(totals[1])),
        "users": int(users),
        "daily": daily,
        "hourly": hourly,
    }


def _summary(value: Any) -> str:
    if isinstance(value, dict):
        sums = [sum(cell[i] for cell in value.values()) for i in range(3)]
        return f"{len(value)} cells, events/sessions/seconds {sums}"
    return str(value)


def _cells_differing(expected: Any, stored: Any) -> str:
    if not isinstance(expected, dict):
        return ""
    keys = set(expected) | set(stored)
    wrong = [key for key in keys if expected.get(key) != stored.get(key)]
    return f" ({len(wrong)} cells differ)"


# -- the machine --------------------------------------------------------------------


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if platform.system() == "Linux" else peak / 1024 / 1024


def describe_machine() -> str:
    """One line on where the figures come from."""
    import sqlite3

    import pydantic
    import sqlalchemy

    import ssea_core

    cpus = os.cpu_count() or 0
    code = os.path.dirname(os.path.dirname(ssea_core.__file__))
    return (
        f"ssea from {code}; "
        f"{platform.system()} {platform.machine()}, {cpus} cpus, "
        f"load {os.getloadavg()[0]:.2f}, Python {platform.python_version()}, "
        f"SQLAlchemy {sqlalchemy.__version__}, pydantic {pydantic.__version__}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
