"""Pure metric arithmetic (SPEC §5): rounding, minutes, percentages, distributions.

No I/O here. Rounding is half-up on the decimal value a reader sees (10.25 → 10.3),
not on the binary float, so hand-computed answers match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from ssea_core.metrics.period import Period
from ssea_core.metrics.repository import DayTotals, GradeValue, HourTotals
from ssea_core.metrics.results import GradeDistribution, HistogramBin

BIN_WIDTH = 10
_TENTH = Decimal("0.1")


def one_decimal(value: float) -> float:
    """``value`` rounded half-up to one decimal."""
    return float(Decimal(repr(value)).quantize(_TENTH, rounding=ROUND_HALF_UP))


def minutes(seconds: int) -> float:
    """Seconds as minutes with one decimal."""
    return one_decimal(seconds / 60)


def whole_minutes(seconds: int) -> int:
    """Seconds as whole minutes, rounded half-up."""
    return int(Decimal(seconds) / 60 + Decimal("0.5"))


def minutes_per(seconds: int, count: int) -> float:
    """``seconds / 60 / count`` with one decimal; 0.0 when ``count`` is 0."""
    return one_decimal(seconds / 60 / count) if count else 0.0


def percent(part: int | float, whole: int | float) -> float | None:
    """``part / whole`` in percent with one decimal; None when ``whole`` is 0."""
    return one_decimal(part * 100 / whole) if whole else None


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean with one decimal; None for no values."""
    return one_decimal(sum(values) / len(values)) if values else None


def median(values: Sequence[float]) -> float | None:
    """The median with one decimal (mean of the middle two for an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return one_decimal(ordered[middle])
    return one_decimal((ordered[middle - 1] + ordered[middle]) / 2)


def histogram(values: Iterable[float], width: int = BIN_WIDTH) -> list[HistogramBin]:
    """Counts of percentages in bins ``[0, width)`` … ``[100 - width, 100]``.

    Values below 0 count in the first bin and above 100 in the last (extra credit),
    so the counts always add up to the number of values.
    """
    bins = 100 // width
    counts = [0] * bins
    for value in values:
        counts[min(max(int(value // width), 0), bins - 1)] += 1
    return [
        HistogramBin(from_=index * width, to=(index + 1) * width, count=count)
        for index, count in enumerate(counts)
    ]


def distribution(grades: Sequence[GradeValue]) -> GradeDistribution:
    """Count, mean, extremes, median, pass rate and histogram of percentages.

    The pass rate counts only grades whose item has a pass mark; None when none has.
    """
    values = [grade.percent for grade in grades]
    marked = [grade.passed for grade in grades if grade.passed is not None]
    return GradeDistribution(
        count=len(values),
        avg=mean(values),
        min=one_decimal(min(values)) if values else None,
        max=one_decimal(max(values)) if values else None,
        median=median(values),
        pass_rate=percent(sum(marked), len(marked)),
        histogram=histogram(values),
    )


def completion_pct(completed: int, students: int, tracked: int) -> float | None:
    """Completed tracked modules ÷ (students * tracked modules), in percent (§5)."""
    return percent(completed, students * tracked)


def fill_days(period: Period, rows: Iterable[DayTotals]) -> list[DayTotals]:
    """One row per day of the period, zeros where there was no activity."""
    found: dict[date, DayTotals] = {row.day: row for row in rows}
    return [found.get(day) or DayTotals(day, 0, 0, 0, 0) for day in period.each_day()]


def fill_hours(period: Period, rows: Iterable[HourTotals]) -> list[HourTotals]:
    """One row per UTC hour of the period, zeros where there was no activity."""
    found: dict[datetime, HourTotals] = {row.hour: row for row in rows}
    return [found.get(hour) or HourTotals(hour, 0, 0, 0) for hour in period.each_hour()]


def heatmap_cells(rows: Iterable[HourTotals], zone: ZoneInfo) -> list[list[int]]:
    """Events per local weekday (Monday first) by local hour.

    Each UTC hour lands in the local hour its start falls in: in zones with a
    half-hour offset an hour's events are not split between two local hours.
    """
    cells = [[0] * 24 for _ in range(7)]
    for row in rows:
        local = row.hour.astimezone(zone)
        cells[local.weekday()][local.hour] += row.events
    return cells
