"""Monitors (SPEC §8): saved filters over students or courses, with live counts.

Invariants:
- A monitor's filters are validated for its target; an unknown filter, or one the
  other target takes, is a 422 that names it and lists what the target accepts.
- A monitor belongs to whoever created it. Admins, managers and API keys see every
  monitor of the tenant; a teacher sees and deletes only their own.
- Counts are computed when a monitor is read, inside the reader's scope: a teacher
  counts only the students of their courses, whoever created the monitor.
- At risk means a stored risk level of ``high`` or ``critical`` (SPEC §6): a student's
  overall level (course ``''``), or their level in the course a filter names; a course
  is at risk when one of its active students is at risk in it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from ssea_core.auth.scope import Scope
from ssea_core.errors import ValidationFailedError

MonitorTarget = Literal["students", "courses"]
RiskLevel = Literal["low", "medium", "high", "critical"]
AT_RISK_LEVELS: tuple[RiskLevel, ...] = ("high", "critical")
MAX_USER_IDS = 1000

Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]


class _Filters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Text in the username or full name (students), short or full name (courses).
    q: Text | None = None
    #: Inactive at least this many days: no counted activity since (or ever).
    inactive_days: int | None = Field(default=None, ge=1, le=366)
    #: Risk levels to keep (one level or a list).
    risk_level: list[RiskLevel] | None = None

    @field_validator("risk_level", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class StudentFilters(_Filters):
    """Students: active ``student`` enrolments, narrowed by these filters."""

    course_id: Id | None = None
    user_ids: list[Id] | None = Field(
        default=None, min_length=1, max_length=MAX_USER_IDS
    )


class CourseFilters(_Filters):
    """Courses of the catalogue, narrowed by these filters."""

    course_ids: list[Id] | None = Field(
        default=None, min_length=1, max_length=MAX_USER_IDS
    )


FILTERS: dict[MonitorTarget, type[_Filters]] = {
    "students": StudentFilters,
    "courses": CourseFilters,
}


def accepted_filters(target: MonitorTarget) -> list[str]:
    """The filter names a target accepts, sorted."""
    return sorted(FILTERS[target].model_fields)


class MonitorIn(BaseModel):
    """The body of ``POST …/monitors``: ``{name, target, filters}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    target: MonitorTarget
    filters: dict[str, Any] = Field(default_factory=dict)

    def checked_filters(self) -> StudentFilters | CourseFilters:
        """The filters validated for the target; 422 naming ``filters.<name>``."""
        model = FILTERS[self.target]
        try:
            parsed = model.model_validate(self.filters)
        except ValidationError as exc:
            raise _invalid(self.target, exc) from exc
        assert isinstance(parsed, StudentFilters | CourseFilters)
        return parsed


def _invalid(target: MonitorTarget, exc: ValidationError) -> ValidationFailedError:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    for error in errors:
        error["loc"] = ("filters", *error["loc"])
    message = "; ".join(
        f"field '{'.'.join(str(part) for part in error['loc'])}': {error['msg']}"
        for error in errors
    )
    accepted = ", ".join(accepted_filters(target))
    return ValidationFailedError(
        f"{message}. A {target} monitor accepts: {accepted}.", details=list(errors)
    )


def new_monitor_id() -> str:
    """A fresh monitor id: ``mon_`` and 24 hex digits."""
    return "mon_" + secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class Monitor:
    """A saved filter as stored; ``filters`` holds only the filters that were set."""

    monitor_id: str
    name: str
    target: MonitorTarget
    filters: dict[str, Any]
    created_by: str
    created_at: datetime

    def parsed_filters(self) -> StudentFilters | CourseFilters:
        parsed = FILTERS[self.target].model_validate(self.filters)
        assert isinstance(parsed, StudentFilters | CourseFilters)
        return parsed


@dataclass(frozen=True, slots=True)
class MonitorCounts:
    """How many students or courses match now, and how many of them are at risk."""

    match_count: int
    at_risk_count: int


@dataclass(frozen=True, slots=True)
class MonitorOwner:
    """Whose monitors a caller sees: None is everyone's (admin, manager, API key)."""

    created_by: str | None = None


class MonitorRepository(Protocol):
    """A tenant's monitors and the counts of their filters."""

    async def create_monitor(self, monitor: Monitor) -> None: ...

    async def list_monitors(
        self, owner: MonitorOwner, *, limit: int, offset: int
    ) -> tuple[list[Monitor], int]:
        """A page of monitors, oldest first, and the total."""
        ...

    async def get_monitor(
        self, monitor_id: str, owner: MonitorOwner
    ) -> Monitor | None: ...

    async def delete_monitor(self, monitor_id: str, owner: MonitorOwner) -> bool:
        """False when there is no such monitor the owner may delete."""
        ...

    async def count(self, monitor: Monitor, scope: Scope, today: date) -> MonitorCounts:
        """The monitor's matches and at-risk matches now, inside ``scope``."""
        ...


def monitor_answer(monitor: Monitor, counts: MonitorCounts) -> dict[str, Any]:
    """A monitor as the API shows it, with its current counts."""
    return {
        "monitor_id": monitor.monitor_id,
        "name": monitor.name,
        "target": monitor.target,
        "filters": monitor.filters,
        "created_by": monitor.created_by,
        "created_at": monitor.created_at,
        "match_count": counts.match_count,
        "at_risk_count": counts.at_risk_count,
    }
