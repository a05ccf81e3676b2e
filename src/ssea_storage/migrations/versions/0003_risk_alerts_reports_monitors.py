"""Risk scores and acknowledgements, alert states and alerts, the coalescing queue of
risk recomputation, report jobs with their artifacts, and monitors.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the schema's types (see 0001).
UTC_DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _id(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=64), nullable=nullable)


def _tenant() -> sa.Column[object]:
    return sa.Column("tenant_id", sa.Uuid(), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.tenant_id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def _primary(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def upgrade() -> None:
    op.create_table(
        "risk_scores",
        _tenant(),
        _id("user_id"),
        _id("course_id"),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("level", sa.String(length=10), nullable=True),
        sa.Column("factors", JSON, nullable=False),
        sa.Column("as_of", UTC_DATETIME, nullable=False),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        _tenant_fk("risk_scores"),
        _primary("risk_scores", "tenant_id", "user_id", "course_id"),
    )
    op.create_index(
        "ix_risk_scores_tenant_course_level",
        "risk_scores",
        ["tenant_id", "course_id", "level"],
    )
    op.create_table(
        "risk_acknowledgements",
        _tenant(),
        _id("user_id"),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("acknowledged_at", UTC_DATETIME, nullable=False),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=False),
        _tenant_fk("risk_acknowledgements"),
        _primary("risk_acknowledgements", "tenant_id", "user_id"),
    )
    op.create_table(
        "alert_states",
        _tenant(),
        _id("user_id"),
        _id("course_id"),
        sa.Column("state", JSON, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        _tenant_fk("alert_states"),
        _primary("alert_states", "tenant_id", "user_id", "course_id"),
    )
    op.create_table(
        "alerts",
        _tenant(),
        sa.Column("alert_id", sa.String(length=40), nullable=False),
        _id("user_id"),
        _id("course_id"),
        sa.Column("alert_type", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("triggered_at", UTC_DATETIME, nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", UTC_DATETIME, nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        _tenant_fk("alerts"),
        _primary("alerts", "tenant_id", "alert_id"),
        sa.UniqueConstraint("tenant_id", "open_key", name="uq_alerts_tenant_open_key"),
    )
    op.create_index("ix_alerts_tenant_user", "alerts", ["tenant_id", "user_id"])
    op.create_table(
        "risk_pending",
        _tenant(),
        sa.Column("since", UTC_DATETIME, nullable=False),
        _tenant_fk("risk_pending"),
        _primary("risk_pending", "tenant_id"),
    )
    op.create_table(
        "report_jobs",
        _tenant(),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("report_type", sa.String(length=40), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column("started_at", UTC_DATETIME, nullable=True),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", UTC_DATETIME, nullable=True),
        _tenant_fk("report_jobs"),
        _primary("report_jobs", "tenant_id", "job_id"),
    )
    op.create_index(
        "ix_report_jobs_status_lease", "report_jobs", ["status", "lease_expires_at"]
    )
    op.create_index(
        "ix_report_jobs_tenant_requested", "report_jobs", ["tenant_id", "requested_at"]
    )
    op.create_table(
        "artifacts",
        _tenant(),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("expired", sa.Boolean(), nullable=False),
        _tenant_fk("artifacts"),
        _primary("artifacts", "tenant_id", "job_id", "format"),
    )
    op.create_table(
        "monitors",
        _tenant(),
        sa.Column("monitor_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=10), nullable=False),
        sa.Column("filters", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        _tenant_fk("monitors"),
        _primary("monitors", "tenant_id", "monitor_id"),
    )


def downgrade() -> None:
    for table in (
        "monitors",
        "artifacts",
        "report_jobs",
        "risk_pending",
        "alerts",
        "alert_states",
        "risk_acknowledgements",
        "risk_scores",
    ):
        op.drop_table(table)
