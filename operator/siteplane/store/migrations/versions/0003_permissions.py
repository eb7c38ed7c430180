"""permissions: grant verbs, source index, AccessGrant admissions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verbs", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.create_index("ix_grants_source", ["source_kind", "source_namespace", "source_name"], unique=False)
    op.create_table(
        "grant_admissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_uid", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("spec_digest", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_admissions")),
    )
    with op.batch_alter_table("grant_admissions", schema=None) as batch_op:
        batch_op.create_index("uq_grant_admissions_uid_generation", ["grant_uid", "generation"], unique=True)


def downgrade() -> None:
    op.drop_table("grant_admissions")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index("ix_grants_source")
        batch_op.drop_column("verbs")
