"""SQL side of authentication: tenant secrets, enrolment scopes, SSO ids, audit.

Invariants:
- Secrets leave storage only decrypted into a ``TenantAuth`` whose ``repr`` hides them;
  a previous secret is handed out only until its grace period ends.
- Every tenant-bound statement binds the repository's tenant.
- An SSO ``jti`` is inserted under the primary key (tenant, jti), so two concurrent
  exchanges of one token cannot both succeed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, delete, exists, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from ssea_core.auth.records import (
    PublicKeyAlgorithm,
    SecretKind,
    TenantAuth,
    ViewerAccess,
)
from ssea_core.errors import NotFoundError
from ssea_storage.secrets import SecretBox, new_secret
from ssea_storage.sql.executor import SqlExecutor
from ssea_storage.sql.schema import enrolments, sso_jtis, tenants, viewer_audit

logger = logging.getLogger(__name__)

TEACHING_ROLES = ("teacher", "editingteacher")
STUDENT_ROLE = "student"
_ID_CHARS = 64


def load_tenant_auth(
    connection: Connection, box: SecretBox, tenant_id: UUID, now: datetime
) -> TenantAuth | None:
    """The decrypted verification material of one tenant, as of ``now``."""
    row = connection.execute(
        select(tenants).where(tenants.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        return None
    return TenantAuth(
        tenant_id=row.tenant_id,
        active=row.active,
        sso_secrets=_secrets(box, row, "sso", now),
        viewer_secrets=_secrets(box, row, "viewer", now),
        sso_public_key=row.sso_public_key,
        sso_key_algorithm=row.sso_key_algorithm,
        moodle_origin=row.moodle_origin,
    )


def _secrets(
    box: SecretBox, row: Any, kind: SecretKind, now: datetime
) -> tuple[bytes, ...]:
    current = getattr(row, f"{kind}_secret")
    previous = getattr(row, f"{kind}_secret_previous")
    until = getattr(row, f"{kind}_secret_previous_until")
    found = [box.open(current)] if current is not None else []
    if previous is not None and until is not None and until > now:
        found.append(box.open(previous))
    return tuple(found)


class SqlAccessRepository:
    """:class:`ssea_core.auth.repository.AccessRepository` over SQL; one tenant."""

    def __init__(self, executor: SqlExecutor, box: SecretBox, tenant_id: UUID) -> None:
        self._executor = executor
        self._box = box
        self._tenant_id = tenant_id

    async def teacher_courses(
        self, moodle_user_id: str, *, now: datetime
    ) -> frozenset[str]:
        query = select(enrolments.c.course_id).where(
            enrolments.c.tenant_id == self._tenant_id,
            enrolments.c.user_id == moodle_user_id,
            enrolments.c.role.in_(TEACHING_ROLES),
            enrolments.c.status == "active",
            or_(enrolments.c.time_start.is_(None), enrolments.c.time_start <= now),
            or_(enrolments.c.time_end.is_(None), enrolments.c.time_end > now),
        )

        def work(connection: Connection) -> frozenset[str]:
            return frozenset(connection.execute(query).scalars())

        return await self._executor.run(work)

    async def is_student_in(self, user_id: str, course_ids: Collection[str]) -> bool:
        query = select(
            exists(
                select(literal(1)).where(
                    enrolments.c.tenant_id == self._tenant_id,
                    enrolments.c.user_id == user_id,
                    enrolments.c.role == STUDENT_ROLE,
                    enrolments.c.course_id.in_(sorted(course_ids)),
                )
            )
        )

        def work(connection: Connection) -> bool:
            return bool(connection.execute(query).scalar_one())

        return await self._executor.run(work)

    async def use_jti(self, jti: str, *, expires_at: datetime, now: datetime) -> bool:
        mine = sso_jtis.c.tenant_id == self._tenant_id

        def work(connection: Connection) -> bool:
            connection.execute(
                delete(sso_jtis).where(mine, sso_jtis.c.expires_at <= now)
            )
            seen = connection.execute(
                select(sso_jtis.c.jti).where(mine, sso_jtis.c.jti == jti)
            ).first()
            if seen is not None:
                return False
            connection.execute(
                sso_jtis.insert().values(
                    tenant_id=self._tenant_id, jti=jti, expires_at=expires_at
                )
            )
            return True

        try:
            return await self._executor.run(work, write=True)
        except IntegrityError:
            return False  # a concurrent exchange of the same token won

    async def record_viewer_access(self, access: ViewerAccess) -> None:
        row = {
            "tenant_id": self._tenant_id,
            "audit_id": "vau_" + secrets.token_hex(12),
            "at": access.at,
            "role": access.role,
            "moodle_user_id": _clip(access.moodle_user_id),
            "route": access.route[:100],
            "target_id": _clip(access.target_id),
            "status": access.status,
            "outcome": access.outcome[:40],
        }
        known = select(literal(1)).where(tenants.c.tenant_id == self._tenant_id)

        def work(connection: Connection) -> None:
            # A path may name a tenant that does not exist: nothing to audit there.
            if connection.execute(known).first() is not None:
                connection.execute(viewer_audit.insert().values(**row))

        await self._executor.run(work, write=True)

    async def rotate_secret(
        self, kind: SecretKind, *, now: datetime, grace: timedelta
    ) -> bytes:
        fresh = new_secret()
        current = tenants.c[f"{kind}_secret"]
        values = {
            f"{kind}_secret": self._box.seal(fresh),
            f"{kind}_secret_previous": current,
            f"{kind}_secret_previous_until": now + grace,
        }

        def work(connection: Connection) -> int:
            done = connection.execute(
                update(tenants)
                .where(tenants.c.tenant_id == self._tenant_id)
                .values(**values)
            )
            return done.rowcount

        if not await self._executor.run(work, write=True):
            raise NotFoundError(f"No tenant {self._tenant_id}.")
        logger.info("tenant secret rotated tenant=%s kind=%s", self._tenant_id, kind)
        return fresh

    async def set_sso_public_key(
        self, pem: str | None, algorithm: PublicKeyAlgorithm | None
    ) -> None:
        await self._update(sso_public_key=pem, sso_key_algorithm=algorithm)

    async def set_moodle_origin(self, origin: str | None) -> None:
        await self._update(moodle_origin=origin)

    async def _update(self, **values: Any) -> None:
        def work(connection: Connection) -> int:
            return connection.execute(
                update(tenants)
                .where(tenants.c.tenant_id == self._tenant_id)
                .values(**values)
            ).rowcount

        if not await self._executor.run(work, write=True):
            raise NotFoundError(f"No tenant {self._tenant_id}.")


def _clip(value: str | None) -> str | None:
    return value[:_ID_CHARS] if value is not None else None
