"""Bringing one zone name to its desired state, in stages that each take one thing and give one.

    remove    zones of this name that must leave a backend (deleted, refused by their parent,
              moved to another backend) are removed first, and marked so in the database
    load      the zone and every claim on it, from one unit of work          -> PlanInputs
    plan      pure: which record sets the zone serves, and who owns each     -> ZonePlan
    save      the plan into the database (record_sets, objects' outcomes)    -> Desired
    apply     one read of the server; if anything differs, one write, whose
              result the backend reads back from the server                  -> Applied
    record    what the server was seen serving, into the database           -> affected objects

The database holds the plan before the server is touched, and a record set is marked applied
only once the server was seen serving it: a crash anywhere leaves a state from which the next
sync converges. The caller (ZoneWriter) runs one sync of a name at a time.

A drift check of a zone whose database rows have not changed since its last sync (the writer
knows: every change is followed by a request) need not load and plan the zone again: ``probe``
reads the server alone and compares it with a digest of what the last sync saw served. Only a
difference (or no digest: a restart, a new leadership term, a signed zone, one hour passed) makes
it a whole sync. At 2,500 zones that is what keeps an idle operator idle.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from siteplane import metrics
from siteplane.dns.backend import (
    Backend,
    BackendError,
    DnssecSettings,
    DnssecState,
    DriftDetected,
    RecordSetsRefused,
    SigningKey,
    SOASettings,
    ZoneConfig,
    ZoneContent,
    sent_by_this_thread,
)
from siteplane.dns.content import canonical_soa
from siteplane.domain.changes import ChangeSet
from siteplane.domain.names import absolute
from siteplane.domain.objects import ObjectRef
from siteplane.domain.records import RecordKey, RecordSet
from siteplane.errors import BackendUnavailable, SiteplaneError
from siteplane.planning.placement import OWNED, ZoneView
from siteplane.planning.zone_diff import ZoneBook, ZoneDiff, in_scope, zone_diff
from siteplane.planning.zone_plan import RecordClaim, SiteClaim, ZonePlan, plan_zone
from siteplane.reconcile.backends import BackendResolver
from siteplane.reconcile.rows import owner_ref, record_ref, site_ref, zone_ref, zone_view
from siteplane.store.models import Record, RecordSetRow, Site, SiteDomain, Zone, utcnow
from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)
EXCLUSIVE = "Exclusive"
EMBEDDED_LABEL = "embedded"  # the embedded zone-file backend in metrics (its key is "")
MAX_COMMON_SET_SIZE = 100
CHECKED_FLUSH_SECONDS = 1.0  # probes' checked_at times are written together, at most once a second


@dataclass
class SyncResult:
    zone_name: str
    exists: bool = True
    """False when no zone of this name is to be served (after any removal)."""
    serial: int | None = None
    changes: int = 0
    drift: int = 0  # record sets found changed behind siteplane's back and put back
    error: str | None = None
    retryable: bool = True  # whether trying the same again soon may help
    affected: set[ObjectRef] = field(default_factory=set)  # objects whose status this sync moved


@dataclass(frozen=True)
class Removal:
    """A zone row whose zone is on a backend it must leave."""

    zone_id: int
    backend: str | None  # the spec.backend it was served through; None: the operator's default
    ref: ObjectRef


@dataclass(frozen=True)
class PlanInputs:
    zone: ZoneView
    sites: tuple[SiteClaim, ...]
    records: tuple[RecordClaim, ...]


@dataclass
class Desired:
    """A zone's plan as saved, with what applying and accounting for it needs."""

    zone_id: int
    config: ZoneConfig
    backend: str | None
    owners: dict[RecordKey, tuple[RecordSet, ObjectRef]]
    zone_ref: ObjectRef
    book: ZoneBook
    withdrawing: dict[RecordKey, ObjectRef]  # sets being withdrawn, each with its last owner
    withdrawing_ids: tuple[int, ...]  # their rows, confirmed removed once the write succeeds
    uid: str = ""  # the DNSZone's, whose signing keys a zone signed in siteplane uses
    dnssec_seen: bool = False  # the backend was last seen serving the zone signed

    @property
    def dnssec_involved(self) -> bool:
        """Whether the sync must hand the backend the zone's signing even with nothing else to do:
        signing on (signatures are refreshed, keys checked), or on until now (to be taken off)."""
        return self.config.dnssec is not None or self.dnssec_seen

    @property
    def wanted(self) -> dict[RecordKey, RecordSet]:
        return {key: rs for key, (rs, _) in self.owners.items()}


@dataclass(frozen=True)
class Applied:
    serial: int
    diff: ZoneDiff
    refused: Mapping[RecordKey, str]
    created: bool
    dnssec: DnssecState | None = None  # asked of the backend when DNSSEC is involved
    content: ZoneContent | None = None  # what the server was seen serving at the end


@dataclass(frozen=True)
class ServedDigest:
    """What a zone's last whole sync saw its server serve, for the drift probes that follow."""

    zone_id: int
    backend: str | None
    digest: bytes
    epoch: int  # the leadership term it was seen in
    seen_at: float  # time.monotonic()


def content_digest(content: ZoneContent) -> bytes:
    """A digest of everything a zone serves (serial, SOA, every record set), order-independent."""
    sets = sorted((rs.name, rs.type, rs.ttl, rs.rdata) for rs in content.record_sets.values())
    return hashlib.blake2b(repr((content.serial, content.soa, sets)).encode(), digest_size=16).digest()


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
        dnssec=DnssecSettings(denial=zone.dnssec.get("denial", "NSEC3")) if zone.dnssec else None,
    )


def _serving(zone: Zone | None) -> Zone | None:
    return zone if zone is not None and not zone.delegation_refused else None


class ZoneSynchronizer:
    """Synchronises one zone name at a time; the caller (ZoneWriter) ensures one writer per name."""

    def __init__(
        self,
        store: Store,
        backends: BackendResolver,
        signing_keys: Callable[[str, str], tuple[SigningKey, ...] | None] = lambda zone_name, uid: None,
        probe_for_seconds: float = 3600.0,
        epoch: Callable[[], int] = lambda: 0,
    ) -> None:
        self.store = store
        self.backends = backends
        self.signing_keys = signing_keys
        # A digest stands in for a whole sync this long at most: a backstop against a change that
        # reached the database without a request, and what makes every zone whole-synced hourly.
        self.probe_for_seconds = probe_for_seconds
        # Digests from an earlier leadership term are not trusted: another replica led meanwhile.
        self.epoch = epoch
        self._served: dict[str, ServedDigest] = {}
        self._checked: list[int] = []  # zone ids probed since checked_at was last written
        self._checked_lock = threading.Lock()
        self._checked_written = 0.0

    def probe(self, zone_name: str) -> SyncResult | None:
        """A drift check of a zone whose rows did not change since its last sync: a quiet result
        when the server serves what that sync saw, None when a whole sync must decide."""
        seen = self._served.get(zone_name)
        if seen is None or seen.epoch != self.epoch() or time.monotonic() - seen.seen_at > self.probe_for_seconds:
            return None
        try:
            content = self.backends.for_zone(seen.backend).read_zone(zone_name)
        except (SiteplaneError, OSError):
            return None  # the whole sync meets the same trouble and reports it
        if content is None or content_digest(content) != seen.digest:
            return None
        self._note_checked(seen.zone_id)
        return SyncResult(zone_name, serial=content.serial)

    def _note_checked(self, zone_id: int) -> None:
        """checked_at for probed zones, written in one statement for all probed within a second."""
        with self._checked_lock:
            self._checked.append(zone_id)
            now = time.monotonic()
            if now - self._checked_written < CHECKED_FLUSH_SECONDS:
                return
            ids, self._checked, self._checked_written = self._checked, [], now
        with self.store.unit_of_work() as uow:
            uow.zones.mark_checked(ids, utcnow())
            uow.commit()

    def sync(self, zone_name: str) -> SyncResult:
        self._served.pop(zone_name, None)  # set again only if this sync succeeds
        result = SyncResult(zone_name)
        for removal in self._removals(zone_name):
            try:
                self.backends.for_zone(removal.backend).remove_zone(zone_name)
            except SiteplaneError as error:
                # Nothing else happens to the name until it has left that backend: creating it for
                # a new owner first would have the removal take the new owner's zone away.
                result.error, result.retryable = f"removing the zone from its backend failed: {error}", error.retryable
                result.affected.add(removal.ref)
                return result
            except OSError as error:
                result.error = f"removing the zone from its backend failed: {type(error).__name__}: {error}"
                result.affected.add(removal.ref)
                return result
            result.affected |= self._record_removed(removal)
        desired = self._save(zone_name, result)
        if desired is None:
            result.exists = False
            return result
        backend, started, sent = (
            self.backends.name_for(desired.backend) or EMBEDDED_LABEL,
            time.monotonic(),
            sent_by_this_thread(),
        )
        try:
            applied = self._apply(desired)
        except (SiteplaneError, OSError) as error:
            result.error = str(error) if isinstance(error, SiteplaneError) else f"{type(error).__name__}: {error}"
            result.retryable = error.retryable if isinstance(error, SiteplaneError) else True
            reason = BackendUnavailable.reason if isinstance(error, BackendUnavailable) else BackendError.reason
            metrics.zone_synced(
                backend,
                ok=False,
                backend_failed=isinstance(error, BackendError | BackendUnavailable | OSError),
                writes=sent_by_this_thread() - sent,
                seconds=time.monotonic() - started,
                refused=0,
                drift=0,
            )
            result.affected |= self._record_failure(desired, result.error, reason)
            return result
        result.serial, result.changes, result.drift = applied.serial, len(applied.diff.changes), len(applied.diff.drift)
        metrics.zone_synced(
            backend,
            ok=True,
            backend_failed=False,
            writes=sent_by_this_thread() - sent,
            seconds=time.monotonic() - started,
            refused=len(applied.refused),
            drift=result.drift,
        )
        result.affected |= self._record_applied(desired, applied)
        if applied.content is not None and not applied.refused and not desired.dnssec_involved:
            # A signed zone is never only probed: its signatures are refreshed by whole syncs.
            self._served[zone_name] = ServedDigest(
                desired.zone_id, desired.backend, content_digest(applied.content), self.epoch(), time.monotonic()
            )
        return result

    # -- remove ---------------------------------------------------------------------------------

    def _removals(self, zone_name: str) -> list[Removal]:
        with self.store.unit_of_work() as uow:
            return [
                Removal(zone.id, zone.served_backend, zone_ref(zone))
                for zone in uow.zones.served_named(zone_name)
                # Kept: the name's live owner, not refused, on the backend it is served from (the
                # row tells; the unique index on live owners makes it *the* owner).
                if not (
                    zone.is_owner
                    and zone.deleted_at is None
                    and not zone.delegation_refused
                    and self.backends.name_for(zone.served_backend) == self.backends.name_for(zone.backend)
                )
            ]

    def _record_removed(self, removal: Removal) -> set[ObjectRef]:
        with self.store.unit_of_work() as uow:
            zone = uow.zones.by_id(removal.zone_id)
            if zone is None:
                return set()
            zone.served, zone.served_backend = False, None
            # Its withdrawn sets left with the zone; a live zone keeps none of its old rows.
            for row in uow.record_sets.withdrawing_in_zone(zone.id):
                row.withdrawn_serial = 0
            if zone.deleted_at is None:
                zone.serial, zone.record_count = None, 0
            uow.commit()
        log.info("zone %s removed from its backend", zone.zone_name)
        return {removal.ref}

    # -- load, plan, save -------------------------------------------------------------------------

    def _save(self, zone_name: str, result: SyncResult) -> Desired | None:
        with self.store.unit_of_work() as uow:
            zone = _serving(uow.zones.owner_of(zone_name))
            if zone is None:
                return None
            rows = load_zone_rows(uow, zone)
            inputs = plan_inputs(zone, rows)
            plan = plan_zone(inputs.zone, inputs.sites, inputs.records)
            live = _save_record_sets(uow, zone, plan, rows.record_sets)
            result.affected |= _save_outcomes(plan, rows)
            withdrawing = uow.record_sets.withdrawing_in_zone(zone.id)
            desired = Desired(
                zone.id,
                zone_config(zone),
                zone.backend,
                {key: (rs, plan.owners[key]) for key, rs in plan.record_sets.items()},
                zone_ref(zone),
                _book(zone, live, withdrawing),
                {RecordKey(r.name, r.type): owner_ref(r) for r in withdrawing},
                tuple(r.id for r in withdrawing),
                zone.uid,
                bool(zone.dnssec_served and zone.dnssec_served.get("signed")),
            )
            uow.commit()
            return desired

    # -- apply ------------------------------------------------------------------------------------

    def _apply(self, desired: Desired) -> Applied:
        backend = self.backends.for_zone(desired.backend)
        settings = desired.config.dnssec
        if settings is not None and self.backends.signs_itself(desired.backend):
            keys = self.signing_keys(desired.config.name, desired.uid)
            if not keys:
                # The zone's reconcile makes the key (or loads it) before the zone is stored; a sync
                # reads it from its Secret when it is not in memory, but never makes one.
                raise BackendUnavailable("spec.dnssec: the zone's signing key is not loaded yet", retryable=True)
            desired.config = replace(desired.config, dnssec=replace(settings, signing_keys=keys))
        try:
            applied = self._converge(backend, desired)
        except DriftDetected as drift:
            # Someone wrote to the zone between our read and our write; nothing of the failed
            # message was applied. Read again and plan once more against what is there now.
            log.info("zone %s: %s", desired.config.name, drift)
            applied = self._converge(backend, desired)
        if desired.dnssec_involved:
            applied = replace(applied, dnssec=backend.dnssec_state(desired.config.name))
        return applied

    @staticmethod
    def _converge(backend: Backend, desired: Desired) -> Applied:
        """One read; when anything differs, one write, whose result the backend read back from the
        server. A quiet zone costs the read alone: one freshness probe."""
        zone_name = desired.config.name
        current = backend.read_zone(zone_name)
        if current is None:
            target = {key: rs for key, rs in desired.wanted.items() if key not in desired.book.rejected}
            planned = ZoneDiff(ChangeSet(tuple(target.values())), (), target)
        else:
            planned = zone_diff(current.record_sets, desired.wanted, desired.book)
            quiet = not planned.changes and current.soa == canonical_soa(desired.config.soa)
            if quiet and not desired.dnssec_involved:
                return Applied(current.serial, planned, {}, created=False, content=current)
        refused: dict[RecordKey, str] = {}
        served: ZoneContent
        try:
            if current is None:
                served = backend.create_zone(desired.config, planned.target.values())
            else:
                served = backend.apply(desired.config, planned.changes)
        except RecordSetsRefused as error:
            refused, served = dict(error.reasons), error.served
        book = replace(desired.book, rejected=desired.book.rejected | frozenset(refused))
        target = {key: rs for key, rs in planned.target.items() if key not in refused}
        if unlike := _unlike(in_scope(served.record_sets, desired.wanted, book), target):
            raise BackendError(f"zone {zone_name}: the server does not serve what was written ({unlike})")
        return Applied(served.serial, planned, refused, created=current is None, content=served)

    # -- record -----------------------------------------------------------------------------------

    def _record_failure(self, desired: Desired, error: str, reason: str) -> set[ObjectRef]:
        """Store the zone's error; on a change, everyone publishing there has a new status to show."""
        log.warning("zone sync failed: %s", error)
        with self.store.unit_of_work() as uow:
            zone = uow.zones.by_id(desired.zone_id)
            if zone is None or (zone.sync_error, zone.sync_error_reason) == (error, reason):
                return set()
            zone.sync_error, zone.sync_error_reason = error, reason
            uow.commit()
        return {desired.zone_ref, *(owner for _, owner in desired.owners.values())}

    def _record_applied(self, desired: Desired, applied: Applied) -> set[ObjectRef]:
        """Mark what the server serves as applied and what it refused as rejected; returns the
        objects whose status this changed."""
        affected: set[ObjectRef] = set()
        with self.store.unit_of_work() as uow:
            zone = uow.zones.by_id(desired.zone_id)
            if zone is None:
                return affected
            recovered = zone.sync_error is not None
            # Only a recovery or a refusal can move a row already applied; otherwise only the rows
            # not yet applied need a look (a quiet sync of a large zone loads none).
            rows = (
                uow.record_sets.live_in_zone(desired.zone_id)
                if recovered or applied.refused
                else uow.record_sets.unapplied_in_zone(desired.zone_id)
            )
            for row in rows:
                key = RecordKey(row.name, row.type)
                if key in applied.refused:
                    row.rejected = _rejection(key, row, applied.refused[key])
                    affected.add(owner_ref(row))
                elif row.applied_serial is None and row.rejected is None:
                    row.applied_serial = applied.serial
                    affected.add(owner_ref(row))
                elif recovered:
                    affected.add(owner_ref(row))
            for row in uow.record_sets.withdrawing_in_zone(desired.zone_id) if desired.withdrawing_ids else ():
                if row.id in desired.withdrawing_ids:
                    row.withdrawn_serial = applied.serial
            served = len(desired.owners) - len(applied.refused) - len(desired.book.rejected)
            now = utcnow()
            before = (zone.serial, zone.record_count, zone.sync_error)
            if before != (applied.serial, served, None) or applied.diff.drift:
                affected.add(desired.zone_ref)
            zone.serial, zone.record_count = applied.serial, served
            zone.sync_error = zone.sync_error_reason = None
            zone.served, zone.served_backend = True, zone.backend
            zone.checked_at = now
            if applied.diff.changes or recovered:
                zone.synced_at = now
            if applied.diff.drift:
                zone.drift_corrections += len(applied.diff.drift)
                _write_drift(uow, zone, applied.serial, applied.diff)
            if applied.diff.changes:
                _write_history(uow, zone, applied.serial, applied.diff.changes, desired)
            if applied.dnssec is not None and zone.dnssec_served != (served_dnssec := _dnssec_row(applied.dnssec)):
                zone.dnssec_served = served_dnssec
                affected.add(desired.zone_ref)
            uow.commit()
        return affected


def _dnssec_row(state: DnssecState) -> dict[str, object]:
    """What the database keeps of a zone's DNSSEC as served: public data only."""
    return {
        "signed": state.signed,
        "ds": list(state.ds),
        "dnskeys": list(state.dnskeys),
        "expires": state.signatures_expire,
        "problem": state.problem,
    }


def _publishing(site: Site) -> bool:
    """A Site publishes only when it is not suspended and owns every one of its domains."""
    live = [d for d in site.domains if d.deleted_at is None]
    return not site.suspended and bool(live) and all(d.state == OWNED for d in live)


@dataclass(frozen=True)
class ZoneRows:
    """A zone's rows, read once per sync: the planner's inputs come from them and the plan's
    results go back onto them (a zone of thousands of names is not read three times)."""

    record_sets: list[RecordSetRow]  # live record sets, each with its owner
    records: list[Record]  # live DNSRecords naming the zone
    site_domains: list[SiteDomain]  # live domains owned in the zone, each with its Site


def load_zone_rows(uow: UnitOfWork, zone: Zone) -> ZoneRows:
    return ZoneRows(
        uow.record_sets.live_in_zone(zone.id),
        uow.records.live_in_zone(zone.zone_name),
        uow.sites.owned_in_zone(zone.zone_name),
    )


def plan_inputs(zone: Zone, rows: ZoneRows) -> PlanInputs:
    """The zone and every claim on it, as the planner's values."""
    # Who holds a record set now: in a tie of creation seconds, the holder keeps it.
    holders = {row.owner_uid for row in rows.record_sets}
    sites: dict[int, SiteClaim] = {}
    for row in rows.site_domains:
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
            incumbent=site.uid in holders,
        )
    records = tuple(
        RecordClaim(
            record_ref(r),
            r.created,
            name=r.record_name,
            type=r.type,
            ttl=r.ttl,
            rdata=tuple(r.rdata),
            incumbent=r.uid in holders,
        )
        for r in rows.records
    )
    return PlanInputs(zone_view(zone), tuple(sites.values()), records)


def _save_record_sets(uow: UnitOfWork, zone: Zone, plan: ZonePlan, current: list[RecordSetRow]) -> list[RecordSetRow]:
    """Bring the zone's live record set rows from ``current`` to the plan; returns them as they are now."""
    rows = {(r.name, r.type): r for r in current}
    live: list[RecordSetRow] = []
    generations: dict[str, int] | None = None  # read only when a row is written: most syncs write none
    for key, rs in plan.record_sets.items():
        owner = plan.owners[key]
        row = rows.pop((key.name, key.type), None)
        if row is not None and (row.ttl, list(row.rdata), row.owner_uid) == (rs.ttl, list(rs.rdata), owner.uid):
            live.append(row)
            continue
        if row is not None:
            uow.record_sets.withdraw([row])
            uow.flush()
        if generations is None:
            generations = _owner_generations(uow, plan.owners.values())
        added = RecordSetRow(
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
        uow.record_sets.add(added)
        live.append(added)
    uow.record_sets.withdraw(list(rows.values()))
    uow.flush()
    return live


def _save_outcomes(plan: ZonePlan, rows: ZoneRows) -> set[ObjectRef]:
    """Each claim's outcome in this zone (Published, NameConflict, ...) onto its row."""
    changed: set[ObjectRef] = set()
    for record in rows.records:
        outcome = plan.outcomes.get(record_ref(record))
        state = outcome.state if outcome else "Pending"
        if record.state != state:
            record.state = state
            changed.add(record_ref(record))
    for row in rows.site_domains:
        outcome = plan.outcomes.get(site_ref(row.site))
        publish_state = outcome.state if outcome else None
        if row.publish_state != publish_state:
            row.publish_state = publish_state
            changed.add(site_ref(row.site))
    return changed


def _unlike(served: Mapping[RecordKey, RecordSet], target: Mapping[RecordKey, RecordSet]) -> str:
    """The keys whose served record set is not the target's, for the message; empty when none."""
    keys = sorted(key for key in served.keys() | target.keys() if served.get(key) != target.get(key))
    shown = ", ".join(str(key) for key in keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _rejection(key: RecordKey, row: RecordSetRow, reason: str) -> str:
    size = len(row.rdata)
    hint = (
        f"; it holds {size} records, more than servers commonly accept in one set "
        "(BIND 9.18 refuses over 100 by default: max-records-per-type)"
        if size > MAX_COMMON_SET_SIZE
        else ""
    )
    return f"the DNS server refused {key} ({reason}){hint}"


def _book(zone: Zone, live: list[RecordSetRow], withdrawing: Iterable[RecordSetRow]) -> ZoneBook:
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


def _write_history(uow: UnitOfWork, zone: Zone, serial: int, changes: ChangeSet, desired: Desired) -> None:
    """One history entry per object whose records changed: what was published or withdrawn.
    A set deleted that nobody was withdrawing (Exclusive drift) is put down to the zone."""
    per_owner: dict[ObjectRef, dict[str, list[str]]] = defaultdict(lambda: {"published": [], "withdrawn": []})
    for rs in changes.upserts:
        per_owner[desired.owners[rs.key][1]]["published"].append(f"{rs.key} {rs.ttl} {' '.join(rs.rdata)}")
    for key in changes.deletes:
        per_owner[desired.withdrawing.get(key, desired.zone_ref)]["withdrawn"].append(str(key))
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
