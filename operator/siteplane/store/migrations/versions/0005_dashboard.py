"""dashboard: change authors, each object's Ready, the change feed, namespace policies

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_authors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_uid", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_authors")),
    )
    with op.batch_alter_table("change_authors", schema=None) as batch_op:
        batch_op.create_index(
            "uq_change_authors_uid_generation_operation", ["object_uid", "generation", "operation"], unique=True
        )
    op.create_table(
        "object_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("ready", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("observed_generation", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_object_status")),
    )
    with op.batch_alter_table("object_status", schema=None) as batch_op:
        batch_op.create_index("uq_object_status_kind_namespace_name", ["kind", "namespace", "name"], unique=True)
        batch_op.create_index("ix_object_status_kind_ready_reason", ["kind", "ready", "reason"], unique=False)
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("ready", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("observed_generation", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_kind_namespace", ["kind", "namespace"], unique=False)
    op.create_table(
        "namespace_policies",
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("gitops", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name=op.f("pk_namespace_policies")),
    )


def downgrade() -> None:
    op.drop_table("namespace_policies")
    op.drop_table("changes")
    op.drop_table("object_status")
    op.drop_table("change_authors")
