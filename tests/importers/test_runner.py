"""import_into: chunks through the ingest path, idempotency, summary, caps."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssea_core.clock import FixedClock
from ssea_core.importers import (
    LogstoreSource,
    MoodleLogSource,
    import_into,
    open_source,
)
from ssea_core.ingest.service import Ingestor
from ssea_core.records import TenantRecord
from ssea_storage.sql.store import SqlStore
from tests.conftest import make_tenant
from tests.importers.conftest import count_rows, stored_per_course
from tests.importers.samples import DUMP

HEADER = (
    "Time,User full name,Affected user,Event context,Component,Event name,"
    "Description,Origin,IP address"
)


def log_file(tmp_path: Path, count: int) -> Path:
    lines = [HEADER]
    for index in range(count):
        user, course = index % 4, 10 + index % 2
        description = f"The user with id '{user}' viewed the course with id '{course}'."
        cells = f'-,-,Course,System,Course viewed,"{description}",web,10.0.0.1'
        lines.append(f'"1/1/21, 10:{index % 60:02d}",{cells}')
    lines.append(
        '"1/1/21, 11:00",-,-,Course,Turnitin,List,"User viewed their inbox",web,'
    )
    path = tmp_path / "log.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


async def test_import_twice_stores_once(
    tmp_path: Path, ingestor: Ingestor, store: SqlStore, tenant: TenantRecord
) -> None:
    source = MoodleLogSource(log_file(tmp_path, 25))
    seen: list[int] = []

    first = await import_into(
        ingestor, tenant.tenant_id, source, chunk_size=10, progress=seen.append
    )
    second = await import_into(ingestor, tenant.tenant_id, source, chunk_size=7)

    assert (first.rows_read, first.events, first.stored, first.duplicates) == (
        26,
        25,
        25,
        0,
    )
    assert first.skipped == {"no_user_id": 1}
    assert (second.stored, second.duplicates) == (0, 25)
    assert seen == sorted(seen)
    assert seen[-1] == 26
    assert len(seen) >= 3
    assert stored_per_course(store, tenant.tenant_id) == {"10": 13, "11": 12}


async def test_ingest_rejections_are_counted_by_code(
    ingestor: Ingestor, tenant: TenantRecord
) -> None:
    rows = [
        {"id": 1, "userid": 3, "timecreated": 1_600_000_000, "eventname": "x"},
        {"id": 2, "userid": 3, "timecreated": 4_000_000_000, "eventname": "x"},
        {"id": "9" * 80, "userid": 3, "timecreated": 1_600_000_000},
    ]

    summary = await import_into(ingestor, tenant.tenant_id, LogstoreSource(rows))

    assert summary.stored == 1
    assert summary.skipped == {"timestamp_in_future": 1, "invalid_item": 1}


async def test_catalogue_items_are_synced(
    tmp_path: Path, ingestor: Ingestor, store: SqlStore, tenant: TenantRecord
) -> None:
    path = tmp_path / "moodle.sql"
    path.write_text(DUMP)

    summary = await import_into(
        ingestor, tenant.tenant_id, open_source("logstore", path)
    )

    assert summary.synced == {"courses": 1, "enrolments": 2, "modules": 1}
    assert count_rows(store, "courses", tenant.tenant_id) == 1
    assert count_rows(store, "enrolments", tenant.tenant_id) == 2
    assert summary.stored == 5


async def test_daily_cap_stops_the_import(
    ingestor: Ingestor, store: SqlStore, clock: FixedClock
) -> None:
    free = await make_tenant(store, clock, plan="free")
    rows = [
        {"id": n, "userid": n % 7, "timecreated": 1_600_000_000 + n}
        for n in range(1, 1501)
    ]

    summary = await import_into(
        ingestor, free.tenant_id, LogstoreSource(rows), chunk_size=600
    )
    again = await import_into(ingestor, free.tenant_id, LogstoreSource(rows[:1000]))

    assert summary.stored == 1000
    assert summary.stopped == "daily_cap_exceeded"
    assert summary.skipped == {"daily_cap_exceeded": 500}
    assert summary.rows_read == 1500
    assert (again.stored, again.duplicates) == (0, 1000)


async def test_unknown_kind_and_bad_chunk_size(
    ingestor: Ingestor, tenant: TenantRecord, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="unknown import kind"):
        open_source("moodle-backup", tmp_path)
    with pytest.raises(ValueError, match="chunk_size"):
        await import_into(ingestor, tenant.tenant_id, LogstoreSource([]), chunk_size=0)


def test_public_surface_is_sorted_and_resolves() -> None:
    import ssea_core.importers as package

    assert package.__all__ == sorted(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)
