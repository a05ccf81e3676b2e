"""Open a store from settings: the embedded default or a configured database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from ssea_core.errors import MisconfiguredError
from ssea_core.settings import Settings
from ssea_storage.secrets import load_or_create_key_file
from ssea_storage.sql.store import SqlStore


def resolve_master_key(settings: Settings) -> str:
    """The master key from ``SSEA_MASTER_KEY``, or, on SQLite only, its key file.

    Raises :class:`MisconfiguredError` for a server database without a master key:
    a key made up on the spot there would leave secrets nobody could read later.
    """
    if settings.master_key is not None:
        return settings.master_key.get_secret_value()
    if settings.database_url.startswith("sqlite"):
        return load_or_create_key_file(_key_file(settings))
    raise MisconfiguredError(
        "SSEA_MASTER_KEY is not set; it is required for a server database. "
        "Make one with `ssea keys master`."
    )


def _key_file(settings: Settings) -> Path:
    """A relative key file lives beside the SQLite database, not where a command ran."""
    path = settings.master_key_file
    database = make_url(settings.database_url).database
    if path.is_absolute() or not database or database == ":memory:":
        return path
    return Path(database).parent / path


def open_store(settings: Settings | None = None) -> SqlStore:
    """A SQL store for the settings' database URL (schema not created here)."""
    settings = settings or Settings()
    return SqlStore.from_url(
        settings.database_url, master_key=resolve_master_key(settings)
    )
