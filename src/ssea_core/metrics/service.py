"""The dashboard reads of SPEC §3: one method per endpoint, over a repository.

Invariants:
- Answers come from the rollups and the catalogue, never from scans of raw events; the
  profile's quiz attempts and assignment submissions are the one exception, a lookup
  bounded to one user and to :data:`PROFILE_EVENTS_LIMIT` rows.
- Periods are whole UTC days relative to the service's clock (``today``).
- Risk fields come from the stored scores (``docs/risk.md``), as the scope sees them:
  null (0 for counts) until a score was computed.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from ssea_core.errors import BadRequestError, NotFoundError
from ssea_core.metrics import compute
from ssea_core.metrics.params import (
    MAX_LIMIT,
    CoursesQuery,
    HeatmapQuery,
    PagedPeriodQuery,
    PageQuery,
    PeriodQuery,
    TopQuery,
    TrendsQuery,
    UsersQuery,
    zone,
)
from ssea_core.metrics.period import Period
from ssea_core.metrics.repository import (
    AnalyticsRepository,
    CourseStats,
    Page,
    UserEnrolment,
    UserEvent,
    UserFilter,
)
from ssea_core.metrics.results import (
    ActivityProgress,
    AssignmentSubmission,
    CourseCompletion,
    CourseProgress,
    CourseSummary,
    EnrolmentCount,
    GradeDistribution,
    Heatmap,
    ItemGrades,
    ModuleCompletion,
    Overview,
    ProfileRisk,
    QuizAttempt,
    StudentProgress,
    TimelineDay,
    Top,
    TopCourse,
    TopUser,
    TrendPoint,
    Trends,
    UserCourse,
    UserDetail,
    UserProfile,
    UserSummary,
)

#: How many quiz attempts and assignment submissions a profile lists, newest first.
PROFILE_EVENTS_LIMIT = 50
#: Hourly trends cover at most this many days (744 buckets).
MAX_HOURLY_DAYS = 31


def _page(query: PageQuery) -> Page:
    return Page(limit=query.limit, offset=query.offset)


class Analytics:
    """The dashboard reads of one tenant as of ``today`` (a UTC date)."""

    def __init__(
        self, repository: AnalyticsRepository, tenant_id: UUID, today: date
    ) -> None:
        self._repository = repository
        self._tenant_id = tenant_id
        self._today = today

    def period(self, query: PeriodQuery) -> Period:
        """The period a query names; raises :class:`BadRequestError` if invalid."""
        return query.period(self._today)

    async def overview(self, query: PeriodQuery) -> Overview:
        """Events, active users, sessions and average minutes per active user."""
        period = self.period(query)
        totals = await self._repository.totals(period)
        return Overview(
            tenant_id=self._tenant_id,
            period_days=period.days,
            total_events=totals.events,
            active_users=totals.active_users,
            total_sessions=totals.sessions,
            avg_time_spent_mins=compute.minutes_per(
                totals.seconds, totals.active_users
            ),
            at_risk_count=await self._repository.at_risk_count(),
        )

    async def trends(self, query: TrendsQuery) -> Trends:
        """Every day (or UTC hour) of the period; raises 400 for hours over 31 days."""
        period = self.period(query)
        if query.granularity == "day":
            rows = compute.fill_days(period, await self._repository.daily(period))
            series = [
                TrendPoint(
                    bucket=row.day.isoformat(),
                    events=row.events,
                    active_users=row.active_users,
                    sessions=row.sessions,
                )
                for row in rows
            ]
        else:
            if period.days > MAX_HOURLY_DAYS:
                raise BadRequestError(
                    f"granularity=hour covers at most {MAX_HOURLY_DAYS} days; the "
                    f"period has {period.days}. Use granularity=day or fewer days."
                )
            hours = compute.fill_hours(period, await self._repository.hourly(period))
            series = [
                TrendPoint(
                    bucket=_utc_text(row.hour),
                    events=row.events,
                    active_users=None,
                    sessions=row.sessions,
                )
                for row in hours
            ]
        return Trends(
            granularity=query.granularity,
            from_=period.start,
            to=period.end,
            series=series,
        )

    async def users(self, query: UsersQuery) -> tuple[list[UserSummary], int]:
        """A page of users and the total; see ``UsersQuery`` for filters and order."""
        period = self.period(query)
        where = UserFilter(
            role=query.role,
            course_id=query.course_id,
            text=query.q.lower() if query.q else None,
            sort=query.sort,
            risk_level=query.risk_level,
        )
        rows, total = await self._repository.users(period, where, _page(query))
        users = [
            UserSummary(
                user_id=row.user_id,
                username=row.username,
                full_name=row.full_name,
                last_seen_at=row.last_seen_at,
                total_events=row.events,
                total_time_mins=compute.whole_minutes(row.seconds),
                risk_level=row.risk_level,
                risk_score=row.risk_score,
            )
            for row in rows
        ]
        return users, total

    async def profile(self, user_id: str, query: PeriodQuery) -> UserProfile:
        """One user's profile; raises :class:`NotFoundError` when unknown or deleted."""
        period = self.period(query)
        record = await self._repository.user(user_id, period)
        if record is None:
            raise NotFoundError(f"No user '{user_id}' in this tenant.")

        risk, per_course = await self._repository.user_risk(user_id)
        user = UserDetail(
            user_id=record.user_id,
            username=record.username,
            full_name=record.full_name,
            last_seen_at=record.last_seen_at,
            total_events=record.events,
            total_time_mins=compute.whole_minutes(record.seconds),
            risk_level=risk.level if risk is not None else None,
            risk_score=risk.score if risk is not None else None,
            email=record.email,
            suspended=record.suspended,
            first_seen_at=record.first_seen_at,
        )
        days = compute.fill_days(period, await self._repository.daily(period, user_id))
        enrolments = await self._repository.user_enrolments(user_id)
        quizzes = await self._repository.user_events(
            user_id, "quiz_submitted", PROFILE_EVENTS_LIMIT
        )
        submissions = await self._repository.user_events(
            user_id, "assignment_submitted", PROFILE_EVENTS_LIMIT
        )
        return UserProfile(
            user=user,
            courses=[_user_course(row) for row in enrolments],
            timeline=[
                TimelineDay(
                    day=row.day,
                    events=row.events,
                    sessions=row.sessions,
                    time_mins=compute.minutes(row.seconds),
                )
                for row in days
            ],
            quiz_attempts=[_quiz_attempt(row) for row in quizzes],
            assignment_submissions=[_submission(row) for row in submissions],
            risk=ProfileRisk.of(risk, per_course) if risk is not None else None,
        )

    async def progress(self, user_id: str) -> StudentProgress:
        """A student's progress in each course they study, activity by activity.

        The repository must be narrowed to ``user_id`` (the policy narrows every
        request whose path names a user), so that module counts are that student's.
        Raises :class:`NotFoundError` when the user is unknown or deleted.
        """
        if await self._repository.user(user_id, self.period(PeriodQuery())) is None:
            raise NotFoundError(f"No user '{user_id}' in this tenant.")
        courses: list[CourseProgress] = []
        for row in await self._repository.user_enrolments(user_id):
            if row.role != "student":
                continue
            course = _user_course(row)
            courses.append(
                CourseProgress(
                    course_id=course.course_id,
                    fullname=course.fullname,
                    shortname=course.shortname,
                    progress_pct=course.progress_pct,
                    grade_pct=course.grade_pct,
                    activities=await self._activities(row.course_id),
                )
            )
        return StudentProgress(user_id=user_id, courses=courses)

    async def _activities(self, course_id: str) -> list[ActivityProgress]:
        rows: list[ActivityProgress] = []
        while True:
            page = Page(limit=MAX_LIMIT, offset=len(rows))
            found, total = await self._repository.module_completion(course_id, page)
            rows.extend(
                ActivityProgress(
                    module_id=row.module_id,
                    name=row.name,
                    modname=row.modname,
                    tracked=row.tracked,
                    completed=row.completed > 0,
                )
                for row in found
            )
            if not found or len(rows) >= total:
                return rows

    async def top(self, query: TopQuery) -> Top:
        """The users and courses with the most events in the period."""
        period = self.period(query)
        users = await self._repository.top_users(period, query.limit)
        courses = await self._repository.top_courses(period, query.limit)
        return Top(
            users=[
                TopUser(
                    user_id=row.user_id,
                    username=row.username,
                    full_name=row.full_name,
                    total_events=row.events,
                    total_time_mins=compute.whole_minutes(row.seconds),
                )
                for row in users
            ],
            courses=[
                TopCourse(
                    course_id=row.course_id,
                    fullname=row.fullname,
                    shortname=row.shortname,
                    total_events=row.events,
                    active_users=row.active_users,
                )
                for row in courses
            ],
        )

    async def heatmap(self, query: HeatmapQuery, default_tz: str) -> Heatmap:
        """Events per local weekday and hour in ``tz`` (else ``default_tz``)."""
        period = self.period(query)
        name = query.tz or default_tz
        rows = await self._repository.hourly(period)
        return Heatmap(tz=name, cells=compute.heatmap_cells(rows, zone(name)))

    async def courses(self, query: CoursesQuery) -> tuple[list[CourseSummary], int]:
        """A page of courses with activity, enrolment, completion and grades."""
        period = self.period(query)
        rows, total = await self._repository.courses(period, query.sort, _page(query))
        return [_course_summary(row) for row in rows], total

    async def enrolments(
        self, query: PagedPeriodQuery
    ) -> tuple[list[EnrolmentCount], int]:
        """Enrolment counts per course and role, with new ones in the period."""
        period = self.period(query)
        rows, total = await self._repository.enrolment_counts(period, _page(query))
        return [
            EnrolmentCount(
                course_id=row.course_id,
                fullname=row.fullname,
                shortname=row.shortname,
                role=row.role,
                total=row.total,
                active=row.active,
                suspended=row.suspended,
                new_in_period=row.new_in_period,
            )
            for row in rows
        ], total

    async def grades(self) -> GradeDistribution:
        """The tenant's grade distribution over each course's grade basis."""
        return compute.distribution(await self._repository.grade_values())

    async def course_grades(
        self, course_id: str, query: PageQuery
    ) -> tuple[list[ItemGrades], int]:
        """Per grade item of one course; raises :class:`NotFoundError` if unknown."""
        await self._known_course(course_id)
        items, total = await self._repository.course_grades(course_id, _page(query))
        answer = [
            ItemGrades(
                item_id=item.item_id,
                item_name=item.item_name,
                item_type=item.item_type,
                grademin=item.grademin,
                grademax=item.grademax,
                gradepass=item.gradepass,
                **dict(compute.distribution(item.values)),
            )
            for item in items
        ]
        return answer, total

    async def completion(self, query: PageQuery) -> tuple[list[CourseCompletion], int]:
        """Module and course completion rates of each catalogue course."""
        rows, total = await self._repository.course_completion(_page(query))
        return [
            CourseCompletion(
                course_id=row.course_id,
                fullname=row.fullname,
                shortname=row.shortname,
                students=row.students,
                tracked_modules=row.tracked_modules,
                completion_pct=compute.completion_pct(
                    row.completed_modules, row.students, row.tracked_modules
                ),
                course_completed=row.course_completed,
                course_completion_pct=compute.percent(
                    row.course_completed, row.students
                ),
            )
            for row in rows
        ], total

    async def course_completion(
        self, course_id: str, query: PageQuery
    ) -> tuple[list[ModuleCompletion], int]:
        """Completion of each module of one course; 404 when the course is unknown."""
        await self._known_course(course_id)
        rows, total = await self._repository.module_completion(course_id, _page(query))
        return [
            ModuleCompletion(
                module_id=row.module_id,
                name=row.name,
                modname=row.modname,
                tracked=row.tracked,
                students=row.students,
                completed=row.completed,
                completion_pct=(
                    compute.percent(row.completed, row.students)
                    if row.tracked
                    else None
                ),
            )
            for row in rows
        ], total

    async def _known_course(self, course_id: str) -> None:
        if not await self._repository.has_course(course_id):
            raise NotFoundError(f"No course '{course_id}' in this tenant.")


def _course_summary(row: CourseStats) -> CourseSummary:
    activity = row.activity
    return CourseSummary(
        course_id=activity.course_id,
        fullname=activity.fullname,
        shortname=activity.shortname,
        active_users=activity.active_users,
        total_events=activity.events,
        avg_time_mins=compute.minutes_per(activity.seconds, activity.active_users),
        enrolled=row.students,
        completion_pct=compute.completion_pct(
            row.completed_modules, row.students, row.tracked_modules
        ),
        avg_grade_pct=(
            compute.one_decimal(row.avg_grade_pct)
            if row.avg_grade_pct is not None
            else None
        ),
        at_risk_count=row.at_risk,
    )


def _user_course(row: UserEnrolment) -> UserCourse:
    return UserCourse(
        course_id=row.course_id,
        fullname=row.fullname,
        shortname=row.shortname,
        role=row.role,
        status=row.status,
        progress_pct=compute.percent(row.completed_modules, row.tracked_modules),
        grade_pct=(
            compute.one_decimal(row.grade_pct) if row.grade_pct is not None else None
        ),
    )


def _quiz_attempt(event: UserEvent) -> QuizAttempt:
    meta = event.metadata
    return QuizAttempt(
        course_id=event.course_id,
        module_id=event.module_id,
        module_name=event.module_name or _text(meta.get("quiz_name")),
        submitted_at=event.occurred_at,
        attempt_number=_integer(meta.get("attempt_number")),
        score_percent=_number(meta.get("score_percent")),
        raw_score=_number(meta.get("raw_score")),
        time_taken_seconds=_integer(meta.get("time_taken_seconds")),
        state=_text(meta.get("state")),
    )


def _submission(event: UserEvent) -> AssignmentSubmission:
    meta = event.metadata
    return AssignmentSubmission(
        course_id=event.course_id,
        module_id=event.module_id,
        module_name=event.module_name,
        submitted_at=event.occurred_at,
        submission_status=_text(meta.get("submission_status")),
        is_late=_flag(meta.get("is_late")),
        due_date=_instant(meta.get("due_date")),
    )


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Metadata is whatever the plugin or an importer sent: a value of an unexpected type
# is shown as null rather than failing the whole profile.


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return None
        return number if math.isfinite(number) else None
    return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return None


def _instant(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (
            moment.replace(tzinfo=UTC)
            if moment.tzinfo is None
            else moment.astimezone(UTC)
        )
    return None
