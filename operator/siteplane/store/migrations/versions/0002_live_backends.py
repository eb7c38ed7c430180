"""live backends: zone management mode, drift accounting, refused record sets

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("management", sa.String(length=16), nullable=False, server_default="Shared"))
        batch_op.add_column(sa.Column("drift_corrections", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("record_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rejected", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("record_sets", schema=None) as batch_op:
        batch_op.drop_column("rejected")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_column("checked_at")
        batch_op.drop_column("drift_corrections")
        batch_op.drop_column("management")
