"""Who is calling: the result of authenticating a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

Role = Literal["admin", "manager", "teacher", "student"]
CredentialKind = Literal["api_key", "session", "viewer"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, bound to exactly one tenant."""

    tenant_id: UUID
    role: Role
    credential: CredentialKind
    credential_id: str
    moodle_user_id: str | None = None
    course_ids: frozenset[str] | None = None
