"""Bringing one zone to its desired state: plan from the database, store the plan, apply, verify.

The database is updated first (the plan: which record sets the zone should serve and who owns
each), then the backend is brought to it in one write, then read back; only record sets the
backend was seen serving are marked applied. A crash anywhere in between leaves a state from which
the next sync converges: the plan is recomputed from the same rows and the backend diffed again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from siteplane.dns.backend import Backend, BackendError, DriftDetected, RecordSetsRefused, SOASettings, ZoneConfig
from siteplane.dns.content import canonical_soa
from siteplane.domain.names import absolute
from siteplane.domain.objects import ObjectRef
from siteplane.domain.records import RecordKey, RecordSet
from siteplane.planning.changes import ChangeSet
from siteplane.planning.placement import OWNED
from siteplane.planning.zone_diff import ZoneBook, ZoneDiff, in_scope, zone_diff
from siteplane.planning.zone_plan import RecordClaim, SiteClaim, ZonePlan, plan_zone
from siteplane.reconcile.backends import BackendResolver, BackendUnavailable
from siteplane.reconcile.views import record_ref, site_ref, zone_ref, zone_view
from siteplane.store.models import RecordSetRow, Site, Zone, utcnow
from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)
EXCLUSIVE = "Exclusive"
MAX_COMMON_SET_SIZE = 100


@dataclass
class SyncResult:
    zone_name: str
    exists: bool = True
    serial: int | None = None
    changes: int = 0
    drift: int = 0  # record sets found changed behind siteplane's back and put back
    error: str | None = None
    retryable: bool = True  # whether trying the same again soon may help
    affected: set[ObjectRef] = field(default_factory=set)  # objects whose publication state changed


@dataclass
class _Desired:
    """A zone's plan as stored, with what a sync needs to apply and account for it."""

    zone_id: int
    config: ZoneConfig
    backend: str | None
    owners: dict[RecordKey, tuple[RecordSet, ObjectRef]]
    zone_ref: ObjectRef
    book: ZoneBook
    withdrawn_owners: dict[RecordKey, ObjectRef]  # who last owned each set still being withdrawn

    @cached_property
    def wanted(self) -> dict[RecordKey, RecordSet]:
        return {key: rs for key, (rs, _) in self.owners.items()}


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
        refused: dict[RecordKey, str] = {}
        try:
            backend = self.backends.for_zone(desired.backend)
            try:
                serial, planned = self._converge(backend, desired, refused)
            except DriftDetected as drift:
                # Someone wrote to the zone between our read and our write; nothing of the failed
                # message was applied. Read again and plan once more against what is there now.
                log.info("zone %s: %s", zone_name, drift)
                serial, planned = self._converge(backend, desired, refused)
        except (BackendError, BackendUnavailable, OSError) as error:
            result.error = str(error)
            result.retryable = getattr(error, "retryable", True)
            result.affected |= self._record_failure(desired, result.error)
            return result
        result.serial, result.changes, result.drift = serial, len(planned.changes), len(planned.drift)
        result.affected |= self._record_applied(desired, serial, planned, refused)
        return result

    def _converge(self, backend: Backend, desired: _Desired, refused: dict[RecordKey, str]) -> tuple[int, ZoneDiff]:
        """One read; when anything differs, one write, whose result the backend read back from the
        server. A quiet zone costs the read alone (one freshness probe). The plan applied, or an exception."""
        zone_name = desired.config.name
        current = backend.read_zone(zone_name)
        if current is None:
            target = {key: rs for key, rs in desired.wanted.items() if key not in desired.book.rejected}
            planned = ZoneDiff(ChangeSet(tuple(target.values())), (), target)
        else:
            planned = zone_diff(current.record_sets, desired.wanted, desired.book)
            if not planned.changes and current.soa == canonical_soa(desired.config.soa):
                return current.serial, planned
        try:
            if current is None:
                served = backend.create_zone(desired.config, planned.target.values())
            else:
                served = backend.apply(desired.config, planned.changes)
        except RecordSetsRefused as error:
            refused.update(error.reasons)
            served = error.served
        book = replace(desired.book, rejected=desired.book.rejected | frozenset(refused))
        target = {key: rs for key, rs in planned.target.items() if key not in refused}
        if unlike := _unlike(in_scope(served.record_sets, desired.wanted, book), target):
            raise BackendError(
                f"zone {zone_name}: the backend does not serve what was written ({unlike})", retryable=True
            )
        return served.serial, planned

    def _store_plan(self, zone_name: str, result: SyncResult) -> _Desired | None:
        with self.store.unit_of_work() as uow:
            zone = uow.zones.owner_of(zone_name)
            if zone is None:
                return None
            plan = plan_from_store(uow, zone)
            self._store_record_sets(uow, zone, plan)
            self._store_outcomes(uow, zone, plan, result)
            # Withdrawn since the last successful sync: not yet known to be gone from the server.
            withdrawing = uow.record_sets.withdrawn_in_zone(zone.id, since=zone.synced_at)
            desired = _Desired(
                zone.id,
                zone_config(zone),
                zone.backend,
                {key: (rs, plan.owners[key]) for key, rs in plan.record_sets.items()},
                zone_ref(zone),
                _book(uow, zone, withdrawing),
                {RecordKey(r.name, r.type): _owner_of(r) for r in withdrawing},
            )
            uow.commit()
            return desired

    @staticmethod
    def _store_record_sets(uow: UnitOfWork, zone: Zone, plan: ZonePlan) -> None:
        rows = {(r.name, r.type): r for r in uow.record_sets.live_in_zone(zone.id)}
        generations = _owner_generations(uow, plan.owners.values())
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

    def _record_failure(self, desired: _Desired, error: str) -> set[ObjectRef]:
        """Store the zone's error; on a change, everyone publishing there has a new status to show."""
        log.warning("zone sync failed: %s", error)
        with self.store.unit_of_work() as uow:
            zone = uow.session.get(Zone, desired.zone_id)
            if zone is None or zone.sync_error == error:
                return set()
            zone.sync_error = error
            uow.commit()
        return {desired.zone_ref, *(owner for _, owner in desired.owners.values())}

    def _record_applied(
        self, desired: _Desired, serial: int, planned: ZoneDiff, refused: Mapping[RecordKey, str]
    ) -> set[ObjectRef]:
        """Mark what the backend serves as applied and what it refused as rejected; returns the
        objects whose status this changed."""
        affected: set[ObjectRef] = set()
        with self.store.unit_of_work() as uow:
            zone = uow.session.get(Zone, desired.zone_id)
            if zone is None:
                return affected
            recovered = zone.sync_error is not None
            for row in uow.record_sets.live_in_zone(desired.zone_id):
                key = RecordKey(row.name, row.type)
                if key in refused:
                    row.rejected = _rejection(key, row, refused[key])
                    affected.add(_owner_of(row))
                elif row.applied_serial is None and row.rejected is None:
                    row.applied_serial = serial
                    affected.add(_owner_of(row))
                elif recovered:
                    affected.add(_owner_of(row))
            served = len(desired.owners) - len(refused) - len(desired.book.rejected)
            now = utcnow()
            if (zone.serial, zone.record_count, zone.sync_error) != (serial, served, None) or planned.drift:
                affected.add(desired.zone_ref)
            zone.serial, zone.record_count, zone.sync_error = serial, served, None
            zone.checked_at = now
            if planned.changes or recovered:
                zone.synced_at = now
            if planned.drift:
                zone.drift_corrections += len(planned.drift)
                _write_drift(uow, zone, serial, planned)
            if planned.changes:
                _write_history(uow, zone, serial, planned.changes, desired)
            uow.commit()
        return affected


def _unlike(served: Mapping[RecordKey, RecordSet], target: Mapping[RecordKey, RecordSet]) -> str:
    """The keys whose served record set is not the target's, for the message; empty when none."""
    keys = sorted(key for key in served.keys() | target.keys() if served.get(key) != target.get(key))
    shown = ", ".join(str(key) for key in keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _owner_of(row: RecordSetRow) -> ObjectRef:
    return ObjectRef(row.owner_kind, row.owner_namespace, row.owner_name, row.owner_uid)


def _rejection(key: RecordKey, row: RecordSetRow, reason: str) -> str:
    size = len(row.rdata)
    hint = (
        f"; it holds {size} records, more than servers commonly accept in one set "
        "(BIND 9.18 refuses over 100 by default: max-records-per-type)"
        if size > MAX_COMMON_SET_SIZE
        else ""
    )
    return f"the DNS server refused {key} ({reason}){hint}"


def _book(uow: UnitOfWork, zone: Zone, withdrawing: Sequence[RecordSetRow]) -> ZoneBook:
    live = uow.record_sets.live_in_zone(zone.id)
    return ZoneBook(
        applied=frozenset(RecordKey(r.name, r.type) for r in live if r.applied_serial is not None),
        withdrawing=frozenset(RecordKey(r.name, r.type) for r in withdrawing)
        - {RecordKey(r.name, r.type) for r in live},
        rejected=frozenset(RecordKey(r.name, r.type) for r in live if r.rejected is not None),
        exclusive=zone.management == EXCLUSIVE,
    )


def _write_drift(uow: UnitOfWork, zone: Zone, serial: int, planned: ZoneDiff) -> None:
    upserted = {rs.key for rs in planned.changes.upserts}
    uow.history.record(
        object_kind="DNSZone",
        object_namespace=zone.namespace,
        object_name=zone.name,
        object_uid=zone.uid,
        generation=zone.generation,
        zone_name=zone.zone_name,
        action="drift-reverted",
        detail={
            "restored": [str(k) for k in planned.drift if k in upserted],
            "removed": [str(k) for k in planned.drift if k not in upserted],
        },
        serial=serial,
    )


def _owner_generations(uow: UnitOfWork, owners: Iterable[ObjectRef]) -> dict[str, int]:
    """uid -> generation of every owner, one query per kind (a zone holds thousands of owners)."""
    uids: dict[str, set[str]] = defaultdict(set)
    for owner in owners:
        uids[owner.kind].add(owner.uid)
    return {
        **uow.sites.generations(uids["Site"]),
        **uow.records.generations(uids["DNSRecord"]),
        **uow.zones.generations(uids["DNSZone"]),
    }


def _write_history(
    uow: UnitOfWork,
    zone: Zone,
    serial: int,
    changes: ChangeSet,
    desired: _Desired,
) -> None:
    """One history entry per object whose records changed: what was published or withdrawn.
    A set deleted that nobody was withdrawing (Exclusive drift) is put down to the zone."""
    per_owner: dict[ObjectRef, dict[str, list[str]]] = defaultdict(lambda: {"published": [], "withdrawn": []})
    for rs in changes.upserts:
        per_owner[desired.owners[rs.key][1]]["published"].append(f"{rs.key} {rs.ttl} {' '.join(rs.rdata)}")
    for key in changes.deletes:
        per_owner[desired.withdrawn_owners.get(key, desired.zone_ref)]["withdrawn"].append(str(key))
    generations = _owner_generations(uow, per_owner)
    for owner, detail in per_owner.items():
        uow.history.record(
            object_kind=owner.kind,
            object_namespace=owner.namespace,
            object_name=owner.name,
            object_uid=owner.uid,
            generation=generations.get(owner.uid),
            zone_name=zone.zone_name,
            action="dns-applied",
            detail={k: v for k, v in detail.items() if v},
            serial=serial,
        )
