"""Store rows as the planner's plain values: object references and zone views."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from siteplane.domain.names import enclosing_zones
from siteplane.domain.objects import ObjectRef
from siteplane.planning.placement import Publisher, ZoneView
from siteplane.store.models import Record, RecordSetRow, Site, Zone
from siteplane.store.unit_of_work import UnitOfWork


def zone_ref(zone: Zone) -> ObjectRef:
    return ObjectRef("DNSZone", zone.namespace, zone.name, zone.uid)


def site_ref(site: Site) -> ObjectRef:
    return ObjectRef("Site", site.namespace, site.name, site.uid)


def record_ref(record: Record) -> ObjectRef:
    return ObjectRef("DNSRecord", record.namespace, record.name, record.uid)


def owner_ref(row: RecordSetRow) -> ObjectRef:
    return ObjectRef(row.owner_kind, row.owner_namespace, row.owner_name, row.owner_uid)


def _grantees(entries: Sequence[Mapping[str, Any]] | None) -> tuple[Publisher, ...]:
    return tuple(Publisher(e["namespace"], tuple(e["names"]) if e.get("names") else None) for e in entries or [])


def zone_view(zone: Zone) -> ZoneView:
    return ZoneView(
        zone_ref(zone),
        zone.zone_name,
        zone.default_ttl,
        tuple(zone.name_servers),
        _grantees(zone.publishers),
        zone.created,
        _grantees(zone.delegations),
    )


def serving_zone_views(uow: UnitOfWork, domains: Iterable[str]) -> dict[str, ZoneView]:
    """Views of every zone allowed to serve its name that could hold any of ``domains``."""
    candidates = {zone for domain in domains for zone in enclosing_zones(domain)}
    return {zone.zone_name: zone_view(zone) for zone in uow.zones.serving_owners_named(candidates)}
