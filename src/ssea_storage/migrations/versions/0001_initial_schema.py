"""Initial schema: tenants, API keys, catalogue, events, sessions and rollups.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the schema's types: later changes to the models must not rewrite
# what this revision created.
UTC_DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _tenant_id() -> sa.Column[UUID]:
    return sa.Column("tenant_id", sa.Uuid(), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.tenant_id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def _id(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=64), nullable=nullable)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("tenant_id", *columns, name=op.f(f"pk_{table}"))


def upgrade() -> None:
    _create_tenancy()
    _create_catalogue()
    _create_activity()
    _create_rollups()


def _create_tenancy() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("custom_domain", sa.String(length=255), nullable=True),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("sso_secret", sa.LargeBinary(), nullable=True),
        sa.Column("viewer_secret", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("custom_domain", name=op.f("uq_tenants_custom_domain")),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        _tenant_id(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=True),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.Column("last_used_at", UTC_DATETIME, nullable=True),
        _tenant_fk("api_keys"),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_tenant_id"), "api_keys", ["tenant_id"])


def _create_catalogue() -> None:
    op.create_table(
        "users",
        _tenant_id(),
        _id("user_id"),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("full_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        _tenant_fk("users"),
        _pk("users", "user_id"),
    )
    op.create_table(
        "courses",
        _tenant_id(),
        _id("course_id"),
        sa.Column("shortname", sa.String(length=255), nullable=True),
        sa.Column("fullname", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=255), nullable=True),
        sa.Column("start_date", UTC_DATETIME, nullable=True),
        sa.Column("end_date", UTC_DATETIME, nullable=True),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        _tenant_fk("courses"),
        _pk("courses", "course_id"),
    )
    op.create_table(
        "modules",
        _tenant_id(),
        _id("module_id"),
        _id("course_id", nullable=True),
        sa.Column("modname", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("completion_enabled", sa.Boolean(), nullable=False),
        sa.Column("due_date", UTC_DATETIME, nullable=True),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        _tenant_fk("modules"),
        _pk("modules", "module_id"),
    )
    op.create_index("ix_modules_tenant_course", "modules", ["tenant_id", "course_id"])
    op.create_table(
        "enrolments",
        _tenant_id(),
        _id("user_id"),
        _id("course_id"),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("time_start", UTC_DATETIME, nullable=True),
        sa.Column("time_end", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        _tenant_fk("enrolments"),
        _pk("enrolments", "user_id", "course_id", "role"),
    )
    op.create_index(
        "ix_enrolments_tenant_course", "enrolments", ["tenant_id", "course_id"]
    )
    op.create_table(
        "grade_items",
        _tenant_id(),
        _id("course_id"),
        _id("item_id"),
        sa.Column("item_name", sa.String(length=255), nullable=True),
        sa.Column("item_type", sa.String(length=64), nullable=True),
        sa.Column("grademin", sa.Float(), nullable=False),
        sa.Column("grademax", sa.Float(), nullable=False),
        sa.Column("gradepass", sa.Float(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        _tenant_fk("grade_items"),
        _pk("grade_items", "course_id", "item_id"),
    )
    op.create_table(
        "grades",
        _tenant_id(),
        _id("user_id"),
        _id("course_id"),
        _id("item_id"),
        sa.Column("finalgrade", sa.Float(), nullable=True),
        sa.Column("graded_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        _tenant_fk("grades"),
        _pk("grades", "user_id", "course_id", "item_id"),
    )
    op.create_index(
        "ix_grades_tenant_course_item", "grades", ["tenant_id", "course_id", "item_id"]
    )
    op.create_table(
        "completions",
        _tenant_id(),
        _id("user_id"),
        _id("course_id"),
        _id("module_id"),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        _tenant_fk("completions"),
        _pk("completions", "user_id", "course_id", "module_id"),
    )
    op.create_index(
        "ix_completions_tenant_course", "completions", ["tenant_id", "course_id"]
    )


def _create_activity() -> None:
    op.create_table(
        "events",
        _tenant_id(),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        _id("user_id"),
        _id("course_id", nullable=True),
        _id("module_id", nullable=True),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        _id("moodle_log_id", nullable=True),
        _id("real_user_id", nullable=True),
        sa.Column("origin", sa.String(length=32), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("ingested_at", UTC_DATETIME, nullable=False),
        _tenant_fk("events"),
        _pk("events", "event_id"),
    )
    op.create_index(
        "ix_events_tenant_user_time", "events", ["tenant_id", "user_id", "occurred_at"]
    )
    op.create_table(
        "sessions",
        _tenant_id(),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        _id("user_id"),
        _id("course_id"),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("ended_at", UTC_DATETIME, nullable=False),
        sa.Column("first_event_id", sa.String(length=40), nullable=False),
        sa.Column("last_event_id", sa.String(length=40), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        _tenant_fk("sessions"),
        _pk("sessions", "session_id"),
    )
    op.create_index(
        "ix_sessions_tenant_user_start",
        "sessions",
        ["tenant_id", "user_id", "started_at"],
    )
    op.create_table(
        "user_activity",
        _tenant_id(),
        _id("user_id"),
        sa.Column("first_seen_at", UTC_DATETIME, nullable=False),
        sa.Column("last_seen_at", UTC_DATETIME, nullable=False),
        sa.Column("last_event_id", sa.String(length=40), nullable=False),
        sa.Column("last_event_type", sa.String(length=64), nullable=False),
        _id("last_course_id", nullable=True),
        sa.Column("open_session_id", sa.String(length=40), nullable=False),
        _tenant_fk("user_activity"),
        _pk("user_activity", "user_id"),
    )


def _create_rollups() -> None:
    op.create_table(
        "daily_rollups",
        _tenant_id(),
        sa.Column("day", sa.Date(), nullable=False),
        _id("user_id"),
        _id("course_id"),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        _tenant_fk("daily_rollups"),
        _pk("daily_rollups", "day", "user_id", "course_id"),
    )
    op.create_index(
        "ix_daily_rollups_tenant_course_day",
        "daily_rollups",
        ["tenant_id", "course_id", "day"],
    )
    op.create_index(
        "ix_daily_rollups_tenant_user_day",
        "daily_rollups",
        ["tenant_id", "user_id", "day"],
    )
    op.create_table(
        "hourly_rollups",
        _tenant_id(),
        sa.Column("hour", UTC_DATETIME, nullable=False),
        _id("course_id"),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        _tenant_fk("hourly_rollups"),
        _pk("hourly_rollups", "hour", "course_id"),
    )
    op.create_table(
        "usage_daily",
        _tenant_id(),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        _tenant_fk("usage_daily"),
        _pk("usage_daily", "day"),
    )


def downgrade() -> None:
    # Children first: every table refers to tenants. Indexes go with their tables.
    for table in (
        "usage_daily",
        "hourly_rollups",
        "daily_rollups",
        "user_activity",
        "sessions",
        "events",
        "completions",
        "grades",
        "grade_items",
        "enrolments",
        "modules",
        "courses",
        "users",
        "api_keys",
        "tenants",
    ):
        op.drop_table(table)
