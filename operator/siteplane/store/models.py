"""Tables of the application database, the dashboard's source of truth.

Rows are never deleted: deleting a custom resource sets ``deleted_at`` and history keeps what
happened. Uniqueness that decides conflicts (one owner per zone name, per site domain, per record
name/type in a zone) is enforced here with partial unique indexes over the live rows, so two
operator workers can never both win, whatever they believe in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

K8S_NAME = 253
TIMESTAMP = 32  # Kubernetes timestamps are stored as their RFC 3339 text: it sorts correctly


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; one without a zone is taken as UTC (SQLite hands stored times back
    without theirs, and a time a caller gives without one means UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _live(condition: str = "") -> dict[str, Any]:
    """Partial-index predicate over live rows, for both dialects."""
    predicate = text("deleted_at IS NULL" + (f" AND {condition}" if condition else ""))
    return {"sqlite_where": predicate, "postgresql_where": predicate}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class ObjectColumns:
    """Identity of the custom resource a row mirrors."""

    uid: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(K8S_NAME))
    created: Mapped[str] = mapped_column(String(TIMESTAMP))  # metadata.creationTimestamp: the claim's age
    generation: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class Zone(ObjectColumns, Base):
    __tablename__ = "zones"
    __table_args__ = (
        Index("uq_zones_uid", "uid", unique=True),
        Index("uq_zones_live_zone_name", "zone_name", unique=True, **_live("is_owner")),
        Index("ix_zones_zone_name", "zone_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_name: Mapped[str] = mapped_column(String(K8S_NAME))
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    """True for the one DNSZone that owns zone_name (the oldest claim)."""
    backend: Mapped[str | None] = mapped_column(String(K8S_NAME))
    default_ttl: Mapped[int] = mapped_column(Integer)
    soa: Mapped[dict[str, Any]] = mapped_column(JSON)
    name_servers: Mapped[list[Any]] = mapped_column(JSON)
    publishers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    deletion_policy: Mapped[str] = mapped_column(String(16), default="Delete")
    serial: Mapped[int | None] = mapped_column(default=None)
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    synced_at: Mapped[datetime | None] = mapped_column(default=None)
    sync_error: Mapped[str | None] = mapped_column(Text, default=None)
    management: Mapped[str] = mapped_column(String(16), default="Shared")
    """Shared: leave record sets siteplane never published alone; Exclusive: remove them."""
    drift_corrections: Mapped[int] = mapped_column(Integer, default=0)
    """Record sets changed on the server behind siteplane's back and put back, over the zone's life."""
    checked_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the zone was last compared with what its backend serves."""
    sync_error_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    """The condition reason of ``sync_error``: BackendError or BackendUnavailable."""
    delegations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """Other namespaces that may declare zones below this one: [{namespace, names}]."""
    delegation_refused: Mapped[bool] = mapped_column(Boolean, default=False)
    """True when the zone lies inside an older zone of another namespace that does not delegate
    it: stored, but not served, and nothing is placed in it."""
    served: Mapped[bool] = mapped_column(Boolean, default=False)
    """True while siteplane has the zone on a backend: a deleted or refused zone that is still
    served is removed from it by its next sync, before anything else happens to the name."""
    served_backend: Mapped[str | None] = mapped_column(String(K8S_NAME), default=None)
    """The spec.backend the zone was served through (NULL: the operator's default)."""
    dnssec: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """spec.dnssec while enabled ({"denial": "NSEC3"}); NULL: unsigned."""
    dnssec_served: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """The zone's DNSSEC as its backend last served it: {"signed", "ds", "dnskeys", "expires",
    "problem"}, public data only (private keys live in Secrets); NULL: never asked (never signed)."""


class Site(ObjectColumns, Base):
    __tablename__ = "sites"
    __table_args__ = (Index("uq_sites_uid", "uid", unique=True), Index("ix_sites_namespace_name", "namespace", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    primary_domain: Mapped[str] = mapped_column(String(K8S_NAME))
    customer: Mapped[str | None] = mapped_column(String(128))
    plan: Mapped[str | None] = mapped_column(String(63))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    ttl: Mapped[int | None] = mapped_column(Integer)
    ipv4: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ipv6: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cname: Mapped[str | None] = mapped_column(String(K8S_NAME + 1))

    domains: Mapped[list[SiteDomain]] = relationship(back_populates="site", order_by="SiteDomain.position")


class SiteDomain(Base):
    """One domain a Site claims. ``is_owner`` marks the claim that owns the domain cluster-wide."""

    __tablename__ = "site_domains"
    __table_args__ = (
        Index("uq_site_domains_live_owner_domain", "domain", unique=True, **_live("is_owner")),
        Index("ix_site_domains_domain", "domain"),
        Index("ix_site_domains_site_id", "site_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    domain: Mapped[str] = mapped_column(String(K8S_NAME))
    position: Mapped[int] = mapped_column(Integer)  # 0 = primary domain, then aliases in order
    zone_name: Mapped[str | None] = mapped_column(String(K8S_NAME))  # where it is placed, if anywhere
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(32), default="Pending")
    """Placement: Owned, DomainConflict or NotPermitted (decided across the cluster)."""
    publish_state: Mapped[str | None] = mapped_column(String(32), default=None)
    """What its zone's plan made of it: Published, NameConflict, CNAMEAtApex; NULL if not planned."""
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    site: Mapped[Site] = relationship(back_populates="domains")


class Record(ObjectColumns, Base):
    """A DNSRecord custom resource: one record set it asks for."""

    __tablename__ = "dns_records"
    __table_args__ = (Index("uq_dns_records_uid", "uid", unique=True), Index("ix_dns_records_zone_name", "zone_name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_name: Mapped[str] = mapped_column(String(K8S_NAME))
    record_name: Mapped[str] = mapped_column(String(K8S_NAME))
    type: Mapped[str] = mapped_column(String(10))
    ttl: Mapped[int | None] = mapped_column(Integer)
    rdata: Mapped[list[Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(32), default="Pending")


class RecordSetRow(Base):
    """A record set a zone should serve, with its one owning object; what the planner decided."""

    __tablename__ = "record_sets"
    __table_args__ = (
        Index("uq_record_sets_live_zone_name_type", "zone_id", "name", "type", unique=True, **_live()),
        Index("ix_record_sets_owner_uid", "owner_uid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"))
    name: Mapped[str] = mapped_column(String(K8S_NAME))
    type: Mapped[str] = mapped_column(String(10))
    ttl: Mapped[int] = mapped_column(Integer)
    rdata: Mapped[list[Any]] = mapped_column(JSON)
    owner_kind: Mapped[str] = mapped_column(String(32))
    owner_namespace: Mapped[str] = mapped_column(String(63))
    owner_name: Mapped[str] = mapped_column(String(K8S_NAME))
    owner_uid: Mapped[str] = mapped_column(String(64))
    owner_generation: Mapped[int] = mapped_column(Integer)
    applied_serial: Mapped[int | None] = mapped_column(default=None)
    """The zone serial with which the backend was seen serving this set; NULL while pending."""
    rejected: Mapped[str | None] = mapped_column(Text, default=None)
    """Why the server refused this exact set; it is not sent again until its content changes."""
    withdrawn_serial: Mapped[int | None] = mapped_column(default=None)
    """For a withdrawn set: the zone serial with which its removal was seen applied (NULL while
    the server may still serve it). A deleted object keeps its finalizer until none is NULL."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class Grant(Base):
    """A permission mirrored from Kubernetes RBAC: what one binding lets one subject do on one
    resource type, in one namespace (NULL: cluster-wide), on every object or only the named ones."""

    __tablename__ = "grants"
    __table_args__ = (
        Index("ix_grants_subject", "subject_kind", "subject_name"),
        Index("ix_grants_source", "source_kind", "source_namespace", "source_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_name: Mapped[str] = mapped_column(String(K8S_NAME))
    namespace: Mapped[str | None] = mapped_column(String(63))  # NULL = cluster-wide
    resource_type: Mapped[str] = mapped_column(String(32))
    access: Mapped[str] = mapped_column(String(8))
    resource_names: Mapped[list[Any]] = mapped_column(JSON, default=list)
    verbs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """The verbs exactly as RBAC grants them ('*' included); ``access`` is their one-word summary."""
    source_kind: Mapped[str] = mapped_column(String(32))
    source_namespace: Mapped[str | None] = mapped_column(String(63))
    source_name: Mapped[str] = mapped_column(String(K8S_NAME))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class GrantAdmission(Base):
    """Who the admission webhook let write one generation of an AccessGrant's spec.

    The operator re-checks that author's permissions before it creates any RBAC object, so a grant
    that reached the cluster without the webhook (bypassed, or down) is never applied.
    """

    __tablename__ = "grant_admissions"
    __table_args__ = (Index("uq_grant_admissions_uid_generation", "grant_uid", "generation", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_uid: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int] = mapped_column(Integer)
    spec_digest: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(K8S_NAME))
    groups: Mapped[list[Any]] = mapped_column(JSON, default=list)
    admitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class History(Base):
    """Append-only record of every change applied: what, for which object and generation, when."""

    __tablename__ = "history"
    __table_args__ = (Index("ix_history_object_uid", "object_uid"), Index("ix_history_zone_name", "zone_name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    object_kind: Mapped[str] = mapped_column(String(32))
    object_namespace: Mapped[str | None] = mapped_column(String(63))
    object_name: Mapped[str] = mapped_column(String(K8S_NAME))
    object_uid: Mapped[str | None] = mapped_column(String(64))
    generation: Mapped[int | None] = mapped_column(Integer)
    zone_name: Mapped[str | None] = mapped_column(String(K8S_NAME))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    serial: Mapped[int | None] = mapped_column(default=None)


class ChangeAuthor(Base):
    """Who the admission webhook let make one change (a generation, or the deletion) of a Site,
    DNSZone or DNSRecord. History joins it by uid and generation; a change no webhook saw has none."""

    __tablename__ = "change_authors"
    __table_args__ = (
        Index("uq_change_authors_uid_generation_operation", "object_uid", "generation", "operation", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    object_uid: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(16))  # CREATE, UPDATE or DELETE
    username: Mapped[str] = mapped_column(String(K8S_NAME))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ObjectStatus(Base):
    """What each object's Ready condition says now, as the status writer last computed it: what the
    dashboard shows and filters by without asking the API server."""

    __tablename__ = "object_status"
    __table_args__ = (
        Index("uq_object_status_kind_namespace_name", "kind", "namespace", "name", unique=True),
        Index("ix_object_status_kind_ready_reason", "kind", "ready", "reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    namespace: Mapped[str] = mapped_column(String(63))  # "" for cluster-scoped DNSBackends
    name: Mapped[str] = mapped_column(String(K8S_NAME))
    uid: Mapped[str] = mapped_column(String(64))
    ready: Mapped[str] = mapped_column(String(8))  # True, False, Unknown
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    observed_generation: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Change(Base):
    """The change feed the dashboard's live updates follow: one row per Ready change or deletion of
    an object, appended by the one status writer, so ids are committed in order."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_kind_namespace", "kind", "namespace"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    namespace: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(K8S_NAME))
    uid: Mapped[str] = mapped_column(String(64))
    ready: Mapped[str | None] = mapped_column(String(8), default=None)  # None: the object is gone
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    observed_generation: Mapped[int | None] = mapped_column(Integer, default=None)


class NamespacePolicy(Base):
    """What a namespace's annotations say about siteplane: whether Git owns its objects (the
    dashboard API then refuses to change them, since a GitOps controller would undo it)."""

    __tablename__ = "namespace_policies"

    namespace: Mapped[str] = mapped_column(String(63), primary_key=True)
    gitops: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
