"""zones: delegations, refused delegation, where a zone is served, error reasons; record sets:
confirmed withdrawals

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_error_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("delegations", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("delegation_refused", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("served", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("served_backend", sa.String(length=253), nullable=True))
    with op.batch_alter_table("record_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_serial", sa.Integer(), nullable=True))
    # Before this revision a zone was on its backend once it had a serial, and a deleted zone had
    # already been removed from it (or deliberately left there, with deletionPolicy Orphan).
    op.execute(
        "UPDATE zones SET served = (serial IS NOT NULL), served_backend = backend WHERE deleted_at IS NULL AND is_owner"
    )
    op.execute(
        "UPDATE zones SET sync_error_reason = CASE WHEN sync_error LIKE 'spec.backend:%' "
        "OR sync_error LIKE 'the operator''s default backend:%' THEN 'BackendUnavailable' "
        "ELSE 'BackendError' END WHERE sync_error IS NOT NULL"
    )
    # Withdrawals older than the zone's last successful write were applied by it.
    op.execute(
        "UPDATE record_sets SET withdrawn_serial = 0 WHERE deleted_at IS NOT NULL AND deleted_at < "
        "(SELECT zones.synced_at FROM zones WHERE zones.id = record_sets.zone_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("record_sets", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_serial")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_column("served_backend")
        batch_op.drop_column("served")
        batch_op.drop_column("delegation_refused")
        batch_op.drop_column("delegations")
        batch_op.drop_column("sync_error_reason")
