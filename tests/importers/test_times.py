"""Moodle's printed times, local zones and the two DST nights."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ssea_core.importers.times import LocalTimeReader, TimeFormatError


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17/10/21, 12:39", utc(2021, 10, 17, 12, 39)),
        ("25/09/2020 15:24", utc(2020, 9, 25, 15, 24)),
        ("2/09/2020 01:05", utc(2020, 9, 2, 1, 5)),
        ("23/01/2021, 11:56:32", utc(2021, 1, 23, 11, 56, 32)),
        ("17.10.2021 12:39", utc(2021, 10, 17, 12, 39)),
        ("2020-06-24 08:10:00", utc(2020, 6, 24, 8, 10)),
        ("2021-10-04 09:32", utc(2021, 10, 4, 9, 32)),
        ("2020-09-25", utc(2020, 9, 25)),
        ("Monday, 4 March 2019, 10:05 AM", utc(2019, 3, 4, 10, 5)),
        ("Monday, 4 March 2019, 12:05 AM", utc(2019, 3, 4, 0, 5)),
        ("4 March 2019, 12:30 PM", utc(2019, 3, 4, 12, 30)),
        ("lunes, 4 de marzo de 2019, 22:05", utc(2019, 3, 4, 22, 5)),
        ("Montag, 4. März 2019, 10:05", utc(2019, 3, 4, 10, 5)),
        ("lundi 4 mars 2019, 10:05", utc(2019, 3, 4, 10, 5)),
        ("poniedziałek, 4 marca 2019, 10:05", utc(2019, 3, 4, 10, 5)),
        ("1606845939", utc(2020, 12, 1, 18, 5, 39)),
    ],
)
def test_formats_moodle_prints(text: str, expected: datetime) -> None:
    assert LocalTimeReader("UTC").read(text) == expected


def test_month_first_when_told() -> None:
    reader = LocalTimeReader("UTC", day_first=False)

    assert reader.read("10/17/21, 12:39") == utc(2021, 10, 17, 12, 39)


def test_spreadsheet_datetimes_are_local_times() -> None:
    reader = LocalTimeReader("Europe/Madrid")

    assert reader.read(datetime(2019, 10, 26, 9, 37)) == utc(2019, 10, 26, 7, 37)


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "32/01/2021 10:00", "17/13/21, 12:39", "17/10/21, 25:00",
     "4 Marchember 2019, 10:05", "17/10/21, 13:39 PM"],
)  # fmt: skip
def test_unreadable_times_raise(text: str) -> None:
    with pytest.raises(TimeFormatError):
        LocalTimeReader("UTC").read(text)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        LocalTimeReader("Mars/Olympus")


# Europe/Madrid: 2021-03-28 02:00 CET → 03:00 CEST; 2021-10-31 03:00 CEST → 02:00 CET.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("28/03/21, 01:59", utc(2021, 3, 28, 0, 59)),
        ("28/03/21, 02:30", utc(2021, 3, 28, 1, 30)),  # skipped hour: moved forward
        ("28/03/21, 03:00", utc(2021, 3, 28, 1, 0)),
        ("31/10/21, 01:59", utc(2021, 10, 30, 23, 59)),
        ("31/10/21, 02:30", utc(2021, 10, 31, 0, 30)),  # repeated hour: the first
        ("31/10/21, 03:00", utc(2021, 10, 31, 2, 0)),
        ("31/10/21, 23:30", utc(2021, 10, 31, 22, 30)),
    ],
)
def test_madrid_dst_nights(text: str, expected: datetime) -> None:
    assert LocalTimeReader("Europe/Madrid").read(text) == expected


# America/Santiago 2021: clocks go back at 24:00 on 3 April (-03 → -04) and forward
# at 24:00 on 4 September (-04 → -03): the changes move events across UTC days.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03/04/2021 22:30", utc(2021, 4, 4, 1, 30)),
        ("03/04/2021 23:30", utc(2021, 4, 4, 2, 30)),  # repeated hour: the first
        ("04/04/2021 00:30", utc(2021, 4, 4, 4, 30)),
        ("04/09/2021 23:30", utc(2021, 9, 5, 3, 30)),
        ("05/09/2021 00:30", utc(2021, 9, 5, 4, 30)),  # skipped hour: 01:30 -03
        ("05/09/2021 01:30", utc(2021, 9, 5, 4, 30)),
    ],
)
def test_santiago_dst_nights(text: str, expected: datetime) -> None:
    assert LocalTimeReader("America/Santiago").read(text) == expected


def test_dst_oddities_are_counted_per_row() -> None:
    reader = LocalTimeReader("Europe/Madrid")

    for text in (
        "28/03/21, 02:30",
        "28/03/21, 02:30",
        "31/10/21, 02:10",
        "1/1/21 1:00",
    ):
        reader.read(text)

    assert reader.notes == {"nonexistent_local_time": 2, "ambiguous_local_time": 1}
