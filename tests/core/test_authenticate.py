"""Authentication as decisions over a fake store: which credential, and why refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from ssea_core.auth.api_keys import generate_api_key
from ssea_core.auth.authenticate import authenticate, presented_credentials
from ssea_core.clock import FixedClock
from ssea_core.errors import (
    AmbiguousCredentialError,
    InvalidCredentialError,
    MissingCredentialError,
)
from ssea_core.http import Request
from ssea_core.records import ApiKeyRecord, TenantRecord
from ssea_core.settings import Settings
from tests.log_guard import remember

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
TENANT = TenantRecord(uuid4(), "T", "pro", True, NOW)


class Operator:
    """Finds one key record, whatever hash is asked for (a store that near-matches)."""

    def __init__(self, record: ApiKeyRecord) -> None:
        self.record = record

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        return self.record

    async def get_tenant(self, tenant_id: Any) -> TenantRecord | None:
        return TENANT


class Repository:
    async def touch_api_key(self, key_id: str, *, now: datetime) -> None:
        return None


class Store:
    def __init__(self, record: ApiKeyRecord) -> None:
        self.operator = Operator(record)

    def for_tenant(self, tenant_id: Any) -> Repository:
        return Repository()


def key_request(key: str) -> Request:
    return Request.build("GET", "/x", headers={"X-SSEA-Key": key})


def record_for(key_hash: str) -> ApiKeyRecord:
    return ApiKeyRecord(
        "key_1", TENANT.tenant_id, "k", "ssea_0000", True, NOW, key_hash=key_hash
    )


async def authenticate_with(store: Any, request: Request) -> Any:
    return await authenticate(request, store, Settings(), FixedClock(NOW))


async def test_a_key_whose_stored_hash_matches_is_the_tenants_admin() -> None:
    key = generate_api_key()
    remember(key.plaintext)

    found = await authenticate_with(
        Store(record_for(key.key_hash)), key_request(key.plaintext)
    )

    assert (found.principal.role, found.principal.credential) == ("admin", "api_key")


async def test_a_row_whose_hash_differs_is_refused() -> None:
    key, other = generate_api_key(), generate_api_key()
    remember(key.plaintext, other.plaintext)
    store = Store(record_for(other.key_hash))

    with pytest.raises(InvalidCredentialError, match="not known"):
        await authenticate_with(store, key_request(key.plaintext))
    with pytest.raises(InvalidCredentialError, match="not known"):
        await authenticate_with(
            Store(replace(record_for(""), key_hash=None)), key_request(key.plaintext)
        )


@pytest.mark.parametrize(
    ("headers", "kinds"),
    [
        ({}, []),
        ({"X-SSEA-Key": "k"}, ["api_key"]),
        ({"Authorization": "Bearer t"}, ["session"]),
        ({"X-SSEA-Viewer-Signature": "s"}, ["viewer"]),
        ({"X-SSEA-Key": "k", "X-SSEA-Viewer-Context": "c"}, ["api_key", "viewer"]),
    ],
)
def test_presented_credentials(headers: dict[str, str], kinds: list[str]) -> None:
    assert presented_credentials(Request.build("GET", "/", headers=headers)) == kinds


async def test_none_or_several_credentials_are_refused() -> None:
    store = Store(record_for(""))

    with pytest.raises(MissingCredentialError):
        await authenticate_with(store, Request.build("GET", "/"))
    with pytest.raises(AmbiguousCredentialError):
        await authenticate_with(
            store,
            Request.build(
                "GET", "/", headers={"X-SSEA-Key": "k", "Authorization": "Bearer t"}
            ),
        )


def test_the_auth_package_exports_a_sorted_surface() -> None:
    import ssea_core.auth as package

    assert package.__all__ == sorted(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)
