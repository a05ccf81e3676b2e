"""What the dashboard reads answer (SPEC §3), field for field.

Field names follow the public page (``seed/dashboard-api.txt``) where it shows them.
Minutes are one-decimal floats except ``total_time_mins``, a whole number as the page
shows it; percentages are 0 to 100 with one decimal, null when their denominator is 0.

Risk fields (``risk_level``, ``risk_score``, ``at_risk_count``, the profile's ``risk``)
come from the scores the risk engine stored (``docs/risk.md``): null until a score
was computed (counts 0), and each shows the ``as_of`` it was computed for where it
carries factors. They are never estimated here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ssea_core.metrics.params import Granularity, RiskLevel
from ssea_core.risk.records import StoredRisk

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Overview(_Result):
    """``GET …/overview``: the tenant's activity in the period."""

    tenant_id: UUID
    period_days: int
    total_events: int
    active_users: int
    total_sessions: int
    avg_time_spent_mins: float
    at_risk_count: int = 0


class TrendPoint(_Result):
    """One bucket: a UTC day (``2026-03-01``) or hour (``2026-03-01T10:00:00Z``)."""

    bucket: str
    events: int
    #: Null for hours: hourly rollups are per course, not per user (docs/metrics.md).
    active_users: int | None
    sessions: int


class Trends(_Result):
    """``GET …/overview/trends``: every bucket of the period, empty ones included."""

    granularity: Granularity
    from_: date = Field(alias="from")
    to: date
    series: list[TrendPoint]


class UserSummary(_Result):
    """An item of ``GET …/users``."""

    user_id: str
    username: str | None
    full_name: str | None
    last_seen_at: datetime | None
    total_events: int
    total_time_mins: int
    risk_level: RiskLevel | None = None
    risk_score: float | None = None


class UserDetail(UserSummary):
    """The ``user`` of a profile: the summary plus the catalogue row."""

    email: str | None
    suspended: bool
    first_seen_at: datetime | None


class UserCourse(_Result):
    """One enrolment of a profile, with the user's progress and grade there."""

    course_id: str
    fullname: str | None
    shortname: str | None
    role: str
    status: str
    progress_pct: float | None
    grade_pct: float | None


class TimelineDay(_Result):
    """One UTC day of a profile's timeline."""

    day: date
    events: int
    sessions: int
    time_mins: float


class QuizAttempt(_Result):
    """A submitted quiz attempt (``quiz_submitted`` and the plugin's metadata)."""

    course_id: str | None
    module_id: str | None
    module_name: str | None
    submitted_at: datetime
    attempt_number: int | None
    score_percent: float | None
    raw_score: float | None
    time_taken_seconds: int | None
    state: str | None


class AssignmentSubmission(_Result):
    """An assignment submission (``assignment_submitted`` and its metadata)."""

    course_id: str | None
    module_id: str | None
    module_name: str | None
    submitted_at: datetime
    submission_status: str | None
    is_late: bool | None
    due_date: datetime | None


class FactorItem(_Result):
    """One factor of a score: value 0..1, re-normalised weight, points, reason."""

    name: str
    value: float
    weight: float
    contribution: float
    reason: str


class RiskSummary(_Result):
    """A stored score with its factors, as of when it was computed for."""

    risk_level: RiskLevel | None
    risk_score: float | None
    #: The course the score is about (for an overall score, the highest course).
    course_id: str | None
    factors: list[FactorItem]
    #: Factors left out of the score: no data, or a weight of zero.
    unavailable: list[str]
    days_inactive: int | None
    completion_pct: float | None
    as_of: datetime
    computed_at: datetime

    @staticmethod
    def fields(risk: StoredRisk) -> dict[str, Any]:
        """The fields of a summary of ``risk``."""
        return {
            "risk_level": risk.level,
            "risk_score": risk.score,
            "course_id": risk.course_id,
            "factors": factor_items(risk.factors),
            "unavailable": risk.unavailable,
            "days_inactive": risk.days_inactive,
            "completion_pct": risk.completion_pct,
            "as_of": risk.as_of,
            "computed_at": risk.computed_at,
        }


class CourseRisk(_Result):
    """A student's score in one course."""

    course_id: str
    risk_level: RiskLevel | None
    risk_score: float | None


class ProfileRisk(RiskSummary):
    """The ``risk`` of a user profile: the score, and the score in each course."""

    courses: list[CourseRisk]

    @classmethod
    def of(cls, risk: StoredRisk, per_course: list[StoredRisk]) -> ProfileRisk:
        courses = [
            CourseRisk(
                course_id=item.course_id or "",
                risk_level=item.level,
                risk_score=item.score,
            )
            for item in per_course
        ]
        return cls(**cls.fields(risk), courses=courses)


def factor_items(stored: list[dict[str, Any]]) -> list[FactorItem]:
    """Stored factors (``FactorScore.as_dict``) as answer items."""
    return [FactorItem.model_validate(item) for item in stored]


class UserProfile(_Result):
    """``GET …/users/{user_id}``."""

    user: UserDetail
    courses: list[UserCourse]
    timeline: list[TimelineDay]
    quiz_attempts: list[QuizAttempt]
    assignment_submissions: list[AssignmentSubmission]
    #: Null until a score was computed for the user.
    risk: ProfileRisk | None = None


class TopUser(_Result):
    """A user of ``GET …/top``."""

    user_id: str
    username: str | None
    full_name: str | None
    total_events: int
    total_time_mins: int


class TopCourse(_Result):
    """A course of ``GET …/top``."""

    course_id: str
    fullname: str | None
    shortname: str | None
    total_events: int
    active_users: int


class Top(_Result):
    """``GET …/top``: the busiest users and courses of the period."""

    users: list[TopUser]
    courses: list[TopCourse]


class Heatmap(_Result):
    """``GET …/heatmap``: ``cells[weekday][hour]`` events, Monday first, local time."""

    tz: str
    weekdays: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    cells: list[list[int]]


class CourseSummary(_Result):
    """An item of ``GET …/courses``."""

    course_id: str
    fullname: str | None
    shortname: str | None
    active_users: int
    total_events: int
    avg_time_mins: float
    enrolled: int
    completion_pct: float | None
    avg_grade_pct: float | None
    at_risk_count: int = 0


class EnrolmentCount(_Result):
    """An item of ``GET …/enrollments``: one course and role."""

    course_id: str
    fullname: str | None
    shortname: str | None
    role: str
    total: int
    active: int
    suspended: int
    new_in_period: int


class HistogramBin(_Result):
    """Grades in ``[from, to)`` percent; the last bin also holds 100."""

    from_: int = Field(alias="from")
    to: int
    count: int


class GradeDistribution(_Result):
    """``GET …/grades``: grades in percent of each item's range."""

    count: int
    avg: float | None
    min: float | None
    max: float | None
    median: float | None
    pass_rate: float | None
    histogram: list[HistogramBin]


class GradeItemInfo(_Result):
    """A grade item as synced: its range and pass mark."""

    item_id: str
    item_name: str | None
    item_type: str | None
    grademin: float
    grademax: float
    gradepass: float | None


class ItemGrades(GradeDistribution, GradeItemInfo):
    """An item of ``GET …/courses/{course_id}/grades``: one grade item."""


class CourseCompletion(_Result):
    """An item of ``GET …/completion``: module and course completion of a course."""

    course_id: str
    fullname: str | None
    shortname: str | None
    students: int
    tracked_modules: int
    completion_pct: float | None
    course_completed: int
    course_completion_pct: float | None


class ModuleCompletion(_Result):
    """An item of ``GET …/courses/{course_id}/completion``: one module."""

    module_id: str
    name: str | None
    modname: str | None
    tracked: bool
    students: int
    completed: int
    completion_pct: float | None


class ActivityProgress(_Result):
    """One activity of a course in a student's progress."""

    module_id: str
    name: str | None
    modname: str | None
    tracked: bool
    completed: bool


class CourseProgress(_Result):
    """One course of a student's progress, with each of its activities."""

    course_id: str
    fullname: str | None
    shortname: str | None
    progress_pct: float | None
    grade_pct: float | None
    activities: list[ActivityProgress]


class StudentProgress(_Result):
    """``GET …/viewer/student/{moodle_user_id}/progress``."""

    user_id: str
    courses: list[CourseProgress]
