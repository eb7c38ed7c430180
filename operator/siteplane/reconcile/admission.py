"""Early refusals at admission: a Site domain, a DNSRecord or a DNSZone that could only end in
NotPermitted, NameConflict or DelegationRefused is refused before it is stored.

This is only a courtesy. Reconciliation decides the same questions again (the webhook may be
bypassed, down, or racing a zone change), and is what actually keeps tenants apart. The messages
are the ones the status would show, and name only what the requester wrote: never another
tenant's namespace, objects or records. A name with no zone at all is let through, so a Site may
be applied before its zone (GitOps order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.api.dnszone import DNSZoneSpec
from siteplane.api.site import SiteSpec
from siteplane.domain.names import enclosing_zones, relative_to
from siteplane.planning.placement import ZoneView, closest_zone
from siteplane.reconcile.rows import serving_zone_views, zone_view
from siteplane.reconcile.status import domain_not_permitted, record_not_permitted, zone_not_delegated
from siteplane.store.unit_of_work import UnitOfWork


def site_domains(spec: Mapping[str, Any]) -> list[str] | None:
    """The domains a Site spec claims, in order; None for a spec that is not valid (the schema and
    the status conditions speak about invalid specs)."""
    try:
        return list(SiteSpec.model_validate(dict(spec)).domains)
    except ValidationError:
        return None


def site_refusal(zones: Mapping[str, ZoneView], namespace: str, domains: Sequence[str]) -> str | None:
    """Why ``namespace`` may not claim ``domains``, given the serving ``zones`` around them."""
    for position, domain in enumerate(domains):
        zone = closest_zone(domain, zones)
        if zone is not None and not zone.permits(namespace, relative_to(domain, zone.zone_name)):
            return domain_not_permitted(position, namespace, domain)
    return None


def record_refusal(uow: UnitOfWork, namespace: str, spec: Mapping[str, Any]) -> str | None:
    try:
        record = DNSRecordSpec.model_validate(dict(spec))
    except ValidationError:
        return None
    zone = uow.zones.owner_of(record.zone)
    if zone is None or zone.delegation_refused or zone_view(zone).permits(namespace, record.name):
        return None
    return record_not_permitted(record.zone, namespace, record.name)


def zone_refusal(uow: UnitOfWork, namespace: str, uid: str, spec: Mapping[str, Any]) -> str | None:
    """A second zone of an existing name, or a zone inside another namespace's zone that does not
    delegate it (any zone already there is older than one being created)."""
    try:
        zone = DNSZoneSpec.model_validate(dict(spec))
    except ValidationError:
        return None
    owner = uow.zones.owner_of(zone.zone_name)
    if owner is not None and owner.uid != uid:
        return f"spec.zoneName: {zone.zone_name} is already defined by another DNSZone"
    parents = serving_zone_views(uow, [zone.zone_name])
    parent = next((parents[name] for name in enclosing_zones(zone.zone_name)[1:] if name in parents), None)
    if parent is not None and not parent.delegates(namespace, relative_to(zone.zone_name, parent.zone_name)):
        return zone_not_delegated(zone.zone_name)
    return None
