"""What every runtime answers alike (SPEC §2, §3, §9): each test runs on every client.

The expectations are the core's; an adapter passes when it adds nothing and loses
nothing on the way. The body cap is the adapters' own (the core is handed a body
already read), so the 413 test skips the in-process client.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_storage.sql.store import SqlStore
from tests.behaviour.conftest import (
    DASHBOARD,
    MAX_BODY_BYTES,
    HttpClient,
    Runtimes,
)
from tests.conftest import make_tenant
from tests.support import Answer
from tests.test_dashboard_api import C1, C2, C3, load

UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
}
EVENT = {
    "event_type": "course_viewed",
    "user_id": "u7",
    "course_id": "c3",
    "timestamp": "2026-03-02T10:00:00Z",
}


def error_of(answer: Answer, status: int) -> dict[str, Any]:
    """The SPEC §9 envelope of an error answer, with its security headers."""
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    assert body["ok"] is False
    assert body["error"]
    assert UPPER_SNAKE.match(body["code"])
    assert_secured(answer)
    return body


def assert_secured(answer: Answer) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, name


def prefix(tenant: TenantRecord) -> str:
    return f"/v1/tenants/{tenant.tenant_id}"


# -- ingestion -------------------------------------------------------------------------


async def test_health(http: HttpClient) -> None:
    answer = await http.get("/health")

    assert answer.status == 200
    assert answer.json() == {"ok": True, "data": {"status": "ok"}}
    assert answer.headers["content-type"] == "application/json"
    assert_secured(answer)


async def test_head_answers_the_headers_without_a_body(http: HttpClient) -> None:
    answer = await http.request("HEAD", "/health")

    assert answer.status == 200
    assert answer.body == b""
    assert answer.headers["content-type"] == "application/json"


async def test_an_event_is_accepted_once(keyed: HttpClient) -> None:
    first = await keyed.post("/v1/events", json_body=EVENT)
    again = await keyed.post("/v1/events", json_body=EVENT)

    assert (first.status, again.status) == (202, 202)
    data = first.json()["data"]
    assert data["queued"] == 1
    assert data["event_id"].startswith("evt_")
    assert again.json()["data"]["event_id"] == data["event_id"]
    assert again.json()["data"]["duplicate"] is True


async def test_a_batch_skips_its_bad_events_with_reasons(keyed: HttpClient) -> None:
    events = [
        EVENT,
        {**EVENT, "event_type": "badge_awarded"},
        {key: value for key, value in EVENT.items() if key != "user_id"},
        {**EVENT, "user_id": "u8"},
    ]

    answer = await keyed.post("/v1/events/batch", json_body={"events": events})

    assert answer.status == 202, answer.body
    data = answer.json()["data"]
    assert (data["queued"], data["skipped"], data["duplicates"]) == (2, 2, 0)
    assert [(error["index"], error["code"]) for error in data["errors"]] == [
        (1, "UNKNOWN_EVENT_TYPE"),
        (2, "INVALID_ITEM"),
    ]


async def test_sync_upserts_and_counts_bad_items(keyed: HttpClient) -> None:
    items = [
        {"user_id": "u1", "username": "ann"},
        {"user_id": "u2", "shoe_size": 44},
    ]

    answer = await keyed.post("/v1/sync/users", json_body={"items": items})
    unknown = await keyed.post("/v1/sync/pets", json_body={"items": items})

    assert answer.status == 202, answer.body
    data = answer.json()["data"]
    assert (data["queued"], data["skipped"]) == (1, 1)
    assert data["errors"][0]["index"] == 1
    assert "'shoe_size'" in data["errors"][0]["error"]
    assert error_of(unknown, 404)["code"] == "NOT_FOUND"


# -- reads -----------------------------------------------------------------------------


async def test_reads_after_ingestion(keyed: HttpClient, tenant: TenantRecord) -> None:
    await load(keyed)  # type: ignore[arg-type]

    overview = await keyed.get(prefix(tenant) + "/overview")
    courses = await keyed.get(prefix(tenant) + "/courses")
    second = await keyed.get(
        prefix(tenant) + "/courses", params={"limit": 1, "offset": 1}
    )

    assert overview.status == 200, overview.body
    assert overview.json() == {
        "tenant_id": str(tenant.tenant_id),
        "period_days": 30,
        "total_events": 11,
        "active_users": 4,
        "total_sessions": 7,
        "avg_time_spent_mins": 10.5,
        "at_risk_count": 0,
    }
    assert (courses.status, courses.json()) == (200, [C1, C2, C3])
    assert courses.headers["x-total-count"] == "3"
    assert (second.json(), second.headers["x-total-count"]) == ([C2], "3")
    assert_secured(courses)


# -- errors ----------------------------------------------------------------------------


async def test_no_credential_is_401(http: HttpClient, tenant: TenantRecord) -> None:
    answer = await http.get(prefix(tenant) + "/overview")

    assert error_of(answer, 401)["code"] == "MISSING_CREDENTIAL"


async def test_an_unknown_key_is_401(http: HttpClient) -> None:
    stranger = http.with_headers({"X-SSEA-Key": "ssea_" + "0" * 32})

    answer = await stranger.post("/v1/events", json_body=EVENT)

    assert error_of(answer, 401)["code"] == "INVALID_CREDENTIAL"


async def test_another_tenants_path_is_403(
    keyed: HttpClient, store: SqlStore, clock: FixedClock
) -> None:
    other = await make_tenant(store, clock, name="Other U")

    answer = await keyed.get(prefix(other) + "/overview")

    assert error_of(answer, 403)["code"] == "TENANT_MISMATCH"


async def test_an_unknown_route_or_user_is_404(
    keyed: HttpClient, tenant: TenantRecord
) -> None:
    route = await keyed.get("/v1/nothing-here")
    user = await keyed.get(prefix(tenant) + "/users/nobody")

    assert error_of(route, 404)["code"] == "NOT_FOUND"
    assert error_of(user, 404)["code"] == "NOT_FOUND"


async def test_a_path_parameter_is_decoded_once(
    keyed: HttpClient, tenant: TenantRecord
) -> None:
    # Ids are free text: a "%41" in one must not become "A" on the way in.
    for user_id in ("50%41", "ana maría"):
        sent = await keyed.post("/v1/events", json_body={**EVENT, "user_id": user_id})
        assert sent.status == 202, sent.body

    percent = await keyed.get(prefix(tenant) + "/users/50%2541")
    spaced = await keyed.get(prefix(tenant) + "/users/ana%20mar%C3%ADa")
    decoded_twice = await keyed.get(prefix(tenant) + "/users/50A")

    assert percent.status == 200, percent.body
    assert percent.json()["user"]["user_id"] == "50%41"
    assert spaced.status == 200, spaced.body
    assert spaced.json()["user"]["user_id"] == "ana maría"
    assert error_of(decoded_twice, 404)["code"] == "NOT_FOUND"


async def test_another_method_is_405_with_allow(http: HttpClient) -> None:
    answer = await http.get("/v1/events")

    assert error_of(answer, 405)["code"] == "METHOD_NOT_ALLOWED"
    assert answer.headers["allow"] == "POST"


async def test_a_body_that_is_not_json_is_400(keyed: HttpClient) -> None:
    answer = await keyed.post("/v1/events", content=b'{"event_type": ')

    assert error_of(answer, 400)["code"] == "INVALID_JSON"


async def test_bad_query_parameters_are_400(
    keyed: HttpClient, tenant: TenantRecord
) -> None:
    answer = await keyed.get(prefix(tenant) + "/overview", params={"days": 0})

    assert error_of(answer, 400)["code"] == "BAD_REQUEST"


async def test_an_invalid_event_is_422(keyed: HttpClient) -> None:
    answer = await keyed.post("/v1/events", json_body={**EVENT, "user_id": None})

    body = error_of(answer, 422)
    assert body["code"] == "VALIDATION_FAILED"
    assert "'user_id'" in body["error"]


async def test_a_body_over_the_cap_is_413(keyed: HttpClient) -> None:
    if keyed.runtime == "core":
        pytest.skip("the body cap is the adapters': the core gets a body read")

    answer = await keyed.post("/v1/events/batch", content=b" " * (MAX_BODY_BYTES + 1))

    assert error_of(answer, 413) == {
        "ok": False,
        "error": f"The body exceeds {MAX_BODY_BYTES} bytes.",
        "code": "PAYLOAD_TOO_LARGE",
    }


# -- browsers --------------------------------------------------------------------------


async def test_a_preflight_from_the_dashboard_is_204(
    http: HttpClient, tenant: TenantRecord
) -> None:
    answer = await http.request(
        "OPTIONS",
        prefix(tenant) + "/overview",
        headers={"Origin": DASHBOARD, "Access-Control-Request-Method": "GET"},
    )

    assert answer.status == 204, answer.body
    assert answer.body == b""
    assert answer.headers["access-control-allow-origin"] == DASHBOARD
    assert answer.headers["access-control-allow-methods"] == "GET, HEAD"
    assert "x-ssea-key" in answer.headers["access-control-allow-headers"].lower()
    assert answer.headers["vary"] == "Origin"


async def test_a_preflight_from_elsewhere_is_403(
    http: HttpClient, tenant: TenantRecord
) -> None:
    answer = await http.request(
        "OPTIONS",
        prefix(tenant) + "/overview",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "GET",
        },
    )

    assert error_of(answer, 403)["code"] == "CORS_REJECTED"
    assert "access-control-allow-origin" not in answer.headers


async def test_answers_to_the_dashboard_carry_cors_headers(
    keyed: HttpClient, tenant: TenantRecord
) -> None:
    answer = await keyed.get(prefix(tenant) + "/courses", headers={"Origin": DASHBOARD})

    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == DASHBOARD
    assert "X-Total-Count" in answer.headers["access-control-expose-headers"]
    assert answer.headers["vary"] == "Origin"


# -- every runtime at once -------------------------------------------------------------

SCRIPT: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/health", {}),
    ("HEAD", "/health", {}),
    ("POST", "/v1/events", {"json_body": EVENT}),
    ("POST", "/v1/events", {"json_body": EVENT}),
    ("POST", "/v1/events", {"content": b"not json"}),
    ("POST", "/v1/events", {"json_body": {"event_type": "course_viewed"}}),
    ("GET", "/v1/events", {}),
    ("DELETE", "/health", {}),
    ("GET", "/v1/nothing-here", {"params": {"q": "ñ é"}}),
    ("GET", "{tenant}/overview", {"params": {"days": 7}}),
    ("GET", "{tenant}/users", {"params": {"limit": 2, "sort": "name_asc"}}),
    ("GET", "{tenant}/heatmap", {"params": {"tz": "Nowhere/City"}}),
    ("GET", "{tenant}/courses", {"headers": {"Origin": DASHBOARD}}),
    (
        "OPTIONS",
        "{tenant}/courses",
        {"headers": {"Origin": DASHBOARD, "Access-Control-Request-Method": "GET"}},
    ),
]
#: Headers a transport adds or leaves out on its own.
TRANSPORT_HEADERS = {"content-length", "date", "server"}


async def test_every_runtime_answers_a_script_alike(
    runtimes: Runtimes, tenant: TenantRecord, api_key: str
) -> None:
    seen: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
    # Stored before, so that the script's events are duplicates on every runtime.
    stored = await runtimes.client("core", {"X-SSEA-Key": api_key}).post(
        "/v1/events", json_body=EVENT
    )
    assert stored.status == 202
    for runtime in runtimes.names:
        client = runtimes.client(runtime, {"X-SSEA-Key": api_key})
        seen[runtime] = []
        for method, path, options in SCRIPT:
            target = path.replace("{tenant}", prefix(tenant))
            answer = await client.request(method, target, **options)
            headers = {
                name: value
                for name, value in answer.headers.items()
                if name not in TRANSPORT_HEADERS and not name.startswith("x-ratelimit")
            }
            seen[runtime].append((answer.status, headers, answer.body))

    assert [status for status, _, _ in seen["core"]] == [
        200, 200, 202, 202, 400, 422, 405, 405, 404, 200, 200, 400, 200, 204,
    ]  # fmt: skip
    for runtime in runtimes.names[1:]:
        assert seen[runtime] == seen["core"], runtime
