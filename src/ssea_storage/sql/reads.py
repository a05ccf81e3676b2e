"""The dashboard's SQL reads (SPEC §3, §5): rollups and catalogue, one tenant.

Every statement binds the repository's tenant. Activity comes from ``daily_rollups``
(tenant, UTC day, user, course), ``hourly_rollups`` (tenant, UTC hour, course) and
``user_activity`` (first and last seen per user); rollup rows with course ``''`` are
site-level. Raw ``events`` are read only by :meth:`SqlAnalyticsRepository.user_events`,
for one user and a bounded number of rows.

Every statement is also narrowed to the repository's :class:`Scope` (``docs/auth.md``):
a teacher's scope keeps rollup, grade and enrolment rows of their courses whose user is
a student of that course; a user's scope keeps that user's rows. Hourly rollups carry
no user, so a course scope narrows them by course only and a user scope keeps none.

Rules kept here, written down in ``docs/metrics.md``:
- a grade is ``(final - min) / (max - min) * 100``; rows without a final grade or with
  an empty range are not grades;
- a course's grade basis is its course-total grades (item type ``course``) when it has
  any, else every item grade; a user's grade in a course likewise;
- students are active enrolments with role ``student``; tracked modules are visible
  modules with completion enabled; completed means ``complete`` or ``complete_pass``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    distinct,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union,
)

from ssea_core.auth.scope import Scope
from ssea_core.metrics.params import CourseSort, UserSort
from ssea_core.metrics.period import Period
from ssea_core.metrics.repository import (
    CourseActivity,
    CourseCompletionCounts,
    CourseStats,
    DayTotals,
    EnrolmentCounts,
    GradeItemValues,
    GradeValue,
    HourTotals,
    ModuleCompletionCounts,
    Page,
    Paged,
    ProfileEventType,
    Totals,
    UserActivity,
    UserEnrolment,
    UserEvent,
    UserFilter,
    UserRecord,
)
from ssea_core.risk.records import StoredRisk
from ssea_storage.sql.executor import SqlExecutor
from ssea_storage.sql.risk import AT_RISK, ScopeConditions, risk_view, stored_risk
from ssea_storage.sql.schema import (
    completions,
    courses,
    daily_rollups,
    enrolments,
    events,
    grade_items,
    grades,
    hourly_rollups,
    modules,
    risk_scores,
    tenant_days,
    tenant_hours,
    user_activity,
    users,
)

SITE = ""  # the course key of site-level rollups
DONE_STATES = ("complete", "complete_pass")
#: User orders that need every user's period totals before a page can be cut.
TOTAL_SORTS = frozenset({"events_desc", "events_asc", "time_desc"})


def _int(value: Any) -> int:
    # PostgreSQL sums BIGINT into NUMERIC, which arrives as Decimal.
    return int(value or 0)


def _count(connection: Connection, query: Select[Any]) -> int:
    total = connection.execute(
        select(func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    return _int(total)


def _paged(query: Select[Any], page: Page) -> Select[Any]:
    return query.limit(page.limit).offset(page.offset)


def _null_last(column: Any) -> Any:
    # Portable NULLS LAST: SQLite sorts NULL first, PostgreSQL last.
    return case((column.is_(None), 1), else_=0)


class SqlAnalyticsRepository:
    """The ``AnalyticsRepository`` over SQL, for one tenant and one scope."""

    def __init__(self, executor: SqlExecutor, tenant_id: UUID, scope: Scope) -> None:
        self._executor = executor
        self._tenant_id = tenant_id
        self._scope = scope

    # -- scope -------------------------------------------------------------------

    def _courses_in_scope(self) -> list[str] | None:
        courses = self._scope.course_ids
        return sorted(courses) if courses is not None else None

    def _student_of(self, user: Any, course: Any) -> ColumnElement[bool]:
        """The (user, course) pair is a student enrolment (any status)."""
        # An alias, so that the subquery never correlates with an outer enrolments.
        pair = enrolments.alias("scope_enrolment")
        return exists(
            select(literal(1)).where(
                pair.c.tenant_id == self._tenant_id,
                pair.c.user_id == user,
                pair.c.course_id == course,
                pair.c.role == "student",
            )
        )

    def _pair_in_scope(self, user: Any, course: Any) -> ColumnElement[bool]:
        """Rows of (user, course) the scope keeps: rollups, grades, events."""
        courses, user_id = self._courses_in_scope(), self._scope.user_id
        parts: list[ColumnElement[bool]] = []
        if courses is not None:
            parts += [course.in_(courses), self._student_of(user, course)]
        if user_id is not None:
            parts.append(user == user_id)
        return and_(true(), *parts)

    def _user_in_scope(self, user: Any) -> ColumnElement[bool]:
        """Users the scope keeps: a course scope's students, or the one user."""
        courses, user_id = self._courses_in_scope(), self._scope.user_id
        parts: list[ColumnElement[bool]] = []
        if courses is not None:
            pair = enrolments.alias("scope_student")
            parts.append(
                exists(
                    select(literal(1)).where(
                        pair.c.tenant_id == self._tenant_id,
                        pair.c.user_id == user,
                        pair.c.course_id.in_(courses),
                        pair.c.role == "student",
                    )
                )
            )
        if user_id is not None:
            parts.append(user == user_id)
        return and_(true(), *parts)

    def _course_in_scope(self, course: Any) -> ColumnElement[bool]:
        """Courses the scope keeps: its courses, and a user's own enrolments."""
        courses, user_id = self._courses_in_scope(), self._scope.user_id
        parts: list[ColumnElement[bool]] = []
        if courses is not None:
            parts.append(course.in_(courses))
        if user_id is not None:
            mine = enrolments.alias("scope_course")
            parts.append(
                exists(
                    select(literal(1)).where(
                        mine.c.tenant_id == self._tenant_id,
                        mine.c.user_id == user_id,
                        mine.c.course_id == course,
                    )
                )
            )
        return and_(true(), *parts)

    def _enrolment_in_scope(self) -> ColumnElement[bool]:
        """Enrolment rows the scope keeps (its courses; the one user's rows)."""
        courses, user_id = self._courses_in_scope(), self._scope.user_id
        parts: list[ColumnElement[bool]] = []
        if courses is not None:
            parts.append(enrolments.c.course_id.in_(courses))
        if user_id is not None:
            parts.append(enrolments.c.user_id == user_id)
        return and_(true(), *parts)

    def _hour_in_scope(self) -> ColumnElement[bool]:
        courses = self._courses_in_scope()
        if self._scope.user_id is not None:
            return false()  # hourly rollups have no user to narrow to
        if courses is not None:
            return hourly_rollups.c.course_id.in_(courses)
        return true()

    # -- building blocks ---------------------------------------------------------

    def _in_period(self, period: Period) -> ColumnElement[bool]:
        return and_(
            daily_rollups.c.tenant_id == self._tenant_id,
            daily_rollups.c.day >= period.start,
            daily_rollups.c.day <= period.end,
            self._pair_in_scope(daily_rollups.c.user_id, daily_rollups.c.course_id),
        )

    def _students(self) -> ColumnElement[bool]:
        return and_(
            enrolments.c.tenant_id == self._tenant_id,
            enrolments.c.role == "student",
            enrolments.c.status == "active",
            self._enrolment_in_scope(),
        )

    def _tracked(self) -> ColumnElement[bool]:
        return and_(
            modules.c.tenant_id == self._tenant_id,
            modules.c.completion_enabled.is_(True),
            modules.c.visible.is_(True),
        )

    def _graded(self) -> tuple[Any, ColumnElement[bool]]:
        """The grades joined to their items, and the condition that makes a grade."""
        joined = grades.join(
            grade_items,
            and_(
                grade_items.c.tenant_id == grades.c.tenant_id,
                grade_items.c.course_id == grades.c.course_id,
                grade_items.c.item_id == grades.c.item_id,
            ),
        )
        condition = and_(
            grades.c.tenant_id == self._tenant_id,
            grades.c.finalgrade.is_not(None),
            grade_items.c.grademax > grade_items.c.grademin,
            self._pair_in_scope(grades.c.user_id, grades.c.course_id),
        )
        return joined, condition

    @staticmethod
    def _percent() -> Any:
        return (
            (grades.c.finalgrade - grade_items.c.grademin)
            * literal(100.0)
            / (grade_items.c.grademax - grade_items.c.grademin)
        )

    @staticmethod
    def _passed() -> Any:
        # Moodle's gradepass 0 (at the minimum) means "no pass mark set".
        has_mark = and_(
            grade_items.c.gradepass.is_not(None),
            grade_items.c.gradepass > grade_items.c.grademin,
        )
        passed = case((grades.c.finalgrade >= grade_items.c.gradepass, 1), else_=0)
        return case((has_mark, passed), else_=None)

    def _basis_grade(self) -> Any:
        """Mean of course totals when there are any, else mean of every grade."""
        percent = self._percent()
        total = case((grade_items.c.item_type == "course", percent), else_=None)
        return func.coalesce(func.avg(total), func.avg(percent))

    # Known shortcoming: per-user and per-course period totals (users, top, courses)
    # sum every daily rollup row of the period, so they grow with users x days; no
    # coarser tier exists yet (docs/performance.md has the figures).
    def _user_activity(self, period: Period, course_id: str | None = None) -> Any:
        return self._user_sums(period, course_id).subquery("activity")

    def _user_sums(
        self, period: Period, course_id: str | None, user_ids: Sequence[str] = ()
    ) -> Select[Any]:
        """Events and seconds per user in the period (of one course when given; of
        ``user_ids`` only when given)."""
        query = (
            select(
                daily_rollups.c.user_id,
                func.sum(daily_rollups.c.events).label("events"),
                func.sum(daily_rollups.c.seconds).label("seconds"),
            )
            .where(self._in_period(period))
            .group_by(daily_rollups.c.user_id)
        )
        if course_id is not None:
            query = query.where(daily_rollups.c.course_id == course_id)
        if user_ids:
            query = query.where(daily_rollups.c.user_id.in_(user_ids))
        return query

    def _course_activity(self, period: Period) -> Any:
        return (
            select(
                daily_rollups.c.course_id,
                func.sum(daily_rollups.c.events).label("events"),
                func.sum(daily_rollups.c.seconds).label("seconds"),
                _active_users().label("active_users"),
            )
            .where(self._in_period(period), daily_rollups.c.course_id != SITE)
            .group_by(daily_rollups.c.course_id)
            .subquery("activity")
        )

    def _not_deleted(self) -> ColumnElement[bool]:
        return or_(users.c.deleted.is_(None), users.c.deleted.is_(False))

    def _user_join(self, column: Any) -> ColumnElement[bool]:
        return and_(users.c.tenant_id == self._tenant_id, users.c.user_id == column)

    def _course_join(self, column: Any) -> ColumnElement[bool]:
        return and_(
            courses.c.tenant_id == self._tenant_id, courses.c.course_id == column
        )

    # -- tenant activity ---------------------------------------------------------

    async def totals(self, period: Period) -> Totals:
        if self._scope.whole_tenant:
            return await self._tenant_totals(period)
        query = select(
            func.sum(daily_rollups.c.events),
            func.sum(daily_rollups.c.sessions),
            func.sum(daily_rollups.c.seconds),
            _active_users(),
        ).where(self._in_period(period))

        def work(connection: Connection) -> Totals:
            row = connection.execute(query).one()
            return Totals(_int(row[0]), _int(row[1]), _int(row[2]), _int(row[3]))

        return await self._executor.run(work)

    async def _tenant_totals(self, period: Period) -> Totals:
        """The whole tenant's totals from ``tenant_days``, one row a day.

        Distinct users cannot be summed over days. When no counted event lies after
        the period (the usual "last N days"), the users active in it are those whose
        newest counted event is on or after its first day: a range count on
        ``user_activity``. A period in the past counts them from ``daily_rollups``.
        """
        sums = select(
            func.sum(tenant_days.c.events),
            func.sum(tenant_days.c.sessions),
            func.sum(tenant_days.c.seconds),
        ).where(
            tenant_days.c.tenant_id == self._tenant_id,
            tenant_days.c.day >= period.start,
            tenant_days.c.day <= period.end,
        )
        newest = select(func.max(user_activity.c.last_seen_at)).where(
            user_activity.c.tenant_id == self._tenant_id
        )
        recent = select(func.count()).where(
            user_activity.c.tenant_id == self._tenant_id,
            user_activity.c.last_seen_at >= period.start_at,
        )
        distinct_users = select(_active_users()).where(self._in_period(period))

        def work(connection: Connection) -> Totals:
            row = connection.execute(sums).one()
            last_seen = connection.execute(newest).scalar_one_or_none()
            reaches_newest = last_seen is None or last_seen < period.end_at
            active = connection.execute(
                recent if reaches_newest else distinct_users
            ).scalar_one()
            return Totals(_int(row[0]), _int(row[1]), _int(row[2]), _int(active))

        return await self._executor.run(work)

    async def daily(
        self, period: Period, user_id: str | None = None
    ) -> list[DayTotals]:
        if user_id is None and self._scope.whole_tenant:
            return await self._tenant_daily(period)
        query = (
            select(
                daily_rollups.c.day,
                func.sum(daily_rollups.c.events),
                func.sum(daily_rollups.c.sessions),
                func.sum(daily_rollups.c.seconds),
                _active_users(),
            )
            .where(self._in_period(period))
            .group_by(daily_rollups.c.day)
        )
        if user_id is not None:
            query = query.where(daily_rollups.c.user_id == user_id)

        def work(connection: Connection) -> list[DayTotals]:
            return [
                DayTotals(
                    row[0], _int(row[1]), _int(row[2]), _int(row[3]), _int(row[4])
                )
                for row in connection.execute(query)
            ]

        return await self._executor.run(work)

    async def _tenant_daily(self, period: Period) -> list[DayTotals]:
        query = select(
            tenant_days.c.day,
            tenant_days.c.events,
            tenant_days.c.sessions,
            tenant_days.c.seconds,
            tenant_days.c.active_users,
        ).where(
            tenant_days.c.tenant_id == self._tenant_id,
            tenant_days.c.day >= period.start,
            tenant_days.c.day <= period.end,
        )

        def work(connection: Connection) -> list[DayTotals]:
            return [
                DayTotals(
                    row[0], _int(row[1]), _int(row[2]), _int(row[3]), _int(row[4])
                )
                for row in connection.execute(query)
            ]

        return await self._executor.run(work)

    async def hourly(self, period: Period) -> list[HourTotals]:
        if self._scope.whole_tenant:
            return await self._tenant_hourly(period)
        query = (
            select(
                hourly_rollups.c.hour,
                func.sum(hourly_rollups.c.events),
                func.sum(hourly_rollups.c.sessions),
                func.sum(hourly_rollups.c.seconds),
            )
            .where(
                hourly_rollups.c.tenant_id == self._tenant_id,
                hourly_rollups.c.hour >= period.start_at,
                hourly_rollups.c.hour < period.end_at,
                self._hour_in_scope(),
            )
            .group_by(hourly_rollups.c.hour)
        )

        def work(connection: Connection) -> list[HourTotals]:
            return [
                HourTotals(row[0], _int(row[1]), _int(row[2]), _int(row[3]))
                for row in connection.execute(query)
            ]

        return await self._executor.run(work)

    async def _tenant_hourly(self, period: Period) -> list[HourTotals]:
        query = select(
            tenant_hours.c.hour,
            tenant_hours.c.events,
            tenant_hours.c.sessions,
            tenant_hours.c.seconds,
        ).where(
            tenant_hours.c.tenant_id == self._tenant_id,
            tenant_hours.c.hour >= period.start_at,
            tenant_hours.c.hour < period.end_at,
        )

        def work(connection: Connection) -> list[HourTotals]:
            return [
                HourTotals(row[0], _int(row[1]), _int(row[2]), _int(row[3]))
                for row in connection.execute(query)
            ]

        return await self._executor.run(work)

    # -- users ---------------------------------------------------------------------

    def _users_query(
        self,
        period: Period,
        where: UserFilter,
        *,
        counting: bool = False,
        totals: bool = True,
    ) -> Select[Any]:
        """The users list; ``counting`` keeps only what a count needs, and without
        ``totals`` the period's events and seconds are left at 0 (filled in later)."""
        # Users from the catalogue and users only events named (not synced yet).
        known = union(
            select(users.c.user_id).where(users.c.tenant_id == self._tenant_id),
            select(user_activity.c.user_id).where(
                user_activity.c.tenant_id == self._tenant_id
            ),
        ).subquery("known")
        activity = self._user_activity(period, where.course_id)
        seen = user_activity
        risk = risk_view(self._tenant_id, self._scope, where.course_id)
        joined = known.outerjoin(users, self._user_join(known.c.user_id))
        if counting:
            if where.risk_level is not None:
                joined = joined.outerjoin(risk, risk.c.user_id == known.c.user_id)
            query = select(known.c.user_id).select_from(joined)
        else:
            joined = joined.outerjoin(
                seen,
                and_(
                    seen.c.tenant_id == self._tenant_id,
                    seen.c.user_id == known.c.user_id,
                ),
            )
            if totals:
                joined = joined.outerjoin(
                    activity, activity.c.user_id == known.c.user_id
                )
                sums = [
                    func.coalesce(activity.c.events, 0).label("events"),
                    func.coalesce(activity.c.seconds, 0).label("seconds"),
                ]
            else:
                sums = [literal(0).label("events"), literal(0).label("seconds")]
            query = select(
                known.c.user_id,
                users.c.username,
                users.c.full_name,
                seen.c.last_seen_at,
                *sums,
                risk.c.level.label("risk_level"),
                risk.c.score.label("risk_score"),
            ).select_from(joined.outerjoin(risk, risk.c.user_id == known.c.user_id))
        query = query.where(self._not_deleted(), self._user_in_scope(known.c.user_id))
        if where.risk_level is not None:
            query = query.where(risk.c.level == where.risk_level)
        if where.role is not None or where.course_id is not None:
            # Filters see only enrolments in scope: a teacher cannot learn who of
            # their students is enrolled in a course they do not teach.
            enrolled = select(literal(1)).where(
                enrolments.c.tenant_id == self._tenant_id,
                enrolments.c.user_id == known.c.user_id,
                self._enrolment_in_scope(),
            )
            if where.role is not None:
                enrolled = enrolled.where(enrolments.c.role == where.role)
            if where.course_id is not None:
                enrolled = enrolled.where(enrolments.c.course_id == where.course_id)
            query = query.where(exists(enrolled))
        if where.text:
            query = query.where(
                or_(
                    func.lower(users.c.username).contains(where.text, autoescape=True),
                    func.lower(users.c.full_name).contains(where.text, autoescape=True),
                )
            )
        return query

    @staticmethod
    def _user_order(query: Select[Any], sort: UserSort) -> Select[Any]:
        columns = query.selected_columns
        events_, seconds, seen = columns.events, columns.seconds, columns.last_seen_at
        name = func.lower(columns.full_name)
        orders: dict[UserSort, list[Any]] = {
            "events_desc": [events_.desc()],
            "events_asc": [events_.asc()],
            "time_desc": [seconds.desc()],
            "last_seen_desc": [_null_last(seen), seen.desc()],
            "last_seen_asc": [_null_last(seen), seen.asc()],
            "name_asc": [_null_last(name), name, func.lower(columns.username)],
        }
        return query.order_by(*orders[sort], columns.user_id)

    async def users(
        self, period: Period, where: UserFilter, page: Page
    ) -> Paged[UserActivity]:
        # Orders that need no period totals take the page first, then sum the
        # period's rollups of that page's users only, not of every user.
        totals_first = where.sort in TOTAL_SORTS
        query = self._users_query(period, where, totals=totals_first)
        ordered = _paged(self._user_order(query, where.sort), page)
        counted = self._users_query(period, where, counting=True)

        def work(connection: Connection) -> Paged[UserActivity]:
            rows = [_user_row(row, risk=True) for row in connection.execute(ordered)]
            if not totals_first and rows:
                page_sums = self._user_sums(
                    period, where.course_id, [row.user_id for row in rows]
                )
                sums = {
                    user_id: (_int(events), _int(seconds))
                    for user_id, events, seconds in connection.execute(page_sums)
                }
                rows = [_with_sums(row, sums.get(row.user_id, (0, 0))) for row in rows]
            return rows, _count(connection, counted)

        return await self._executor.run(work)

    async def user(self, user_id: str, period: Period) -> UserRecord | None:
        catalogue = select(users).where(
            users.c.tenant_id == self._tenant_id, users.c.user_id == user_id
        )
        seen = select(
            user_activity.c.first_seen_at, user_activity.c.last_seen_at
        ).where(
            user_activity.c.tenant_id == self._tenant_id,
            user_activity.c.user_id == user_id,
        )
        activity = select(
            func.sum(daily_rollups.c.events), func.sum(daily_rollups.c.seconds)
        ).where(self._in_period(period), daily_rollups.c.user_id == user_id)

        def work(connection: Connection) -> UserRecord | None:
            row = connection.execute(catalogue).first()
            times = connection.execute(seen).first()
            if (row is None and times is None) or (row is not None and row.deleted):
                return None
            sums = connection.execute(activity).one()
            return UserRecord(
                user_id=user_id,
                username=row.username if row is not None else None,
                full_name=row.full_name if row is not None else None,
                email=row.email if row is not None else None,
                suspended=bool(row.suspended) if row is not None else False,
                first_seen_at=times.first_seen_at if times is not None else None,
                last_seen_at=times.last_seen_at if times is not None else None,
                events=_int(sums[0]),
                seconds=_int(sums[1]),
            )

        return await self._executor.run(work)

    async def user_enrolments(self, user_id: str) -> list[UserEnrolment]:
        query = (
            select(
                enrolments.c.course_id,
                courses.c.fullname,
                courses.c.shortname,
                enrolments.c.role,
                enrolments.c.status,
            )
            .select_from(
                enrolments.outerjoin(courses, self._course_join(enrolments.c.course_id))
            )
            .where(
                enrolments.c.tenant_id == self._tenant_id,
                enrolments.c.user_id == user_id,
                self._enrolment_in_scope(),
            )
            .order_by(enrolments.c.course_id, enrolments.c.role)
        )

        def work(connection: Connection) -> list[UserEnrolment]:
            rows = connection.execute(query).all()
            ids = sorted({row.course_id for row in rows})
            tracked = self._tracked_counts(connection, ids)
            done = self._user_completed(connection, user_id, ids)
            grade = self._user_grades(connection, user_id, ids)
            return [
                UserEnrolment(
                    course_id=row.course_id,
                    fullname=row.fullname,
                    shortname=row.shortname,
                    role=row.role,
                    status=row.status,
                    tracked_modules=tracked.get(row.course_id, 0),
                    completed_modules=done.get(row.course_id, 0),
                    grade_pct=grade.get(row.course_id),
                )
                for row in rows
            ]

        return await self._executor.run(work)

    def _user_completed(
        self, connection: Connection, user_id: str, ids: Sequence[str]
    ) -> dict[str, int]:
        query = (
            select(completions.c.course_id, func.count())
            .select_from(completions.join(modules, self._module_join()))
            .where(
                completions.c.tenant_id == self._tenant_id,
                completions.c.user_id == user_id,
                completions.c.course_id.in_(ids),
                completions.c.state.in_(DONE_STATES),
                self._tracked(),
            )
            .group_by(completions.c.course_id)
        )
        return {row[0]: _int(row[1]) for row in connection.execute(query)}

    def _user_grades(
        self, connection: Connection, user_id: str, ids: Sequence[str]
    ) -> dict[str, float]:
        joined, graded = self._graded()
        query = (
            select(grades.c.course_id, self._basis_grade())
            .select_from(joined)
            .where(graded, grades.c.user_id == user_id, grades.c.course_id.in_(ids))
            .group_by(grades.c.course_id)
        )
        return {row[0]: float(row[1]) for row in connection.execute(query)}

    async def user_risk(
        self, user_id: str
    ) -> tuple[StoredRisk | None, list[StoredRisk]]:
        view = risk_view(self._tenant_id, self._scope)
        best = select(view).where(view.c.user_id == user_id)
        in_scope = ScopeConditions(self._tenant_id, self._scope)
        per_course = (
            select(risk_scores)
            .where(
                risk_scores.c.tenant_id == self._tenant_id,
                risk_scores.c.user_id == user_id,
                risk_scores.c.course_id != SITE,
                in_scope.pair(risk_scores.c.user_id, risk_scores.c.course_id),
            )
            .order_by(risk_scores.c.course_id)
        )

        def work(connection: Connection) -> tuple[StoredRisk | None, list[StoredRisk]]:
            row = connection.execute(best).first()
            if row is None:
                return None, []
            return stored_risk(row), [
                stored_risk(item) for item in connection.execute(per_course)
            ]

        return await self._executor.run(work)

    async def at_risk_count(self) -> int:
        view = risk_view(self._tenant_id, self._scope)
        query = select(func.count()).where(view.c.level.in_(AT_RISK))

        def work(connection: Connection) -> int:
            return _int(connection.execute(query).scalar_one())

        return await self._executor.run(work)

    async def user_events(
        self, user_id: str, event_type: ProfileEventType, limit: int
    ) -> list[UserEvent]:
        # The one read of raw events: a per-user index lookup (tenant, user, time),
        # bounded by ``limit`` — not a scan (SPEC §5).
        query = (
            select(
                events.c.course_id,
                events.c.module_id,
                modules.c.name,
                events.c.occurred_at,
                events.c.metadata,
            )
            .select_from(
                events.outerjoin(
                    modules,
                    and_(
                        modules.c.tenant_id == self._tenant_id,
                        modules.c.module_id == events.c.module_id,
                    ),
                )
            )
            .where(
                events.c.tenant_id == self._tenant_id,
                events.c.user_id == user_id,
                events.c.event_type == event_type,
                events.c.counted.is_(True),
                self._pair_in_scope(events.c.user_id, events.c.course_id),
            )
            .order_by(events.c.occurred_at.desc(), events.c.event_id.desc())
            .limit(limit)
        )

        def work(connection: Connection) -> list[UserEvent]:
            return [
                UserEvent(row[0], row[1], row[2], row[3], dict(row[4] or {}))
                for row in connection.execute(query)
            ]

        return await self._executor.run(work)

    async def top_users(self, period: Period, limit: int) -> list[UserActivity]:
        activity = self._user_activity(period)
        query = (
            select(
                activity.c.user_id,
                users.c.username,
                users.c.full_name,
                user_activity.c.last_seen_at,
                activity.c.events,
                activity.c.seconds,
            )
            .select_from(
                activity.outerjoin(
                    users, self._user_join(activity.c.user_id)
                ).outerjoin(
                    user_activity,
                    and_(
                        user_activity.c.tenant_id == self._tenant_id,
                        user_activity.c.user_id == activity.c.user_id,
                    ),
                )
            )
            .where(self._not_deleted(), activity.c.events > 0)
            .order_by(activity.c.events.desc(), activity.c.user_id)
            .limit(limit)
        )

        def work(connection: Connection) -> list[UserActivity]:
            return [_user_row(row) for row in connection.execute(query)]

        return await self._executor.run(work)

    # -- courses -------------------------------------------------------------------

    async def top_courses(self, period: Period, limit: int) -> list[CourseActivity]:
        activity = self._course_activity(period)
        query = (
            select(
                activity.c.course_id,
                courses.c.fullname,
                courses.c.shortname,
                activity.c.events,
                activity.c.seconds,
                activity.c.active_users,
            )
            .select_from(
                activity.outerjoin(courses, self._course_join(activity.c.course_id))
            )
            .where(activity.c.events > 0)
            .order_by(activity.c.events.desc(), activity.c.course_id)
            .limit(limit)
        )

        def work(connection: Connection) -> list[CourseActivity]:
            return [_course_row(row) for row in connection.execute(query)]

        return await self._executor.run(work)

    async def has_course(self, course_id: str) -> bool:
        in_catalogue = select(literal(1)).where(
            courses.c.tenant_id == self._tenant_id, courses.c.course_id == course_id
        )
        with_activity = select(literal(1)).where(
            daily_rollups.c.tenant_id == self._tenant_id,
            daily_rollups.c.course_id == course_id,
        )
        query = select(
            and_(
                or_(exists(in_catalogue), exists(with_activity)),
                self._course_in_scope(literal(course_id)),
            )
        )

        def work(connection: Connection) -> bool:
            return bool(connection.execute(query).scalar_one())

        return await self._executor.run(work)

    def _courses_query(self, period: Period, *, counting: bool = False) -> Select[Any]:
        """The courses list; ``counting`` keeps only what a count needs."""
        # Catalogue courses, and courses only events named in the period.
        known = union(
            select(courses.c.course_id).where(courses.c.tenant_id == self._tenant_id),
            select(daily_rollups.c.course_id).where(
                self._in_period(period), daily_rollups.c.course_id != SITE
            ),
        ).subquery("known")
        if counting:
            return select(known.c.course_id).where(
                self._course_in_scope(known.c.course_id)
            )
        activity = self._course_activity(period)
        return (
            select(
                known.c.course_id,
                courses.c.fullname,
                courses.c.shortname,
                func.coalesce(activity.c.events, 0).label("events"),
                func.coalesce(activity.c.seconds, 0).label("seconds"),
                func.coalesce(activity.c.active_users, 0).label("active_users"),
            )
            .select_from(
                known.outerjoin(
                    courses, self._course_join(known.c.course_id)
                ).outerjoin(activity, activity.c.course_id == known.c.course_id)
            )
            .where(self._course_in_scope(known.c.course_id))
        )

    @staticmethod
    def _course_order(query: Select[Any], sort: CourseSort) -> Select[Any]:
        columns = query.selected_columns
        name = func.lower(columns.fullname)
        orders: dict[CourseSort, list[Any]] = {
            "events_desc": [columns.events.desc()],
            "active_users_desc": [columns.active_users.desc(), columns.events.desc()],
            "time_desc": [columns.seconds.desc()],
            "name_asc": [_null_last(name), name],
        }
        return query.order_by(*orders[sort], columns.course_id)

    async def courses(
        self, period: Period, sort: CourseSort, page: Page
    ) -> Paged[CourseStats]:
        query = self._courses_query(period)
        ordered = _paged(self._course_order(query, sort), page)
        counted = self._courses_query(period, counting=True)

        def work(connection: Connection) -> Paged[CourseStats]:
            rows = [_course_row(row) for row in connection.execute(ordered)]
            ids = [row.course_id for row in rows]
            students = self._student_counts(connection, ids)
            tracked = self._tracked_counts(connection, ids)
            done = self._completed_counts(connection, ids)
            grade = self._course_grades(connection, ids)
            at_risk = self._at_risk_counts(connection, ids)
            stats = [
                CourseStats(
                    activity=row,
                    students=students.get(row.course_id, 0),
                    tracked_modules=tracked.get(row.course_id, 0),
                    completed_modules=done.get(row.course_id, 0),
                    avg_grade_pct=grade.get(row.course_id),
                    at_risk=at_risk.get(row.course_id, 0),
                )
                for row in rows
            ]
            return stats, _count(connection, counted)

        return await self._executor.run(work)

    def _at_risk_counts(
        self, connection: Connection, ids: Sequence[str]
    ) -> dict[str, int]:
        """Students in scope at risk in each course, by their stored course score."""
        in_scope = ScopeConditions(self._tenant_id, self._scope)
        query = (
            select(risk_scores.c.course_id, func.count())
            .where(
                risk_scores.c.tenant_id == self._tenant_id,
                risk_scores.c.course_id.in_(ids),
                risk_scores.c.level.in_(AT_RISK),
                in_scope.pair(risk_scores.c.user_id, risk_scores.c.course_id),
            )
            .group_by(risk_scores.c.course_id)
        )
        return {row[0]: _int(row[1]) for row in connection.execute(query)}

    def _student_counts(
        self, connection: Connection, ids: Sequence[str]
    ) -> dict[str, int]:
        query = (
            select(enrolments.c.course_id, func.count())
            .where(self._students(), enrolments.c.course_id.in_(ids))
            .group_by(enrolments.c.course_id)
        )
        return {row[0]: _int(row[1]) for row in connection.execute(query)}

    def _tracked_counts(
        self, connection: Connection, ids: Sequence[str]
    ) -> dict[str, int]:
        query = (
            select(modules.c.course_id, func.count())
            .where(self._tracked(), modules.c.course_id.in_(ids))
            .group_by(modules.c.course_id)
        )
        return {row[0]: _int(row[1]) for row in connection.execute(query)}

    def _module_join(self) -> ColumnElement[bool]:
        return and_(
            modules.c.tenant_id == completions.c.tenant_id,
            modules.c.module_id == completions.c.module_id,
            modules.c.course_id == completions.c.course_id,
        )

    def _student_join(self) -> ColumnElement[bool]:
        return and_(
            self._students(),
            enrolments.c.user_id == completions.c.user_id,
            enrolments.c.course_id == completions.c.course_id,
        )

    def _completed_counts(
        self, connection: Connection, ids: Sequence[str]
    ) -> dict[str, int]:
        """Completed tracked modules of active students, per course.

        Known shortcoming: this reads every completion of the page's courses (about
        280 ms for 50 courses of the 10M-event benchmark); no per-course count is kept.

        On PostgreSQL two queries met here rather than one three-table join: its
        planner misjudges how many completions match their module on (module,
        course) and probes the enrolments once per completion (4x slower on a
        1M-event tenant). SQLite runs the join twice as fast as the two queries.
        """
        if self._executor.dialect == "sqlite":
            joined = (
                select(completions.c.course_id, func.count())
                .select_from(
                    completions.join(modules, self._module_join()).join(
                        enrolments, self._student_join()
                    )
                )
                .where(
                    completions.c.tenant_id == self._tenant_id,
                    completions.c.course_id.in_(ids),
                    completions.c.state.in_(DONE_STATES),
                    self._tracked(),
                )
                .group_by(completions.c.course_id)
            )
            return {row[0]: _int(row[1]) for row in connection.execute(joined)}
        done = (
            select(completions.c.course_id, completions.c.user_id, func.count())
            .select_from(completions.join(modules, self._module_join()))
            .where(
                completions.c.tenant_id == self._tenant_id,
                completions.c.course_id.in_(ids),
                completions.c.state.in_(DONE_STATES),
                self._tracked(),
            )
            .group_by(completions.c.course_id, completions.c.user_id)
        )
        students = select(enrolments.c.course_id, enrolments.c.user_id).where(
            self._students(), enrolments.c.course_id.in_(ids)
        )
        active = {(row[0], row[1]) for row in connection.execute(students)}
        counts: dict[str, int] = {}
        for course_id, user_id, completed in connection.execute(done):
            if (course_id, user_id) in active:
                counts[course_id] = counts.get(course_id, 0) + _int(completed)
        return counts

    def _course_completed_counts(
        self, connection: Connection, ids: Sequence[str]
    ) -> dict[str, int]:
        """Active students who completed the whole course, per course."""
        query = (
            select(completions.c.course_id, func.count())
            .select_from(completions.join(enrolments, self._student_join()))
            .where(
                completions.c.tenant_id == self._tenant_id,
                completions.c.course_id.in_(ids),
                completions.c.module_id == SITE,
                completions.c.state.in_(DONE_STATES),
            )
            .group_by(completions.c.course_id)
        )
        return {row[0]: _int(row[1]) for row in connection.execute(query)}

    def _course_grades(
        self, connection: Connection, ids: Sequence[str]
    ) -> dict[str, float]:
        joined, graded = self._graded()
        query = (
            select(grades.c.course_id, self._basis_grade())
            .select_from(joined)
            .where(graded, grades.c.course_id.in_(ids))
            .group_by(grades.c.course_id)
        )
        return {row[0]: float(row[1]) for row in connection.execute(query)}

    async def enrolment_counts(
        self, period: Period, page: Page
    ) -> Paged[EnrolmentCounts]:
        starts_in_period = and_(
            enrolments.c.time_start >= period.start_at,
            enrolments.c.time_start < period.end_at,
        )
        counts = (
            select(
                enrolments.c.course_id,
                enrolments.c.role,
                func.count().label("total"),
                _sum_when(enrolments.c.status == "active").label("active"),
                _sum_when(enrolments.c.status == "suspended").label("suspended"),
                _sum_when(starts_in_period).label("new_in_period"),
            )
            .where(
                enrolments.c.tenant_id == self._tenant_id, self._enrolment_in_scope()
            )
            .group_by(enrolments.c.course_id, enrolments.c.role)
            .subquery("counts")
        )
        query = select(
            counts,
            courses.c.fullname,
            courses.c.shortname,
        ).select_from(counts.outerjoin(courses, self._course_join(counts.c.course_id)))
        ordered = _paged(query.order_by(counts.c.course_id, counts.c.role), page)

        def work(connection: Connection) -> Paged[EnrolmentCounts]:
            rows = [
                EnrolmentCounts(
                    course_id=row.course_id,
                    fullname=row.fullname,
                    shortname=row.shortname,
                    role=row.role,
                    total=_int(row.total),
                    active=_int(row.active),
                    suspended=_int(row.suspended),
                    new_in_period=_int(row.new_in_period),
                )
                for row in connection.execute(ordered)
            ]
            return rows, _count(connection, query)

        return await self._executor.run(work)

    # -- grades and completion -----------------------------------------------------

    async def grade_values(self) -> list[GradeValue]:
        joined, graded = self._graded()
        with_totals = (
            select(grades.c.course_id)
            .select_from(joined)
            .where(graded, grade_items.c.item_type == "course")
        )
        query = (
            select(self._percent(), self._passed())
            .select_from(joined)
            .where(
                graded,
                or_(
                    grade_items.c.item_type == "course",
                    grades.c.course_id.not_in(with_totals),
                ),
            )
        )

        # Known shortcoming: every basis grade comes back (one float each) because the
        # median needs them all; PostgreSQL's percentile_cont could keep it in SQL.
        def work(connection: Connection) -> list[GradeValue]:
            return [_grade_value(row) for row in connection.execute(query)]

        return await self._executor.run(work)

    async def course_grades(self, course_id: str, page: Page) -> Paged[GradeItemValues]:
        items = select(grade_items).where(
            grade_items.c.tenant_id == self._tenant_id,
            grade_items.c.course_id == course_id,
            self._course_in_scope(grade_items.c.course_id),
        )
        ordered = _paged(
            items.order_by(
                case((grade_items.c.item_type == "course", 1), else_=0),
                func.coalesce(func.lower(grade_items.c.item_name), ""),
                grade_items.c.item_id,
            ),
            page,
        )
        joined, graded = self._graded()

        def work(connection: Connection) -> Paged[GradeItemValues]:
            rows = connection.execute(ordered).all()
            values: dict[str, list[GradeValue]] = {row.item_id: [] for row in rows}
            found = connection.execute(
                select(grades.c.item_id, self._percent(), self._passed())
                .select_from(joined)
                .where(
                    graded,
                    grades.c.course_id == course_id,
                    grades.c.item_id.in_(list(values)),
                )
            )
            for item_id, percent, passed in found:
                values[item_id].append(_grade_value((percent, passed)))
            answer = [
                GradeItemValues(
                    item_id=row.item_id,
                    item_name=row.item_name,
                    item_type=row.item_type,
                    grademin=row.grademin,
                    grademax=row.grademax,
                    gradepass=row.gradepass,
                    values=values[row.item_id],
                )
                for row in rows
            ]
            return answer, _count(connection, items)

        return await self._executor.run(work)

    async def course_completion(self, page: Page) -> Paged[CourseCompletionCounts]:
        query = select(
            courses.c.course_id, courses.c.fullname, courses.c.shortname
        ).where(
            courses.c.tenant_id == self._tenant_id,
            self._course_in_scope(courses.c.course_id),
        )
        ordered = _paged(query.order_by(courses.c.course_id), page)

        def work(connection: Connection) -> Paged[CourseCompletionCounts]:
            rows = connection.execute(ordered).all()
            ids = [row.course_id for row in rows]
            students = self._student_counts(connection, ids)
            tracked = self._tracked_counts(connection, ids)
            done = self._completed_counts(connection, ids)
            finished = self._course_completed_counts(connection, ids)
            answer = [
                CourseCompletionCounts(
                    course_id=row.course_id,
                    fullname=row.fullname,
                    shortname=row.shortname,
                    students=students.get(row.course_id, 0),
                    tracked_modules=tracked.get(row.course_id, 0),
                    completed_modules=done.get(row.course_id, 0),
                    course_completed=finished.get(row.course_id, 0),
                )
                for row in rows
            ]
            return answer, _count(connection, query)

        return await self._executor.run(work)

    async def module_completion(
        self, course_id: str, page: Page
    ) -> Paged[ModuleCompletionCounts]:
        query = select(modules).where(
            modules.c.tenant_id == self._tenant_id,
            modules.c.course_id == course_id,
            self._course_in_scope(modules.c.course_id),
        )
        ordered = _paged(query.order_by(modules.c.module_id), page)

        def work(connection: Connection) -> Paged[ModuleCompletionCounts]:
            rows = connection.execute(ordered).all()
            students = self._student_counts(connection, [course_id]).get(course_id, 0)
            done = self._module_completed_counts(connection, course_id)
            answer = [
                ModuleCompletionCounts(
                    module_id=row.module_id,
                    name=row.name,
                    modname=row.modname,
                    tracked=bool(row.completion_enabled and row.visible),
                    students=students,
                    completed=done.get(row.module_id, 0),
                )
                for row in rows
            ]
            return answer, _count(connection, query)

        return await self._executor.run(work)

    def _module_completed_counts(
        self, connection: Connection, course_id: str
    ) -> dict[str, int]:
        query = (
            select(completions.c.module_id, func.count())
            .select_from(completions.join(enrolments, self._student_join()))
            .where(
                completions.c.tenant_id == self._tenant_id,
                completions.c.course_id == course_id,
                completions.c.module_id != SITE,
                completions.c.state.in_(DONE_STATES),
            )
            .group_by(completions.c.module_id)
        )
        return {row[0]: _int(row[1]) for row in connection.execute(query)}


def _active_users() -> Any:
    return func.count(
        distinct(case((daily_rollups.c.events > 0, daily_rollups.c.user_id)))
    )


def _sum_when(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _user_row(row: Any, *, risk: bool = False) -> UserActivity:
    return UserActivity(
        user_id=row.user_id,
        username=row.username,
        full_name=row.full_name,
        last_seen_at=row.last_seen_at,
        events=_int(row.events),
        seconds=_int(row.seconds),
        risk_level=row.risk_level if risk else None,
        risk_score=row.risk_score if risk else None,
    )


def _with_sums(row: UserActivity, sums: tuple[int, int]) -> UserActivity:
    events, seconds = sums
    return replace(row, events=events, seconds=seconds)


def _course_row(row: Any) -> CourseActivity:
    return CourseActivity(
        course_id=row.course_id,
        fullname=row.fullname,
        shortname=row.shortname,
        events=_int(row.events),
        seconds=_int(row.seconds),
        active_users=_int(row.active_users),
    )


def _grade_value(row: Any) -> GradeValue:
    percent, passed = row[0], row[1]
    return GradeValue(float(percent), None if passed is None else bool(passed))
