"""The dashboard's read queries: lists with filters and keyset pages, details, history.

Everything a caller may not see is left out in SQL, by ``visible``: the caller's Visibility (what
RBAC lets them ``get``, from the grants table) becomes part of the WHERE clause of every query, so
counts, pages and searches never include, nor reveal, what is hidden. Pages are keyset pages over
(sort value, id): stable under concurrent inserts, as the API server's continue tokens are.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import aliased, selectinload

from siteplane.domain.access import Visibility
from siteplane.store.models import (
    ChangeAuthor,
    History,
    ObjectStatus,
    Record,
    RecordSetRow,
    Site,
    SiteDomain,
    Zone,
    as_utc,
)
from siteplane.store.unit_of_work import UnitOfWork

Match = Literal["exact", "prefix", "suffix", "contains"]
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
MAX_PAGE = 500


@dataclass(frozen=True)
class TextFilter:
    value: str
    match: Match = "exact"


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: its last row's sort value and id."""

    value: Any
    id: int


@dataclass(frozen=True)
class PageRequest:
    sort: str  # a sort key of the kind's list
    descending: bool = False
    limit: int = 50
    after: Cursor | None = None


def visible(namespace: Any, name: Any, seen: Visibility) -> ColumnElement[bool]:
    """SQL for "the caller may get this object": the Visibility as a condition on its columns."""
    if seen.everything:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if seen.namespaces:
        conditions.append(namespace.in_(sorted(seen.namespaces)))
    in_namespace = sorted((ns, n) for ns, n in seen.named if ns is not None)
    anywhere = sorted(n for ns, n in seen.named if ns is None)
    if in_namespace:
        conditions.append(tuple_(namespace, name).in_(in_namespace))
    if anywhere:
        conditions.append(name.in_(anywhere))
    return or_(*conditions) if conditions else false()


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(column: Any, wanted: TextFilter) -> ColumnElement[bool]:
    """``column`` matches ``wanted`` (its wildcards taken literally: a '%' is a '%')."""
    if wanted.match == "exact":
        return column == wanted.value  # type: ignore[no-any-return]
    pattern = {"prefix": "{}%", "suffix": "%{}", "contains": "%{}%"}[wanted.match].format(_escaped(wanted.value))
    return column.like(pattern, escape="\\")  # type: ignore[no-any-return]


def paged(stmt: SelectT, sort: Any, id_column: Any, page: PageRequest) -> SelectT:
    """``stmt`` ordered by (sort, id) and cut after ``page.after``; one row more than the page
    holds, so the caller knows whether another page follows. A missing value sorts as ''."""
    key = func.coalesce(sort, "")
    if page.after is not None:
        after = tuple_(key, id_column)
        point = tuple_(page.after.value, page.after.id)
        stmt = stmt.where(after < point if page.descending else after > point)
    order = (key.desc(), id_column.desc()) if page.descending else (key.asc(), id_column.asc())
    return stmt.order_by(*order).limit(min(page.limit, MAX_PAGE) + 1)


def ready_of(kind: str, namespace: Any, name: Any) -> Any:
    """The object's stored Ready (object_status), to join on."""
    return and_(ObjectStatus.kind == kind, ObjectStatus.namespace == namespace, ObjectStatus.name == name)


def aware(moment: datetime | None) -> datetime | None:
    """A stored time as UTC: SQLite hands timestamps back without their zone (they are stored in UTC)."""
    return None if moment is None else as_utc(moment)


def served_by(backend_column: Any, name: str, default_backend: str | None) -> ColumnElement[bool]:
    """The zone is served through DNSBackend ``name``: it names it, or names none and ``name`` is
    the operator's default."""
    named = backend_column == name
    if default_backend is not None and name == default_backend:
        return or_(named, backend_column.is_(None))
    return named  # type: ignore[no-any-return]


def zones_served_by(backend: str, default_backend: str | None) -> Select[str]:
    """The names of the live zones that own their name and are served through DNSBackend ``backend``."""
    return select(Zone.zone_name).where(
        served_by(Zone.backend, backend, default_backend), Zone.is_owner.is_(True), Zone.deleted_at.is_(None)
    )


@dataclass(frozen=True)
class Visibilities:
    """What the caller may ``get`` of each kind a view can show (a zone holds every kind's records)."""

    sites: Visibility = field(default_factory=Visibility)
    zones: Visibility = field(default_factory=Visibility)
    records: Visibility = field(default_factory=Visibility)

    def of(self, kind: str) -> Visibility:
        return {"Site": self.sites, "DNSZone": self.zones, "DNSRecord": self.records}.get(kind, Visibility())

    def condition(self, kind: Any, namespace: Any, name: Any) -> ColumnElement[bool]:
        """SQL for "the caller may get this object", for rows naming objects of several kinds."""
        return or_(
            *(and_(kind == k, visible(namespace, name, self.of(k))) for k in KINDS if not self.of(k).nothing),
            false(),
        )


KINDS = ("Site", "DNSZone", "DNSRecord")


# -- Sites --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteFilters:
    namespace: str | None = None
    name: TextFilter | None = None
    domain: TextFilter | None = None
    customer: TextFilter | None = None
    plan: str | None = None
    ready: str | None = None
    reason: str | None = None
    zone: str | None = None
    backend: str | None = None


@dataclass(frozen=True)
class SiteRow:
    id: int
    namespace: str
    name: str
    uid: str
    primary_domain: str
    aliases: tuple[str, ...]
    customer: str | None
    plan: str | None
    suspended: bool
    zone: str | None
    ready: str | None
    reason: str | None
    created: str
    generation: int


SITE_SORTS: dict[str, Any] = {
    "name": Site.name,
    "namespace": Site.namespace,
    "domain": Site.primary_domain,
    "customer": Site.customer,
    "created": Site.created,
}


def _live_domain(*conditions: Any) -> Any:
    return exists().where(SiteDomain.site_id == Site.id, SiteDomain.deleted_at.is_(None), *conditions)


def list_sites(
    uow: UnitOfWork, seen: Visibility, filters: SiteFilters, page: PageRequest, default_backend: str | None = None
) -> list[SiteRow]:
    # Columns, not ORM objects: building 100 Sites and their domains as objects was two thirds of
    # a page's CPU (docs/performance.md, Dashboard API).
    stmt = (
        select(
            Site.id,
            Site.namespace,
            Site.name,
            Site.uid,
            Site.primary_domain,
            Site.customer,
            Site.plan,
            Site.suspended,
            Site.created,
            Site.generation,
            ObjectStatus.ready,
            ObjectStatus.reason,
        )
        .outerjoin(ObjectStatus, ready_of("Site", Site.namespace, Site.name))
        .where(Site.deleted_at.is_(None), visible(Site.namespace, Site.name, seen))
    )
    if filters.namespace is not None:
        stmt = stmt.where(Site.namespace == filters.namespace)
    if filters.name is not None:
        stmt = stmt.where(matches(Site.name, filters.name))
    if filters.domain is not None:
        stmt = stmt.where(_live_domain(matches(SiteDomain.domain, filters.domain)))
    if filters.customer is not None:
        stmt = stmt.where(matches(Site.customer, filters.customer))
    if filters.plan is not None:
        stmt = stmt.where(Site.plan == filters.plan)
    if filters.ready is not None:
        stmt = stmt.where(ObjectStatus.ready == filters.ready)
    if filters.reason is not None:
        stmt = stmt.where(ObjectStatus.reason == filters.reason)
    if filters.zone is not None:
        stmt = stmt.where(_live_domain(SiteDomain.zone_name == filters.zone))
    if filters.backend is not None:
        stmt = stmt.where(_live_domain(SiteDomain.zone_name.in_(zones_served_by(filters.backend, default_backend))))
    stmt = paged(stmt, SITE_SORTS[page.sort], Site.id, page)
    sites = uow.session.execute(stmt).all()
    domains = _live_domains(uow, [site.id for site in sites])
    return [
        SiteRow(
            site.id,
            site.namespace,
            site.name,
            site.uid,
            site.primary_domain,
            tuple(domain for domain, _ in domains.get(site.id, [])[1:]),
            site.customer,
            site.plan,
            bool(site.suspended),
            domains[site.id][0][1] if domains.get(site.id) else None,
            site.ready,
            site.reason,
            site.created,
            site.generation,
        )
        for site in sites
    ]


def _live_domains(uow: UnitOfWork, site_ids: list[int]) -> dict[int, list[tuple[str, str | None]]]:
    """Each Site's live domains in order (the primary first), with the zone each is placed in."""
    if not site_ids:
        return {}
    stmt = (
        select(SiteDomain.site_id, SiteDomain.domain, SiteDomain.zone_name)
        .where(SiteDomain.site_id.in_(site_ids), SiteDomain.deleted_at.is_(None))
        .order_by(SiteDomain.site_id, SiteDomain.position)
    )
    found: dict[int, list[tuple[str, str | None]]] = {}
    for site_id, domain, zone in uow.session.execute(stmt):
        found.setdefault(site_id, []).append((domain, zone))
    return found


def _site_row(site: Site, ready: str | None, reason: str | None) -> SiteRow:
    domains = sorted((d for d in site.domains if d.deleted_at is None), key=lambda d: d.position)
    return SiteRow(
        site.id,
        site.namespace,
        site.name,
        site.uid,
        site.primary_domain,
        tuple(d.domain for d in domains[1:]),
        site.customer,
        site.plan,
        bool(site.suspended),
        domains[0].zone_name if domains else None,
        ready,
        reason,
        site.created,
        site.generation,
    )


SORT_FIELDS = {"domain": "primary_domain", "zone": "zone_name"}


def sort_value(row: Any, sort: str) -> Any:
    """The value a row sorts by under ``sort`` (what a continue token carries)."""
    value = getattr(row, SORT_FIELDS.get(sort, sort))
    return "" if value is None else value


@dataclass(frozen=True)
class DomainDetail:
    domain: str
    position: int
    state: str
    publish_state: str | None
    zone: str | None
    served: bool = False
    """Its record sets are seen served by the zone's backend (and the Site is not suspended)."""
    why_not: str | None = None
    """When not served, the first thing in the way: the placement (DomainConflict, NotPermitted,
    Pending), Suspended, the zone's plan (NameConflict, CNAMEAtApex, Pending), BackendError,
    RejectedByServer, or Pending while the backend has not been seen serving it."""


@dataclass(frozen=True)
class SiteDetail:
    row: SiteRow
    ttl: int | None
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    cname: str | None
    domains: tuple[DomainDetail, ...]
    message: str | None
    updated_at: datetime | None


def _relative(domain: str, zone: str) -> str:
    return "@" if domain == zone else domain[: -len(zone) - 1]


def _why_not(
    domain: SiteDomain, suspended: bool, sets: list[tuple[str, int | None, str | None]], zone_error: bool
) -> str | None:
    """What keeps ``domain`` from being served (None when nothing does); ``sets`` are its record
    sets in its zone: (name, applied serial, rejection)."""
    if domain.state != "Owned":
        return domain.state
    if suspended:
        return "Suspended"
    if domain.publish_state != "Published":
        return domain.publish_state or "Pending"
    if zone_error:
        return "BackendError"
    if any(rejected for _, _, rejected in sets):
        return "RejectedByServer"
    if not sets or any(applied is None for _, applied, _ in sets):
        return "Pending"
    return None


def site_detail(uow: UnitOfWork, seen: Visibility, namespace: str, name: str) -> SiteDetail | None:
    """One Site, if the caller may see it (else None, exactly as when it does not exist)."""
    if not seen.allows(namespace, name):
        return None
    stmt = (
        select(Site, ObjectStatus.ready, ObjectStatus.reason, ObjectStatus.message)
        .outerjoin(ObjectStatus, ready_of("Site", Site.namespace, Site.name))
        .where(Site.namespace == namespace, Site.name == name, Site.deleted_at.is_(None))
        .options(selectinload(Site.domains))
    )
    found = uow.session.execute(stmt).first()
    if found is None:
        return None
    site, ready, reason, message = found
    domains = sorted((d for d in site.domains if d.deleted_at is None), key=lambda d: d.position)
    held = uow.session.execute(
        select(RecordSetRow.name, RecordSetRow.applied_serial, RecordSetRow.rejected, Zone.zone_name)
        .join(Zone, Zone.id == RecordSetRow.zone_id)
        .where(RecordSetRow.owner_uid == site.uid, RecordSetRow.deleted_at.is_(None))
    ).all()
    failing = set(
        uow.session.scalars(
            select(Zone.zone_name).where(
                Zone.zone_name.in_({d.zone_name for d in domains if d.zone_name}),
                Zone.is_owner.is_(True),
                Zone.deleted_at.is_(None),
                Zone.sync_error.is_not(None),
            )
        )
    )
    details = []
    for d in domains:
        zone = d.zone_name or ""
        sets = [
            (n, applied, rejected) for n, applied, rejected, z in held if z == zone and n == _relative(d.domain, zone)
        ]
        why_not = _why_not(d, bool(site.suspended), sets, zone in failing)
        details.append(
            DomainDetail(d.domain, d.position, d.state, d.publish_state, d.zone_name, why_not is None, why_not)
        )
    return SiteDetail(
        _site_row(site, ready, reason),
        site.ttl,
        tuple(site.ipv4 or ()),
        tuple(site.ipv6 or ()),
        site.cname,
        tuple(details),
        message,
        aware(site.updated_at),
    )


# -- DNSZones -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneFilters:
    namespace: str | None = None
    name: TextFilter | None = None
    zone: TextFilter | None = None
    ready: str | None = None
    reason: str | None = None
    backend: str | None = None


@dataclass(frozen=True)
class ZoneRow:
    id: int
    namespace: str
    name: str
    uid: str
    zone_name: str
    is_owner: bool
    backend: str | None
    serial: int | None
    record_count: int
    drift_corrections: int
    synced_at: datetime | None
    checked_at: datetime | None
    ready: str | None
    reason: str | None
    created: str
    generation: int


ZONE_SORTS: dict[str, Any] = {
    "name": Zone.name,
    "namespace": Zone.namespace,
    "zone": Zone.zone_name,
    "created": Zone.created,
}


def list_zones(
    uow: UnitOfWork, seen: Visibility, filters: ZoneFilters, page: PageRequest, default_backend: str | None = None
) -> list[ZoneRow]:
    stmt = (
        select(Zone, ObjectStatus.ready, ObjectStatus.reason)
        .outerjoin(ObjectStatus, ready_of("DNSZone", Zone.namespace, Zone.name))
        .where(Zone.deleted_at.is_(None), visible(Zone.namespace, Zone.name, seen))
    )
    if filters.namespace is not None:
        stmt = stmt.where(Zone.namespace == filters.namespace)
    if filters.name is not None:
        stmt = stmt.where(matches(Zone.name, filters.name))
    if filters.zone is not None:
        stmt = stmt.where(matches(Zone.zone_name, filters.zone))
    if filters.ready is not None:
        stmt = stmt.where(ObjectStatus.ready == filters.ready)
    if filters.reason is not None:
        stmt = stmt.where(ObjectStatus.reason == filters.reason)
    if filters.backend is not None:
        stmt = stmt.where(served_by(Zone.backend, filters.backend, default_backend))
    stmt = paged(stmt, ZONE_SORTS[page.sort], Zone.id, page)
    return [_zone_row(zone, ready, reason) for zone, ready, reason in uow.session.execute(stmt)]


def _zone_row(zone: Zone, ready: str | None, reason: str | None) -> ZoneRow:
    return ZoneRow(
        zone.id,
        zone.namespace,
        zone.name,
        zone.uid,
        zone.zone_name,
        bool(zone.is_owner),
        zone.backend,
        zone.serial,
        zone.record_count,
        zone.drift_corrections,
        aware(zone.synced_at),
        aware(zone.checked_at),
        ready,
        reason,
        zone.created,
        zone.generation,
    )


@dataclass(frozen=True)
class BackendState:
    """The DNSBackend a zone is served through, and its Ready as the operator last wrote it."""

    name: str | None
    """None: the embedded zone files, which are no DNSBackend."""
    ready: str | None
    """None: no status is stored for a DNSBackend of that name (there is none, or it was never checked)."""
    reason: str | None


@dataclass(frozen=True)
class SetCounts:
    total: int
    applied: int
    pending: int
    rejected: int


@dataclass(frozen=True)
class ZoneDetail:
    row: ZoneRow
    default_ttl: int
    soa: dict[str, Any]
    name_servers: tuple[str, ...]
    publishers: tuple[dict[str, Any], ...]
    delegations: tuple[dict[str, Any], ...]
    deletion_policy: str
    management: str
    served: bool
    message: str | None
    backend: BackendState
    record_sets: SetCounts
    updated_at: datetime | None


def _live_zone(uow: UnitOfWork, seen: Visibility, namespace: str, name: str) -> tuple[Zone, Any, Any, Any] | None:
    if not seen.allows(namespace, name):
        return None
    stmt = (
        select(Zone, ObjectStatus.ready, ObjectStatus.reason, ObjectStatus.message)
        .outerjoin(ObjectStatus, ready_of("DNSZone", Zone.namespace, Zone.name))
        .where(Zone.namespace == namespace, Zone.name == name, Zone.deleted_at.is_(None))
        .order_by(Zone.id.desc())
    )
    found = uow.session.execute(stmt).first()
    return None if found is None else (found[0], found[1], found[2], found[3])


def zone_detail(
    uow: UnitOfWork, seen: Visibility, namespace: str, name: str, default_backend: str | None = None
) -> ZoneDetail | None:
    """One DNSZone, if the caller may see it (else None, exactly as when it does not exist)."""
    found = _live_zone(uow, seen, namespace, name)
    if found is None:
        return None
    zone, ready, reason, message = found
    backend_name = zone.backend or default_backend
    backend = BackendState(None, None, None)
    if backend_name:
        status = uow.session.execute(
            select(ObjectStatus.ready, ObjectStatus.reason).where(ready_of("DNSBackend", "", backend_name))
        ).first()
        backend = BackendState(backend_name, *(status or (None, None)))
    total, applied, rejected = uow.session.execute(
        select(func.count(), func.count(RecordSetRow.applied_serial), func.count(RecordSetRow.rejected)).where(
            RecordSetRow.zone_id == zone.id, RecordSetRow.deleted_at.is_(None)
        )
    ).one()
    pending = uow.session.scalar(
        select(func.count()).where(
            RecordSetRow.zone_id == zone.id,
            RecordSetRow.deleted_at.is_(None),
            RecordSetRow.applied_serial.is_(None),
            RecordSetRow.rejected.is_(None),
        )
    )
    return ZoneDetail(
        _zone_row(zone, ready, reason),
        zone.default_ttl,
        dict(zone.soa or {}),
        tuple(zone.name_servers or ()),
        tuple(zone.publishers or ()),
        tuple(zone.delegations or ()),
        zone.deletion_policy,
        zone.management,
        bool(zone.served),
        message,
        backend,
        SetCounts(int(total), int(applied), int(pending or 0), int(rejected)),
        aware(zone.updated_at),
    )


# -- record sets (what a zone serves, whoever owns it) ------------------------------------------

SetState = Literal["applied", "pending", "rejected"]


@dataclass(frozen=True)
class SetFilters:
    name: TextFilter | None = None
    type: str | None = None
    state: SetState | None = None


@dataclass(frozen=True)
class SetRow:
    id: int
    name: str
    type: str
    ttl: int
    values: tuple[str, ...]
    owner_kind: str
    owner_namespace: str | None
    """None (as the name) when the caller may not get the owner: they learn only its kind."""
    owner_name: str | None
    applied_serial: int | None
    rejected: str | None


SET_SORTS: dict[str, Any] = {"name": RecordSetRow.name, "type": RecordSetRow.type}


def _sets(seen: Visibilities) -> Select[Any]:
    """Record sets with their owner's namespace and name only where the caller may get the owner:
    a hidden owner's names never leave the database."""
    owner_seen = seen.condition(RecordSetRow.owner_kind, RecordSetRow.owner_namespace, RecordSetRow.owner_name)
    return select(
        RecordSetRow.id,
        RecordSetRow.name,
        RecordSetRow.type,
        RecordSetRow.ttl,
        RecordSetRow.rdata,
        RecordSetRow.owner_kind,
        case((owner_seen, RecordSetRow.owner_namespace), else_=null()).label("owner_namespace"),
        case((owner_seen, RecordSetRow.owner_name), else_=null()).label("owner_name"),
        RecordSetRow.applied_serial,
        RecordSetRow.rejected,
    ).where(RecordSetRow.deleted_at.is_(None))


def _set_row(row: Any) -> SetRow:
    return SetRow(
        row.id,
        row.name,
        row.type,
        row.ttl,
        tuple(row.rdata or ()),
        row.owner_kind,
        row.owner_namespace,
        row.owner_name,
        row.applied_serial,
        row.rejected,
    )


def zone_record_sets(
    uow: UnitOfWork, seen: Visibilities, namespace: str, name: str, filters: SetFilters, page: PageRequest
) -> list[SetRow] | None:
    """The live record sets of a DNSZone the caller may see (None when they may not, or it does not
    exist); each owner named only if the caller may get it."""
    found = _live_zone(uow, seen.zones, namespace, name)
    if found is None:
        return None
    stmt = _sets(seen).where(RecordSetRow.zone_id == found[0].id)
    if filters.name is not None:
        stmt = stmt.where(matches(RecordSetRow.name, filters.name))
    if filters.type is not None:
        stmt = stmt.where(RecordSetRow.type == filters.type)
    if filters.state == "applied":
        stmt = stmt.where(RecordSetRow.applied_serial.is_not(None))
    elif filters.state == "rejected":
        stmt = stmt.where(RecordSetRow.rejected.is_not(None))
    elif filters.state == "pending":
        stmt = stmt.where(RecordSetRow.applied_serial.is_(None), RecordSetRow.rejected.is_(None))
    stmt = paged(stmt, SET_SORTS[page.sort], RecordSetRow.id, page)
    return [_set_row(row) for row in uow.session.execute(stmt)]


# -- DNSRecords ---------------------------------------------------------------------------------

FQDN = case((Record.record_name == "@", Record.zone_name), else_=Record.record_name + "." + Record.zone_name)


@dataclass(frozen=True)
class RecordFilters:
    namespace: str | None = None
    name: TextFilter | None = None
    fqdn: TextFilter | None = None
    zone: str | None = None
    type: str | None = None
    ready: str | None = None
    reason: str | None = None
    backend: str | None = None


@dataclass(frozen=True)
class RecordRow:
    id: int
    namespace: str
    name: str
    uid: str
    zone_name: str
    record_name: str
    fqdn: str
    type: str
    ttl: int | None
    values: tuple[str, ...]
    state: str
    """What the zone's plan made of it: Published, NameConflict, NotPermitted or Pending."""
    ready: str | None
    reason: str | None
    created: str
    generation: int


RECORD_SORTS: dict[str, Any] = {
    "name": Record.name,
    "namespace": Record.namespace,
    "fqdn": FQDN,
    "zone": Record.zone_name,
    "type": Record.type,
    "created": Record.created,
}


def list_records(
    uow: UnitOfWork, seen: Visibility, filters: RecordFilters, page: PageRequest, default_backend: str | None = None
) -> list[RecordRow]:
    stmt = (
        select(Record, ObjectStatus.ready, ObjectStatus.reason)
        .outerjoin(ObjectStatus, ready_of("DNSRecord", Record.namespace, Record.name))
        .where(Record.deleted_at.is_(None), visible(Record.namespace, Record.name, seen))
    )
    if filters.namespace is not None:
        stmt = stmt.where(Record.namespace == filters.namespace)
    if filters.name is not None:
        stmt = stmt.where(matches(Record.name, filters.name))
    if filters.fqdn is not None:
        stmt = stmt.where(matches(FQDN, filters.fqdn))
    if filters.zone is not None:
        stmt = stmt.where(Record.zone_name == filters.zone)
    if filters.type is not None:
        stmt = stmt.where(Record.type == filters.type)
    if filters.ready is not None:
        stmt = stmt.where(ObjectStatus.ready == filters.ready)
    if filters.reason is not None:
        stmt = stmt.where(ObjectStatus.reason == filters.reason)
    if filters.backend is not None:
        stmt = stmt.where(Record.zone_name.in_(zones_served_by(filters.backend, default_backend)))
    stmt = paged(stmt, RECORD_SORTS[page.sort], Record.id, page)
    return [_record_row(record, ready, reason) for record, ready, reason in uow.session.execute(stmt)]


def _record_row(record: Record, ready: str | None, reason: str | None) -> RecordRow:
    fqdn = record.zone_name if record.record_name == "@" else f"{record.record_name}.{record.zone_name}"
    return RecordRow(
        record.id,
        record.namespace,
        record.name,
        record.uid,
        record.zone_name,
        record.record_name,
        fqdn,
        record.type,
        record.ttl,
        tuple(str(v) for v in record.rdata or ()),
        record.state,
        ready,
        reason,
        record.created,
        record.generation,
    )


@dataclass(frozen=True)
class RecordDetail:
    row: RecordRow
    sets: tuple[SetRow, ...]
    """The record sets it holds in its zone now (one, or none while it publishes nothing)."""
    zone_serial: int | None
    """The serial its zone is served with, if a zone owns its zone name."""
    message: str | None
    updated_at: datetime | None


def record_detail(uow: UnitOfWork, seen: Visibilities, namespace: str, name: str) -> RecordDetail | None:
    """One DNSRecord, if the caller may see it (else None, exactly as when it does not exist)."""
    if not seen.records.allows(namespace, name):
        return None
    stmt = (
        select(Record, ObjectStatus.ready, ObjectStatus.reason, ObjectStatus.message)
        .outerjoin(ObjectStatus, ready_of("DNSRecord", Record.namespace, Record.name))
        .where(Record.namespace == namespace, Record.name == name, Record.deleted_at.is_(None))
        .order_by(Record.id.desc())
    )
    found = uow.session.execute(stmt).first()
    if found is None:
        return None
    record, ready, reason, message = found
    sets = uow.session.execute(_sets(seen).where(RecordSetRow.owner_uid == record.uid).order_by(RecordSetRow.id))
    serial = uow.session.scalar(
        select(Zone.serial).where(
            Zone.zone_name == record.zone_name, Zone.is_owner.is_(True), Zone.deleted_at.is_(None)
        )
    )
    return RecordDetail(
        _record_row(record, ready, reason),
        tuple(_set_row(row) for row in sets),
        serial,
        message,
        aware(record.updated_at),
    )


# -- search by domain, across kinds ------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    kind: str
    namespace: str
    name: str
    domain: str
    """The name that matched: a Site's domain, a DNSZone's zoneName, a DNSRecord's FQDN."""
    ready: str | None
    reason: str | None
    key: int
    """Unique across kinds (the row id times three, plus the kind): a hit's place in a page."""


SEARCH_KINDS = ("Site", "DNSZone", "DNSRecord")


def search(
    uow: UnitOfWork,
    seen: Visibilities,
    domain: TextFilter,
    page: PageRequest,
    kinds: Collection[str] = SEARCH_KINDS,
    namespace: str | None = None,
) -> list[SearchHit]:
    """Sites by any of their domains, DNSZones by zone name and DNSRecords by FQDN, each kind only
    where the caller may get the object; ordered by the matching name."""
    parts: list[Select[*tuple[Any, ...]]] = []
    if "Site" in kinds and not seen.sites.nothing:
        parts.append(
            select(
                literal("Site", String).label("kind"),
                Site.namespace.label("namespace"),
                Site.name.label("name"),
                SiteDomain.domain.label("domain"),
                (SiteDomain.id * 3).label("key"),
                ObjectStatus.ready.label("ready"),
                ObjectStatus.reason.label("reason"),
            )
            .select_from(SiteDomain)
            .join(Site, Site.id == SiteDomain.site_id)
            .outerjoin(ObjectStatus, ready_of("Site", Site.namespace, Site.name))
            .where(
                SiteDomain.deleted_at.is_(None),
                Site.deleted_at.is_(None),
                visible(Site.namespace, Site.name, seen.sites),
                matches(SiteDomain.domain, domain),
                *([Site.namespace == namespace] if namespace is not None else []),
            )
        )
    if "DNSZone" in kinds and not seen.zones.nothing:
        parts.append(
            select(
                literal("DNSZone", String).label("kind"),
                Zone.namespace.label("namespace"),
                Zone.name.label("name"),
                Zone.zone_name.label("domain"),
                (Zone.id * 3 + 1).label("key"),
                ObjectStatus.ready.label("ready"),
                ObjectStatus.reason.label("reason"),
            )
            .outerjoin(ObjectStatus, ready_of("DNSZone", Zone.namespace, Zone.name))
            .where(
                Zone.deleted_at.is_(None),
                visible(Zone.namespace, Zone.name, seen.zones),
                matches(Zone.zone_name, domain),
                *([Zone.namespace == namespace] if namespace is not None else []),
            )
        )
    if "DNSRecord" in kinds and not seen.records.nothing:
        parts.append(
            select(
                literal("DNSRecord", String).label("kind"),
                Record.namespace.label("namespace"),
                Record.name.label("name"),
                FQDN.label("domain"),
                (Record.id * 3 + 2).label("key"),
                ObjectStatus.ready.label("ready"),
                ObjectStatus.reason.label("reason"),
            )
            .outerjoin(ObjectStatus, ready_of("DNSRecord", Record.namespace, Record.name))
            .where(
                Record.deleted_at.is_(None),
                visible(Record.namespace, Record.name, seen.records),
                matches(FQDN, domain),
                *([Record.namespace == namespace] if namespace is not None else []),
            )
        )
    if not parts:
        return []
    hits = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("hits")
    stmt = paged(select(hits), hits.c.domain, hits.c.key, page)
    return [
        SearchHit(row.kind, row.namespace, row.name, row.domain, row.ready, row.reason, row.key)
        for row in uow.session.execute(stmt)
    ]


# -- history and its authors --------------------------------------------------------------------

UNKNOWN_AUTHOR = "unknown"
OPERATOR_AUTHOR = "siteplane"
HistoryAction = Literal["stored", "deleted", "dns-applied", "drift-reverted"]


def _admitted_by(*operations: str) -> Any:
    """Who the admission webhook let make this history entry's change (its uid and generation)."""
    return (
        select(ChangeAuthor.username)
        .where(
            ChangeAuthor.object_uid == History.object_uid,
            ChangeAuthor.generation == History.generation,
            ChangeAuthor.operation.in_(operations),
        )
        .order_by(ChangeAuthor.id)
        .limit(1)
        .scalar_subquery()
    )


_earlier = aliased(History)
_after_deletion = exists().where(
    _earlier.object_uid == History.object_uid, _earlier.action == "deleted", _earlier.id < History.id
)

# What each action is put down to: a stored or applied generation to whoever wrote that generation,
# a deletion, and what was applied after it (the withdrawal of its records), to whoever deleted, a
# reverted drift to the operator; "unknown" where the webhook saw nothing (it was down, bypassed, or
# the change predates it). Never a guess.
author_of_entry = case(
    (History.action == "drift-reverted", literal(OPERATOR_AUTHOR, String)),
    (History.action == "deleted", func.coalesce(_admitted_by("DELETE"), UNKNOWN_AUTHOR)),
    (
        and_(History.action == "dns-applied", _after_deletion),
        func.coalesce(_admitted_by("DELETE"), UNKNOWN_AUTHOR),
    ),
    (History.action.in_(("stored", "dns-applied")), func.coalesce(_admitted_by("CREATE", "UPDATE"), UNKNOWN_AUTHOR)),
    else_=literal(UNKNOWN_AUTHOR, String),
)


@dataclass(frozen=True)
class HistoryFilters:
    kind: str | None = None
    namespace: str | None = None
    name: TextFilter | None = None
    action: str | None = None
    author: str | None = None
    zone: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class HistoryRow:
    id: int
    at: datetime
    kind: str
    namespace: str | None
    name: str
    uid: str | None
    generation: int | None
    zone_name: str | None
    action: str
    detail: dict[str, Any]
    serial: int | None
    author: str


def list_history(uow: UnitOfWork, seen: Visibilities, filters: HistoryFilters, page: PageRequest) -> list[HistoryRow]:
    """History entries whose object the caller may get (by its kind's grants), newest first unless
    ``page.descending`` is False; keyset pages by id."""
    stmt = select(History, author_of_entry.label("author")).where(
        seen.condition(History.object_kind, History.object_namespace, History.object_name)
    )
    if filters.kind is not None:
        stmt = stmt.where(History.object_kind == filters.kind)
    if filters.namespace is not None:
        stmt = stmt.where(History.object_namespace == filters.namespace)
    if filters.name is not None:
        stmt = stmt.where(matches(History.object_name, filters.name))
    if filters.action is not None:
        stmt = stmt.where(History.action == filters.action)
    if filters.author is not None:
        stmt = stmt.where(author_of_entry == filters.author)
    if filters.zone is not None:
        stmt = stmt.where(History.zone_name == filters.zone)
    if filters.since is not None:
        stmt = stmt.where(History.at >= as_utc(filters.since))
    if filters.until is not None:
        stmt = stmt.where(History.at < as_utc(filters.until))
    if page.after is not None:
        stmt = stmt.where(History.id < page.after.id if page.descending else History.id > page.after.id)
    stmt = stmt.order_by(History.id.desc() if page.descending else History.id.asc())
    stmt = stmt.limit(min(page.limit, MAX_PAGE) + 1)
    return [
        HistoryRow(
            entry.id,
            aware(entry.at) or entry.at,
            entry.object_kind,
            entry.object_namespace,
            entry.object_name,
            entry.object_uid,
            entry.generation,
            entry.zone_name,
            entry.action,
            dict(entry.detail or {}),
            entry.serial,
            author,
        )
        for entry, author in uow.session.execute(stmt)
    ]
