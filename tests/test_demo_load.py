"""Loading a demo term into a tenant, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest
from sqlalchemy import func, select

from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.demo import (
    DemoPlanError,
    TermShape,
    generate_catalogue,
    generate_events,
    load_demo,
)
from ssea_core.ingest.service import Ingestor
from ssea_core.settings import Settings
from ssea_storage.sql import schema
from ssea_storage.sql.store import SqlStore
from tests.conftest import make_tenant

# Well before the fixed clock (2026-03-02): events a day ahead of "now" are refused.
SHAPE = TermShape(students=40, teachers=3, courses=3, weeks=3, start=date(2026, 1, 5))


def count_rows(store: SqlStore, table_name: str, tenant_id: UUID) -> int:
    table = schema.metadata.tables[table_name]
    query = select(func.count()).where(table.c.tenant_id == tenant_id)
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


@pytest.fixture
def ingestor(store: SqlStore, settings: Settings, clock: FixedClock) -> Ingestor:
    return Ingestor(Services(store, settings, clock))


async def test_a_demo_term_lands_in_the_tenant(
    store: SqlStore, clock: FixedClock, ingestor: Ingestor
) -> None:
    tenant = await make_tenant(store, clock, plan="enterprise")
    seen: list[tuple[str, int]] = []

    summary = await load_demo(
        ingestor,
        tenant.tenant_id,
        SHAPE,
        progress=lambda stage, done: seen.append((stage, done)),
    )

    generated = sum(1 for _ in generate_events(SHAPE))
    catalogue = generate_catalogue(SHAPE)
    assert summary.events == generated
    assert summary.events_stored == generated
    assert (summary.events_duplicate, summary.events_skipped) == (0, 0)
    assert summary.catalogue_skipped == 0
    assert summary.catalogue == {k: len(v) for k, v in catalogue.items()}
    assert count_rows(store, "events", tenant.tenant_id) == generated
    for table in ("users", "courses", "modules", "enrolments"):
        assert count_rows(store, table, tenant.tenant_id) == len(catalogue[table])
    assert seen[-1] == ("events", generated)
    assert {stage for stage, _ in seen} == {*catalogue, "events"}


async def test_loading_twice_stores_nothing_new(
    store: SqlStore, clock: FixedClock, ingestor: Ingestor
) -> None:
    tenant = await make_tenant(store, clock, plan="enterprise")
    first = await load_demo(ingestor, tenant.tenant_id, SHAPE)
    counts = {
        table: count_rows(store, table, tenant.tenant_id)
        for table in ("events", "users", "enrolments", "grades", "completions")
    }

    again = await load_demo(ingestor, tenant.tenant_id, SHAPE)

    assert again.events_stored == 0
    assert again.events_duplicate == first.events
    assert counts == {
        table: count_rows(store, table, tenant.tenant_id) for table in counts
    }


async def test_a_capped_plan_is_refused_before_anything_is_sent(
    store: SqlStore, clock: FixedClock, ingestor: Ingestor
) -> None:
    tenant = await make_tenant(store, clock, plan="pro")

    with pytest.raises(DemoPlanError, match="enterprise"):
        await load_demo(ingestor, tenant.tenant_id, SHAPE)

    assert count_rows(store, "users", tenant.tenant_id) == 0
