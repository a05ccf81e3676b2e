"""Branding (SPEC §8): the tenant's own, the public lookup by Host, and validation."""

from __future__ import annotations

from typing import Any

import pytest

from ssea_core.branding import host_name
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_core.settings import Settings
from ssea_storage.sql.schema import tenants
from ssea_storage.sql.store import SqlStore
from tests.auth_support import bearer, session_token
from tests.conftest import make_key, make_tenant
from tests.support import ApiClient


def acme(tenant: TenantRecord) -> dict[str, str]:
    """A branding whose domain is this test's own (the database is shared)."""
    return {
        "logo_url": "https://cdn.example.edu/acme.png",
        "primary_color": "#4F46E5",
        "product_name": "Acme Analytics",
        "custom_domain": f"Analytics-{tenant.tenant_id.hex[:12]}.Acme.EDU",
    }


def domain(tenant: TenantRecord) -> str:
    return f"analytics-{tenant.tenant_id.hex[:12]}.acme.edu"


def path(tenant: TenantRecord) -> str:
    return f"/v1/tenants/{tenant.tenant_id}/branding"


async def test_a_new_tenant_has_no_branding(
    client: ApiClient, tenant: TenantRecord
) -> None:
    answer = await client.get(path(tenant))

    assert answer.status == 200
    assert answer.json() == {
        "logo_url": None,
        "primary_color": None,
        "product_name": None,
        "custom_domain": None,
    }


async def test_an_admin_sets_branding_and_the_public_finds_it_by_host(
    client: ApiClient, anonymous: ApiClient, tenant: TenantRecord
) -> None:
    answer = await client.request("PUT", path(tenant), json_body=acme(tenant))

    saved = {
        "logo_url": "https://cdn.example.edu/acme.png",
        "primary_color": "#4f46e5",
        "product_name": "Acme Analytics",
        "custom_domain": domain(tenant),
    }
    assert answer.status == 200, answer.body
    assert answer.json() == {"ok": True, "data": saved}
    assert (await client.get(path(tenant))).json() == saved
    for host in (domain(tenant), domain(tenant).upper() + ":8443"):
        public = await anonymous.get("/v1/branding", headers={"Host": host})
        assert public.status == 200, public.body
        assert public.json() == {
            "logo_url": "https://cdn.example.edu/acme.png",
            "primary_color": "#4f46e5",
            "product_name": "Acme Analytics",
        }


async def test_put_changes_only_the_fields_named(
    client: ApiClient, tenant: TenantRecord
) -> None:
    await client.request("PUT", path(tenant), json_body=acme(tenant))

    answer = await client.request(
        "PUT", path(tenant), json_body={"primary_color": "#abc", "logo_url": None}
    )

    assert answer.json()["data"] == {
        "logo_url": None,
        "primary_color": "#abc",
        "product_name": "Acme Analytics",
        "custom_domain": domain(tenant),
    }


@pytest.mark.parametrize(
    "body",
    [
        {"primary_color": "red"},
        {"primary_color": "#abcd"},
        {"primary_color": "#ggg"},
        {"logo_url": "http://cdn.example.edu/logo.png"},
        {"logo_url": "javascript:alert(1)"},
        {"logo_url": "https://user:pw@cdn.example.edu/logo.png"},
        {"product_name": ""},
        {"product_name": "x" * 101},
        {"product_name": "bad\nname"},
        {"custom_domain": "https://acme.edu"},
        {"custom_domain": "acme.edu:443"},
        {"custom_domain": "localhost"},
        {"unknown": "field"},
    ],
)
async def test_invalid_branding_is_422(
    client: ApiClient, tenant: TenantRecord, body: dict[str, Any]
) -> None:
    answer = await client.request("PUT", path(tenant), json_body=body)

    assert answer.status == 422, answer.body
    assert answer.json()["code"] == "VALIDATION_FAILED"


async def test_a_domain_of_another_tenant_is_409(
    client: ApiClient, store: SqlStore, clock: FixedClock, tenant: TenantRecord
) -> None:
    other = await make_tenant(store, clock, name="Other U")
    theirs = ApiClient(client.app, {"X-SSEA-Key": await make_key(store, clock, other)})
    answer = await theirs.request("PUT", path(other), json_body=acme(other))
    assert answer.status == 200

    answer = await client.request(
        "PUT", path(tenant), json_body={"custom_domain": domain(other)}
    )

    assert answer.status == 409
    assert answer.json()["code"] == "CONFLICT"
    again = await theirs.request("PUT", path(other), json_body=acme(other))
    assert again.status == 200  # a tenant keeping its own domain is no conflict


async def test_unknown_hosts_and_inactive_tenants_are_404(
    client: ApiClient, anonymous: ApiClient, store: SqlStore, tenant: TenantRecord
) -> None:
    await client.request("PUT", path(tenant), json_body=acme(tenant))
    for host in ("nobody.example.edu", "", "[::1]:8000"):
        answer = await anonymous.get("/v1/branding", headers={"Host": host})
        assert answer.status == 404, host

    with store.engine.begin() as connection:
        connection.execute(
            tenants.update()
            .where(tenants.c.tenant_id == tenant.tenant_id)
            .values(active=False)
        )
    gone = await anonymous.get("/v1/branding", headers={"Host": domain(tenant)})
    assert gone.status == 404


async def test_only_admins_change_branding(
    anonymous: ApiClient, tenant: TenantRecord, settings: Settings, clock: FixedClock
) -> None:
    for role in ("manager", "teacher", "student"):
        token = session_token(settings, clock.now(), tenant.tenant_id, role, "x1")
        read = await anonymous.get(path(tenant), headers=bearer(token))
        write = await anonymous.request(
            "PUT",
            path(tenant),
            json_body={"product_name": "Mine"},
            headers=bearer(token),
        )
        assert read.status == 200, (role, read.body)
        assert (write.status, write.json()["code"]) == (403, "FORBIDDEN"), role
    admin = session_token(settings, clock.now(), tenant.tenant_id, "admin", "a1")
    write = await anonymous.request(
        "PUT", path(tenant), json_body={"product_name": "Mine"}, headers=bearer(admin)
    )
    assert write.status == 200


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Analytics.Acme.edu", "analytics.acme.edu"),
        ("analytics.acme.edu:8080", "analytics.acme.edu"),
        ("analytics.acme.edu.", "analytics.acme.edu"),
        ("[::1]:443", None),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("", None),
        (None, None),
        ("bad_host.edu", None),
    ],
)
def test_host_names(host: str | None, expected: str | None) -> None:
    assert host_name(host) == expected
