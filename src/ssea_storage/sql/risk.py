"""Risk scores and alerts in SQL (SPEC §6): the features' inputs, scores, alerts, queue.

Every statement binds the repository's tenant; reads are narrowed to the caller's
:class:`Scope` with the same rules as the dashboard reads (``docs/auth.md``).

What the features are read from, each source limited to what is dated before
``as_of`` (``docs/risk.md``):
- students: active ``student`` enrolments started by ``as_of`` and not ended, of
  users neither deleted nor suspended;
- activity: ``daily_rollups`` of the student's course, days before the end of the
  ``as_of`` day (a day counts once ``as_of`` is past its midnight; rollups are per
  day, so an ``as_of`` at midnight, as ``--as-of DATE`` gives, is exact), counted
  from the enrolment's day;
- results: grades (not course or category totals) with ``graded_at`` (else the sync
  time) before ``as_of``, in percent of the item's range;
- due work: visible ``assign`` modules due before ``as_of``, and each student's first
  ``assignment_submitted`` event before ``as_of``;
- completion: tracked modules completed (``complete``, ``complete_pass``) before
  ``as_of``, and whole-course completions.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date

from ssea_core.auth.scope import Scope
from ssea_core.errors import MisconfiguredError
from ssea_core.metrics.repository import Page, Paged
from ssea_core.risk.alerts import SEVERITIES, AlertProposal, AlertState
from ssea_core.risk.builder import (
    CourseActivity,
    CourseDates,
    DueWork,
    Enrolled,
    Pair,
    RiskInputs,
)
from ssea_core.risk.features import ActivityCounts, GradeResult, ResultKind
from ssea_core.risk.records import (
    OVERALL,
    Acknowledgement,
    AlertChanges,
    AlertRecord,
    AtRiskStudent,
    PendingTenant,
    StoredRisk,
)
from ssea_core.risk.repository import AlertFilter, AtRiskFilter, AtRiskSort, ScoreRow
from ssea_core.risk.scoring import RiskLevel
from ssea_core.risk.settings import AlertSettings, RiskSettings
from ssea_core.validation import describe_errors
from ssea_storage.sql.executor import SqlExecutor
from ssea_storage.sql.schema import (
    alert_states,
    alerts,
    completions,
    courses,
    daily_rollups,
    enrolments,
    events,
    grade_items,
    grades,
    modules,
    risk_acknowledgements,
    risk_pending,
    risk_scores,
    tenants,
    user_activity,
    users,
)
from ssea_storage.sql.writes import mark_risk_pending, upsert

logger = logging.getLogger(__name__)

AT_RISK: tuple[RiskLevel, ...] = ("high", "critical")
DONE_STATES = ("complete", "complete_pass")
#: Grade items that sum up others (counting them would count the others twice).
TOTAL_ITEM_TYPES = ("course", "category")
#: Grade item types that name quizzes (Moodle's ``mod_quiz``; OULAD's computer-marked
#: assessments); an item whose id is a quiz module's id is a quiz too.
QUIZ_ITEM_TYPES = frozenset({"quiz", "mod_quiz", "cma"})
SUBMISSION_EVENT = "assignment_submitted"
#: A claim stamp is the claim's time moved back a century (2026 -> 1926), plus up to
#: a millisecond of jitter: it never equals a real mark (from 2000 on) and says when
#: the claim was made.
REAL_BASE = datetime(2000, 1, 1, tzinfo=UTC)
CLAIM_BASE = datetime(1900, 1, 1, tzinfo=UTC)
DUE_MODNAME = "assign"


# -- SQL building blocks ---------------------------------------------------------------


class utc_day(FunctionElement[date]):
    """The UTC date of a stored ``UtcDateTime`` (SQLite text, PostgreSQL timestamp)."""

    type = Date()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text; a Date is 'YYYY-MM-DD'.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"
    )


def _int(value: Any) -> int:
    return int(value or 0)


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def end_day(as_of: datetime) -> date:
    """The first rollup day not counted as of ``as_of``: its own day once past its
    midnight (rollups are per day), the day itself when ``as_of`` is midnight."""
    moment = as_of.astimezone(UTC)
    midnight = moment.hour == moment.minute == moment.second == moment.microsecond == 0
    return moment.date() if midnight else moment.date() + timedelta(days=1)


def open_key(alert_type: str, user_id: str, course_id: str | None) -> str:
    """The ``alerts.open_key`` of an open alert: one per type, user and course."""
    return f"{alert_type}|{user_id}|{course_id or ''}"


def _rank(column: Any) -> Any:
    return case(
        *((column == name, index) for index, name in enumerate(SEVERITIES)), else_=-1
    )


class ScopeConditions:
    """The scope rules of the dashboard reads, for risk and alert rows of one tenant.

    A teacher's scope keeps rows of their courses whose user is a student there; a
    user's scope keeps that user's rows.
    """

    def __init__(self, tenant_id: UUID, scope: Scope) -> None:
        self.tenant_id = tenant_id
        self.scope = scope

    def courses(self) -> list[str] | None:
        found = self.scope.course_ids
        return sorted(found) if found is not None else None

    def pair(self, user: Any, course: Any) -> ColumnElement[bool]:
        """Rows of (user, course) the scope keeps."""
        parts: list[ColumnElement[bool]] = []
        courses_ = self.courses()
        if courses_ is not None:
            student = enrolments.alias("scope_student")
            parts += [
                course.in_(courses_),
                exists(
                    select(literal(1)).where(
                        student.c.tenant_id == self.tenant_id,
                        student.c.user_id == user,
                        student.c.course_id == course,
                        student.c.role == "student",
                    )
                ),
            ]
        if self.scope.user_id is not None:
            parts.append(user == self.scope.user_id)
        return and_(true(), *parts)


def risk_view(tenant_id: UUID, scope: Scope, course_id: str | None = None) -> Any:
    """One stored score per student, as the scope sees it, as a subquery.

    With ``course_id``: the scores in that course. Otherwise the overall score
    (course ``''``), except for a teacher, who sees each student's highest score
    among the courses they teach (an overall score could come from another course).
    Columns: user_id, course_id, score, level, factors, as_of, computed_at.
    """
    conditions = ScopeConditions(tenant_id, scope)
    columns = (
        risk_scores.c.user_id,
        risk_scores.c.course_id,
        risk_scores.c.score,
        risk_scores.c.level,
        risk_scores.c.factors,
        risk_scores.c.as_of,
        risk_scores.c.computed_at,
    )
    mine = risk_scores.c.tenant_id == tenant_id
    in_scope = conditions.pair(risk_scores.c.user_id, risk_scores.c.course_id)
    if course_id is not None:
        return (
            select(*columns)
            .where(mine, risk_scores.c.course_id == course_id, in_scope)
            .subquery("risk")
        )
    if scope.course_ids is None:
        query = select(*columns).where(mine, risk_scores.c.course_id == OVERALL)
        if scope.user_id is not None:
            query = query.where(risk_scores.c.user_id == scope.user_id)
        return query.subquery("risk")
    best_first = func.row_number().over(
        partition_by=risk_scores.c.user_id,
        order_by=(
            case((risk_scores.c.score.is_(None), 1), else_=0),
            risk_scores.c.score.desc(),
            risk_scores.c.course_id.desc(),
        ),
    )
    ranked = (
        select(*columns, best_first.label("best"))
        .where(mine, risk_scores.c.course_id != OVERALL, in_scope)
        .subquery("ranked")
    )
    return (
        select(*(ranked.c[column.name] for column in columns))
        .where(ranked.c.best == 1)
        .subquery("risk")
    )


def stored_risk(row: Any) -> StoredRisk:
    """A row of ``risk_view`` as a record."""
    return StoredRisk.from_detail(
        row.user_id,
        row.score,
        row.level,
        row.as_of,
        row.computed_at,
        _detail(row.factors),
    )


def _detail(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):  # a driver that hands JSON back as text
        value = json.loads(value)
    return value if isinstance(value, Mapping) else None


def _count(connection: Connection, query: Select[Any]) -> int:
    total = connection.execute(
        select(func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    return _int(total)


# -- the queue -----------------------------------------------------------------------


class SqlRiskQueue:
    """``ssea_core.risk.repository.RiskQueue`` over ``risk_pending`` (all tenants).

    Writes set ``since`` to their time. A scheduler claims a mark by replacing its
    ``since`` with a claim stamp (the claim's time a century back, see
    ``CLAIM_BASE``), only if it is still the one it read; a write during the
    recompute sets a real time again, so clearing the claim fails and the tenant is
    computed once more, even when the write's time equals the first mark's (coarse or
    frozen clocks).
    """

    def __init__(self, executor: SqlExecutor) -> None:
        self._executor = executor

    async def pending(self) -> list[PendingTenant]:
        query = select(risk_pending.c.tenant_id, risk_pending.c.since).order_by(
            risk_pending.c.since, risk_pending.c.tenant_id
        )

        def work(connection: Connection) -> list[PendingTenant]:
            return [_pending(row[0], row[1]) for row in connection.execute(query)]

        return await self._executor.run(work)

    async def mark(self, tenant_id: UUID, *, now: datetime) -> None:
        await self._executor.run(
            lambda connection: mark_risk_pending(connection, tenant_id, now), write=True
        )

    async def claim(
        self, mark: PendingTenant, *, now: datetime
    ) -> PendingTenant | None:
        jitter = timedelta(microseconds=secrets.randbelow(1000))
        stamp = CLAIM_BASE + (now - REAL_BASE) + jitter
        statement = (
            update(risk_pending)
            .where(
                risk_pending.c.tenant_id == mark.tenant_id,
                risk_pending.c.since == mark.since,
            )
            .values(since=stamp)
        )

        def work(connection: Connection) -> bool:
            return connection.execute(statement).rowcount > 0

        claimed = await self._executor.run(work, write=True)
        return _pending(mark.tenant_id, stamp) if claimed else None

    async def clear(self, claim: PendingTenant) -> bool:
        statement = delete(risk_pending).where(
            risk_pending.c.tenant_id == claim.tenant_id,
            risk_pending.c.since == claim.since,
        )

        def work(connection: Connection) -> bool:
            return connection.execute(statement).rowcount > 0

        return await self._executor.run(work, write=True)


def _pending(tenant_id: UUID, since: datetime) -> PendingTenant:
    claimed = REAL_BASE + (since - CLAIM_BASE) if since < REAL_BASE else None
    return PendingTenant(tenant_id, since, claimed_at=claimed)


# -- the repository ------------------------------------------------------------------


class SqlRiskRepository:
    """``ssea_core.risk.repository.RiskRepository`` over SQL, for one tenant."""

    def __init__(self, executor: SqlExecutor, tenant_id: UUID) -> None:
        self._executor = executor
        self._tenant_id = tenant_id

    # -- settings ----------------------------------------------------------------

    async def settings(self) -> tuple[RiskSettings, AlertSettings]:
        query = select(tenants.c.settings).where(tenants.c.tenant_id == self._tenant_id)

        def work(connection: Connection) -> Any:
            return connection.execute(query).scalar_one_or_none()

        stored = _detail(await self._executor.run(work)) or {}
        try:
            risk = RiskSettings.model_validate(stored.get("risk") or {})
            alert = AlertSettings.model_validate(stored.get("alerts") or {})
        except ValidationError as exc:
            raise MisconfiguredError(
                f"Tenant {self._tenant_id} has invalid risk settings: "
                + describe_errors(exc, what="setting")
            ) from exc
        return risk, alert

    async def save_settings(
        self, risk: RiskSettings, alerts: AlertSettings, *, now: datetime
    ) -> None:
        mine = tenants.c.tenant_id == self._tenant_id

        def work(connection: Connection) -> None:
            stored = connection.execute(select(tenants.c.settings).where(mine))
            found = dict(_detail(stored.scalar_one_or_none()) or {})
            found["risk"] = risk.model_dump(mode="json")
            found["alerts"] = alerts.model_dump(mode="json")
            connection.execute(update(tenants).where(mine).values(settings=found))
            mark_risk_pending(connection, self._tenant_id, now)

        await self._executor.run(work, write=True)

    # -- the inputs of the features ------------------------------------------------

    async def inputs(self, as_of: datetime, settings: RiskSettings) -> RiskInputs:
        def work(connection: Connection) -> RiskInputs:
            return _InputReader(connection, self._tenant_id, as_of, settings).read()

        return await self._executor.run(work)

    # -- scores ------------------------------------------------------------------

    async def save_scores(
        self, rows: Sequence[ScoreRow], *, as_of: datetime, computed_at: datetime
    ) -> None:
        values = [
            {
                "tenant_id": self._tenant_id,
                "user_id": row.user_id,
                "course_id": row.course_id,
                "score": row.score,
                "level": row.level,
                "factors": row.detail,
                "as_of": as_of,
                "computed_at": computed_at,
            }
            for row in rows
        ]

        def work(connection: Connection) -> None:
            connection.execute(
                delete(risk_scores).where(risk_scores.c.tenant_id == self._tenant_id)
            )
            if values:
                connection.execute(risk_scores.insert(), values)

        await self._executor.run(work, write=True)

    # -- alerts --------------------------------------------------------------------

    async def alert_states(self) -> dict[Pair, AlertState]:
        query = select(
            alert_states.c.user_id, alert_states.c.course_id, alert_states.c.state
        ).where(alert_states.c.tenant_id == self._tenant_id)

        def work(connection: Connection) -> dict[Pair, AlertState]:
            return {
                (row[0], row[1]): _state(_detail(row[2]) or {})
                for row in connection.execute(query)
            }

        return await self._executor.run(work)

    async def save_alerts(
        self,
        proposals: Sequence[AlertProposal],
        states: Mapping[Pair, AlertState],
        *,
        now: datetime,
    ) -> AlertChanges:
        rows = [self._alert_row(proposal) for proposal in proposals]
        kept = [
            {
                "tenant_id": self._tenant_id,
                "user_id": user_id,
                "course_id": course_id,
                "state": _state_json(state),
                "updated_at": now,
            }
            for (user_id, course_id), state in states.items()
        ]

        def work(connection: Connection) -> AlertChanges:
            already = self._open_keys(connection, [row["open_key"] for row in rows])
            if rows:
                statement = upsert(connection, alerts)
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=["tenant_id", "open_key"],
                        set_={
                            "message": statement.excluded.message,
                            "triggered_at": statement.excluded.triggered_at,
                            "severity": case(
                                (
                                    _rank(statement.excluded.severity)
                                    > _rank(alerts.c.severity),
                                    statement.excluded.severity,
                                ),
                                else_=alerts.c.severity,
                            ),
                        },
                    ),
                    rows,
                )
            connection.execute(
                delete(alert_states).where(alert_states.c.tenant_id == self._tenant_id)
            )
            if kept:
                connection.execute(alert_states.insert(), kept)
            updated = sum(row["open_key"] in already for row in rows)
            return AlertChanges(raised=len(rows) - updated, updated=updated)

        return await self._executor.run(work, write=True)

    def _alert_row(self, proposal: AlertProposal) -> dict[str, Any]:
        return {
            "tenant_id": self._tenant_id,
            "alert_id": "alrt_" + secrets.token_hex(8),
            "user_id": proposal.user_id,
            "course_id": proposal.course_id or "",
            "alert_type": proposal.alert_type,
            "severity": proposal.severity,
            "message": proposal.message[:500],
            "triggered_at": proposal.triggered_at,
            "acknowledged": False,
            "open_key": open_key(*proposal.dedupe_key),
        }

    def _open_keys(self, connection: Connection, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        query = select(alerts.c.open_key).where(
            alerts.c.tenant_id == self._tenant_id, alerts.c.open_key.is_not(None)
        )
        wanted = set(keys)
        return {row[0] for row in connection.execute(query) if row[0] in wanted}

    # -- reads -------------------------------------------------------------------------

    async def at_risk(
        self, scope: Scope, where: AtRiskFilter, page: Page
    ) -> Paged[AtRiskStudent]:
        view = risk_view(self._tenant_id, scope, where.course_id)
        levels = [where.level] if where.level is not None else list(AT_RISK)
        mark = risk_acknowledgements
        query = (
            select(
                view,
                users.c.username,
                users.c.full_name,
                user_activity.c.last_seen_at,
                mark.c.level.label("mark_level"),
                mark.c.acknowledged_at,
                mark.c.acknowledged_by,
            )
            .select_from(
                view.outerjoin(
                    users,
                    and_(
                        users.c.tenant_id == self._tenant_id,
                        users.c.user_id == view.c.user_id,
                    ),
                )
                .outerjoin(
                    user_activity,
                    and_(
                        user_activity.c.tenant_id == self._tenant_id,
                        user_activity.c.user_id == view.c.user_id,
                    ),
                )
                .outerjoin(
                    mark,
                    and_(
                        mark.c.tenant_id == self._tenant_id,
                        mark.c.user_id == view.c.user_id,
                    ),
                )
            )
            .where(
                view.c.level.in_(levels),
                or_(users.c.deleted.is_(None), users.c.deleted.is_(False)),
            )
        )
        ordered = _at_risk_order(query, view, where.sort)
        ordered = ordered.limit(page.limit).offset(page.offset)

        def work(connection: Connection) -> Paged[AtRiskStudent]:
            found = [_at_risk_row(row) for row in connection.execute(ordered)]
            return found, _count(connection, query)

        return await self._executor.run(work)

    async def current_risk(self, scope: Scope, user_id: str) -> StoredRisk | None:
        view = risk_view(self._tenant_id, scope)
        query = select(view).where(view.c.user_id == user_id)

        def work(connection: Connection) -> StoredRisk | None:
            row = connection.execute(query).first()
            return stored_risk(row) if row is not None else None

        return await self._executor.run(work)

    async def acknowledge_student(
        self, user_id: str, level: RiskLevel, *, by: str, now: datetime
    ) -> None:
        def work(connection: Connection) -> None:
            statement = upsert(connection, risk_acknowledgements).values(
                tenant_id=self._tenant_id,
                user_id=user_id,
                level=level,
                acknowledged_at=now,
                acknowledged_by=by,
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["tenant_id", "user_id"],
                    set_={
                        name: statement.excluded[name]
                        for name in ("level", "acknowledged_at", "acknowledged_by")
                    },
                )
            )

        await self._executor.run(work, write=True)

    def _alerts_in_scope(self, scope: Scope) -> ColumnElement[bool]:
        conditions = ScopeConditions(self._tenant_id, scope)
        return and_(
            alerts.c.tenant_id == self._tenant_id,
            conditions.pair(alerts.c.user_id, alerts.c.course_id),
        )

    async def alerts(
        self, scope: Scope, where: AlertFilter, page: Page
    ) -> Paged[AlertRecord]:
        query = select(alerts).where(self._alerts_in_scope(scope))
        if not where.include_acknowledged:
            query = query.where(alerts.c.acknowledged.is_(False))
        for column, wanted in (
            (alerts.c.user_id, where.user_id),
            (alerts.c.course_id, where.course_id),
            (alerts.c.alert_type, where.alert_type),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        ordered = (
            query.order_by(alerts.c.triggered_at.desc(), alerts.c.alert_id.desc())
            .limit(page.limit)
            .offset(page.offset)
        )

        def work(connection: Connection) -> Paged[AlertRecord]:
            found = [_alert(row) for row in connection.execute(ordered)]
            return found, _count(connection, query)

        return await self._executor.run(work)

    async def acknowledge_alert(
        self, scope: Scope, alert_id: str, *, by: str, now: datetime
    ) -> bool:
        mine = and_(self._alerts_in_scope(scope), alerts.c.alert_id == alert_id)

        def work(connection: Connection) -> bool:
            found = connection.execute(select(alerts.c.alert_id).where(mine)).first()
            if found is None:
                return False
            # Acknowledging again keeps the first acknowledgement.
            connection.execute(
                update(alerts)
                .where(mine, alerts.c.acknowledged.is_(False))
                .values(
                    acknowledged=True,
                    acknowledged_at=now,
                    acknowledged_by=by,
                    open_key=None,
                )
            )
            return True

        return await self._executor.run(work, write=True)

    async def acknowledge_all(self, scope: Scope, *, by: str, now: datetime) -> int:
        statement = (
            update(alerts)
            .where(self._alerts_in_scope(scope), alerts.c.acknowledged.is_(False))
            .values(
                acknowledged=True,
                acknowledged_at=now,
                acknowledged_by=by,
                open_key=None,
            )
        )

        def work(connection: Connection) -> int:
            return _int(connection.execute(statement).rowcount)

        return await self._executor.run(work, write=True)


def _at_risk_order(query: Select[Any], view: Any, sort: AtRiskSort) -> Select[Any]:
    score = view.c.score
    seen = user_activity.c.last_seen_at
    days = view.c.factors["days_inactive"].as_integer()
    orders: dict[AtRiskSort, list[Any]] = {
        "score_desc": [score.desc()],
        "score_asc": [score.asc()],
        "last_seen_asc": [case((seen.is_(None), 1), else_=0), seen.asc(), score.desc()],
        "days_inactive_desc": [
            case((days.is_(None), 1), else_=0),
            days.desc(),
            score.desc(),
        ],
    }
    return query.order_by(*orders[sort], view.c.user_id)


def _at_risk_row(row: Any) -> AtRiskStudent:
    mark = None
    if row.mark_level is not None:
        mark = Acknowledgement(row.mark_level, row.acknowledged_at, row.acknowledged_by)
    return AtRiskStudent(
        user_id=row.user_id,
        username=row.username,
        full_name=row.full_name,
        last_seen_at=row.last_seen_at,
        risk=stored_risk(row),
        acknowledgement=mark,
    )


def _alert(row: Any) -> AlertRecord:
    return AlertRecord(
        alert_id=row.alert_id,
        user_id=row.user_id,
        course_id=row.course_id or None,
        alert_type=row.alert_type,
        severity=row.severity,
        message=row.message,
        triggered_at=row.triggered_at,
        acknowledged=bool(row.acknowledged),
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
    )


def _state_json(state: AlertState) -> dict[str, Any]:
    # By hand: ``dataclasses.asdict`` deep-copies, which costs seconds per 20,000.
    seen = state.last_seen_at
    return {
        "as_of": state.as_of.isoformat(),
        "last_seen_at": seen.isoformat() if seen is not None else None,
        "days_inactive": state.days_inactive,
        "risk_level": state.risk_level,
        "completion_percent": state.completion_percent,
        "results_seen": state.results_seen,
    }


def _state(found: Mapping[str, Any]) -> AlertState:
    def moment(name: str) -> datetime | None:
        value = found.get(name)
        return datetime.fromisoformat(value) if value else None

    return AlertState(
        as_of=moment("as_of") or datetime.min.replace(tzinfo=UTC),
        last_seen_at=moment("last_seen_at"),
        days_inactive=found.get("days_inactive"),
        risk_level=found.get("risk_level"),
        completion_percent=found.get("completion_percent"),
        results_seen=int(found.get("results_seen") or 0),
    )


# -- reading the inputs ----------------------------------------------------------------


class _InputReader:
    """The queries behind ``RiskInputs``, on one connection (one snapshot)."""

    def __init__(
        self,
        connection: Connection,
        tenant_id: UUID,
        as_of: datetime,
        settings: RiskSettings,
    ) -> None:
        self.connection = connection
        self.tenant_id = tenant_id
        self.as_of = as_of
        self.end = end_day(as_of)
        self.recent_start = self.end - timedelta(days=settings.recent_window_days)

    def read(self) -> RiskInputs:
        students = self._students()
        modules_ = self._modules()
        return RiskInputs(
            as_of=self.as_of,
            students=students,
            courses=self._courses(),
            activity_tracked=self._activity_tracked(),
            activity=self._activity(),
            results=self._results(modules_["quiz"]),
            due=modules_["due"],
            submitted=self._submitted(),
            tracked=modules_["tracked"],
            completed=self._completed(),
            course_complete=self._course_complete(),
        )

    def _active_student(self, table: Any) -> ColumnElement[bool]:
        """``table`` is an active student enrolment as of ``as_of``."""
        return and_(
            table.c.tenant_id == self.tenant_id,
            table.c.role == "student",
            table.c.status == "active",
            or_(table.c.time_start.is_(None), table.c.time_start <= self.as_of),
            or_(table.c.time_end.is_(None), table.c.time_end > self.as_of),
        )

    def _student_of(self, user: Any, course: Any) -> ColumnElement[bool]:
        student = enrolments.alias("student")
        return exists(
            select(literal(1)).where(
                self._active_student(student),
                student.c.user_id == user,
                student.c.course_id == course,
            )
        )

    def _students(self) -> list[Enrolled]:
        query = (
            select(
                enrolments.c.user_id, enrolments.c.course_id, enrolments.c.time_start
            )
            .select_from(
                enrolments.outerjoin(
                    users,
                    and_(
                        users.c.tenant_id == self.tenant_id,
                        users.c.user_id == enrolments.c.user_id,
                    ),
                )
            )
            .where(
                self._active_student(enrolments),
                or_(users.c.deleted.is_(None), users.c.deleted.is_(False)),
                or_(users.c.suspended.is_(None), users.c.suspended.is_(False)),
            )
            .order_by(enrolments.c.user_id, enrolments.c.course_id)
        )
        return [
            Enrolled(row[0], row[1], row[2]) for row in self.connection.execute(query)
        ]

    def _courses(self) -> dict[str, CourseDates]:
        query = select(
            courses.c.course_id, courses.c.start_date, courses.c.end_date
        ).where(courses.c.tenant_id == self.tenant_id)
        return {
            row[0]: CourseDates(row[1], row[2])
            for row in self.connection.execute(query)
        }

    def _activity_tracked(self) -> bool:
        query = select(
            exists(
                select(literal(1)).where(
                    daily_rollups.c.tenant_id == self.tenant_id,
                    daily_rollups.c.day < self.end,
                )
            )
        )
        return bool(self.connection.execute(query).scalar_one())

    def _activity(self) -> dict[Pair, CourseActivity]:
        rollup, student = daily_rollups, enrolments.alias("student")
        since = or_(
            student.c.time_start.is_(None),
            rollup.c.day >= utc_day(student.c.time_start),
        )
        recent = and_(since, rollup.c.day >= self.recent_start)
        active = rollup.c.events > 0

        def total(condition: ColumnElement[bool], value: Any) -> Any:
            return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

        query = (
            select(
                rollup.c.user_id,
                rollup.c.course_id,
                total(recent, rollup.c.events),
                total(and_(recent, active), 1),
                total(recent, rollup.c.seconds),
                total(since, rollup.c.events),
                total(and_(since, active), 1),
                total(since, rollup.c.seconds),
                func.max(case((active, rollup.c.day))),
            )
            .select_from(
                rollup.join(
                    student,
                    and_(
                        student.c.tenant_id == rollup.c.tenant_id,
                        student.c.user_id == rollup.c.user_id,
                        student.c.course_id == rollup.c.course_id,
                        student.c.role == "student",
                    ),
                )
            )
            .where(
                rollup.c.tenant_id == self.tenant_id,
                rollup.c.day < self.end,
                rollup.c.course_id != OVERALL,
                self._active_student(student),
            )
            .group_by(rollup.c.user_id, rollup.c.course_id)
        )
        found: dict[Pair, CourseActivity] = {}
        for row in self.connection.execute(query):
            found[(row[0], row[1])] = CourseActivity(
                recent=ActivityCounts(_int(row[2]), _int(row[3]), _int(row[4])),
                since_enrolment=ActivityCounts(
                    _int(row[5]), _int(row[6]), _int(row[7])
                ),
                last_active_day=_day(row[8]),
            )
        return found

    def _modules(self) -> dict[str, Any]:
        query = select(
            modules.c.module_id,
            modules.c.course_id,
            modules.c.modname,
            modules.c.completion_enabled,
            modules.c.visible,
            modules.c.due_date,
        ).where(modules.c.tenant_id == self.tenant_id)
        tracked: dict[str, int] = defaultdict(int)
        due: dict[str, list[DueWork]] = defaultdict(list)
        quiz: set[Pair] = set()
        for row in self.connection.execute(query):
            module_id, course_id, modname, enabled, visible, due_at = row
            if course_id is None:
                continue
            if enabled and visible:
                tracked[course_id] += 1
            if modname == "quiz":
                quiz.add((course_id, module_id))
            if (
                modname == DUE_MODNAME
                and visible
                and due_at is not None
                and due_at < self.as_of
            ):
                due[course_id].append(DueWork(module_id, due_at))
        for work in due.values():
            work.sort(key=lambda item: (item.due_at, item.module_id))
        return {"tracked": dict(tracked), "due": dict(due), "quiz": quiz}

    def _results(self, quiz_modules: set[Pair]) -> dict[Pair, list[GradeResult]]:
        item = grade_items
        query = (
            select(
                grades.c.user_id,
                grades.c.course_id,
                grades.c.item_id,
                grades.c.finalgrade,
                grades.c.graded_at,
                item.c.grademin,
                item.c.grademax,
                item.c.gradepass,
                item.c.item_type,
            )
            .select_from(
                grades.join(
                    item,
                    and_(
                        item.c.tenant_id == grades.c.tenant_id,
                        item.c.course_id == grades.c.course_id,
                        item.c.item_id == grades.c.item_id,
                    ),
                )
            )
            .where(
                grades.c.tenant_id == self.tenant_id,
                grades.c.finalgrade.is_not(None),
                item.c.grademax > item.c.grademin,
                func.coalesce(item.c.item_type, "").not_in(TOTAL_ITEM_TYPES),
                func.coalesce(grades.c.graded_at, grades.c.updated_at) < self.as_of,
                self._student_of(grades.c.user_id, grades.c.course_id),
            )
        )
        found: dict[Pair, list[GradeResult]] = defaultdict(list)
        for row in self.connection.execute(query):
            user_id, course_id, item_id, final, graded_at, low, high, mark, kind = row
            span = high - low
            pass_percent = (
                (mark - low) * 100.0 / span if mark is not None and mark > low else None
            )
            quiz = (kind or "").lower() in QUIZ_ITEM_TYPES or (
                (course_id, item_id) in quiz_modules
            )
            result_kind: ResultKind = "quiz" if quiz else "grade"
            found[(user_id, course_id)].append(
                GradeResult(
                    percent=(final - low) * 100.0 / span,
                    pass_percent=pass_percent,
                    graded_at=graded_at,
                    kind=result_kind,
                )
            )
        return dict(found)

    def _submitted(self) -> dict[Pair, datetime]:
        # The one read of raw events here: a tenant's assignment submissions, once
        # per recompute. Known shortcoming: ``events`` has no index on the event
        # type, so this reads every event row of the tenant.
        query = (
            select(events.c.user_id, events.c.module_id, func.min(events.c.occurred_at))
            .where(
                events.c.tenant_id == self.tenant_id,
                events.c.event_type == SUBMISSION_EVENT,
                events.c.counted.is_(True),
                events.c.module_id.is_not(None),
                events.c.occurred_at < self.as_of,
            )
            .group_by(events.c.user_id, events.c.module_id)
        )
        return {(row[0], row[1]): row[2] for row in self.connection.execute(query)}

    def _done_before(self) -> ColumnElement[bool]:
        return and_(
            completions.c.state.in_(DONE_STATES),
            func.coalesce(completions.c.completed_at, completions.c.updated_at)
            < self.as_of,
        )

    def _completed(self) -> dict[Pair, int]:
        query = (
            select(completions.c.user_id, completions.c.course_id, func.count())
            .select_from(
                completions.join(
                    modules,
                    and_(
                        modules.c.tenant_id == completions.c.tenant_id,
                        modules.c.module_id == completions.c.module_id,
                        modules.c.course_id == completions.c.course_id,
                    ),
                )
            )
            .where(
                completions.c.tenant_id == self.tenant_id,
                completions.c.module_id != OVERALL,
                modules.c.completion_enabled.is_(True),
                modules.c.visible.is_(True),
                self._done_before(),
            )
            .group_by(completions.c.user_id, completions.c.course_id)
        )
        return {
            (row[0], row[1]): _int(row[2]) for row in self.connection.execute(query)
        }

    def _course_complete(self) -> frozenset[Pair]:
        query = select(completions.c.user_id, completions.c.course_id).where(
            completions.c.tenant_id == self.tenant_id,
            completions.c.module_id == OVERALL,
            self._done_before(),
        )
        return frozenset((row[0], row[1]) for row in self.connection.execute(query))
