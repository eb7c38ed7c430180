"""What the status of an object is computed from, loaded for many objects at once.

Each loader takes a batch of uids and reads everything their status needs in a few queries of
one unit of work, so every status in a batch comes from one consistent snapshot. The results are
plain values: the status functions that use them (reconcile/status.py) are pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from siteplane.domain.objects import ObjectRef
from siteplane.store.models import Record, RecordSetRow, Site, SiteDomain, Zone
from siteplane.store.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ZoneFacts:
    ref: ObjectRef
    zone_name: str
    generation: int
    is_owner: bool
    refused: bool
    """Inside an older zone of another namespace that does not delegate it."""
    serial: int | None
    record_count: int
    drift_corrections: int
    sync_error: str | None
    sync_error_reason: str | None
    holder: ObjectRef | None = None
    """For a zone that does not own its name: the DNSZone that does."""
    dnssec: Mapping[str, Any] | None = None
    """spec.dnssec while enabled; None: unsigned."""
    dnssec_served: Mapping[str, Any] | None = None
    """DNSSEC as the backend last served it (public data); None: never asked."""


@dataclass(frozen=True)
class SetFacts:
    """One live record set an object owns."""

    applied: bool
    rejected: str | None


@dataclass(frozen=True)
class DomainFacts:
    domain: str
    position: int  # 0: the primary domain, then the aliases in order
    state: str  # placement: Owned, DomainConflict, NotPermitted, Pending
    publish_state: str | None  # what its zone's plan made of it
    zone_name: str | None
    holder: ObjectRef | None = None
    """For a DomainConflict: the Site that owns the domain."""


@dataclass(frozen=True)
class SiteFacts:
    ref: ObjectRef
    generation: int
    suspended: bool
    domains: tuple[DomainFacts, ...]
    zones: tuple[ZoneFacts, ...]  # the zones its domains are placed in
    sets: tuple[SetFacts, ...]


@dataclass(frozen=True)
class RecordFacts:
    ref: ObjectRef
    generation: int
    zone_name: str
    record_name: str
    type: str
    state: str
    zone: ZoneFacts | None  # the zone owning zone_name, if any
    sets: tuple[SetFacts, ...]


def _zone_facts(zone: Zone, holder: ObjectRef | None = None) -> ZoneFacts:
    return ZoneFacts(
        ObjectRef("DNSZone", zone.namespace, zone.name, zone.uid),
        zone.zone_name,
        zone.generation,
        zone.is_owner,
        zone.delegation_refused,
        zone.serial,
        zone.record_count,
        zone.drift_corrections,
        zone.sync_error,
        zone.sync_error_reason,
        holder,
        zone.dnssec,
        zone.dnssec_served,
    )


def _owners(uow: UnitOfWork, zone_names: Iterable[str]) -> dict[str, ZoneFacts]:
    return {z.zone_name: _zone_facts(z) for z in uow.zones.owners_named(zone_names)}


def _sets(uow: UnitOfWork, uids: Iterable[str]) -> dict[str, list[SetFacts]]:
    found: dict[str, list[SetFacts]] = defaultdict(list)
    for row in uow.record_sets.live_of_owners(uids):
        found[row.owner_uid].append(SetFacts(row.applied_serial is not None, row.rejected))
    return found


def load_sites(uow: UnitOfWork, uids: Iterable[str]) -> dict[str, SiteFacts]:
    """Live Sites among ``uids``, with what their status needs."""
    wanted = list(set(uids))
    if not wanted:
        return {}
    stmt = select(Site).where(Site.uid.in_(wanted), Site.deleted_at.is_(None)).options(selectinload(Site.domains))
    sites = list(uow.session.scalars(stmt))
    live = {s.uid: [d for d in s.domains if d.deleted_at is None] for s in sites}
    conflicts = {d.domain for domains in live.values() for d in domains if d.state == "DomainConflict"}
    holders: dict[str, ObjectRef] = {}
    if conflicts:
        rows = uow.session.execute(
            select(SiteDomain.domain, Site.namespace, Site.name, Site.uid)
            .join(Site)
            .where(
                SiteDomain.domain.in_(conflicts),
                SiteDomain.is_owner.is_(True),
                SiteDomain.deleted_at.is_(None),
                Site.deleted_at.is_(None),
            )
        )
        holders = {domain: ObjectRef("Site", ns, name, uid) for domain, ns, name, uid in rows}
    zones = _owners(uow, {d.zone_name for domains in live.values() for d in domains if d.zone_name})
    sets = _sets(uow, live)
    result: dict[str, SiteFacts] = {}
    for site in sites:
        domains = sorted(live[site.uid], key=lambda d: d.position)
        result[site.uid] = SiteFacts(
            ObjectRef("Site", site.namespace, site.name, site.uid),
            site.generation,
            bool(site.suspended),
            tuple(
                DomainFacts(d.domain, d.position, d.state, d.publish_state, d.zone_name, holders.get(d.domain))
                for d in domains
            ),
            tuple(zones[n] for n in sorted({d.zone_name for d in domains if d.zone_name}) if n in zones),
            tuple(sets.get(site.uid, ())),
        )
    return result


def load_records(uow: UnitOfWork, uids: Iterable[str]) -> dict[str, RecordFacts]:
    """Live DNSRecords among ``uids``, with what their status needs."""
    wanted = list(set(uids))
    if not wanted:
        return {}
    records = list(uow.session.scalars(select(Record).where(Record.uid.in_(wanted), Record.deleted_at.is_(None))))
    zones = _owners(uow, {r.zone_name for r in records})
    sets = _sets(uow, (r.uid for r in records))
    return {
        r.uid: RecordFacts(
            ObjectRef("DNSRecord", r.namespace, r.name, r.uid),
            r.generation,
            r.zone_name,
            r.record_name,
            r.type,
            r.state,
            zones.get(r.zone_name),
            tuple(sets.get(r.uid, ())),
        )
        for r in records
    }


def load_zones(uow: UnitOfWork, uids: Iterable[str]) -> dict[str, ZoneFacts]:
    """Live DNSZones among ``uids``; for those that do not own their name, who does."""
    wanted = list(set(uids))
    if not wanted:
        return {}
    zones = list(uow.session.scalars(select(Zone).where(Zone.uid.in_(wanted), Zone.deleted_at.is_(None))))
    owners = _owners(uow, {z.zone_name for z in zones if not z.is_owner})
    return {z.uid: _zone_facts(z, None if z.is_owner else _ref(owners.get(z.zone_name))) for z in zones}


def _ref(facts: ZoneFacts | None) -> ObjectRef | None:
    return facts.ref if facts else None


def zone_counts(uow: UnitOfWork) -> dict[str | None, int]:
    """Zones served per zone backend setting (None: the operator's default)."""
    stmt = (
        select(Zone.backend, func.count())
        .where(Zone.is_owner.is_(True), Zone.deleted_at.is_(None), Zone.delegation_refused.is_(False))
        .group_by(Zone.backend)
    )
    return {backend: int(count) for backend, count in uow.session.execute(stmt)}


def zone_names_of(uow: UnitOfWork, owner_uids: Iterable[str]) -> dict[str, set[str]]:
    """For each of ``owner_uids``: the zones holding its live record sets."""
    found: dict[str, set[str]] = defaultdict(set)
    uids = list(set(owner_uids))
    if uids:
        stmt = (
            select(RecordSetRow.owner_uid, Zone.zone_name)
            .join(Zone, Zone.id == RecordSetRow.zone_id)
            .where(RecordSetRow.owner_uid.in_(uids), RecordSetRow.deleted_at.is_(None))
        )
        for uid, zone_name in uow.session.execute(stmt):
            found[uid].add(zone_name)
    return found
