"""What authentication and the policy need from storage, for one tenant.

An :class:`AccessRepository` is obtained with ``store.for_tenant(tenant_id).access()``;
like every tenant repository, no method reaches another tenant.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Protocol

from ssea_core.auth.records import PublicKeyAlgorithm, SecretKind, ViewerAccess


class AccessRepository(Protocol):
    """Enrolment lookups for scopes, single-use SSO ids, viewer audit, secrets."""

    async def teacher_courses(
        self, moodle_user_id: str, *, now: datetime
    ) -> frozenset[str]:
        """Courses the user teaches now: active ``teacher``/``editingteacher`` rows."""
        ...

    async def is_student_in(self, user_id: str, course_ids: Collection[str]) -> bool:
        """Whether the user is enrolled as a student in one of the courses."""
        ...

    async def use_jti(self, jti: str, *, expires_at: datetime, now: datetime) -> bool:
        """Remember an SSO token id until ``expires_at``; False if already used.

        Ids whose expiry has passed are forgotten on the way.
        """
        ...

    async def record_viewer_access(self, access: ViewerAccess) -> None:
        """Append one row to the tenant's viewer audit."""
        ...

    async def rotate_secret(
        self, kind: SecretKind, *, now: datetime, grace: timedelta
    ) -> bytes:
        """Set a new shared secret and return it; the old one lasts ``grace`` more."""
        ...

    async def set_sso_public_key(
        self, pem: str | None, algorithm: PublicKeyAlgorithm | None
    ) -> None:
        """Verify SSO tokens with this public key (None: with the shared secret)."""
        ...

    async def set_moodle_origin(self, origin: str | None) -> None:
        """The origin allowed to frame the tenant's viewer answers."""
        ...
