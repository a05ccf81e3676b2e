"""Declared shapes of the API that no handler model carries, for the OpenAPI document.

Dashboard reads answer pydantic models (``ssea_core.metrics.results``,
``ssea_core.risk.answers``); the other handlers build their JSON as dicts, and their
path parameters are plain text. The models here describe those: path parameters,
answers, the error envelope of SPEC §9, and two request bodies whose items the
service validates one by one after the body itself (a bad item is skipped, not a
422). Answers forbid unknown fields, so a handler that answers a field its model
lacks fails the conformance tests instead of going undocumented.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ssea_core.ingest.models import (
    MAX_BATCH,
    CompletionItem,
    CourseItem,
    EnrolmentItem,
    EventIn,
    GradeItem,
    ModuleItem,
    SyncEntity,
    UserItem,
)
from ssea_core.monitors import MonitorTarget
from ssea_core.reports.definitions import ReportFormat, ReportType
from ssea_core.reports.jobs import JobStatus

#: An id in a path: a Moodle id, a job, alert or monitor id.
PathId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- path parameters ------------------------------------------------------------------


class TenantPath(_Shape):
    """``/v1/tenants/{tenant_id}/…``: the tenant whose data is asked for."""

    tenant_id: UUID


class UserPath(TenantPath):
    user_id: PathId


class CoursePath(TenantPath):
    course_id: PathId


class AlertPath(TenantPath):
    alert_id: PathId


class JobPath(TenantPath):
    job_id: PathId


class MonitorPath(TenantPath):
    monitor_id: PathId


class ViewerPath(TenantPath):
    """A viewer path names a Moodle user: the student, or the calling teacher."""

    moodle_user_id: PathId


class SyncPath(_Shape):
    entity: SyncEntity


class ArtifactPath(_Shape):
    """A local download link: the tenant and the artifact's key (may hold ``/``)."""

    tenant_id: UUID
    key: Annotated[str, StringConstraints(min_length=1)]


class ArtifactLinkQuery(_Shape):
    """The signature of a local download link, as ``ssea`` handed it out."""

    model_config = ConfigDict(extra="ignore")

    expires: str = Field(description="Unix seconds after which the link is refused.")
    signature: str = Field(description="Hex HMAC of the tenant, key and expiry.")


# -- request bodies described item by item ------------------------------------------


class EventBatchBody(_Shape):
    """``{"events": [...]}``: 1 to 500 events; an invalid one is skipped and
    reported in ``errors``, never fails the batch (SPEC §2)."""

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class SyncBatchBody(_Shape):
    """``{"items": [...]}``: 1 to 500 items of the path's entity; an invalid item is
    skipped and reported in ``errors``."""

    items: list[
        UserItem | CourseItem | ModuleItem | EnrolmentItem | GradeItem | CompletionItem
    ] = Field(min_length=1, max_length=MAX_BATCH)


# -- answers --------------------------------------------------------------------------


class ErrorAnswer(_Shape):
    """Every error (SPEC §9); ``details`` lists the failing fields of a 422."""

    ok: Literal[False]
    error: str
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]
    details: list[dict[str, Any]] | None = None


class Ok(_Shape):
    """A write that answers nothing more: ``{"ok": true}``."""

    ok: Literal[True]


class HealthData(_Shape):
    status: Literal["ok"]


class HealthAnswer(Ok):
    data: HealthData


class SkippedItem(_Shape):
    """An item of a batch that was not stored: its index, a code and why."""

    index: int
    code: str
    error: str


class EventAcceptedData(_Shape):
    queued: int
    event_id: str
    #: Only when the event was stored before (ingestion is idempotent).
    duplicate: bool | None = None


class EventAccepted(Ok):
    data: EventAcceptedData


class BatchAcceptedData(_Shape):
    queued: int
    skipped: int
    duplicates: int
    errors: list[SkippedItem]


class BatchAccepted(Ok):
    data: BatchAcceptedData


class SyncAcceptedData(_Shape):
    queued: int
    skipped: int
    upserted: int
    deleted: int
    errors: list[SkippedItem]


class SyncAccepted(Ok):
    data: SyncAcceptedData


class SessionData(_Shape):
    token: str
    tenant_id: UUID
    expires_at: datetime


class SessionAnswer(Ok):
    """``POST /v1/auth/sso``: the session JWT and when it expires."""

    data: SessionData


class PublicBranding(_Shape):
    """What ``GET /v1/branding`` shows anyone; unset fields are null."""

    logo_url: str | None
    primary_color: str | None
    product_name: str | None


class TenantBranding(PublicBranding):
    """The tenant's own branding: the public fields and the custom domain."""

    custom_domain: str | None


class BrandingUpdated(Ok):
    data: TenantBranding


class AcknowledgedData(_Shape):
    acknowledged: int


class AcknowledgedAll(Ok):
    """How many pending alerts were acknowledged."""

    data: AcknowledgedData


class JobCreated(_Shape):
    """``202`` of ``POST …/reports/jobs`` (the seed page's shape)."""

    job_id: str
    status: JobStatus
    requested_at: datetime


class JobParams(_Shape):
    """The job's parameters, dates fixed when it was created; unset ones absent."""

    date_from: date | None = None
    date_to: date | None = None
    max_weeks: int | None = None
    course_id: str | None = None


class ArtifactLink(_Shape):
    format: ReportFormat
    url: str
    expires_at: datetime


class JobAnswer(_Shape):
    """A report job; ``failed_at`` and ``error`` only when it failed."""

    job_id: str
    report_type: ReportType
    format: ReportFormat
    params: JobParams
    status: JobStatus
    requested_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    attempts: int
    failed_at: datetime | None = None
    error: str | None = None


class JobDetail(JobAnswer):
    """One job: with the links of its artifact once completed (none expired)."""

    artifacts: list[ArtifactLink]


class MonitorAnswer(_Shape):
    """A monitor with its current counts, inside the reader's scope."""

    monitor_id: str
    name: str
    target: MonitorTarget
    filters: dict[str, Any]
    created_by: str
    created_at: datetime
    match_count: int
    at_risk_count: int


class MonitorCreated(Ok):
    data: MonitorAnswer


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document (``GET /openapi.json``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
