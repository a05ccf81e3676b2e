"""The SQL schema, as SQLAlchemy Core tables shared by every engine.

Every table but ``tenants`` starts its primary key with ``tenant_id``. Times are stored
in UTC; site-level events roll up under course ``''`` so that keys stay non-null.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every engine (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"an aware datetime is required, got {value!r}")
        moment: datetime = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # On SQLite the two steps (zone, then the DateTime text) run once per value of
    # every row written or read, so they are fused into one function each: the text
    # is exactly SQLAlchemy's own SQLite format, so stored values compare the same.

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_moment


def _sqlite_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"an aware datetime is required, got {value!r}")
    if value.utcoffset():
        value = value.astimezone(UTC)
    text: str = value.replace(tzinfo=None).isoformat(" ", "microseconds")
    return text


def _sqlite_moment(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


Json = JSON().with_variant(JSONB(), "postgresql")


def _tenant_column() -> Column[Any]:
    return Column(
        "tenant_id",
        Uuid,
        ForeignKey("tenants.tenant_id", ondelete="CASCADE"),
        primary_key=True,
    )


def _id(name: str, *, primary_key: bool = True, nullable: bool = False) -> Column[Any]:
    return Column(name, String(64), primary_key=primary_key, nullable=nullable)


tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("plan", String(20), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("custom_domain", String(255), unique=True),
    Column("settings", Json, nullable=False, default=dict),
    # Secrets are Fernet tokens under the master key, never plaintext. A rotated
    # secret stays valid as ``*_previous`` until ``*_previous_until``.
    Column("sso_secret", LargeBinary),
    Column("viewer_secret", LargeBinary),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sso_secret_previous", LargeBinary),
    Column("sso_secret_previous_until", UtcDateTime),
    Column("viewer_secret_previous", LargeBinary),
    Column("viewer_secret_previous_until", UtcDateTime),
    # A public key (PEM) replaces the shared secret for the plugin's SSO tokens.
    Column("sso_public_key", Text),
    Column("sso_key_algorithm", String(16)),
    # The only origin that may frame viewer answers (CSP frame-ancestors).
    Column("moodle_origin", String(255)),
    Column("logo_url", String(2048)),
    Column("primary_color", String(7)),
    Column("product_name", String(100)),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column(
        "tenant_id",
        Uuid,
        ForeignKey("tenants.tenant_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(200), nullable=False, default=""),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
)

users = Table(
    "users",
    metadata,
    _tenant_column(),
    _id("user_id"),
    Column("username", String(255)),
    Column("full_name", String(255)),
    Column("email", String(255)),
    Column("suspended", Boolean, nullable=False, default=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

courses = Table(
    "courses",
    metadata,
    _tenant_column(),
    _id("course_id"),
    Column("shortname", String(255)),
    Column("fullname", String(255)),
    Column("category", String(255)),
    Column("start_date", UtcDateTime),
    Column("end_date", UtcDateTime),
    Column("visible", Boolean, nullable=False, default=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

modules = Table(
    "modules",
    metadata,
    _tenant_column(),
    _id("module_id"),
    _id("course_id", primary_key=False, nullable=True),
    Column("modname", String(64)),
    Column("name", String(255)),
    Column("completion_enabled", Boolean, nullable=False, default=False),
    Column("due_date", UtcDateTime),
    Column("visible", Boolean, nullable=False, default=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_modules_tenant_course", "tenant_id", "course_id"),
)

enrolments = Table(
    "enrolments",
    metadata,
    _tenant_column(),
    _id("user_id"),
    _id("course_id"),
    Column("role", String(20), primary_key=True),
    Column("status", String(20), nullable=False, default="active"),
    Column("time_start", UtcDateTime),
    Column("time_end", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_enrolments_tenant_course", "tenant_id", "course_id"),
)

grade_items = Table(
    "grade_items",
    metadata,
    _tenant_column(),
    _id("course_id"),
    _id("item_id"),
    Column("item_name", String(255)),
    Column("item_type", String(64)),
    Column("grademin", Float, nullable=False, default=0.0),
    Column("grademax", Float, nullable=False, default=100.0),
    Column("gradepass", Float),
    Column("updated_at", UtcDateTime, nullable=False),
)

grades = Table(
    "grades",
    metadata,
    _tenant_column(),
    _id("user_id"),
    _id("course_id"),
    _id("item_id"),
    Column("finalgrade", Float),
    Column("graded_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_grades_tenant_course_item", "tenant_id", "course_id", "item_id"),
)

completions = Table(
    "completions",
    metadata,
    _tenant_column(),
    _id("user_id"),
    _id("course_id"),
    # '' is the whole course (SPEC: module_id null), so the key stays non-null.
    _id("module_id"),
    Column("state", String(20), nullable=False),
    Column("completed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_completions_tenant_course", "tenant_id", "course_id"),
)

events = Table(
    "events",
    metadata,
    _tenant_column(),
    Column("event_id", String(40), primary_key=True),
    Column("event_type", String(64), nullable=False),
    _id("user_id", primary_key=False),
    _id("course_id", primary_key=False, nullable=True),
    _id("module_id", primary_key=False, nullable=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("metadata", Json, nullable=False, default=dict),
    _id("moodle_log_id", primary_key=False, nullable=True),
    _id("real_user_id", primary_key=False, nullable=True),
    Column("origin", String(32)),
    # False: stored, but not the user's own activity (logged in as, cli, no user).
    Column("counted", Boolean, nullable=False, default=True),
    Column("ingested_at", UtcDateTime, nullable=False),
    Index("ix_events_tenant_user_time", "tenant_id", "user_id", "occurred_at"),
)

sessions = Table(
    "sessions",
    metadata,
    _tenant_column(),
    Column("session_id", String(40), primary_key=True),
    _id("user_id", primary_key=False),
    _id("course_id", primary_key=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Column("first_event_id", String(40), nullable=False),
    Column("last_event_id", String(40), nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("seconds", BigInteger, nullable=False),
    Index("ix_sessions_tenant_user_start", "tenant_id", "user_id", "started_at"),
)

#: The newest counted event of each user, and the session it belongs to: the small
#: tail state that lets in-order events extend sessions without reading events back.
user_activity = Table(
    "user_activity",
    metadata,
    _tenant_column(),
    _id("user_id"),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("last_event_id", String(40), nullable=False),
    Column("last_event_type", String(64), nullable=False),
    _id("last_course_id", primary_key=False, nullable=True),
    Column("open_session_id", String(40), nullable=False),
    # Active users of a period that reaches the newest activity: a range count here.
    Index("ix_user_activity_tenant_last_seen", "tenant_id", "last_seen_at"),
)

daily_rollups = Table(
    "daily_rollups",
    metadata,
    _tenant_column(),
    Column("day", Date, primary_key=True),
    _id("user_id"),
    _id("course_id"),
    Column("events", Integer, nullable=False, default=0),
    Column("sessions", Integer, nullable=False, default=0),
    Column("seconds", BigInteger, nullable=False, default=0),
    Index("ix_daily_rollups_tenant_course_day", "tenant_id", "course_id", "day"),
    Index("ix_daily_rollups_tenant_user_day", "tenant_id", "user_id", "day"),
)

hourly_rollups = Table(
    "hourly_rollups",
    metadata,
    _tenant_column(),
    Column("hour", UtcDateTime, primary_key=True),
    _id("course_id"),
    Column("events", Integer, nullable=False, default=0),
    Column("sessions", Integer, nullable=False, default=0),
    Column("seconds", BigInteger, nullable=False, default=0),
)

#: The tenant's day: ``daily_rollups`` summed over users and courses, and the users
#: with counted events that day. Whole-tenant reads (overview, trends) read one row a
#: day here instead of every user's rows; the write path keeps both in one transaction.
tenant_days = Table(
    "tenant_days",
    metadata,
    _tenant_column(),
    Column("day", Date, primary_key=True),
    Column("events", BigInteger, nullable=False, default=0),
    Column("sessions", BigInteger, nullable=False, default=0),
    Column("seconds", BigInteger, nullable=False, default=0),
    Column("active_users", Integer, nullable=False, default=0),
)

#: The tenant's hour: ``hourly_rollups`` summed over courses (heatmap, hourly trends).
tenant_hours = Table(
    "tenant_hours",
    metadata,
    _tenant_column(),
    Column("hour", UtcDateTime, primary_key=True),
    Column("events", BigInteger, nullable=False, default=0),
    Column("sessions", BigInteger, nullable=False, default=0),
    Column("seconds", BigInteger, nullable=False, default=0),
)

usage_daily = Table(
    "usage_daily",
    metadata,
    _tenant_column(),
    Column("day", Date, primary_key=True),
    Column("events", BigInteger, nullable=False, default=0),
)


#: SSO token ids already exchanged (SPEC §4.2: each jti once), kept until they expire.
sso_jtis = Table(
    "sso_jtis",
    metadata,
    _tenant_column(),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_sso_jtis_tenant_expires", "tenant_id", "expires_at"),
)

#: One row per viewer access, allowed or refused (SPEC §4.3).
viewer_audit = Table(
    "viewer_audit",
    metadata,
    _tenant_column(),
    Column("audit_id", String(40), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("role", String(20)),
    _id("moodle_user_id", primary_key=False, nullable=True),
    Column("route", String(100), nullable=False),
    _id("target_id", primary_key=False, nullable=True),
    Column("status", Integer, nullable=False),
    Column("outcome", String(40), nullable=False),
    Index("ix_viewer_audit_tenant_at", "tenant_id", "at"),
)


# -- risk and alerts (SPEC §6) -------------------------------------------------------

#: The newest assessment of each student, per course and overall (course ``''``).
risk_scores = Table(
    "risk_scores",
    metadata,
    _tenant_column(),
    _id("user_id"),
    _id("course_id"),
    Column("score", Float),
    Column("level", String(10)),
    # The factors with their weights, contributions and plain-language reasons.
    Column("factors", Json, nullable=False, default=list),
    Column("as_of", UtcDateTime, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    Index("ix_risk_scores_tenant_course_level", "tenant_id", "course_id", "level"),
)

#: A teacher's "handled" mark on a student's risk flag, and the level it was set at:
#: a later rise above that level raises the flag again.
risk_acknowledgements = Table(
    "risk_acknowledgements",
    metadata,
    _tenant_column(),
    _id("user_id"),
    Column("level", String(10), nullable=False),
    Column("acknowledged_at", UtcDateTime, nullable=False),
    Column("acknowledged_by", String(200), nullable=False),
)

#: What the alert rules remember between evaluations, per student and course.
alert_states = Table(
    "alert_states",
    metadata,
    _tenant_column(),
    _id("user_id"),
    _id("course_id"),
    Column("state", Json, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    _tenant_column(),
    Column("alert_id", String(40), primary_key=True),
    _id("user_id", primary_key=False),
    _id("course_id", primary_key=False),
    Column("alert_type", String(40), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("message", String(500), nullable=False),
    Column("triggered_at", UtcDateTime, nullable=False),
    Column("acknowledged", Boolean, nullable=False, default=False),
    Column("acknowledged_at", UtcDateTime),
    Column("acknowledged_by", String(200)),
    # "type|user|course" while open, NULL once acknowledged: one open alert per key.
    Column("open_key", String(200)),
    UniqueConstraint("tenant_id", "open_key", name="uq_alerts_tenant_open_key"),
    Index("ix_alerts_tenant_user", "tenant_id", "user_id"),
)

#: Tenants whose data changed since their scores were last computed (coalescing).
risk_pending = Table(
    "risk_pending",
    metadata,
    Column(
        "tenant_id",
        Uuid,
        ForeignKey("tenants.tenant_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("since", UtcDateTime, nullable=False),
)


# -- report jobs, artifacts and monitors (SPEC §7, §8) --------------------------------

report_jobs = Table(
    "report_jobs",
    metadata,
    _tenant_column(),
    Column("job_id", String(40), primary_key=True),
    Column("report_type", String(40), nullable=False),
    Column("format", String(8), nullable=False),
    Column("params", Json, nullable=False),
    Column("status", String(12), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("requested_by", String(200)),
    Column("started_at", UtcDateTime),
    Column("completed_at", UtcDateTime),
    Column("error", String(500)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(100)),
    Column("lease_expires_at", UtcDateTime),
    Index("ix_report_jobs_status_lease", "status", "lease_expires_at"),
    Index("ix_report_jobs_tenant_requested", "tenant_id", "requested_at"),
)

artifacts = Table(
    "artifacts",
    metadata,
    _tenant_column(),
    Column("job_id", String(40), primary_key=True),
    Column("format", String(8), primary_key=True),
    Column("storage_key", String(300), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("expired", Boolean, nullable=False, default=False),
)

monitors = Table(
    "monitors",
    metadata,
    _tenant_column(),
    Column("monitor_id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("target", String(10), nullable=False),
    Column("filters", Json, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
