"""Revision 0002 (auth, viewer audit, branding) keeps every row of a 0001 database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from alembic import command
from sqlalchemy import insert, select, text

from ssea_storage.migrate import alembic_config, current_revision, upgrade_database
from ssea_storage.sql.executor import make_engine
from ssea_storage.sql.schema import tenants, users, viewer_audit
from tests.conftest import drop_postgres_schema
from tests.storage.test_migrations import postgres_schema_url

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own on the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'auth.db'}"
        return
    schema = f"ssea_migrate_auth_{os.getpid()}"
    yield postgres_schema_url(schema)
    drop_postgres_schema(schema)


def test_upgrading_a_0001_database_keeps_tenants_and_their_rows(database: str) -> None:
    upgrade_database(database, "0001")
    tenant_id = uuid4()
    engine = make_engine(database)
    # Only columns 0001 has: the new ones have no defaults, so they are left out.
    with engine.begin() as connection:
        connection.execute(
            insert(tenants).values(
                tenant_id=tenant_id, name="T", plan="pro", created_at=NOW
            )
        )
        connection.execute(
            insert(users).values(tenant_id=tenant_id, user_id="u1", updated_at=NOW)
        )
    engine.dispose()

    upgrade_database(database)
    engine = make_engine(database)
    with engine.begin() as connection:
        row = connection.execute(select(tenants)).one()
        assert (row.name, row.moodle_origin, row.sso_secret_previous) == (
            "T",
            None,
            None,
        )
        assert connection.execute(select(users.c.user_id)).scalars().all() == ["u1"]
        connection.execute(
            insert(viewer_audit).values(
                tenant_id=tenant_id,
                audit_id="a1",
                at=NOW,
                route="r",
                status=200,
                outcome="allowed",
            )
        )
        command.downgrade(alembic_config(connection), "0001")
    engine.dispose()

    assert current_revision(database) == "0001"
    engine = make_engine(database)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 1
        assert connection.execute(text("SELECT name FROM tenants")).scalar_one() == "T"
    engine.dispose()
