"""Tenant-wide day and hour rollups, and the index that counts recently active users.

``tenant_days`` and ``tenant_hours`` are filled from the rollups already stored, so an
upgraded database answers the same as before, only from fewer rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the schema's type (see 0001).
UTC_DATETIME = sa.DateTime(timezone=True)


def _tenant() -> sa.Column[object]:
    return sa.Column("tenant_id", sa.Uuid(), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.tenant_id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def _totals() -> list[sa.Column[object]]:
    return [
        sa.Column(name, sa.BigInteger(), nullable=False)
        for name in ("events", "sessions", "seconds")
    ]


def upgrade() -> None:
    op.create_table(
        "tenant_days",
        _tenant(),
        sa.Column("day", sa.Date(), nullable=False),
        *_totals(),
        sa.Column("active_users", sa.Integer(), nullable=False),
        _tenant_fk("tenant_days"),
        sa.PrimaryKeyConstraint("tenant_id", "day", name=op.f("pk_tenant_days")),
    )
    op.create_table(
        "tenant_hours",
        _tenant(),
        sa.Column("hour", UTC_DATETIME, nullable=False),
        *_totals(),
        _tenant_fk("tenant_hours"),
        sa.PrimaryKeyConstraint("tenant_id", "hour", name=op.f("pk_tenant_hours")),
    )
    op.create_index(
        "ix_user_activity_tenant_last_seen",
        "user_activity",
        ["tenant_id", "last_seen_at"],
    )
    op.execute(
        "INSERT INTO tenant_days "
        "(tenant_id, day, events, sessions, seconds, active_users) "
        "SELECT tenant_id, day, SUM(events), SUM(sessions), SUM(seconds), "
        "COUNT(DISTINCT CASE WHEN events > 0 THEN user_id END) "
        "FROM daily_rollups GROUP BY tenant_id, day"
    )
    op.execute(
        "INSERT INTO tenant_hours (tenant_id, hour, events, sessions, seconds) "
        "SELECT tenant_id, hour, SUM(events), SUM(sessions), SUM(seconds) "
        "FROM hourly_rollups GROUP BY tenant_id, hour"
    )


def downgrade() -> None:
    op.drop_index("ix_user_activity_tenant_last_seen", table_name="user_activity")
    op.drop_table("tenant_hours")
    op.drop_table("tenant_days")
