"""Bringing one zone to its desired state: plan from the database, store the plan, apply, verify.

The database is updated first (the plan: which record sets the zone should serve and who owns
each), then the backend is brought to it in one write, then read back; only record sets the
backend was seen serving are marked applied. A crash anywhere in between leaves a state from which
the next sync converges: the plan is recomputed from the same rows and the backend diffed again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from siteplane.dns.backend import BackendError, SOASettings, ZoneConfig
from siteplane.domain.names import absolute
from siteplane.domain.objects import ObjectRef
from siteplane.domain.records import RecordKey, RecordSet
from siteplane.planning.changes import ChangeSet, diff
from siteplane.planning.placement import OWNED
from siteplane.planning.zone_plan import RecordClaim, SiteClaim, ZonePlan, plan_zone
from siteplane.reconcile.backends import BackendResolver, BackendUnavailable
from siteplane.reconcile.views import record_ref, site_ref, zone_ref, zone_view
from siteplane.store.models import RecordSetRow, Site, Zone, utcnow
from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    zone_name: str
    exists: bool = True
    serial: int | None = None
    changes: int = 0
    error: str | None = None
    affected: set[ObjectRef] = field(default_factory=set)  # objects whose publication state changed


def zone_config(zone: Zone) -> ZoneConfig:
    soa = zone.soa or {}
    mname = soa.get("primaryNameServer") or zone.name_servers[0]
    rname = soa.get("responsibleMailbox") or f"hostmaster.{zone.zone_name}"
    return ZoneConfig(
        name=zone.zone_name,
        soa=SOASettings(
            mname=absolute(mname),
            rname=absolute(rname),
            refresh=soa.get("refresh") or 3600,
            retry=soa.get("retry") or 600,
            expire=soa.get("expire") or 1209600,
            minimum=soa.get("negativeTTL") or 300,
            ttl=zone.default_ttl,
        ),
    )


def _publishing(site: Site) -> bool:
    """A Site publishes only when it is not suspended and owns every one of its domains."""
    live = [d for d in site.domains if d.deleted_at is None]
    return not site.suspended and bool(live) and all(d.state == OWNED for d in live)


def plan_from_store(uow: UnitOfWork, zone: Zone) -> ZonePlan:
    sites: dict[int, SiteClaim] = {}
    for row in uow.sites.owned_in_zone(zone.zone_name):
        site = row.site
        if not _publishing(site):
            continue
        previous = sites.get(site.id)
        domains = (previous.domains if previous else ()) + (row.domain,)
        sites[site.id] = SiteClaim(
            site_ref(site),
            site.created,
            domains=domains,
            ttl=site.ttl,
            ipv4=tuple(site.ipv4 or ()),
            ipv6=tuple(site.ipv6 or ()),
            cname=site.cname,
        )
    records = [
        RecordClaim(record_ref(r), r.created, name=r.record_name, type=r.type, ttl=r.ttl, rdata=tuple(r.rdata))
        for r in uow.records.live_in_zone(zone.zone_name)
    ]
    return plan_zone(zone_view(zone), list(sites.values()), records)


class ZoneSynchronizer:
    """Synchronises one zone at a time; the caller (ZoneWriter) ensures one writer per zone."""

    def __init__(self, store: Store, backends: BackendResolver) -> None:
        self.store = store
        self.backends = backends

    def sync(self, zone_name: str) -> SyncResult:
        result = SyncResult(zone_name)
        desired = self._store_plan(zone_name, result)
        if desired is None:
            result.exists = False
            return result
        zone_id, config, backend_name, owners, desired_zone_ref = desired
        try:
            backend = self.backends.for_zone(backend_name)
            current = backend.read_zone(zone_name)
            wanted = {key: rs for key, (rs, _) in owners.items()}
            if current is None:
                changes = ChangeSet(tuple(wanted.values()))
                serial = backend.create_zone(config, wanted.values())
            else:
                changes = diff(current.record_sets, wanted)
                serial = backend.apply(config, changes)
            served = backend.read_zone(zone_name)
            if served is None or dict(served.record_sets) != wanted:
                raise BackendError(f"zone {zone_name}: the backend does not serve what was written", retryable=True)
        except (BackendError, BackendUnavailable, OSError) as error:
            result.error = str(error)
            self._record_failure(zone_id, result.error)
            return result
        result.serial, result.changes = serial, len(changes)
        if self._record_applied(zone_id, serial, changes, owners):
            result.affected.add(desired_zone_ref)
        return result

    def _store_plan(
        self, zone_name: str, result: SyncResult
    ) -> tuple[int, ZoneConfig, str | None, dict[RecordKey, tuple[RecordSet, ObjectRef]], ObjectRef] | None:
        with self.store.unit_of_work() as uow:
            zone = uow.zones.owner_of(zone_name)
            if zone is None:
                return None
            plan = plan_from_store(uow, zone)
            self._store_record_sets(uow, zone, plan)
            self._store_outcomes(uow, zone, plan, result)
            owners = {key: (rs, plan.owners[key]) for key, rs in plan.record_sets.items()}
            config, backend = zone_config(zone), zone.backend
            uow.commit()
            return zone.id, config, backend, owners, zone_ref(zone)

    @staticmethod
    def _store_record_sets(uow: UnitOfWork, zone: Zone, plan: ZonePlan) -> None:
        rows = {(r.name, r.type): r for r in uow.record_sets.live_in_zone(zone.id)}
        generations = _owner_generations(uow, plan)
        for key, rs in plan.record_sets.items():
            owner = plan.owners[key]
            row = rows.pop((key.name, key.type), None)
            if row is not None and (row.ttl, list(row.rdata), row.owner_uid) == (rs.ttl, list(rs.rdata), owner.uid):
                continue
            if row is not None:
                uow.record_sets.withdraw([row])
                uow.flush()
            uow.record_sets.add(
                RecordSetRow(
                    zone_id=zone.id,
                    name=rs.name,
                    type=rs.type,
                    ttl=rs.ttl,
                    rdata=list(rs.rdata),
                    owner_kind=owner.kind,
                    owner_namespace=owner.namespace,
                    owner_name=owner.name,
                    owner_uid=owner.uid,
                    owner_generation=generations.get(owner.uid, 0),
                )
            )
        uow.record_sets.withdraw(list(rows.values()))
        uow.flush()

    @staticmethod
    def _store_outcomes(uow: UnitOfWork, zone: Zone, plan: ZonePlan, result: SyncResult) -> None:
        for record in uow.records.live_in_zone(zone.zone_name):
            outcome = plan.outcomes.get(record_ref(record))
            state = outcome.state if outcome else "Pending"
            if record.state != state:
                record.state = state
                result.affected.add(record_ref(record))
        for row in uow.sites.owned_in_zone(zone.zone_name):
            outcome = plan.outcomes.get(site_ref(row.site))
            publish_state = outcome.state if outcome else None
            if row.publish_state != publish_state:
                row.publish_state = publish_state
                result.affected.add(site_ref(row.site))

    def _record_failure(self, zone_id: int, error: str) -> None:
        log.warning("zone sync failed: %s", error)
        with self.store.unit_of_work() as uow:
            zone = uow.session.get(Zone, zone_id)
            if zone is not None and zone.sync_error != error:
                zone.sync_error = error
                uow.commit()

    def _record_applied(
        self, zone_id: int, serial: int, changes: ChangeSet, owners: dict[RecordKey, tuple[RecordSet, ObjectRef]]
    ) -> bool:
        """Mark what the backend serves as applied; True when the zone's own status changed."""
        with self.store.unit_of_work() as uow:
            zone = uow.session.get(Zone, zone_id)
            if zone is None:
                return False
            for row in uow.record_sets.live_in_zone(zone_id):
                if row.applied_serial is None:
                    row.applied_serial = serial
            touched = (zone.serial, zone.record_count, zone.sync_error) != (serial, len(owners), None)
            zone.serial, zone.record_count, zone.sync_error = serial, len(owners), None
            if touched or changes:
                zone.synced_at = utcnow()
            if changes:
                _write_history(uow, zone, serial, changes, owners)
            uow.commit()
            return touched


def _owner_generations(uow: UnitOfWork, plan: ZonePlan) -> dict[str, int]:
    generations: dict[str, int] = {}
    for owner in set(plan.owners.values()):
        row: Zone | Site | object | None
        if owner.kind == "Site":
            row = uow.sites.by_uid(owner.uid)
        elif owner.kind == "DNSRecord":
            row = uow.records.by_uid(owner.uid)
        else:
            row = uow.zones.by_uid(owner.uid)
        generations[owner.uid] = int(getattr(row, "generation", 0) or 0)
    return generations


def _write_history(
    uow: UnitOfWork,
    zone: Zone,
    serial: int,
    changes: ChangeSet,
    owners: dict[RecordKey, tuple[RecordSet, ObjectRef]],
) -> None:
    """One history entry per object whose records changed: what was published or withdrawn."""
    per_owner: dict[ObjectRef, dict[str, list[str]]] = defaultdict(lambda: {"published": [], "withdrawn": []})
    previous = {(r.name, r.type): r for r in uow.record_sets.withdrawn_in_zone(zone.id)}
    for rs in changes.upserts:
        per_owner[owners[rs.key][1]]["published"].append(f"{rs.key} {rs.ttl} {' '.join(rs.rdata)}")
    for key in changes.deletes:
        row = previous.get((key.name, key.type))
        owner = ObjectRef(row.owner_kind, row.owner_namespace, row.owner_name, row.owner_uid) if row else zone_ref(zone)
        per_owner[owner]["withdrawn"].append(str(key))
    for owner, detail in per_owner.items():
        generation = None
        if owner.kind == "Site" and (site := uow.sites.by_uid(owner.uid)) is not None:
            generation = site.generation
        elif owner.kind == "DNSRecord" and (record := uow.records.by_uid(owner.uid)) is not None:
            generation = record.generation
        elif owner.kind == "DNSZone":
            generation = zone.generation
        uow.history.record(
            object_kind=owner.kind,
            object_namespace=owner.namespace,
            object_name=owner.name,
            object_uid=owner.uid,
            generation=generation,
            zone_name=zone.zone_name,
            action="dns-applied",
            detail={k: v for k, v in detail.items() if v},
            serial=serial,
        )
