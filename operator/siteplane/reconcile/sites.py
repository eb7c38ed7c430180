"""Site reconciliation: store the site and its domain claims, settle them, sync their zones."""

from __future__ import annotations

from pydantic import ValidationError

from siteplane.api.site import SiteSpec
from siteplane.reconcile.common import (
    ReportingService,
    invalid_spec,
    record_history,
)
from siteplane.reconcile.inputs import ObjectInput, Outcome
from siteplane.reconcile.placement import PlacementLock, Settled, settle_domains
from siteplane.reconcile.status import StatusReport, site_status
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.store.models import Site, SiteDomain, utcnow
from siteplane.store.unit_of_work import Store, UnitOfWork


def _apply_spec(site: Site, obj: ObjectInput, spec: SiteSpec) -> bool:
    """Copy the spec onto the row; True when anything changed."""
    values = {
        "namespace": obj.ref.namespace,
        "name": obj.ref.name,
        "created": obj.created,
        "generation": obj.generation,
        "primary_domain": spec.primary_domain,
        "customer": spec.customer,
        "plan": spec.plan,
        "suspended": bool(spec.suspended),
        "ttl": spec.ttl,
        "ipv4": [str(a) for a in spec.serving.ipv4 or []],
        "ipv6": [str(a) for a in spec.serving.ipv6 or []],
        "cname": spec.serving.cname,
    }
    changed = False
    for key, value in values.items():
        if getattr(site, key) != value:
            setattr(site, key, value)
            changed = True
    return changed


def _apply_domains(uow: UnitOfWork, site: Site, domains: list[str]) -> set[str]:
    """Make the site's live domain rows match ``domains``; returns every domain touched."""
    live = {d.domain: d for d in site.domains if d.deleted_at is None}
    touched: set[str] = set()
    for domain, row in live.items():
        if domain not in domains:
            row.deleted_at, row.is_owner = utcnow(), False
            touched.add(domain)
    uow.flush()
    for position, domain in enumerate(domains):
        existing = live.get(domain)
        if existing is None:
            site.domains.append(SiteDomain(domain=domain, position=position))
            touched.add(domain)
        elif existing.position != position:
            existing.position = position
    return touched


class SiteService(ReportingService[Site]):
    def __init__(self, store: Store, writer: ZoneWriter, placement: PlacementLock) -> None:
        self.store = store
        self.writer = writer
        self.placement = placement

    async def reconcile(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        try:
            spec = SiteSpec.model_validate(dict(obj.spec))
        except ValidationError as error:
            return invalid_spec(obj, error)
        return await self._store_and_sync(obj, retry, lambda: self._store(obj, spec), report=True)

    async def delete(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        """Withdraw the site's records; the caller keeps the finalizer until this succeeds."""
        return await self._store_and_sync(obj, retry, lambda: self._delete(obj), report=False)

    def _store(self, obj: ObjectInput, spec: SiteSpec) -> Settled:
        with self.placement.shared(), self.store.unit_of_work() as uow:
            site = uow.sites.by_uid(obj.ref.uid)
            if site is None:
                site = Site(uid=obj.ref.uid)
                uow.sites.add(site)
            changed = _apply_spec(site, obj, spec)
            if site.deleted_at is not None:  # a finalizer was removed by hand and the uid came back
                site.deleted_at, changed = None, True
            touched = _apply_domains(uow, site, spec.domains)
            uow.flush()
            settled = settle_domains(uow, {d.domain for d in site.domains})
            if changed or touched:
                settled.zones.update(d.zone_name for d in site.domains if d.zone_name)
                record_history(
                    uow, "Site", site, "stored", detail={"domains": spec.domains, "suspended": site.suspended}
                )
            settled.zones.update(self._zones_needing_work(uow, site))
            uow.commit()
            return settled

    @staticmethod
    def _zones_needing_work(uow: UnitOfWork, site: Site) -> set[str]:
        """Zones of this site that have unapplied or failed work: a restart must finish it."""
        names = {d.zone_name for d in site.domains if d.zone_name and d.deleted_at is None}
        pending = any(r.applied_serial is None for r in uow.record_sets.live_of_owner(site.uid))
        failed = uow.zones.unsynced_named(names)
        unplanned = {
            d.zone_name
            for d in site.domains
            if d.zone_name and d.deleted_at is None and d.is_owner and d.publish_state is None and not site.suspended
        }
        return (names if pending else set()) | failed | {z for z in unplanned if z}

    def _delete(self, obj: ObjectInput) -> Settled:
        with self.placement.shared(), self.store.unit_of_work() as uow:
            site = uow.sites.by_uid(obj.ref.uid)
            if site is None or site.deleted_at is not None:
                return Settled()
            zones = {d.zone_name for d in site.domains if d.zone_name and d.deleted_at is None}
            domains = {d.domain for d in site.domains if d.deleted_at is None}
            now = utcnow()
            site.deleted_at = now
            for row in site.domains:
                if row.deleted_at is None:
                    row.deleted_at, row.is_owner = now, False
            uow.flush()
            settled = settle_domains(uow, domains)
            settled.zones |= zones
            record_history(uow, "Site", site, "deleted")
            uow.commit()
            return settled

    def _load(self, uow: UnitOfWork, uid: str) -> Site | None:
        return uow.sites.by_uid(uid)

    def _status(self, uow: UnitOfWork, row: Site) -> StatusReport:
        return site_status(uow, row)
