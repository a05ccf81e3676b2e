"""The write path of events: insert-if-absent, sessions and rollups, one transaction.

Runs inside the caller's transaction on one connection. Only events that were really
new move sessions and rollups. In-order events extend a user's open session from the
small tail state in ``user_activity``; an event older than the tail re-sessionises the
window from the start of the session before it to the end of the session after it
(see ``ssea_core.ingest.sessions`` for why that window is enough).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from itertools import repeat
from operator import attrgetter
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Dialect,
    Integer,
    String,
    Uuid,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ssea_core.ingest.events import PreparedEvent
from ssea_core.ingest.sessions import (
    Activity,
    Contributions,
    Session,
    SessionPolicy,
    Tally,
    Timed,
    contributions,
    difference,
    order_key,
    sessionize,
)
from ssea_core.records import IngestResult
from ssea_storage.sql.schema import (
    UtcDateTime,
    daily_rollups,
    events,
    hourly_rollups,
    risk_pending,
    sessions,
    tenant_days,
    tenant_hours,
    usage_daily,
    user_activity,
)

_CHUNK = 900  # stays under SQLite's bound-parameter limit in IN lists


def upsert(connection: Connection, table: Any) -> Any:
    """The dialect's INSERT that supports ON CONFLICT."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def mark_risk_pending(connection: Connection, tenant_id: UUID, now: datetime) -> None:
    """Mark a tenant for a risk recompute in the caller's transaction (SPEC §6).

    An existing mark moves to ``now``: the scheduler clears a mark only if it is still
    the one it read, so a change made while a recompute runs is never forgotten.
    """
    statement = upsert(connection, risk_pending).values(tenant_id=tenant_id, since=now)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id"], set_={"since": statement.excluded.since}
        )
    )


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


#: One statement for every extended open session of a batch (run as executemany).
_EXTEND_SESSION = (
    update(sessions)
    .where(
        sessions.c.tenant_id == bindparam("owner", type_=Uuid()),
        sessions.c.session_id == bindparam("session", type_=String()),
    )
    .values(
        ended_at=bindparam("ended", type_=UtcDateTime()),
        last_event_id=bindparam("last_id", type_=String()),
        event_count=sessions.c.event_count + bindparam("more_events", type_=Integer()),
        seconds=sessions.c.seconds + bindparam("more_seconds", type_=BigInteger()),
    )
)
_INSERT_EVENT = events.insert()
_INSERT_SESSION = sessions.insert()
#: What an event row takes from a prepared event; tenant and ingestion time are shared.
_EVENT_FIELDS = (
    "event_id",
    "event_type",
    "user_id",
    "course_id",
    "module_id",
    "occurred_at",
    "metadata",
    "moodle_log_id",
    "real_user_id",
    "origin",
    "counted",
)
#: Which of up to ``_CHUNK`` ids are stored; a shorter list repeats its last id.
_EXISTING_NAMES = ("tenant", *(f"id{n}" for n in range(_CHUNK)))
_EXISTING = select(events.c.event_id).where(
    events.c.tenant_id == bindparam("tenant", type_=Uuid()),
    events.c.event_id.in_(
        [bindparam(name, type_=String()) for name in _EXISTING_NAMES[1:]]
    ),
)


@cache
def _adding_upsert(dialect_name: str, table: Any) -> Any:
    """INSERT a rollup row, or add its counters to the stored one."""
    module = postgresql if dialect_name == "postgresql" else sqlite
    statement = module.insert(table)
    keys = [column.name for column in table.primary_key.columns]
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={
            name: table.c[name] + statement.excluded[name]
            for name in _ADDED[table.name]
        },
    )


@cache
def _tail_upsert(dialect_name: str) -> Any:
    """INSERT a user's tail state, or replace the stored one."""
    module = postgresql if dialect_name == "postgresql" else sqlite
    statement = module.insert(user_activity)
    columns = [c.name for c in user_activity.columns if not c.primary_key]
    return statement.on_conflict_do_update(
        index_elements=["tenant_id", "user_id"],
        set_={name: statement.excluded[name] for name in columns},
    )


def execute_many(
    connection: Connection,
    statement: Any,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Run ``statement`` once per row, as one DBAPI executemany.

    ``columns`` holds each varying parameter's values in row order; ``constants`` are
    the same in every row. The SQL is SQLAlchemy's, compiled once per dialect, and
    every value goes through its type's bind processor as usual (a constant once);
    only SQLAlchemy's per-row bookkeeping is skipped, which is most of an
    executemany's time in Python. Without positional parameters (psycopg) the
    statement runs through ``Connection.execute`` instead.
    """
    constants = constants or {}
    count = len(next(iter(columns.values()), ()))
    if not count:
        return
    plan = _plan(connection, statement, (*columns, *constants))
    if plan is None:
        rows = [
            dict(zip(columns, values, strict=True), **constants)
            for values in zip(*columns.values(), strict=True)
        ]
        connection.execute(statement, rows)
        return
    sql, converters = plan
    values: list[Iterable[Any]] = []
    for name, convert in converters:
        if name in constants:
            one = constants[name]
            values.append(repeat(one if convert is None else convert(one), count))
        elif convert is None:
            values.append(columns[name])
        else:
            values.append(map(convert, columns[name]))
    connection.exec_driver_sql(sql, list(zip(*values, strict=True)))


_Plan = tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]
_PLANS: WeakKeyDictionary[Dialect, dict[tuple[int, tuple[str, ...]], Any]] = (
    WeakKeyDictionary()
)


def _plan(
    connection: Connection, statement: Any, names: tuple[str, ...]
) -> _Plan | None:
    """The positional SQL of ``statement`` and each parameter's bind processor.

    None when the dialect's parameters are not positional, or when the statement
    needs what only ``Connection.execute`` does (defaults computed per row, a schema
    translation): the caller then goes through SQLAlchemy.
    """
    if connection.get_execution_options().get("schema_translate_map"):
        return None
    dialect = connection.dialect
    plans = _PLANS.setdefault(dialect, {})
    key = (id(statement), names)
    cached = plans.get(key)
    if cached is not None and cached[0] is statement:
        plan: _Plan | None = cached[1]
        return plan
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(names))
    usable = (
        compiled.positional
        and compiled.positiontup is not None
        and not compiled.insert_prefetch
        and not compiled.update_prefetch
        and set(compiled.positiontup) <= set(names)
    )
    plan = None
    if usable:
        converters = []
        for name in compiled.positiontup:
            bind_type = compiled.binds[name].type
            convert = bind_type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None and isinstance(bind_type, JSON):
                convert = _json_converter(convert)
            converters.append((name, convert))
        plan = (compiled.string, converters)
    plans[key] = (statement, plan)
    return plan


def _lookup_plan(
    connection: Connection,
) -> tuple[str, Callable[[Any], Any] | None] | None:
    """``_EXISTING`` as positional SQL and the tenant's bind processor, if usable."""
    plan = _plan(connection, _EXISTING, _EXISTING_NAMES)
    if plan is None:
        return None
    sql, converters = plan
    names = tuple(name for name, _ in converters)
    if names != _EXISTING_NAMES or any(convert for _, convert in converters[1:]):
        return None
    return sql, converters[0][1]


_event_id_of = attrgetter("event_id")


def _json_converter(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # Most events carry no metadata: encode the empty object once, not per row.
    empty = convert({})

    def encode(value: Any) -> Any:
        if type(value) is dict and not value:
            return empty
        return convert(value)

    return encode


def _rows_to_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows that all have the same keys, as one list of values per key."""
    if not rows:
        return {}
    return {name: [row[name] for row in rows] for name in rows[0]}


def _key(at: datetime, event_id: str) -> Any:
    """A bound (time, event id) pair to compare against ordering keys in SQL."""
    return tuple_(literal(at, UtcDateTime()), literal(event_id, String()))


def _advisory_key(tenant_id: UUID) -> int:
    digest = hashlib.sha256(b"ssea-ingest|" + tenant_id.bytes).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class EventWriter:
    """Writes one batch of prepared events for one tenant on one connection."""

    def __init__(
        self, connection: Connection, tenant_id: UUID, policy: SessionPolicy
    ) -> None:
        self.connection = connection
        self.tenant_id = tenant_id
        self.policy = policy
        self.daily: dict[tuple[date, str, str], Tally] = {}
        self.hourly: dict[tuple[datetime, str], Tally] = {}
        #: Open sessions that in-order events extend, updated in one executemany.
        self.extensions: list[dict[str, Any]] = []

    def write(
        self, batch: Sequence[PreparedEvent], *, daily_cap: int | None, now: datetime
    ) -> IngestResult:
        if self.connection.dialect.name == "postgresql":
            # One writer per tenant: sessions and caps stay exact under concurrency.
            lock = func.pg_advisory_xact_lock(_advisory_key(self.tenant_id))
            self.connection.execute(select(lock))
        unique: dict[str, PreparedEvent] = {}
        for item in batch:
            unique.setdefault(item.event_id, item)
        existing, candidates, over_cap = self._store_new(unique, daily_cap, now)

        if candidates:
            self._count_usage(len(candidates), now)
            self._sessionise([item for item in candidates if item.counted])
            self._apply_rollups()
            mark_risk_pending(self.connection, self.tenant_id, now)
        stored = {item.event_id for item in candidates}
        return IngestResult(
            stored=[item.event_id for item in candidates],
            duplicates=[item.event_id for item in batch if item.event_id in existing],
            over_cap=[
                item.event_id for item in over_cap if item.event_id not in stored
            ],
        )

    # -- events and usage ---------------------------------------------------------

    def _store_new(
        self, unique: dict[str, PreparedEvent], daily_cap: int | None, now: datetime
    ) -> tuple[set[str], list[PreparedEvent], list[PreparedEvent]]:
        """Insert the events not stored yet, within the day's room.

        Answers the ids already stored, the events stored now and those over the cap.
        """
        room = None if daily_cap is None else max(0, daily_cap - self._used_today(now))
        if self.connection.dialect.name == "postgresql" and (
            room is None or room >= len(unique)
        ):
            # The primary key finds duplicates itself: a pre-select can be planned on
            # the wrong index while a tenant's statistics lag behind a large import.
            fresh = self._insert_returning(list(unique.values()), now)
            stored = [item for key, item in unique.items() if key in fresh]
            return set(unique) - fresh, stored, []
        existing = self._existing(list(unique))
        candidates = [item for key, item in unique.items() if key not in existing]
        over_cap: list[PreparedEvent] = []
        if room is not None:
            candidates, over_cap = candidates[:room], candidates[room:]
        if candidates:
            self._insert_events(candidates, now)
        return existing, candidates, over_cap

    def _insert_returning(
        self, items: Sequence[PreparedEvent], now: datetime
    ) -> set[str]:
        statement = (
            postgresql.insert(events)
            .on_conflict_do_nothing(index_elements=["tenant_id", "event_id"])
            .returning(events.c.event_id)
        )
        result = self.connection.execute(statement, self._event_rows(items, now))
        return set(result.scalars())

    def _existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        plan = _lookup_plan(self.connection)
        if plan is None:
            for part in _chunks(ids):
                rows = self.connection.execute(
                    select(events.c.event_id).where(
                        events.c.tenant_id == self.tenant_id,
                        events.c.event_id.in_(part),
                    )
                )
                found.update(row[0] for row in rows)
            return found
        sql, convert_tenant = plan
        tenant = (
            self.tenant_id if convert_tenant is None else convert_tenant(self.tenant_id)
        )
        for part in _chunks(ids):
            padding = [part[-1]] * (_CHUNK - len(part))
            rows = self.connection.exec_driver_sql(sql, (tenant, *part, *padding))
            found.update(row[0] for row in rows)
        return found

    def _insert_events(self, items: Sequence[PreparedEvent], now: datetime) -> None:
        # In id order: consecutive rows land on neighbouring pages of the key's index.
        ordered = sorted(items, key=_event_id_of)
        columns = {name: list(map(attrgetter(name), ordered)) for name in _EVENT_FIELDS}
        constants = {"tenant_id": self.tenant_id, "ingested_at": now}
        execute_many(self.connection, _INSERT_EVENT, columns, constants)

    def _event_rows(
        self, items: Sequence[PreparedEvent], now: datetime
    ) -> list[dict[str, Any]]:
        return [
            {
                "tenant_id": self.tenant_id,
                "event_id": item.event_id,
                "event_type": item.event_type,
                "user_id": item.user_id,
                "course_id": item.course_id,
                "module_id": item.module_id,
                "occurred_at": item.occurred_at,
                "metadata": item.metadata,
                "moodle_log_id": item.moodle_log_id,
                "real_user_id": item.real_user_id,
                "origin": item.origin,
                "counted": item.counted,
                "ingested_at": now,
            }
            for item in items
        ]

    def _used_today(self, now: datetime) -> int:
        used = self.connection.execute(
            select(usage_daily.c.events).where(
                usage_daily.c.tenant_id == self.tenant_id,
                usage_daily.c.day == now.date(),
            )
        ).scalar_one_or_none()
        return int(used or 0)

    def _count_usage(self, count: int, now: datetime) -> None:
        statement = upsert(self.connection, usage_daily).values(
            tenant_id=self.tenant_id, day=now.date(), events=count
        )
        self.connection.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "day"],
                set_={"events": usage_daily.c.events + statement.excluded.events},
            )
        )

    # -- sessions -------------------------------------------------------------------

    def _sessionise(self, items: Sequence[PreparedEvent]) -> None:
        by_user: dict[str, list[PreparedEvent]] = defaultdict(list)
        for item in items:
            by_user[item.user_id].append(item)
        tails = self._tails(list(by_user))
        new_sessions: list[dict[str, Any]] = []
        self.extensions.clear()
        tail_rows: list[dict[str, Any]] = []
        for user_id, user_events in by_user.items():
            user_events.sort(key=order_key)
            tail = tails.get(user_id)
            if tail is None or order_key(user_events[0]) > (
                tail["last_seen_at"],
                tail["last_event_id"],
            ):
                row = self._append(user_id, user_events, tail, new_sessions)
            else:
                row = self._rewindow(user_id, user_events, tail, new_sessions)
            tail_rows.append(row)
        execute_many(
            self.connection, _EXTEND_SESSION, _rows_to_columns(self.extensions)
        )
        execute_many(self.connection, _INSERT_SESSION, _rows_to_columns(new_sessions))
        self._save_tails(tail_rows)

    def _tails(self, user_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for part in _chunks(user_ids):
            rows = self.connection.execute(
                select(user_activity).where(
                    user_activity.c.tenant_id == self.tenant_id,
                    user_activity.c.user_id.in_(part),
                )
            ).mappings()
            found.update((row["user_id"], dict(row)) for row in rows)
        return found

    def _append(
        self,
        user_id: str,
        user_events: list[PreparedEvent],
        tail: dict[str, Any] | None,
        new_sessions: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Events all after the user's newest: extend the open session, add more."""
        window: list[Timed] = list(user_events)
        if tail is not None:
            last = Activity(
                tail["last_seen_at"],
                tail["last_event_id"],
                tail["last_event_type"],
                tail["last_course_id"],
            )
            window.insert(0, last)
        computed = sessionize(window, self.policy)
        self._record_appended(user_id, computed, after_tail=tail is not None)

        open_id = ""
        if tail is not None:
            extended, computed = computed[0], computed[1:]
            open_id = tail["open_session_id"]
            self.extensions.append(
                {
                    "owner": self.tenant_id,
                    "session": open_id,
                    "ended": extended.last.occurred_at,
                    "last_id": extended.last.event_id,
                    "more_events": len(extended.events) - 1,
                    "more_seconds": extended.seconds - self.policy.tail_seconds,
                }
            )
        for session in computed:
            new_sessions.append(self._session_row(user_id, session))
            open_id = new_sessions[-1]["session_id"]
        first_seen = tail["first_seen_at"] if tail else user_events[0].occurred_at
        return self._tail_row(user_id, user_events[-1], open_id, first_seen)

    def _rewindow(
        self,
        user_id: str,
        user_events: list[PreparedEvent],
        tail: dict[str, Any],
        new_sessions: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Some events are older than the tail: re-sessionise the affected window."""
        low, high = order_key(user_events[0]), order_key(user_events[-1])
        owner = and_(
            sessions.c.tenant_id == self.tenant_id, sessions.c.user_id == user_id
        )
        start_key = tuple_(sessions.c.started_at, sessions.c.first_event_id)
        before = self.connection.execute(
            select(sessions.c.started_at, sessions.c.first_event_id)
            .where(owner, start_key < _key(low[0], low[1]))
            .order_by(sessions.c.started_at.desc(), sessions.c.first_event_id.desc())
            .limit(1)
        ).first()

        mine = and_(
            events.c.tenant_id == self.tenant_id,
            events.c.user_id == user_id,
            events.c.counted.is_(True),
        )
        event_key = tuple_(events.c.occurred_at, events.c.event_id)
        after = self.connection.execute(
            select(events.c.occurred_at, events.c.event_id)
            .where(mine, event_key > _key(high[0], high[1]))
            .order_by(events.c.occurred_at, events.c.event_id)
            .limit(1)
        ).first()
        end = None
        if after is not None:
            end = self.connection.execute(
                select(sessions.c.ended_at, sessions.c.last_event_id)
                .where(owner, start_key <= _key(after[0], after[1]))
                .order_by(
                    sessions.c.started_at.desc(), sessions.c.first_event_id.desc()
                )
                .limit(1)
            ).first()

        query = select(
            events.c.occurred_at,
            events.c.event_id,
            events.c.event_type,
            events.c.course_id,
        ).where(mine)
        if before is not None:
            query = query.where(event_key >= _key(before[0], before[1]))
        if end is not None:
            query = query.where(event_key <= _key(end[0], end[1]))
        loaded = [
            Activity(row[0], row[1], row[2], row[3])
            for row in self.connection.execute(
                query.order_by(events.c.occurred_at, events.c.event_id)
            )
        ]
        fresh = {item.event_id for item in user_events}
        old = sessionize([a for a in loaded if a.event_id not in fresh], self.policy)
        new = sessionize(loaded, self.policy)
        self._record(user_id, difference(contributions(new), contributions(old)))

        stale = [session.session_id(self.tenant_id, user_id) for session in old]
        for part in _chunks(stale):
            self.connection.execute(
                delete(sessions).where(owner, sessions.c.session_id.in_(part))
            )
        rows = [self._session_row(user_id, session) for session in new]
        new_sessions.extend(rows)

        first_seen = min(tail["first_seen_at"], user_events[0].occurred_at)
        # The window reaches the user's newest event when it ends at the old tail or
        # when some of the batch's events are newer than it: the tail moves to it.
        if order_key(loaded[-1]) >= (tail["last_seen_at"], tail["last_event_id"]):
            last = loaded[-1]
            return self._tail_row(user_id, last, rows[-1]["session_id"], first_seen)
        return {**tail, "first_seen_at": first_seen}

    def _session_row(self, user_id: str, session: Session) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "session_id": session.session_id(self.tenant_id, user_id),
            "user_id": user_id,
            "course_id": session.first.course_id or "",
            "started_at": session.first.occurred_at,
            "ended_at": session.last.occurred_at,
            "first_event_id": session.first.event_id,
            "last_event_id": session.last.event_id,
            "event_count": len(session.events),
            "seconds": session.seconds,
        }

    def _tail_row(
        self, user_id: str, last: Timed, open_session_id: str, first_seen: datetime
    ) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "user_id": user_id,
            "first_seen_at": first_seen,
            "last_seen_at": last.occurred_at,
            "last_event_id": last.event_id,
            "last_event_type": last.event_type,
            "last_course_id": last.course_id,
            "open_session_id": open_session_id,
        }

    def _save_tails(self, rows: list[dict[str, Any]]) -> None:
        statement = _tail_upsert(self.connection.dialect.name)
        execute_many(self.connection, statement, _rows_to_columns(rows))

    # -- rollups --------------------------------------------------------------------

    def _record_appended(
        self, user_id: str, computed: list[Session], *, after_tail: bool
    ) -> None:
        """Add what appended events change, straight into the batch's cells.

        With ``after_tail`` the first event is the user's stored newest: only its
        dwell changes, from the tail allowance to the gap to the next event.
        """
        for number, session in enumerate(computed):
            for index, (event, dwell) in enumerate(
                zip(session.events, session.dwells, strict=True)
            ):
                if after_tail and number == 0 and index == 0:
                    self._add(user_id, event, 0, 0, dwell - self.policy.tail_seconds)
                else:
                    self._add(user_id, event, 1, int(index == 0), dwell)

    def _add(
        self, user_id: str, event: Timed, events: int, started: int, seconds: int
    ) -> None:
        moment = event.occurred_at
        course = event.course_id or ""
        day_key = (moment.date(), user_id, course)
        hour_key = (moment.replace(minute=0, second=0, microsecond=0), course)
        # get() before creating: setdefault would build a Tally for every event.
        day = self.daily.get(day_key)
        if day is None:
            day = self.daily[day_key] = Tally()
        hour = self.hourly.get(hour_key)
        if hour is None:
            hour = self.hourly[hour_key] = Tally()
        for cell in (day, hour):
            cell.events += events
            cell.sessions += started
            cell.seconds += seconds

    def _record(self, user_id: str, change: Contributions) -> None:
        for (day, course_id), tally in change.daily.items():
            _add(self.daily, (day, user_id, course_id), tally)
        for hour_key, tally in change.hourly.items():
            _add(self.hourly, hour_key, tally)

    def _apply_rollups(self) -> None:
        daily = [
            {
                "tenant_id": self.tenant_id,
                "day": day,
                "user_id": user_id,
                "course_id": course_id,
                "events": tally.events,
                "sessions": tally.sessions,
                "seconds": tally.seconds,
            }
            for (day, user_id, course_id), tally in self.daily.items()
        ]
        hourly = [
            {
                "tenant_id": self.tenant_id,
                "hour": hour,
                "course_id": course_id,
                "events": tally.events,
                "sessions": tally.sessions,
                "seconds": tally.seconds,
            }
            for (hour, course_id), tally in self.hourly.items()
        ]
        tenant_wide = self._tenant_rows()
        for table, rows in (
            (daily_rollups, daily),
            (hourly_rollups, hourly),
            *tenant_wide,
        ):
            statement = _adding_upsert(self.connection.dialect.name, table)
            execute_many(self.connection, statement, _rows_to_columns(rows))
        self.daily.clear()
        self.hourly.clear()

    def _tenant_rows(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        """The batch's cells summed into ``tenant_days`` and ``tenant_hours`` rows.

        A day's ``active_users`` grows by the users whose first counted event of that
        day is in this batch: events only ever add, so a user with counted events in
        ``daily_rollups`` that day before the batch was counted already. Must run
        before the batch's ``daily_rollups`` are written.
        """
        days: dict[date, Tally] = {}
        for (day, _user, _course), tally in self.daily.items():
            _add(days, day, tally)
        hours: dict[datetime, Tally] = {}
        for (hour, _course), tally in self.hourly.items():
            _add(hours, hour, tally)
        fresh: dict[date, set[str]] = {}
        for (day, user_id, _course), tally in self.daily.items():
            if tally.events > 0:
                fresh.setdefault(day, set()).add(user_id)
        if fresh:
            for day, user_id in self._active_before(fresh):
                if day in fresh:
                    fresh[day].discard(user_id)
        day_rows = [
            {
                "tenant_id": self.tenant_id,
                "day": day,
                "events": tally.events,
                "sessions": tally.sessions,
                "seconds": tally.seconds,
                "active_users": len(fresh.get(day, ())),
            }
            for day, tally in days.items()
        ]
        hour_rows = [
            {
                "tenant_id": self.tenant_id,
                "hour": hour,
                "events": tally.events,
                "sessions": tally.sessions,
                "seconds": tally.seconds,
            }
            for hour, tally in hours.items()
        ]
        return [(tenant_days, day_rows), (tenant_hours, hour_rows)]

    def _active_before(self, fresh: dict[date, set[str]]) -> set[tuple[date, str]]:
        """Which of the (day, user) pairs already had counted events stored."""
        user_ids = sorted(set().union(*fresh.values()))
        first, last = min(fresh), max(fresh)
        found: set[tuple[date, str]] = set()
        for part in _chunks(user_ids):
            rows = self.connection.execute(
                select(daily_rollups.c.day, daily_rollups.c.user_id)
                .where(
                    daily_rollups.c.tenant_id == self.tenant_id,
                    daily_rollups.c.user_id.in_(part),
                    daily_rollups.c.day >= first,
                    daily_rollups.c.day <= last,
                    daily_rollups.c.events > 0,
                )
                .distinct()
            )
            found.update((row[0], row[1]) for row in rows)
        return found


#: The columns an upsert adds to a stored rollup row, per table.
_ADDED = {
    "daily_rollups": ("events", "sessions", "seconds"),
    "hourly_rollups": ("events", "sessions", "seconds"),
    "tenant_days": ("events", "sessions", "seconds", "active_users"),
    "tenant_hours": ("events", "sessions", "seconds"),
}


def _add(cells: dict[Any, Tally], key: Any, tally: Tally) -> None:
    cell = cells.setdefault(key, Tally())
    cell.events += tally.events
    cell.sessions += tally.sessions
    cell.seconds += tally.seconds
