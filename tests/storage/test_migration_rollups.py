"""Revision 0004 fills the tenant-wide rollups from the rollups already stored."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import insert, select

from ssea_storage.migrate import upgrade_database
from ssea_storage.sql.executor import make_engine
from ssea_storage.sql.schema import (
    daily_rollups,
    hourly_rollups,
    tenant_days,
    tenant_hours,
    tenants,
)
from tests.conftest import drop_postgres_schema
from tests.storage.test_migrations import postgres_schema_url

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
MONDAY, TUESDAY = date(2026, 3, 2), date(2026, 3, 3)


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'rollups.db'}"
        return
    schema = f"ssea_migrate_rollups_{os.getpid()}"
    yield postgres_schema_url(schema)
    drop_postgres_schema(schema)


def test_upgrading_a_0003_database_sums_its_rollups(database: str) -> None:
    upgrade_database(database, "0003")
    first, other = uuid4(), uuid4()
    engine = make_engine(database)
    with engine.begin() as connection:
        for tenant_id in (first, other):
            connection.execute(
                insert(tenants).values(
                    tenant_id=tenant_id, name="T", plan="pro", created_at=NOW
                )
            )
        cells = [
            # (tenant, day, user, course, events, sessions, seconds)
            (first, MONDAY, "u1", "c1", 5, 1, 300),
            (first, MONDAY, "u1", "", 2, 1, 60),  # site-level: same user, once
            (first, MONDAY, "u2", "c1", 1, 0, 30),
            (first, MONDAY, "u3", "c2", 0, 0, -20),  # a dwell moved: no activity
            (first, TUESDAY, "u3", "c2", 4, 1, 200),
            (other, MONDAY, "u9", "c1", 7, 2, 700),
        ]
        connection.execute(
            insert(daily_rollups),
            [
                dict(
                    zip(
                        (
                            "tenant_id",
                            "day",
                            "user_id",
                            "course_id",
                            "events",
                            "sessions",
                            "seconds",
                        ),
                        cell,
                        strict=True,
                    )
                )
                for cell in cells
            ],
        )
        nine = datetime(2026, 3, 2, 9, tzinfo=UTC)
        connection.execute(
            insert(hourly_rollups),
            [
                dict(
                    tenant_id=first,
                    hour=nine,
                    course_id="c1",
                    events=6,
                    sessions=1,
                    seconds=330,
                ),
                dict(
                    tenant_id=first,
                    hour=nine,
                    course_id="",
                    events=2,
                    sessions=1,
                    seconds=60,
                ),
                dict(
                    tenant_id=other,
                    hour=nine,
                    course_id="c1",
                    events=7,
                    sessions=2,
                    seconds=700,
                ),
            ],
        )
    engine.dispose()

    upgrade_database(database)

    engine = make_engine(database)
    with engine.connect() as connection:
        days = connection.execute(
            select(
                tenant_days.c.day,
                tenant_days.c.events,
                tenant_days.c.sessions,
                tenant_days.c.seconds,
                tenant_days.c.active_users,
            )
            .where(tenant_days.c.tenant_id == first)
            .order_by(tenant_days.c.day)
        ).all()
        hours = connection.execute(
            select(
                tenant_hours.c.tenant_id,
                tenant_hours.c.hour,
                tenant_hours.c.events,
                tenant_hours.c.sessions,
                tenant_hours.c.seconds,
            ).order_by(tenant_hours.c.events)
        ).all()
    engine.dispose()
    assert [tuple(row) for row in days] == [
        (MONDAY, 8, 2, 370, 2),
        (TUESDAY, 4, 1, 200, 1),
    ]
    assert [tuple(row) for row in hours] == [
        (other, nine, 7, 2, 700),
        (first, nine, 8, 2, 390),
    ]
