"""DNSZones: claim the name, settle who may serve below it, place the domains it now holds.

reconcile:  parse -> backend known? -> store desired state: the zone row, the name's owner,
            the consent of zones around it, the domains below it (one transaction) -> Effects
finalize:   under the zone's writer, in one transaction: refused while permitted objects still
            publish in it, else marked deleted (its name passes to the next claimant) -> its
            next sync removes it from its backend before anything else happens to the name
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from siteplane.api.conditions import ConditionChange
from siteplane.api.dnszone import DNSZoneSpec
from siteplane.domain.objects import ObjectRef
from siteplane.errors import BackendError, BackendUnavailable, InvalidSpec, SecretUnavailable
from siteplane.reconcile.backends import EMBEDDED, BackendResolver
from siteplane.reconcile.effects import Effects
from siteplane.reconcile.observed import Observed
from siteplane.reconcile.outcome import Outcome, parse, transaction
from siteplane.reconcile.placement import PlacementLock, claim_zone_name, resettle_below, settle_delegations
from siteplane.reconcile.rows import owner_ref, zone_ref, zone_view
from siteplane.reconcile.signing_keys import SigningKeys, secret_name
from siteplane.reconcile.status import READY, StatusReport, problem
from siteplane.reconcile.zone_writer import ZoneWriter, backoff
from siteplane.store.models import Zone, utcnow
from siteplane.store.unit_of_work import Store, UnitOfWork

DEFAULT_TTL = 3600
DELETION_BLOCKED = "DeletionBlocked"


def _columns(obj: Observed, spec: DNSZoneSpec) -> dict[str, object]:
    return {
        "namespace": obj.ref.namespace,
        "name": obj.ref.name,
        "created": obj.created,
        "generation": obj.generation,
        "zone_name": spec.zone_name,
        "backend": spec.backend,
        "default_ttl": spec.default_ttl or DEFAULT_TTL,
        "soa": spec.soa.model_dump(by_alias=True, exclude_none=True) if spec.soa else {},
        "name_servers": list(spec.name_servers),
        "publishers": [p.model_dump(by_alias=True, exclude_none=True) for p in spec.publishers or []],
        "delegations": [d.model_dump(by_alias=True, exclude_none=True) for d in spec.delegations or []],
        "deletion_policy": spec.deletion_policy or "Delete",
        "management": spec.management or "Shared",
        "dnssec": {"denial": spec.dnssec.denial or "NSEC3"} if spec.dnssec and spec.dnssec.enabled else None,
    }


@dataclass(frozen=True)
class Holders:
    """What keeps a zone from going: objects it lets publish there that are not being deleted."""

    own: int  # in the zone's own namespace
    others: bool  # in namespaces its spec.publishers lets publish

    def message(self) -> str:
        """Counts only what the zone's namespace may see: its own objects."""
        who = []
        if self.own:
            who.append(f"{self.own} object(s) in this namespace")
        if self.others:
            who.append("objects of namespaces that spec.publishers lets publish here")
        return (
            f"{' and '.join(who)} still publish in this zone; it is removed once they are deleted or "
            "moved, or no longer let publish here"
        )


def zone_holders(uow: UnitOfWork, zone: Zone, deleting: set[str]) -> Holders:
    """The objects holding ``zone``: Sites placed in it and DNSRecords it lets publish, leaving out
    those whose uid is in ``deleting``. A record the zone refuses holds nothing."""
    view = zone_view(zone)
    sites = {(row.site.namespace, row.site.uid) for row in uow.sites.owned_in_zone(zone.zone_name)}
    records = {
        (record.namespace, record.uid)
        for record in uow.records.live_in_zone(zone.zone_name)
        if view.permits(record.namespace, record.record_name)
    }
    holding = [(namespace, uid) for namespace, uid in sites | records if uid not in deleting]
    return Holders(
        own=sum(1 for namespace, _ in holding if namespace == zone.namespace),
        others=any(namespace != zone.namespace for namespace, _ in holding),
    )


def store_zone(uow: UnitOfWork, obj: Observed, spec: DNSZoneSpec, backend_of: BackendOf) -> Effects:
    zone = uow.zones.by_uid(obj.ref.uid)
    if zone is None:
        zone = Zone(uid=obj.ref.uid, is_owner=False)
        uow.zones.add(zone)
    backend_before = zone.backend if zone.id is not None else None
    known_before = zone.id is not None
    changed = zone.deleted_at is not None
    zone.deleted_at = None
    for key, value in _columns(obj, spec).items():
        if getattr(zone, key) != value:
            setattr(zone, key, value)
            changed = True
    uow.flush()
    effects = claim_zone_name(uow, spec.zone_name)
    effects.add(settle_delegations(uow, spec.zone_name))
    if zone.is_owner and changed:
        effects.add(resettle_below(uow, spec.zone_name))
    if zone.is_owner and (changed or zone.serial is None or zone.sync_error):
        effects.zones.add(spec.zone_name)
    if changed:
        # The backends' zoneCount: the default backend counts too, and a move counts twice.
        settings = {spec.backend, backend_before} if known_before else {spec.backend}
        effects.affected |= {ref for setting in settings if (ref := backend_of(setting)) is not None}
        uow.history.record_object("DNSZone", zone, "stored", zone.zone_name, {"owner": zone.is_owner})
    effects.affected.discard(zone_ref(zone))
    return effects


BackendOf = Callable[[str | None], ObjectRef | None]
"""The DNSBackend object serving zones that name a backend (None: the default), if there is one."""


@dataclass(frozen=True)
class Deletion:
    effects: Effects
    blocked: Holders | None = None


def delete_zone(uow: UnitOfWork, uid: str, deleting: set[str] | None, backend_of: BackendOf) -> Deletion:
    """Mark the zone deleted, unless objects it lets publish still do (not asked when ``deleting``
    is None: the DNSZone is gone already). Its name passes to the next
    claimant, domains below it fall back to whichever zone encloses them now; the zone stays
    ``served`` until its next sync has removed it from its backend (deletionPolicy Orphan: it is
    left there, and forgotten)."""
    zone = uow.zones.by_uid(uid)
    if zone is None or zone.deleted_at is not None:
        return Deletion(Effects())
    if deleting is not None and zone.is_owner and not zone.delegation_refused:
        holders = zone_holders(uow, zone, deleting)
        if holders.own or holders.others:
            return Deletion(Effects(), holders)
    effects = Effects(zones={zone.zone_name})
    was_owner = zone.is_owner
    zone.deleted_at, zone.is_owner = utcnow(), False
    if zone.deletion_policy == "Orphan":
        zone.served, zone.served_backend = False, None
    if (backend := backend_of(zone.backend)) is not None:
        effects.affected.add(backend)
    rows = uow.record_sets.live_in_zone(zone.id)
    effects.affected |= {owner_ref(r) for r in rows if r.owner_uid != zone.uid}
    uow.record_sets.withdraw(rows)
    uow.history.record_object(
        "DNSZone", zone, "deleted", zone.zone_name, {"deletionPolicy": zone.deletion_policy}, zone.serial
    )
    uow.flush()
    if was_owner:
        # The next DNSZone claiming the name (if any) takes over without anyone touching it, zones
        # below may need nobody's consent now, and domains below fall back to whichever zone
        # encloses them.
        effects.add(claim_zone_name(uow, zone.zone_name))
        effects.add(settle_delegations(uow, zone.zone_name))
        effects.add(resettle_below(uow, zone.zone_name))
    return Deletion(effects)


def _signed_before(uow: UnitOfWork, uid: str) -> bool:
    """Whether the zone had DNSSEC on and was last seen served signed with some DNSKEY."""
    zone = uow.zones.by_uid(uid)
    served = zone.dnssec_served if zone is not None else None
    return zone is not None and zone.dnssec is not None and bool(served and served.get("dnskeys"))


def _still_served(uow: UnitOfWork, uid: str) -> bool:
    zone = uow.zones.by_uid(uid)
    return zone is not None and zone.served


@dataclass
class Zones:
    store: Store
    placement: PlacementLock
    writer: ZoneWriter
    backends: BackendResolver
    deleting: Callable[[], set[str]]
    """uids of objects being deleted right now: they do not hold a zone, since they leave anyway."""
    keys: SigningKeys = field(default_factory=lambda: SigningKeys(None))
    kind: str = "DNSZone"
    finalizer: bool = True

    async def reconcile(self, obj: Observed) -> Outcome:
        spec = parse(DNSZoneSpec, obj)
        # Nothing is stored for a zone naming a backend that does not exist: no half-created zone.
        # A backend that exists but fails is another matter: the zone is stored, and its sync says why.
        self.backends.require_known(spec.backend)
        signed = spec.dnssec is not None and spec.dnssec.enabled
        if signed and self.backends.signs_itself(spec.backend) and self.keys.keys_for(obj.ref.uid) is None:
            # Before the zone is stored: its sync finds the key in memory (a Secret the first time).
            # A zone served signed all along whose Secret is gone gets no new key: a new key would
            # not match the DS at the registrar and make the zone bogus at once; the served
            # signatures stay valid until they expire, time to restore the Secret.
            signed_before = await asyncio.to_thread(self.store.read, lambda uow: _signed_before(uow, obj.ref.uid))
            if not await self.keys.ensure(spec.zone_name, obj.ref.uid, create=not signed_before):
                raise SecretUnavailable(
                    f"spec.dnssec: the Secret {secret_name(spec.zone_name, obj.ref.uid)} with this zone's signing "
                    "key is gone; restore it (a new key would not match the DS at the registrar), or remove the "
                    "DS at the registrar and turn spec.dnssec off and on again",
                    retryable=True,
                )
        had_dnssec: list[bool] = []

        def store(uow: UnitOfWork) -> Effects:
            row = uow.zones.by_uid(obj.ref.uid)
            had_dnssec.append(row is not None and row.dnssec is not None)
            return store_zone(uow, obj, spec, self._backend_of)

        effects = await transaction(self.store, store, self.placement.exclusive)
        if not signed and (any(had_dnssec) or self.keys.keys_for(obj.ref.uid) is not None):
            # Turned off: the next sync unsigns the zone, which needs no key.
            await self.keys.discard(spec.zone_name, obj.ref.uid)
        return Outcome(effects)

    async def finalize(self, obj: Observed) -> Outcome:
        zone_name = str(obj.spec.get("zoneName") or "")
        # A Terminating zone's spec may still change: its owner may stop letting others publish
        # in it, precisely so that it can go. Who holds it is decided by its latest spec.
        try:
            spec: DNSZoneSpec | None = parse(DNSZoneSpec, obj)
            self.backends.require_known(spec.backend if spec else None)
        except (InvalidSpec, BackendUnavailable):
            spec = None
        deletion = await self._mark_deleted(zone_name, obj.ref.uid, self.deleting(), (obj, spec) if spec else None)
        if deletion.blocked is not None:
            for zone in deletion.effects.zones:
                self.writer.request(zone, obj.ref)
            report = StatusReport([ConditionChange(READY, "False", DELETION_BLOCKED, deletion.blocked.message())])
            return Outcome(report=report, retry_after=backoff(0, base=2, cap=10), finished=False)
        result = await self.writer.sync(zone_name, obj.ref)
        effects = Effects(deletion.effects.zones - {zone_name}, deletion.effects.affected | result.affected)
        # The sync may also have served a new owner of the name: only this zone's removal counts here.
        if await asyncio.to_thread(self.store.read, lambda uow: _still_served(uow, obj.ref.uid)):
            error = BackendError(result.error or "the zone is still on its backend", retryable=result.retryable)
            delay = backoff(0) if error.retryable else backoff(0, base=30, cap=600)
            return Outcome(effects, report=problem(error), retry_after=delay, finished=False)
        if (spec is not None and spec.dnssec is not None) or self.keys.keys_for(obj.ref.uid) is not None:
            await self.keys.discard(zone_name, obj.ref.uid)
        return Outcome(effects)

    async def forget(self, ref: ObjectRef) -> None:
        """The DNSZone went without its finalizer (removed by hand): do what its deletion would,
        whoever still publishes in it."""
        zone_name = await asyncio.to_thread(
            self.store.read, lambda uow: z.zone_name if (z := uow.zones.by_uid(ref.uid)) else None
        )
        if zone_name is not None:
            deletion = await self._mark_deleted(zone_name, ref.uid, None, None)
            for zone in deletion.effects.zones:
                self.writer.request(zone)

    def _backend_of(self, zone_backend: str | None) -> ObjectRef | None:
        name = self.backends.name_for(zone_backend)
        return ObjectRef("DNSBackend", "", name) if name != EMBEDDED else None

    async def _mark_deleted(
        self, zone_name: str, uid: str, deleting: set[str] | None, latest: tuple[Observed, DNSZoneSpec] | None
    ) -> Deletion:
        def mark(uow: UnitOfWork) -> Deletion:
            row = uow.zones.by_uid(uid)
            # Never bring a deleted zone back, nor store an older spec over a newer one.
            newer = latest is not None and row is not None and row.deleted_at is None
            newer = newer and latest is not None and row is not None and latest[0].generation >= row.generation
            stored = store_zone(uow, latest[0], latest[1], self._backend_of) if latest and newer else Effects()
            deletion = delete_zone(uow, uid, deleting, self._backend_of)
            return Deletion(stored.add(deletion.effects), deletion.blocked)

        def run() -> Deletion:
            with self.placement.exclusive():
                return self.store.transaction(mark)

        # Under the zone's writer: no sync of the name runs between the decision and the mark, and
        # every sync after it sees the zone deleted and still to be removed from its backend.
        return await self.writer.exclusive(zone_name, run)
