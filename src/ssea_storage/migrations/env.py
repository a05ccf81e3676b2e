"""The alembic environment of ssea, run by :mod:`ssea_storage.migrate`.

There is no ``alembic.ini``: the caller hands over a connection already inside a
transaction (``config.attributes["connection"]``), or a URL for offline SQL output.
"""

from __future__ import annotations

from alembic import context

from ssea_storage.migrate import migration_options
from ssea_storage.sql.schema import metadata


def run_offline() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    context.configure(url=url, literal_binds=True, **migration_options())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes["connection"]
    options = migration_options(connection.dialect.name)
    context.configure(connection=connection, target_metadata=metadata, **options)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
