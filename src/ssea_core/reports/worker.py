"""The report worker: takes jobs from the queue, builds their artifacts, sweeps.

Invariants (with those of :mod:`ssea_core.reports.jobs`):
- A worker runs a job only under its lease and renews the lease every third of its
  length while the report is built. When a renewal is refused (another worker took
  the job) or the lease runs out unrenewed, the build is cancelled and the worker
  writes nothing more about the job; a file it had finished is deleted.
- A failed attempt goes back to the queue after ``retry_delay`` until the job has
  used ``max_attempts``; then the job is failed with the last error. A worker that
  is cancelled (shutdown) gives its job back at once, the attempt not counted.
- The sweep deletes the files of artifacts whose retention ended (every attempt's
  key of the job) before marking them expired, so a failed sweep is retried and no
  expired file is left behind; it also drops ``.part`` files of dead writers.
"""

from __future__ import annotations

import logging
import os
import platform
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import anyio

from ssea_core.artifacts import ArtifactStore
from ssea_core.context import Services
from ssea_core.errors import SseaError
from ssea_core.reports.export import (
    ExportResult,
    ReportSource,
    artifact_key,
    export_report,
)
from ssea_core.reports.jobs import (
    MAX_ERROR_LENGTH,
    ArtifactStoreMissingError,
    ReportJob,
    StoredArtifact,
)
from ssea_core.settings import Settings

logger = logging.getLogger(__name__)

JobOutcome = Literal["completed", "retry", "failed", "lost"]
SourceFactory = Callable[[UUID], ReportSource]
#: Artifacts expired per round trip of a sweep.
SWEEP_BATCH = 100


def default_worker_id() -> str:
    """``host-pid-random``: unique among the workers sharing one database."""
    return f"{platform.node() or 'host'}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker holds, retries and sweeps (``SSEA_REPORT_*`` settings)."""

    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 3
    retry_delay: timedelta = timedelta(seconds=10)
    poll_interval: float = 2.0
    sweep_interval: float = 60.0
    retention: timedelta = timedelta(days=7)
    part_max_age: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            lease=timedelta(seconds=settings.report_job_lease_seconds),
            max_attempts=settings.report_job_max_attempts,
            retry_delay=timedelta(seconds=settings.report_job_retry_delay_seconds),
            poll_interval=settings.report_worker_poll_seconds,
            sweep_interval=settings.report_sweep_interval_seconds,
            retention=timedelta(seconds=settings.artifact_retention_seconds),
            part_max_age=timedelta(seconds=settings.artifact_part_max_age_seconds),
        )


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """What one sweep removed."""

    expired: int
    partial: int


@dataclass(slots=True)
class _Lease:
    expires_at: datetime
    lost: bool = False


class ReportWorker:
    """Runs report jobs from ``services``' queue; one job at a time per instance.

    ``sources`` builds the report source of a tenant (default: the store's SQL
    reports); tests and embedders may wrap it.
    """

    def __init__(
        self,
        services: Services,
        *,
        worker_id: str | None = None,
        config: WorkerConfig | None = None,
        sources: SourceFactory | None = None,
    ) -> None:
        if services.artifacts is None:
            raise ArtifactStoreMissingError
        self.worker_id = worker_id or default_worker_id()
        self.config = config or WorkerConfig.from_settings(services.settings)
        self._services = services
        self._artifacts: ArtifactStore = services.artifacts
        self._queue = services.store.report_queue()
        self._sources = sources or self._sql_source

    def _sql_source(self, tenant_id: UUID) -> ReportSource:
        return self._services.store.for_tenant(tenant_id).reports()

    def _now(self) -> datetime:
        return self._services.clock.now()

    # -- the loop ----------------------------------------------------------------

    async def run(self, stop_event: anyio.Event | None = None) -> None:
        """Take and run jobs until ``stop_event`` is set (the job in hand is
        finished first); sweep every ``sweep_interval`` seconds."""
        stop = stop_event or anyio.Event()
        next_sweep = anyio.current_time()
        logger.info("report worker started worker=%s", self.worker_id)
        while not stop.is_set():
            if anyio.current_time() >= next_sweep:
                await self._sweep_safely()
                next_sweep = anyio.current_time() + self.config.sweep_interval
            if await self._run_one_safely() is None:
                with anyio.move_on_after(self.config.poll_interval):
                    await stop.wait()
        logger.info("report worker stopped worker=%s", self.worker_id)

    async def _run_one_safely(self) -> JobOutcome | None:
        try:
            return await self.run_one()
        except SseaError as error:
            # The store is down or misconfigured: wait a poll and try again.
            logger.warning(
                "report worker=%s could not take a job: %s", self.worker_id, error.code
            )
        except Exception:
            logger.exception("report worker=%s failed unexpectedly", self.worker_id)
        return None

    async def _sweep_safely(self) -> None:
        try:
            await self.sweep()
        except Exception as exc:
            logger.warning(
                "report sweep failed worker=%s: %s", self.worker_id, type(exc).__name__
            )

    # -- one job -----------------------------------------------------------------

    async def run_one(self) -> JobOutcome | None:
        """Take one job and run it; None when the queue had nothing to do."""
        now = self._now()
        job = await self._queue.claim(
            self.worker_id,
            now=now,
            lease_until=now + self.config.lease,
            max_attempts=self.config.max_attempts,
        )
        if job is None:
            return None
        logger.info(
            "report job started tenant=%s job=%s type=%s attempt=%d worker=%s",
            job.tenant_id,
            job.job_id,
            job.request.report_type,
            job.attempts,
            self.worker_id,
        )
        return await self._run(job)

    async def _run(self, job: ReportJob) -> JobOutcome:
        key = artifact_key(
            job.job_id, job.request.report_type, job.format, attempt=job.attempts
        )
        lease = _Lease(job.lease_expires_at or self._now() + self.config.lease)
        result: ExportResult | None = None
        error: Exception | None = None
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._keep_lease, job, lease, group.cancel_scope)
                try:
                    result = await export_report(
                        job.request,
                        self._sources(job.tenant_id),
                        self._artifacts,
                        job.tenant_id,
                        key,
                    )
                except Exception as exc:
                    error = exc
                group.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._release(job)
            raise
        if lease.lost:
            return await self._lost(job, key if result is not None else None)
        if error is not None or result is None:
            return await self._failed(job, error)
        return await self._completed(job, key, result)

    async def _keep_lease(
        self, job: ReportJob, lease: _Lease, scope: anyio.CancelScope
    ) -> None:
        interval = self.config.lease.total_seconds() / 3
        while True:
            await anyio.sleep(interval)
            now = self._now()
            try:
                held: bool | None = await self._queue.renew(
                    job, self.worker_id, until=now + self.config.lease
                )
            except Exception as exc:
                logger.warning(
                    "lease renewal failed job=%s: %s", job.job_id, type(exc).__name__
                )
                held = None
            if held:
                lease.expires_at = now + self.config.lease
            elif held is False or now >= lease.expires_at:
                lease.lost = True
                scope.cancel()
                return

    async def _completed(
        self, job: ReportJob, key: str, result: ExportResult
    ) -> JobOutcome:
        now = self._now()
        artifact = StoredArtifact(
            job_id=job.job_id,
            format=job.format,
            storage_key=key,
            content_type=result.content_type,
            size=result.bytes,
            created_at=now,
            expires_at=now + self.config.retention,
        )
        if not await self._queue.complete(job, self.worker_id, artifact, now=now):
            return await self._lost(job, key)
        logger.info(
            "report job completed tenant=%s job=%s rows=%d bytes=%d worker=%s",
            job.tenant_id,
            job.job_id,
            result.rows,
            result.bytes,
            self.worker_id,
        )
        return "completed"

    async def _failed(self, job: ReportJob, error: Exception | None) -> JobOutcome:
        now = self._now()
        final = job.attempts >= self.config.max_attempts
        retry_at = None if final else now + self.config.retry_delay
        message = _describe(error)
        if isinstance(error, SseaError) or error is None:
            logger.warning(
                "report job attempt failed tenant=%s job=%s attempt=%d: %s",
                job.tenant_id,
                job.job_id,
                job.attempts,
                message,
            )
        else:
            logger.error(
                "report job attempt failed tenant=%s job=%s attempt=%d",
                job.tenant_id,
                job.job_id,
                job.attempts,
                exc_info=error,
            )
        held = await self._queue.fail(
            job, self.worker_id, message, now=now, retry_at=retry_at
        )
        if not held:
            return "lost"
        if final:
            logger.info("report job failed tenant=%s job=%s", job.tenant_id, job.job_id)
        return "failed" if final else "retry"

    async def _lost(self, job: ReportJob, written_key: str | None) -> JobOutcome:
        logger.warning(
            "report job lease lost tenant=%s job=%s attempt=%d worker=%s",
            job.tenant_id,
            job.job_id,
            job.attempts,
            self.worker_id,
        )
        if written_key is not None:
            with anyio.CancelScope(shield=True):
                await self._artifacts.delete(job.tenant_id, written_key)
        return "lost"

    async def _release(self, job: ReportJob) -> None:
        try:
            await self._queue.release(job, self.worker_id)
        except Exception as exc:  # its lease runs out and another worker takes it
            logger.warning(
                "could not release job=%s: %s", job.job_id, type(exc).__name__
            )
        else:
            logger.info("report job released job=%s", job.job_id)

    # -- retention ---------------------------------------------------------------

    async def sweep(self) -> SweepSummary:
        """Expire artifacts whose retention ended (files deleted) and drop stale
        ``.part`` files."""
        now = self._now()
        expired = 0
        while True:
            due = await self._queue.due_artifacts(now=now, limit=SWEEP_BATCH)
            for job, artifact in due:
                await self._delete_files(job, artifact)
                await self._queue.mark_expired(job, artifact, now=now)
                expired += 1
            if len(due) < SWEEP_BATCH:
                break
        partial = await self._artifacts.sweep_partial(now - self.config.part_max_age)
        if expired or partial:
            logger.info(
                "report sweep expired=%d partial=%d worker=%s",
                expired,
                partial,
                self.worker_id,
            )
        return SweepSummary(expired, partial)

    async def _delete_files(self, job: ReportJob, artifact: StoredArtifact) -> None:
        keys = {artifact.storage_key}
        for attempt in range(1, job.attempts + 1):
            keys.add(
                artifact_key(
                    job.job_id, job.request.report_type, job.format, attempt=attempt
                )
            )
        for key in sorted(keys):
            await self._artifacts.delete(job.tenant_id, key)


def _describe(error: Exception | None) -> str:
    """A message safe to show the job's owner; details stay in the log."""
    if isinstance(error, SseaError):
        message = error.message
    elif error is None:
        message = "The report produced no result."
    else:
        message = (
            f"The report could not be built ({type(error).__name__}); "
            "the service log has the details."
        )
    return message[:MAX_ERROR_LENGTH]


async def run_worker(
    services: Services,
    *,
    worker_id: str | None = None,
    poll_interval: float | None = None,
    stop_event: anyio.Event | None = None,
    sources: SourceFactory | None = None,
) -> None:
    """Run one report worker until ``stop_event`` is set (or the task is cancelled).

    Settings come from ``services.settings``; ``poll_interval`` overrides the
    setting. Raises :class:`ArtifactStoreMissingError` when ``services`` has no
    artifact store.
    """
    config = WorkerConfig.from_settings(services.settings)
    if poll_interval is not None:
        config = replace(config, poll_interval=poll_interval)
    worker = ReportWorker(services, worker_id=worker_id, config=config, sources=sources)
    await worker.run(stop_event)
