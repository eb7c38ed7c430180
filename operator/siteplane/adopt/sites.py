"""Which adopted names become Sites: those served only at the hosting company's own addresses.

A Site publishes an A and/or AAAA record set at each of its domains, with one TTL, into the zone
(planning/zone_plan.py, site_record_sets). A name becomes a Site only when that is exactly what is
served there, so the Site's record sets replace the DNSRecords of those names one for one.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from pydantic import ValidationError

from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.api.site import SiteSpec
from siteplane.domain.names import APEX, fqdn
from siteplane.domain.records import RecordKey, RecordSet

Network = IPv4Network | IPv6Network


def site_specs(
    zone: str,
    served: Mapping[RecordKey, RecordSet],
    records: Mapping[RecordKey, DNSRecordSpec],
    default_ttl: int,
    networks: tuple[Network, ...],
) -> list[SiteSpec]:
    """A Site for each name whose A/AAAA (all of them, all adoptable as ``records``) point into
    ``networks``.

    A name and www.<name> served alike become one Site (the name primary, www an alias): the way a
    site is usually published. Any other grouping (by shared address) would merge customers who
    share a server.
    """
    if not networks:
        return []
    # Addresses at or below a delegation are glue for the child zone's servers, not a site.
    cuts = [key.name for key in served if key.type == "NS" and key.name != APEX]
    serving: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {}
    for name in sorted({key.name for key in records if key.type in ("A", "AAAA")}):
        if any(name == cut or name.endswith("." + cut) for cut in cuts):
            continue
        a, aaaa = served.get(RecordKey(name, "A")), served.get(RecordKey(name, "AAAA"))
        sets = [rs for key, rs in ((RecordKey(name, "A"), a), (RecordKey(name, "AAAA"), aaaa)) if rs and key in records]
        if len(sets) != sum(1 for rs in (a, aaaa) if rs) or len({rs.ttl for rs in sets}) != 1:
            continue  # one of them is not adoptable, or they differ in TTL: a Site has one
        addresses = [ip_address(text) for rs in sets for text in rs.rdata]
        if all(any(address in net for net in networks) for address in addresses):
            serving[fqdn(name, zone)] = (a.rdata if a else (), aaaa.rdata if aaaa else (), sets[0].ttl)
    sites, used = [], set()
    for domain in sorted(serving, key=lambda d: (d.count("."), d)):
        if domain in used:
            continue
        aliases = (
            [f"www.{domain}"] if serving.get(f"www.{domain}") == serving[domain] and not domain.startswith("*") else []
        )
        ipv4, ipv6, ttl = serving[domain]
        spec_data: dict[str, Any] = {
            "primaryDomain": domain,
            "serving": {k: list(v) for k, v in (("ipv4", ipv4), ("ipv6", ipv6)) if v},
        }
        if aliases:
            spec_data["aliases"] = aliases
        if ttl != default_ttl:
            spec_data["ttl"] = ttl
        try:
            site = SiteSpec.model_validate(spec_data)
        except ValidationError:
            continue  # e.g. an underscore label, or more addresses than a Site takes: stays DNSRecords
        used.update(site.domains)
        sites.append(site)
    return sites


def relative(domain: str, zone: str) -> str:
    """A Site domain of ``zone`` as a record set's owner name."""
    return APEX if domain == zone else domain[: -len(zone) - 1]
