"""The packaged alembic revisions build exactly the schema of the models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from ssea_core.settings import Settings
from ssea_storage.migrate import (
    SchemaOutdatedError,
    current_revision,
    head_revision,
    is_up_to_date,
    migration_options,
    open_ready_store,
    upgrade_database,
)
from ssea_storage.sql.executor import make_engine
from ssea_storage.sql.schema import metadata
from tests.conftest import (
    MASTER_KEY,
    POSTGRES_URL,
    drop_postgres_schema,
    postgres_engine,
)


def postgres_schema_url(schema: str) -> str:
    """A URL whose connections use ``schema`` first (a fresh one per test)."""
    postgres_engine(schema).dispose()
    url = make_url(POSTGRES_URL).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    return url.render_as_string(hide_password=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of an empty PostgreSQL schema of this test's own."""
    schema = f"ssea_migrate_{os.getpid()}"
    yield postgres_schema_url(schema)
    drop_postgres_schema(schema)


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty database on the backend under test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    return str(request.getfixturevalue("postgres_url"))


def schema_differences(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            options = migration_options(connection.dialect.name)
            context = MigrationContext.configure(connection, opts=options)
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_fresh_database_has_no_revision(fresh_url: str) -> None:
    assert current_revision(fresh_url) is None
    assert not is_up_to_date(fresh_url)


def test_upgrade_builds_exactly_the_models(fresh_url: str) -> None:
    upgrade_database(fresh_url)

    assert schema_differences(fresh_url) == []
    assert table_names(fresh_url) == set(metadata.tables) | {"alembic_version"}
    assert current_revision(fresh_url) == head_revision()
    assert is_up_to_date(fresh_url)


def test_upgrade_twice_changes_nothing(fresh_url: str) -> None:
    upgrade_database(fresh_url)
    upgrade_database(fresh_url)

    assert current_revision(fresh_url) == head_revision()
    assert schema_differences(fresh_url) == []


def test_downgrade_to_base_removes_every_table(fresh_url: str) -> None:
    from alembic import command

    from ssea_storage.migrate import alembic_config

    upgrade_database(fresh_url)
    engine = make_engine(fresh_url)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    engine.dispose()

    assert table_names(fresh_url) == {"alembic_version"}
    assert current_revision(fresh_url) is None


async def test_the_embedded_database_is_upgraded_when_opened(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'embedded.db'}", master_key=MASTER_KEY
    )

    store = await open_ready_store(settings)
    await store.aclose()

    assert is_up_to_date(settings.database_url)


async def test_an_in_memory_database_is_upgraded_on_its_own_connection() -> None:
    store = await open_ready_store(
        Settings(database_url="sqlite://", master_key=MASTER_KEY)
    )
    try:
        assert "tenants" in inspect(store.engine).get_table_names()
    finally:
        await store.aclose()


@pytest.mark.postgres
async def test_a_server_database_is_checked_not_upgraded(postgres_url: str) -> None:
    settings = Settings(database_url=postgres_url, master_key=MASTER_KEY)

    with pytest.raises(SchemaOutdatedError, match="ssea db upgrade"):
        await open_ready_store(settings)
    assert current_revision(postgres_url) is None

    upgrade_database(postgres_url)
    store = await open_ready_store(settings)
    await store.aclose()


@pytest.mark.postgres
def test_concurrent_upgrades_of_a_server_database_queue(postgres_url: str) -> None:
    import threading

    from sqlalchemy import text

    from ssea_storage.migrate import PG_MIGRATION_LOCK

    holder = make_engine(postgres_url)
    with holder.connect() as connection:
        connection.execute(
            text("SELECT pg_advisory_lock(:k)"), {"k": PG_MIGRATION_LOCK}
        )
        upgrade = threading.Thread(target=upgrade_database, args=(postgres_url,))
        upgrade.start()
        upgrade.join(timeout=0.5)
        waited = upgrade.is_alive()
        connection.execute(
            text("SELECT pg_advisory_unlock(:k)"), {"k": PG_MIGRATION_LOCK}
        )
        connection.commit()
    upgrade.join(timeout=30)
    holder.dispose()

    assert waited
    assert not upgrade.is_alive()
    assert is_up_to_date(postgres_url)
