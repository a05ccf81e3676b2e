"""What storage hands the authentication layer about a tenant.

Secrets are plaintext here (storage decrypts them) and never appear in a ``repr``, so
a record that ends up in a log line or a traceback shows no secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

SecretKind = Literal["sso", "viewer"]
SECRET_KINDS: tuple[SecretKind, ...] = ("sso", "viewer")
#: Asymmetric algorithms a tenant may choose for the plugin's SSO tokens.
PublicKeyAlgorithm = Literal["RS256", "EdDSA"]
PUBLIC_KEY_ALGORITHMS: tuple[PublicKeyAlgorithm, ...] = ("RS256", "EdDSA")


@dataclass(frozen=True, slots=True)
class TenantAuth:
    """A tenant's verification material, as of one instant.

    ``sso_secrets`` and ``viewer_secrets`` list the current secret first and then the
    previous one while its grace period lasts.
    """

    tenant_id: UUID
    active: bool
    sso_secrets: tuple[bytes, ...] = field(default=(), repr=False)
    viewer_secrets: tuple[bytes, ...] = field(default=(), repr=False)
    sso_public_key: str | None = None
    sso_key_algorithm: PublicKeyAlgorithm | None = None
    moodle_origin: str | None = None


@dataclass(frozen=True, slots=True)
class ViewerAccess:
    """One row of the viewer audit: who asked for what, and what they got.

    ``role`` and ``moodle_user_id`` are those of a verified context, else None;
    ``outcome`` is ``allowed`` or the error code of the answer.
    """

    at: datetime
    route: str
    status: int
    outcome: str
    role: str | None = None
    moodle_user_id: str | None = None
    target_id: str | None = None
