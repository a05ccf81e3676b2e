"""Durable report jobs (SPEC §7): their states, who sees them, how workers hold them.

Invariants:
- States move ``pending → running → completed | failed``; a completed job becomes
  ``expired`` when its artifact's retention ends and the artifact is deleted. A failed
  attempt sends the job back to ``pending`` until it has used every attempt.
- A worker runs a job only while it holds the job's **lease** (``lease_owner`` and
  ``lease_expires_at``). Taking a job sets both and adds one to ``attempts``; a
  running job whose lease ran out may be taken by another worker. Every write a
  worker makes about its job (renew, complete with its artifact row, fail, release)
  is conditional on still holding the lease, so a job is never completed twice and a
  worker that lost its lease writes nothing.
- A job's artifact key names its attempt (``reports/{job_id}/{attempt}/…``): a worker
  that lost its lease never overwrites the file of the attempt that completed.
- Jobs belong to one tenant. The queue that workers take jobs from is the one part
  that looks across tenants; it lives apart (:class:`ReportJobQueue`), like the
  operator repository.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, get_args
from uuid import UUID

from ssea_core.auth.principal import Principal
from ssea_core.auth.scope import Scope
from ssea_core.errors import ConflictError, MisconfiguredError, SseaError
from ssea_core.metrics.params import PageQuery
from ssea_core.reports.definitions import ReportFormat
from ssea_core.reports.params import ReportRequest

JobStatus = Literal["pending", "running", "completed", "failed", "expired"]
JOB_STATUSES: tuple[JobStatus, ...] = get_args(JobStatus)
#: The longest error message kept with a job (the column's width).
MAX_ERROR_LENGTH = 500


class ReportNotReadyError(ConflictError):
    """A download of a job that has not completed yet (409)."""

    code = "REPORT_NOT_READY"
    default_message = "The report is not ready yet; poll the job until it completes."


class ReportFailedError(ConflictError):
    """A download of a job that failed (409); the job tells why."""

    code = "REPORT_FAILED"
    default_message = "The report failed; its job holds the error."


class ArtifactExpiredError(SseaError):
    """A download after the artifact's retention ended (410 Gone)."""

    status = 410
    code = "ARTIFACT_EXPIRED"
    default_message = "The report's artifact has expired; create a new job."


class ArtifactStoreMissingError(MisconfiguredError):
    """The application was built without an artifact store (503)."""

    code = "ARTIFACT_STORE_MISSING"
    default_message = "No artifact store is configured (SSEA_ARTIFACT_URL)."


def new_job_id() -> str:
    """A fresh job id: ``job_`` and 24 hex digits."""
    return "job_" + secrets.token_hex(12)


def requester(principal: Principal) -> str:
    """Who asked, as kept with a job or monitor: ``user:<moodle id>`` for a person,
    ``api_key:<key id>`` for an integrator, ``session:<jti>`` for a session without
    a Moodle user."""
    if principal.moodle_user_id is not None:
        return f"user:{principal.moodle_user_id}"
    return f"{principal.credential}:{principal.credential_id}"


@dataclass(frozen=True, slots=True)
class ReportJob:
    """One report job as stored."""

    tenant_id: UUID
    job_id: str
    request: ReportRequest
    status: JobStatus
    requested_at: datetime
    requested_by: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None

    @property
    def format(self) -> ReportFormat:
        return self.request.format


@dataclass(frozen=True, slots=True)
class StoredArtifact:
    """The artifact row of a completed job: where its file is, until when."""

    job_id: str
    format: ReportFormat
    storage_key: str
    content_type: str
    size: int
    created_at: datetime
    expires_at: datetime
    expired: bool = False


@dataclass(frozen=True, slots=True)
class JobVisibility:
    """Which of a tenant's jobs a caller sees.

    ``requested_by`` None: every job (admin, manager, API key). A teacher sees the
    jobs they asked for (``requested_by``) about courses they still teach
    (``course_ids``).
    """

    requested_by: str | None = None
    course_ids: frozenset[str] | None = None

    @classmethod
    def of(cls, principal: Principal, scope: Scope) -> JobVisibility:
        """What ``principal`` (already scoped by the policy) may see."""
        if scope.course_ids is None:
            return cls()
        return cls(requested_by=requester(principal), course_ids=scope.course_ids)

    def allows(self, job: ReportJob) -> bool:
        """Whether a job is visible (the same rule the SQL applies)."""
        if self.requested_by is not None and job.requested_by != self.requested_by:
            return False
        if self.course_ids is None:
            return True
        return job.request.course_id in self.course_ids


class JobListQuery(PageQuery):
    """Query of ``GET …/reports/jobs``: ``status``, ``limit``, ``offset``."""

    status: JobStatus | None = None


class ReportJobRepository(Protocol):
    """A tenant's report jobs and their artifact rows."""

    async def create_job(self, job: ReportJob) -> None:
        """Store a new ``pending`` job."""
        ...

    async def get_job(self, job_id: str, visibility: JobVisibility) -> ReportJob | None:
        """The job, or None when there is none the caller may see."""
        ...

    async def list_jobs(
        self, query: JobListQuery, visibility: JobVisibility
    ) -> tuple[list[ReportJob], int]:
        """A page of jobs, newest first, and the total of every page."""
        ...

    async def artifacts(self, job_id: str) -> list[StoredArtifact]:
        """The artifact rows of a job (none until it completes)."""
        ...

    async def find_artifact(self, storage_key: str) -> StoredArtifact | None:
        """The artifact row stored under ``storage_key``, if any."""
        ...


class ReportJobQueue(Protocol):
    """Where workers take jobs from, across tenants; every write checks the lease."""

    async def claim(
        self,
        worker_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        max_attempts: int,
    ) -> ReportJob | None:
        """Take the oldest job that is pending (and due) or whose lease ran out.

        The job becomes ``running`` under ``worker_id`` until ``lease_until``, with
        ``attempts`` one higher. A job whose lease ran out after its last attempt is
        failed instead of taken. None when there is nothing to do.
        """
        ...

    async def renew(self, job: ReportJob, worker_id: str, *, until: datetime) -> bool:
        """Extend the lease; False when ``worker_id`` no longer holds it."""
        ...

    async def complete(
        self, job: ReportJob, worker_id: str, artifact: StoredArtifact, *, now: datetime
    ) -> bool:
        """Mark the job completed and store its artifact row, in one transaction;
        False (and nothing written) when ``worker_id`` no longer holds the lease."""
        ...

    async def fail(
        self,
        job: ReportJob,
        worker_id: str,
        error: str,
        *,
        now: datetime,
        retry_at: datetime | None,
    ) -> bool:
        """Record a failed attempt: back to ``pending`` until ``retry_at``, or
        ``failed`` for good when ``retry_at`` is None. False without the lease."""
        ...

    async def release(self, job: ReportJob, worker_id: str) -> bool:
        """Give the job back unfinished (a worker shutting down): ``pending`` again,
        the attempt not counted. False without the lease."""
        ...

    async def due_artifacts(
        self, *, now: datetime, limit: int
    ) -> Sequence[tuple[ReportJob, StoredArtifact]]:
        """Artifacts whose retention ended and that are not marked expired yet."""
        ...

    async def mark_expired(
        self, job: ReportJob, artifact: StoredArtifact, *, now: datetime
    ) -> None:
        """Mark the artifact expired and its completed job ``expired``."""
        ...
