"""The write path (DESIGN "The write path") on SQLite and PostgreSQL.

Whatever the order, batching and repetition of events, the stored sessions, rollups
and tail state must equal what sessionising all of a user's events at once gives.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Connection, Table, select

from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.ingest.events import PreparedEvent, prepare_event
from ssea_core.ingest.models import EventIn
from ssea_core.ingest.service import Ingestor
from ssea_core.ingest.sessions import (
    SITE,
    SessionPolicy,
    Tally,
    contributions,
    sessionize,
)
from ssea_core.records import TenantRecord
from ssea_core.settings import Settings
from ssea_storage.sql.schema import (
    daily_rollups,
    events,
    hourly_rollups,
    sessions,
    tenant_days,
    tenant_hours,
    usage_daily,
    user_activity,
)
from ssea_storage.sql.store import SqlStore
from ssea_storage.sql.writes import EventWriter

POLICY = SessionPolicy()  # the defaults the settings fixture also uses
START = datetime(2026, 2, 20, 6, 0, tzinfo=UTC)
TABLES = (
    events,
    sessions,
    daily_rollups,
    hourly_rollups,
    tenant_days,
    tenant_hours,
    user_activity,
    usage_daily,
)

Raw = dict[str, Any]


# -- reading back ----------------------------------------------------------------------


async def fetch(store: SqlStore, table: Table, tenant_id: UUID) -> list[dict[str, Any]]:
    def work(connection: Connection) -> list[dict[str, Any]]:
        rows = connection.execute(select(table).where(table.c.tenant_id == tenant_id))
        return [dict(row) for row in rows.mappings()]

    return await store.executor.run(work)


async def snapshot(store: SqlStore, tenant_id: UUID) -> dict[str, list[str]]:
    """Every row the write path touches for a tenant, in a comparable form."""
    found: dict[str, list[str]] = {}
    for table in TABLES:
        found[table.name] = sorted(
            repr(sorted(row.items())) for row in await fetch(store, table, tenant_id)
        )
    return found


async def stored_state(store: SqlStore, tenant_id: UUID) -> dict[str, Any]:
    session_rows = await fetch(store, sessions, tenant_id)
    daily = await fetch(store, daily_rollups, tenant_id)
    hourly = await fetch(store, hourly_rollups, tenant_id)
    tails = await fetch(store, user_activity, tenant_id)
    return {
        "sessions": {
            row["session_id"]: (
                row["user_id"],
                row["course_id"],
                row["started_at"],
                row["ended_at"],
                row["first_event_id"],
                row["last_event_id"],
                row["event_count"],
                row["seconds"],
            )
            for row in session_rows
        },
        "daily": {
            (row["day"], row["user_id"], row["course_id"]): Tally(
                row["events"], row["sessions"], row["seconds"]
            )
            for row in daily
        },
        "hourly": {
            (row["hour"], row["course_id"]): Tally(
                row["events"], row["sessions"], row["seconds"]
            )
            for row in hourly
        },
        "days": {
            row["day"]: (
                row["events"],
                row["sessions"],
                row["seconds"],
                row["active_users"],
            )
            for row in await fetch(store, tenant_days, tenant_id)
        },
        "hours": {
            row["hour"]: (row["events"], row["sessions"], row["seconds"])
            for row in await fetch(store, tenant_hours, tenant_id)
        },
        "tails": {
            row["user_id"]: (
                row["first_seen_at"],
                row["last_seen_at"],
                row["last_event_id"],
                row["last_event_type"],
                row["last_course_id"],
                row["open_session_id"],
            )
            for row in tails
        },
    }


# -- computing from scratch ------------------------------------------------------------


def counts(event: EventIn) -> bool:
    """The hygiene defaults of docs/ingestion.md, restated independently."""
    acting_as = event.real_user_id not in (None, event.user_id)
    from_a_script = event.origin in ("cli", "restore")
    return not acting_as and not from_a_script and event.user_id != "0"


def expected_state(tenant_id: UUID, raw_events: list[Raw]) -> dict[str, Any]:
    """Sessionise every user's counted events at once: the reference result."""
    by_user: dict[str, dict[str, PreparedEvent]] = defaultdict(dict)
    for raw in raw_events:
        event = EventIn.model_validate(raw)
        if counts(event):
            prepared = prepare_event(tenant_id, event)
            by_user[prepared.user_id][prepared.event_id] = prepared

    state: dict[str, Any] = {"sessions": {}, "daily": {}, "hourly": {}, "tails": {}}
    for user_id, unique in by_user.items():
        found = sessionize(unique.values(), POLICY)
        for session in found:
            state["sessions"][session.session_id(tenant_id, user_id)] = (
                user_id,
                session.first.course_id or SITE,
                session.first.occurred_at,
                session.last.occurred_at,
                session.first.event_id,
                session.last.event_id,
                len(session.events),
                session.seconds,
            )
        cells = contributions(found)
        for (day, course_id), tally in cells.daily.items():
            state["daily"][(day, user_id, course_id)] = tally
        for key, tally in cells.hourly.items():
            total = state["hourly"].setdefault(key, Tally())
            total.events += tally.events
            total.sessions += tally.sessions
            total.seconds += tally.seconds
        last = found[-1].last
        state["tails"][user_id] = (
            found[0].first.occurred_at,
            last.occurred_at,
            last.event_id,
            last.event_type,
            last.course_id,
            found[-1].session_id(tenant_id, user_id),
        )
    state["days"], state["hours"] = tenant_wide(state["daily"], state["hourly"])
    return state


def tenant_wide(
    daily: dict[tuple[date, str, str], Tally], hourly: dict[tuple[datetime, str], Tally]
) -> tuple[dict[date, tuple[int, ...]], dict[datetime, tuple[int, ...]]]:
    """``tenant_days`` and ``tenant_hours`` as the sums of the per-user rollups."""
    days: dict[date, list[Any]] = {}
    for (day, user_id, _course), tally in daily.items():
        cell = days.setdefault(day, [0, 0, 0, set()])
        cell[0] += tally.events
        cell[1] += tally.sessions
        cell[2] += tally.seconds
        if tally.events:
            cell[3].add(user_id)
    hours: dict[datetime, list[int]] = {}
    for (hour, _course), tally in hourly.items():
        total = hours.setdefault(hour, [0, 0, 0])
        total[0] += tally.events
        total[1] += tally.sessions
        total[2] += tally.seconds
    return (
        {day: (e, s, sec, len(who)) for day, (e, s, sec, who) in days.items()},
        {hour: tuple(total) for hour, total in hours.items()},
    )


# -- generating events -----------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def random_gap(rng: random.Random) -> float:
    kind = rng.choices(
        ["tie", "short", "exact", "just_over", "medium", "long"],
        weights=[6, 50, 6, 6, 20, 12],
    )[0]
    if kind == "tie":
        return 0.0
    if kind == "short":
        return rng.randint(1, 900) + rng.choice([0.0, rng.random()])
    if kind == "exact":
        return 1800.0
    if kind == "just_over":
        return 1801.0
    if kind == "medium":
        return float(rng.randint(1000, 4000))
    return float(rng.randint(3 * 3600, 20 * 3600))


def random_events(rng: random.Random, end: datetime) -> list[Raw]:
    """A few users' events across days: ties, logins, logouts, site-level, noise."""
    raw: list[Raw] = []
    for user in ("u1", "u2", "u3", "u4"):
        moment = START + timedelta(seconds=rng.randint(0, 6 * 3600))
        for sequence in range(rng.randint(15, 45)):
            moment += timedelta(seconds=random_gap(rng))
            if moment > end:
                break
            event_type = rng.choices(
                ["course_viewed", "page_viewed", "user_login", "user_logout"],
                weights=[45, 35, 10, 10],
            )[0]
            item: Raw = {
                "event_type": event_type,
                "user_id": user,
                "course_id": rng.choice(["c1", "c2", "c3", None]),
                "timestamp": iso(moment),
                "metadata": {"seq": sequence},
            }
            noise = rng.random()
            if noise < 0.05:
                item["origin"] = rng.choice(["cli", "restore"])
            elif noise < 0.08:
                item["real_user_id"] = "admin"
            elif noise < 0.11:
                item["origin"] = "web"
                item["real_user_id"] = user  # acting as oneself still counts
            if rng.random() < 0.2:
                item["moodle_log_id"] = f"{user}-{sequence}"
            raw.append(item)
    return raw


def delivery(rng: random.Random, raw: list[Raw], order: str) -> list[list[Raw]]:
    """Split events into batches as a retrying plugin might send them."""
    sent = list(raw)
    if order == "reversed":
        sent.sort(key=lambda item: item["timestamp"], reverse=True)
    else:
        rng.shuffle(sent)
    for item in rng.sample(raw, k=len(raw) // 8):
        sent.insert(rng.randint(0, len(sent)), item)  # a re-send, anywhere
    batches: list[list[Raw]] = []
    while sent:
        size = 1 if order == "one_at_a_time" else rng.randint(1, 60)
        batches.append(sent[:size])
        sent = sent[size:]
    if batches and len(batches[0]) > 1:
        batches[0].append(batches[0][0])  # a duplicate inside one batch
    return batches


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def ingestor(store: SqlStore, settings: Settings, clock: FixedClock) -> Ingestor:
    return Ingestor(Services(store=store, settings=settings, clock=clock))


async def ingest_all(
    ingestor: Ingestor, tenant_id: UUID, batches: list[list[Raw]]
) -> None:
    for batch in batches:
        outcome = await ingestor.ingest(tenant_id, batch)
        assert outcome.skipped == [], outcome.skipped


def event(
    user: str,
    moment: datetime,
    event_type: str = "course_viewed",
    course: str | None = "c1",
    **extra: Any,
) -> Raw:
    return {
        "event_type": event_type,
        "user_id": user,
        "course_id": course,
        "timestamp": iso(moment),
        **extra,
    }


# -- (a) any delivery gives the from-scratch result ------------------------------------


@pytest.mark.parametrize(
    ("seed", "order"),
    [
        (1, "shuffled"),
        (2, "shuffled"),
        (3, "reversed"),
        (4, "one_at_a_time"),
        (5, "shuffled"),
        (6, "reversed"),
        (7, "one_at_a_time"),
        (8, "shuffled"),
    ],
)
async def test_any_delivery_gives_the_from_scratch_result(
    seed: int, order: str, ingestor: Ingestor, tenant: TenantRecord, store: SqlStore
) -> None:
    rng = random.Random(seed)
    raw = random_events(rng, end=datetime(2026, 3, 2, 12, tzinfo=UTC))
    expected = expected_state(tenant.tenant_id, raw)

    await ingest_all(ingestor, tenant.tenant_id, delivery(rng, raw, order))

    stored = await stored_state(store, tenant.tenant_id)
    assert len(expected["sessions"]) > 10  # the generator made real work
    assert stored["sessions"] == expected["sessions"]
    assert stored["daily"] == expected["daily"]
    assert stored["hourly"] == expected["hourly"]
    assert stored["days"] == expected["days"]
    assert stored["hours"] == expected["hours"]
    assert stored["tails"] == expected["tails"]
    unique_ids = {prepare_event(tenant.tenant_id, EventIn(**r)).event_id for r in raw}
    assert len(await fetch(store, events, tenant.tenant_id)) == len(unique_ids)


async def test_sending_everything_again_changes_nothing(
    ingestor: Ingestor, tenant: TenantRecord, store: SqlStore
) -> None:
    rng = random.Random(99)
    raw = random_events(rng, end=datetime(2026, 3, 2, 12, tzinfo=UTC))
    await ingest_all(ingestor, tenant.tenant_id, delivery(rng, raw, "shuffled"))
    before = await snapshot(store, tenant.tenant_id)

    await ingest_all(ingestor, tenant.tenant_id, delivery(rng, raw, "reversed"))

    assert await snapshot(store, tenant.tenant_id) == before


# -- (b) a batch that fails half-way leaves nothing behind -----------------------------


@pytest.mark.parametrize("step", ["_apply_rollups", "_save_tails"])
async def test_a_batch_aborted_half_way_leaves_no_trace(
    step: str,
    ingestor: Ingestor,
    tenant: TenantRecord,
    store: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    first = [event("u1", t), event("u2", t, course=None)]
    # In order for u1, late for u2 (re-windows), new for u3.
    second = [
        event("u1", t + timedelta(minutes=10)),
        event("u2", t - timedelta(minutes=5), "user_login"),
        event("u3", t + timedelta(minutes=1), course="c2"),
    ]
    await ingest_all(ingestor, tenant.tenant_id, [first])
    before = await snapshot(store, tenant.tenant_id)
    reached: list[int] = []

    def explode(writer: EventWriter, *args: Any, **kwargs: Any) -> None:
        inserted = writer.connection.execute(
            select(events.c.event_id).where(events.c.tenant_id == tenant.tenant_id)
        ).all()
        reached.append(len(inserted))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(EventWriter, step, explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await ingestor.ingest(tenant.tenant_id, second)

    assert reached == [len(first) + len(second)]  # it failed after the inserts
    assert await snapshot(store, tenant.tenant_id) == before
    monkeypatch.undo()
    outcome = await ingestor.ingest(tenant.tenant_id, second)
    assert (outcome.stored, outcome.duplicates) == (3, 0)
    stored = await stored_state(store, tenant.tenant_id)
    assert stored == expected_state(tenant.tenant_id, first + second)


# -- (c) activity that is not the user's own -------------------------------------------


async def test_events_not_counted_are_stored_but_move_nothing(
    ingestor: Ingestor, tenant: TenantRecord, store: SqlStore
) -> None:
    t = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    raw = [
        event("u1", t, real_user_id="admin"),  # an admin logged in as u1
        event("u1", t + timedelta(minutes=1), origin="cli"),
        event("u1", t + timedelta(minutes=2), origin="restore"),
        event("0", t + timedelta(minutes=3)),  # no user (guest, cron)
    ]

    outcome = await ingestor.ingest(tenant.tenant_id, raw)

    assert (outcome.stored, outcome.skipped) == (4, [])
    rows = await fetch(store, events, tenant.tenant_id)
    assert sorted(row["counted"] for row in rows) == [False] * 4
    for table in (
        sessions,
        daily_rollups,
        hourly_rollups,
        tenant_days,
        tenant_hours,
        user_activity,
    ):
        assert await fetch(store, table, tenant.tenant_id) == [], table.name
    usage = await fetch(store, usage_daily, tenant.tenant_id)
    assert [row["events"] for row in usage] == [4]  # stored events count on the cap


async def test_uncounted_events_neither_split_nor_join_sessions(
    ingestor: Ingestor, tenant: TenantRecord, store: SqlStore
) -> None:
    t = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    own_first = event("u1", t)
    own_second = event("u1", t + timedelta(minutes=45))
    noise = [
        event("u1", t + timedelta(minutes=20), origin="cli"),  # would bridge the gap
        event("u1", t + timedelta(minutes=30), "user_logout", real_user_id="9"),
        event("u1", t + timedelta(minutes=50), "user_login", origin="restore"),
    ]

    await ingest_all(ingestor, tenant.tenant_id, [[own_first, own_second], noise])

    stored = await stored_state(store, tenant.tenant_id)
    day = t.date()
    assert stored["daily"] == {(day, "u1", "c1"): Tally(2, 2, 120)}
    assert sorted(row[6] for row in stored["sessions"].values()) == [1, 1]
    assert stored == expected_state(tenant.tenant_id, [own_first, own_second, *noise])


async def test_acting_as_oneself_counts(
    ingestor: Ingestor, tenant: TenantRecord, store: SqlStore
) -> None:
    t = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    await ingestor.ingest(tenant.tenant_id, [event("u1", t, real_user_id="u1")])

    stored = await stored_state(store, tenant.tenant_id)
    assert stored["daily"] == {(t.date(), "u1", "c1"): Tally(1, 1, 60)}


# -- (d) late events -------------------------------------------------------------------


async def test_a_late_event_that_bridges_two_sessions_merges_them(
    ingestor: Ingestor, tenant: TenantRecord, store: SqlStore
) -> None:
    t = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    a = event("u1", t, course="c1")
    b = event("u1", t + timedelta(minutes=45), course="c1")
    late = event("u1", t + timedelta(minutes=20), course="c2")
    await ingestor.ingest(tenant.tenant_id, [a, b])
    day = t.date()
    before = await stored_state(store, tenant.tenant_id)
    assert before["daily"] == {(day, "u1", "c1"): Tally(2, 2, 120)}
    assert len(before["sessions"]) == 2

    await ingestor.ingest(tenant.tenant_id, [late])

    stored = await stored_state(store, tenant.tenant_id)
    a_id, b_id = (
        prepare_event(tenant.tenant_id, EventIn(**item)).event_id for item in (a, b)
    )
    # a → late is 20 min, late → b is 25 min, b gets the 60 s tail.
    assert list(stored["sessions"].values()) == [
        ("u1", "c1", t, t + timedelta(minutes=45), a_id, b_id, 3, 1200 + 1500 + 60)
    ]
    assert stored["daily"] == {
        (day, "u1", "c1"): Tally(events=2, sessions=1, seconds=1200 + 60),
        (day, "u1", "c2"): Tally(events=1, sessions=0, seconds=1500),
    }
    hour = t.replace(minute=0)
    assert stored["hourly"] == {
        (hour, "c1"): Tally(2, 1, 1260),
        (hour, "c2"): Tally(1, 0, 1500),
    }
    assert stored["tails"]["u1"][2] == b_id
    assert stored["tails"]["u1"][5] in stored["sessions"]


async def test_a_late_login_splits_a_session(
    ingestor: Ingestor, tenant: TenantRecord, store: SqlStore
) -> None:
    t = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    a = event("u1", t)
    b = event("u1", t + timedelta(minutes=10))
    login = event("u1", t + timedelta(minutes=4), "user_login", course=None)
    await ingestor.ingest(tenant.tenant_id, [a, b])

    await ingestor.ingest(tenant.tenant_id, [login])

    stored = await stored_state(store, tenant.tenant_id)
    day = t.date()
    assert stored["daily"] == {
        (day, "u1", "c1"): Tally(events=2, sessions=1, seconds=60 + 60),
        (day, "u1", SITE): Tally(events=1, sessions=1, seconds=360),
    }
    assert sorted(row[6] for row in stored["sessions"].values()) == [1, 2]


async def test_a_batch_both_older_and_newer_than_the_tail_moves_the_tail(
    ingestor: Ingestor, tenant: TenantRecord, store: SqlStore
) -> None:
    t = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    first = [event("u1", t + timedelta(minutes=10))]
    mixed = [
        event("u1", t, course="c2"),  # older than the tail
        event("u1", t + timedelta(minutes=20)),  # newer than the tail
    ]
    after = [event("u1", t + timedelta(minutes=25))]

    await ingest_all(ingestor, tenant.tenant_id, [first, mixed])
    newest = prepare_event(tenant.tenant_id, EventIn(**mixed[1])).event_id
    assert (await stored_state(store, tenant.tenant_id))["tails"]["u1"][2] == newest
    await ingest_all(ingestor, tenant.tenant_id, [after])

    stored = await stored_state(store, tenant.tenant_id)
    day = t.date()
    # One session: 10 + 10 + 5 minutes of gaps and the tail.
    assert stored["daily"] == {
        (day, "u1", "c2"): Tally(events=1, sessions=1, seconds=600),
        (day, "u1", "c1"): Tally(events=3, sessions=0, seconds=600 + 300 + 60),
    }
    assert stored == expected_state(tenant.tenant_id, first + mixed + after)


async def test_tenants_do_not_share_sessions(
    ingestor: Ingestor, store: SqlStore, clock: FixedClock
) -> None:
    one = await store.operator.create_tenant("One", "pro", now=clock.now())
    two = await store.operator.create_tenant("Two", "pro", now=clock.now())
    t = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

    await ingestor.ingest(one.tenant_id, [event("u1", t)])
    await ingestor.ingest(two.tenant_id, [event("u1", t + timedelta(minutes=5))])

    for tenant in (one, two):
        stored = await stored_state(store, tenant.tenant_id)
        assert list(stored["daily"].values()) == [Tally(1, 1, 60)]
        assert len(stored["sessions"]) == 1


def test_the_reference_counts_match_hand_values() -> None:
    # The reference itself: two users, one session each, known seconds.
    tenant_id = UUID(int=1)
    t = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    raw = [
        event("a", t),
        event("a", t + timedelta(minutes=5), course=None),
        event("b", t, origin="cli"),
    ]

    state = expected_state(tenant_id, raw)

    assert state["daily"] == {
        (date(2026, 3, 1), "a", "c1"): Tally(1, 1, 300),
        (date(2026, 3, 1), "a", SITE): Tally(1, 0, 60),
    }
    assert set(state["tails"]) == {"a"}
