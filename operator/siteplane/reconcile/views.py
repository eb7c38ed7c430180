"""Turning store rows into the planner's plain inputs."""

from __future__ import annotations

from collections.abc import Iterable

from siteplane.domain.names import enclosing_zones
from siteplane.domain.objects import ObjectRef
from siteplane.planning.placement import Publisher, ZoneView
from siteplane.store.models import Record, Site, Zone
from siteplane.store.unit_of_work import UnitOfWork


def zone_ref(zone: Zone) -> ObjectRef:
    return ObjectRef("DNSZone", zone.namespace, zone.name, zone.uid)


def site_ref(site: Site) -> ObjectRef:
    return ObjectRef("Site", site.namespace, site.name, site.uid)


def record_ref(record: Record) -> ObjectRef:
    return ObjectRef("DNSRecord", record.namespace, record.name, record.uid)


def zone_view(zone: Zone) -> ZoneView:
    publishers = tuple(
        Publisher(p["namespace"], tuple(p["names"]) if p.get("names") else None) for p in zone.publishers or []
    )
    return ZoneView(zone_ref(zone), zone.zone_name, zone.default_ttl, tuple(zone.name_servers), publishers)


def zone_views_enclosing(uow: UnitOfWork, domains: Iterable[str]) -> dict[str, ZoneView]:
    """Views of every existing zone that could hold any of ``domains``."""
    candidates = {zone for domain in domains for zone in enclosing_zones(domain)}
    return {zone.zone_name: zone_view(zone) for zone in uow.zones.owners_named(candidates)}
