"""Every real source that yields events, imported and then read through the API.

For each file of ../shared/data/real that gives events (SPEC §2.3), the test imports
it with ``import_into`` into a fresh tenant and reads overview, courses, users and
heatmap (SPEC §3) for periods that cover the whole file. The expected answers are
computed here from the raw rows, never from the importers: the raw readers and
regular expressions of ``tests/importers/test_real_data.py`` find the rows, users and
courses, and this module parses the times itself and applies the data hygiene of
``docs/ingestion.md`` to the raw columns (origin, user 0 and 2, logged in as, passive
events). Every row read must be an event, a catalogue row or a skip with the reason
counted here, and the events excluded from activity must match reason by reason.

Left out: the two sources whose every row is skipped as ``no_user_id`` (the Polish
export and ``Events.xlsx`` have no user ids; their skips are counted in
``tests/importers/test_real_data.py``), and, of OULAD, every module but the one of
the click file (see :func:`test_oulad_reads`).
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.importers import (
    ImportSource,
    ImportSummary,
    LogstoreSource,
    MoodleLogSource,
    OuladSource,
    XapiSource,
    import_into,
)
from ssea_core.ingest.service import Ingestor, IngestOutcome
from ssea_core.settings import Settings
from ssea_storage.sql.store import SqlStore
from tests.conftest import make_key, make_tenant
from tests.importers import test_real_data as raw
from tests.support import ApiClient

pytestmark = pytest.mark.realdata

SANTIAGO = "America/Santiago"
MAX_DAYS = 366
PAGE = 200
SITE = "1"
Grid = list[list[int]]

# docs/ingestion.md, data hygiene: the defaults of every setting.
EXCLUDED_ORIGINS = ("cli", "restore")
NO_USER = "0"
SITE_ADMIN = "2"
PASSIVE_CLASSES = (
    "\\core\\event\\user_graded",
    "\\core\\event\\grade_item_updated",
    "\\core\\event\\user_enrolment_created",
)

# Moodle's descriptions are English in every language pack.
GRADED = re.compile(r"updated the grade with id '\d+' for the user with id")
GRADE_ITEM = re.compile(r"updated a grade item with id")
ENROLLED = re.compile(r"(?<!un)enrolled the user with id '\d+' using the enrolment")
COMPLETION = re.compile(r"updated the completion state for the course module")
PASSIVE_NAMES = ("User graded", "Grade item updated", "User enrolled in course")
NAME_COLUMNS = (
    "User full name",
    "Affected user",
    "Origin",
    "IP address",
    "Nombre completo del usuario",
    "Usuario afectado",
    "Origen",
    "Dirección IP",
    "User",
    "Username",
    "",  # a pandas index column: the importer does not read it
)
DAY_FIRST = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2}),? (\d{1,2}):(\d{2})(?::(\d{2}))?"
)
ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?")


@dataclass(frozen=True)
class Counted:
    """One event that counts as its user's activity."""

    user: str
    course: str | None
    at: datetime  # UTC
    local: datetime | None = None  # as printed, for files in a local time zone


@dataclass
class Expected:
    """What an import and the reads should give, counted here from the raw rows."""

    rows: int = 0
    catalogue_rows: int = 0
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)
    counted: list[Counted] = field(default_factory=list)
    identities: set[Hashable] = field(default_factory=set)
    days: set[date] = field(default_factory=set)  # UTC days of every event

    def event(self, identity: Hashable, reason: str | None, counted: Counted) -> None:
        """An event payload; an identity seen before is stored once."""
        self.events += 1
        self.days.add(counted.at.date())
        if identity in self.identities:
            return
        self.identities.add(identity)
        if reason is None:
            self.counted.append(counted)
        else:
            self.excluded[reason] += 1


def exclusion(
    user: str, *, origin: Any = None, real_user: Any = None, passive: bool = False
) -> str | None:
    """The hygiene reason of docs/ingestion.md, first that applies, or None."""
    if real_user not in (None, "", "\\N") and str(real_user) != user:
        return "logged_in_as"
    origin_text = str(origin or "").strip().lower()
    if origin_text in EXCLUDED_ORIGINS:
        return f"origin_{origin_text}"
    if user == NO_USER:
        return "no_user"
    if user == SITE_ADMIN:
        return "site_admin"
    return "passive" if passive else None


class RecordingIngestor(Ingestor):
    """The ingest service, keeping the exclusion counts each batch reports."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.excluded: Counter[str] = Counter()

    async def ingest(self, tenant_id: UUID, raw_events: Any) -> IngestOutcome:
        outcome = await super().ingest(tenant_id, raw_events)
        self.excluded.update(outcome.excluded)
        return outcome


# -- expectations from the raw files ------------------------------------------------


def printed_time(value: Any) -> datetime | None:
    """A naive time as an export prints it: day first, or an ISO date."""
    text = str(value).strip()
    found = DAY_FIRST.fullmatch(text)
    if found:
        day, month, year, hour, minute, second = found.groups()
        full_year = int(year) + (2000 if len(year) == 2 else 0)
        return datetime(
            full_year, int(month), int(day), int(hour), int(minute), int(second or 0)
        )
    found = ISO_DAY.fullmatch(text)
    if found:
        year, month, day, hour, minute, second = found.groups()
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
    return None


def export_expectation(path: Path, zone_name: str) -> Expected:
    header, rows = raw.raw_table(path)
    index = {name: i for i, name in enumerate(header)}
    time_column = next(index[n] for n in ("Time", "Hora") if n in index)
    identity_columns = [i for i, name in enumerate(header) if name not in NAME_COLUMNS]
    zone = ZoneInfo(zone_name)

    def cell(row: list[Any], *names: str) -> str:
        column = next((index[n] for n in names if n in index), None)
        if column is None or column >= len(row) or row[column] is None:
            return ""
        return html.unescape(str(row[column])).strip()

    def last_course(text: str) -> str | None:
        found = [a or b for a, b in raw.COURSES.findall(text)]
        return found[-1] if found else None

    descriptions = [cell(row, "Description", "Descripción") for row in rows]
    named = {last_course(text) for text in descriptions} - {None, SITE}
    only = next(iter(named)) if len(named) == 1 else None
    expected = Expected(rows=len(rows))
    run_time: Any = object()
    in_run: Counter[Any] = Counter()
    for row, text in zip(rows, descriptions, strict=True):
        ids = raw.ACTOR.findall(text)
        user = cell(row, "userid") or (ids[0] if ids else "")
        about_related = GRADED.search(text) or ENROLLED.search(text)
        if len(ids) > 1 and (about_related or COMPLETION.search(text)):
            user = ids[1]
        if not user:
            expected.skipped["no_user_id"] += 1
            continue
        printed = printed_time(row[time_column])
        if printed is None:
            expected.skipped["bad_time"] += 1
            continue

        course = cell(row, "courseid") or last_course(text)
        if course is None and raw.MODULE.search(text):
            course = only
        if text:
            passive = bool(about_related or GRADE_ITEM.search(text))
        else:
            passive = cell(row, "Event name", "Event_name") in PASSIVE_NAMES
        reason = exclusion(user, origin=cell(row, "Origin", "Origen"), passive=passive)
        at = printed.replace(tzinfo=zone).astimezone(UTC)
        counted = Counted(user, None if course == SITE else course, at, printed)

        # Equal rows of one printed time are numbered (docs/importers.md).
        key = tuple(str(row[i]) for i in identity_columns if i < len(row))
        if row[time_column] != run_time:
            run_time, in_run = row[time_column], Counter()
        expected.event((key, in_run[key]), reason, counted)
        in_run[key] += 1
    return expected


def logstore_rows_expectation(
    rows: Iterable[dict[str, Any]], catalogue_rows: int = 0
) -> Expected:
    expected = Expected(rows=catalogue_rows, catalogue_rows=catalogue_rows)
    for row in rows:
        expected.rows += 1
        course = str(row["courseid"]) if row.get("courseid") is not None else None
        if course in ("0", SITE) or str(row.get("contextlevel")) == "10":
            course = None
        user = str(row["userid"])
        related = row.get("relateduserid")
        event_name = str(row.get("eventname") or "").lower()
        if event_name in raw.RELATED_EVENTS and related not in (None, "\\N", ""):
            user = str(related)
        reason = exclusion(
            user,
            origin=row.get("origin"),
            real_user=row.get("realuserid"),
            passive=event_name in PASSIVE_CLASSES,
        )
        at = datetime.fromtimestamp(int(row["timecreated"]), UTC)
        expected.event(row["id"], reason, Counted(user, course, at))
    return expected


def dump_expectation(path: Path) -> Expected:
    catalogue_tables = (
        "mdl_course",
        "mdl_course_modules",
        "mdl_modules",
        "mdl_context",
        "mdl_enrol",
        "mdl_user_enrolments",
        "mdl_role_assignments",
        "mdl_role",
    )
    catalogue_rows = sum(
        len(list(raw.dump_tuples(path, table))) for table in catalogue_tables
    )
    rows = raw.dump_tuples(path, "mdl_logstore_standard_log")
    return logstore_rows_expectation(rows, catalogue_rows)


def xapi_expectation(statements: list[dict[str, Any]]) -> Expected:
    expected = Expected(rows=len(statements))
    for statement in statements:
        user = statement["actor"]["account"]["name"]
        info = statement["context"]["extensions"][
            "http://lrs.learninglocker.net/define/extensions/info"
        ]
        at = datetime.fromisoformat(statement["timestamp"].replace("Z", "+00:00"))
        reason = exclusion(user, passive=info["event_name"] in PASSIVE_CLASSES)
        counted = Counted(user, raw.xapi_course(statement), at.astimezone(UTC))
        expected.event(json.dumps(statement, sort_keys=True), reason, counted)
    return expected


def oulad_expectation(folder: Path) -> Expected:
    def course(row: dict[str, str]) -> str:
        return f"{row['code_module']}-{row['code_presentation']}"

    def day(presentation: str, offset: str) -> datetime:
        # docs/importers.md: B starts on 1 February, J on 1 October; events at noon.
        month = {"B": 2, "J": 10}[presentation[-1]]
        start = date(int(presentation[:4]), month, 1) + timedelta(days=int(offset))
        return datetime.combine(start, time(12), tzinfo=UTC)

    tables = {
        name: raw.oulad_table(folder, name)
        for name in (
            "courses",
            "assessments",
            "vle",
            "studentRegistration",
            "studentAssessment",
            "studentVle",
        )
    }
    expected = Expected(rows=sum(len(rows) for rows in tables.values()))
    expected.catalogue_rows = sum(
        len(tables[name]) for name in ("courses", "assessments", "vle")
    )
    for row in tables["studentRegistration"]:
        if not row["date_registration"].strip():
            expected.catalogue_rows += 1  # an enrolment without a day: no event
            continue
        user = row["id_student"]
        at = day(row["code_presentation"], row["date_registration"])
        counted = Counted(user, course(row), at)
        reason = exclusion(user, passive=True)  # registered: user_enrolled
        expected.event(("registration", course(row), user), reason, counted)
    assessments = {row["id_assessment"]: row for row in tables["assessments"]}
    for row in tables["studentAssessment"]:
        assessment = assessments.get(row["id_assessment"])
        if assessment is None:
            expected.skipped["unknown_assessment"] += 1
            continue
        if not row["date_submitted"].strip():
            expected.skipped["bad_row"] += 1
            continue
        user = row["id_student"]
        at = day(assessment["code_presentation"], row["date_submitted"])
        identity = ("assessment", row["id_assessment"], user)
        expected.event(identity, exclusion(user), Counted(user, course(assessment), at))
    for number, row in enumerate(tables["studentVle"]):
        user = row["id_student"]
        at = day(row["code_presentation"], row["date"])
        expected.event(
            ("click", number), exclusion(user), Counted(user, course(row), at)
        )
    return expected


# -- what the API answers -----------------------------------------------------------


def periods(event_days: set[date]) -> list[tuple[date, date]]:
    """UTC day ranges of at most 366 days that cover every event of a file."""
    days = sorted(event_days)
    windows: list[tuple[date, date]] = []
    start = days[0]
    while start <= days[-1]:
        end = min(start + timedelta(days=MAX_DAYS - 1), days[-1])
        windows.append((start, end))
        start = end + timedelta(days=1)
    return windows


def grid(cells: Iterable[tuple[int, int]]) -> Grid:
    counts = Counter(cells)
    return [[counts[(day, hour)] for hour in range(24)] for day in range(7)]


def add(total: Grid, cells: Grid) -> Grid:
    rows = zip(total, cells, strict=True)
    return [[a + b for a, b in zip(x, y, strict=True)] for x, y in rows]


async def every_item(
    client: ApiClient, path: str, params: dict[str, str]
) -> list[dict[str, Any]]:
    """The items of a list read, page by page, until one with no events."""
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        answer = await client.get(
            path, params={**params, "limit": PAGE, "offset": offset}
        )
        assert answer.status == 200, answer.body
        page = answer.json()
        items.extend(page)
        if len(page) < PAGE or page[-1]["total_events"] == 0:
            return [item for item in items if item["total_events"]]
        offset += PAGE


async def check_reads(
    client: ApiClient, tenant_id: UUID, expected: Expected, local_zone: str | None
) -> None:
    base = f"/v1/tenants/{tenant_id}"
    heat_utc, heat_local = grid([]), grid([])
    for start, end in periods(expected.days):
        period = {"from": start.isoformat(), "to": end.isoformat()}
        inside = [e for e in expected.counted if start <= e.at.date() <= end]

        overview = (await client.get(f"{base}/overview", params=period)).json()
        assert overview["period_days"] == (end - start).days + 1
        assert overview["total_events"] == len(inside)
        assert overview["active_users"] == len({e.user for e in inside})

        courses = await every_item(client, f"{base}/courses", period)
        per_course = Counter(e.course for e in inside if e.course is not None)
        course_users = {
            course: len({e.user for e in inside if e.course == course})
            for course in per_course
        }
        assert {c["course_id"]: c["total_events"] for c in courses} == per_course
        assert {c["course_id"]: c["active_users"] for c in courses} == course_users

        users = await every_item(client, f"{base}/users", period)
        per_user = Counter(e.user for e in inside)
        assert {u["user_id"]: u["total_events"] for u in users} == per_user

        answer = await client.get(f"{base}/heatmap", params={**period, "tz": "UTC"})
        heat_utc = add(heat_utc, answer.json()["cells"])
        if local_zone is not None:
            params = {**period, "tz": local_zone}
            answer = await client.get(f"{base}/heatmap", params=params)
            heat_local = add(heat_local, answer.json()["cells"])

    assert heat_utc == grid((e.at.weekday(), e.at.hour) for e in expected.counted)
    if local_zone is not None:
        printed = [e.local for e in expected.counted if e.local is not None]
        assert heat_local == grid((t.weekday(), t.hour) for t in printed)


def check_summary(
    summary: ImportSummary, expected: Expected, ingestor: RecordingIngestor
) -> None:
    assert summary.stopped is None
    assert summary.rows_read == expected.rows
    assert summary.events == expected.events
    assert summary.skipped == dict(+expected.skipped)
    accounted = summary.events + expected.catalogue_rows + sum(summary.skipped.values())
    assert summary.rows_read == accounted
    assert summary.stored == len(expected.identities)
    assert summary.duplicates == expected.events - len(expected.identities)
    assert ingestor.excluded == +expected.excluded


@dataclass
class Reader:
    """A fresh enterprise tenant, its ingest service and an API client with a key."""

    store: SqlStore
    settings: Settings
    clock: FixedClock

    async def check(
        self, source: ImportSource, expected: Expected, local_zone: str | None = None
    ) -> None:
        # Enterprise: no daily cap, so that the biggest files import in one day.
        tenant = await make_tenant(self.store, self.clock, plan="enterprise")
        ingestor = RecordingIngestor(Services(self.store, self.settings, self.clock))
        summary = await import_into(ingestor, tenant.tenant_id, source, chunk_size=5000)
        check_summary(summary, expected, ingestor)

        app = SseaApp(self.store, self.settings, clock=self.clock)
        key = await make_key(self.store, self.clock, tenant)
        client = ApiClient(app, {"X-SSEA-Key": key})
        await check_reads(client, tenant.tenant_id, expected, local_zone)


@pytest.fixture
def reader(store: SqlStore, settings: Settings, clock: FixedClock) -> Reader:
    return Reader(store, settings, clock)


# -- the sources --------------------------------------------------------------------

EXPORTS = [
    *raw.EDIFY,
    f"{raw.EXPORTS}/es_tesis_sergiogonzalez/log_p.csv",
    f"{raw.EXPORTS}/ad1529_consolidation_examples/example_platform_logs.csv",
    f"{raw.EXPORTS}/ad1529_consolidation_examples/temporal_example_consolidated_df.csv",
    f"{raw.EXPORTS}/mootler_fixture/activity.csv",
    "ucl_stat0004/STAT0004_2122_events.csv.gz",
]
SPANISH = f"{raw.EXPORTS}/es_tesis_sergiogonzalez/logs_names_pseudonymised.csv"
CLICKS = "studentVle_head_AAA2013J.csv"
OULAD_MODULE = "AAA"


@pytest.mark.parametrize("relative", EXPORTS)
async def test_moodle_log_export_reads(
    real_data: Path, reader: Reader, relative: str
) -> None:
    path = real_data / relative
    expected = export_expectation(path, "UTC")

    await reader.check(MoodleLogSource(path), expected)


async def test_moodle_log_export_in_local_time_reads(
    real_data: Path, reader: Reader
) -> None:
    path = real_data / SPANISH
    expected = export_expectation(path, SANTIAGO)

    source = MoodleLogSource(path, timezone=SANTIAGO)
    await reader.check(source, expected, local_zone=SANTIAGO)


@pytest.mark.parametrize("relative", raw.DUMPS)
async def test_logstore_dump_reads(
    real_data: Path, reader: Reader, relative: str
) -> None:
    path = real_data / relative

    await reader.check(LogstoreSource(path), dump_expectation(path))


async def test_logstore_csv_reads(real_data: Path, reader: Reader) -> None:
    path = real_data / raw.LOGSTORE_CSV
    with path.open(newline="") as stream:
        expected = logstore_rows_expectation(csv.DictReader(stream))

    await reader.check(LogstoreSource(path), expected)


async def test_xapi_test_cases_reads(real_data: Path, reader: Reader) -> None:
    common, statements, _ = raw.xapi_cases(real_data / raw.XAPI_CASES)
    completed = [raw.with_common(common, s) for s in statements]

    await reader.check(XapiSource(completed), xapi_expectation(completed))


async def test_xapi_flat_export_reads(real_data: Path, reader: Reader) -> None:
    path = real_data / raw.XAPI_FLAT
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    expected = Expected(rows=len(rows))
    for number, row in enumerate(rows):
        user = "sha1:" + row["Email"]
        course = re.findall(r"/course/view\.php\?id=(\d+)", row["RelatedActivities"])
        at = datetime.fromisoformat(row["timestamp"])
        counted = Counted(user, (course or [None])[0], at.astimezone(UTC))
        expected.event(number, exclusion(user), counted)

    await reader.check(XapiSource(path), expected)


def link_oulad_module(source: Path, target: Path, module: str) -> None:
    """The OULAD tables of one module in ``target``: registrations and submissions
    filtered line by line (the bytes kept as they are), the other tables linked."""
    for name in ("courses.csv", "assessments.csv", "vle.csv", CLICKS):
        (target / name).symlink_to(source / name)
    with (source / "assessments.csv").open(newline="") as stream:
        ids = {
            r["id_assessment"]
            for r in csv.DictReader(stream)
            if r["code_module"] == module
        }
    keep: dict[str, Callable[[dict[str, str]], bool]] = {
        "studentRegistration.csv": lambda row: row["code_module"] == module,
        "studentAssessment_Jpresentations_subset.csv": lambda row: (
            row["id_assessment"] in ids
        ),
    }
    for name, wanted in keep.items():
        header, *lines = (source / name).read_bytes().splitlines(keepends=True)
        names = next(csv.reader([header.decode()]))
        kept = [
            line
            for line in lines
            if wanted(dict(zip(names, next(csv.reader([line.decode()])), strict=True)))
        ]
        (target / name).write_bytes(header + b"".join(kept))


async def test_oulad_reads(real_data: Path, reader: Reader, tmp_path: Path) -> None:
    # One module (the click file's): its registrations, submissions and clicks. The
    # whole tables (32,593 registrations, 36,184 submissions) are read without a
    # store in tests/importers/test_real_data.py; imported, they alone would take
    # half a minute per backend.
    link_oulad_module(real_data / "oulad", tmp_path, OULAD_MODULE)
    expected = oulad_expectation(tmp_path)

    await reader.check(OuladSource(tmp_path), expected)
