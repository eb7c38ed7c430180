"""Checking a signed zone the way a validating resolver would: every RRset against the apex DNSKEY."""

from __future__ import annotations

from collections.abc import Callable

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone


def validate_every_rrset(
    zone: dns.zone.Zone,
    now: float | None = None,
    unsigned: Callable[[dns.name.Name, int], bool] = lambda name, rdtype: False,
) -> int:
    """dns.dnssec.validate on every RRset of ``zone`` (but those ``unsigned`` names: a cut's NS and
    its glue are not signed, RFC 4035 section 2.2) with the apex DNSKEY RRset, at ``now`` (the real
    clock when None); how many RRsets were validated. An RRset without an RRSIG fails."""
    origin = zone.origin
    assert origin is not None
    keys = {origin: zone.find_rdataset(origin, dns.rdatatype.DNSKEY)}
    checked = 0
    for name, node in zone.nodes.items():
        for rdataset in node:
            if rdataset.rdtype == dns.rdatatype.RRSIG or unsigned(name, rdataset.rdtype):
                continue
            sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdataset.rdtype)
            assert sigs is not None, f"{name} {dns.rdatatype.to_text(rdataset.rdtype)} is not signed"
            dns.dnssec.validate((name, rdataset), (name, sigs), keys, now=now)
            checked += 1
    return checked
