"""Settings, from code or from ``SSEA_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///ssea.db"


class Settings(BaseSettings):
    """Everything an operator can set. ``Settings(database_url=...)`` or env vars."""

    model_config = SettingsConfigDict(env_prefix="SSEA_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    #: Fernet key (urlsafe base64, 32 bytes) that encrypts tenant secrets at rest.
    master_key: SecretStr | None = None
    #: Where the master key is kept when ``master_key`` is not set (SQLite only).
    master_key_file: Path = Path("ssea-master.key")
    artifact_url: str = "file://./ssea-artifacts"

    session_gap_seconds: int = Field(default=1800, ge=60, le=86_400)
    session_tail_seconds: int = Field(default=60, ge=0, le=3_600)
    #: Events may be at most this far in the future (SPEC §2.1).
    max_future_seconds: int = Field(default=86_400, ge=0)
    #: Types accepted beyond the standard catalogue (SPEC §2.2).
    extra_event_types: list[str] = Field(default_factory=list)

    # Data hygiene (what counts as a student's own activity); each can be switched off.
    exclude_logged_in_as: bool = True
    excluded_origins: list[str] = Field(default_factory=lambda: ["cli", "restore"])
    excluded_user_ids: list[str] = Field(default_factory=lambda: ["0"])
    #: Moodle's installer makes the site admin user 2.
    site_admin_user_ids: list[str] = Field(default_factory=lambda: ["2"])
    #: Things done to a user by someone else (a teacher grades, an admin enrols).
    passive_event_types: list[str] = Field(
        default_factory=lambda: ["grade_updated", "grade_item_updated", "user_enrolled"]
    )

    #: Largest request body read; a batch of 500 events with full metadata fits.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)
