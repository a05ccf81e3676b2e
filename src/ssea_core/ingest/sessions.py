"""Sessions and time spent (SPEC §5), as pure functions over one user's events.

Invariants:
- Events are ordered by (time, event_id); ties never depend on arrival order.
- An event starts a session when it is the user's first, when it is a login, when the
  previous event was a logout, or when more than ``gap_seconds`` passed since the
  previous event.
- Each event's dwell is the time to the next event of its session, capped at
  ``gap_seconds``; the last event of a session gets ``tail_seconds``. A session's time
  is the sum of its dwells.
- Whether an event starts a session depends only on it and its predecessor, and its
  dwell only on it and its successor. So a late event changes nothing outside the
  sessions on either side of it, and a window that starts at a session start and ends
  at a session end can be re-sessionised on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, TypeVar

LOGIN = "user_login"
LOGOUT = "user_logout"
SITE = ""  # the course key of site-level events in rollups


class Timed(Protocol):
    """What sessionisation needs of an event."""

    @property
    def occurred_at(self) -> datetime: ...
    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def course_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Session gap and tail allowance, in seconds (defaults of SPEC §5)."""

    gap_seconds: int = 1800
    tail_seconds: int = 60


@dataclass(frozen=True, slots=True)
class Activity:
    """A stored event reduced to what sessions need."""

    occurred_at: datetime
    event_id: str
    event_type: str
    course_id: str | None


@dataclass(slots=True)
class Session:
    """One session: its events in order and the dwell of each, in seconds."""

    events: list[Timed] = field(default_factory=list)
    dwells: list[int] = field(default_factory=list)

    @property
    def first(self) -> Timed:
        return self.events[0]

    @property
    def last(self) -> Timed:
        return self.events[-1]

    @property
    def seconds(self) -> int:
        return sum(self.dwells)

    def session_id(self, tenant_id: object, user_id: str) -> str:
        """Deterministic: the same first event always names the same session."""
        identity = f"{tenant_id}|{user_id}|{self.first.event_id}"
        return "ses_" + hashlib.sha256(identity.encode()).hexdigest()[:24]


def order_key(event: Timed) -> tuple[datetime, str]:
    return (event.occurred_at, event.event_id)


def starts_session(
    previous: Timed | None, current: Timed, policy: SessionPolicy
) -> bool:
    """Whether ``current`` opens a new session after ``previous``."""
    if previous is None or current.event_type == LOGIN or previous.event_type == LOGOUT:
        return True
    gap = (current.occurred_at - previous.occurred_at).total_seconds()
    return gap > policy.gap_seconds


def sessionize(events: Iterable[Timed], policy: SessionPolicy) -> list[Session]:
    """Split one user's events into sessions; the first event always opens one."""
    ordered = sorted(events, key=order_key)
    sessions: list[Session] = []
    previous: Timed | None = None
    for event in ordered:
        if starts_session(previous, event, policy):
            if sessions:
                sessions[-1].dwells.append(policy.tail_seconds)
            sessions.append(Session())
        elif previous is not None:
            gap = (event.occurred_at - previous.occurred_at).total_seconds()
            sessions[-1].dwells.append(min(int(gap), policy.gap_seconds))
        sessions[-1].events.append(event)
        previous = event
    if sessions:
        sessions[-1].dwells.append(policy.tail_seconds)
    return sessions


RollupKey = tuple[date, str]  # (UTC day, course_id or SITE)
HourKey = tuple[datetime, str]  # (UTC hour, course_id or SITE)
K = TypeVar("K")


@dataclass(slots=True)
class Tally:
    """Additive counters of one rollup cell."""

    events: int = 0
    sessions: int = 0
    seconds: int = 0

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.events - other.events,
            self.sessions - other.sessions,
            self.seconds - other.seconds,
        )

    def __bool__(self) -> bool:
        return bool(self.events or self.sessions or self.seconds)


@dataclass(slots=True)
class Contributions:
    """What a set of sessions adds to the daily and hourly rollups."""

    daily: dict[RollupKey, Tally] = field(default_factory=dict)
    hourly: dict[HourKey, Tally] = field(default_factory=dict)

    def add(self, event: Timed, *, started: bool, seconds: int) -> None:
        course = event.course_id or SITE
        hour = event.occurred_at.replace(minute=0, second=0, microsecond=0)
        for tally in (
            self.daily.setdefault((event.occurred_at.date(), course), Tally()),
            self.hourly.setdefault((hour, course), Tally()),
        ):
            tally.events += 1
            tally.sessions += int(started)
            tally.seconds += seconds


def contributions(sessions: Sequence[Session]) -> Contributions:
    """Events, sessions started and seconds per day and per hour, per course."""
    result = Contributions()
    for session in sessions:
        for index, (event, dwell) in enumerate(
            zip(session.events, session.dwells, strict=True)
        ):
            result.add(event, started=index == 0, seconds=dwell)
    return result


def _difference(new: Mapping[K, Tally], old: Mapping[K, Tally]) -> dict[K, Tally]:
    delta: dict[K, Tally] = {}
    for key in set(new) | set(old):
        change = new.get(key, Tally()) - old.get(key, Tally())
        if change:
            delta[key] = change
    return delta


def difference(new: Contributions, old: Contributions) -> Contributions:
    """``new - old`` cell by cell, keeping only cells that change."""
    return Contributions(
        daily=_difference(new.daily, old.daily),
        hourly=_difference(new.hourly, old.hourly),
    )
