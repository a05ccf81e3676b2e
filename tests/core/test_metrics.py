"""Pure metric computations, periods and query parameters (no storage)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from ssea_core.errors import BadRequestError
from ssea_core.metrics import compute
from ssea_core.metrics.params import HeatmapQuery, PeriodQuery, UsersQuery
from ssea_core.metrics.period import Period, resolve_period
from ssea_core.metrics.repository import (
    DayTotals,
    GradeValue,
    HourTotals,
    Page,
    Totals,
    UserActivity,
    UserFilter,
)
from ssea_core.metrics.results import Overview, TrendPoint, Trends
from ssea_core.metrics.service import Analytics

TODAY = date(2026, 3, 2)


# -- rounding and units ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(10.25, 10.3), (10.35, 10.4), (11.333, 11.3), (0.05, 0.1), (2.0, 2.0)],
)
def test_one_decimal_rounds_half_up(value: float, expected: float) -> None:
    assert compute.one_decimal(value) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"), [(0, 0), (29, 0), (30, 1), (89, 1), (90, 2), (1380, 23)]
)
def test_whole_minutes(seconds: int, expected: int) -> None:
    assert compute.whole_minutes(seconds) == expected


def test_minutes() -> None:
    assert compute.minutes(1320) == 22.0
    assert compute.minutes(100) == 1.7
    assert compute.minutes_per(2520, 4) == 10.5
    assert compute.minutes_per(2040, 3) == 11.3
    assert compute.minutes_per(500, 0) == 0.0


def test_percent_and_completion() -> None:
    assert compute.percent(1, 3) == 33.3
    assert compute.percent(2, 3) == 66.7
    assert compute.percent(0, 5) == 0.0
    assert compute.percent(3, 0) is None
    assert compute.completion_pct(3, 2, 2) == 75.0
    assert compute.completion_pct(0, 4, 0) is None
    assert compute.completion_pct(0, 0, 3) is None


# -- distributions ---------------------------------------------------------------------


def test_median_and_mean() -> None:
    assert compute.median([]) is None
    assert compute.median([7.0]) == 7.0
    assert compute.median([85.0, 45.0, 75.0]) == 75.0
    assert compute.median([85.0, 45.0, 75.0, 45.0]) == 60.0
    assert compute.mean([]) is None
    assert compute.mean([1.0, 2.0]) == 1.5


def test_histogram_bins_and_edges() -> None:
    bins = compute.histogram([-5.0, 0.0, 9.99, 10.0, 55.5, 99.9, 100.0, 120.0])
    assert [(b.from_, b.to) for b in bins] == [(n, n + 10) for n in range(0, 100, 10)]
    assert [b.count for b in bins] == [3, 1, 0, 0, 0, 1, 0, 0, 0, 3]
    assert sum(b.count for b in compute.histogram([])) == 0


def test_distribution() -> None:
    grades = [
        GradeValue(85.0, True),
        GradeValue(45.0, False),
        GradeValue(75.0, None),
        GradeValue(45.0, None),
    ]
    result = compute.distribution(grades)
    assert (result.count, result.avg, result.min, result.max) == (4, 62.5, 45.0, 85.0)
    assert (result.median, result.pass_rate) == (60.0, 50.0)
    assert [b.count for b in result.histogram if b.count] == [2, 1, 1]


def test_distribution_without_grades_or_pass_marks() -> None:
    empty = compute.distribution([])
    assert (empty.count, empty.avg, empty.min, empty.median) == (0, None, None, None)
    assert empty.pass_rate is None
    assert compute.distribution([GradeValue(50.0, None)]).pass_rate is None


# -- periods ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "start", "end"),
    [
        ({}, date(2026, 2, 1), TODAY),
        ({"days": 1}, TODAY, TODAY),
        ({"days": 366}, date(2025, 3, 2), TODAY),
        ({"start": date(2026, 3, 1)}, date(2026, 3, 1), TODAY),
        (
            {"start": date(2026, 1, 1), "end": date(2026, 1, 31)},
            date(2026, 1, 1),
            date(2026, 1, 31),
        ),
        ({"end": date(2026, 2, 25)}, date(2026, 1, 27), date(2026, 2, 25)),
        ({"days": 1, "end": date(2026, 2, 20)}, date(2026, 2, 20), date(2026, 2, 20)),
    ],
)
def test_resolve_period(kwargs: dict[str, object], start: date, end: date) -> None:
    assert resolve_period(TODAY, **kwargs) == Period(start, end)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": 3, "start": date(2026, 3, 1)},
        {"start": date(2026, 3, 5), "end": date(2026, 3, 1)},
        {"start": date(2025, 3, 1)},
    ],
)
def test_resolve_period_refuses(kwargs: dict[str, object]) -> None:
    with pytest.raises(BadRequestError):
        resolve_period(TODAY, **kwargs)  # type: ignore[arg-type]


def test_period_instants_days_and_hours() -> None:
    period = Period(date(2026, 2, 28), date(2026, 3, 1))
    assert period.days == 2
    assert period.start_at == datetime(2026, 2, 28, tzinfo=UTC)
    assert period.end_at == datetime(2026, 3, 2, tzinfo=UTC)
    assert period.each_day() == [date(2026, 2, 28), date(2026, 3, 1)]
    hours = period.each_hour()
    assert len(hours) == 48
    assert hours[-1] == datetime(2026, 3, 1, 23, tzinfo=UTC)


def test_fill_days_and_hours() -> None:
    period = Period(date(2026, 3, 1), date(2026, 3, 2))
    filled = compute.fill_days(period, [DayTotals(date(2026, 3, 2), 3, 1, 960, 1)])
    assert filled == [
        DayTotals(date(2026, 3, 1), 0, 0, 0, 0),
        DayTotals(date(2026, 3, 2), 3, 1, 960, 1),
    ]
    hour = datetime(2026, 3, 2, 8, tzinfo=UTC)
    hours = compute.fill_hours(period, [HourTotals(hour, 3, 1, 960)])
    assert len(hours) == 48
    assert hours[32] == HourTotals(hour, 3, 1, 960)
    assert sum(row.events for row in hours) == 3


def test_heatmap_cells_follow_the_zone_and_its_daylight_saving() -> None:
    rows = [
        HourTotals(datetime(2026, 3, 1, 23, tzinfo=UTC), 2, 0, 0),  # Sunday UTC
        HourTotals(datetime(2026, 3, 28, 12, tzinfo=UTC), 1, 0, 0),  # CET: 13h
        HourTotals(datetime(2026, 3, 29, 12, tzinfo=UTC), 1, 0, 0),  # CEST: 14h
    ]
    cells = compute.heatmap_cells(rows, ZoneInfo("Europe/Madrid"))
    assert cells[0][0] == 2  # Monday 00h in Madrid
    assert cells[5][13] == 1  # Saturday before the change
    assert cells[6][14] == 1  # Sunday after it
    assert sum(map(sum, cells)) == 4
    india = compute.heatmap_cells(rows[:1], ZoneInfo("Asia/Kolkata"))
    assert india[0][4] == 2  # 04:30 local: the whole UTC hour lands at 04h


# -- query parameters ------------------------------------------------------------------


def test_period_query_parses_from_and_to() -> None:
    query = PeriodQuery.model_validate({"from": "2026-01-01", "to": "2026-01-31"})
    assert query.period(TODAY) == Period(date(2026, 1, 1), date(2026, 1, 31))


def test_unknown_parameters_are_ignored_known_ones_checked() -> None:
    assert UsersQuery.model_validate({"_": "123"}).limit == 50
    with pytest.raises(ValidationError):
        UsersQuery.model_validate({"limit": "201"})
    with pytest.raises(ValidationError):
        UsersQuery.model_validate({"q": "x" * 101})


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "utc"])
def test_heatmap_refuses_unknown_zones(name: str) -> None:
    with pytest.raises(ValidationError, match="not a known time zone"):
        HeatmapQuery.model_validate({"tz": name})


def test_answers_use_the_public_field_names() -> None:
    trends = Trends(
        granularity="day",
        from_=TODAY,
        to=TODAY,
        series=[TrendPoint(bucket="2026-03-02", events=1, active_users=1, sessions=1)],
    )
    assert set(trends.model_dump(by_alias=True)) == {
        "granularity",
        "from",
        "to",
        "series",
    }


# -- the service, over a repository that inherits nothing ------------------------------


class FakeRepository:
    """Answers only what these tests ask; any other call fails loudly."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def totals(self, period: Period) -> Totals:
        self.calls.append(f"totals {period.start}..{period.end}")
        return Totals(events=11, sessions=7, seconds=2520, active_users=4)

    async def at_risk_count(self) -> int:
        self.calls.append("at_risk_count")
        return 3

    async def users(
        self, period: Period, where: UserFilter, page: Page
    ) -> tuple[list[UserActivity], int]:
        self.calls.append(f"users risk_level={where.risk_level}")
        row = UserActivity("u1", "ann", "Ann", None, 4, 120, "high", 61.5)
        return [row], 1

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"unexpected repository call: {name}")


async def test_overview_from_a_repository() -> None:
    repository = FakeRepository()
    tenant_id = uuid4()
    analytics = Analytics(repository, tenant_id, TODAY)  # type: ignore[arg-type]
    answer = await analytics.overview(PeriodQuery.model_validate({"days": "7"}))
    assert answer == Overview(
        tenant_id=tenant_id,
        period_days=7,
        total_events=11,
        active_users=4,
        total_sessions=7,
        avg_time_spent_mins=10.5,
        at_risk_count=3,
    )
    assert repository.calls == ["totals 2026-02-24..2026-03-02", "at_risk_count"]


async def test_the_risk_level_filter_goes_to_the_repository() -> None:
    repository = FakeRepository()
    analytics = Analytics(repository, uuid4(), TODAY)  # type: ignore[arg-type]
    query = UsersQuery.model_validate({"risk_level": "high"})

    users, total = await analytics.users(query)

    assert repository.calls == ["users risk_level=high"]
    assert (users[0].risk_level, users[0].risk_score, total) == ("high", 61.5, 1)
