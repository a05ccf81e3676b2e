"""What a report job asks for (SPEC §7), validated and resolved to fixed dates.

Invariants:
- Each report type accepts only its own parameters (table below); anything else,
  including a parameter another type takes, is a 422 naming the field and listing
  what the type accepts.
- A request is resolved once, when the job is created: defaults become dates relative
  to that day (``as_of``), so a job taken again by another worker computes the same
  period.

| report type | date_from | date_to | max_weeks | course_id |
|---|---|---|---|---|
| retention_cohort | ✓ | ✓ | ✓ | ✓ |
| activity_funnel, teacher_course_health, student_learning_profile | ✓ | ✓ | | ✓ |
| assessment_performance | ✓ | ✓ | | ✓ |
| early_warning_summary | | ✓ | | ✓ |
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ssea_core.errors import ValidationFailedError
from ssea_core.metrics.period import FIRST_DAY, LAST_DAY, in_calendar
from ssea_core.reports.definitions import ReportFormat, ReportType

#: The longest period a report covers, as for the dashboard's periods (SPEC §3).
MAX_DAYS = 366
DEFAULT_DAYS = 30
DEFAULT_MAX_WEEKS = 12
MAX_WEEKS = 52

CourseId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]


def _in_calendar(day: date) -> date:
    if not in_calendar(day):
        raise ValueError(f"must be from {FIRST_DAY} to {LAST_DAY}")
    return day


#: A day a report may name: inside the calendar a dashboard period may cover.
ReportDay = Annotated[date, AfterValidator(_in_calendar)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    course_id: CourseId | None = None


class _Ranged(_Params):
    date_from: ReportDay | None = None
    date_to: ReportDay | None = None

    @model_validator(mode="after")
    def _ordered(self) -> _Ranged:
        if self.date_from and self.date_to:
            _check_range(self.date_from, self.date_to)
        return self


class RetentionCohortParams(_Ranged):
    """Cohorts of enrolments that started from ``date_from`` to ``date_to``."""

    max_weeks: int = Field(default=DEFAULT_MAX_WEEKS, ge=1, le=MAX_WEEKS)


class PeriodParams(_Ranged):
    """Activity in the period; default the 30 days ending ``date_to`` (today)."""


class AssessmentParams(_Ranged):
    """Grades given from ``date_from`` to ``date_to``; no dates: every grade."""


class EarlyWarningParams(_Params):
    """Inactivity counted back from ``date_to`` (default today)."""

    date_to: ReportDay | None = None


PARAMS: dict[ReportType, type[_Params]] = {
    "retention_cohort": RetentionCohortParams,
    "activity_funnel": PeriodParams,
    "teacher_course_health": PeriodParams,
    "student_learning_profile": PeriodParams,
    "assessment_performance": AssessmentParams,
    "early_warning_summary": EarlyWarningParams,
}


class ReportRequest(BaseModel):
    """A validated report request with every date fixed; stored with its job.

    ``date_from`` is None for the early warning summary and for an assessment
    report without a lower bound; ``date_to`` is None only for an assessment
    report without an upper bound. ``as_of`` is the day the report was asked for.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    report_type: ReportType
    format: ReportFormat = "csv"
    as_of: date
    date_from: date | None = None
    date_to: date | None = None
    max_weeks: int | None = None
    course_id: str | None = None


class ReportJobIn(BaseModel):
    """The body of ``POST …/reports/jobs``: ``{report_type, format, params}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    report_type: ReportType
    format: ReportFormat = "csv"
    params: dict[str, Any] = Field(default_factory=dict)

    def resolve(self, today: date) -> ReportRequest:
        """The request with its parameters checked and its dates fixed."""
        return resolve_request(self.report_type, self.params, today, self.format)


def accepted_params(report_type: ReportType) -> list[str]:
    """The parameter names a report type accepts, in a stable order."""
    order = ("date_from", "date_to", "max_weeks", "course_id")
    fields = PARAMS[report_type].model_fields
    return [name for name in order if name in fields]


def resolve_request(
    report_type: ReportType,
    params: Mapping[str, Any] | None,
    today: date,
    report_format: ReportFormat = "csv",
) -> ReportRequest:
    """Validate ``params`` for ``report_type`` and fix its dates relative to ``today``.

    Raises :class:`ValidationFailedError` (422) for an unknown or malformed parameter,
    ``date_from`` after ``date_to`` or a range longer than 366 days; the message
    names the field (``params.<name>``) and, for an unknown one, what is accepted.
    """
    model = PARAMS[report_type]
    try:
        parsed = model.model_validate(dict(params or {}))
    except ValidationError as exc:
        raise _invalid(report_type, exc) from exc
    dates = _resolve_dates(parsed, today)
    if dates[0] and dates[1]:
        _check_resolved(dates[0], dates[1])
    return ReportRequest(
        report_type=report_type,
        format=report_format,
        as_of=today,
        date_from=dates[0],
        date_to=dates[1],
        max_weeks=getattr(parsed, "max_weeks", None),
        course_id=parsed.course_id,
    )


def _resolve_dates(parsed: _Params, today: date) -> tuple[date | None, date | None]:
    if isinstance(parsed, EarlyWarningParams):
        return None, parsed.date_to or today
    assert isinstance(parsed, _Ranged)
    if isinstance(parsed, AssessmentParams):
        upper = parsed.date_to or (today if parsed.date_from else None)
        return parsed.date_from, upper
    end = parsed.date_to or today
    if parsed.date_from is not None:
        return parsed.date_from, end
    days = DEFAULT_DAYS
    if isinstance(parsed, RetentionCohortParams):
        days = 7 * parsed.max_weeks
    return end - timedelta(days=days - 1), end


def _check_range(start: date, end: date) -> None:
    if start > end:
        raise ValueError(f"date_from ({start}) is after date_to ({end})")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValueError(f"the range has more than {MAX_DAYS} days")


def _check_resolved(start: date, end: date) -> None:
    try:
        _check_range(start, end)
    except ValueError as exc:
        raise ValidationFailedError(
            f"field 'params': {exc}; give date_to as well, or a later date_from.",
            details=[{"loc": ["params"], "msg": str(exc), "type": "value_error"}],
        ) from exc


def _invalid(report_type: ReportType, exc: ValidationError) -> ValidationFailedError:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    for error in errors:
        error["loc"] = ("params", *error["loc"])
    message = "; ".join(
        f"field '{'.'.join(str(part) for part in error['loc'])}': {error['msg']}"
        for error in errors
    )
    accepted = ", ".join(accepted_params(report_type))
    return ValidationFailedError(
        f"{message}. {report_type} accepts: {accepted}.", details=list(errors)
    )
