"""The read side of storage that the dashboard metrics need, and what it returns.

An :class:`AnalyticsRepository` is obtained for one tenant
(``store.for_tenant(tenant_id).analytics()``) and every statement it runs is bound to
that tenant. It answers from the rollups (``daily_rollups``, ``hourly_rollups``,
``user_activity``) and the catalogue; the only reads of raw events are the per-user,
limited lists of :meth:`AnalyticsRepository.user_events`.

Records carry raw sums (events, sessions, seconds, counts); turning them into minutes
and percentages is the core's job (``ssea_core.metrics.compute``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol, TypeVar

from ssea_core.metrics.params import CourseSort, RiskLevel, UserSort
from ssea_core.metrics.period import Period
from ssea_core.risk.records import StoredRisk

T = TypeVar("T")
#: A page of rows and the number of rows of every page together.
Paged = tuple[list[T], int]
#: Events whose per-user lists a profile shows.
ProfileEventType = Literal["quiz_submitted", "assignment_submitted"]


@dataclass(frozen=True, slots=True)
class Page:
    """A slice of a list: at most ``limit`` rows after skipping ``offset``."""

    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a period; ``active_users`` counts distinct users with events."""

    events: int = 0
    sessions: int = 0
    seconds: int = 0
    active_users: int = 0


@dataclass(frozen=True, slots=True)
class DayTotals:
    """Sums of one UTC day."""

    day: date
    events: int
    sessions: int
    seconds: int
    active_users: int


@dataclass(frozen=True, slots=True)
class HourTotals:
    """Sums of one UTC hour, over every course."""

    hour: datetime
    events: int
    sessions: int
    seconds: int


@dataclass(frozen=True, slots=True)
class UserFilter:
    """Filters of the users list; ``course_id`` also narrows the activity counted."""

    role: str | None = None
    course_id: str | None = None
    text: str | None = None
    sort: UserSort = "events_desc"
    #: Users whose stored risk (of ``course_id`` when given) has this level.
    risk_level: RiskLevel | None = None


@dataclass(frozen=True, slots=True)
class UserActivity:
    """A user and their activity in a period (and their stored risk, if any)."""

    user_id: str
    username: str | None
    full_name: str | None
    last_seen_at: datetime | None
    events: int
    seconds: int
    risk_level: RiskLevel | None = None
    risk_score: float | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One user's catalogue row (absent fields when only events named them)."""

    user_id: str
    username: str | None
    full_name: str | None
    email: str | None
    suspended: bool
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    events: int
    seconds: int


@dataclass(frozen=True, slots=True)
class UserEnrolment:
    """An enrolment of one user with their completion and grade in the course."""

    course_id: str
    fullname: str | None
    shortname: str | None
    role: str
    status: str
    tracked_modules: int
    completed_modules: int
    grade_pct: float | None


@dataclass(frozen=True, slots=True)
class UserEvent:
    """A raw event of one user, with the name of its module."""

    course_id: str | None
    module_id: str | None
    module_name: str | None
    occurred_at: datetime
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CourseActivity:
    """A course and its activity in a period."""

    course_id: str
    fullname: str | None
    shortname: str | None
    events: int
    seconds: int
    active_users: int


@dataclass(frozen=True, slots=True)
class CourseStats:
    """A course's activity in a period and its enrolment, completion and grades."""

    activity: CourseActivity
    students: int
    tracked_modules: int
    completed_modules: int
    avg_grade_pct: float | None
    #: Students whose stored risk in the course is high or critical.
    at_risk: int = 0


@dataclass(frozen=True, slots=True)
class CourseCompletionCounts:
    """The counts behind a course's module and course completion rates."""

    course_id: str
    fullname: str | None
    shortname: str | None
    students: int
    tracked_modules: int
    completed_modules: int
    course_completed: int


@dataclass(frozen=True, slots=True)
class ModuleCompletionCounts:
    """A module and how many students completed it."""

    module_id: str
    name: str | None
    modname: str | None
    tracked: bool
    students: int
    completed: int


@dataclass(frozen=True, slots=True)
class EnrolmentCounts:
    """Enrolments of one course and role."""

    course_id: str
    fullname: str | None
    shortname: str | None
    role: str
    total: int
    active: int
    suspended: int
    new_in_period: int


@dataclass(frozen=True, slots=True)
class GradeValue:
    """A grade in percent of its item's range; ``passed`` None: no pass mark."""

    percent: float
    passed: bool | None


@dataclass(frozen=True, slots=True)
class GradeItemValues:
    """A grade item and its grades."""

    item_id: str
    item_name: str | None
    item_type: str | None
    grademin: float
    grademax: float
    gradepass: float | None
    values: list[GradeValue]


class AnalyticsRepository(Protocol):
    """Dashboard reads of one tenant; no method reaches another tenant."""

    async def totals(self, period: Period) -> Totals:
        """Events, sessions started, seconds and active users of the period."""
        ...

    async def daily(
        self, period: Period, user_id: str | None = None
    ) -> list[DayTotals]:
        """Per UTC day with activity, of the tenant or of one user."""
        ...

    async def hourly(self, period: Period) -> list[HourTotals]:
        """Per UTC hour with activity; hourly rollups have no users to count."""
        ...

    async def users(
        self, period: Period, where: UserFilter, page: Page
    ) -> Paged[UserActivity]:
        """Users not deleted, from the catalogue and from activity, filtered, sorted."""
        ...

    async def user(self, user_id: str, period: Period) -> UserRecord | None:
        """One user not deleted with their activity in the period; None if unknown."""
        ...

    async def user_enrolments(self, user_id: str) -> list[UserEnrolment]:
        """The user's enrolments with completion and grade per course."""
        ...

    async def user_risk(
        self, user_id: str
    ) -> tuple[StoredRisk | None, list[StoredRisk]]:
        """The user's stored risk as the scope sees it, and their per-course scores
        in scope; (None, []) before any score was computed."""
        ...

    async def at_risk_count(self) -> int:
        """Students in scope whose stored risk is high or critical."""
        ...

    async def user_events(
        self, user_id: str, event_type: ProfileEventType, limit: int
    ) -> list[UserEvent]:
        """The user's newest counted events of one type, newest first."""
        ...

    async def top_users(self, period: Period, limit: int) -> list[UserActivity]:
        """Users not deleted with the most events in the period."""
        ...

    async def top_courses(self, period: Period, limit: int) -> list[CourseActivity]:
        """Courses with the most events in the period (site-level events excluded)."""
        ...

    async def has_course(self, course_id: str) -> bool:
        """Whether the course is in the catalogue or has any activity."""
        ...

    async def courses(
        self, period: Period, sort: CourseSort, page: Page
    ) -> Paged[CourseStats]:
        """Catalogue courses and courses with activity in the period."""
        ...

    async def enrolment_counts(
        self, period: Period, page: Page
    ) -> Paged[EnrolmentCounts]:
        """Enrolments per course and role; new ones by ``time_start`` in the period."""
        ...

    async def grade_values(self) -> list[GradeValue]:
        """Every course's grades on its basis: course totals, else every item."""
        ...

    async def course_grades(self, course_id: str, page: Page) -> Paged[GradeItemValues]:
        """The grade items of one course with their grades."""
        ...

    async def course_completion(self, page: Page) -> Paged[CourseCompletionCounts]:
        """Module and course completion counts of every catalogue course."""
        ...

    async def module_completion(
        self, course_id: str, page: Page
    ) -> Paged[ModuleCompletionCounts]:
        """Completion counts of each module of one course."""
        ...
