"""Authentication, viewer audit and branding: rotated secrets with a grace period,
SSO public keys, the tenant's Moodle origin, branding columns, used SSO token ids
and the viewer audit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the schema's types (see 0001).
UTC_DATETIME = sa.DateTime(timezone=True)

TENANT_COLUMNS = (
    ("sso_secret_previous", sa.LargeBinary()),
    ("sso_secret_previous_until", UTC_DATETIME),
    ("viewer_secret_previous", sa.LargeBinary()),
    ("viewer_secret_previous_until", UTC_DATETIME),
    ("sso_public_key", sa.Text()),
    ("sso_key_algorithm", sa.String(length=16)),
    ("moodle_origin", sa.String(length=255)),
    ("logo_url", sa.String(length=2048)),
    ("primary_color", sa.String(length=7)),
    ("product_name", sa.String(length=100)),
)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.tenant_id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    # Plain ALTER TABLE on both engines: a batch "move and copy" of tenants on SQLite
    # would drop the parent table and cascade-delete every child row.
    for name, type_ in TENANT_COLUMNS:
        op.add_column("tenants", sa.Column(name, type_, nullable=True))
    op.create_table(
        "sso_jtis",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        _tenant_fk("sso_jtis"),
        sa.PrimaryKeyConstraint("tenant_id", "jti", name=op.f("pk_sso_jtis")),
    )
    op.create_index(
        "ix_sso_jtis_tenant_expires", "sso_jtis", ["tenant_id", "expires_at"]
    )
    op.create_table(
        "viewer_audit",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("audit_id", sa.String(length=40), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("moodle_user_id", sa.String(length=64), nullable=True),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        _tenant_fk("viewer_audit"),
        sa.PrimaryKeyConstraint("tenant_id", "audit_id", name=op.f("pk_viewer_audit")),
    )
    op.create_index("ix_viewer_audit_tenant_at", "viewer_audit", ["tenant_id", "at"])


def downgrade() -> None:
    op.drop_table("viewer_audit")
    op.drop_table("sso_jtis")
    # SQLite 3.35+ drops a plain column in place (no constraint names these).
    for name, _type in reversed(TENANT_COLUMNS):
        op.drop_column("tenants", name)
