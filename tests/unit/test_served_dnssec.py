"""What a transferred zone says of its signing (``served_dnssec``, the RFC 2136 backend's
``dnssec_state`` after its zone transfer): zones signed here by dnspython stand in for BIND's."""

from __future__ import annotations

import time

import dns.dnssec
import dns.dnssectypes
import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec
from dns.rdtypes.ANY.DNSKEY import DNSKEY

from siteplane.dns.rfc2136 import served_dnssec

ZONE = """\
@ 60 IN SOA ns1.example.net. hostmaster.example.net. 1 3600 600 86400 60
@ 60 IN NS ns1.example.net.
www 60 IN A 192.0.2.1
sub 60 IN NS ns.sub
ns.sub 60 IN A 192.0.2.53
"""
NOW = int(time.time())


def signed_zone() -> tuple[dns.zone.Zone, DNSKEY]:
    zone = dns.zone.from_text(ZONE, origin="example.test.", relativize=True)
    key = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(key.public_key(), dns.dnssectypes.Algorithm.ECDSAP256SHA256, flags=257)
    dns.dnssec.sign_zone(zone, keys=[(key, dnskey)], inception=NOW - 60, expiration=NOW + 3600)
    return zone, dnskey


def test_a_signed_zone_reports_its_ksk_its_ds_and_the_earliest_expiry() -> None:
    zone, dnskey = signed_zone()
    state = served_dnssec(zone, NOW)
    assert state.signed
    assert state.dnskeys == (dnskey.to_text(),)
    assert state.ds == (dns.dnssec.make_ds(dns.name.from_text("example.test."), dnskey, "SHA256").to_text(),)
    assert state.signatures_expire == NOW + 3600
    assert state.problem is None


def test_a_signature_that_does_not_validate_is_the_states_problem() -> None:
    zone, _ = signed_zone()
    node = zone.get_node("www")
    assert node is not None
    node.replace_rdataset(dns.rdataset.from_text("IN", "A", 60, "192.0.2.99"))  # changed after signing
    state = served_dnssec(zone, NOW)
    assert state.signed and state.problem is not None and "www.example.test. A" in state.problem


def test_an_unsigned_zone_is_not_signed() -> None:
    zone = dns.zone.from_text(ZONE, origin="example.test.", relativize=True)
    assert not served_dnssec(zone, NOW).signed


def test_a_zone_still_being_signed_is_not_signed_yet() -> None:
    zone, _ = signed_zone()
    node = zone.get_node("www")
    assert node is not None
    node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.A)
    assert not served_dnssec(zone, NOW).signed


def test_a_zone_without_denial_records_is_not_signed() -> None:
    zone, _ = signed_zone()
    for node in zone.nodes.values():
        node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC)
        node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.NSEC)
    assert not served_dnssec(zone, NOW).signed


def test_expired_signatures_do_not_count() -> None:
    zone, _ = signed_zone()
    assert not served_dnssec(zone, NOW + 7200).signed
