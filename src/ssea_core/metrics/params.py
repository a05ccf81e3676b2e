"""Query parameters of the dashboard reads (SPEC §3), as pydantic models.

Handlers parse them with ``RequestContext.query``, so a bad value is a 400 that names
the parameter. Parameters a model does not know are ignored (clients add cache
busters); parameters it knows are checked strictly.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ssea_core.ingest.models import EnrolmentRole
from ssea_core.metrics.period import MAX_DAYS, Period, resolve_period

MAX_LIMIT = 200
MAX_OFFSET = 1_000_000_000

RiskLevel = Literal["low", "medium", "high", "critical"]
Granularity = Literal["day", "hour"]
UserSort = Literal[
    "events_desc",
    "events_asc",
    "time_desc",
    "last_seen_desc",
    "last_seen_asc",
    "name_asc",
]
CourseSort = Literal["events_desc", "active_users_desc", "time_desc", "name_asc"]
FilterId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class PeriodQuery(_Query):
    """``days`` (1 to 366) or ``from``/``to`` (ISO dates, inclusive UTC days)."""

    days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None

    def period(self, today: date) -> Period:
        """The period these parameters name; raises ``BadRequestError`` if none."""
        return resolve_period(today, days=self.days, start=self.from_, end=self.to)


class PageQuery(_Query):
    """``limit`` (1 to 200, default 50) and ``offset`` (default 0) of a list."""

    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class PagedPeriodQuery(PeriodQuery, PageQuery):
    """A period and a page."""


class TrendsQuery(PeriodQuery):
    """A period and the bucket size of the series."""

    granularity: Granularity = "day"


class HeatmapQuery(PeriodQuery):
    """A period and the time zone of the weekday-by-hour grid (zoneinfo name)."""

    tz: str | None = Field(default=None, max_length=64)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value


class TopQuery(PeriodQuery):
    """A period and how many users and courses to list (default 10)."""

    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)


class UsersQuery(PagedPeriodQuery):
    """Filters and order of the users list."""

    risk_level: RiskLevel | None = None
    role: EnrolmentRole | None = None
    course_id: FilterId | None = None
    q: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None
    ) = None
    sort: UserSort = "events_desc"


class CoursesQuery(PagedPeriodQuery):
    """Order of the courses list."""

    sort: CourseSort = "events_desc"


def zone(name: str) -> ZoneInfo:
    """The zoneinfo zone of that name; ``ValueError`` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"'{name}' is not a known time zone; use an IANA name such as "
            "'Europe/Madrid' or 'UTC'"
        ) from exc
