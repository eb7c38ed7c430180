"""DNSSEC on the zone-file backend: the file as served is signed whole, every RRset validates
against the zone's own DNSKEY with dnspython's validator (an independent check, not the signer's
own), negative answers are provably signed (NSEC3 or NSEC), signatures are refreshed before they
lapse, and turning DNSSEC off leaves an unsigned zone."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.RRSIG import RRSIG

from siteplane.dns import signing
from siteplane.dns.backend import DNSSEC_TYPES, DnssecSettings, SOASettings, ZoneConfig
from siteplane.dns.zonefile import ZoneFileBackend
from siteplane.domain.changes import ChangeSet
from siteplane.domain.records import apex_ns, record_set
from tests.dnssec_support import validate_every_rrset

ZONE = "example.com"
SOA = SOASettings(mname="ns1.example.net.", rname="hostmaster.example.com.", minimum=300, ttl=3600)
KEY = signing.generate_key(1_700_000_000)
NS = apex_ns(3600, ["ns1.example.net", "ns2.example.org"])
SETS = [
    NS,
    record_set("www", "A", 300, ["192.0.2.1"]),
    record_set("a.b.c", "TXT", 300, ["deep"]),  # b.c and c are empty non-terminals
    record_set("*.dev", "A", 300, ["192.0.2.10"]),
    record_set("@", "MX", 300, [SimpleNamespace(preference=10, host="mail.example.com")]),
    record_set("sub", "NS", 300, ["ns.sub.example.com"]),  # a zone cut, with glue below it
    record_set("ns.sub", "A", 300, ["192.0.2.53"]),
]


class Clock:
    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _config(denial: str = "NSEC3") -> ZoneConfig:
    return ZoneConfig(ZONE, SOA, DnssecSettings(denial=denial, signing_keys=(KEY,)))  # type: ignore[arg-type]


def _served(backend: ZoneFileBackend) -> dns.zone.Zone:
    return dns.zone.from_file(str(backend.path(ZONE)), origin=ZONE + ".", relativize=False)


def _below_cut(name: dns.name.Name) -> bool:
    return name.is_subdomain(dns.name.from_text("sub." + ZONE + "."))


def _unsigned(name: dns.name.Name, rdtype: int) -> bool:
    """Below the cut but the DS at it: the cut's NS and its glue are not signed (RFC 4035 section 2.2)."""
    return _below_cut(name) and not (name == dns.name.from_text("sub." + ZONE + ".") and rdtype == 43)


def test_a_signed_zone_file_validates_rrset_by_rrset_and_read_zone_shows_no_dnssec_records(tmp_path: Path) -> None:
    clock = Clock()
    backend = ZoneFileBackend(tmp_path, clock=clock)
    content = backend.create_zone(_config(), SETS)
    assert not {rs.type for rs in content.record_sets.values()} & DNSSEC_TYPES
    zone = _served(backend)
    assert validate_every_rrset(zone, clock.now, _unsigned) >= len(SETS) + 3  # + SOA, DNSKEY, NSEC3PARAM and the chain
    state = backend.dnssec_state(ZONE)
    assert state.signed and state.problem is None
    assert state.dnskeys == (signing.dnskey_of(KEY).to_text(),)
    ds = dns.dnssec.make_ds(ZONE + ".", signing.dnskey_of(KEY), "SHA256").to_text()
    assert state.ds == (ds,)
    assert state.signatures_expire == int(clock.now) + backend.signature_validity
    # The glue below the cut is neither signed nor in the chain.
    glue = zone.get_node(dns.name.from_text("ns.sub." + ZONE + "."))
    assert glue is not None and glue.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.A) is None


def test_the_nsec3_chain_covers_every_name_and_proves_a_missing_name_absent(tmp_path: Path) -> None:
    clock = Clock()
    backend = ZoneFileBackend(tmp_path, clock=clock)
    backend.create_zone(_config(), SETS)
    zone = _served(backend)
    origin = zone.origin
    assert origin is not None
    param = zone.find_rdataset(origin, dns.rdatatype.NSEC3PARAM)[0]
    assert (param.algorithm, param.flags, param.iterations, param.salt) == (1, 0, 0, b"")  # RFC 9276
    chain: dict[str, NSEC3] = {}
    for name, rdataset in zone.iterate_rdatasets(dns.rdatatype.NSEC3):
        chain[name.labels[0].decode().upper()] = rdataset[0]
    # Every authoritative name and empty non-terminal, and nothing below the cut.
    expected = ["", "www", "a.b.c", "b.c", "c", "*.dev", "dev", "sub"]
    hashes = {dns.dnssec.nsec3_hash(dns.name.from_text(n, origin) if n else origin, None, 0, 1): n for n in expected}
    assert set(chain) == set(hashes)
    # One closed ring: following "next" from any hash visits them all.
    order = sorted(chain)
    for i, owner in enumerate(order):
        assert base64.b32hexencode(chain[owner].next).decode() == order[(i + 1) % len(order)]
    # A missing name hashes strictly between an owner and its next (or past the last, wrapping).
    missing = dns.dnssec.nsec3_hash(dns.name.from_text("nothere", origin), None, 0, 1)
    assert missing not in chain
    covering = [o for o in order if o < missing]
    owner = covering[-1] if covering else order[-1]
    nxt = base64.b32hexencode(chain[owner].next).decode()
    assert owner < missing < nxt or (owner == order[-1] and (missing > owner or missing < nxt))
    # ... and that covering record's signature validates (it is part of every RRset above, too).
    node = zone.get_node(dns.name.from_text(owner.lower(), origin))
    assert node is not None
    sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.NSEC3)
    keys = {origin: zone.find_rdataset(origin, dns.rdatatype.DNSKEY)}
    dns.dnssec.validate(
        (node_name := dns.name.from_text(owner.lower(), origin), node.find_rdataset(1, dns.rdatatype.NSEC3)),
        (node_name, sigs),
        keys,
        now=clock.now,
    )
    # The bitmap of www says A and RRSIG only: no other type exists there.
    www = chain[dns.dnssec.nsec3_hash(dns.name.from_text("www", origin), None, 0, 1)]
    types = {t for window, bitmap in www.windows for t in _types(window, bitmap)}
    assert types == {dns.rdatatype.A, dns.rdatatype.RRSIG}


def _types(window: int, bitmap: bytes) -> set[int]:
    return {window * 256 + i * 8 + j for i, byte in enumerate(bitmap) for j in range(8) if byte & (0x80 >> j)}


def test_nsec_denial_signs_with_an_nsec_chain(tmp_path: Path) -> None:
    clock = Clock()
    backend = ZoneFileBackend(tmp_path, clock=clock)
    backend.create_zone(_config("NSEC"), SETS)
    zone = _served(backend)
    assert validate_every_rrset(zone, clock.now, _unsigned) > len(SETS)
    assert not list(zone.iterate_rdatasets(dns.rdatatype.NSEC3))
    assert len(list(zone.iterate_rdatasets(dns.rdatatype.NSEC))) == 5  # @, www, a.b.c, *.dev and the cut sub
    assert backend.dnssec_state(ZONE).problem is None


def test_a_record_change_re_signs_and_an_empty_apply_re_signs_only_inside_the_window(tmp_path: Path) -> None:
    clock = Clock()
    backend = ZoneFileBackend(tmp_path, clock=clock, signature_validity=1000, resign_window=400)
    backend.create_zone(_config(), SETS)
    writes = backend.stats.writes
    clock.now += 100
    backend.apply(_config(), ChangeSet((record_set("new", "AAAA", 300, ["2001:db8::5"]),)))
    assert backend.stats.writes == writes + 1
    validate_every_rrset(_served(backend), clock.now, _unsigned)
    clock.now += 599  # signed at +100 for 1000 s: 401 s left, not yet inside the window
    backend.apply(_config(), ChangeSet())
    assert backend.stats.writes == writes + 1
    clock.now += 2  # 399 s left
    serial = backend.read_zone(ZONE).serial  # type: ignore[union-attr]
    after = backend.apply(_config(), ChangeSet())
    assert backend.stats.writes == writes + 2 and after.serial > serial
    zone = _served(backend)
    validate_every_rrset(zone, clock.now, _unsigned)
    sigs = [rd for _, rds in zone.iterate_rdatasets() if rds.rdtype == dns.rdatatype.RRSIG for rd in rds]
    assert sigs and all(isinstance(rd, RRSIG) for rd in sigs)
    expiries = [rd.expiration for rd in sigs]
    assert min(expiries) == int(clock.now) + 1000
    assert backend.dnssec_state(ZONE).signatures_expire == int(clock.now) + 1000


def test_expired_signatures_are_reported_as_not_validating(tmp_path: Path) -> None:
    clock = Clock()
    backend = ZoneFileBackend(tmp_path, clock=clock, signature_validity=1000, resign_window=400)
    backend.create_zone(_config(), SETS)
    clock.now += 2000
    state = backend.dnssec_state(ZONE)
    assert state.signed and state.problem is not None and "expired" in state.problem


def test_turning_dnssec_off_removes_every_dnssec_record(tmp_path: Path) -> None:
    clock = Clock()
    backend = ZoneFileBackend(tmp_path, clock=clock)
    backend.create_zone(_config(), SETS)
    backend.apply(ZoneConfig(ZONE, SOA), ChangeSet())
    zone = _served(backend)
    types = {dns.rdatatype.to_text(r.rdtype) for _, node in zone.nodes.items() for r in node}
    assert not types & DNSSEC_TYPES
    assert not backend.dnssec_state(ZONE).signed
    writes = backend.stats.writes
    backend.apply(ZoneConfig(ZONE, SOA), ChangeSet())
    assert backend.stats.writes == writes  # an unsigned zone kept unsigned writes nothing


def test_a_new_key_re_signs_and_publishes_the_new_dnskey(tmp_path: Path) -> None:
    clock = Clock()
    backend = ZoneFileBackend(tmp_path, clock=clock)
    backend.create_zone(_config(), SETS)
    other = signing.generate_key(clock.now)
    config = replace(_config(), dnssec=DnssecSettings(signing_keys=(other,)))
    backend.apply(config, ChangeSet())
    assert backend.dnssec_state(ZONE).dnskeys == (signing.dnskey_of(other).to_text(),)
    validate_every_rrset(_served(backend), clock.now, _unsigned)


def test_a_signing_key_never_appears_in_errors() -> None:
    broken = replace(KEY, private_pem=b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(Exception) as caught:
        signing.dnskey_of(broken)
    assert b"not a key" not in str(caught.value).encode()
    assert KEY.private_pem.decode() not in repr(DnssecSettings(signing_keys=(KEY,)))
