"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dns_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_name", sa.String(length=253), nullable=False),
        sa.Column("record_name", sa.String(length=253), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=True),
        sa.Column("rdata", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dns_records")),
    )
    with op.batch_alter_table("dns_records", schema=None) as batch_op:
        batch_op.create_index("ix_dns_records_zone_name", ["zone_name"], unique=False)
        batch_op.create_index("uq_dns_records_uid", ["uid"], unique=True)

    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject_name", sa.String(length=253), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=True),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("access", sa.String(length=8), nullable=False),
        sa.Column("resource_names", sa.JSON(), nullable=False),
        sa.Column("source_kind", sa.String(length=32), nullable=False),
        sa.Column("source_namespace", sa.String(length=63), nullable=True),
        sa.Column("source_name", sa.String(length=253), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index("ix_grants_subject", ["subject_kind", "subject_name"], unique=False)

    op.create_table(
        "history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("object_kind", sa.String(length=32), nullable=False),
        sa.Column("object_namespace", sa.String(length=63), nullable=True),
        sa.Column("object_name", sa.String(length=253), nullable=False),
        sa.Column("object_uid", sa.String(length=64), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=True),
        sa.Column("zone_name", sa.String(length=253), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_object_uid", ["object_uid"], unique=False)
        batch_op.create_index("ix_history_zone_name", ["zone_name"], unique=False)

    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("primary_domain", sa.String(length=253), nullable=False),
        sa.Column("customer", sa.String(length=128), nullable=True),
        sa.Column("plan", sa.String(length=63), nullable=True),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=True),
        sa.Column("ipv4", sa.JSON(), nullable=False),
        sa.Column("ipv6", sa.JSON(), nullable=False),
        sa.Column("cname", sa.String(length=254), nullable=True),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index("ix_sites_namespace_name", ["namespace", "name"], unique=False)
        batch_op.create_index("uq_sites_uid", ["uid"], unique=True)

    op.create_table(
        "zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_name", sa.String(length=253), nullable=False),
        sa.Column("is_owner", sa.Boolean(), nullable=False),
        sa.Column("backend", sa.String(length=253), nullable=True),
        sa.Column("default_ttl", sa.Integer(), nullable=False),
        sa.Column("soa", sa.JSON(), nullable=False),
        sa.Column("name_servers", sa.JSON(), nullable=False),
        sa.Column("publishers", sa.JSON(), nullable=False),
        sa.Column("deletion_policy", sa.String(length=16), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_error", sa.Text(), nullable=True),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
    )
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.create_index("ix_zones_zone_name", ["zone_name"], unique=False)
        batch_op.create_index(
            "uq_zones_live_zone_name",
            ["zone_name"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL AND is_owner"),
            postgresql_where=sa.text("deleted_at IS NULL AND is_owner"),
        )
        batch_op.create_index("uq_zones_uid", ["uid"], unique=True)

    op.create_table(
        "record_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=False),
        sa.Column("rdata", sa.JSON(), nullable=False),
        sa.Column("owner_kind", sa.String(length=32), nullable=False),
        sa.Column("owner_namespace", sa.String(length=63), nullable=False),
        sa.Column("owner_name", sa.String(length=253), nullable=False),
        sa.Column("owner_uid", sa.String(length=64), nullable=False),
        sa.Column("owner_generation", sa.Integer(), nullable=False),
        sa.Column("applied_serial", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_record_sets_zone_id_zones")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_sets")),
    )
    with op.batch_alter_table("record_sets", schema=None) as batch_op:
        batch_op.create_index("ix_record_sets_owner_uid", ["owner_uid"], unique=False)
        batch_op.create_index(
            "uq_record_sets_live_zone_name_type",
            ["zone_id", "name", "type"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "site_domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("zone_name", sa.String(length=253), nullable=True),
        sa.Column("is_owner", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("publish_state", sa.String(length=32), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_site_domains_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_domains")),
    )
    with op.batch_alter_table("site_domains", schema=None) as batch_op:
        batch_op.create_index("ix_site_domains_domain", ["domain"], unique=False)
        batch_op.create_index("ix_site_domains_site_id", ["site_id"], unique=False)
        batch_op.create_index(
            "uq_site_domains_live_owner_domain",
            ["domain"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL AND is_owner"),
            postgresql_where=sa.text("deleted_at IS NULL AND is_owner"),
        )


def downgrade() -> None:
    with op.batch_alter_table("site_domains", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_site_domains_live_owner_domain",
            sqlite_where=sa.text("deleted_at IS NULL AND is_owner"),
            postgresql_where=sa.text("deleted_at IS NULL AND is_owner"),
        )
        batch_op.drop_index("ix_site_domains_site_id")
        batch_op.drop_index("ix_site_domains_domain")

    op.drop_table("site_domains")
    with op.batch_alter_table("record_sets", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_record_sets_live_zone_name_type",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index("ix_record_sets_owner_uid")

    op.drop_table("record_sets")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_index("uq_zones_uid")
        batch_op.drop_index(
            "uq_zones_live_zone_name",
            sqlite_where=sa.text("deleted_at IS NULL AND is_owner"),
            postgresql_where=sa.text("deleted_at IS NULL AND is_owner"),
        )
        batch_op.drop_index("ix_zones_zone_name")

    op.drop_table("zones")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index("uq_sites_uid")
        batch_op.drop_index("ix_sites_namespace_name")

    op.drop_table("sites")
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_zone_name")
        batch_op.drop_index("ix_history_object_uid")

    op.drop_table("history")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index("ix_grants_subject")

    op.drop_table("grants")
    with op.batch_alter_table("dns_records", schema=None) as batch_op:
        batch_op.drop_index("uq_dns_records_uid")
        batch_op.drop_index("ix_dns_records_zone_name")

    op.drop_table("dns_records")
