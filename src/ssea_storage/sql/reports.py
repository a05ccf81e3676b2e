"""The SQL behind the six report types of SPEC §7; one tenant, rows streamed.

Every statement binds the tenant. Reports read the rollups (``daily_rollups``), the
catalogue (users, courses, modules, enrolments, grade items, grades, completions) and
the stored risk scores (``risk_scores``), never raw events. Each report is one
statement (retention: two small ones) whose rows are fetched in batches from a
server-side cursor (``stream_results``), so memory stays bounded by the batch, not by
the tenant.

Rules shared with the dashboard reads (``docs/metrics.md``): students are enrolments
with role ``student``, active unless a report says otherwise; tracked modules are
visible with completion enabled; a grade is ``(final - min) / (max - min) * 100``
and a pass mark at or below the minimum is none; a course's grade basis is its
course totals when it has any, else every item; a student's risk in a course is their
stored score in that course, at risk meaning high or critical (``risk.AT_RISK``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import anyio
from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Engine,
    Integer,
    Select,
    Subquery,
    and_,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ssea_core.errors import StoreUnavailableError
from ssea_core.metrics.compute import minutes, minutes_per, one_decimal, percent
from ssea_core.reports.compute import cohort_rows, item_stats
from ssea_core.reports.definitions import LOW_COMPLETION_PCT, ReportType
from ssea_core.reports.params import DEFAULT_MAX_WEEKS, ReportRequest
from ssea_core.risk.scoring import LEVELS
from ssea_storage.sql.executor import SqlExecutor
from ssea_storage.sql.risk import AT_RISK
from ssea_storage.sql.schema import (
    completions,
    courses,
    daily_rollups,
    enrolments,
    grade_items,
    grades,
    modules,
    risk_scores,
    users,
)

logger = logging.getLogger(__name__)

Row = dict[str, Any]
SITE = ""  # the course key of site-level rollups and of whole-course completions
DONE = ("complete", "complete_pass")
FINISHED = ("complete", "complete_pass", "complete_fail")
TEACHERS = ("teacher", "editingteacher")
#: The early warning summary's columns of students per risk level.
RISK_COUNTS = tuple(f"risk_{level}" for level in LEVELS)
#: Rows fetched per round trip from the server-side cursor.
BATCH_ROWS = 1000


# -- portable date arithmetic ----------------------------------------------------------


class UtcDay(FunctionElement[date]):
    """The UTC calendar day of a stored time."""

    type = Date()
    inherit_cache = True


class DaysBetween(FunctionElement[int]):
    """Whole days from the second date to the first."""

    type = Integer()
    inherit_cache = True


@compiles(UtcDay)
def _utc_day(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"
    )


@compiles(UtcDay, "sqlite")
def _utc_day_sqlite(element: UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps UTC times as naive text (schema.UtcDateTime).
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(DaysBetween)
def _days_between(element: DaysBetween, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(DaysBetween, "sqlite")
def _days_between_sqlite(element: DaysBetween, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(part, **kw) for part in element.clauses)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def _span(request: ReportRequest) -> tuple[date, date]:
    """The request's period; the request must have been resolved (``ReportRequest``)."""
    if request.date_from is None or request.date_to is None:
        raise ValueError(
            f"{request.report_type} needs a resolved date_from and date_to"
        )
    return request.date_from, request.date_to


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _int(value: Any) -> int:
    # PostgreSQL sums BIGINT into NUMERIC, which arrives as Decimal.
    return int(value or 0)


def _sum_when(condition: ColumnElement[bool], value: Any = 1) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _count_users_when(condition: ColumnElement[bool]) -> Any:
    """Distinct users of rollup rows with events that meet ``condition``."""
    active = and_(condition, daily_rollups.c.events > 0)
    return func.count(distinct(case((active, daily_rollups.c.user_id))))


# -- streaming -------------------------------------------------------------------------


def _batches(
    engine: Engine, produce: Callable[[Connection], Iterator[Row]]
) -> Generator[list[Row], None, None]:
    """Run ``produce`` in one read transaction and hand its rows out in batches."""
    with engine.connect() as connection, connection.begin():
        rows = produce(connection)
        while batch := list(itertools.islice(rows, BATCH_ROWS)):
            yield batch


def _next_batch(batches: Iterator[list[Row]]) -> list[Row] | None:
    try:
        return next(batches, None)
    except OperationalError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailableError from exc
        raise


def _streamed(connection: Connection, query: Select[Any]) -> Iterator[Any]:
    options = {"stream_results": True, "yield_per": BATCH_ROWS}
    yield from connection.execution_options(**options).execute(query)


# -- the reports -----------------------------------------------------------------------


class SqlReportQueries:
    """:class:`ssea_core.reports.ReportSource` over SQL, for one tenant."""

    def __init__(self, executor: SqlExecutor, tenant_id: UUID) -> None:
        self._engine = executor.engine
        self._tenant_id = tenant_id
        self._producers: dict[
            ReportType, Callable[[Connection, ReportRequest], Iterator[Row]]
        ] = {
            "retention_cohort": self._retention_cohort,
            "activity_funnel": self._activity_funnel,
            "teacher_course_health": self._teacher_course_health,
            "student_learning_profile": self._student_learning_profile,
            "assessment_performance": self._assessment_performance,
            "early_warning_summary": self._early_warning_summary,
        }

    @property
    def tenant_id(self) -> UUID:
        return self._tenant_id

    async def rows(self, request: ReportRequest) -> AsyncGenerator[Row, None]:
        """Stream the rows of ``request``'s report; the query runs in worker threads.

        Close the generator (``contextlib.aclosing``) when stopping early: that ends
        the cursor and the transaction.
        """
        producer = self._producers[request.report_type]
        batches = _batches(
            self._engine, lambda connection: producer(connection, request)
        )
        try:
            while (
                batch := await anyio.to_thread.run_sync(_next_batch, batches)
            ) is not None:
                for row in batch:
                    yield row
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(batches.close)

    # -- building blocks -----------------------------------------------------------

    @staticmethod
    def _course_filter(
        column: ColumnElement[Any], request: ReportRequest
    ) -> ColumnElement[bool]:
        if request.course_id is None:
            return true()
        return column == request.course_id

    def _students(self, *, active_only: bool = True) -> ColumnElement[bool]:
        conditions = [
            enrolments.c.tenant_id == self._tenant_id,
            enrolments.c.role == "student",
        ]
        if active_only:
            conditions.append(enrolments.c.status == "active")
        return and_(*conditions)

    def _student_of(self, user: Any, course: Any) -> ColumnElement[bool]:
        return and_(
            self._students(),
            enrolments.c.user_id == user,
            enrolments.c.course_id == course,
        )

    def _tracked(self) -> ColumnElement[bool]:
        return and_(
            modules.c.tenant_id == self._tenant_id,
            modules.c.completion_enabled.is_(True),
            modules.c.visible.is_(True),
            modules.c.course_id.is_not(None),
        )

    def _rollups_between(
        self, start: date | None, end: date | None, *, active: bool = False
    ) -> ColumnElement[bool]:
        """Rollup rows of the tenant from ``start`` to ``end``; ``active``: with events.

        Sums take every row; counts of users or days take active rows only (a row
        may be left with sessions or seconds and no events after re-sessionising).
        """
        conditions = [daily_rollups.c.tenant_id == self._tenant_id]
        if active:
            conditions.append(daily_rollups.c.events > 0)
        if start is not None:
            conditions.append(daily_rollups.c.day >= start)
        if end is not None:
            conditions.append(daily_rollups.c.day <= end)
        return and_(*conditions)

    def _course_join(self, column: Any) -> ColumnElement[bool]:
        return and_(
            courses.c.tenant_id == self._tenant_id, courses.c.course_id == column
        )

    def _user_join(self, column: Any) -> ColumnElement[bool]:
        return and_(users.c.tenant_id == self._tenant_id, users.c.user_id == column)

    def _grades_joined(self) -> Any:
        return grades.join(
            grade_items,
            and_(
                grade_items.c.tenant_id == grades.c.tenant_id,
                grade_items.c.course_id == grades.c.course_id,
                grade_items.c.item_id == grades.c.item_id,
            ),
        )

    def _graded(self) -> ColumnElement[bool]:
        return and_(
            grades.c.tenant_id == self._tenant_id,
            grades.c.finalgrade.is_not(None),
            grade_items.c.grademax > grade_items.c.grademin,
        )

    @staticmethod
    def _percent() -> Any:
        return (
            (grades.c.finalgrade - grade_items.c.grademin)
            * literal(100.0)
            / (grade_items.c.grademax - grade_items.c.grademin)
        )

    @staticmethod
    def _has_pass_mark() -> ColumnElement[bool]:
        return and_(
            grade_items.c.gradepass.is_not(None),
            grade_items.c.gradepass > grade_items.c.grademin,
        )

    def _on_basis(self) -> ColumnElement[bool]:
        """The grade is on its course's basis: a course total, or its course has
        no course-total grades."""
        with_totals = (
            select(grades.c.course_id)
            .select_from(self._grades_joined())
            .where(self._graded(), grade_items.c.item_type == "course")
        )
        return or_(
            grade_items.c.item_type == "course", grades.c.course_id.not_in(with_totals)
        )

    def _student_counts(self, role_filter: ColumnElement[bool]) -> Subquery:
        return (
            select(enrolments.c.course_id, func.count().label("n"))
            .where(role_filter)
            .group_by(enrolments.c.course_id)
            .subquery()
        )

    def _tracked_counts(self) -> Subquery:
        return (
            select(modules.c.course_id, func.count().label("n"))
            .where(self._tracked())
            .group_by(modules.c.course_id)
            .subquery()
        )

    def _completed_tracked(
        self, *, by_user: bool, students_only: bool = True
    ) -> Subquery:
        """Completed tracked modules, per course (and user); of active students only
        unless ``students_only`` is False."""
        keys = [completions.c.course_id]
        if by_user:
            keys.append(completions.c.user_id)
        joined: Any = completions.join(
            modules,
            and_(
                modules.c.tenant_id == completions.c.tenant_id,
                modules.c.course_id == completions.c.course_id,
                modules.c.module_id == completions.c.module_id,
            ),
        )
        if students_only:
            joined = joined.join(
                enrolments,
                self._student_of(completions.c.user_id, completions.c.course_id),
            )
        return (
            select(*keys, func.count().label("n"))
            .select_from(joined)
            .where(
                completions.c.tenant_id == self._tenant_id,
                completions.c.state.in_(DONE),
                self._tracked(),
            )
            .group_by(*keys)
            .subquery()
        )

    def _course_completed(self) -> Subquery:
        """Active students who completed the whole course, per course."""
        return (
            select(completions.c.course_id, func.count().label("n"))
            .select_from(
                completions.join(
                    enrolments,
                    self._student_of(completions.c.user_id, completions.c.course_id),
                )
            )
            .where(
                completions.c.tenant_id == self._tenant_id,
                completions.c.module_id == SITE,
                completions.c.state.in_(DONE),
            )
            .group_by(completions.c.course_id)
            .subquery()
        )

    def _risk_of(self, user: Any, course: Any) -> ColumnElement[bool]:
        """The stored risk score of ``user`` in ``course`` (never the overall one)."""
        return and_(
            risk_scores.c.tenant_id == self._tenant_id,
            risk_scores.c.user_id == user,
            risk_scores.c.course_id == course,
        )

    def _risk_levels(self) -> Subquery:
        """Active students per course by the level of their stored score there.

        Columns: course_id, one count per level (``risk_low`` … ``risk_critical``)
        and ``at_risk`` (high or critical). A student without a stored score, or whose
        score is null, is in none of them.
        """
        level = risk_scores.c.level
        return (
            select(
                enrolments.c.course_id,
                *(
                    _sum_when(level == name).label(column)
                    for name, column in zip(LEVELS, RISK_COUNTS, strict=True)
                ),
                _sum_when(level.in_(AT_RISK)).label("at_risk"),
            )
            .select_from(
                enrolments.join(
                    risk_scores,
                    self._risk_of(enrolments.c.user_id, enrolments.c.course_id),
                )
            )
            .where(self._students())
            .group_by(enrolments.c.course_id)
            .subquery("risk_levels")
        )

    def _basis_grades(self, by_user: bool, students_only: bool) -> Subquery:
        """Mean grade on the course's basis, per course (and user)."""
        keys = [grades.c.course_id]
        if by_user:
            keys.append(grades.c.user_id)
        joined = self._grades_joined()
        if students_only:
            joined = joined.join(
                enrolments, self._student_of(grades.c.user_id, grades.c.course_id)
            )
        return (
            select(*keys, func.avg(self._percent()).label("pct"))
            .select_from(joined)
            .where(self._graded(), self._on_basis())
            .group_by(*keys)
            .subquery()
        )

    # -- retention_cohort ----------------------------------------------------------

    def _retention_cohort(
        self, connection: Connection, request: ReportRequest
    ) -> Iterator[Row]:
        date_from, date_to = _span(request)
        max_weeks = request.max_weeks or DEFAULT_MAX_WEEKS
        members = (
            select(
                enrolments.c.user_id,
                enrolments.c.course_id,
                UtcDay(enrolments.c.time_start).label("start_day"),
            )
            .where(
                self._students(active_only=False),
                enrolments.c.time_start >= _midnight(date_from),
                enrolments.c.time_start < _midnight(date_to + timedelta(days=1)),
                self._course_filter(enrolments.c.course_id, request),
            )
            .subquery("members")
        )
        sizes = {
            row.start_day: _int(row.n)
            for row in connection.execute(
                select(members.c.start_day, func.count().label("n")).group_by(
                    members.c.start_day
                )
            )
        }
        active = self._retention_active(connection, members, request)
        yield from cohort_rows(sizes, active, max_weeks=max_weeks, as_of=request.as_of)

    def _retention_active(
        self, connection: Connection, members: Subquery, request: ReportRequest
    ) -> dict[tuple[date, int], int]:
        """Active members per enrolment day and week since enrolment."""
        max_weeks = request.max_weeks or DEFAULT_MAX_WEEKS
        elapsed = DaysBetween(daily_rollups.c.day, members.c.start_day)
        week = (elapsed // 7).label("week")
        per_member = (
            select(members.c.start_day, week, members.c.user_id, members.c.course_id)
            .select_from(
                members.join(
                    daily_rollups,
                    and_(
                        daily_rollups.c.user_id == members.c.user_id,
                        daily_rollups.c.course_id == members.c.course_id,
                    ),
                )
            )
            .where(
                self._rollups_between(None, request.as_of, active=True),
                daily_rollups.c.day >= members.c.start_day,
                elapsed < 7 * max_weeks,
            )
            .group_by(members.c.start_day, week, members.c.user_id, members.c.course_id)
            .subquery("per_member")
        )
        query = select(
            per_member.c.start_day, per_member.c.week, func.count().label("n")
        ).group_by(per_member.c.start_day, per_member.c.week)
        return {
            (row.start_day, _int(row.week)): _int(row.n)
            for row in connection.execute(query)
        }

    # -- activity_funnel -------------------------------------------------------------

    def _activity_funnel(
        self, connection: Connection, request: ReportRequest
    ) -> Iterator[Row]:
        students = self._student_counts(self._students())
        active = self._active_students(request.date_from, request.date_to)
        states = self._module_states()
        query = (
            select(
                modules.c.course_id,
                courses.c.shortname,
                modules.c.module_id,
                modules.c.name,
                modules.c.modname,
                and_(modules.c.completion_enabled, modules.c.visible).label("tracked"),
                students.c.n.label("enrolled"),
                active.c.n.label("active"),
                states.c.started,
                states.c.completed,
                states.c.passed,
                states.c.failed,
            )
            .select_from(
                modules.outerjoin(courses, self._course_join(modules.c.course_id))
                .outerjoin(students, students.c.course_id == modules.c.course_id)
                .outerjoin(active, active.c.course_id == modules.c.course_id)
                .outerjoin(
                    states,
                    and_(
                        states.c.course_id == modules.c.course_id,
                        states.c.module_id == modules.c.module_id,
                    ),
                )
            )
            .where(
                modules.c.tenant_id == self._tenant_id,
                modules.c.course_id.is_not(None),
                self._course_filter(modules.c.course_id, request),
            )
            .order_by(modules.c.course_id, modules.c.module_id)
        )
        for row in _streamed(connection, query):
            yield _funnel_row(row)

    def _active_students(self, start: date | None, end: date | None) -> Subquery:
        """Active students with activity in their course from ``start`` to ``end``."""
        return (
            select(
                daily_rollups.c.course_id,
                func.count(distinct(daily_rollups.c.user_id)).label("n"),
            )
            .select_from(
                daily_rollups.join(
                    enrolments,
                    self._student_of(
                        daily_rollups.c.user_id, daily_rollups.c.course_id
                    ),
                )
            )
            .where(self._rollups_between(start, end, active=True))
            .group_by(daily_rollups.c.course_id)
            .subquery()
        )

    def _module_states(self) -> Subquery:
        """Per module: active students with any state, finished, passed, failed."""
        state = completions.c.state
        return (
            select(
                completions.c.course_id,
                completions.c.module_id,
                func.count().label("started"),
                _sum_when(state.in_(FINISHED)).label("completed"),
                _sum_when(state == "complete_pass").label("passed"),
                _sum_when(state == "complete_fail").label("failed"),
            )
            .select_from(
                completions.join(
                    enrolments,
                    self._student_of(completions.c.user_id, completions.c.course_id),
                )
            )
            .where(
                completions.c.tenant_id == self._tenant_id,
                completions.c.module_id != SITE,
            )
            .group_by(completions.c.course_id, completions.c.module_id)
            .subquery()
        )

    # -- teacher_course_health -------------------------------------------------------

    def _teacher_course_health(
        self, connection: Connection, request: ReportRequest
    ) -> Iterator[Row]:
        activity = self._health_activity(*_span(request))
        students = self._student_counts(self._students())
        teachers = self._student_counts(
            and_(
                enrolments.c.tenant_id == self._tenant_id,
                enrolments.c.role.in_(TEACHERS),
                enrolments.c.status == "active",
            )
        )
        tracked = self._tracked_counts()
        done = self._completed_tracked(by_user=False)
        finished = self._course_completed()
        grade = self._basis_grades(by_user=False, students_only=True)
        risk = self._risk_levels()
        query = (
            select(
                courses.c.course_id,
                courses.c.shortname,
                courses.c.fullname,
                teachers.c.n.label("teachers"),
                students.c.n.label("enrolled"),
                activity.c.active_7d,
                activity.c.active_30d,
                activity.c.active_in_period,
                activity.c.events,
                activity.c.seconds,
                tracked.c.n.label("tracked"),
                done.c.n.label("done"),
                finished.c.n.label("finished"),
                grade.c.pct.label("grade"),
                risk.c.at_risk,
            )
            .select_from(
                courses.outerjoin(activity, activity.c.course_id == courses.c.course_id)
                .outerjoin(students, students.c.course_id == courses.c.course_id)
                .outerjoin(teachers, teachers.c.course_id == courses.c.course_id)
                .outerjoin(tracked, tracked.c.course_id == courses.c.course_id)
                .outerjoin(done, done.c.course_id == courses.c.course_id)
                .outerjoin(finished, finished.c.course_id == courses.c.course_id)
                .outerjoin(grade, grade.c.course_id == courses.c.course_id)
                .outerjoin(risk, risk.c.course_id == courses.c.course_id)
            )
            .where(
                courses.c.tenant_id == self._tenant_id,
                self._course_filter(courses.c.course_id, request),
            )
            .order_by(courses.c.course_id)
        )
        for row in _streamed(connection, query):
            yield _health_row(row)

    def _health_activity(self, start: date, end: date) -> Subquery:
        """Students' activity per course: last 7 and 30 days to ``end``, the period."""
        day = daily_rollups.c.day
        week_from, month_from = end - timedelta(days=6), end - timedelta(days=29)
        in_period = and_(day >= start, day <= end)
        return (
            select(
                daily_rollups.c.course_id,
                _count_users_when(day >= week_from).label("active_7d"),
                _count_users_when(day >= month_from).label("active_30d"),
                _count_users_when(in_period).label("active_in_period"),
                _sum_when(in_period, daily_rollups.c.events).label("events"),
                _sum_when(in_period, daily_rollups.c.seconds).label("seconds"),
            )
            .select_from(
                daily_rollups.join(
                    enrolments,
                    self._student_of(
                        daily_rollups.c.user_id, daily_rollups.c.course_id
                    ),
                )
            )
            .where(self._rollups_between(min(start, month_from), end))
            .group_by(daily_rollups.c.course_id)
            .subquery()
        )

    # -- student_learning_profile ----------------------------------------------------

    def _student_learning_profile(
        self, connection: Connection, request: ReportRequest
    ) -> Iterator[Row]:
        date_from, date_to = _span(request)
        activity = self._profile_activity(date_from, date_to)
        last = self._last_active(date_to)
        tracked = self._tracked_counts()
        done = self._completed_tracked(by_user=True, students_only=False)
        grade = self._basis_grades(by_user=True, students_only=False)
        course_done = self._course_done_by_user()
        keys = (enrolments.c.user_id, enrolments.c.course_id)

        def by_user(table: Subquery) -> ColumnElement[bool]:
            return and_(table.c.user_id == keys[0], table.c.course_id == keys[1])

        query = (
            select(
                *keys,
                users.c.username,
                users.c.full_name,
                courses.c.shortname,
                enrolments.c.status,
                enrolments.c.time_start,
                activity.c.events,
                activity.c.active_days,
                activity.c.sessions,
                activity.c.seconds,
                last.c.day.label("last_day"),
                grade.c.pct.label("grade"),
                tracked.c.n.label("tracked"),
                done.c.n.label("done"),
                course_done.c.n.label("course_done"),
                risk_scores.c.score.label("risk_score"),
                risk_scores.c.level.label("risk_level"),
            )
            .select_from(
                enrolments.outerjoin(users, self._user_join(keys[0]))
                .outerjoin(courses, self._course_join(keys[1]))
                .outerjoin(activity, by_user(activity))
                .outerjoin(last, by_user(last))
                .outerjoin(grade, by_user(grade))
                .outerjoin(done, by_user(done))
                .outerjoin(course_done, by_user(course_done))
                .outerjoin(tracked, tracked.c.course_id == keys[1])
                .outerjoin(risk_scores, self._risk_of(*keys))
            )
            .where(
                self._students(active_only=False),
                or_(users.c.deleted.is_(None), users.c.deleted.is_(False)),
                self._course_filter(keys[1], request),
            )
            .order_by(keys[1], keys[0])
        )
        for row in _streamed(connection, query):
            yield _profile_row(row)

    def _profile_activity(self, start: date, end: date) -> Subquery:
        rollup = daily_rollups.c
        return (
            select(
                rollup.user_id,
                rollup.course_id,
                func.sum(rollup.events).label("events"),
                func.count(distinct(case((rollup.events > 0, rollup.day)))).label(
                    "active_days"
                ),
                func.sum(rollup.sessions).label("sessions"),
                func.sum(rollup.seconds).label("seconds"),
            )
            .where(self._rollups_between(start, end), rollup.course_id != SITE)
            .group_by(rollup.user_id, rollup.course_id)
            .subquery()
        )

    def _last_active(self, end: date) -> Subquery:
        """Each user's last day with activity in each course, up to ``end``."""
        return (
            select(
                daily_rollups.c.user_id,
                daily_rollups.c.course_id,
                func.max(daily_rollups.c.day).label("day"),
            )
            .where(
                self._rollups_between(None, end, active=True),
                daily_rollups.c.course_id != SITE,
            )
            .group_by(daily_rollups.c.user_id, daily_rollups.c.course_id)
            .subquery()
        )

    def _course_done_by_user(self) -> Subquery:
        return (
            select(
                completions.c.user_id, completions.c.course_id, func.count().label("n")
            )
            .where(
                completions.c.tenant_id == self._tenant_id,
                completions.c.module_id == SITE,
                completions.c.state.in_(DONE),
            )
            .group_by(completions.c.user_id, completions.c.course_id)
            .subquery()
        )

    # -- assessment_performance ------------------------------------------------------

    def _assessment_performance(
        self, connection: Connection, request: ReportRequest
    ) -> Iterator[Row]:
        found = and_(
            grades.c.tenant_id == grade_items.c.tenant_id,
            grades.c.course_id == grade_items.c.course_id,
            grades.c.item_id == grade_items.c.item_id,
            grades.c.finalgrade.is_not(None),
            grade_items.c.grademax > grade_items.c.grademin,
            *self._graded_within(request),
        )
        percent_value = self._percent()
        query = (
            select(
                grade_items.c.course_id,
                courses.c.shortname,
                grade_items.c.item_id,
                grade_items.c.item_name,
                grade_items.c.item_type,
                grade_items.c.grademin,
                grade_items.c.grademax,
                grade_items.c.gradepass,
                self._has_pass_mark().label("has_mark"),
                percent_value.label("pct"),
                (grades.c.finalgrade >= grade_items.c.gradepass).label("passed"),
            )
            .select_from(
                grade_items.outerjoin(grades, found).outerjoin(
                    courses, self._course_join(grade_items.c.course_id)
                )
            )
            .where(
                grade_items.c.tenant_id == self._tenant_id,
                self._course_filter(grade_items.c.course_id, request),
            )
            .order_by(grade_items.c.course_id, grade_items.c.item_id, percent_value)
        )
        rows = _streamed(connection, query)
        for _, item in itertools.groupby(
            rows, key=lambda row: (row.course_id, row.item_id)
        ):
            yield _assessment_row(list(item))

    @staticmethod
    def _graded_within(request: ReportRequest) -> list[ColumnElement[bool]]:
        bounds = []
        if request.date_from is not None:
            bounds.append(grades.c.graded_at >= _midnight(request.date_from))
        if request.date_to is not None:
            end = _midnight(request.date_to + timedelta(days=1))
            bounds.append(grades.c.graded_at < end)
        return bounds

    # -- early_warning_summary -------------------------------------------------------

    def _early_warning_summary(
        self, connection: Connection, request: ReportRequest
    ) -> Iterator[Row]:
        buckets = self._inactivity_buckets(request.date_to or request.as_of)
        failing = self._failing_students()
        low = self._low_completion()
        tracked = self._tracked_counts()
        risk = self._risk_levels()
        query = (
            select(
                courses.c.course_id,
                courses.c.shortname,
                courses.c.fullname,
                buckets.c.enrolled,
                buckets.c.inactive_0_7,
                buckets.c.inactive_8_14,
                buckets.c.inactive_15_30,
                buckets.c.inactive_over_30,
                buckets.c.never_active,
                failing.c.n.label("failing"),
                low.c.n.label("low"),
                tracked.c.n.label("tracked"),
                *(risk.c[name] for name in RISK_COUNTS),
            )
            .select_from(
                courses.outerjoin(buckets, buckets.c.course_id == courses.c.course_id)
                .outerjoin(failing, failing.c.course_id == courses.c.course_id)
                .outerjoin(low, low.c.course_id == courses.c.course_id)
                .outerjoin(tracked, tracked.c.course_id == courses.c.course_id)
                .outerjoin(risk, risk.c.course_id == courses.c.course_id)
            )
            .where(
                courses.c.tenant_id == self._tenant_id,
                self._course_filter(courses.c.course_id, request),
            )
            .order_by(courses.c.course_id)
        )
        for row in _streamed(connection, query):
            yield _warning_row(row)

    def _inactivity_buckets(self, as_of: date) -> Subquery:
        """Active students per course by days since their last activity there."""
        last = self._last_active(as_of)
        day = last.c.day

        def since(low: int, high: int) -> Any:
            newest, oldest = as_of - timedelta(days=low), as_of - timedelta(days=high)
            return _sum_when(and_(day <= newest, day >= oldest))

        return (
            select(
                enrolments.c.course_id,
                func.count().label("enrolled"),
                since(0, 7).label("inactive_0_7"),
                since(8, 14).label("inactive_8_14"),
                since(15, 30).label("inactive_15_30"),
                _sum_when(day < as_of - timedelta(days=30)).label("inactive_over_30"),
                _sum_when(day.is_(None)).label("never_active"),
            )
            .select_from(
                enrolments.outerjoin(
                    last,
                    and_(
                        last.c.user_id == enrolments.c.user_id,
                        last.c.course_id == enrolments.c.course_id,
                    ),
                )
            )
            .where(self._students())
            .group_by(enrolments.c.course_id)
            .subquery()
        )

    def _failing_students(self) -> Subquery:
        """Active students with a basis grade under its pass mark, per course."""
        joined = self._grades_joined().join(
            enrolments, self._student_of(grades.c.user_id, grades.c.course_id)
        )
        return (
            select(
                grades.c.course_id, func.count(distinct(grades.c.user_id)).label("n")
            )
            .select_from(joined)
            .where(
                self._graded(),
                self._on_basis(),
                self._has_pass_mark(),
                grades.c.finalgrade < grade_items.c.gradepass,
            )
            .group_by(grades.c.course_id)
            .subquery()
        )

    def _low_completion(self) -> Subquery:
        """Active students under LOW_COMPLETION_PCT of tracked modules, per course."""
        tracked = self._tracked_counts()
        done = self._completed_tracked(by_user=True)
        completed = func.coalesce(done.c.n, 0)
        return (
            select(enrolments.c.course_id, func.count().label("n"))
            .select_from(
                enrolments.join(
                    tracked, tracked.c.course_id == enrolments.c.course_id
                ).outerjoin(
                    done,
                    and_(
                        done.c.course_id == enrolments.c.course_id,
                        done.c.user_id == enrolments.c.user_id,
                    ),
                )
            )
            .where(self._students(), completed * 100 < tracked.c.n * LOW_COMPLETION_PCT)
            .group_by(enrolments.c.course_id)
            .subquery()
        )


# -- rows ------------------------------------------------------------------------------


def _funnel_row(row: Any) -> Row:
    enrolled = _int(row.enrolled)
    started, completed, passed = (
        _int(row.started),
        _int(row.completed),
        _int(row.passed),
    )
    return {
        "course_id": row.course_id,
        "course_shortname": row.shortname,
        "module_id": row.module_id,
        "module_name": row.name,
        "modname": row.modname,
        "tracked": bool(row.tracked),
        "enrolled": enrolled,
        "active_in_course": _int(row.active),
        "started": started,
        "completed": completed,
        "passed": passed,
        "failed": _int(row.failed),
        "started_pct": percent(started, enrolled),
        "completed_pct": percent(completed, enrolled),
        "passed_pct": percent(passed, enrolled),
    }


def _health_row(row: Any) -> Row:
    enrolled, tracked = _int(row.enrolled), _int(row.tracked)
    return {
        "course_id": row.course_id,
        "shortname": row.shortname,
        "fullname": row.fullname,
        "teachers": _int(row.teachers),
        "enrolled": enrolled,
        "active_7d": _int(row.active_7d),
        "active_30d": _int(row.active_30d),
        "active_in_period": _int(row.active_in_period),
        "events": _int(row.events),
        "avg_time_mins": minutes_per(_int(row.seconds), _int(row.active_in_period)),
        "completion_pct": percent(_int(row.done), enrolled * tracked),
        "course_completion_pct": percent(_int(row.finished), enrolled),
        "avg_grade_pct": _grade(row.grade),
        "at_risk_count": _int(row.at_risk),
    }


def _profile_row(row: Any) -> Row:
    tracked = _int(row.tracked)
    return {
        "user_id": row.user_id,
        "username": row.username,
        "full_name": row.full_name,
        "course_id": row.course_id,
        "course_shortname": row.shortname,
        "status": row.status,
        "enrolled_at": row.time_start,
        "events": _int(row.events),
        "active_days": _int(row.active_days),
        "sessions": _int(row.sessions),
        "time_mins": minutes(_int(row.seconds)),
        "last_active_day": row.last_day,
        "grade_pct": _grade(row.grade),
        "completion_pct": percent(_int(row.done), tracked),
        "course_completed": _int(row.course_done) > 0,
        "risk_score": None if row.risk_score is None else float(row.risk_score),
        "risk_level": row.risk_level,
    }


def _assessment_row(rows: Sequence[Any]) -> Row:
    first = rows[0]
    graded = [row for row in rows if row.pct is not None]
    stats = item_stats(
        [float(row.pct) for row in graded],
        [bool(row.passed) for row in graded],
        bool(first.has_mark),
    )
    return {
        "course_id": first.course_id,
        "course_shortname": first.shortname,
        "item_id": first.item_id,
        "item_name": first.item_name,
        "item_type": first.item_type,
        "grademin": float(first.grademin),
        "grademax": float(first.grademax),
        "gradepass": None if first.gradepass is None else float(first.gradepass),
        **stats,
        # Known shortcoming: grades carry no submission time; counting late work
        # needs a rollup of assignment submissions, which ingestion does not keep.
        "late_submissions": None,
    }


def _warning_row(row: Any) -> Row:
    tracked = _int(row.tracked)
    return {
        "course_id": row.course_id,
        "shortname": row.shortname,
        "fullname": row.fullname,
        "enrolled": _int(row.enrolled),
        "inactive_0_7": _int(row.inactive_0_7),
        "inactive_8_14": _int(row.inactive_8_14),
        "inactive_15_30": _int(row.inactive_15_30),
        "inactive_over_30": _int(row.inactive_over_30),
        "never_active": _int(row.never_active),
        "failing_grade": _int(row.failing),
        "low_completion": _int(row.low) if tracked else None,
        **{name: _int(row._mapping[name]) for name in RISK_COUNTS},
    }


def _grade(value: Any) -> float | None:
    return None if value is None else one_decimal(float(value))
