"""Risk features built from the store (SPEC §6), checked against hand-built ones.

A small tenant is loaded through the API (sync, then events) at 2026-03-02 12:00 UTC.
Its features as of midnight 2026-03-02 are written out below by hand, from the data
alone; the store must build exactly those, and the stored scores must be what the
pure ``score`` gives for them. Later data (a visit, a grade and a completion on the
morning of March 2) must only count as of noon.

Course k1 runs 2026-02-02 to 2026-05-25; k2 has no dates (rolling enrolment). Every
event stands alone (more than 30 minutes from the user's others), so it is a session
of 60 s, except s1's two visits of Feb 24 (10:00, 10:10): 600 + 60 s.

k1 activity before March 2 (days of February unless said), and what it rolls up to
over the recent window (Feb 16 to Mar 1) and since enrolment (events, days, seconds):
- s1: 3, 10, 14 (submits as1), 17, 24 (two visits), 27 (submits as2), Mar 1;
  recent 5, 4, 840; since 8, 7, 1020.
- s2: 5, 12, 16 (submits as1, late); recent 1, 1, 60; since 3, 3, 180.
- s3: only a CLI event (not the student's own): zeros, never seen.
- s4: 16, 28 (submits as2, late); recent and since 2, 2, 120.
- s5: 20 (before enrolling on Feb 23 10:00), 25; recent and since 1, 1, 60.

Not students of k1 as of March 2: t1 (teacher), s7 (deleted user), s8 (suspended
enrolment), s9 (enrols on March 10), s10 (enrolment ended Feb 25), s11 (suspended
user).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from ssea_core.clock import FixedClock
from ssea_core.errors import MisconfiguredError
from ssea_core.records import TenantRecord
from ssea_core.risk import (
    ActivityCounts,
    AlertSettings,
    CompletionCounts,
    GradeResult,
    PeerDistribution,
    RiskSettings,
    StudentFeatures,
    SubmissionCounts,
    score,
)
from ssea_core.risk.builder import build_features
from ssea_core.risk.records import score_detail
from ssea_core.risk.scoring import overall
from ssea_core.risk.service import recompute, run_pending
from ssea_storage.sql.schema import alert_states, risk_pending, risk_scores, tenants
from ssea_storage.sql.store import SqlStore
from tests.support import ApiClient

MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def day(month: int, number: int) -> datetime:
    return datetime(2026, month, number, tzinfo=UTC)


def _people(*ids: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"user_id": user, "username": user, "full_name": user.upper(), **extra}
            for user in ids]  # fmt: skip


USERS = [
    *_people("s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "t1"),
    *_people("s11", suspended=True),
]
COURSES = [
    {
        "course_id": "k1",
        "fullname": "Statistics",
        "start_date": "2026-02-02",
        "end_date": "2026-05-25",
    },
    {"course_id": "k2", "fullname": "Self-paced Writing"},
]


def _module(module_id: str, modname: str, due: str | None = None, **extra: Any):
    return {
        "module_id": module_id,
        "course_id": "k1",
        "modname": modname,
        "name": module_id,
        "completion_enabled": True,
        "due_date": due,
        **extra,
    }


MODULES = [
    _module("as1", "assign", "2026-02-15T23:59:00Z"),
    _module("as2", "assign", "2026-02-27T23:59:00Z"),
    _module("as3", "assign", "2026-03-20T23:59:00Z"),  # not due yet
    _module("as4", "assign", "2026-02-10T23:59:00Z"),  # nobody handed it in
    _module("mq", "quiz"),
    _module("pg", "page", visible=False),  # hidden: not tracked
    _module("rs", "resource", completion_enabled=False),
]


def _enrol(user: str, course: str, start: str, role: str = "student", **extra: Any):
    return {
        "user_id": user,
        "course_id": course,
        "role": role,
        "time_start": start,
        **extra,
    }


ENROLMENTS = [
    *(_enrol(user, "k1", "2026-02-02") for user in ("s1", "s2", "s3", "s4")),
    _enrol("s5", "k1", "2026-02-23T10:00:00Z"),
    _enrol("s1", "k2", "2026-02-20"),
    _enrol("s6", "k2", "2026-02-16"),
    _enrol("t1", "k1", "2026-01-20", role="editingteacher"),
    _enrol("s7", "k1", "2026-02-02"),
    _enrol("s8", "k1", "2026-02-02", status="suspended"),
    _enrol("s9", "k1", "2026-03-10"),
    _enrol("s10", "k1", "2026-02-02", time_end="2026-02-25"),
    _enrol("s11", "k1", "2026-02-02"),
]

A1 = {"item_name": "Assignment 1", "item_type": "mod", "grademax": 20, "gradepass": 10}
QUIZ = {"item_name": "Quiz 1", "item_type": "quiz", "grademax": 10, "gradepass": 0}
MODULE_QUIZ = {"item_name": "Module quiz", "item_type": "mod", "grademax": 10}
TOTAL = {"item_name": "Course total", "item_type": "course"}


def _grade(user: str, item: str, final: float | None, graded: str, **fields: Any):
    return {
        "user_id": user,
        "course_id": "k1",
        "item_id": item,
        "finalgrade": final,
        "graded_at": graded,
        **fields,
    }


GRADES = [
    _grade("s1", "a1", 16, "2026-02-20T09:00:00Z", **A1),  # 80 %, pass 50 %
    _grade("s2", "a1", 6, "2026-02-20T09:00:00Z", **A1),  # 30 %
    _grade("s3", "a1", 9, "2026-02-20T09:00:00Z", **A1),  # 45 %
    _grade("s1", "qz1", 9, "2026-02-25T09:00:00Z", **QUIZ),  # 90 %, no pass mark
    _grade("s2", "qz1", 3, "2026-02-25T09:00:00Z", **QUIZ),  # 30 %
    # A "mod" item whose id is a quiz module's: a quiz; graded after midnight.
    _grade("s2", "mq", 4, "2026-03-02T09:00:00Z", gradepass=5, **MODULE_QUIZ),
    _grade("s1", "tot", 80, "2026-02-26T09:00:00Z", gradepass=50, **TOTAL),
    _grade("s1", "a2", None, "2026-02-26T09:00:00Z", item_name="Not graded"),
    _grade("s4", "zr", 0, "2026-02-20T09:00:00Z", grademax=0),  # empty range
]


def _done(user: str, module: str | None, state: str, when: str, course: str = "k1"):
    return {
        "user_id": user,
        "course_id": course,
        "module_id": module,
        "state": state,
        "completed_at": when,
    }


COMPLETIONS = [
    _done("s1", "as1", "complete", "2026-02-14T10:00:00Z"),
    _done("s1", "as2", "complete_pass", "2026-02-28T09:00:00Z"),
    _done("s1", "mq", "complete", "2026-03-02T09:00:00Z"),  # after midnight
    _done("s1", "pg", "complete", "2026-02-10T10:00:00Z"),  # not tracked
    _done("s2", "as1", "complete_fail", "2026-02-16T10:00:00Z"),  # not done
    _done("s4", "as2", "complete", "2026-02-28T10:00:00Z"),
    _done("s1", None, "complete", "2026-03-01T10:00:00Z", course="k2"),
]


def _event(user: str, when: str, course: str | None = "k1", **extra: Any):
    event: dict[str, Any] = {
        "event_type": "course_viewed",
        "user_id": user,
        "timestamp": when,
    }
    if course is not None:
        event["course_id"] = course
    return {**event, **extra}


def _submit(user: str, when: str, module: str) -> dict[str, Any]:
    return _event(
        user,
        when,
        event_type="assignment_submitted",
        module_id=module,
        metadata={"submission_status": "submitted"},
    )


EVENTS = [
    _event("s1", "2026-02-03T10:00:00Z"),
    _event("s1", "2026-02-10T10:00:00Z"),
    _submit("s1", "2026-02-14T10:00:00Z", "as1"),
    _event("s1", "2026-02-17T10:00:00Z"),
    _event("s1", "2026-02-24T10:00:00Z"),
    _event("s1", "2026-02-24T10:10:00Z"),
    _event("s1", "2026-02-27T10:00:00Z", course=None, event_type="user_login"),
    _submit("s1", "2026-02-27T20:00:00Z", "as2"),
    _event("s1", "2026-03-01T10:00:00Z"),
    _event("s1", "2026-02-22T10:00:00Z", course="k2"),
    _event("s2", "2026-02-05T10:00:00Z"),
    _event("s2", "2026-02-12T10:00:00Z"),
    _submit("s2", "2026-02-16T10:00:00Z", "as1"),
    _event("s2", "2026-03-02T08:00:00Z"),  # after midnight
    _event("s3", "2026-02-20T10:00:00Z", origin="cli"),  # not the student's own
    _event("s4", "2026-02-16T10:00:00Z"),
    _submit("s4", "2026-02-28T10:00:00Z", "as2"),
    _event("s5", "2026-02-20T10:00:00Z"),  # before enrolling
    _event("s5", "2026-02-25T10:00:00Z"),
    _event("s6", "2026-02-18T10:00:00Z", course="k2"),
    _event("t1", "2026-02-26T10:00:00Z"),
    _event("s10", "2026-02-10T10:00:00Z"),
]

CATALOGUE = [
    ("users", USERS),
    ("users", [{"user_id": "s7", "deleted": True}]),
    ("courses", COURSES),
    ("modules", MODULES),
    ("enrolments", ENROLMENTS),
    ("grades", GRADES),
    ("completions", COMPLETIONS),
]


async def load_term(client: ApiClient) -> None:
    """Sync the catalogue, then send the events, through the ingestion API."""
    for entity, items in CATALOGUE:
        answer = await client.post(f"/v1/sync/{entity}", json_body={"items": items})
        assert answer.status == 202, answer.body
        assert answer.json()["data"]["skipped"] == 0, answer.body
    answer = await client.post("/v1/events/batch", json_body={"events": EVENTS})
    assert answer.status == 202, answer.body
    assert answer.json()["data"]["skipped"] == 0, answer.body


# -- the features as of midnight, by hand ---------------------------------------------


def peers(*counts: tuple[int, int, int]) -> PeerDistribution:
    return PeerDistribution.of(ActivityCounts(*item) for item in counts)


K1_RECENT = peers((5, 4, 840), (1, 1, 60), (0, 0, 0), (2, 2, 120), (1, 1, 60))
K1_SINCE = peers((8, 7, 1020), (3, 3, 180), (0, 0, 0), (2, 2, 120), (1, 1, 60))
K2_PEERS = peers((1, 1, 60), (1, 1, 60))
A1_DATE = at("2026-02-20T09:00:00Z")
QUIZ_DATE = at("2026-02-25T09:00:00Z")
TRACKED_K1 = 5  # as1, as2, as3, as4, mq


def k1(user: str, **fields: Any) -> StudentFeatures:
    defaults: dict[str, Any] = {
        "enrolled_at": day(2, 2),
        "course_start": day(2, 2),
        "course_end": day(5, 25),
        "peers_recent": K1_RECENT,
        "peers_since_enrolment": K1_SINCE,
    }
    return StudentFeatures(user, MIDNIGHT, "k1", **(defaults | fields))


def k2(user: str, **fields: Any) -> StudentFeatures:
    defaults = {"peers_recent": K2_PEERS, "peers_since_enrolment": K2_PEERS}
    return StudentFeatures(user, MIDNIGHT, "k2", **(defaults | fields))


EXPECTED = [
    k1(
        "s1",
        last_seen_at=day(3, 1),
        recent=ActivityCounts(5, 4, 840),
        since_enrolment=ActivityCounts(8, 7, 1020),
        results=(
            GradeResult(80.0, 50.0, A1_DATE, "grade"),
            GradeResult(90.0, None, QUIZ_DATE, "quiz"),
        ),
        submissions=SubmissionCounts(due=2),
        completion=CompletionCounts(TRACKED_K1, 2),
    ),
    k2(
        "s1",
        enrolled_at=day(2, 20),
        last_seen_at=day(2, 22),
        recent=ActivityCounts(1, 1, 60),
        since_enrolment=ActivityCounts(1, 1, 60),
        completion=CompletionCounts(0, 0, course_complete=True),
    ),
    k1(
        "s2",
        last_seen_at=day(2, 16),
        recent=ActivityCounts(1, 1, 60),
        since_enrolment=ActivityCounts(3, 3, 180),
        results=(
            GradeResult(30.0, 50.0, A1_DATE, "grade"),
            GradeResult(30.0, None, QUIZ_DATE, "quiz"),
        ),
        submissions=SubmissionCounts(due=2, late=1, missing=1),
        completion=CompletionCounts(TRACKED_K1, 0),
    ),
    k1(
        "s3",
        recent=ActivityCounts(),
        since_enrolment=ActivityCounts(),
        results=(GradeResult(45.0, 50.0, A1_DATE, "grade"),),
        submissions=SubmissionCounts(due=2, missing=2),
        completion=CompletionCounts(TRACKED_K1, 0),
    ),
    k1(
        "s4",
        last_seen_at=day(2, 28),
        recent=ActivityCounts(2, 2, 120),
        since_enrolment=ActivityCounts(2, 2, 120),
        submissions=SubmissionCounts(due=2, late=1, missing=1),
        completion=CompletionCounts(TRACKED_K1, 1),
    ),
    k1(
        "s5",
        enrolled_at=at("2026-02-23T10:00:00Z"),
        last_seen_at=day(2, 25),
        recent=ActivityCounts(1, 1, 60),
        since_enrolment=ActivityCounts(1, 1, 60),
        submissions=SubmissionCounts(due=1, missing=1),  # as1 was due before
        completion=CompletionCounts(TRACKED_K1, 0),
    ),
    k2(
        "s6",
        enrolled_at=day(2, 16),
        last_seen_at=day(2, 18),
        recent=ActivityCounts(1, 1, 60),
        since_enrolment=ActivityCounts(1, 1, 60),
    ),
]


@pytest.fixture
async def term(client: ApiClient, tenant: TenantRecord) -> TenantRecord:
    await load_term(client)
    return tenant


async def features_as_of(
    store: SqlStore, tenant: TenantRecord, as_of: datetime
) -> list[StudentFeatures]:
    inputs = await store.for_tenant(tenant.tenant_id).risk().inputs(as_of, SETTINGS)
    return build_features(inputs)


SETTINGS = RiskSettings()


async def test_the_store_builds_the_hand_computed_features(
    store: SqlStore, term: TenantRecord
) -> None:
    assert await features_as_of(store, term, MIDNIGHT) == EXPECTED


async def test_data_dated_after_as_of_does_not_count(
    store: SqlStore, term: TenantRecord
) -> None:
    later = {
        (item.user_id, item.course_id): item
        for item in await features_as_of(store, term, NOON)
    }

    # The visit, the grade and the completion of March 2 morning count at noon.
    s2 = later[("s2", "k1")]
    assert s2.last_seen_at == day(3, 2)
    assert s2.since_enrolment == ActivityCounts(4, 4, 240)
    assert s2.recent == ActivityCounts(1, 1, 60)  # Feb 16 left the 14 days
    assert GradeResult(40.0, 50.0, at("2026-03-02T09:00:00Z"), "quiz") in s2.results
    assert later[("s1", "k1")].completion == CompletionCounts(TRACKED_K1, 3)
    assert later[("s4", "k1")].recent == ActivityCounts(1, 1, 60)
    # Nothing else moved but the moment.
    unchanged = [item for item in EXPECTED if item.user_id not in ("s1", "s2", "s4")]
    for item in unchanged:
        moved = later[(item.user_id, item.course_id or "")]
        assert moved == replace(
            item,
            as_of=NOON,
            peers_recent=moved.peers_recent,
            recent=moved.recent,
            peers_since_enrolment=moved.peers_since_enrolment,
        )


async def test_a_tenant_without_events_has_no_activity_factors(
    store: SqlStore, client: ApiClient, tenant: TenantRecord
) -> None:
    for entity, items in CATALOGUE:
        await client.post(f"/v1/sync/{entity}", json_body={"items": items})

    found = await features_as_of(store, tenant, MIDNIGHT)

    assert found
    assert all(item.recent is None and item.last_seen_at is None for item in found)
    assert all(item.peers_recent is None for item in found)


# -- scores ---------------------------------------------------------------------------


def stored(store: SqlStore, tenant: TenantRecord) -> dict[tuple[str, str], Any]:
    query = select(risk_scores).where(risk_scores.c.tenant_id == tenant.tenant_id)
    with store.engine.connect() as connection:
        return {(row.user_id, row.course_id): row for row in connection.execute(query)}


async def test_recompute_stores_the_pure_scores_of_those_features(
    store: SqlStore, term: TenantRecord
) -> None:
    summary = await recompute(
        store, term.tenant_id, as_of=MIDNIGHT, now=NOON, alerts=False
    )

    rows = stored(store, term)
    for features in EXPECTED:
        expected = score(features, SETTINGS)
        row = rows[(features.user_id, features.course_id or "")]
        assert (row.score, row.level) == (expected.score, expected.level)
        assert row.factors == score_detail(expected, features)
        assert (row.as_of, row.computed_at) == (MIDNIGHT, NOON)
    # Overall: the highest course of each student.
    s1 = overall(score(item, SETTINGS) for item in EXPECTED if item.user_id == "s1")
    assert s1 is not None
    assert rows[("s1", "")].score == s1.score
    assert rows[("s1", "")].factors["course_id"] == s1.course_id
    assert len(rows) == len(EXPECTED) + 6  # one overall row per student
    assert (summary.enrolments, summary.students) == (7, 6)
    assert summary.alerts is None


async def test_a_never_seen_student_by_hand(
    store: SqlStore, term: TenantRecord
) -> None:
    await recompute(store, term.tenant_id, as_of=MIDNIGHT, now=NOON, alerts=False)

    row = stored(store, term)[("s3", "k1")]

    # inactivity 1 (28 days since the course start), engagement 0.8 (10th
    # percentile on every measure), grades 0.55 (45 % against 50 %), submissions 1
    # (2 of 2 missing), completion 1 (0 of 1.25 expected): no quiz, so the weights
    # are .25 + .20 + .20 + .15 + .10 = .90 and the score 100 * .77 / .90 = 85.6.
    assert (row.score, row.level) == (85.6, "critical")
    assert [factor["name"] for factor in row.factors["factors"]] == [
        "inactivity",  # 25 points
        "engagement",  # 16
        "submissions",  # 15
        "grades",  # 11
        "completion",  # 10
    ]
    assert row.factors["unavailable"] == ["quizzes"]
    assert row.factors["days_inactive"] == 28
    assert row.factors["completion_pct"] == 0.0


async def test_recompute_replaces_the_previous_scores(
    store: SqlStore, term: TenantRecord, client: ApiClient
) -> None:
    await recompute(store, term.tenant_id, as_of=MIDNIGHT, now=NOON, alerts=False)
    ended = _enrol("s5", "k1", "2026-02-23T10:00:00Z", time_end="2026-02-28")
    await client.post("/v1/sync/enrolments", json_body={"items": [ended]})

    await recompute(store, term.tenant_id, as_of=MIDNIGHT, now=NOON, alerts=False)

    assert not any(user == "s5" for user, _ in stored(store, term))


async def test_settings_come_from_the_tenant(
    store: SqlStore, term: TenantRecord
) -> None:
    custom = {"risk": {"weights": {"inactivity": 1, "engagement": 0, "grades": 0,
              "quizzes": 0, "submissions": 0, "completion": 0}}}  # fmt: skip
    with store.engine.begin() as connection:
        connection.execute(
            update(tenants)
            .where(tenants.c.tenant_id == term.tenant_id)
            .values(settings=custom)
        )

    await recompute(store, term.tenant_id, as_of=MIDNIGHT, now=NOON, alerts=False)

    # Only inactivity counts: 28 days is past the 14 that make it 1.
    assert stored(store, term)[("s3", "k1")].score == 100.0


async def test_invalid_settings_are_refused_with_their_field(
    store: SqlStore, term: TenantRecord
) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            update(tenants)
            .where(tenants.c.tenant_id == term.tenant_id)
            .values(settings={"risk": {"high_from": 10}})
        )

    with pytest.raises(MisconfiguredError, match="level thresholds must increase"):
        await recompute(store, term.tenant_id, as_of=MIDNIGHT, now=NOON)


async def test_saved_settings_keep_other_keys_and_mark_the_tenant(
    store: SqlStore, tenant: TenantRecord
) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            update(tenants)
            .where(tenants.c.tenant_id == tenant.tenant_id)
            .values(settings={"other": 1})
        )
    repository = store.for_tenant(tenant.tenant_id).risk()
    chosen = RiskSettings(high_from=60)

    await repository.save_settings(chosen, AlertSettings(), now=NOON)

    assert await repository.settings() == (chosen, AlertSettings())
    with store.engine.connect() as connection:
        stored = connection.execute(
            select(tenants.c.settings).where(tenants.c.tenant_id == tenant.tenant_id)
        ).scalar_one()
    assert stored["other"] == 1
    assert pending(store, tenant) == [NOON]


# -- the queue ------------------------------------------------------------------------


def pending(store: SqlStore, tenant: TenantRecord) -> list[datetime]:
    query = select(risk_pending.c.since).where(
        risk_pending.c.tenant_id == tenant.tenant_id
    )
    with store.engine.connect() as connection:
        return [row[0] for row in connection.execute(query)]


async def test_ingestion_and_sync_mark_the_tenant(
    store: SqlStore, client: ApiClient, tenant: TenantRecord, clock: FixedClock
) -> None:
    assert pending(store, tenant) == []
    await client.post("/v1/sync/users", json_body={"items": USERS[:1]})
    assert pending(store, tenant) == [NOON]

    clock.advance(minutes=5)
    await client.post("/v1/events/batch", json_body={"events": EVENTS[:2]})
    assert pending(store, tenant) == [NOON + timedelta(minutes=5)]


async def test_a_duplicate_event_does_not_mark_the_tenant(
    store: SqlStore, client: ApiClient, tenant: TenantRecord
) -> None:
    await client.post("/v1/events/batch", json_body={"events": EVENTS[:2]})
    with store.engine.begin() as connection:
        connection.execute(delete(risk_pending))

    await client.post("/v1/events/batch", json_body={"events": EVENTS[:2]})

    assert pending(store, tenant) == []


async def test_the_scheduler_computes_marked_tenants_and_clears_them(
    store: SqlStore, term: TenantRecord, clock: FixedClock
) -> None:
    done = await run_pending(store, clock)

    assert term.tenant_id in [summary.tenant_id for summary in done]
    assert pending(store, term) == []
    assert stored(store, term)[("s3", "k1")].as_of == NOON


async def test_a_mark_set_again_during_a_recompute_is_kept(
    store: SqlStore, term: TenantRecord
) -> None:
    queue = store.risk_queue()
    [mark] = [
        item for item in await queue.pending() if item.tenant_id == term.tenant_id
    ]
    claim = await queue.claim(mark, now=NOON)
    assert claim is not None
    assert await queue.claim(mark, now=NOON) is None  # a second scheduler: taken

    await queue.mark(term.tenant_id, now=NOON)  # new data, even at the same instant

    assert not await queue.clear(claim)
    assert pending(store, term) == [NOON]


async def test_a_claim_is_left_alone_until_its_lease_ends(
    store: SqlStore, term: TenantRecord, clock: FixedClock
) -> None:
    queue = store.risk_queue()
    [mark] = [
        item for item in await queue.pending() if item.tenant_id == term.tenant_id
    ]
    assert await queue.claim(mark, now=NOON) is not None  # then its scheduler died
    [claimed] = [i for i in await queue.pending() if i.tenant_id == term.tenant_id]
    assert claimed.claimed_at is not None
    assert NOON <= claimed.claimed_at < NOON + timedelta(milliseconds=1)

    early = await run_pending(store, clock)
    clock.advance(minutes=16)
    late = await run_pending(store, clock)

    assert term.tenant_id not in [summary.tenant_id for summary in early]
    assert term.tenant_id in [summary.tenant_id for summary in late]
    assert pending(store, term) == []


async def test_a_failing_tenant_keeps_its_mark(
    store: SqlStore, term: TenantRecord, clock: FixedClock
) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            update(tenants)
            .where(tenants.c.tenant_id == term.tenant_id)
            .values(settings={"alerts": {"inactivity_days": 0}})
        )

    done = await run_pending(store, clock)

    assert term.tenant_id not in [summary.tenant_id for summary in done]
    [left] = pending(store, term)  # claimed and left: tried again after the lease
    assert left.year == 1926

    repository = store.for_tenant(term.tenant_id).risk()
    await repository.save_settings(RiskSettings(), AlertSettings(), now=NOON)
    fixed = await run_pending(store, clock)  # the fix marked it: at once

    assert term.tenant_id in [summary.tenant_id for summary in fixed]
    assert pending(store, term) == []


# -- alert states -----------------------------------------------------------------


async def test_alert_states_round_trip(store: SqlStore, term: TenantRecord) -> None:
    await recompute(store, term.tenant_id, as_of=MIDNIGHT, now=NOON)
    repository = store.for_tenant(term.tenant_id).risk()

    states = await repository.alert_states()

    s3 = states[("s3", "k1")]
    assert (s3.as_of, s3.last_seen_at, s3.days_inactive) == (MIDNIGHT, None, 28)
    assert (s3.risk_level, s3.completion_percent, s3.results_seen) == (
        "critical",
        0.0,
        1,
    )
    with store.engine.connect() as connection:
        count = connection.execute(
            select(alert_states.c.user_id).where(
                alert_states.c.tenant_id == term.tenant_id
            )
        ).all()
    assert len(count) == len(EXPECTED)
