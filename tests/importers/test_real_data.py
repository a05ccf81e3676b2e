"""Every real file in ../shared/data/real, checked against counts made independently.

The expected numbers come from the raw files through simple code of this module (the
csv module, regular expressions, ``ast.literal_eval`` for dump tuples), never from
the importers. Every skipped row must be accounted for by reason. Then one real file
of each kind is imported into the store, twice.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ssea_core.clock import FixedClock
from ssea_core.importers import (
    ImportSource,
    LogstoreSource,
    MoodleLogSource,
    OuladSource,
    SyncItem,
    XapiSource,
    import_into,
)
from ssea_core.ingest.service import Ingestor
from ssea_core.records import TenantRecord
from ssea_storage.sql.store import SqlStore
from tests.conftest import make_tenant
from tests.importers.conftest import count_rows, stored_per_course

pytestmark = pytest.mark.realdata

EXPORTS = "moodle_log_exports"
EDIFY = [
    f"{EXPORTS}/lamethods_moodleEdify/Moodle Module {name}.csv"
    for name in (
        "1 F19",
        "1 F20",
        "1 SP18",
        "1 SP19",
        "1 SP20",
        "1 SP21",
        "2 F17",
        "2 SP18",
        "3 F17",
        "3 SP17",
        "3 SP18",
    )
]
LOG_EXPORTS = [
    *EDIFY,
    f"{EXPORTS}/es_tesis_sergiogonzalez/logs_names_pseudonymised.csv",
    f"{EXPORTS}/es_tesis_sergiogonzalez/log_p.csv",
    f"{EXPORTS}/pl_wawrowski/logs_anonim.csv",
    f"{EXPORTS}/ad1529_consolidation_examples/example_platform_logs.csv",
    f"{EXPORTS}/ad1529_consolidation_examples/temporal_example_consolidated_df.csv",
    f"{EXPORTS}/mootler_fixture/activity.csv",
    "ucl_stat0004/STAT0004_2122_events.csv.gz",
    "lamethods_moodleLAcourse/Events.xlsx",
]
DUMPS = [
    "logstore_sql/fontrecents_moodle_mysqldump_subset.sql",
    "logstore_sql/vitaledu_moodle_mysqldump_subset.sql",
]
LOGSTORE_CSV = f"{EXPORTS}/ad1529_consolidation_examples/example_database_data.csv"
XAPI_CASES = "xapi/logstore_xapi_test_cases.jsonl"
XAPI_FLAT = "xapi/ad1529_lrs_flattened/example_logs.csv"

ACTOR = re.compile(r"[Uu]ser with id '?(-?\d+)")
COURSES = re.compile(r"course(?: with)?(?: the)? id '(\d+)'|at course: (\d+)")
MODULE = re.compile(r"course module (?:with )?id\s*'(\d+)'")
# Grades, enrolments and completions are about the second user a description names.
ABOUT_RELATED = re.compile(
    r"updated the grade with id '\d+' for the user with id"
    r"|(?<!un)enrolled the user with id '\d+' using"
    r"|updated the completion state for the course module with id"
)
RELATED_EVENTS = (
    "\\core\\event\\user_graded",
    "\\core\\event\\user_enrolment_created",
    "\\core\\event\\course_module_completion_updated",
    "\\core\\event\\course_completed",
)
COURSE_VIEW = re.compile(
    r"viewed the (?:section number '[^']*' of the )?course with id"
)
TIME_TEXT = re.compile(
    r"\d{1,2}/\d{1,2}/\d{2}(?:\d{2})?,? \d{1,2}:\d{2}(?::\d{2})?"
    r"|\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?"
)
SITE = "1"


@dataclass
class Expected:
    """What a file should give, counted here from its raw rows."""

    rows: int = 0
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    users: set[str] = field(default_factory=set)
    per_course: Counter[str | None] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    identities: set[Any] = field(default_factory=set)


@dataclass
class Seen:
    """What an importer gave."""

    events: list[dict[str, Any]]
    items: list[SyncItem]
    source: ImportSource

    @property
    def users(self) -> set[str]:
        return {event["user_id"] for event in self.events}

    @property
    def per_course(self) -> Counter[str | None]:
        return Counter(event.get("course_id") for event in self.events)

    def count(self, event_type: str) -> int:
        return sum(1 for event in self.events if event["event_type"] == event_type)


def run(source: ImportSource) -> Seen:
    items = list(source)
    events = [item for item in items if isinstance(item, dict)]
    catalogue = [item for item in items if isinstance(item, SyncItem)]
    return Seen(events, catalogue, source)


def check(seen: Seen, expected: Expected) -> None:
    tally = seen.source.tally
    assert tally.rows_read == expected.rows
    assert len(seen.events) == expected.events
    assert dict(tally.skipped) == dict(+expected.skipped)
    assert tally.accounted
    assert seen.users == expected.users
    assert seen.per_course == expected.per_course


# -- Moodle Logs downloads ----------------------------------------------------------


def raw_table(path: Path) -> tuple[list[str], list[list[Any]]]:
    """Header and non-blank rows of a CSV (maybe gzipped) or XLSX file."""
    if path.suffix == ".xlsx":
        openpyxl = pytest.importorskip("openpyxl")
        book = openpyxl.load_workbook(path, read_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()
        table = [list(row) for row in sheet.iter_rows(values_only=True)]
        book.close()
    else:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else None
        text = (data or path.read_bytes()).decode("utf-8", errors="replace")
        table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    rows = [row for row in table if any(str(c).strip() for c in row if c is not None)]
    return [str(cell) for cell in rows[0]], rows[1:]


def log_expectations(path: Path) -> Expected:
    header, rows = raw_table(path)
    description = next(
        (i for i, name in enumerate(header) if name in ("Description", "Descripción")),
        None,
    )
    user_column = header.index("userid") if "userid" in header else None
    course_column = header.index("courseid") if "courseid" in header else None
    event_name = next(
        (i for i, n in enumerate(header) if n in ("Event name", "Event_name")), None
    )
    time_column = next(
        i for i, n in enumerate(header) if n in ("Time", "Hora", "czas", "timecreated")
    )

    def cell(row: list[Any], index: int | None) -> str:
        if index is None or index >= len(row) or row[index] is None:
            return ""
        return str(row[index])

    def last_course(text: str) -> str | None:
        found = [a or b for a, b in COURSES.findall(text)]
        return found[-1] if found else None

    named = {last_course(cell(row, description)) for row in rows} - {None, SITE}
    only = next(iter(named)) if len(named) == 1 else None
    expected = Expected(rows=len(rows))
    run_time: Any = object()
    in_run: Counter[Any] = Counter()
    for row in rows:
        text = cell(row, description)
        ids = ACTOR.findall(text)
        user = cell(row, user_column) or (ids[0] if ids else "")
        if len(ids) > 1 and ABOUT_RELATED.search(text):
            user = ids[1]
        if not user:
            expected.skipped["no_user_id"] += 1
            continue
        moment = row[time_column]
        if not isinstance(moment, datetime) and not TIME_TEXT.fullmatch(str(moment)):
            expected.skipped["bad_time"] += 1
            continue
        course = cell(row, course_column) or last_course(text)
        if course is None and MODULE.search(text):
            course = only
        expected.events += 1
        expected.users.add(user)
        expected.per_course[None if course == SITE else course] += 1
        if COURSE_VIEW.search(text) or (
            not text and cell(row, event_name) == "Course viewed"
        ):
            expected.types["course_viewed"] += 1
        # What an event id depends on: names, IP and origin do not count.
        key = tuple(
            cell(row, i)
            for i, name in enumerate(header)
            if name not in ("User full name", "Affected user", "Origin", "IP address")
        )
        if moment != run_time:
            run_time, in_run = moment, Counter()
        expected.identities.add((key, in_run[key]))
        in_run[key] += 1
    return expected


@pytest.mark.parametrize("relative", LOG_EXPORTS)
def test_moodle_log_export(real_data: Path, relative: str) -> None:
    path = real_data / relative
    expected = log_expectations(path)

    seen = run(MoodleLogSource(path))

    check(seen, expected)
    assert seen.count("course_viewed") == expected.types["course_viewed"]
    identities = {
        json.dumps({k: v for k, v in e.items() if k not in ("ip", "origin")})
        for e in seen.events
    }
    assert len(identities) == len(expected.identities)


def test_stray_cp1252_bytes_of_two_exports_are_counted(real_data: Path) -> None:
    folder = real_data / EXPORTS / "lamethods_moodleEdify"
    for name in ("Moodle Module 1 F19.csv", "Moodle Module 1 SP20.csv"):
        raw = (folder / name).read_bytes()
        invalid = len(raw) - len(raw.decode("utf-8", errors="ignore").encode())

        seen = run(MoodleLogSource(folder / name))

        assert seen.source.tally.notes["cp1252_bytes"] == invalid > 0
        assert not any("\ufffd" in json.dumps(e) for e in seen.events)


# -- logstore dumps -------------------------------------------------------------------


def dump_tuples(path: Path, table: str) -> Iterator[dict[str, Any]]:
    """Rows of one table of a phpMyAdmin dump, one tuple per line, read naively."""
    text = path.read_text(encoding="utf-8")
    pattern = rf"INSERT INTO `{table}` \(([^)]*)\) VALUES\n(.*?);\n"
    for columns, body in re.findall(pattern, text, re.DOTALL):
        names = [name.strip(" `") for name in columns.split(",")]
        for line in body.splitlines():
            literal = re.sub(r"\bNULL\b", "None", line.strip().rstrip(","))
            yield dict(zip(names, ast.literal_eval(literal), strict=True))


def logstore_expectation(rows: list[dict[str, Any]]) -> Expected:
    expected = Expected(rows=len(rows), events=len(rows))
    for row in rows:
        course = str(row["courseid"]) if row.get("courseid") is not None else None
        if course in ("0", SITE) or str(row.get("contextlevel")) == "10":
            course = None
        user = row["userid"]
        related = row.get("relateduserid")
        if row.get("eventname") in RELATED_EVENTS and related not in (None, "\\N"):
            user = related
        expected.users.add(str(user))
        expected.per_course[course] += 1
    return expected


@pytest.mark.parametrize("relative", DUMPS)
def test_logstore_dump(real_data: Path, relative: str) -> None:
    path = real_data / relative
    rows = list(dump_tuples(path, "mdl_logstore_standard_log"))
    courses = [r for r in dump_tuples(path, "mdl_course") if r["format"] != "site"]
    modules = list(dump_tuples(path, "mdl_course_modules"))
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
    catalogue_rows = sum(len(list(dump_tuples(path, t))) for t in catalogue_tables)
    expected = logstore_expectation(rows)
    expected.rows += catalogue_rows

    seen = run(LogstoreSource(path))

    check(seen, expected)
    assert [e["moodle_log_id"] for e in seen.events] == [str(r["id"]) for r in rows]
    entities = Counter(item.entity for item in seen.items)
    assert entities["courses"] == len(courses)
    assert entities["modules"] == len(modules)
    php = sum(1 for r in rows if re.match(r"a:[1-9]", str(r["other"])))
    decoded = sum(1 for e in seen.events if "other" in e["metadata"])
    only_username = sum(
        1 for r in rows if re.fullmatch(r'a:1:\{s:8:"username";.*\}', str(r["other"]))
    )
    assert decoded == php - only_username
    assert seen.source.tally.notes["undecodable_other"] == 0


def test_logstore_csv_dump(real_data: Path) -> None:
    path = real_data / LOGSTORE_CSV
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    expected = logstore_expectation(rows)

    seen = run(LogstoreSource(path))

    check(seen, expected)
    related = sum(1 for r in rows if r["relateduserid"] not in ("\\N", ""))
    assert sum(1 for e in seen.events if "related_user_id" in e["metadata"]) == related


# -- xAPI -----------------------------------------------------------------------------


def xapi_cases(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """The shared statement part, every expected statement, and other lines."""
    common: dict[str, Any] = {}
    statements: list[dict[str, Any]] = []
    others = 0
    for line in path.read_text().splitlines():
        case = json.loads(line)
        if isinstance(case.get("statements"), list):
            statements.extend(case["statements"])
        else:
            others += 1
            common = case.get("statement") or common
    return common, statements, others


def with_common(common: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any]:
    """A test case's statement completed with the shared part, as the plugin's
    own test harness does before comparing."""
    context = {**common.get("context", {}), **statement.get("context", {})}
    return {**statement, "timestamp": common["timestamp"], "context": context}


def xapi_course(statement: dict[str, Any]) -> str | None:
    ids = [statement["object"].get("id", "")]
    activities = statement.get("context", {}).get("contextActivities", {})
    for key in ("grouping", "parent", "other", "category"):
        ids += [entry.get("id", "") for entry in activities.get(key, [])]
    for activity in ids:
        found = re.search(r"/course/view\.php\?(?:.*&)?id=(\d+)", activity)
        if found:
            return None if found[1] == SITE else found[1]
    return None


def test_xapi_test_cases_as_stored(real_data: Path) -> None:
    _, statements, others = xapi_cases(real_data / XAPI_CASES)
    no_time = sum(
        1 for s in statements if not s.get("timestamp") and not s.get("stored")
    )
    expected = Expected(rows=len(statements) + others)
    expected.skipped.update({"no_timestamp": no_time, "not_a_statement": others})

    seen = run(XapiSource(real_data / XAPI_CASES))

    check(seen, expected)


def xapi_expectation(statements: list[dict[str, Any]]) -> Expected:
    expected = Expected(rows=len(statements), events=len(statements))
    for statement in statements:
        expected.users.add(statement["actor"]["account"]["name"])
        expected.per_course[xapi_course(statement)] += 1
        expected.identities.add(json.dumps(statement, sort_keys=True))
    return expected


def test_xapi_test_cases_completed(real_data: Path) -> None:
    common, statements, _ = xapi_cases(real_data / XAPI_CASES)
    completed = [with_common(common, s) for s in statements]
    expected = xapi_expectation(completed)

    seen = run(XapiSource(completed))

    check(seen, expected)
    assert len({e["moodle_log_id"] for e in seen.events}) == len(expected.identities)
    scored = sum(1 for s in completed if "score" in s.get("result", {}))
    assert sum(1 for e in seen.events if "score" in e["metadata"]) == scored


def test_xapi_flat_export(real_data: Path) -> None:
    path = real_data / XAPI_FLAT
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    courses = Counter(
        (re.findall(r"/course/view\.php\?id=(\d+)", r["RelatedActivities"]) or [None])[
            0
        ]
        for r in rows
    )

    seen = run(XapiSource(path))

    assert seen.source.tally.rows_read == len(rows) == len(seen.events)
    assert seen.users == {"sha1:" + r["Email"] for r in rows}
    assert seen.per_course == courses


# -- OULAD ----------------------------------------------------------------------------


def oulad_table(folder: Path, prefix: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(folder.glob(f"{prefix}*.csv")):
        with path.open(newline="") as stream:
            rows.extend(csv.DictReader(stream))
    return rows


def oulad_expectation(folder: Path) -> tuple[Expected, Counter[str]]:
    def course(row: dict[str, str]) -> str:
        return f"{row['code_module']}-{row['code_presentation']}"

    tables = {
        name: oulad_table(folder, name)
        for name in (
            "courses",
            "assessments",
            "vle",
            "studentInfo",
            "studentRegistration",
            "studentAssessment",
            "studentVle",
        )
    }
    expected = Expected(rows=sum(len(rows) for rows in tables.values()))
    assessments = {row["id_assessment"]: row for row in tables["assessments"]}
    kinds = {"TMA": "assignment_submitted", "CMA": "quiz_submitted"}
    for row in tables["studentRegistration"]:
        if row["date_registration"]:
            expected.per_course[course(row)] += 1
            expected.users.add(row["id_student"])
            expected.types["user_enrolled"] += 1
    for row in tables["studentAssessment"]:
        assessment = assessments.get(row["id_assessment"])
        if assessment is None:
            expected.skipped["unknown_assessment"] += 1
            continue
        expected.per_course[course(assessment)] += 1
        expected.users.add(row["id_student"])
        expected.types[kinds.get(assessment["assessment_type"], "quiz_submitted")] += 1
    for row in tables["studentVle"]:
        expected.per_course[course(row)] += 1
        expected.users.add(row["id_student"])
        expected.types["module_viewed"] += 1
    expected.events = sum(expected.types.values())
    entities = Counter(
        courses=len(tables["courses"]),
        modules=len(tables["assessments"]) + len(tables["vle"]),
        users=len(tables["studentInfo"]),
        enrolments=len(tables["studentRegistration"]),
        grades=len(tables["studentAssessment"])
        - expected.skipped["unknown_assessment"],
    )
    return expected, +entities


def test_oulad_folder(real_data: Path) -> None:
    folder = real_data / "oulad"
    expected, entities = oulad_expectation(folder)

    seen = run(OuladSource(folder))

    check(seen, expected)
    for event_type, count in expected.types.items():
        assert seen.count(event_type) == count
    assert Counter(item.entity for item in seen.items) == entities
    blank_scores = sum(
        1 for r in oulad_table(folder, "studentAssessment") if not r["score"]
    )
    assert sum(1 for e in seen.events if e["metadata"].get("score", 0) is None) == (
        blank_scores
    )


# -- end to end: one real file of each kind, imported twice ---------------------------


async def import_twice(
    ingestor: Ingestor,
    store: SqlStore,
    tenant: TenantRecord,
    source: ImportSource,
    expected_per_course: Counter[str | None],
) -> None:
    first = await import_into(ingestor, tenant.tenant_id, source, chunk_size=3000)
    second = await import_into(ingestor, tenant.tenant_id, source, chunk_size=3000)

    stored = stored_per_course(store, tenant.tenant_id)
    assert stored == dict(+expected_per_course)
    assert first.stored == sum(expected_per_course.values())
    assert first.duplicates == first.events - first.stored
    assert (second.stored, second.duplicates) == (0, second.events)
    assert second.rows_read == first.rows_read


async def test_end_to_end_moodle_log_export(
    real_data: Path, ingestor: Ingestor, store: SqlStore, tenant: TenantRecord
) -> None:
    path = real_data / EXPORTS / "es_tesis_sergiogonzalez/logs_names_pseudonymised.csv"
    source = MoodleLogSource(path, timezone="America/Santiago")
    seen = run(source)
    # Independent of the importer: the distinct identities of the file's rows, by
    # the course log_expectations gives each row.
    expected = log_expectations(path)
    assert len(seen.events) - len(expected.identities) == 0
    per_course = expected.per_course

    await import_twice(ingestor, store, tenant, source, per_course)


async def test_end_to_end_logstore_dump(
    real_data: Path, ingestor: Ingestor, store: SqlStore, tenant: TenantRecord
) -> None:
    path = real_data / DUMPS[1]
    expected = logstore_expectation(
        list(dump_tuples(path, "mdl_logstore_standard_log"))
    )
    courses = [r for r in dump_tuples(path, "mdl_course") if r["format"] != "site"]

    await import_twice(
        ingestor, store, tenant, LogstoreSource(path), expected.per_course
    )

    assert count_rows(store, "courses", tenant.tenant_id) == len(courses)
    assert count_rows(store, "modules", tenant.tenant_id) == len(
        list(dump_tuples(path, "mdl_course_modules"))
    )


async def test_end_to_end_xapi(
    real_data: Path, ingestor: Ingestor, store: SqlStore, tenant: TenantRecord
) -> None:
    common, statements, _ = xapi_cases(real_data / XAPI_CASES)
    completed = [with_common(common, s) for s in statements]
    distinct = {json.dumps(s, sort_keys=True): s for s in completed}
    expected = xapi_expectation(list(distinct.values()))

    await import_twice(
        ingestor, store, tenant, XapiSource(completed), expected.per_course
    )


async def test_end_to_end_oulad_clicks(
    real_data: Path,
    ingestor: Ingestor,
    store: SqlStore,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    # The click table with the tables it refers to, linked (not copied) from the data.
    for name in ("courses.csv", "vle.csv", "studentVle_head_AAA2013J.csv"):
        (tmp_path / name).symlink_to(real_data / "oulad" / name)
    expected, _ = oulad_expectation(tmp_path)
    tenant = await make_tenant(store, clock, plan="enterprise")

    await import_twice(
        ingestor, store, tenant, OuladSource(tmp_path), expected.per_course
    )

    assert count_rows(store, "modules", tenant.tenant_id) == len(
        oulad_table(tmp_path, "vle")
    )
