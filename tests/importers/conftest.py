"""Fixtures of the importer tests: an ingestor on the store, SQL counting helpers."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import func, select

from ssea_core.clock import FixedClock
from ssea_core.context import Services
from ssea_core.ingest.service import Ingestor
from ssea_core.settings import Settings
from ssea_storage.sql import schema
from ssea_storage.sql.store import SqlStore


@pytest.fixture
def ingestor(store: SqlStore, settings: Settings, clock: FixedClock) -> Ingestor:
    return Ingestor(Services(store, settings, clock))


def stored_per_course(store: SqlStore, tenant_id: UUID) -> dict[str | None, int]:
    """Events stored for a tenant, counted per course by SQL (site level: None)."""
    events = schema.events
    query = (
        select(events.c.course_id, func.count())
        .where(events.c.tenant_id == tenant_id)
        .group_by(events.c.course_id)
    )
    with store.engine.connect() as connection:
        return {row[0]: int(row[1]) for row in connection.execute(query)}


def count_rows(store: SqlStore, table_name: str, tenant_id: UUID) -> int:
    """Rows of one tenant in a table of the schema."""
    table = schema.metadata.tables[table_name]
    query = select(func.count()).where(table.c.tenant_id == tenant_id)
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())
