"""Times as Moodle's log downloads print them, read into UTC.

Moodle prints a log time in the time zone of the user who downloads it, with the
format of that user's language pack and no zone marker. The importer is told the zone
(``timezone``, default UTC) and reads:

- ``17/10/21, 12:39`` and ``25/09/2020 15:24`` (numeric, day first unless told
  otherwise; two-digit years are 20yy; ``/``, ``.`` or ``-`` between the parts;
  optional seconds and AM/PM);
- ``2020-06-24 08:10:00``, ``2020-06-24T08:10`` and the bare date ``2020-09-25``
  (midnight);
- ``Monday, 4 March 2019, 10:05 AM`` and ``4 March 2019, 10:05`` (English, Spanish,
  Portuguese, French, German or Polish month names; the weekday is ignored);
- Unix seconds (9 to 11 digits), which are UTC already;
- ``datetime`` values (cells of a spreadsheet), read as local times.

Local times that a DST change makes ambiguous (the repeated hour in autumn) are read
with ``fold=0``: the first of the two instants, still in summer time. Local times that
do not exist (the skipped hour in spring) are read with the offset in force before the
change, which moves them forward by the length of the gap (02:30 on the Madrid spring
night becomes 03:30 CEST, 01:30 UTC). Both cases are counted so that a summary can
report them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_NUMERIC = re.compile(
    r"^(?P<a>\d{1,4})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{1,4})\.?"
    r"(?:[,\s]+(?:[^\d\s]+\s+)?(?P<clock>.+))?$"
)
_CLOCK = re.compile(
    r"^(?P<h>\d{1,2})[:.h](?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,]\d+)?)?"
    r"\s*(?P<ampm>[ap]\.?\s?m\.?)?\s*(?:h|uhr)?$",
    re.IGNORECASE,
)
_WORDY = re.compile(
    r"^(?:[^\W\d_]+\.?,?\s+)?(?P<day>\d{1,2})\.?(?:\s+de)?\s+(?P<month>[^\W\d_]+)\.?"
    r"(?:\s+de)?\s+(?P<year>\d{4})(?:[,\s]+(?:[^\d\s]+\s+)?(?P<clock>.+))?$",
    re.IGNORECASE,
)
_UNIX = re.compile(r"^\d{9,11}$")

_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("january", "jan", "enero", "ene", "janeiro", "janvier", "januar", "stycznia"),
    2: ("february", "feb", "febrero", "fevereiro", "fev", "fevrier", "februar",
        "lutego"),
    3: ("march", "mar", "marzo", "marco", "mars", "marz", "marca"),
    4: ("april", "apr", "abril", "abr", "avril", "avr", "kwietnia"),
    5: ("may", "mayo", "maio", "mai", "maja"),
    6: ("june", "jun", "junio", "junho", "juin", "juni", "czerwca"),
    7: ("july", "jul", "julio", "julho", "juillet", "juil", "juli", "lipca"),
    8: ("august", "aug", "agosto", "ago", "aout", "sierpnia"),
    9: ("september", "sep", "sept", "septiembre", "setiembre", "setembro", "set",
        "septembre", "wrzesnia"),
    10: ("october", "oct", "octubre", "outubro", "out", "octobre", "oktober", "okt",
         "pazdziernika"),
    11: ("november", "nov", "noviembre", "novembro", "novembre", "listopada"),
    12: ("december", "dec", "diciembre", "dic", "dezembro", "dez", "decembre",
         "dezember", "grudnia"),
}  # fmt: skip
MONTHS: dict[str, int] = {
    name: number for number, names in _MONTH_NAMES.items() for name in names
}


class TimeFormatError(ValueError):
    """A time text in none of the formats this module reads."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone named ``name``; raises ``ValueError`` for an unknown zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name") from exc


def plain(text: str) -> str:
    """Lower case without accents: how names and headers are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return stripped.replace("ł", "l").replace("ß", "ss")


class LocalTimeReader:
    """Reads local time texts of one file into aware UTC datetimes."""

    def __init__(self, timezone: str = "UTC", *, day_first: bool = True) -> None:
        self.zone = zone(timezone)
        self.day_first = day_first
        self.notes: Counter[str] = Counter()
        self._last: tuple[str, datetime, str | None] | None = None

    def read(self, value: object) -> datetime:
        """The UTC instant of a cell; raises :class:`TimeFormatError`."""
        if isinstance(value, str):
            return self._read_text(value)
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                return value.astimezone(UTC)
            return self.localise(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        return self._read_text(str(value))

    def _read_text(self, value: str) -> datetime:
        # Logs are sorted by time: consecutive rows often print the same minute.
        if self._last is not None and self._last[0] == value:
            _, moment, note = self._last
        else:
            moment, note = self._convert(value)
            self._last = (value, moment, note)
        if note is not None:
            self.notes[note] += 1
        return moment

    def _convert(self, value: str) -> tuple[datetime, str | None]:
        text = " ".join(value.split())
        if _UNIX.match(text):
            return datetime.fromtimestamp(int(text), UTC), None
        return self._localise_noted(self.parse_naive(text))

    def parse_naive(self, text: str) -> datetime:
        """The wall-clock time a text names; raises :class:`TimeFormatError`."""
        if not text:
            raise TimeFormatError("empty time")
        iso = _iso(text)
        if iso is not None:
            if iso.tzinfo is not None:
                return iso.astimezone(self.zone).replace(tzinfo=None)
            return iso
        found = _NUMERIC.match(text)
        if found:
            return self._numeric(found, text)
        found = _WORDY.match(text)
        if found:
            return _wordy(found, text)
        raise TimeFormatError(f"unrecognised time {text!r}")

    def localise(self, naive: datetime) -> datetime:
        """Attach the zone, choosing deterministically around DST changes."""
        moment, note = self._localise_noted(naive)
        if note is not None:
            self.notes[note] += 1
        return moment

    def _localise_noted(self, naive: datetime) -> tuple[datetime, str | None]:
        first = naive.replace(tzinfo=self.zone, fold=0)
        second = naive.replace(tzinfo=self.zone, fold=1)
        if first.utcoffset() == second.utcoffset():
            return first.astimezone(UTC), None
        back = first.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        note = "ambiguous_local_time" if back == naive else "nonexistent_local_time"
        return first.astimezone(UTC), note

    def _numeric(self, found: re.Match[str], text: str) -> datetime:
        a, b, c = (int(found[name]) for name in ("a", "b", "c"))
        if len(found["a"]) == 4:
            year, month, day = a, b, c
        elif self.day_first:
            day, month, year = a, b, c
        else:
            month, day, year = a, b, c
        if len(found["c"]) <= 2 and len(found["a"]) != 4:
            year += 2000  # Moodle's short formats print two-digit years of this era
        return _combine(year, month, day, found["clock"], text)


def _iso(text: str) -> datetime | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None


def _wordy(found: re.Match[str], text: str) -> datetime:
    month = MONTHS.get(plain(found["month"]))
    if month is None:
        raise TimeFormatError(f"unknown month name in {text!r}")
    return _combine(int(found["year"]), month, int(found["day"]), found["clock"], text)


def _combine(year: int, month: int, day: int, clock: str | None, text: str) -> datetime:
    hour = minute = second = 0
    if clock:
        parsed = _CLOCK.match(clock.strip())
        if parsed is None:
            raise TimeFormatError(f"unrecognised clock time in {text!r}")
        hour, minute = int(parsed["h"]), int(parsed["m"])
        second = int(parsed["s"] or 0)
        if minute > 59 or second > 59:
            raise TimeFormatError(f"minutes or seconds out of range in {text!r}")
        hour = _twelve_hour(hour, parsed["ampm"], text)
    try:
        return datetime(year, month, day) + timedelta(
            hours=hour, minutes=minute, seconds=second
        )
    except ValueError as exc:
        raise TimeFormatError(f"impossible date in {text!r}") from exc


def _twelve_hour(hour: int, marker: str | None, text: str) -> int:
    if marker is None:
        if hour > 23:
            raise TimeFormatError(f"hour out of range in {text!r}")
        return hour
    if not 1 <= hour <= 12:
        raise TimeFormatError(f"hour out of range for AM/PM in {text!r}")
    is_pm = marker.lower().startswith("p")
    return (hour % 12) + (12 if is_pm else 0)
