"""Report definitions, parameters, writers and the in-memory artifact store (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from ssea_core.artifacts import (
    ArtifactNotFoundError,
    ExpiredDownloadLinkError,
    InvalidArtifactKeyError,
    InvalidDownloadLinkError,
    LocalUrlSigner,
    MemoryArtifactStore,
    check_key,
    local_signature,
    verify_local_signature,
)
from ssea_core.clock import FixedClock
from ssea_core.errors import ValidationFailedError
from ssea_core.reports import (
    CONTENT_TYPES,
    REPORT_TYPES,
    REPORTS,
    ReportDefinition,
    ReportJobIn,
    ReportRequest,
    accepted_params,
    artifact_key,
    export_report,
    parse_csv,
    parse_json,
    resolve_request,
    write_csv,
    write_json,
)
from ssea_core.reports.compute import cohort_rows, item_stats, week_start
from ssea_core.reports.definitions import _columns

TODAY = date(2026, 3, 2)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "reports.md"
SECRET = "s" * 32
TENANT = UUID("11111111-1111-4111-8111-111111111111")
OTHER = UUID("22222222-2222-4222-8222-222222222222")


# -- definitions -----------------------------------------------------------------------


def test_six_report_types_with_unique_columns() -> None:
    assert (
        set(REPORTS)
        == set(REPORT_TYPES)
        == {
            "retention_cohort",
            "activity_funnel",
            "teacher_course_health",
            "student_learning_profile",
            "assessment_performance",
            "early_warning_summary",
        }
    )
    for definition in REPORTS.values():
        assert len(set(definition.names)) == len(definition.names)
        assert all(column.description.endswith(".") for column in definition.columns)


def _section(text: str, report_type: str) -> str:
    start = text.index(f"## `{report_type}`")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize("report_type", REPORT_TYPES)
def test_every_column_is_documented_in_order(report_type: str) -> None:
    section = _section(DOCS.read_text(encoding="utf-8"), report_type)
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.MULTILINE)

    assert tuple(documented) == REPORTS[report_type].names  # type: ignore[index]


def test_a_column_table_with_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        _columns("name  text  A name.")


# -- parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report_type", "expected"),
    [
        ("retention_cohort", (date(2025, 12, 9), TODAY, 12)),
        ("activity_funnel", (date(2026, 2, 1), TODAY, None)),
        ("teacher_course_health", (date(2026, 2, 1), TODAY, None)),
        ("student_learning_profile", (date(2026, 2, 1), TODAY, None)),
        ("assessment_performance", (None, None, None)),
        ("early_warning_summary", (None, TODAY, None)),
    ],
)
def test_defaults_are_fixed_when_resolved(
    report_type: Any, expected: tuple[Any, ...]
) -> None:
    request = resolve_request(report_type, None, TODAY)

    assert (request.date_from, request.date_to, request.max_weeks) == expected
    assert (request.as_of, request.format, request.course_id) == (TODAY, "csv", None)


def test_retention_window_follows_max_weeks_and_date_to() -> None:
    request = resolve_request(
        "retention_cohort", {"max_weeks": 4, "date_to": "2026-02-28"}, TODAY
    )

    assert (request.date_from, request.date_to) == (date(2026, 2, 1), date(2026, 2, 28))


def test_given_values_are_kept() -> None:
    params = {"date_from": "2026-01-01", "date_to": "2026-03-31", "course_id": " c1 "}

    request = resolve_request("activity_funnel", params, TODAY, "json")

    assert request.model_dump() == {
        "report_type": "activity_funnel",
        "format": "json",
        "as_of": TODAY,
        "date_from": date(2026, 1, 1),
        "date_to": date(2026, 3, 31),
        "max_weeks": None,
        "course_id": "c1",
    }


def test_assessment_window_bounds() -> None:
    lower = resolve_request(
        "assessment_performance", {"date_from": "2026-02-01"}, TODAY
    )
    upper = resolve_request("assessment_performance", {"date_to": "2026-02-01"}, TODAY)

    assert (lower.date_from, lower.date_to) == (date(2026, 2, 1), TODAY)
    assert (upper.date_from, upper.date_to) == (None, date(2026, 2, 1))


@pytest.mark.parametrize(
    ("report_type", "params", "field"),
    [
        ("retention_cohort", {"weeks": 4}, "params.weeks"),
        ("activity_funnel", {"max_weeks": 4}, "params.max_weeks"),
        ("early_warning_summary", {"date_from": "2026-01-01"}, "params.date_from"),
        ("retention_cohort", {"max_weeks": 0}, "params.max_weeks"),
        ("retention_cohort", {"max_weeks": 53}, "params.max_weeks"),
        ("retention_cohort", {"max_weeks": "many"}, "params.max_weeks"),
        ("teacher_course_health", {"date_to": "yesterday"}, "params.date_to"),
        ("teacher_course_health", {"course_id": "  "}, "params.course_id"),
        ("teacher_course_health", {"course_id": "x" * 65}, "params.course_id"),
    ],
)
def test_bad_params_are_422_naming_the_field(
    report_type: Any, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        resolve_request(report_type, params, TODAY)

    error = caught.value
    assert error.status == 422
    assert f"field '{field}'" in error.message
    assert error.details is not None
    assert [".".join(map(str, d["loc"])) for d in error.details] == [field]
    assert "input" not in error.details[0]


def test_an_unknown_param_message_lists_what_is_accepted() -> None:
    with pytest.raises(ValidationFailedError) as caught:
        resolve_request("early_warning_summary", {"max_weeks": 3}, TODAY)

    assert caught.value.message == (
        "field 'params.max_weeks': Extra inputs are not permitted. "
        "early_warning_summary accepts: date_to, course_id."
    )
    assert accepted_params("retention_cohort") == [
        "date_from",
        "date_to",
        "max_weeks",
        "course_id",
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2026-03-02", "date_to": "2026-03-01"},
        {"date_from": "2025-01-01", "date_to": "2026-01-02"},  # 367 days
        {"date_from": "2024-01-01"},  # to today: too long
    ],
)
def test_bad_ranges_are_422(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        resolve_request("student_learning_profile", params, TODAY)

    assert caught.value.status == 422
    assert caught.value.message.startswith("field 'params")


def test_a_year_is_allowed() -> None:
    params = {"date_from": "2025-03-02", "date_to": "2026-03-02"}

    request = resolve_request("student_learning_profile", params, TODAY)

    assert (request.date_to - request.date_from).days + 1 == 366  # type: ignore[operator]


def test_job_body() -> None:
    body = ReportJobIn.model_validate(
        {"report_type": "retention_cohort", "params": {"max_weeks": 2}}
    )

    assert body.format == "csv"
    assert body.resolve(TODAY).max_weeks == 2
    for bad in (
        {"report_type": "everything"},
        {"report_type": "retention_cohort", "format": "xlsx"},
        {"report_type": "retention_cohort", "filters": {}},
    ):
        with pytest.raises(ValidationError):
            ReportJobIn.model_validate(bad)


def test_a_resolved_request_round_trips_through_json() -> None:
    request = resolve_request("retention_cohort", {"course_id": "c1"}, TODAY)

    assert ReportRequest.model_validate_json(request.model_dump_json()) == request


# -- pure arithmetic -------------------------------------------------------------------


def test_week_start_is_monday() -> None:
    assert week_start(date(2026, 3, 1)) == date(2026, 2, 23)  # a Sunday
    assert week_start(date(2026, 3, 2)) == date(2026, 3, 2)


def test_cohort_rows_fold_days_into_weeks_and_count_ended_weeks_only() -> None:
    # Two members from Mon 02-02 (one active in week 0), one from Sun 02-08 (active
    # in weeks 0 and 1). As of 02-16: week 1 ended for 02-02 members only.
    sizes = {date(2026, 2, 2): 2, date(2026, 2, 8): 1}
    active = {
        (date(2026, 2, 2), 0): 1,
        (date(2026, 2, 8), 0): 1,
        (date(2026, 2, 8), 1): 1,
    }

    rows = list(cohort_rows(sizes, active, max_weeks=2, as_of=date(2026, 2, 16)))

    assert rows == [
        {
            "cohort_week": date(2026, 2, 2),
            "cohort_size": 3,
            "week": 0,
            "observed": 3,
            "active": 2,
            "retention_pct": 66.7,
        },
        {
            "cohort_week": date(2026, 2, 2),
            "cohort_size": 3,
            "week": 1,
            "observed": 2,
            "active": 0,
            "retention_pct": 0.0,
        },
    ]


def test_item_stats() -> None:
    assert item_stats([40.0, 80.0, 90.0], [False, True, True], True) == {
        "graded": 3,
        "avg_pct": 70.0,
        "median_pct": 80.0,
        "min_pct": 40.0,
        "max_pct": 90.0,
        "passed": 2,
        "pass_rate": 66.7,
    }
    assert item_stats([], [], False)["pass_rate"] is None


# -- writers ---------------------------------------------------------------------------

SAMPLE = ReportDefinition(
    "student_learning_profile",
    "a test row",
    _columns(
        """
name     string    A name.
count    integer   A count.
share    number    A share.
flag     boolean   A flag.
day      date      A day.
moment   datetime  A moment.
"""
    ),
)
ROWS = [
    {
        "name": 'Ann "the first", Archer',
        "count": 3,
        "share": 66.7,
        "flag": True,
        "day": date(2026, 3, 2),
        "moment": datetime(2026, 3, 2, 12, 30, tzinfo=UTC),
    },
    {
        "name": "Zoë\nsecond line",
        "count": 0,
        "share": None,
        "flag": False,
        "day": None,
        "moment": None,
    },
    {
        "name": None,
        "count": None,
        "share": 0.1,
        "flag": None,
        "day": None,
        "moment": None,
    },
]


class Sink:
    """An artifact writer that keeps its chunks."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode()


async def stream(rows: list[dict[str, Any]]) -> AsyncGenerator[dict[str, Any], None]:
    for row in rows:
        yield row


async def test_csv_is_rfc4180_and_parses_back() -> None:
    sink = Sink()

    summary = await write_csv(SAMPLE, stream(ROWS), sink)

    assert sink.text == (
        "name,count,share,flag,day,moment\r\n"
        '"Ann ""the first"", Archer",3,66.7,true,2026-03-02,2026-03-02T12:30:00Z\r\n'
        '"Zoë\nsecond line",0,,false,,\r\n'
        ",,0.1,,,\r\n"
    )
    assert (summary.rows, summary.bytes) == (3, len(sink.text.encode()))
    assert parse_csv(SAMPLE, sink.text) == ROWS


async def test_json_is_one_array_and_parses_back() -> None:
    sink = Sink()

    summary = await write_json(SAMPLE, stream(ROWS), sink)

    loaded = json.loads(sink.text)
    assert loaded[0] == {
        "name": 'Ann "the first", Archer',
        "count": 3,
        "share": 66.7,
        "flag": True,
        "day": "2026-03-02",
        "moment": "2026-03-02T12:30:00Z",
    }
    assert list(loaded[0]) == list(SAMPLE.names)
    assert parse_json(SAMPLE, sink.text) == ROWS
    assert summary.rows == 3


@pytest.mark.parametrize("writer", [write_csv, write_json])
async def test_no_rows(writer: Any) -> None:
    sink = Sink()

    summary = await writer(SAMPLE, stream([]), sink)

    parse = parse_csv if writer is write_csv else parse_json
    assert parse(SAMPLE, sink.text) == []
    assert summary.rows == 0


@pytest.mark.parametrize("writer", [write_csv, write_json])
async def test_output_goes_out_in_bounded_chunks(writer: Any) -> None:
    sink = Sink()
    many = [dict(ROWS[0], count=index) for index in range(500)]

    await writer(SAMPLE, stream(many), sink, chunk_size=1024)

    assert len(sink.chunks) > 20
    assert max(len(chunk) for chunk in sink.chunks) < 1024 + 200
    parse = parse_csv if writer is write_csv else parse_json
    assert parse(SAMPLE, sink.text) == many


async def test_a_row_without_a_column_fails() -> None:
    with pytest.raises(KeyError):
        await write_csv(SAMPLE, stream([{"name": "x"}]), Sink())


def test_parse_csv_checks_the_header() -> None:
    with pytest.raises(ValueError, match="unexpected header"):
        parse_csv(SAMPLE, "a,b\r\n1,2\r\n")


# -- keys and signed local links -------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["reports/job_1/retention_cohort.csv", "a", "A-b_c.d/e", "/".join("a" * 8)],
)
def test_good_keys(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../other/report.csv",
        "reports/../../x",
        "reports//x",
        "reports/",
        ".hidden",
        "reports/.x.part",
        "a\\b",
        "a b",
        "ä",
        "/".join("a" * 9),
        "x" * 129,
        "reports/x.csv?y",
    ],
)
def test_bad_keys(key: str) -> None:
    with pytest.raises(InvalidArtifactKeyError):
        check_key(key)


def test_artifact_key() -> None:
    assert artifact_key("job_1", "retention_cohort", "json") == (
        "reports/job_1/retention_cohort.json"
    )
    with pytest.raises(InvalidArtifactKeyError):
        artifact_key("../job", "retention_cohort", "csv")


def test_signed_local_link_verifies_until_it_expires() -> None:
    clock = FixedClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    signer = LocalUrlSigner(SECRET, base_url="https://ssea.example.edu/", clock=clock)

    signed = signer.sign(TENANT, "reports/job_1/r.csv", timedelta(minutes=10))

    expires = int(datetime(2026, 3, 2, 12, 10, tzinfo=UTC).timestamp())
    signature = local_signature(SECRET, TENANT, "reports/job_1/r.csv", expires)
    assert signed.url == (
        f"https://ssea.example.edu/v1/artifacts/{TENANT}/reports/job_1/r.csv"
        f"?expires={expires}&signature={signature}"
    )
    assert signed.expires_at == datetime(2026, 3, 2, 12, 10, tzinfo=UTC)
    assert re.fullmatch(r"[0-9a-f]{64}", signature)

    clock.advance(minutes=9, seconds=59)
    signer.verify(TENANT, "reports/job_1/r.csv", str(expires), signature)
    clock.advance(seconds=1)
    with pytest.raises(ExpiredDownloadLinkError) as caught:
        signer.verify(TENANT, "reports/job_1/r.csv", str(expires), signature)
    assert (caught.value.status, caught.value.code) == (403, "DOWNLOAD_LINK_EXPIRED")


@pytest.mark.parametrize(
    ("tenant", "key", "expires", "signature"),
    [
        (OTHER, "r.csv", None, None),  # another tenant's path
        (TENANT, "s.csv", None, None),  # another key
        (TENANT, "r.csv", "9999999999", None),  # a later expiry
        (TENANT, "r.csv", "soon", None),
        (TENANT, "r.csv", None, "0" * 64),
        (TENANT, "r.csv", None, "XYZ"),
        (TENANT, "r.csv", None, ""),
        (TENANT, "../r.csv", None, None),
    ],
)
def test_a_tampered_link_is_refused(
    tenant: UUID, key: str, expires: str | None, signature: str | None
) -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    good_expiry = int(now.timestamp()) + 60
    good = local_signature(SECRET, TENANT, "r.csv", good_expiry)

    with pytest.raises(InvalidDownloadLinkError) as caught:
        verify_local_signature(
            SECRET,
            tenant,
            key,
            expires or str(good_expiry),
            good if signature is None else signature,
            now=now,
        )
    assert type(caught.value) is InvalidDownloadLinkError
    assert caught.value.status == 403


def test_a_short_signing_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        LocalUrlSigner("short")


def test_signed_url_lifetimes_are_bounded() -> None:
    signer = LocalUrlSigner(SECRET)
    for bad in (timedelta(0), timedelta(days=7, seconds=1)):
        with pytest.raises(ValueError, match="1 s to 7 days"):
            signer.sign(TENANT, "r.csv", bad)


# -- in-memory store and export --------------------------------------------------------


async def write(
    store: MemoryArtifactStore, tenant: UUID, key: str, data: bytes
) -> None:
    async with store.open_writer(tenant, key, "text/csv") as writer:
        await writer.write(data[:3])
        await writer.write(data[3:])


async def read(store: MemoryArtifactStore, tenant: UUID, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(tenant, key, chunk_size=2)])


async def test_memory_store_round_trip_and_tenancy() -> None:
    store = MemoryArtifactStore()
    await write(store, TENANT, "reports/r.csv", b"a,b\r\n1,2\r\n")

    assert await read(store, TENANT, "reports/r.csv") == b"a,b\r\n1,2\r\n"
    assert await store.size(TENANT, "reports/r.csv") == 10
    assert store.content_type(TENANT, "reports/r.csv") == "text/csv"
    assert await store.exists(OTHER, "reports/r.csv") is False
    with pytest.raises(ArtifactNotFoundError):
        await read(store, OTHER, "reports/r.csv")
    assert await store.signed_url(TENANT, "reports/r.csv", timedelta(hours=1)) is None
    assert await store.delete(OTHER, "reports/r.csv") is False
    assert await store.delete(TENANT, "reports/r.csv") is True
    assert await store.exists(TENANT, "reports/r.csv") is False


async def test_memory_store_signs_with_a_signer() -> None:
    clock = FixedClock(datetime(2026, 3, 2, tzinfo=UTC))
    store = MemoryArtifactStore(LocalUrlSigner(SECRET, clock=clock))
    await write(store, TENANT, "r.csv", b"data")

    signed = await store.signed_url(TENANT, "r.csv", timedelta(hours=1))

    assert signed is not None
    assert signed.url.startswith(f"/v1/artifacts/{TENANT}/r.csv?expires=")
    with pytest.raises(ArtifactNotFoundError):
        await store.signed_url(OTHER, "r.csv", timedelta(hours=1))


async def write_then_fail(store: MemoryArtifactStore) -> None:
    async with store.open_writer(TENANT, "r.csv", "text/csv") as writer:
        await writer.write(b"half")
        raise RuntimeError("boom")


async def test_a_failed_write_stores_nothing() -> None:
    store = MemoryArtifactStore()

    with pytest.raises(RuntimeError):
        await write_then_fail(store)

    assert await store.exists(TENANT, "r.csv") is False


class ListSource:
    """A report source over fixed rows; optionally fails after some."""

    def __init__(self, rows: list[dict[str, Any]], fail_after: int | None = None):
        self.rows_given = rows
        self.fail_after = fail_after
        self.closed = False

    async def rows(
        self, request: ReportRequest
    ) -> AsyncGenerator[dict[str, Any], None]:
        try:
            for index, row in enumerate(self.rows_given):
                if index == self.fail_after:
                    raise RuntimeError("the database went away")
                yield row
        finally:
            self.closed = True


def early_warning_rows(count: int) -> list[dict[str, Any]]:
    names = REPORTS["early_warning_summary"].names
    return [
        {name: (f"c{index}" if name == "course_id" else None) for name in names}
        for index in range(count)
    ]


@pytest.mark.parametrize("report_format", ["csv", "json"])
async def test_export_writes_the_artifact(report_format: Any) -> None:
    store = MemoryArtifactStore()
    source = ListSource(early_warning_rows(3))
    request = resolve_request("early_warning_summary", {}, TODAY, report_format)

    result = await export_report(request, source, store, TENANT, "reports/j/r")

    data = await read(store, TENANT, "reports/j/r")
    definition = REPORTS["early_warning_summary"]
    parse = parse_csv if report_format == "csv" else parse_json
    assert parse(definition, data.decode()) == source.rows_given
    assert result.content_type == CONTENT_TYPES[report_format]
    assert store.content_type(TENANT, "reports/j/r") == result.content_type
    assert (result.rows, result.bytes, result.key) == (3, len(data), "reports/j/r")
    assert source.closed


async def test_an_export_that_fails_leaves_no_artifact() -> None:
    store = MemoryArtifactStore()
    source = ListSource(early_warning_rows(5), fail_after=2)
    request = resolve_request("early_warning_summary", {}, TODAY)

    with pytest.raises(RuntimeError, match="went away"):
        await export_report(request, source, store, uuid4(), "reports/j/r.csv")

    assert store._blobs == {}
    assert source.closed


def test_the_reports_package_surface_resolves() -> None:
    # Ordered by ruff (RUF022: constants first), so not plain sorted().
    import ssea_core.reports as package

    assert all(hasattr(package, name) for name in package.__all__)
