"""zones: DNSSEC as asked for (spec.dnssec) and as last seen served (public data only: DNSKEY, DS,
earliest signature expiry, why it does not validate); private keys never enter the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dnssec", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("dnssec_served", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_column("dnssec_served")
        batch_op.drop_column("dnssec")
