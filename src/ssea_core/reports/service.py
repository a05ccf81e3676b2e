"""What the report routes and the CLI share: creating jobs, their answers, downloads.

Invariants:
- A teacher's job names one of the teacher's courses (``params.course_id``); any
  other request of a teacher is a 403 ``OUT_OF_SCOPE`` (the report queries would
  otherwise cover the whole tenant).
- A signed URL never outlives the artifact it points to: its lifetime is the
  configured one, cut at the artifact's expiry.
- A download streams the artifact in chunks; the first chunk is read before the
  answer starts, so a missing artifact is still a clean error.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from ssea_core.artifacts import ArtifactStore
from ssea_core.auth.scope import Scope
from ssea_core.errors import OutOfScopeError
from ssea_core.reports.jobs import (
    ArtifactExpiredError,
    ReportFailedError,
    ReportJob,
    ReportNotReadyError,
    StoredArtifact,
    new_job_id,
)
from ssea_core.reports.params import ReportRequest

logger = logging.getLogger(__name__)

DownloadMode = Literal["redirect", "inline"]


def check_request_scope(request: ReportRequest, scope: Scope) -> None:
    """Raise 403 ``OUT_OF_SCOPE`` unless the scope may ask for this report."""
    if scope.course_ids is None:
        return
    if request.course_id is None:
        raise OutOfScopeError(
            "A teacher's report must name one of their courses in params.course_id."
        )
    if request.course_id not in scope.course_ids:
        raise OutOfScopeError("params.course_id is not one of the caller's courses.")


def new_job(
    tenant_id: UUID, request: ReportRequest, requested_by: str, now: datetime
) -> ReportJob:
    """A fresh ``pending`` job for ``request``."""
    return ReportJob(
        tenant_id=tenant_id,
        job_id=new_job_id(),
        request=request,
        status="pending",
        requested_at=now,
        requested_by=requested_by,
    )


def created_answer(job: ReportJob) -> dict[str, Any]:
    """The 202 answer of ``POST …/reports/jobs`` (the seed page's shape)."""
    return {
        "job_id": job.job_id,
        "status": job.status,
        "requested_at": job.requested_at,
    }


def job_answer(
    job: ReportJob, artifacts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A job as the API shows it; ``artifacts`` only in the answer about one job."""
    request = job.request
    params = request.model_dump(
        mode="json", exclude={"report_type", "format", "as_of"}, exclude_none=True
    )
    answer: dict[str, Any] = {
        "job_id": job.job_id,
        "report_type": request.report_type,
        "format": request.format,
        "params": params,
        "status": job.status,
        "requested_at": job.requested_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at if job.status != "failed" else None,
        "attempts": job.attempts,
    }
    if job.status == "failed":
        answer["failed_at"] = job.completed_at
        answer["error"] = job.error
    if artifacts is not None:
        answer["artifacts"] = artifacts
    return answer


@dataclass(frozen=True, slots=True)
class ArtifactLink:
    """Where to fetch an artifact: a signed URL, or the authenticated download."""

    url: str
    expires_at: datetime
    signed: bool


def link_lifetime(
    artifact: StoredArtifact, ttl_seconds: int, now: datetime
) -> timedelta:
    """The configured URL lifetime, cut at the artifact's expiry; 410 when past."""
    left = artifact.expires_at - now
    if artifact.expired or left < timedelta(seconds=1):
        raise ArtifactExpiredError
    return min(timedelta(seconds=ttl_seconds), left)


async def artifact_link(
    store: ArtifactStore,
    tenant_id: UUID,
    artifact: StoredArtifact,
    *,
    now: datetime,
    ttl_seconds: int,
    mode: DownloadMode,
    download_url: str,
) -> ArtifactLink:
    """A signed URL when the store signs and ``mode`` is ``redirect``; otherwise
    ``download_url`` (the job's authenticated download) until the artifact expires.
    """
    lifetime = link_lifetime(artifact, ttl_seconds, now)
    if mode == "redirect":
        signed = await store.signed_url(tenant_id, artifact.storage_key, lifetime)
        if signed is not None:
            return ArtifactLink(signed.url, signed.expires_at, True)
    return ArtifactLink(download_url, artifact.expires_at, False)


def check_downloadable(job: ReportJob) -> None:
    """Raise unless the job has a current artifact: 409 before it completes or
    after it failed, 410 once expired."""
    if job.status == "completed":
        return
    if job.status == "expired":
        raise ArtifactExpiredError
    if job.status == "failed":
        raise ReportFailedError(f"The report failed: {job.error or 'unknown error'}.")
    raise ReportNotReadyError(
        f"The report is {job.status}; poll the job until it is completed."
    )


def download_headers(artifact: StoredArtifact) -> dict[str, str]:
    """Content type, length and an attachment file name for an inline download:
    ``{report_type}-{job_id}.{format}``."""
    stem = artifact.storage_key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    name = f"{stem}-{artifact.job_id}.{artifact.format}"
    return {
        "content-type": artifact.content_type,
        "content-length": str(artifact.size),
        "content-disposition": f'attachment; filename="{name}"',
    }


async def open_artifact(
    store: ArtifactStore, tenant_id: UUID, key: str
) -> AsyncIterator[bytes]:
    """The artifact's chunks, with the first one already read: a missing artifact
    raises here, before any answer has started."""
    chunks = store.read(tenant_id, key)
    try:
        first = await anext(chunks, b"")
    except BaseException:
        await _close(chunks)
        raise
    return _resumed(first, chunks)


async def _resumed(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await _close(rest)


async def _close(chunks: AsyncIterator[bytes]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()
