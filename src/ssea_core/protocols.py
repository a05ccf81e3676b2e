"""The seams the core depends on; ``ssea_storage`` ships SQL implementations.

A :class:`Store` hands out one :class:`TenantRepository` per tenant, and every
statement such a repository runs is bound to that tenant. The few calls that must look
across tenants (create a tenant, resolve an API key) live on the separate
:class:`OperatorRepository`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel

from ssea_core.auth.records import TenantAuth
from ssea_core.auth.repository import AccessRepository
from ssea_core.auth.scope import Scope
from ssea_core.branding import Branding
from ssea_core.ingest.events import PreparedEvent
from ssea_core.ingest.sessions import SessionPolicy
from ssea_core.metrics.repository import AnalyticsRepository
from ssea_core.monitors import MonitorRepository
from ssea_core.records import ApiKeyRecord, IngestResult, Plan, SyncResult, TenantRecord
from ssea_core.reports.export import ReportSource
from ssea_core.reports.jobs import ReportJobQueue, ReportJobRepository
from ssea_core.risk.repository import RiskQueue, RiskRepository


class OperatorRepository(Protocol):
    """Cross-tenant calls, for operators and for resolving credentials."""

    async def create_tenant(
        self, name: str, plan: Plan, *, now: datetime, timezone: str = "UTC"
    ) -> TenantRecord: ...

    async def get_tenant(self, tenant_id: UUID) -> TenantRecord | None: ...

    async def list_tenants(self) -> list[TenantRecord]: ...

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...

    async def tenant_auth(self, tenant_id: UUID, *, now: datetime) -> TenantAuth | None:
        """A tenant's decrypted verification material; None for no such tenant."""
        ...

    async def branding_by_domain(self, domain: str) -> Branding | None:
        """The branding of the active tenant whose custom domain this is."""
        ...

    async def ping(self) -> None:
        """Raise when the store cannot be reached."""
        ...


class TenantRepository(Protocol):
    """Everything stored for one tenant; no method reaches another tenant."""

    @property
    def tenant_id(self) -> UUID: ...

    async def create_api_key(
        self,
        *,
        key_hash: str,
        prefix: str,
        name: str,
        now: datetime,
        expires_at: datetime | None,
    ) -> ApiKeyRecord: ...

    async def list_api_keys(self) -> list[ApiKeyRecord]: ...

    async def revoke_api_key(self, key_id: str, *, now: datetime) -> bool:
        """Revoke a key of this tenant; False when it has no such key."""
        ...

    async def touch_api_key(self, key_id: str, *, now: datetime) -> None: ...

    async def ingest_events(
        self,
        events: Sequence[PreparedEvent],
        *,
        policy: SessionPolicy,
        daily_cap: int | None,
        now: datetime,
    ) -> IngestResult:
        """Store new events, sessions and rollups in one transaction.

        Events already stored are reported as duplicates and change nothing; new events
        beyond the day's remaining cap are reported as over the cap and not stored.
        """
        ...

    async def sync(
        self, entity: str, items: Sequence[BaseModel], *, now: datetime
    ) -> SyncResult:
        """Upsert or delete catalogue rows of one entity in one transaction."""
        ...

    def analytics(self, scope: Scope) -> AnalyticsRepository:
        """The dashboard reads of this tenant, narrowed to ``scope``."""
        ...

    def access(self) -> AccessRepository:
        """Enrolment lookups, SSO ids, viewer audit and secrets of this tenant."""
        ...

    def risk(self) -> RiskRepository:
        """Risk scores, acknowledgements and alerts of this tenant (SPEC §6)."""
        ...

    async def get_branding(self) -> Branding:
        """The tenant's branding (fields unset are None)."""
        ...

    async def update_branding(self, changes: Mapping[str, str | None]) -> Branding:
        """Set the named branding fields; ``ConflictError`` for a domain in use."""
        ...

    def reports(self) -> ReportSource:
        """The rows of each report type for this tenant."""
        ...

    def report_jobs(self) -> ReportJobRepository:
        """This tenant's report jobs and artifact rows."""
        ...

    def monitors(self) -> MonitorRepository:
        """This tenant's monitors and their counts."""
        ...


class Store(Protocol):
    """A data store: the operator repository and one repository per tenant."""

    @property
    def operator(self) -> OperatorRepository: ...

    def risk_queue(self) -> RiskQueue:
        """The tenants waiting for a risk recompute (across tenants)."""
        ...

    def for_tenant(self, tenant_id: UUID) -> TenantRepository: ...

    def report_queue(self) -> ReportJobQueue:
        """The report job queue workers take jobs from (across tenants)."""
        ...

    async def aclose(self) -> None: ...
