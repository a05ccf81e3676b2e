"""Report job routes (SPEC §7) and the local signed download route.

Tenant and role checks happen in ``ssea_core.policy``; what a teacher may ask for and
see follows from the scope it granted (``docs/reports.md``). A job or artifact of
another tenant, or another teacher's job, is the same 404 as one that does not exist.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from uuid import UUID

from ssea_core.api.dashboard import page_answer
from ssea_core.api.schemas import (
    ArtifactLinkQuery,
    ArtifactPath,
    JobAnswer,
    JobCreated,
    JobDetail,
    JobPath,
    TenantPath,
)
from ssea_core.artifacts import (
    ArtifactNotFoundError,
    ArtifactStore,
    InvalidDownloadLinkError,
    verify_local_signature,
)
from ssea_core.context import RequestContext
from ssea_core.errors import BadRequestError, NotFoundError
from ssea_core.http import Response
from ssea_core.reports.jobs import (
    ArtifactExpiredError,
    ArtifactStoreMissingError,
    JobListQuery,
    JobVisibility,
    ReportJob,
    ReportJobRepository,
    StoredArtifact,
    requester,
)
from ssea_core.reports.params import ReportJobIn
from ssea_core.reports.service import (
    artifact_link,
    check_downloadable,
    check_request_scope,
    created_answer,
    download_headers,
    job_answer,
    link_lifetime,
    new_job,
    open_artifact,
)
from ssea_core.routing import Answer, AuthMode, Router

logger = logging.getLogger(__name__)

PREFIX = "/v1/tenants/{tenant_id}/reports/jobs"
CREDENTIALS: tuple[AuthMode, ...] = ("api_key", "session")
#: Teachers too, each limited to reports about their own courses.
READERS = ("admin", "manager", "teacher")
TOTAL_HEADER = "X-Total-Count"


def _jobs(ctx: RequestContext) -> ReportJobRepository:
    return ctx.repository().report_jobs()


def _artifact_store(ctx: RequestContext) -> ArtifactStore:
    if ctx.services.artifacts is None:
        raise ArtifactStoreMissingError
    return ctx.services.artifacts


def _visibility(ctx: RequestContext) -> JobVisibility:
    return JobVisibility.of(ctx.caller, ctx.scope)


def _download_url(ctx: RequestContext, job: ReportJob) -> str:
    base = (ctx.services.settings.artifact_public_base_url or "").rstrip("/")
    return f"{base}/v1/tenants/{job.tenant_id}/reports/jobs/{job.job_id}/download"


async def _visible_job(ctx: RequestContext) -> ReportJob:
    job_id = ctx.params["job_id"]
    job = await _jobs(ctx).get_job(job_id, _visibility(ctx))
    if job is None:
        raise NotFoundError(f"No report job {job_id}.")
    return job


async def _current(
    ctx: RequestContext, job: ReportJob
) -> tuple[ReportJob, StoredArtifact | None]:
    """The job with its artifact; a completed job whose artifact's retention ended
    reads as ``expired`` before the sweep gets to it."""
    if job.status != "completed":
        return job, None
    found = await _jobs(ctx).artifacts(job.job_id)
    if not found:
        return job, None
    artifact = found[0]
    if artifact.expired or artifact.expires_at <= ctx.services.clock.now():
        return replace(job, status="expired"), None
    return job, artifact


async def create_job(ctx: RequestContext) -> Response:
    body = ctx.body(ReportJobIn)
    now = ctx.services.clock.now()
    request = body.resolve(now.date())
    check_request_scope(request, ctx.scope)
    job = new_job(ctx.tenant_id, request, requester(ctx.caller), now)
    await _jobs(ctx).create_job(job)
    location = f"/v1/tenants/{job.tenant_id}/reports/jobs/{job.job_id}"
    return Response.json(
        created_answer(job), status=202, headers={"Location": location}
    )


async def list_jobs(ctx: RequestContext) -> Response:
    query = ctx.query(JobListQuery)
    jobs, total = await _jobs(ctx).list_jobs(query, _visibility(ctx))
    payload = [job_answer(job) for job in jobs]
    return Response.json(payload, headers={TOTAL_HEADER: str(total)})


async def get_job(ctx: RequestContext) -> Response:
    job, artifact = await _current(ctx, await _visible_job(ctx))
    links = []
    if artifact is not None:
        settings = ctx.services.settings
        link = await artifact_link(
            _artifact_store(ctx),
            job.tenant_id,
            artifact,
            now=ctx.services.clock.now(),
            ttl_seconds=settings.artifact_url_ttl_seconds,
            mode=settings.report_download_mode,
            download_url=_download_url(ctx, job),
        )
        links.append(
            {"format": artifact.format, "url": link.url, "expires_at": link.expires_at}
        )
    return Response.json(job_answer(job, links))


async def download(ctx: RequestContext) -> Response:
    job, artifact = await _current(ctx, await _visible_job(ctx))
    check_downloadable(job)
    if artifact is None:  # completed without an artifact row: cannot happen
        raise ArtifactNotFoundError
    store, settings = _artifact_store(ctx), ctx.services.settings
    if settings.report_download_mode == "redirect":
        lifetime = link_lifetime(
            artifact, settings.artifact_url_ttl_seconds, ctx.services.clock.now()
        )
        signed = await store.signed_url(job.tenant_id, artifact.storage_key, lifetime)
        if signed is not None:
            return Response(302, headers=[("location", signed.url)])
    chunks = await open_artifact(store, job.tenant_id, artifact.storage_key)
    return Response.streamed(chunks, headers=download_headers(artifact))


async def local_artifact(ctx: RequestContext) -> Response:
    """Serve a local download link: the signature is the credential."""
    settings, request = ctx.services.settings, ctx.request
    secret = settings.artifact_signing_secret
    if secret is None:
        raise NotFoundError("This service hands out no local download links.")
    expires, signature = (
        request.query_value("expires"),
        request.query_value("signature"),
    )
    if not expires or not signature:
        raise BadRequestError("A download link needs its expires and signature.")
    try:
        tenant_id = UUID(ctx.params["tenant_id"])
    except ValueError as exc:
        raise InvalidDownloadLinkError from exc
    key, now = ctx.params["key"], ctx.services.clock.now()
    verify_local_signature(
        secret.get_secret_value(), tenant_id, key, expires, signature, now=now
    )

    tenant = await ctx.services.store.operator.get_tenant(tenant_id)
    if tenant is None or not tenant.active:
        raise ArtifactNotFoundError
    artifact = (
        await ctx.services.store.for_tenant(tenant_id).report_jobs().find_artifact(key)
    )
    if artifact is None:
        raise ArtifactNotFoundError
    if artifact.expired or artifact.expires_at <= now:
        raise ArtifactExpiredError
    chunks = await open_artifact(_artifact_store(ctx), tenant_id, key)
    return Response.streamed(chunks, headers=download_headers(artifact))


def register(router: Router) -> None:
    """Add the report job routes and the public local download route."""
    tags = ("reports",)
    no_job = Answer(404, "No such job the caller may see.")
    files = ("text/csv", "application/json")
    router.add(
        "POST",
        PREFIX,
        create_job,
        auth=CREDENTIALS,
        roles=READERS,
        summary="Create a report job",
        tags=tags,
        path=TenantPath,
        body=ReportJobIn,
        examples=(
            {
                "report_type": "retention_cohort",
                "format": "csv",
                "params": {
                    "date_from": "2026-01-01",
                    "date_to": "2026-03-31",
                    "max_weeks": 12,
                },
            },
        ),
        responses=(
            Answer(202, "The job, pending.", JobCreated, headers=("Location",)),
        ),
    )
    router.add(
        "GET",
        PREFIX,
        list_jobs,
        auth=CREDENTIALS,
        roles=READERS,
        summary="The report jobs, newest first",
        tags=tags,
        path=TenantPath,
        query=JobListQuery,
        responses=(page_answer(JobAnswer, "A page of jobs."),),
    )
    router.add(
        "GET",
        PREFIX + "/{job_id}",
        get_job,
        auth=CREDENTIALS,
        roles=READERS,
        summary="One report job, with its artifact links once completed",
        tags=tags,
        path=JobPath,
        responses=(Answer(200, "The job.", JobDetail), no_job),
    )
    router.add(
        "GET",
        PREFIX + "/{job_id}/download",
        download,
        auth=CREDENTIALS,
        roles=READERS,
        summary="Download a completed job's artifact",
        tags=tags,
        path=JobPath,
        responses=(
            Answer(200, "The artifact, streamed.", media_types=files),
            Answer(302, "Redirect to a signed URL.", headers=("Location",)),
            no_job,
            Answer(409, "The job has not completed, or failed."),
            Answer(410, "The artifact's retention ended."),
        ),
    )
    router.add(
        "GET",
        "/v1/artifacts/{tenant_id}/{key:path}",
        local_artifact,
        auth=("public",),
        summary="A signed local download link (the signature is the credential)",
        tags=tags,
        path=ArtifactPath,
        query=ArtifactLinkQuery,
        responses=(
            Answer(200, "The artifact, streamed.", media_types=files),
            Answer(403, "The signature does not verify, or the link expired."),
            Answer(404, "No such artifact, or no local links are handed out."),
            Answer(410, "The artifact's retention ended."),
        ),
    )
