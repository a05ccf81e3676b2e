"""Report jobs and artifact rows in SQL (SPEC §7): a tenant's jobs, and the queue.

Taking a job is one write transaction. On PostgreSQL the candidate row is locked
with ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent workers pass over each
other's candidates instead of waiting on them; on SQLite the write transaction
starts with ``BEGIN IMMEDIATE`` (``SqlExecutor``), which admits one writer at a
time across processes. Either way the ``UPDATE`` that takes the job repeats the
"claimable" condition and its row count is checked. Every later write about a job
(renew, complete, fail, release) is conditional on ``status = 'running'`` and on
the worker's own ``lease_owner``: a worker that lost its lease changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)

from ssea_core.reports.jobs import (
    JobListQuery,
    JobVisibility,
    ReportJob,
    StoredArtifact,
)
from ssea_core.reports.params import ReportRequest
from ssea_storage.sql.executor import SqlExecutor
from ssea_storage.sql.schema import artifacts, report_jobs

logger = logging.getLogger(__name__)

#: Jobs a claim may fail (out of attempts) before it gives up for this round.
_MAX_SKIPPED = 50


def _job(row: Any) -> ReportJob:
    return ReportJob(
        tenant_id=row.tenant_id,
        job_id=row.job_id,
        request=ReportRequest.model_validate(row.params),
        status=row.status,
        requested_at=row.requested_at,
        requested_by=row.requested_by,
        started_at=row.started_at,
        completed_at=row.completed_at,
        error=row.error,
        attempts=row.attempts,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
    )


def _artifact(row: Any) -> StoredArtifact:
    return StoredArtifact(
        job_id=row.job_id,
        format=row.format,
        storage_key=row.storage_key,
        content_type=row.content_type,
        size=row.size,
        created_at=row.created_at,
        expires_at=row.expires_at,
        expired=row.expired,
    )


def _this_job(job: ReportJob) -> ColumnElement[bool]:
    return and_(
        report_jobs.c.tenant_id == job.tenant_id, report_jobs.c.job_id == job.job_id
    )


def _held_by(job: ReportJob, worker_id: str) -> ColumnElement[bool]:
    return and_(
        _this_job(job),
        report_jobs.c.status == "running",
        report_jobs.c.lease_owner == worker_id,
    )


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Pending and due (a retry waits until ``lease_expires_at``), or running with
    a lease that ran out."""
    lease = report_jobs.c.lease_expires_at
    return or_(
        and_(
            report_jobs.c.status == "pending",
            or_(lease.is_(None), lease <= now),
        ),
        and_(report_jobs.c.status == "running", lease < now),
    )


class SqlReportJobs:
    """:class:`ssea_core.reports.jobs.ReportJobRepository` for one tenant."""

    def __init__(self, executor: SqlExecutor, tenant_id: UUID) -> None:
        self._executor = executor
        self._tenant_id = tenant_id

    def _visible(self, visibility: JobVisibility) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = [report_jobs.c.tenant_id == self._tenant_id]
        if visibility.requested_by is not None:
            parts.append(report_jobs.c.requested_by == visibility.requested_by)
        if visibility.course_ids is not None:
            course = report_jobs.c.params["course_id"].as_string()
            parts.append(course.in_(sorted(visibility.course_ids)))
        return and_(*parts)

    async def create_job(self, job: ReportJob) -> None:
        row = {
            "tenant_id": self._tenant_id,
            "job_id": job.job_id,
            "report_type": job.request.report_type,
            "format": job.request.format,
            "params": job.request.model_dump(mode="json"),
            "status": job.status,
            "requested_at": job.requested_at,
            "requested_by": job.requested_by,
            "attempts": 0,
        }

        def work(connection: Connection) -> None:
            connection.execute(insert(report_jobs).values(**row))

        await self._executor.run(work, write=True)
        logger.info(
            "report job queued tenant=%s job=%s type=%s format=%s",
            self._tenant_id,
            job.job_id,
            job.request.report_type,
            job.request.format,
        )

    async def get_job(self, job_id: str, visibility: JobVisibility) -> ReportJob | None:
        query = select(report_jobs).where(
            self._visible(visibility), report_jobs.c.job_id == job_id
        )

        def work(connection: Connection) -> ReportJob | None:
            row = connection.execute(query).first()
            return _job(row) if row is not None else None

        return await self._executor.run(work)

    async def list_jobs(
        self, query: JobListQuery, visibility: JobVisibility
    ) -> tuple[list[ReportJob], int]:
        condition = self._visible(visibility)
        if query.status is not None:
            condition = and_(condition, report_jobs.c.status == query.status)
        page = (
            select(report_jobs)
            .where(condition)
            .order_by(report_jobs.c.requested_at.desc(), report_jobs.c.job_id.desc())
            .limit(query.limit)
            .offset(query.offset)
        )
        total = select(func.count()).select_from(report_jobs).where(condition)

        def work(connection: Connection) -> tuple[list[ReportJob], int]:
            jobs = [_job(row) for row in connection.execute(page)]
            return jobs, int(connection.execute(total).scalar_one())

        return await self._executor.run(work)

    async def artifacts(self, job_id: str) -> list[StoredArtifact]:
        query = (
            select(artifacts)
            .where(
                artifacts.c.tenant_id == self._tenant_id, artifacts.c.job_id == job_id
            )
            .order_by(artifacts.c.format)
        )

        def work(connection: Connection) -> list[StoredArtifact]:
            return [_artifact(row) for row in connection.execute(query)]

        return await self._executor.run(work)

    async def find_artifact(self, storage_key: str) -> StoredArtifact | None:
        query = select(artifacts).where(
            artifacts.c.tenant_id == self._tenant_id,
            artifacts.c.storage_key == storage_key,
        )

        def work(connection: Connection) -> StoredArtifact | None:
            row = connection.execute(query).first()
            return _artifact(row) if row is not None else None

        return await self._executor.run(work)


class SqlReportQueue:
    """:class:`ssea_core.reports.jobs.ReportJobQueue`: the workers' side, across
    tenants. Each statement still names the job's tenant."""

    def __init__(self, executor: SqlExecutor) -> None:
        self._executor = executor
        self._skip_locked = executor.dialect == "postgresql"

    async def claim(
        self,
        worker_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        max_attempts: int,
    ) -> ReportJob | None:
        def work(connection: Connection) -> ReportJob | None:
            for _ in range(_MAX_SKIPPED):
                row = connection.execute(self._candidate(now)).first()
                if row is None:
                    return None
                job = _job(row)
                if job.status == "running" and job.attempts >= max_attempts:
                    self._give_up(connection, job, now)
                    continue
                taken = connection.execute(
                    update(report_jobs)
                    .where(_this_job(job), _claimable(now))
                    .values(
                        status="running",
                        lease_owner=worker_id,
                        lease_expires_at=lease_until,
                        attempts=report_jobs.c.attempts + 1,
                        started_at=now,
                    )
                )
                if taken.rowcount == 1:
                    fresh = connection.execute(
                        select(report_jobs).where(_this_job(job))
                    ).one()
                    return _job(fresh)
            return None

        return await self._executor.run(work, write=True)

    def _candidate(self, now: datetime) -> Any:
        query = (
            select(report_jobs)
            .where(_claimable(now))
            .order_by(report_jobs.c.requested_at, report_jobs.c.job_id)
            .limit(1)
        )
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        return query

    @staticmethod
    def _give_up(connection: Connection, job: ReportJob, now: datetime) -> None:
        message = (
            f"The worker running the report stopped responding; gave up after "
            f"{job.attempts} attempts."
        )
        connection.execute(
            update(report_jobs)
            .where(_held_by(job, job.lease_owner or ""))
            .values(
                status="failed",
                error=message,
                completed_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        logger.warning(
            "report job failed tenant=%s job=%s: lease lost %d times",
            job.tenant_id,
            job.job_id,
            job.attempts,
        )

    async def renew(self, job: ReportJob, worker_id: str, *, until: datetime) -> bool:
        statement = (
            update(report_jobs)
            .where(_held_by(job, worker_id))
            .values(lease_expires_at=until)
        )
        return await self._changed(statement)

    async def complete(
        self, job: ReportJob, worker_id: str, artifact: StoredArtifact, *, now: datetime
    ) -> bool:
        finish = (
            update(report_jobs)
            .where(_held_by(job, worker_id))
            .values(
                status="completed",
                completed_at=now,
                error=None,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        row = {
            "tenant_id": job.tenant_id,
            "job_id": artifact.job_id,
            "format": artifact.format,
            "storage_key": artifact.storage_key,
            "content_type": artifact.content_type,
            "size": artifact.size,
            "created_at": artifact.created_at,
            "expires_at": artifact.expires_at,
            "expired": False,
        }

        def work(connection: Connection) -> bool:
            if connection.execute(finish).rowcount != 1:
                return False
            connection.execute(insert(artifacts).values(**row))
            return True

        return await self._executor.run(work, write=True)

    async def fail(
        self,
        job: ReportJob,
        worker_id: str,
        error: str,
        *,
        now: datetime,
        retry_at: datetime | None,
    ) -> bool:
        values: dict[str, Any] = {"error": error, "lease_owner": None}
        if retry_at is None:
            values |= {
                "status": "failed",
                "completed_at": now,
                "lease_expires_at": None,
            }
        else:
            values |= {"status": "pending", "lease_expires_at": retry_at}
        statement = update(report_jobs).where(_held_by(job, worker_id)).values(**values)
        return await self._changed(statement)

    async def release(self, job: ReportJob, worker_id: str) -> bool:
        statement = (
            update(report_jobs)
            .where(_held_by(job, worker_id))
            .values(
                status="pending",
                lease_owner=None,
                lease_expires_at=None,
                attempts=report_jobs.c.attempts - 1,
            )
        )
        return await self._changed(statement)

    async def due_artifacts(
        self, *, now: datetime, limit: int
    ) -> Sequence[tuple[ReportJob, StoredArtifact]]:
        joined = artifacts.join(
            report_jobs,
            and_(
                report_jobs.c.tenant_id == artifacts.c.tenant_id,
                report_jobs.c.job_id == artifacts.c.job_id,
            ),
        )
        query = (
            select(
                report_jobs,
                *[column.label(f"a_{column.name}") for column in artifacts.c],
            )
            .select_from(joined)
            .where(artifacts.c.expired.is_(False), artifacts.c.expires_at <= now)
            .order_by(artifacts.c.expires_at)
            .limit(limit)
        )

        def work(connection: Connection) -> list[tuple[ReportJob, StoredArtifact]]:
            found = []
            for row in connection.execute(query):
                mapping = row._mapping
                artifact_row = {
                    column.name: mapping[f"a_{column.name}"] for column in artifacts.c
                }
                found.append((_job(row), _artifact(_Row(artifact_row))))
            return found

        return await self._executor.run(work)

    async def mark_expired(
        self, job: ReportJob, artifact: StoredArtifact, *, now: datetime
    ) -> None:
        this_artifact = and_(
            artifacts.c.tenant_id == job.tenant_id,
            artifacts.c.job_id == artifact.job_id,
            artifacts.c.format == artifact.format,
        )

        def work(connection: Connection) -> None:
            connection.execute(
                update(artifacts).where(this_artifact).values(expired=True)
            )
            connection.execute(
                update(report_jobs)
                .where(_this_job(job), report_jobs.c.status == "completed")
                .values(status="expired")
            )

        await self._executor.run(work, write=True)
        logger.info(
            "report artifact expired tenant=%s job=%s format=%s",
            job.tenant_id,
            job.job_id,
            artifact.format,
        )

    async def _changed(self, statement: Any) -> bool:
        def work(connection: Connection) -> bool:
            return bool(connection.execute(statement).rowcount == 1)

        return await self._executor.run(work, write=True)


class _Row:
    """Attribute access over a dict, to share :func:`_artifact` with plain rows."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
