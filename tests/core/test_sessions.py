"""Sessions and time spent (SPEC §5), checked against values worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ssea_core.ingest.sessions import (
    SITE,
    Activity,
    Contributions,
    Session,
    SessionPolicy,
    Tally,
    contributions,
    difference,
    sessionize,
)

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
POLICY = SessionPolicy()  # 30 min gap, 60 s tail


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def act(
    seconds: float,
    event_id: str,
    event_type: str = "course_viewed",
    course_id: str | None = "c1",
) -> Activity:
    return Activity(at(seconds), event_id, event_type, course_id)


def ids(sessions: list[Session]) -> list[list[str]]:
    return [[event.event_id for event in session.events] for session in sessions]


def test_a_gap_of_exactly_thirty_minutes_stays_in_the_session() -> None:
    found = sessionize([act(0, "a"), act(1800, "b")], POLICY)

    assert ids(found) == [["a", "b"]]
    assert found[0].dwells == [1800, 60]


def test_one_second_more_than_thirty_minutes_starts_a_new_session() -> None:
    found = sessionize([act(0, "a"), act(1801, "b")], POLICY)

    assert ids(found) == [["a"], ["b"]]
    assert [session.dwells for session in found] == [[60], [60]]


def test_a_login_starts_a_session_even_after_a_short_gap() -> None:
    events = [act(0, "a"), act(60, "b", "user_login"), act(120, "c")]

    found = sessionize(events, POLICY)

    assert ids(found) == [["a"], ["b", "c"]]
    assert [session.seconds for session in found] == [60, 60 + 60]


def test_a_logout_ends_the_session() -> None:
    events = [act(0, "a"), act(30, "b", "user_logout"), act(90, "c")]

    found = sessionize(events, POLICY)

    assert ids(found) == [["a", "b"], ["c"]]
    # The logout is the last event of its session: it gets the tail, not the gap.
    assert found[0].dwells == [30, 60]


def test_events_at_the_same_time_are_ordered_by_event_id() -> None:
    events = [act(0, "b"), act(0, "a", "user_logout"), act(0, "c")]

    forward = sessionize(events, POLICY)
    backward = sessionize(list(reversed(events)), POLICY)

    # 'a' (a logout) sorts first, so it ends a session of its own whatever the input.
    assert ids(forward) == ids(backward) == [["a"], ["b", "c"]]


def test_the_last_event_gets_the_tail_allowance() -> None:
    policy = SessionPolicy(gap_seconds=1800, tail_seconds=45)

    found = sessionize([act(0, "a"), act(100, "b"), act(250, "c")], policy)

    assert found[0].dwells == [100, 150, 45]
    assert found[0].seconds == 295


def test_a_dwell_is_capped_at_the_gap() -> None:
    policy = SessionPolicy(gap_seconds=600, tail_seconds=0)

    found = sessionize([act(0, "a"), act(600, "b"), act(601.9, "c")], policy)

    # The gap 600 → 601.9 is under the cap; fractions of seconds are dropped.
    assert found[0].dwells == [600, 1, 0]


def test_no_events_make_no_sessions() -> None:
    assert sessionize([], POLICY) == []


def test_session_ids_depend_on_the_first_event_only() -> None:
    short = sessionize([act(0, "a")], POLICY)[0]
    longer = sessionize([act(0, "a"), act(5, "z")], POLICY)[0]
    other = sessionize([act(0, "b")], POLICY)[0]

    assert short.session_id("t", "u") == longer.session_id("t", "u")
    assert short.session_id("t", "u") != other.session_id("t", "u")
    assert short.session_id("t", "u") != short.session_id("t", "v")
    assert short.session_id("t", "u") != short.session_id("t2", "u")


def test_contributions_per_day_hour_and_course() -> None:
    # 23:50 site-level, 23:55 in c1, then 00:10 next day in c2: one session, three
    # days/hours/courses; then a new session at 01:00 (gap 50 min) in c2.
    start = datetime(2026, 3, 1, 23, 50, tzinfo=UTC)
    events = [
        Activity(start, "e1", "user_login", None),
        Activity(start + timedelta(minutes=5), "e2", "course_viewed", "c1"),
        Activity(start + timedelta(minutes=20), "e3", "page_viewed", "c2"),
        Activity(start + timedelta(minutes=70), "e4", "page_viewed", "c2"),
    ]

    found = contributions(sessionize(events, POLICY))

    day1, day2 = date(2026, 3, 1), date(2026, 3, 2)
    assert found.daily == {
        (day1, SITE): Tally(events=1, sessions=1, seconds=300),
        (day1, "c1"): Tally(events=1, sessions=0, seconds=900),
        (day2, "c2"): Tally(events=2, sessions=1, seconds=60 + 60),
    }
    h23 = datetime(2026, 3, 1, 23, tzinfo=UTC)
    h00 = datetime(2026, 3, 2, 0, tzinfo=UTC)
    h01 = datetime(2026, 3, 2, 1, tzinfo=UTC)
    assert found.hourly == {
        (h23, SITE): Tally(1, 1, 300),
        (h23, "c1"): Tally(1, 0, 900),
        (h00, "c2"): Tally(1, 0, 60),
        (h01, "c2"): Tally(1, 1, 60),
    }


def test_difference_keeps_only_cells_that_change() -> None:
    day = date(2026, 3, 1)
    old = Contributions(
        daily={(day, "a"): Tally(2, 1, 100), (day, "b"): Tally(1, 1, 60)},
    )
    new = Contributions(
        daily={(day, "a"): Tally(3, 1, 160), (day, "b"): Tally(1, 1, 60)},
        hourly={(T0, "c"): Tally(1, 1, 60)},
    )

    change = difference(new, old)

    assert change.daily == {(day, "a"): Tally(1, 0, 60)}
    assert change.hourly == {(T0, "c"): Tally(1, 1, 60)}
    gone = difference(Contributions(), old)
    assert gone.daily == {
        (day, "a"): Tally(-2, -1, -100),
        (day, "b"): Tally(-1, -1, -60),
    }
    assert gone.hourly == {}


@pytest.mark.parametrize(
    ("late", "expected"),
    [
        (900, [["a", "late", "b"]]),  # bridges a 30 min + 1 s gap into one session
        (1900, [["a"], ["b", "late"]]),
    ],
)
def test_a_late_event_joins_or_bridges_sessions(
    late: int, expected: list[list[str]]
) -> None:
    events = [act(0, "a"), act(1801, "b"), act(late, "late")]

    assert ids(sessionize(events, POLICY)) == expected
