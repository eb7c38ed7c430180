"""Sites: parse, store the site and its domain claims (one transaction), then its zones are synced.

reconcile:  parse -> store desired state (placement settled in the same transaction) -> Effects
finalize:   mark withdrawn (one transaction) -> sync its zones -> done once the server no
            longer serves anything of it
"""

from __future__ import annotations

from dataclasses import dataclass

from siteplane.api.site import SiteSpec
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.effects import Effects
from siteplane.reconcile.observed import Observed
from siteplane.reconcile.outcome import Outcome, parse, stored
from siteplane.reconcile.placement import PlacementLock, settle_domains
from siteplane.reconcile.store_batch import StoreBatcher
from siteplane.reconcile.withdrawal import withdrawn
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.store.models import Site, SiteDomain, utcnow
from siteplane.store.unit_of_work import Store, UnitOfWork


def _copy_spec(site: Site, obj: Observed, spec: SiteSpec) -> bool:
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


def _copy_domains(uow: UnitOfWork, site: Site, domains: list[str]) -> bool:
    """Make the site's live domain rows match ``domains``; True when any was added or removed."""
    live = {d.domain: d for d in site.domains if d.deleted_at is None}
    touched = False
    for domain, row in live.items():
        if domain not in domains:
            row.deleted_at, row.is_owner = utcnow(), False
            touched = True
    uow.flush()
    for position, domain in enumerate(domains):
        existing = live.get(domain)
        if existing is None:
            site.domains.append(SiteDomain(domain=domain, position=position))
            touched = True
        elif existing.position != position:
            existing.position = position
    return touched


def store_site(uow: UnitOfWork, obj: Observed, spec: SiteSpec) -> Effects:
    site = uow.sites.by_uid(obj.ref.uid)
    if site is None:
        site = Site(uid=obj.ref.uid)
        uow.sites.add(site)
    changed = _copy_spec(site, obj, spec)
    if site.deleted_at is not None:  # its finalizer was removed by hand and the object came back
        site.deleted_at, changed = None, True
    changed = _copy_domains(uow, site, spec.domains) or changed
    uow.flush()
    effects = settle_domains(uow, {d.domain for d in site.domains})
    if changed:
        effects.zones.update(d.zone_name for d in site.domains if d.zone_name and d.deleted_at is None)
        uow.history.record_object("Site", site, "stored", detail={"domains": spec.domains, "suspended": site.suspended})
    return effects


def withdraw_site(uow: UnitOfWork, uid: str) -> Effects:
    """Mark the site deleted and its domains free; the next claimants take them over."""
    site = uow.sites.by_uid(uid)
    if site is None or site.deleted_at is not None:
        return Effects()
    zones = {d.zone_name for d in site.domains if d.zone_name and d.deleted_at is None}
    domains = {d.domain for d in site.domains if d.deleted_at is None}
    now = utcnow()
    site.deleted_at = now
    for row in site.domains:
        if row.deleted_at is None:
            row.deleted_at, row.is_owner = now, False
    uow.flush()
    effects = settle_domains(uow, domains)
    effects.zones |= zones
    uow.history.record_object("Site", site, "deleted")
    return effects


@dataclass
class Sites:
    store: Store
    placement: PlacementLock
    writer: ZoneWriter
    batch: StoreBatcher | None = None
    """Shares one transaction among the Sites stored at once; None: a transaction each."""
    kind: str = "Site"
    finalizer: bool = True

    async def reconcile(self, obj: Observed) -> Outcome:
        spec = parse(SiteSpec, obj)
        return Outcome(
            await stored(self.store, lambda uow: store_site(uow, obj, spec), self.placement.shared, self.batch)
        )

    async def finalize(self, obj: Observed) -> Outcome:
        return await self._withdraw(obj.ref)

    async def forget(self, ref: ObjectRef) -> None:
        await self._withdraw(ref)

    async def _withdraw(self, ref: ObjectRef) -> Outcome:
        effects = await stored(self.store, lambda uow: withdraw_site(uow, ref.uid), self.placement.shared, self.batch)
        return await withdrawn(self.store, self.writer, ref, effects)
