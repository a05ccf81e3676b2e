"""At-risk students and alerts over the API (SPEC §3, §6), on both backends.

The tenant is the one of ``tests/storage/test_risk_store.py`` (which proves its
features), loaded at 2026-03-02 12:00 UTC and scored as of that moment. Overall
scores then: s3 critical 85.6 (k1), s6 critical 83.3 (k2), s5 high 50.4 (k1), s1 high
50.0 (k2; low 0.0 in k1), s2 medium 41.8, s4 low 19.1. t1 teaches k1 only. Later
moments move the clock and recompute: on March 5 s5 is high 59.3, on March 12
critical 81.0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import delete, select

from ssea_adapters.asgi import create_app
from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock
from ssea_core.records import TenantRecord
from ssea_core.risk.service import evaluate_tenant_alerts, recompute
from ssea_core.settings import Settings
from ssea_storage.sql.schema import alert_states, risk_pending, risk_scores
from ssea_storage.sql.store import SqlStore
from tests.adapters.test_asgi import lifespan
from tests.auth_support import bearer, session_token, tenant_secret, viewer_headers
from tests.conftest import MASTER_KEY, make_key, make_tenant
from tests.storage.test_risk_store import load_term
from tests.support import Answer, ApiClient

NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)
AT_RISK = ["s3", "s6", "s5", "s1"]  # by score, highest first
K1_ALERTS = 6  # of the 11 raised at noon, those of k1


class Api:
    """Calls under one tenant's prefix, with any credential."""

    def __init__(
        self,
        app: SseaApp,
        store: SqlStore,
        tenant: TenantRecord,
        clock: FixedClock,
        settings: Settings,
        key: str,
    ) -> None:
        self.app = app
        self.store = store
        self.tenant = tenant
        self.clock = clock
        self.settings = settings
        self.admin = ApiClient(app, {"X-SSEA-Key": key})
        self.prefix = f"/v1/tenants/{tenant.tenant_id}"

    def session(self, role: str, user: str | None = None) -> ApiClient:
        token = session_token(
            self.settings, self.clock.now(), self.tenant.tenant_id, role, user
        )
        return ApiClient(self.app, bearer(token))

    async def get(
        self, path: str, status: int = 200, client: ApiClient | None = None, **q: Any
    ) -> Any:
        answer = await (client or self.admin).get(self.prefix + path, params=q)
        assert answer.status == status, answer.body
        return answer.json()

    async def page(
        self, path: str, client: ApiClient | None = None, **q: Any
    ) -> tuple[Any, int]:
        answer = await (client or self.admin).get(self.prefix + path, params=q)
        assert answer.status == 200, answer.body
        return answer.json(), int(answer.headers["x-total-count"])

    async def post(self, path: str, client: ApiClient | None = None) -> Answer:
        return await (client or self.admin).post(self.prefix + path)

    async def recompute_at(self, moment: datetime) -> None:
        self.clock.set(moment)
        await recompute(
            self.store, self.tenant.tenant_id, as_of=moment, now=moment, alerts=True
        )

    def ids(self, rows: list[dict[str, Any]]) -> list[str]:
        return [row["user_id"] for row in rows]


@pytest.fixture
async def api(
    app: SseaApp,
    store: SqlStore,
    tenant: TenantRecord,
    clock: FixedClock,
    settings: Settings,
    api_key: str,
) -> Api:
    found = Api(app, store, tenant, clock, settings, api_key)
    await load_term(found.admin)
    await found.recompute_at(NOON)
    return found


async def key_id(api: Api) -> str:
    keys = await api.store.for_tenant(api.tenant.tenant_id).list_api_keys()
    return keys[0].key_id


# -- at-risk ------------------------------------------------------------------------


async def test_at_risk_lists_high_and_critical_students_by_score(api: Api) -> None:
    rows, total = await api.page("/at-risk")

    assert (api.ids(rows), total) == (AT_RISK, 4)
    s3 = rows[0]
    assert {name: s3[name] for name in s3 if name != "factors"} == {
        "user_id": "s3",
        "username": "s3",
        "full_name": "S3",
        "course_id": "k1",
        "risk_level": "critical",
        "risk_score": 85.6,
        "last_seen_at": None,  # never seen
        "days_inactive": 28,
        "completion_pct": 0.0,
        "acknowledged": False,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "as_of": "2026-03-02T12:00:00Z",
    }
    assert s3["factors"][0] == {
        "name": "inactivity",
        "value": 1.0,
        "weight": 0.278,
        "contribution": 27.8,
        "reason": "no course access in the 28 days since enrolment",
    }
    assert sum(factor["contribution"] for factor in s3["factors"]) == pytest.approx(
        85.6, abs=0.2
    )
    # s1's overall score is their k2 score, with k2's reasons.
    assert (rows[3]["course_id"], rows[3]["risk_score"]) == ("k2", 50.0)
    assert rows[3]["last_seen_at"] == "2026-03-01T10:00:00Z"


async def test_at_risk_scores_are_the_stored_ones(api: Api) -> None:
    rows, _ = await api.page("/at-risk", course_id="k1", risk_level="low")
    query = select(risk_scores.c.user_id, risk_scores.c.score).where(
        risk_scores.c.tenant_id == api.tenant.tenant_id,
        risk_scores.c.course_id == "k1",
        risk_scores.c.level == "low",
    )
    with api.store.engine.connect() as connection:
        stored = dict(connection.execute(query).all())

    assert {row["user_id"]: row["risk_score"] for row in rows} == stored
    assert all(row["course_id"] == "k1" for row in rows)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"course_id": "k2"}, ["s6", "s1"]),
        ({"course_id": "k1"}, ["s3", "s5"]),
        ({"course_id": "k9"}, []),
        ({"risk_level": "critical"}, ["s3", "s6"]),
        ({"risk_level": "medium"}, ["s2"]),
        ({"sort": "score_asc"}, ["s1", "s5", "s6", "s3"]),
        # days inactive 28, 12 (s6 in k2), 8 (s1 in k2), 5 (s5 in k1)
        ({"sort": "days_inactive_desc"}, ["s3", "s6", "s1", "s5"]),
        # last seen Feb 18, Feb 25, Mar 1; s3 never (nulls last)
        ({"sort": "last_seen_asc"}, ["s6", "s5", "s1", "s3"]),
        ({"limit": 2, "offset": 1}, ["s6", "s5"]),
    ],
)
async def test_at_risk_filters_sorts_and_pages(
    api: Api, params: dict[str, Any], expected: list[str]
) -> None:
    rows, total = await api.page("/at-risk", **params)

    assert api.ids(rows) == expected
    assert total == (4 if "limit" in params else len(expected))


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "name"},
        {"risk_level": "extreme"},
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"course_id": "x" * 65},
    ],
)
async def test_bad_at_risk_parameters_are_400(api: Api, params: dict[str, Any]) -> None:
    body = await api.get("/at-risk", status=400, **params)

    assert body["code"] == "BAD_REQUEST"
    assert body["ok"] is False


async def test_an_acknowledged_flag_is_raised_again_when_the_level_rises(
    api: Api,
) -> None:
    answer = await api.post("/at-risk/s5/acknowledge")
    assert (answer.status, answer.json()) == (200, {"ok": True})

    s5 = (await api.get("/at-risk", risk_level="high"))[0]
    assert s5["user_id"] == "s5"
    assert (s5["acknowledged"], s5["acknowledged_by"]) == (True, await key_id(api))
    assert s5["acknowledged_at"] == "2026-03-02T12:00:00Z"

    await api.recompute_at(datetime(2026, 3, 5, 12, tzinfo=UTC))
    s5 = (await api.get("/at-risk", risk_level="high"))[0]
    assert (s5["risk_score"], s5["acknowledged"]) == (59.3, True)  # still high

    await api.recompute_at(datetime(2026, 3, 12, 12, tzinfo=UTC))
    s5 = next(row for row in await api.get("/at-risk") if row["user_id"] == "s5")
    assert (s5["risk_level"], s5["acknowledged"]) == ("critical", False)
    assert s5["acknowledged_at"] is None

    answer = await api.post("/at-risk/s5/acknowledge")
    assert answer.status == 200
    s5 = next(row for row in await api.get("/at-risk") if row["user_id"] == "s5")
    assert (s5["acknowledged"], s5["acknowledged_at"]) == (
        True,
        "2026-03-12T12:00:00Z",
    )


async def test_acknowledging_is_recorded_with_the_session_subject(api: Api) -> None:
    manager = api.session("manager", "m7")

    answer = await api.post("/at-risk/s3/acknowledge", client=manager)

    assert answer.status == 200, answer.body
    s3 = (await api.get("/at-risk"))[0]
    assert (s3["user_id"], s3["acknowledged_by"]) == ("s3", "m7")


@pytest.mark.parametrize("user", ["nobody", "t1"])
async def test_acknowledging_a_student_without_a_score_is_404(
    api: Api, user: str
) -> None:
    answer = await api.post(f"/at-risk/{user}/acknowledge")

    assert (answer.status, answer.json()["code"]) == (404, "NOT_FOUND")


# -- alerts -------------------------------------------------------------------------


async def test_alerts_list_the_pending_ones_newest_first(api: Api) -> None:
    rows, total = await api.page("/alerts", limit=200)

    assert total == len(rows) == 11
    assert set(rows[0]) == {
        "alert_id",
        "user_id",
        "course_id",
        "alert_type",
        "severity",
        "message",
        "triggered_at",
        "acknowledged",
        "acknowledged_at",
        "acknowledged_by",
    }
    inactivity = {
        (row["user_id"], row["course_id"]): (row["severity"], row["message"])
        for row in rows
        if row["alert_type"] == "inactivity"
    }
    assert inactivity == {
        ("s3", "k1"): (
            "critical",
            "No course activity in the 28 days since enrolment",
        ),
        ("s6", "k2"): ("high", "No course activity for 12 days (last seen 2026-02-18)"),
        ("s1", "k2"): ("high", "No course activity for 8 days (last seen 2026-02-22)"),
    }
    assert all(row["alert_id"].startswith("alrt_") for row in rows)
    assert all(not row["acknowledged"] for row in rows)
    keys = [(row["triggered_at"], row["alert_id"]) for row in rows]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"alert_type": "inactivity"}, 3),
        ({"alert_type": "risk_level_change"}, 4),
        ({"alert_type": "performance_drop"}, 2),
        ({"alert_type": "completion_milestone"}, 2),
        ({"user_id": "s3"}, 3),
        ({"course_id": "k2"}, 5),
        ({"user_id": "s3", "course_id": "k2"}, 0),
    ],
)
async def test_alert_filters(api: Api, params: dict[str, Any], count: int) -> None:
    rows, total = await api.page("/alerts", **params)

    assert len(rows) == total == count


@pytest.mark.parametrize(
    "params",
    [{"include_acknowledged": "maybe"}, {"alert_type": "panic"}, {"limit": 0}],
)
async def test_bad_alert_parameters_are_400(api: Api, params: dict[str, Any]) -> None:
    body = await api.get("/alerts", status=400, **params)

    assert body["code"] == "BAD_REQUEST"


async def test_evaluating_again_never_duplicates(api: Api) -> None:
    tenant_id = api.tenant.tenant_id

    again = await evaluate_tenant_alerts(api.store, tenant_id, now=NOON)
    assert (again.raised, again.updated) == (0, 0)

    # Even with the rules' memory lost, the proposals update the open alerts.
    with api.store.engine.begin() as connection:
        connection.execute(
            delete(alert_states).where(alert_states.c.tenant_id == tenant_id)
        )
    forgotten = await evaluate_tenant_alerts(api.store, tenant_id, now=NOON)
    assert (forgotten.raised, forgotten.updated) == (0, 11)

    _, total = await api.page("/alerts", include_acknowledged="true")
    assert total == 11


async def test_an_open_alert_is_updated_in_place(api: Api) -> None:
    await api.recompute_at(datetime(2026, 3, 5, 12, tzinfo=UTC))

    rows = await api.get("/alerts", alert_type="inactivity", user_id="s6")

    assert [(row["severity"], row["triggered_at"]) for row in rows] == [
        ("critical", "2026-03-05T12:00:00Z")  # 15 days: the same alert, now critical
    ]


async def test_acknowledging_one_alert(api: Api) -> None:
    first = (await api.get("/alerts", alert_type="inactivity", user_id="s6"))[0]

    answer = await api.post(f"/alerts/{first['alert_id']}/acknowledge")
    assert (answer.status, answer.json()) == (200, {"ok": True})
    api.clock.advance(hours=1)
    again = await api.post(f"/alerts/{first['alert_id']}/acknowledge")
    assert again.status == 200  # idempotent: the first acknowledgement stays

    _, pending = await api.page("/alerts")
    assert pending == 10
    everything = await api.get("/alerts", include_acknowledged="true", limit=50)
    done = next(row for row in everything if row["alert_id"] == first["alert_id"])
    assert (done["acknowledged"], done["acknowledged_at"], done["acknowledged_by"]) == (
        True,
        "2026-03-02T12:00:00Z",
        await key_id(api),
    )


async def test_after_an_acknowledgement_a_new_alert_is_raised(api: Api) -> None:
    first = (await api.get("/alerts", alert_type="inactivity", user_id="s6"))[0]
    await api.post(f"/alerts/{first['alert_id']}/acknowledge")

    await api.recompute_at(datetime(2026, 3, 5, 12, tzinfo=UTC))

    rows = await api.get(
        "/alerts", alert_type="inactivity", user_id="s6", include_acknowledged="true"
    )
    assert [(row["severity"], row["acknowledged"]) for row in rows] == [
        ("critical", False),
        ("high", True),
    ]


async def test_acknowledge_all_answers_how_many(api: Api) -> None:
    answer = await api.post("/alerts/acknowledge-all")
    assert (answer.status, answer.json()) == (
        200,
        {"ok": True, "data": {"acknowledged": 11}},
    )

    again = await api.post("/alerts/acknowledge-all")
    assert again.json() == {"ok": True, "data": {"acknowledged": 0}}
    assert await api.page("/alerts") == ([], 0)


async def test_unknown_and_foreign_alerts_are_404(
    api: Api, store: SqlStore, clock: FixedClock
) -> None:
    mine = (await api.get("/alerts"))[0]["alert_id"]
    other = await make_tenant(store, clock, name="Other U")
    theirs = ApiClient(api.app, {"X-SSEA-Key": await make_key(store, clock, other)})
    prefix = f"/v1/tenants/{other.tenant_id}"

    unknown = await api.post("/alerts/alrt_0000/acknowledge")
    foreign = await theirs.post(f"{prefix}/alerts/{mine}/acknowledge")

    assert (unknown.status, unknown.json()["code"]) == (404, "NOT_FOUND")
    assert (foreign.status, foreign.json()["code"]) == (404, "NOT_FOUND")
    assert (await theirs.get(f"{prefix}/alerts")).json() == []
    cross = await theirs.get(f"{api.prefix}/alerts")
    assert (cross.status, cross.json()["code"]) == (403, "TENANT_MISMATCH")


# -- scopes ---------------------------------------------------------------------------


async def test_a_teacher_sees_their_students_with_their_course_scores(
    api: Api,
) -> None:
    teacher = api.session("teacher", "t1")

    rows, total = await api.page("/at-risk", client=teacher)

    # s1 is high overall (k2) but low in k1, the teacher's course.
    assert (api.ids(rows), total) == (["s3", "s5"], 2)
    assert {row["course_id"] for row in rows} == {"k1"}
    users = await api.get("/users", client=teacher)
    s1 = next(row for row in users if row["user_id"] == "s1")
    assert (s1["risk_level"], s1["risk_score"]) == ("low", 0.0)
    assert (await api.get("/at-risk", client=teacher, course_id="k2")) == []
    overview = await api.get("/overview", client=teacher)
    assert overview["at_risk_count"] == 2


async def test_a_teacher_handles_only_their_courses_alerts(api: Api) -> None:
    teacher = api.session("teacher", "t1")
    rows, total = await api.page("/alerts", client=teacher)
    assert total == K1_ALERTS
    assert {row["course_id"] for row in rows} == {"k1"}

    k2_alert = (await api.get("/alerts", course_id="k2"))[0]["alert_id"]
    refused = await api.post(f"/alerts/{k2_alert}/acknowledge", client=teacher)
    assert refused.status == 404

    answer = await api.post("/alerts/acknowledge-all", client=teacher)
    assert answer.json()["data"] == {"acknowledged": K1_ALERTS}
    _, left = await api.page("/alerts")
    assert left == 11 - K1_ALERTS


async def test_a_teacher_cannot_acknowledge_a_student_of_another_course(
    api: Api,
) -> None:
    answer = await api.post(
        "/at-risk/s6/acknowledge", client=api.session("teacher", "t1")
    )

    assert (answer.status, answer.json()["code"]) == (403, "OUT_OF_SCOPE")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/at-risk"),
        ("GET", "/alerts"),
        ("POST", "/alerts/acknowledge-all"),
        ("POST", "/at-risk/s3/acknowledge"),
    ],
)
async def test_a_student_session_may_not_call_them(
    api: Api, method: str, path: str
) -> None:
    student = api.session("student", "s3")

    answer = await student.request(method, api.prefix + path)

    assert (answer.status, answer.json()["code"]) == (403, "FORBIDDEN")


async def test_no_credential_is_401(api: Api, anonymous: ApiClient) -> None:
    for path in ("/at-risk", "/alerts"):
        answer = await anonymous.get(api.prefix + path)
        assert answer.status == 401


# -- the viewer routes -------------------------------------------------------------


@pytest.fixture
async def viewing(api: Api) -> Any:
    secret = await tenant_secret(api.store, api.tenant.tenant_id, "viewer", NOON)
    anonymous = ApiClient(api.app)
    exp = int(api.clock.now().timestamp()) + 600

    async def get(role: Any, caller: str, path: str) -> Answer:
        headers = viewer_headers(secret, api.tenant.tenant_id, role, caller, exp)
        return await anonymous.get(api.prefix + "/viewer" + path, headers=headers)

    return get


async def test_a_student_viewer_sees_only_their_own_alerts(
    api: Api, viewing: Any
) -> None:
    own = await viewing("student", "s3", "/student/s3/alerts")
    other = await viewing("student", "s3", "/student/s1/alerts")

    assert own.status == 200, own.body
    assert {row["user_id"] for row in own.json()} == {"s3"}
    assert own.headers["x-total-count"] == "3"
    assert (other.status, other.json()["code"]) == (403, "OUT_OF_SCOPE")


async def test_a_teacher_viewer_sees_a_students_alerts_in_their_courses(
    api: Api, viewing: Any
) -> None:
    answer = await viewing("teacher", "t1", "/student/s1/alerts")

    assert answer.status == 200, answer.body
    assert [(row["course_id"], row["alert_type"]) for row in answer.json()] == [
        ("k1", "completion_milestone")
    ]


async def test_a_teacher_viewer_sees_the_at_risk_students_of_their_courses(
    api: Api, viewing: Any
) -> None:
    own = await viewing("teacher", "t1", "/teacher/t1/students/at-risk")
    other = await viewing("teacher", "t1", "/teacher/t2/students/at-risk")
    student = await viewing("student", "s3", "/teacher/s3/students/at-risk")

    assert own.status == 200, own.body
    assert api.ids(own.json()) == ["s3", "s5"]
    assert (other.status, other.json()["code"]) == (403, "OUT_OF_SCOPE")
    assert (student.status, student.json()["code"]) == (403, "FORBIDDEN")


# -- the dashboard reads use the same scores -------------------------------------


async def test_users_carry_their_stored_risk(api: Api) -> None:
    users = await api.get("/users")
    risk = {row["user_id"]: (row["risk_level"], row["risk_score"]) for row in users}

    assert risk["s3"] == ("critical", 85.6)
    assert risk["s1"] == ("high", 50.0)
    assert risk["t1"] == (None, None)  # not a student: never scored
    critical, total = await api.page("/users", risk_level="critical")
    assert (sorted(api.ids(critical)), total) == (["s3", "s6"], 2)
    in_k1, _ = await api.page("/users", risk_level="low", course_id="k1")
    assert sorted(api.ids(in_k1)) == ["s1", "s4"]  # k1 scores 0.0 and 19.1


async def test_a_profile_shows_the_risk_and_when_it_was_computed(api: Api) -> None:
    profile = await api.get("/users/s1")

    risk = profile["risk"]
    assert (risk["risk_level"], risk["risk_score"], risk["course_id"]) == (
        "high",
        50.0,
        "k2",
    )
    assert (risk["as_of"], risk["computed_at"]) == (
        "2026-03-02T12:00:00Z",
        "2026-03-02T12:00:00Z",
    )
    assert risk["factors"][0]["reason"] == "no course access for 8 days"
    assert risk["courses"] == [
        {"course_id": "k1", "risk_level": "low", "risk_score": 0.0},
        {"course_id": "k2", "risk_level": "high", "risk_score": 50.0},
    ]
    assert (profile["user"]["risk_level"], profile["user"]["risk_score"]) == (
        "high",
        50.0,
    )


async def test_overview_and_courses_count_the_students_at_risk(api: Api) -> None:
    overview = await api.get("/overview")
    courses = await api.get("/courses")

    assert overview["at_risk_count"] == 4
    counts = {row["course_id"]: row["at_risk_count"] for row in courses}
    assert counts == {"k1": 2, "k2": 2}


async def test_scores_are_null_until_computed(
    store: SqlStore, clock: FixedClock, app: SseaApp
) -> None:
    fresh = await make_tenant(store, clock, name="Fresh U")
    client = ApiClient(app, {"X-SSEA-Key": await make_key(store, clock, fresh)})
    await load_term(client)
    prefix = f"/v1/tenants/{fresh.tenant_id}"

    users = (await client.get(prefix + "/users")).json()
    profile = (await client.get(prefix + "/users/s3")).json()

    assert {(row["risk_level"], row["risk_score"]) for row in users} == {(None, None)}
    assert profile["risk"] is None
    assert (await client.get(prefix + "/at-risk")).json() == []
    assert (await client.get(prefix + "/overview")).json()["at_risk_count"] == 0


async def test_a_recompute_as_of_an_earlier_day_says_so(api: Api) -> None:
    earlier = NOON - timedelta(hours=12)
    await recompute(api.store, api.tenant.tenant_id, as_of=earlier, now=NOON)

    rows = await api.get("/at-risk")
    profile = await api.get("/users/s3")

    assert {row["as_of"] for row in rows} == {"2026-03-02T00:00:00Z"}
    assert profile["risk"]["as_of"] == "2026-03-02T00:00:00Z"
    assert profile["risk"]["computed_at"] == "2026-03-02T12:00:00Z"


# -- the scheduler inside the ASGI application -------------------------------------


async def test_the_asgi_lifespan_recomputes_after_ingestion(
    store: SqlStore, tenant: TenantRecord, clock: FixedClock, api_key: str
) -> None:
    settings = Settings(
        database_url="sqlite://",
        master_key=MASTER_KEY,
        risk_interval_seconds=0.05,
        report_worker_enabled=False,
    )
    app = create_app(settings, store=store, clock=clock)
    query = select(risk_scores.c.score).where(
        risk_scores.c.tenant_id == tenant.tenant_id,
        risk_scores.c.user_id == "s3",
        risk_scores.c.course_id == "k1",
    )

    def scored() -> Any:
        with store.engine.connect() as connection:
            return connection.execute(query).scalar_one_or_none()

    with store.engine.begin() as connection:
        connection.execute(delete(risk_pending))  # earlier tests' tenants: not here

    async with lifespan(app) as exchange:
        started = await exchange("lifespan.startup")
        await load_term(ApiClient(await app.core(), {"X-SSEA-Key": api_key}))
        # Passes may run between the syncs and the events; the last one sees all.
        # A pass that overlapped the last write leaves the mark for the next pass,
        # even when its scores already came out final: wait for both.
        with anyio.fail_after(20):
            while scored() != 85.6 or pending_marks(store, tenant):  # noqa: ASYNC110
                await anyio.sleep(0.05)
        stopped = await exchange("lifespan.shutdown")

    assert started["type"] == "lifespan.startup.complete"
    assert stopped["type"] == "lifespan.shutdown.complete"
    assert pending_marks(store, tenant) == []


def pending_marks(store: SqlStore, tenant: TenantRecord) -> list[Any]:
    query = select(risk_pending.c.since).where(
        risk_pending.c.tenant_id == tenant.tenant_id
    )
    with store.engine.connect() as connection:
        return list(connection.execute(query).scalars())
