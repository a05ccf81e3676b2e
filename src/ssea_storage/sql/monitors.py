"""Monitors in SQL (SPEC §8): saved filters and their live counts, one tenant.

Counts read the catalogue (enrolments, users, courses), the rollups (activity days)
and the stored risk levels (``risk_scores``: per student overall under course
``''`` and per student and course); never raw events. Each count is one statement,
narrowed to the reader's :class:`Scope` like every dashboard read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)

from ssea_core.auth.scope import Scope
from ssea_core.monitors import (
    AT_RISK_LEVELS,
    CourseFilters,
    Monitor,
    MonitorCounts,
    MonitorOwner,
    StudentFilters,
)
from ssea_storage.sql.executor import SqlExecutor
from ssea_storage.sql.schema import (
    courses,
    daily_rollups,
    enrolments,
    monitors,
    risk_scores,
    users,
)

logger = logging.getLogger(__name__)

OVERALL = ""  # the course key of a student's overall risk score


def _monitor(row: Any) -> Monitor:
    return Monitor(
        monitor_id=row.monitor_id,
        name=row.name,
        target=row.target,
        filters=dict(row.filters or {}),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    return func.lower(column).contains(text.lower(), autoescape=True)


class SqlMonitors:
    """:class:`ssea_core.monitors.MonitorRepository` over SQL, for one tenant."""

    def __init__(self, executor: SqlExecutor, tenant_id: UUID) -> None:
        self._executor = executor
        self._tenant_id = tenant_id

    def _owned(self, owner: MonitorOwner) -> ColumnElement[bool]:
        mine = monitors.c.tenant_id == self._tenant_id
        if owner.created_by is None:
            return mine
        return and_(mine, monitors.c.created_by == owner.created_by)

    async def create_monitor(self, monitor: Monitor) -> None:
        row = {
            "tenant_id": self._tenant_id,
            "monitor_id": monitor.monitor_id,
            "name": monitor.name,
            "target": monitor.target,
            "filters": monitor.filters,
            "created_by": monitor.created_by,
            "created_at": monitor.created_at,
        }

        def work(connection: Connection) -> None:
            connection.execute(insert(monitors).values(**row))

        await self._executor.run(work, write=True)
        logger.info(
            "monitor created tenant=%s monitor=%s", self._tenant_id, monitor.monitor_id
        )

    async def list_monitors(
        self, owner: MonitorOwner, *, limit: int, offset: int
    ) -> tuple[list[Monitor], int]:
        condition = self._owned(owner)
        page = (
            select(monitors)
            .where(condition)
            .order_by(monitors.c.created_at, monitors.c.monitor_id)
            .limit(limit)
            .offset(offset)
        )
        total = select(func.count()).select_from(monitors).where(condition)

        def work(connection: Connection) -> tuple[list[Monitor], int]:
            found = [_monitor(row) for row in connection.execute(page)]
            return found, int(connection.execute(total).scalar_one())

        return await self._executor.run(work)

    async def get_monitor(self, monitor_id: str, owner: MonitorOwner) -> Monitor | None:
        query = select(monitors).where(
            self._owned(owner), monitors.c.monitor_id == monitor_id
        )

        def work(connection: Connection) -> Monitor | None:
            row = connection.execute(query).first()
            return _monitor(row) if row is not None else None

        return await self._executor.run(work)

    async def delete_monitor(self, monitor_id: str, owner: MonitorOwner) -> bool:
        statement = delete(monitors).where(
            self._owned(owner), monitors.c.monitor_id == monitor_id
        )

        def work(connection: Connection) -> bool:
            return bool(connection.execute(statement).rowcount == 1)

        deleted = await self._executor.run(work, write=True)
        if deleted:
            logger.info(
                "monitor deleted tenant=%s monitor=%s", self._tenant_id, monitor_id
            )
        return deleted

    async def count(self, monitor: Monitor, scope: Scope, today: date) -> MonitorCounts:
        filters = monitor.parsed_filters()
        if isinstance(filters, StudentFilters):
            query = self._student_counts(filters, scope, today)
        else:
            query = self._course_counts(filters, scope, today)

        def work(connection: Connection) -> MonitorCounts:
            row = connection.execute(query).one()
            return MonitorCounts(int(row[0] or 0), int(row[1] or 0))

        return await self._executor.run(work)

    # -- students ------------------------------------------------------------------

    def _student_counts(
        self, filters: StudentFilters, scope: Scope, today: date
    ) -> Any:
        student = enrolments.alias("monitor_student")
        base = [
            student.c.tenant_id == self._tenant_id,
            student.c.role == "student",
            student.c.status == "active",
        ]
        if filters.course_id is not None:
            base.append(student.c.course_id == filters.course_id)
        if scope.course_ids is not None:
            base.append(student.c.course_id.in_(sorted(scope.course_ids)))
        if scope.user_id is not None:
            base.append(student.c.user_id == scope.user_id)
        if filters.user_ids is not None:
            base.append(student.c.user_id.in_(filters.user_ids))
        matched = (
            select(student.c.user_id.label("user_id"))
            .distinct()
            .where(*base)
            .subquery("matched")
        )
        user = matched.c.user_id

        conditions: list[ColumnElement[bool]] = []
        if filters.q is not None:
            conditions.append(self._user_named(user, filters.q))
        if filters.inactive_days is not None:
            active = self._user_active_since(
                user, today - timedelta(days=filters.inactive_days), filters, scope
            )
            conditions.append(~active)
        risk_course = filters.course_id or OVERALL
        if filters.risk_level is not None:
            conditions.append(self._user_at(user, risk_course, filters.risk_level))
        at_risk = self._user_at(user, risk_course, AT_RISK_LEVELS)
        return (
            select(
                func.count(), func.coalesce(func.sum(case((at_risk, 1), else_=0)), 0)
            )
            .select_from(matched)
            .where(*conditions)
        )

    def _user_named(self, user: Any, text: str) -> ColumnElement[bool]:
        return exists(
            select(literal(1)).where(
                users.c.tenant_id == self._tenant_id,
                users.c.user_id == user,
                or_(
                    _contains(users.c.username, text),
                    _contains(users.c.full_name, text),
                ),
            )
        )

    def _user_active_since(
        self, user: Any, last_quiet_day: date, filters: StudentFilters, scope: Scope
    ) -> ColumnElement[bool]:
        """Counted activity after ``last_quiet_day`` in the courses that count."""
        rollup = daily_rollups.alias("monitor_activity")
        parts = [
            rollup.c.tenant_id == self._tenant_id,
            rollup.c.user_id == user,
            rollup.c.day > last_quiet_day,
            rollup.c.events > 0,
        ]
        if filters.course_id is not None:
            parts.append(rollup.c.course_id == filters.course_id)
        if scope.course_ids is not None:
            parts.append(rollup.c.course_id.in_(sorted(scope.course_ids)))
        return exists(select(literal(1)).where(*parts))

    def _user_at(
        self, user: Any, course: Any, levels: Sequence[str]
    ) -> ColumnElement[bool]:
        score = risk_scores.alias("monitor_risk")
        return exists(
            select(literal(1)).where(
                score.c.tenant_id == self._tenant_id,
                score.c.user_id == user,
                score.c.course_id == course,
                score.c.level.in_(list(levels)),
            )
        )

    # -- courses -------------------------------------------------------------------

    def _course_counts(self, filters: CourseFilters, scope: Scope, today: date) -> Any:
        course = courses.c.course_id
        conditions: list[ColumnElement[bool]] = [courses.c.tenant_id == self._tenant_id]
        if filters.course_ids is not None:
            conditions.append(course.in_(filters.course_ids))
        if scope.course_ids is not None:
            conditions.append(course.in_(sorted(scope.course_ids)))
        if filters.q is not None:
            conditions.append(
                or_(
                    _contains(courses.c.shortname, filters.q),
                    _contains(courses.c.fullname, filters.q),
                )
            )
        if filters.inactive_days is not None:
            since = today - timedelta(days=filters.inactive_days)
            conditions.append(~self._students_active_since(course, since))
        if filters.risk_level is not None:
            conditions.append(self._student_at(course, filters.risk_level))
        at_risk = self._student_at(course, AT_RISK_LEVELS)
        return (
            select(
                func.count(), func.coalesce(func.sum(case((at_risk, 1), else_=0)), 0)
            )
            .select_from(courses)
            .where(*conditions)
        )

    def _active_student(self, alias: Any, course: Any) -> ColumnElement[bool]:
        return and_(
            alias.c.tenant_id == self._tenant_id,
            alias.c.course_id == course,
            alias.c.role == "student",
            alias.c.status == "active",
        )

    def _students_active_since(
        self, course: Any, last_quiet_day: date
    ) -> ColumnElement[bool]:
        rollup = daily_rollups.alias("monitor_course_activity")
        student = enrolments.alias("monitor_course_student")
        return exists(
            select(literal(1))
            .select_from(
                rollup.join(
                    student,
                    and_(
                        student.c.tenant_id == rollup.c.tenant_id,
                        student.c.user_id == rollup.c.user_id,
                        student.c.course_id == rollup.c.course_id,
                    ),
                )
            )
            .where(
                rollup.c.tenant_id == self._tenant_id,
                rollup.c.course_id == course,
                rollup.c.day > last_quiet_day,
                rollup.c.events > 0,
                self._active_student(student, course),
            )
        )

    def _student_at(self, course: Any, levels: Sequence[str]) -> ColumnElement[bool]:
        score = risk_scores.alias("monitor_course_risk")
        student = enrolments.alias("monitor_risk_student")
        return exists(
            select(literal(1))
            .select_from(
                score.join(
                    student,
                    and_(
                        student.c.tenant_id == score.c.tenant_id,
                        student.c.user_id == score.c.user_id,
                        student.c.course_id == score.c.course_id,
                    ),
                )
            )
            .where(
                score.c.tenant_id == self._tenant_id,
                score.c.course_id == course,
                score.c.level.in_(list(levels)),
                self._active_student(student, course),
            )
        )
