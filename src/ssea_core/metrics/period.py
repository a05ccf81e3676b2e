"""Reporting periods (SPEC §3): whole UTC days, inclusive at both ends.

Invariants: a period has 1 to 366 days and ``start <= end``, both from
:data:`FIRST_DAY` to :data:`LAST_DAY`; the instants it covers are
``[start 00:00 UTC, end + 1 day 00:00 UTC)``. "Today" is the UTC date of the
service's clock, never of the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ssea_core.errors import BadRequestError

DEFAULT_DAYS = 30
MAX_DAYS = 366
#: The days a period may cover: far wider than any Moodle site's data, and far enough
#: inside Python's calendar (years 1 to 9999) that a period's instants and the
#: windows counted back from it always exist.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """How many days the period covers."""
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> datetime:
        """The first instant of the period: midnight UTC of ``start``."""
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period: midnight UTC after ``end``."""
        return datetime.combine(self.end + _DAY, time(), tzinfo=UTC)

    def each_day(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.start + _DAY * offset for offset in range(self.days)]

    def each_hour(self) -> list[datetime]:
        """Every UTC hour of the period, in order."""
        start = self.start_at
        return [start + _HOUR * offset for offset in range(self.days * 24)]


def resolve_period(
    today: date,
    *,
    days: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Period:
    """The period a query names.

    ``days`` alone: the last ``days`` UTC days ending today. ``start`` and ``end``:
    that range. ``start`` alone: from ``start`` to today. ``end`` alone: ``days``
    (default 30) days ending at ``end``. Raises :class:`BadRequestError` when
    ``days`` comes with ``from``, when ``from`` is after ``to``, or when the range
    is longer than 366 days or reaches outside :data:`FIRST_DAY` to :data:`LAST_DAY`.
    """
    check_calendar(start, "from")
    check_calendar(end, "to")
    if days is not None and start is not None:
        raise BadRequestError(
            "Give either 'days' or 'from' (with an optional 'to'), not both."
        )
    if start is None:
        last = end or today
        period = Period(last - _DAY * ((days or DEFAULT_DAYS) - 1), last)
    else:
        period = Period(start, end or today)
    if period.start > period.end:
        raise BadRequestError(
            f"'from' ({period.start}) is after 'to' ({period.end}); "
            "swap them or give 'days'."
        )
    if period.days > MAX_DAYS:
        raise BadRequestError(
            f"The period has {period.days} days; at most {MAX_DAYS} are allowed."
        )
    if not in_calendar(period.start):
        raise BadRequestError(
            f"The period would start on {period.start}; periods lie from "
            f"{FIRST_DAY} to {LAST_DAY}."
        )
    return period


def in_calendar(day: date) -> bool:
    """Whether ``day`` lies from :data:`FIRST_DAY` to :data:`LAST_DAY`."""
    return FIRST_DAY <= day <= LAST_DAY


def check_calendar(day: date | None, name: str) -> None:
    """Raise :class:`BadRequestError` naming ``name`` when ``day`` is out of range."""
    if day is not None and not in_calendar(day):
        raise BadRequestError(
            f"'{name}' ({day}) must be from {FIRST_DAY} to {LAST_DAY}."
        )
