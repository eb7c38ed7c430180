"""Adoption's self-check: the planner, given the manifests, serves exactly what is served.

The manifests are run through the same pure planner the operator runs (planning/zone_plan.py) and
the result is compared with the zone as read, record set by record set, and the SOA the DNSZone
gives with the SOA served. Any difference is a bug in adoption, and the zone gets no manifests.
"""

from __future__ import annotations

from collections.abc import Mapping

from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.api.dnszone import DNSZoneSpec
from siteplane.api.site import SiteSpec
from siteplane.dns.backend import SOASettings, ZoneContent
from siteplane.dns.content import canonical_soa
from siteplane.domain.names import absolute
from siteplane.domain.objects import ObjectRef
from siteplane.domain.records import RecordKey, apex_ns
from siteplane.planning.placement import ZoneView
from siteplane.planning.zone_plan import PUBLISHED, RecordClaim, SiteClaim, plan_zone


class AdoptionCheckFailed(Exception):
    """The planner would not serve exactly what is served: a bug here, so no manifests at all."""


def check(
    zone: str,
    content: ZoneContent,
    zone_spec: DNSZoneSpec,
    sites: list[SiteSpec],
    records: Mapping[RecordKey, DNSRecordSpec],
    allow_changes: bool,
) -> None:
    """AdoptionCheckFailed unless the planner, given these manifests, serves exactly what is served
    (in what they describe); with ``allow_changes``, the apex NS TTL and the SOA may differ (reported)."""
    assert zone_spec.default_ttl is not None
    namespace = "adopted"  # any: every claim is in the zone's own namespace
    view = ZoneView(ObjectRef("DNSZone", namespace, zone), zone, zone_spec.default_ttl, tuple(zone_spec.name_servers))
    site_claims = [
        SiteClaim(
            ObjectRef("Site", namespace, site.primary_domain),
            "",
            domains=tuple(site.domains),
            ttl=site.ttl,
            ipv4=tuple(str(a) for a in site.serving.ipv4 or ()),
            ipv6=tuple(str(a) for a in site.serving.ipv6 or ()),
        )
        for site in sites
    ]
    record_claims = [
        RecordClaim(
            ObjectRef("DNSRecord", namespace, str(key)),
            "",
            name=spec.name,
            type=spec.type,
            ttl=spec.ttl,
            # What the spec's values render to: convert.py took the spec only when they render to
            # exactly the served rdata (rendering them again here would double the run time).
            rdata=content.record_sets[key].rdata,
        )
        for key, spec in records.items()
    ]
    plan = plan_zone(view, site_claims, record_claims)
    if losers := [str(ref) for ref, outcome in plan.outcomes.items() if outcome.state != PUBLISHED]:
        raise AdoptionCheckFailed(f"zone {zone}: not every object would publish: {', '.join(losers)}")
    expected = {key: content.record_sets.get(key) for key in plan.record_sets}
    ns = apex_ns(zone_spec.default_ttl, zone_spec.name_servers)  # the NS the DNSZone makes
    if allow_changes:
        expected[ns.key] = ns  # a TTL that could not be kept was reported
    if unlike := sorted(str(k) for k in expected if expected[k] != plan.record_sets[k]):
        raise AdoptionCheckFailed(f"zone {zone}: the planner would serve {', '.join(unlike)} differently")
    assert content.soa is not None
    if canonical_soa(soa_of(zone_spec)) != content.soa and not allow_changes:
        raise AdoptionCheckFailed(f"zone {zone}: the SOA would be served differently")


def soa_of(spec: DNSZoneSpec) -> SOASettings:
    """The SOA settings the operator derives from ``spec`` (reconcile/zone_sync.py, zone_config; with
    every field set, as adoption sets them, its defaults play no part)."""
    soa = spec.soa
    assert soa is not None and spec.default_ttl is not None
    assert soa.primary_name_server and soa.responsible_mailbox
    assert soa.refresh and soa.retry and soa.expire and soa.negative_ttl
    return SOASettings(
        mname=absolute(soa.primary_name_server),
        rname=absolute(soa.responsible_mailbox),
        refresh=soa.refresh,
        retry=soa.retry,
        expire=soa.expire,
        minimum=soa.negative_ttl,
        ttl=spec.default_ttl,
    )
