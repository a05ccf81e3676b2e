"""Pure arithmetic of the reports that SQL leaves to Python; no I/O here.

Retention: SQL counts members and active members per enrolment *day* and week since
enrolment; :func:`cohort_rows` folds days into ISO weeks (Monday first) and decides
which weeks are observed. Assessment: :func:`item_stats` turns one item's grades,
in percent, into its summary (the median needs them all, one item at a time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from ssea_core.metrics.compute import mean, median, one_decimal, percent

WEEK = timedelta(days=7)


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def observed(start: date, week: int, as_of: date) -> bool:
    """Whether week ``week`` after an enrolment on ``start`` ended before ``as_of``."""
    return start + WEEK * (week + 1) <= as_of


def cohort_rows(
    sizes: Mapping[date, int],
    active: Mapping[tuple[date, int], int],
    *,
    max_weeks: int,
    as_of: date,
) -> Iterator[dict[str, Any]]:
    """Rows of ``retention_cohort``: each cohort week and weeks 0 to ``max_weeks - 1``.

    ``sizes`` counts members per enrolment day; ``active`` counts members active per
    enrolment day and week since enrolment. A member counts in a week only once
    that week has ended before ``as_of``, so partial weeks never lower a rate.
    """
    cohorts: dict[date, list[date]] = defaultdict(list)
    for day in sorted(sizes):
        cohorts[week_start(day)].append(day)
    for cohort_week, days in sorted(cohorts.items()):
        size = sum(sizes[day] for day in days)
        for week in range(max_weeks):
            seen = [day for day in days if observed(day, week, as_of)]
            watched = sum(sizes[day] for day in seen)
            came = sum(active.get((day, week), 0) for day in seen)
            yield {
                "cohort_week": cohort_week,
                "cohort_size": size,
                "week": week,
                "observed": watched,
                "active": came,
                "retention_pct": percent(came, watched),
            }


def item_stats(
    percents: Sequence[float], passed: Sequence[bool], has_pass_mark: bool
) -> dict[str, Any]:
    """Count, mean, median, extremes and passes of one item's grades in percent.

    ``passed`` holds one flag per grade; without a pass mark the pass figures are
    null, as they are in the dashboard's distributions.
    """
    wins = sum(passed) if has_pass_mark else None
    return {
        "graded": len(percents),
        "avg_pct": mean(percents),
        "median_pct": median(percents),
        "min_pct": one_decimal(min(percents)) if percents else None,
        "max_pct": one_decimal(max(percents)) if percents else None,
        "passed": wins,
        "pass_rate": percent(wins, len(percents)) if wins is not None else None,
    }
