"""Ingestion over the HTTP-neutral client (SPEC §2, §4.1, §9), on every backend."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Connection, Table, select

from ssea_core.app import SseaApp, build_router
from ssea_core.auth.api_keys import generate_api_key
from ssea_core.auth.principal import Principal
from ssea_core.clock import FixedClock
from ssea_core.context import RequestContext
from ssea_core.errors import ForbiddenError, TenantMismatchError
from ssea_core.http import Response
from ssea_core.ingest.events import compute_event_id
from ssea_core.ingest.models import EventIn
from ssea_core.policy import authorize
from ssea_core.records import ApiKeyRecord, TenantRecord
from ssea_core.settings import Settings
from ssea_storage.sql.schema import (
    completions,
    courses,
    enrolments,
    events,
    grade_items,
    grades,
    modules,
    usage_daily,
    users,
)
from ssea_storage.sql.store import SqlStore
from ssea_storage.sql.writes import EventWriter
from tests.conftest import NOW, make_key, make_tenant
from tests.support import Answer, ApiClient

UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # four hours before the FixedClock


# -- helpers ---------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ev(number: int, **fields: Any) -> dict[str, Any]:
    """A distinct valid event per number."""
    payload: dict[str, Any] = {
        "event_type": "course_viewed",
        "user_id": f"u{number % 7}",
        "course_id": "c1",
        "timestamp": iso(BASE + timedelta(seconds=number)),
    }
    payload.update(fields)
    return payload


def assert_error(answer: Answer, status: int, code: str | None = None) -> str:
    """The SPEC §9 envelope; returns the message."""
    assert answer.status == status, answer.body
    body = answer.json()
    assert body["ok"] is False
    assert isinstance(body["error"], str)
    assert body["error"]
    assert UPPER_SNAKE.match(body["code"]), body["code"]
    assert set(body) <= {"ok", "error", "code", "details"}
    if code is not None:
        assert body["code"] == code
    message: str = body["error"]
    return message


async def rows(store: SqlStore, table: Table, tenant_id: UUID) -> list[dict[str, Any]]:
    def work(connection: Connection) -> list[dict[str, Any]]:
        found = connection.execute(select(table).where(table.c.tenant_id == tenant_id))
        return [dict(row) for row in found.mappings()]

    return await store.executor.run(work)


async def stored_events(store: SqlStore, tenant: TenantRecord) -> int:
    return len(await rows(store, events, tenant.tenant_id))


async def usage(store: SqlStore, tenant: TenantRecord) -> dict[Any, int]:
    found = await rows(store, usage_daily, tenant.tenant_id)
    return {row["day"]: row["events"] for row in found}


async def key_record(
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    expires_at: datetime | None = None,
) -> tuple[str, ApiKeyRecord]:
    key = generate_api_key()
    record = await store.for_tenant(tenant.tenant_id).create_api_key(
        key_hash=key.key_hash,
        prefix=key.prefix,
        name="test",
        now=clock.now(),
        expires_at=expires_at,
    )
    return key.plaintext, record


# -- health and the single event -------------------------------------------------------


async def test_health_answers_without_credentials(anonymous: ApiClient) -> None:
    answer = await anonymous.get("/health")

    assert answer.status == 200
    assert answer.json() == {"ok": True, "data": {"status": "ok"}}
    assert answer.body == b'{"ok":true,"data":{"status":"ok"}}'
    assert answer.headers["content-type"] == "application/json"


async def test_one_event_is_accepted_with_its_id(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    payload = ev(1, module_id=5, metadata={"quiz_name": "Q1"})

    answer = await client.post("/v1/events", json_body=payload)

    expected_id = compute_event_id(tenant.tenant_id, EventIn.model_validate(payload))
    assert answer.status == 202, answer.body
    assert answer.json() == {"ok": True, "data": {"queued": 1, "event_id": expected_id}}
    (row,) = await rows(store, events, tenant.tenant_id)
    assert row["event_id"] == expected_id
    assert (row["user_id"], row["course_id"], row["module_id"]) == ("u1", "c1", "5")
    assert row["occurred_at"] == BASE + timedelta(seconds=1)
    assert row["metadata"] == {"quiz_name": "Q1"}


async def test_the_same_event_again_is_stored_once(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    first = await client.post("/v1/events", json_body=ev(1, module_id=5))
    # The same event in other notations: Unix seconds, the id as a string.
    unix = int((BASE + timedelta(seconds=1)).timestamp())
    second = await client.post(
        "/v1/events", json_body=ev(1, module_id="5", timestamp=unix)
    )

    assert first.status == second.status == 202
    first_id = first.json()["data"]["event_id"]
    assert second.json()["data"]["event_id"] == first_id
    assert second.json()["data"]["queued"] == 1
    assert second.json()["data"].get("duplicate") is True
    assert await stored_events(store, tenant) == 1
    assert list((await usage(store, tenant)).values()) == [1]


async def test_a_repeated_event_inside_a_batch_is_stored_once(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    answer = await client.post("/v1/events/batch", json_body={"events": [ev(1)] * 3})

    assert answer.status == 202
    assert answer.json()["data"]["skipped"] == 0
    assert await stored_events(store, tenant) == 1
    assert list((await usage(store, tenant)).values()) == [1]


async def test_the_ip_address_is_not_stored(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    ip = "203.0.113.77"

    answer = await client.post("/v1/events", json_body=ev(1, ip=ip))

    assert answer.status == 202
    (row,) = await rows(store, events, tenant.tenant_id)
    assert all(ip not in repr(value) for value in row.values())


# -- 401 -------------------------------------------------------------------------------


async def test_no_key_is_401(anonymous: ApiClient) -> None:
    answer = await anonymous.post("/v1/events", json_body=ev(1))

    assert_error(answer, 401, "MISSING_CREDENTIAL")


@pytest.mark.parametrize(
    "key",
    ["nonsense", "ssea_" + "A" * 32, "ssea_" + "0" * 31, "Bearer ssea_" + "0" * 32],
)
async def test_a_malformed_key_is_401(anonymous: ApiClient, key: str) -> None:
    answer = await anonymous.post(
        "/v1/events", json_body=ev(1), headers={"X-SSEA-Key": key}
    )

    assert_error(answer, 401, "INVALID_CREDENTIAL")


async def test_an_unknown_key_is_401(
    anonymous: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    answer = await anonymous.post(
        "/v1/events",
        json_body=ev(1),
        headers={"X-SSEA-Key": generate_api_key().plaintext},
    )

    assert_error(answer, 401, "INVALID_CREDENTIAL")
    assert await stored_events(store, tenant) == 0


async def test_a_revoked_key_is_401_at_once(
    app: SseaApp, store: SqlStore, clock: FixedClock, tenant: TenantRecord
) -> None:
    key, record = await key_record(store, clock, tenant)
    caller = ApiClient(app, {"X-SSEA-Key": key})
    assert (await caller.post("/v1/events", json_body=ev(1))).status == 202

    revoked = await store.for_tenant(tenant.tenant_id).revoke_api_key(
        record.key_id, now=clock.now()
    )
    answer = await caller.post("/v1/events", json_body=ev(2))

    assert revoked is True
    assert_error(answer, 401, "REVOKED_CREDENTIAL")
    assert await stored_events(store, tenant) == 1


@pytest.mark.parametrize(
    ("expires_in", "status"),
    [(timedelta(seconds=-1), 401), (timedelta(0), 401), (timedelta(seconds=1), 202)],
)
async def test_an_expired_key_is_401(
    app: SseaApp,
    store: SqlStore,
    clock: FixedClock,
    tenant: TenantRecord,
    expires_in: timedelta,
    status: int,
) -> None:
    key, _ = await key_record(store, clock, tenant, expires_at=NOW + expires_in)

    answer = await ApiClient(app, {"X-SSEA-Key": key}).post(
        "/v1/events", json_body=ev(1)
    )

    if status == 401:
        assert_error(answer, 401, "EXPIRED_CREDENTIAL")
    else:
        assert answer.status == 202


async def test_a_key_that_expires_later_stops_working_then(
    app: SseaApp, store: SqlStore, clock: FixedClock, tenant: TenantRecord
) -> None:
    key, _ = await key_record(store, clock, tenant, expires_at=NOW + timedelta(hours=1))
    caller = ApiClient(app, {"X-SSEA-Key": key})
    assert (await caller.post("/v1/events", json_body=ev(1))).status == 202

    clock.advance(hours=1)

    assert_error(await caller.post("/v1/events", json_body=ev(2)), 401)


# -- 403 -------------------------------------------------------------------------------


async def tenant_probe(ctx: RequestContext) -> Response:
    return Response.json({"ok": True, "data": {"tenant_id": str(ctx.tenant_id)}})


@pytest.fixture
def guarded(
    store: SqlStore, settings: Settings, clock: FixedClock, api_key: str
) -> ApiClient:
    """The service plus two tenant-scoped test routes, called with the tenant's key."""
    router = build_router()
    router.add("GET", "/v1/tenants/{tenant_id}/probe", tenant_probe)
    router.add(
        "GET", "/v1/tenants/{tenant_id}/teachers-only", tenant_probe, roles=["teacher"]
    )
    app = SseaApp(store, settings, clock=clock, router=router)
    return ApiClient(app, {"X-SSEA-Key": api_key})


async def test_a_path_naming_the_callers_tenant_is_served(
    guarded: ApiClient, tenant: TenantRecord
) -> None:
    answer = await guarded.get(f"/v1/tenants/{tenant.tenant_id}/probe")

    assert answer.status == 200
    assert answer.json()["data"] == {"tenant_id": str(tenant.tenant_id)}


async def test_a_path_naming_another_tenant_is_403(
    guarded: ApiClient, store: SqlStore, clock: FixedClock
) -> None:
    other = await make_tenant(store, clock, name="Other U")

    for tenant_id in (str(other.tenant_id), str(uuid4()), "not-a-uuid"):
        answer = await guarded.get(f"/v1/tenants/{tenant_id}/probe")
        assert_error(answer, 403, "TENANT_MISMATCH")


async def test_a_role_the_route_does_not_list_is_403(
    guarded: ApiClient, tenant: TenantRecord
) -> None:
    answer = await guarded.get(f"/v1/tenants/{tenant.tenant_id}/teachers-only")

    assert_error(answer, 403, "FORBIDDEN")


def test_authorize_compares_the_path_tenant_with_the_principal() -> None:
    route = build_router().routes[0]
    mine, theirs = uuid4(), uuid4()
    admin = Principal(
        tenant_id=mine, role="admin", credential="api_key", credential_id="k"
    )

    authorize(route, admin, {"tenant_id": str(mine)})
    with pytest.raises(TenantMismatchError):
        authorize(route, admin, {"tenant_id": str(theirs)})
    assert issubclass(TenantMismatchError, ForbiddenError)
    assert TenantMismatchError.status == 403


# -- 404, 405, 400 ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/events/batch/extra", "/"])
async def test_an_unknown_path_is_404(client: ApiClient, path: str) -> None:
    assert_error(await client.post(path, json_body={}), 404, "NOT_FOUND")


async def test_an_unknown_sync_entity_is_404(
    client: ApiClient, anonymous: ApiClient
) -> None:
    answer = await client.post("/v1/sync/badges", json_body={"items": [{"id": 1}]})

    assert "badges" in assert_error(answer, 404, "NOT_FOUND")
    # Unauthenticated, the same path is refused before anything about entities.
    assert_error(await anonymous.post("/v1/sync/badges", json_body={}), 401)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/events", "POST"),
        ("POST", "/health", "GET"),
        ("PUT", "/v1/sync/users", "POST"),
    ],
)
async def test_a_known_path_with_another_method_is_405(
    client: ApiClient, method: str, path: str, allow: str
) -> None:
    answer = await client.request(method, path)

    assert_error(answer, 405, "METHOD_NOT_ALLOWED")
    assert answer.headers["allow"] == allow


@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/batch", "/v1/sync/users"])
@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe", b"   "])
async def test_a_body_that_is_not_json_is_400(
    client: ApiClient, path: str, content: bytes
) -> None:
    answer = await client.post(path, content=content)

    assert_error(answer, 400, "INVALID_JSON")


# -- 422 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"user_id": None}, "user_id"),
        ({"timestamp": "soon"}, "timestamp"),
        ({"colour": "red"}, "colour"),
        ({"metadata": {"k": "x" * 17_000}}, "metadata"),
        ({"event_type": "badge_awarded"}, "event_type"),
        ({"timestamp": iso(NOW + timedelta(days=2))}, "timestamp"),
    ],
)
async def test_a_single_invalid_event_is_422_naming_the_field(
    client: ApiClient,
    tenant: TenantRecord,
    store: SqlStore,
    change: dict[str, Any],
    field: str,
) -> None:
    answer = await client.post("/v1/events", json_body=ev(1, **change))

    message = assert_error(answer, 422, "VALIDATION_FAILED")
    assert f"'{field}'" in message
    assert await stored_events(store, tenant) == 0


async def test_a_single_event_that_is_not_an_object_is_422(client: ApiClient) -> None:
    assert_error(await client.post("/v1/events", json_body=[ev(1)]), 422)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "events"),
        ({"events": []}, "events"),
        ({"events": [ev(n) for n in range(501)]}, "events"),
        ({"events": ev(1)}, "events"),
        ({"events": [ev(1)], "more": True}, "more"),
        ([ev(1)], "body"),
    ],
)
async def test_a_batch_body_that_is_not_1_to_500_events_is_422(
    client: ApiClient,
    tenant: TenantRecord,
    store: SqlStore,
    body: Any,
    field: str,
) -> None:
    answer = await client.post("/v1/events/batch", json_body=body)

    assert f"'{field}'" in assert_error(answer, 422, "VALIDATION_FAILED")
    assert await stored_events(store, tenant) == 0


async def test_500_events_with_3_bad_ones_store_the_497_others(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    batch = [ev(n) for n in range(500)]
    del batch[0]["user_id"]
    batch[250]["event_type"] = "badge_awarded"
    batch[499]["timestamp"] = iso(NOW + timedelta(days=1, seconds=1))

    answer = await client.post("/v1/events/batch", json_body={"events": batch})

    assert answer.status == 202, answer.body
    data = answer.json()["data"]
    assert (data["queued"], data["skipped"], data["duplicates"]) == (497, 3, 0)
    assert [(e["index"], e["code"]) for e in data["errors"]] == [
        (0, "INVALID_ITEM"),
        (250, "UNKNOWN_EVENT_TYPE"),
        (499, "TIMESTAMP_IN_FUTURE"),
    ]
    assert "'user_id'" in data["errors"][0]["error"]
    assert "badge_awarded" in data["errors"][1]["error"]
    assert await stored_events(store, tenant) == 497


async def test_a_day_ahead_is_the_limit_for_timestamps(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    limit = NOW + timedelta(days=1)
    batch = [
        ev(1, timestamp=iso(limit)),
        ev(2, timestamp=iso(limit + timedelta(microseconds=1))),
    ]

    answer = await client.post("/v1/events/batch", json_body={"events": batch})

    data = answer.json()["data"]
    assert (data["queued"], data["skipped"]) == (1, 1)
    assert data["errors"][0]["index"] == 1
    assert data["errors"][0]["code"] == "TIMESTAMP_IN_FUTURE"
    assert await stored_events(store, tenant) == 1


async def test_a_type_registered_in_settings_is_accepted(
    store: SqlStore, clock: FixedClock, api_key: str
) -> None:
    settings = Settings(database_url="sqlite://", extra_event_types=["badge_awarded"])
    caller = ApiClient(SseaApp(store, settings, clock=clock), {"X-SSEA-Key": api_key})

    answer = await caller.post(
        "/v1/events", json_body=ev(1, event_type="badge_awarded")
    )

    assert answer.status == 202


async def test_an_unexpected_failure_is_a_bare_500(
    client: ApiClient,
    tenant: TenantRecord,
    store: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(EventWriter, "_apply_rollups", explode)

    answer = await client.post("/v1/events", json_body=ev(1))

    assert answer.json() == {
        "ok": False,
        "error": "Internal error.",
        "code": "INTERNAL_ERROR",
    }
    assert answer.status == 500
    assert await stored_events(store, tenant) == 0


# -- sync ------------------------------------------------------------------------------


async def sync(
    client: ApiClient, entity: str, *items: dict[str, Any]
) -> dict[str, Any]:
    answer = await client.post(f"/v1/sync/{entity}", json_body={"items": list(items)})
    assert answer.status == 202, answer.body
    data: dict[str, Any] = answer.json()["data"]
    return data


def keyed(
    found: list[dict[str, Any]], *names: str
) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row[name] for name in names): row for row in found}


async def test_sync_users_upserts_replaces_and_flags_deletions(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    first = await sync(
        client,
        "users",
        {"user_id": 1, "username": "ann", "full_name": "Ann A", "email": "a@x.org"},
        {"user_id": "2", "username": "bob", "full_name": "Bob B"},
    )
    second = await sync(
        client,
        "users",
        {"user_id": 1, "username": "ann", "full_name": "Ann Z", "suspended": True},
        {"user_id": 2, "deleted": True},
    )

    assert (first["queued"], first["upserted"], first["deleted"]) == (2, 2, 0)
    assert (second["queued"], second["upserted"], second["deleted"]) == (2, 1, 1)
    found = keyed(await rows(store, users, tenant.tenant_id), "user_id")
    assert set(found) == {("1",), ("2",)}  # a deleted user is kept...
    ann, bob = found[("1",)], found[("2",)]
    assert (ann["full_name"], ann["email"], ann["suspended"]) == ("Ann Z", None, True)
    assert ann["deleted"] is False
    assert bob["deleted"] is True  # ...flagged, with what was known of them
    assert (bob["username"], bob["full_name"]) == ("bob", "Bob B")


async def test_a_user_synced_again_after_deletion_is_restored(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    await sync(client, "users", {"user_id": 5, "deleted": True})
    await sync(client, "users", {"user_id": 5, "username": "eve"})

    (row,) = await rows(store, users, tenant.tenant_id)
    assert (row["username"], row["deleted"]) == ("eve", False)


async def test_sync_courses(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    await sync(
        client,
        "courses",
        {"course_id": 10, "shortname": "BIO", "start_date": "2026-02-01"},
        {"course_id": 11, "shortname": "CHEM", "visible": False},
    )
    data = await sync(
        client,
        "courses",
        {"course_id": 10, "shortname": "BIO2", "end_date": "2026-06-30T12:00:00+02:00"},
        {"course_id": 11, "deleted": True},
    )

    assert (data["upserted"], data["deleted"]) == (1, 1)
    (row,) = await rows(store, courses, tenant.tenant_id)
    assert (row["course_id"], row["shortname"]) == ("10", "BIO2")
    assert row["start_date"] is None  # replaced, not merged
    assert row["end_date"] == datetime(2026, 6, 30, 10, 0, tzinfo=UTC)


async def test_sync_modules(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    await sync(
        client,
        "modules",
        {
            "module_id": 1,
            "course_id": 10,
            "modname": "quiz",
            "completion_enabled": True,
        },
        {"module_id": 2, "course_id": 10, "modname": "page"},
    )
    await sync(
        client,
        "modules",
        {"module_id": 1, "course_id": 10, "modname": "quiz", "due_date": "2026-03-10"},
        {"module_id": 2, "deleted": True},
    )

    (row,) = await rows(store, modules, tenant.tenant_id)
    assert (row["module_id"], row["completion_enabled"]) == ("1", False)
    assert row["due_date"] == datetime(2026, 3, 10, tzinfo=UTC)


async def test_sync_enrolments(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    await sync(
        client,
        "enrolments",
        {"user_id": 1, "course_id": 10, "role": "student"},
        {"user_id": 1, "course_id": 10, "role": "teacher"},
        {"user_id": 2, "course_id": 10, "role": "student"},
    )
    await sync(
        client,
        "enrolments",
        {"user_id": 1, "course_id": 10, "role": "student", "status": "suspended"},
        {"user_id": 1, "course_id": 10, "role": "teacher", "deleted": True},
    )

    found = keyed(
        await rows(store, enrolments, tenant.tenant_id), "user_id", "course_id", "role"
    )
    assert set(found) == {("1", "10", "student"), ("2", "10", "student")}
    assert found[("1", "10", "student")]["status"] == "suspended"
    assert found[("2", "10", "student")]["status"] == "active"


async def test_sync_grades(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    await sync(
        client,
        "grades",
        {"user_id": 1, "course_id": 10, "item_id": 7, "finalgrade": 55, "grademax": 80},
        {"user_id": 2, "course_id": 10, "item_id": 7, "finalgrade": 70, "grademax": 80},
    )
    await sync(
        client,
        "grades",
        {
            "user_id": 1,
            "course_id": 10,
            "item_id": 7,
            "finalgrade": 60.5,
            "grademax": 80,
        },
        {"user_id": 2, "course_id": 10, "item_id": 7, "deleted": True},
    )

    found = keyed(await rows(store, grades, tenant.tenant_id), "user_id")
    assert set(found) == {("1",)}
    assert found[("1",)]["finalgrade"] == 60.5
    (item,) = await rows(store, grade_items, tenant.tenant_id)
    assert (item["item_id"], item["grademax"]) == ("7", 80.0)


async def test_sync_completions(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    await sync(
        client,
        "completions",
        {"user_id": 1, "course_id": 10, "module_id": 3, "state": "complete"},
        {"user_id": 1, "course_id": 10, "state": "incomplete"},  # the whole course
        {"user_id": 2, "course_id": 10, "module_id": 3, "state": "complete_pass"},
    )
    data = await sync(
        client,
        "completions",
        {
            "user_id": 1,
            "course_id": 10,
            "state": "complete",
            "completed_at": 1772400000,
        },
        {"user_id": 2, "course_id": 10, "module_id": 3, "deleted": True},
    )

    assert (data["upserted"], data["deleted"], data["skipped"]) == (1, 1, 0)
    found = keyed(
        await rows(store, completions, tenant.tenant_id), "user_id", "module_id"
    )
    assert set(found) == {("1", "3"), ("1", "")}
    course = found[("1", "")]
    assert course["state"] == "complete"
    assert course["completed_at"] == datetime.fromtimestamp(1772400000, UTC)


async def test_a_completion_without_state_is_refused_unless_deleted(
    client: ApiClient,
) -> None:
    data = await sync(
        client,
        "completions",
        {"user_id": 1, "course_id": 10, "state": "complete"},
        {"user_id": 1, "course_id": 11},
    )

    assert (data["upserted"], data["skipped"]) == (1, 1)
    assert data["errors"][0]["index"] == 1
    assert "'state'" in data["errors"][0]["error"]


async def test_bad_sync_items_are_skipped_with_a_reason(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    data = await sync(
        client,
        "users",
        {"user_id": 1, "username": "ann"},
        {"user_id": 2, "shoe_size": 44},
        {"username": "nobody"},
        {"user_id": 3, "suspended": "perhaps"},
    )

    assert (data["queued"], data["skipped"]) == (1, 3)
    assert [(e["index"], e["code"]) for e in data["errors"]] == [
        (1, "INVALID_ITEM"),
        (2, "INVALID_ITEM"),
        (3, "INVALID_ITEM"),
    ]
    assert "'shoe_size'" in data["errors"][0]["error"]
    assert "'user_id'" in data["errors"][1]["error"]
    assert "'suspended'" in data["errors"][2]["error"]
    assert [row["user_id"] for row in await rows(store, users, tenant.tenant_id)] == [
        "1"
    ]


@pytest.mark.parametrize(
    "body", [{}, {"items": []}, {"items": [{"user_id": n} for n in range(501)]}]
)
async def test_a_sync_body_that_is_not_1_to_500_items_is_422(
    client: ApiClient, tenant: TenantRecord, store: SqlStore, body: dict[str, Any]
) -> None:
    answer = await client.post("/v1/sync/users", json_body=body)

    assert "'items'" in assert_error(answer, 422, "VALIDATION_FAILED")
    assert await rows(store, users, tenant.tenant_id) == []


# -- the daily cap ---------------------------------------------------------------------


@pytest.fixture
async def free(store: SqlStore, clock: FixedClock) -> TenantRecord:
    return await make_tenant(store, clock, plan="free", name="Free U")


@pytest.fixture
async def free_client(
    app: SseaApp, store: SqlStore, clock: FixedClock, free: TenantRecord
) -> ApiClient:
    return ApiClient(app, {"X-SSEA-Key": await make_key(store, clock, free)})


async def send(caller: ApiClient, numbers: range | list[int]) -> Answer:
    return await caller.post(
        "/v1/events/batch", json_body={"events": [ev(n) for n in numbers]}
    )


async def test_the_free_plan_stops_at_1000_events_a_day(
    free_client: ApiClient, free: TenantRecord, store: SqlStore, clock: FixedClock
) -> None:
    for numbers in (range(500), range(500, 1000)):
        answer = await send(free_client, numbers)
        assert answer.json()["data"]["queued"] == 500

    single = await free_client.post("/v1/events", json_body=ev(1000))
    batch = await send(free_client, range(1000, 1003))

    for answer in (single, batch):
        assert_error(answer, 429, "DAILY_CAP_EXCEEDED")
        assert answer.headers["retry-after"] == str(12 * 3600)  # NOW is 12:00 UTC
    assert await stored_events(store, free) == 1000
    assert await usage(store, free) == {NOW.date(): 1000}


async def test_duplicates_after_the_cap_are_accepted_and_not_counted(
    free_client: ApiClient, free: TenantRecord, store: SqlStore
) -> None:
    await send(free_client, range(500))
    await send(free_client, range(500, 1000))

    single = await free_client.post("/v1/events", json_body=ev(7))
    batch = await send(free_client, range(100, 110))
    mixed = await send(free_client, [1, 2, 1000, 1001])

    assert single.status == 202
    assert single.json()["data"]["duplicate"] is True
    assert batch.status == 202
    assert (batch.json()["data"]["queued"], batch.json()["data"]["duplicates"]) == (
        10,
        10,
    )
    data = mixed.json()["data"]
    assert mixed.status == 202
    assert (data["queued"], data["duplicates"], data["skipped"]) == (2, 2, 2)
    assert [(e["index"], e["code"]) for e in data["errors"]] == [
        (2, "DAILY_CAP_EXCEEDED"),
        (3, "DAILY_CAP_EXCEEDED"),
    ]
    assert await usage(store, free) == {NOW.date(): 1000}


async def test_a_batch_that_fits_partly_stores_exactly_the_room_left(
    free_client: ApiClient, free: TenantRecord, store: SqlStore
) -> None:
    await send(free_client, range(500))
    await send(free_client, range(500, 990))
    # 20 events: two already stored (indexes 0 and 5), 18 new for 10 places.
    numbers = list(range(990, 1008))
    numbers.insert(0, 3)
    numbers.insert(5, 4)

    answer = await send(free_client, numbers)

    data = answer.json()["data"]
    assert answer.status == 202
    assert (data["queued"], data["duplicates"], data["skipped"]) == (12, 2, 8)
    assert [e["index"] for e in data["errors"]] == list(range(12, 20))
    assert {e["code"] for e in data["errors"]} == {"DAILY_CAP_EXCEEDED"}
    stored = {row["event_id"] for row in await rows(store, events, free.tenant_id)}
    expected_new = {
        compute_event_id(free.tenant_id, EventIn.model_validate(ev(n)))
        for n in range(990, 1000)
    }
    assert len(stored) == 1000
    assert expected_new <= stored
    assert await usage(store, free) == {NOW.date(): 1000}


async def test_the_cap_resets_at_midnight_utc(
    free_client: ApiClient, free: TenantRecord, store: SqlStore, clock: FixedClock
) -> None:
    await send(free_client, range(500))
    await send(free_client, range(500, 1000))
    clock.set(datetime(2026, 3, 2, 23, 59, 59, 250_000, tzinfo=UTC))
    late = await free_client.post("/v1/events", json_body=ev(1000))
    assert_error(late, 429, "DAILY_CAP_EXCEEDED")
    assert late.headers["retry-after"] == "1"  # 0.75 s, rounded up

    clock.set(datetime(2026, 3, 3, 0, 0, tzinfo=UTC))
    answer = await send(free_client, range(1000, 1500))

    assert answer.status == 202
    assert answer.json()["data"]["queued"] == 500
    assert await usage(store, free) == {
        NOW.date(): 1000,
        NOW.date() + timedelta(days=1): 500,
    }


async def test_a_paid_plan_is_not_held_to_the_free_cap(
    client: ApiClient, tenant: TenantRecord, store: SqlStore
) -> None:
    for start in (0, 500, 1000):
        answer = await send(client, range(start, start + 500))
        assert answer.json()["data"]["queued"] == 500

    assert await stored_events(store, tenant) == 1500


async def test_outcome_counts_excluded_events_by_reason(store, settings, clock, tenant):
    from ssea_core.context import Services
    from ssea_core.ingest.service import Ingestor

    ingestor = Ingestor(Services(store, settings, clock))
    base = {"event_type": "course_viewed", "course_id": "5"}
    events = [
        {**base, "user_id": "7", "timestamp": "2026-03-01T10:00:00Z"},
        {**base, "user_id": "7", "timestamp": "2026-03-01T10:01:00Z", "origin": "cli"},
        {
            **base,
            "user_id": "7",
            "timestamp": "2026-03-01T10:02:00Z",
            "real_user_id": 3,
        },
        {**base, "user_id": "0", "timestamp": "2026-03-01T10:03:00Z"},
        {**base, "user_id": "2", "timestamp": "2026-03-01T10:04:00Z"},
        {**base, "user_id": "2", "timestamp": "2026-03-01T10:04:00Z"},
    ]
    first = await ingestor.ingest(tenant.tenant_id, events)
    assert first.stored == 5
    assert first.excluded == {
        "origin_cli": 1,
        "logged_in_as": 1,
        "no_user": 1,
        "site_admin": 1,
    }
    again = await ingestor.ingest(tenant.tenant_id, events)
    assert again.stored == 0
    assert again.excluded == {}
