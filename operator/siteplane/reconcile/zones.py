"""DNSZone reconciliation: claim the zone name, place the domains it now holds, create and serve it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pydantic import ValidationError

from siteplane.api.conditions import ConditionChange
from siteplane.api.dnszone import DNSZoneSpec
from siteplane.dns.backend import BackendError
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.backends import EMBEDDED, BackendResolver, BackendUnavailable
from siteplane.reconcile.common import (
    ReportingService,
    SQLAlchemyError,
    database_unavailable,
    invalid_spec,
    record_history,
    render,
)
from siteplane.reconcile.inputs import ObjectInput, Outcome, backoff
from siteplane.reconcile.placement import PlacementLock, settle_domains
from siteplane.reconcile.status import READY, StatusReport, zone_status
from siteplane.reconcile.views import zone_ref
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.store.models import Zone, utcnow
from siteplane.store.unit_of_work import Store, UnitOfWork

DEFAULT_TTL = 3600


@dataclass
class ZoneWork:
    zones: set[str] = field(default_factory=set)
    affected: set[ObjectRef] = field(default_factory=set)
    publishers: int = 0  # for deletion: objects still publishing in the zone
    remove: tuple[str, str | None] | None = None  # (zone name, backend) to remove from its backend


def _claim_zone_name(uow: UnitOfWork, zone_name: str, work: ZoneWork) -> None:
    """The oldest live DNSZone for a name owns it; enforced by the partial unique index."""
    claims = uow.zones.live_claims(zone_name)
    if not claims:
        return
    winner = min(claims, key=lambda z: (z.created, z.namespace, z.name))
    for zone in claims:
        if zone is not winner and zone.is_owner:
            zone.is_owner = False
            work.affected.add(zone_ref(zone))
    uow.flush()
    if not winner.is_owner:
        winner.is_owner = True
        work.affected.add(zone_ref(winner))
        uow.flush()


def _resettle_below(uow: UnitOfWork, zone_name: str, work: ZoneWork) -> None:
    settled = settle_domains(uow, uow.sites.live_domains_within(zone_name))
    work.zones |= settled.zones
    work.affected |= settled.sites


class ZoneService(ReportingService[Zone]):
    def __init__(self, store: Store, writer: ZoneWriter, backends: BackendResolver, placement: PlacementLock) -> None:
        self.store = store
        self.writer = writer
        self.backends = backends
        self.placement = placement

    async def reconcile(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        try:
            spec = DNSZoneSpec.model_validate(dict(obj.spec))
        except ValidationError as error:
            return invalid_spec(obj, error)
        try:
            self.backends.require_known(spec.backend)
        except BackendUnavailable as error:
            # Nothing is stored for a zone naming a backend that does not exist: no half-created
            # zone. A backend that exists but fails (a missing Secret, a wrong key) is another
            # matter: the zone is stored, and its sync reports the backend's problem.
            report = StatusReport([ConditionChange(READY, "False", "BackendUnavailable", str(error))])
            return Outcome(render(obj, report), retry_after=backoff(retry, base=10), retry_reason=str(error))
        return await self._store_and_sync(obj, retry, lambda: self._store(obj, spec), report=True)

    def _store(self, obj: ObjectInput, spec: DNSZoneSpec) -> ZoneWork:
        soa = spec.soa.model_dump(by_alias=True, exclude_none=True) if spec.soa else {}
        publishers = [p.model_dump(by_alias=True, exclude_none=True) for p in spec.publishers or []]
        values = {
            "namespace": obj.ref.namespace,
            "name": obj.ref.name,
            "created": obj.created,
            "generation": obj.generation,
            "zone_name": spec.zone_name,
            "backend": spec.backend,
            "default_ttl": spec.default_ttl or DEFAULT_TTL,
            "soa": soa,
            "name_servers": list(spec.name_servers),
            "publishers": publishers,
            "deletion_policy": spec.deletion_policy or "Delete",
            "management": spec.management or "Shared",
        }
        work = ZoneWork()
        with self.placement.exclusive(), self.store.unit_of_work() as uow:
            zone = uow.zones.by_uid(obj.ref.uid)
            if zone is None:
                zone = Zone(uid=obj.ref.uid, is_owner=False)
                uow.zones.add(zone)
            served_by_before = self._backend_ref(zone.backend) if zone.id is not None else None
            changed = zone.deleted_at is not None
            zone.deleted_at = None
            for key, value in values.items():
                if getattr(zone, key) != value:
                    setattr(zone, key, value)
                    changed = True
            uow.flush()
            was_owner = zone.is_owner
            _claim_zone_name(uow, spec.zone_name, work)
            if zone.is_owner and (changed or not was_owner):
                _resettle_below(uow, spec.zone_name, work)
            if zone.is_owner and (changed or not was_owner or zone.serial is None or zone.sync_error):
                work.zones.add(spec.zone_name)
            if changed:
                # The backends' zoneCount: the default backend counts too, and a move counts twice.
                work.affected |= {ref for ref in (served_by_before, self._backend_ref(spec.backend)) if ref}
                record_history(uow, "DNSZone", zone, "stored", zone.zone_name, {"owner": zone.is_owner})
            uow.commit()
        return work

    async def delete(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        """Remove the zone once nothing publishes in it; until then say how many still do."""
        try:
            work = await asyncio.to_thread(self._count_publishers, obj)
            if work.publishers:
                message = (
                    f"{work.publishers} object(s) still publish in this zone; it is removed once they are "
                    "deleted or moved"
                )
                report = StatusReport([ConditionChange(READY, "False", "DeletionBlocked", message)])
                return Outcome(render(obj, report), retry_after=backoff(retry, base=5, cap=60), retry_reason=message)
            if work.remove is not None:
                zone_name, backend = work.remove
                await self.writer.exclusive(zone_name, lambda: self.backends.for_zone(backend).remove_zone(zone_name))
            return await self._store_and_sync(obj, retry, lambda: self._delete(obj), report=False)
        except BackendUnavailable as error:
            report = StatusReport([ConditionChange(READY, "False", "BackendUnavailable", str(error))])
            return Outcome(render(obj, report), retry_after=backoff(retry), retry_reason=str(error))
        except SQLAlchemyError as error:
            return database_unavailable(obj, error)
        except (BackendError, OSError) as error:
            message = f"removing the zone from its backend failed: {error}"
            report = StatusReport([ConditionChange(READY, "False", "BackendError", message)])
            slow = isinstance(error, BackendError) and not error.retryable
            delay = backoff(retry, base=30, cap=600) if slow else backoff(retry)
            return Outcome(render(obj, report), retry_after=delay, retry_reason=message)

    def _count_publishers(self, obj: ObjectInput) -> ZoneWork:
        work = ZoneWork()
        with self.store.unit_of_work() as uow:
            zone = uow.zones.by_uid(obj.ref.uid)
            if zone is None or zone.deleted_at is not None or not zone.is_owner:
                return work
            sites = {row.site_id for row in uow.sites.owned_in_zone(zone.zone_name)}
            work.publishers = len(sites) + uow.records.count_live_in_zone(zone.zone_name)
            if zone.deletion_policy != "Orphan" and zone.serial is not None:
                work.remove = (zone.zone_name, zone.backend)
            return work

    def _delete(self, obj: ObjectInput) -> ZoneWork:
        work = ZoneWork()
        with self.placement.exclusive(), self.store.unit_of_work() as uow:
            zone = uow.zones.by_uid(obj.ref.uid)
            if zone is None or zone.deleted_at is not None:
                return work
            was_owner = zone.is_owner
            now = utcnow()
            zone.deleted_at, zone.is_owner = now, False
            if (served_by := self._backend_ref(zone.backend)) is not None:
                work.affected.add(served_by)
            uow.record_sets.withdraw(uow.record_sets.live_in_zone(zone.id))
            record_history(
                uow, "DNSZone", zone, "deleted", zone.zone_name, {"deletionPolicy": zone.deletion_policy}, zone.serial
            )
            uow.flush()
            if was_owner:
                # The next DNSZone claiming the name (if any) takes over without anyone touching it,
                # and domains below fall back to whichever zone now encloses them.
                _claim_zone_name(uow, zone.zone_name, work)
                _resettle_below(uow, zone.zone_name, work)
                if uow.zones.owner_of(zone.zone_name) is not None:
                    work.zones.add(zone.zone_name)
            uow.commit()
        return work

    def _backend_ref(self, zone_backend: str | None) -> ObjectRef | None:
        """The DNSBackend object serving a zone that names ``zone_backend`` (None: the embedded one)."""
        name = self.backends.name_for(zone_backend)
        return ObjectRef("DNSBackend", "", name) if name != EMBEDDED else None

    def live_zone_names(self) -> list[str]:
        """Every zone siteplane serves now (one owning DNSZone each)."""
        with self.store.unit_of_work() as uow:
            return uow.zones.live_owner_names()

    def _load(self, uow: UnitOfWork, uid: str) -> Zone | None:
        return uow.zones.by_uid(uid)

    def _status(self, uow: UnitOfWork, row: Zone) -> StatusReport:
        return zone_status(uow, row)
