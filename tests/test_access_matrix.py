"""Every route, every credential: the role matrix of ``docs/auth.md`` is what runs.

The matrix is read from the documentation and must equal ``build_router().routes``, so
a route added tomorrow fails here until it is documented; then every route is called
with no credential, with broken ones, with another tenant's and with every role's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ssea_core.app import SseaApp, build_router
from ssea_core.auth.api_keys import generate_api_key
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_core.routing import Route
from ssea_core.settings import Settings
from ssea_storage.sql.store import SqlStore
from tests.auth_support import bearer, session_token, tenant_secret, viewer_headers
from tests.conftest import JWT_SECRET, MASTER_KEY, make_key, make_tenant
from tests.log_guard import remember
from tests.support import ApiClient
from tests.test_dashboard_api import load

DOCS = Path(__file__).resolve().parents[1] / "docs" / "auth.md"
ROW = re.compile(
    r"^\| `(?P<method>[A-Z]+) (?P<pattern>\S+)` "
    r"\| (?P<auth>[^|]+) \| (?P<roles>[^|]+) \|$"
)
#: Real ids of the seeded tenant for each path parameter; others get "x".
PARAMS = {"user_id": "u1", "course_id": "c1", "entity": "users"}


def documented_matrix() -> dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]]:
    text = DOCS.read_text()
    block = text.split("<!-- role-matrix:start -->")[1].split(
        "<!-- role-matrix:end -->"
    )[0]
    matrix = {}
    for line in block.strip().splitlines()[2:]:
        found = ROW.match(line.strip())
        assert found, f"unreadable matrix row: {line}"
        auth = frozenset(part.strip() for part in found["auth"].split(","))
        roles_text = re.sub(r"\(.*?\)", "", found["roles"]).strip()
        roles = frozenset(
            part.strip() for part in roles_text.split(",") if part.strip() != "-"
        )
        matrix[(found["method"], found["pattern"])] = (auth, roles)
    return matrix


def test_the_documented_matrix_is_the_route_table() -> None:
    routes = {
        (route.method, route.pattern): (frozenset(route.auth), route.roles)
        for route in build_router().routes
    }

    assert documented_matrix() == routes


@dataclass(frozen=True)
class Credential:
    name: str
    kind: str
    role: str
    user: str | None
    headers: dict[str, str]


@dataclass
class World:
    client: ApiClient
    tenant: TenantRecord
    good: list[Credential]
    broken: dict[str, dict[str, str]]
    foreign: dict[str, dict[str, str]]


@pytest.fixture
async def world(
    store: SqlStore, clock: FixedClock, tenant: TenantRecord, api_key: str
) -> World:
    settings = Settings(
        database_url="sqlite://",
        master_key=MASTER_KEY,
        jwt_secrets=[JWT_SECRET],
        rate_limit_enabled=False,  # hundreds of refusals in a row; limits: test_limits
    )
    app = SseaApp(store, settings, clock=clock)
    await load(ApiClient(app, {"X-SSEA-Key": api_key}))
    now = clock.now()
    tid = tenant.tenant_id
    viewer_secret = await tenant_secret(store, tid, "viewer", now)
    exp = int(now.timestamp()) + 600

    def session(
        role: str, user: str | None, at: Any = now, where: Any = settings
    ) -> Any:
        return bearer(session_token(where, at, tid, role, user))

    good = [
        Credential("admin key", "api_key", "admin", None, {"X-SSEA-Key": api_key}),
        Credential("admin session", "session", "admin", "a1", session("admin", "a1")),
        Credential("manager", "session", "manager", "m1", session("manager", "m1")),
        Credential("teacher", "session", "teacher", "t1", session("teacher", "t1")),
        Credential("student", "session", "student", "u1", session("student", "u1")),
        Credential(
            "viewer student",
            "viewer",
            "student",
            "u1",
            viewer_headers(viewer_secret, tid, "student", "u1", exp),
        ),
        Credential(
            "viewer teacher",
            "viewer",
            "teacher",
            "t1",
            viewer_headers(viewer_secret, tid, "teacher", "t1", exp),
        ),
    ]
    broken = {
        "expired key": {"X-SSEA-Key": await _key(store, tenant, now, expired=True)},
        "revoked key": {"X-SSEA-Key": await _key(store, tenant, now, revoked=True)},
        "garbled key": {"X-SSEA-Key": "ssea_not-a-key"},
        "unknown key": {"X-SSEA-Key": "ssea_" + "0" * 32},
        "expired session": session("admin", "a1", at=now - timedelta(hours=2)),
        "garbled session": bearer("eyJ.garbage.here"),
        "rotated-out session": session(
            "admin", "a1", where=Settings(jwt_secrets=["r" * 40])
        ),
        "garbled viewer": {
            "X-SSEA-Viewer-Context": "bm9wZQ",
            "X-SSEA-Viewer-Signature": "0" * 64,
        },
        "expired viewer": viewer_headers(
            viewer_secret, tid, "student", "u1", int(now.timestamp()) - 120
        ),
    }
    other = await make_tenant(store, clock, name="Other U")
    other_viewer = await tenant_secret(store, other.tenant_id, "viewer", now)
    foreign = {
        "other tenant's key": {"X-SSEA-Key": await make_key(store, clock, other)},
        "other tenant's session": bearer(
            session_token(settings, now, other.tenant_id, "admin", "a1")
        ),
        "other tenant's viewer": viewer_headers(
            other_viewer, other.tenant_id, "student", "u1", exp
        ),
    }
    return World(ApiClient(app), tenant, good, broken, foreign)


async def _key(
    store: SqlStore,
    tenant: TenantRecord,
    now: Any,
    *,
    expired: bool = False,
    revoked: bool = False,
) -> str:
    key = generate_api_key()
    remember(key.plaintext)
    repository = store.for_tenant(tenant.tenant_id)
    record = await repository.create_api_key(
        key_hash=key.key_hash,
        prefix=key.prefix,
        name="matrix",
        now=now - timedelta(days=2),
        expires_at=now - timedelta(days=1) if expired else None,
    )
    if revoked:
        await repository.revoke_api_key(record.key_id, now=now)
    return key.plaintext


def path_for(route: Route, tenant: TenantRecord, user: str | None) -> str:
    values = {
        **PARAMS,
        "tenant_id": str(tenant.tenant_id),
        "moodle_user_id": user or "u1",
    }

    def fill(found: re.Match[str]) -> str:
        return values.get(found[1], "x")

    return re.sub(r"\{([a-z_]+)\}", fill, route.pattern)


async def call(
    world: World, route: Route, headers: dict[str, str], user: str | None
) -> Any:
    body = {} if route.method in ("POST", "PUT") else None
    return await world.client.request(
        route.method,
        path_for(route, world.tenant, user),
        json_body=body,
        headers=headers,
    )


def may(route: Route, credential: Credential) -> bool:
    return credential.kind in route.auth and credential.role in route.roles


ROUTES = build_router().routes
PRIVATE = [route for route in ROUTES if not route.is_public]


@pytest.mark.parametrize(
    "route", PRIVATE, ids=lambda route: f"{route.method} {route.pattern}"
)
async def test_every_route_against_every_credential(world: World, route: Route) -> None:
    answer = await call(world, route, {}, None)
    assert (answer.status, answer.json()["code"]) == (401, "MISSING_CREDENTIAL")

    for name, headers in world.broken.items():
        answer = await call(world, route, headers, "u1")
        assert answer.status == 401, (name, answer.body)

    if "{tenant_id}" in route.pattern:
        for name, headers in world.foreign.items():
            answer = await call(world, route, headers, "u1")
            assert (answer.status, answer.json()["code"]) == (403, "TENANT_MISMATCH"), (
                name,
                answer.body,
            )

    for credential in world.good:
        answer = await call(world, route, credential.headers, credential.user)
        if may(route, credential):
            assert answer.status not in (401, 403), (credential.name, answer.body)
        else:
            assert answer.status == 403, (credential.name, answer.body)
            assert answer.json()["code"] in ("FORBIDDEN", "CREDENTIAL_NOT_ACCEPTED")


@pytest.mark.parametrize(
    "route",
    [route for route in ROUTES if route.is_public],
    ids=lambda route: f"{route.method} {route.pattern}",
)
async def test_public_routes_need_no_credential(world: World, route: Route) -> None:
    answer = await call(world, route, {}, None)

    assert answer.status not in (401, 403), answer.body
