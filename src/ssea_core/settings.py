"""Settings, from code or from ``SSEA_*`` environment variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///ssea.db"
#: HS256 wants a key at least as long as its digest (RFC 7518 §3.2).
MIN_JWT_SECRET_BYTES = 32
RateLimitStrategy = Literal["fixed-window", "moving-window", "sliding-window-counter"]


def _listed(value: Any) -> Any:
    """A list from a JSON array or from comma-separated text (env variables)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [item.strip() for item in text.split(",") if item.strip()]


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

    # -- risk scores and alerts (SPEC §6; docs/risk.md) -------------------------------
    #: Recompute marked tenants inside the ASGI application (lifespan startup).
    risk_scheduler_enabled: bool = True
    #: Seconds between two passes over the tenants whose data changed.
    risk_interval_seconds: float = Field(default=60.0, gt=0, le=86_400)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)

    # -- authentication (SPEC §4; docs/auth.md) ---------------------------------------
    #: Secrets of session JWTs: the first signs, every one verifies (rotation).
    jwt_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    jwt_issuer: str = Field(default="ssea", min_length=1, max_length=200)
    session_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    #: Clock skew allowed on every time claim of a JWT.
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    #: How long a rotated tenant secret (SSO, viewer) stays valid beside the new one.
    secret_grace_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400)

    # -- rate limits (per credential; public routes per client address) --------------
    rate_limit_enabled: bool = True
    #: ``memory://`` (one process) or ``redis://host:port/db`` (shared).
    rate_limit_storage: str = "memory://"
    rate_limit_strategy: RateLimitStrategy = "fixed-window"
    rate_limit: str = "600/minute"
    rate_limit_ingest: str = "1200/minute"
    rate_limit_public: str = "60/minute"

    # -- report jobs and artifacts (SPEC §7; docs/reports.md) --------------------------
    #: Signs local download links (32 bytes or more); unset: local artifacts inline.
    artifact_signing_secret: SecretStr | None = None
    #: Put in front of local download links (e.g. https://analytics.example.edu).
    artifact_public_base_url: str | None = None
    artifact_s3_endpoint_url: str | None = None
    artifact_s3_region: str | None = None
    artifact_s3_access_key_id: str | None = None
    artifact_s3_secret_access_key: SecretStr | None = None
    artifact_s3_session_token: SecretStr | None = None
    artifact_s3_addressing_style: Literal["auto", "virtual", "path"] = "auto"
    #: Lifetime of the signed URLs handed out (S3's SigV4 caps it at 7 days).
    artifact_url_ttl_seconds: int = Field(default=3600, ge=1, le=7 * 86_400)
    #: How long a completed job's artifact is kept before it expires and is deleted.
    artifact_retention_seconds: int = Field(default=7 * 86_400, ge=60)
    #: A local ``.part`` file untouched this long is a dead writer's: swept away.
    artifact_part_max_age_seconds: int = Field(default=3600, ge=1)
    #: ``redirect`` to a signed URL when the store signs, or always ``inline``.
    report_download_mode: Literal["redirect", "inline"] = "redirect"
    #: Run report workers inside ``ssea serve`` (``ssea worker`` runs them apart).
    report_worker_enabled: bool = True
    #: Jobs one process runs at the same time.
    report_worker_concurrency: int = Field(default=1, ge=1, le=32)
    #: Seconds between looks for a new job when the queue is empty.
    report_worker_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    #: Seconds between sweeps of expired artifacts and stale ``.part`` files.
    report_sweep_interval_seconds: float = Field(default=60.0, gt=0, le=86_400)
    #: A worker holds its job this long and renews it every third of it.
    report_job_lease_seconds: int = Field(default=60, ge=2, le=3600)
    #: Attempts before a job that keeps failing (or losing its worker) is failed.
    report_job_max_attempts: int = Field(default=3, ge=1, le=20)
    #: Seconds a failed attempt waits before the job may be taken again.
    report_job_retry_delay_seconds: int = Field(default=10, ge=0, le=3600)

    # -- browsers ---------------------------------------------------------------------
    #: Origins allowed to call the API from a browser; ``*`` allows any (no cookies).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    cors_max_age: int = Field(default=600, ge=0, le=86_400)

    @field_validator("jwt_secrets", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _listed(value)

    @field_validator("jwt_secrets")
    @classmethod
    def _long_enough(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            if len(secret.get_secret_value().encode()) < MIN_JWT_SECRET_BYTES:
                raise ValueError(
                    f"each JWT secret needs at least {MIN_JWT_SECRET_BYTES} bytes; "
                    "make one with `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'`"
                )
        return value

    @field_validator("rate_limit", "rate_limit_ingest", "rate_limit_public")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(
                f"'{value}' is not a rate; write e.g. '600/minute' or '10/second'"
            ) from exc
        return value

    @field_validator("artifact_signing_secret")
    @classmethod
    def _signing_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError(
                "the artifact signing secret needs at least 32 bytes; make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [origin.rstrip("/").lower() for origin in value]

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> Settings:
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError(
                "cors_origins '*' cannot be combined with cors_allow_credentials; "
                "list the origins instead"
            )
        return self
