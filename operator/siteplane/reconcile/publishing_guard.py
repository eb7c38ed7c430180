"""Early feedback at admission: refuse a Site domain, a DNSRecord or a DNSZone that could only end
in NotPermitted or NameConflict, before it is stored.

This is only a courtesy. Reconciliation decides the same questions again (the webhook may be
bypassed, down, or racing a zone change), and is what actually keeps tenants apart. The messages
name only what the requester wrote: never another tenant's namespace, objects or records. A name
with no zone at all is let through, so a Site may be applied before its zone (GitOps order).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.api.dnszone import DNSZoneSpec
from siteplane.api.site import SiteSpec
from siteplane.domain.names import relative_to
from siteplane.planning.placement import closest_zone
from siteplane.reconcile.status import domain_not_permitted, record_not_permitted
from siteplane.reconcile.views import zone_view, zone_views_enclosing
from siteplane.store.unit_of_work import Store


class PublishingGuard:
    def __init__(self, store: Store) -> None:
        self.store = store

    def site_refusal(self, namespace: str, spec: Mapping[str, Any]) -> str | None:
        try:
            site = SiteSpec.model_validate(dict(spec))
        except ValidationError:
            return None  # the schema and the status conditions speak about invalid specs
        domains = site.domains
        with self.store.unit_of_work() as uow:
            zones = zone_views_enclosing(uow, domains)
        for position, domain in enumerate(domains):
            zone = closest_zone(domain, zones)
            if zone is not None and not zone.permits(namespace, relative_to(domain, zone.zone_name)):
                return domain_not_permitted(position, namespace, domain)
        return None

    def record_refusal(self, namespace: str, spec: Mapping[str, Any]) -> str | None:
        try:
            record = DNSRecordSpec.model_validate(dict(spec))
        except ValidationError:
            return None
        with self.store.unit_of_work() as uow:
            zone = uow.zones.owner_of(record.zone)
            if zone is None:
                return None
            view = zone_view(zone)
        if view.permits(namespace, record.name):
            return None
        return record_not_permitted(record.zone, namespace, record.name)

    def zone_refusal(self, uid: str, spec: Mapping[str, Any]) -> str | None:
        try:
            zone = DNSZoneSpec.model_validate(dict(spec))
        except ValidationError:
            return None
        with self.store.unit_of_work() as uow:
            owner = uow.zones.owner_of(zone.zone_name)
            if owner is None or owner.uid == uid:
                return None
        return f"spec.zoneName: {zone.zone_name} is already defined by another DNSZone"
