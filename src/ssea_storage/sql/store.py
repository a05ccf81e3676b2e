"""SQL implementations of the core's repository protocols (SQLite, PostgreSQL)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, and_, select, text, update
from sqlalchemy.exc import IntegrityError

from ssea_core.auth.records import TenantAuth
from ssea_core.auth.scope import Scope
from ssea_core.branding import Branding
from ssea_core.errors import ConflictError, NotFoundError
from ssea_core.ingest.events import PreparedEvent
from ssea_core.ingest.sessions import SessionPolicy
from ssea_core.records import (
    ApiKeyRecord,
    IngestResult,
    Plan,
    SyncResult,
    TenantRecord,
)
from ssea_storage.secrets import SecretBox, new_secret
from ssea_storage.sql.access import SqlAccessRepository, load_tenant_auth
from ssea_storage.sql.catalogue import sync_items
from ssea_storage.sql.executor import SqlExecutor, make_engine
from ssea_storage.sql.jobs import SqlReportJobs, SqlReportQueue
from ssea_storage.sql.monitors import SqlMonitors
from ssea_storage.sql.reads import SqlAnalyticsRepository
from ssea_storage.sql.reports import SqlReportQueries
from ssea_storage.sql.risk import SqlRiskQueue, SqlRiskRepository
from ssea_storage.sql.schema import api_keys, tenants
from ssea_storage.sql.writes import EventWriter, mark_risk_pending

logger = logging.getLogger(__name__)


def _tenant(row: Any) -> TenantRecord:
    return TenantRecord(
        tenant_id=row.tenant_id,
        name=row.name,
        plan=row.plan,
        active=row.active,
        created_at=row.created_at,
        timezone=row.timezone,
        custom_domain=row.custom_domain,
    )


def _branding(row: Any) -> Branding:
    return Branding(
        tenant_id=row.tenant_id,
        logo_url=row.logo_url,
        primary_color=row.primary_color,
        product_name=row.product_name,
        custom_domain=row.custom_domain,
    )


BRANDING_FIELDS = ("logo_url", "primary_color", "product_name", "custom_domain")


def _api_key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row.key_id,
        tenant_id=row.tenant_id,
        name=row.name,
        prefix=row.prefix,
        active=row.active,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class SqlOperatorRepository:
    """The cross-tenant calls: tenants and key resolution."""

    def __init__(self, executor: SqlExecutor, box: SecretBox) -> None:
        self._executor = executor
        self._box = box

    async def create_tenant(
        self, name: str, plan: Plan, *, now: datetime, timezone: str = "UTC"
    ) -> TenantRecord:
        tenant_id = uuid4()
        row = {
            "tenant_id": tenant_id,
            "name": name,
            "plan": plan,
            "active": True,
            "timezone": timezone,
            "settings": {},
            "sso_secret": self._box.seal(new_secret()),
            "viewer_secret": self._box.seal(new_secret()),
            "created_at": now,
        }

        def work(connection: Connection) -> None:
            connection.execute(tenants.insert().values(**row))

        await self._executor.run(work, write=True)
        logger.info("tenant created tenant=%s plan=%s", tenant_id, plan)
        return TenantRecord(tenant_id, name, plan, True, now, timezone)

    async def get_tenant(self, tenant_id: UUID) -> TenantRecord | None:
        def work(connection: Connection) -> TenantRecord | None:
            row = connection.execute(
                select(tenants).where(tenants.c.tenant_id == tenant_id)
            ).first()
            return _tenant(row) if row is not None else None

        return await self._executor.run(work)

    async def list_tenants(self) -> list[TenantRecord]:
        def work(connection: Connection) -> list[TenantRecord]:
            rows = connection.execute(select(tenants).order_by(tenants.c.created_at))
            return [_tenant(row) for row in rows]

        return await self._executor.run(work)

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        def work(connection: Connection) -> ApiKeyRecord | None:
            row = connection.execute(
                select(api_keys).where(api_keys.c.key_hash == key_hash)
            ).first()
            if row is None:
                return None
            return replace(_api_key(row), key_hash=row.key_hash)

        return await self._executor.run(work)

    async def tenant_auth(self, tenant_id: UUID, *, now: datetime) -> TenantAuth | None:
        def work(connection: Connection) -> TenantAuth | None:
            return load_tenant_auth(connection, self._box, tenant_id, now)

        return await self._executor.run(work)

    async def branding_by_domain(self, domain: str) -> Branding | None:
        query = select(tenants).where(
            tenants.c.custom_domain == domain.lower(), tenants.c.active.is_(True)
        )

        def work(connection: Connection) -> Branding | None:
            row = connection.execute(query).first()
            return _branding(row) if row is not None else None

        return await self._executor.run(work)

    async def ping(self) -> None:
        await self._executor.run(
            lambda connection: connection.execute(text("SELECT 1"))
        )


class SqlTenantRepository:
    """Everything stored for one tenant; each statement binds ``tenant_id``."""

    def __init__(self, executor: SqlExecutor, box: SecretBox, tenant_id: UUID) -> None:
        self._executor = executor
        self._box = box
        self._tenant_id = tenant_id

    @property
    def tenant_id(self) -> UUID:
        return self._tenant_id

    async def create_api_key(
        self,
        *,
        key_hash: str,
        prefix: str,
        name: str,
        now: datetime,
        expires_at: datetime | None,
    ) -> ApiKeyRecord:
        key_id = "key_" + secrets.token_hex(8)
        row = {
            "key_id": key_id,
            "tenant_id": self._tenant_id,
            "name": name,
            "prefix": prefix,
            "key_hash": key_hash,
            "active": True,
            "created_at": now,
            "expires_at": expires_at,
        }

        def work(connection: Connection) -> None:
            connection.execute(api_keys.insert().values(**row))

        await self._executor.run(work, write=True)
        logger.info("api key created tenant=%s key_id=%s", self._tenant_id, key_id)
        return ApiKeyRecord(
            key_id=key_id,
            tenant_id=self._tenant_id,
            name=name,
            prefix=prefix,
            active=True,
            created_at=now,
            expires_at=expires_at,
        )

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        def work(connection: Connection) -> list[ApiKeyRecord]:
            rows = connection.execute(
                select(api_keys)
                .where(api_keys.c.tenant_id == self._tenant_id)
                .order_by(api_keys.c.created_at)
            )
            return [_api_key(row) for row in rows]

        return await self._executor.run(work)

    async def revoke_api_key(self, key_id: str, *, now: datetime) -> bool:
        def work(connection: Connection) -> bool:
            mine = and_(
                api_keys.c.tenant_id == self._tenant_id, api_keys.c.key_id == key_id
            )
            # Revoking again keeps the first revocation time.
            connection.execute(
                update(api_keys)
                .where(mine, api_keys.c.revoked_at.is_(None))
                .values(active=False, revoked_at=now)
            )
            found = connection.execute(select(api_keys.c.key_id).where(mine)).first()
            return found is not None

        revoked = await self._executor.run(work, write=True)
        if revoked:
            logger.info("api key revoked tenant=%s key_id=%s", self._tenant_id, key_id)
        return revoked

    async def touch_api_key(self, key_id: str, *, now: datetime) -> None:
        def work(connection: Connection) -> None:
            connection.execute(
                update(api_keys)
                .where(
                    api_keys.c.tenant_id == self._tenant_id,
                    api_keys.c.key_id == key_id,
                )
                .values(last_used_at=now)
            )

        await self._executor.run(work, write=True)

    async def ingest_events(
        self,
        events: Sequence[PreparedEvent],
        *,
        policy: SessionPolicy,
        daily_cap: int | None,
        now: datetime,
    ) -> IngestResult:
        def work(connection: Connection) -> IngestResult:
            writer = EventWriter(connection, self._tenant_id, policy)
            return writer.write(events, daily_cap=daily_cap, now=now)

        return await self._executor.run(work, write=True)

    async def sync(
        self, entity: str, items: Sequence[BaseModel], *, now: datetime
    ) -> SyncResult:
        def work(connection: Connection) -> SyncResult:
            result = sync_items(connection, self._tenant_id, entity, items, now)
            mark_risk_pending(connection, self._tenant_id, now)  # the catalogue moved
            return result

        return await self._executor.run(work, write=True)

    def analytics(self, scope: Scope) -> SqlAnalyticsRepository:
        """The dashboard reads of this tenant, narrowed to ``scope``."""
        return SqlAnalyticsRepository(self._executor, self._tenant_id, scope)

    def access(self) -> SqlAccessRepository:
        """Enrolment scopes, SSO ids, viewer audit and secrets of this tenant."""
        return SqlAccessRepository(self._executor, self._box, self._tenant_id)

    def risk(self) -> SqlRiskRepository:
        """Risk scores, acknowledgements and alerts of this tenant."""
        return SqlRiskRepository(self._executor, self._tenant_id)

    def reports(self) -> SqlReportQueries:
        """The rows of each report type for this tenant, streamed."""
        return SqlReportQueries(self._executor, self._tenant_id)

    def report_jobs(self) -> SqlReportJobs:
        """This tenant's report jobs and artifact rows."""
        return SqlReportJobs(self._executor, self._tenant_id)

    def monitors(self) -> SqlMonitors:
        """This tenant's monitors and their counts."""
        return SqlMonitors(self._executor, self._tenant_id)

    async def get_branding(self) -> Branding:
        query = select(tenants).where(tenants.c.tenant_id == self._tenant_id)

        def work(connection: Connection) -> Branding:
            row = connection.execute(query).first()
            if row is None:
                raise NotFoundError(f"No tenant {self._tenant_id}.")
            return _branding(row)

        return await self._executor.run(work)

    async def update_branding(self, changes: Mapping[str, str | None]) -> Branding:
        values = {name: changes[name] for name in BRANDING_FIELDS if name in changes}
        domain = values.get("custom_domain")
        taken = select(tenants.c.tenant_id).where(
            tenants.c.custom_domain == domain,
            tenants.c.tenant_id != self._tenant_id,
        )

        def work(connection: Connection) -> None:
            if domain is not None and connection.execute(taken).first() is not None:
                raise ConflictError(
                    f"The custom domain {domain} belongs to another tenant."
                )
            if values:
                connection.execute(
                    update(tenants)
                    .where(tenants.c.tenant_id == self._tenant_id)
                    .values(**values)
                )

        try:
            await self._executor.run(work, write=True)
        except IntegrityError as exc:  # a concurrent claim of the same domain
            raise ConflictError(
                f"The custom domain {domain} belongs to another tenant."
            ) from exc
        logger.info(
            "branding updated tenant=%s fields=%s", self._tenant_id, sorted(values)
        )
        return await self.get_branding()


class SqlStore:
    """A :class:`ssea_core.protocols.Store` over one SQLAlchemy engine."""

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        self.engine = engine
        self.executor = SqlExecutor(engine)
        self._box = box
        self._operator = SqlOperatorRepository(self.executor, box)

    @classmethod
    def from_url(cls, url: str, *, master_key: str | bytes) -> SqlStore:
        return cls(make_engine(url), SecretBox(master_key))

    @property
    def operator(self) -> SqlOperatorRepository:
        return self._operator

    def risk_queue(self) -> SqlRiskQueue:
        """The tenants waiting for a risk recompute, for the scheduler."""
        return SqlRiskQueue(self.executor)

    def for_tenant(self, tenant_id: UUID) -> SqlTenantRepository:
        return SqlTenantRepository(self.executor, self._box, tenant_id)

    def report_queue(self) -> SqlReportQueue:
        """The report job queue of every tenant, for workers."""
        return SqlReportQueue(self.executor)

    def create_schema(self) -> None:
        """Create every table directly (tests, examples); services use migrations."""
        from ssea_storage.sql.schema import metadata

        metadata.create_all(self.engine)

    async def aclose(self) -> None:
        await self.executor.aclose()
