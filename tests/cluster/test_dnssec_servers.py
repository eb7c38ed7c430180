"""DNSSEC signed by the servers themselves: BIND 9 (a dnssec-policy set through rndc) and PowerDNS
(keys and NSEC3PARAM through its HTTP API), each driven through the ``Backend`` interface.

What is served is checked as a validating resolver would: every answer is asked for with the DO
bit and each RRset is validated with dnspython against the DNSKEY set the server serves, whose
own signature is validated too, and the DS ``dnssec_state`` reports must be the digest of the
served key-signing key. BIND signs asynchronously, so tests wait on the server's answers (never
on sleeps alone) with a bounded wait. BIND runs the harness's short-lived test policies
(harness/bind.py: 10-minute signatures refreshed 8 minutes before they expire, TTLs of seconds),
so the record TTLs here stay at or below 60 s.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import dns.dnssec
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.NSEC3PARAM import NSEC3PARAM
from dns.rdtypes.ANY.RRSIG import RRSIG
from dns.rdtypes.ANY.SOA import SOA as SOA_RDATA

from harness.bind import BindServer
from siteplane.dns.backend import (
    DNSSEC_TYPES,
    Backend,
    BackendError,
    BackendStats,
    DnssecSettings,
    DnssecState,
    SOASettings,
    ZoneConfig,
)
from siteplane.dns.rfc2136 import RFC2136Backend
from siteplane.domain.changes import ChangeSet
from siteplane.domain.records import RecordSet, apex_ns, canonical_rdata, record_set
from tests.backend_targets import BindTarget, PowerDNSTarget

pytestmark = pytest.mark.cluster

T = TypeVar("T")
Target = BindTarget | PowerDNSTarget

SOA = SOASettings("ns1.example.net.", "hostmaster.example.net.", 3600, 600, 86400, 60, 60)
RECORDS = (
    apex_ns(60, ["ns1.example.net"]),
    record_set("@", "MX", 60, [SimpleNamespace(preference=10, host="mail.example.net")]),
    record_set("www", "A", 60, ["192.0.2.1", "192.0.2.2"]),
    record_set("www", "AAAA", 60, ["2001:db8::1"]),
    record_set("alias", "CNAME", 60, ["www.example.net"]),
    record_set("txt", "TXT", 60, ["v=spf1 -all"]),
    record_set("deep.a.b", "A", 60, ["192.0.2.3"]),  # empty non-terminals above it
    record_set("sub", "NS", 60, ["ns.example.net"]),  # an insecure delegation: NS not signed, no DS
)
DELEGATION = ("sub", "NS")
WAIT = 60.0  # how long BIND may take to sign or unsign a small zone; it takes well under a second here
POLL = 0.2


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = WAIT, describe: Callable[[], str] | None = None
) -> T:
    """``probe()``'s first true result, asked every POLL seconds; fails after ``timeout`` saying
    ``what`` (and what ``describe()`` says of the state then)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f"; {describe()}" if describe else ""
            pytest.fail(f"not within {timeout:.0f} s: {what} (last: {result!r}){detail}")
        time.sleep(POLL)


@pytest.fixture(params=["rfc2136", "powerdns"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "rfc2136":
        return BindTarget(request.getfixturevalue("bind_server"))
    return PowerDNSTarget(request.getfixturevalue("powerdns_server"))


@dataclasses.dataclass
class Zone:
    target: Target
    backend: Backend
    name: str
    dnssec: DnssecSettings | None = dataclasses.field(default_factory=DnssecSettings)

    @property
    def config(self) -> ZoneConfig:
        return ZoneConfig(self.name, SOA, self.dnssec)

    @property
    def origin(self) -> dns.name.Name:
        return dns.name.from_text(self.name, origin=dns.name.root)

    def owner(self, name: str) -> dns.name.Name:
        return self.origin if name == "@" else dns.name.from_text(name, origin=self.origin)

    def ask(self, name: str | dns.name.Name, rdtype: str) -> dns.message.Message:
        """One query with the DO bit, over TCP (signed answers outgrow 512 bytes)."""
        owner = name if isinstance(name, dns.name.Name) else self.owner(name)
        query = dns.message.make_query(owner, rdtype, want_dnssec=True)
        server = self.target.server
        return dns.query.tcp(query, server.address, port=server.port, timeout=5)

    def keys(self) -> dns.rrset.RRset:
        """The served DNSKEY set, validated against itself (the KSK signs it)."""
        response = self.ask("@", "DNSKEY")
        validated = validate_section(response.answer, None, self.origin)
        assert [r.rdtype for r in validated] == [dns.rdatatype.DNSKEY], response
        return validated[0]

    def signed_state(self) -> DnssecState | None:
        state = self.backend.dnssec_state(self.name)
        return state if state.signed else None

    def wait_signed(self, what: str = "") -> DnssecState:
        return wait_for(what or f"{self.name} served signed", self.signed_state, describe=self.unsigned_rrsets)

    def unsigned_rrsets(self) -> str:
        """What a zone transfer shows without a signature (for a failure's message)."""
        server = self.target.server
        keyring = self.target._keyring() if isinstance(self.target, BindTarget) else None
        messages = dns.query.xfr(server.address, self.origin, port=server.port, keyring=keyring, timeout=5)
        transferred = dns.zone.from_xfr(messages, relativize=True)
        missing = []
        for name, node in transferred.nodes.items():
            covered = {rd.type_covered for rds in node if rds.rdtype == dns.rdatatype.RRSIG for rd in rds}
            missing += [
                f"{name} {dns.rdatatype.to_text(rds.rdtype)}"
                for rds in node
                if rds.rdtype != dns.rdatatype.RRSIG and rds.rdtype not in covered
            ]
        serial = transferred.get_soa().serial
        return f"serial {serial}, served without RRSIG: {', '.join(missing) or 'nothing'}{self.server_log()}"

    def server_log(self, lines: int = 40) -> str:
        """What named logged about this zone (its signing, its key manager), for a failure's message."""
        if not isinstance(self.target, BindTarget):
            return ""
        log = self.target.server.log_file.read_text(errors="replace").splitlines()
        about = [line for line in log if self.name.rstrip(".") in line][-lines:]
        return "\nnamed.log on the zone:\n" + "\n".join(about)


def validate_section(
    section: list[dns.rrset.RRset], keys: dns.rrset.RRset | None, origin: dns.name.Name
) -> list[dns.rrset.RRset]:
    """Every RRset in ``section`` but the RRSIGs, each validated against ``keys`` (None: against the
    DNSKEY set in ``section`` itself) by its RRSIG; AssertionError naming any without a valid one."""
    signatures = {(r.name, r.covers): r for r in section if r.rdtype == dns.rdatatype.RRSIG}
    data = [r for r in section if r.rdtype != dns.rdatatype.RRSIG]
    if keys is None:
        keys = next(r for r in data if r.rdtype == dns.rdatatype.DNSKEY)
    for rrset in data:
        sig = signatures.get((rrset.name, rrset.rdtype))
        assert sig is not None, f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} served without an RRSIG"
        dns.dnssec.validate(rrset, sig, {origin: keys})  # raises ValidationFailure
    return data


@pytest.fixture
def zone(target: Target) -> Iterator[Zone]:
    zone = Zone(target, target.backend(), target.new_zone())
    yield zone
    target.backend().remove_zone(zone.name)


def signed_zone(zone: Zone) -> DnssecState:
    """Create ``zone`` with RECORDS and signing on; the state once the server serves it signed."""
    zone.backend.create_zone(zone.config, RECORDS)
    return zone.wait_signed()


def sep_keys(keys: dns.rrset.RRset) -> list[DNSKEY]:
    return [k for k in keys if isinstance(k, DNSKEY) and k.flags & 0x0001]


def test_every_served_rrset_validates_and_the_ds_is_the_served_ksks(zone: Zone) -> None:
    state = signed_zone(zone)
    assert state.problem is None
    keys = zone.keys()
    assert {k.algorithm for k in keys} == {13}
    ksks = sep_keys(keys)
    assert ksks and sorted(state.dnskeys) == sorted(k.to_text() for k in ksks)
    # What the registrar gets: the SHA-256 digest of each key-signing key the zone serves.
    assert sorted(state.ds) == sorted(dns.dnssec.make_ds(zone.origin, k, "SHA256").to_text() for k in ksks)
    assert all(ds.split()[2] == "2" for ds in state.ds)

    expirations = []
    for rs in RECORDS:
        response = zone.ask(rs.name, rs.type)
        assert response.rcode() == dns.rcode.NOERROR
        if (rs.name, rs.type) == DELEGATION:
            # A referral: the NS at the cut is not signed; the proof that there is no DS is.
            assert not response.answer and any(r.rdtype == dns.rdatatype.NS for r in response.authority)
            proof = validate_section([r for r in response.authority if r.rdtype != dns.rdatatype.NS], keys, zone.origin)
            assert {r.rdtype for r in proof} == {dns.rdatatype.NSEC3}
            continue
        validated = validate_section(response.answer, keys, zone.origin)
        served = {(r.name, dns.rdatatype.to_text(r.rdtype)) for r in validated}
        assert (zone.owner(rs.name), rs.type) in served
        expirations += [sig.expiration for r in response.answer if r.rdtype == dns.rdatatype.RRSIG for sig in r]
    assert state.signatures_expire is not None and time.time() < state.signatures_expire <= min(expirations)


def test_read_zone_hides_the_signers_records_and_an_empty_apply_writes_nothing(zone: Zone) -> None:
    signed_zone(zone)
    content = zone.backend.read_zone(zone.name)
    assert content is not None
    assert not {rs.type for rs in content.record_sets.values()} & DNSSEC_TYPES
    assert sorted(content.record_sets.values(), key=lambda r: r.key) == sorted(RECORDS, key=lambda r: r.key)

    before = dataclasses.replace(zone.backend.stats)
    served = zone.backend.apply(zone.config, ChangeSet())
    spent = zone.backend.stats - before
    assert spent.writes == 0, spent
    assert spent.probes == 1, spent
    assert served.record_sets == content.record_sets
    # A fresh backend object (nothing remembered) finds the signing as asked for too.
    fresh = zone.target.backend()
    before = dataclasses.replace(fresh.stats)
    fresh.apply(zone.config, ChangeSet())
    assert (fresh.stats - before).writes == 0
    assert zone.signed_state() is not None
    # Asking again while nothing changed costs one request (BIND: the SOA query; the zone transfer
    # is needed only when the serial moved). BIND may still move it on its own for a while (it
    # publishes CDS/CDNSKEY once the new KSK has been out for its TTL): only a round that began and
    # ended at one serial counts, and the next one after a move does.
    for _ in range(20):
        serial = _serial(zone)
        assert zone.signed_state() is not None  # the backend knows the zone at this serial (or later)
        before = dataclasses.replace(zone.backend.stats)
        assert zone.signed_state() is not None
        spent = zone.backend.stats - before
        if _serial(zone) == serial:
            assert spent == BackendStats(probes=1)
            break
        time.sleep(0.5)
    else:
        pytest.fail("the zone's serial never held still for two questions")


def _serial(zone: Zone) -> int:
    soa = zone.ask("@", "SOA").answer
    return next(rd.serial for r in soa for rd in r if isinstance(rd, SOA_RDATA))


def test_a_record_change_on_a_signed_zone_is_served_signed(zone: Zone) -> None:
    signed_zone(zone)
    keys = zone.keys()
    changed = record_set("www", "A", 60, ["192.0.2.9"])
    added = record_set("new", "TXT", 60, ["added later"])
    served = zone.backend.apply(zone.config, ChangeSet(upserts=(changed, added), deletes=(RECORDS[3].key,)))
    assert served.record_sets[changed.key] == changed and served.record_sets[added.key] == added
    assert RECORDS[3].key not in served.record_sets
    assert not {rs.type for rs in served.record_sets.values()} & DNSSEC_TYPES

    for rs in (changed, added):
        answer = wait_for(f"{rs.key} served signed", partial(_signed_answer, zone, rs))
        validate_section(answer, keys, zone.origin)
    # The deleted AAAA is now a validated NODATA.
    _validated_denial(zone, "www", "AAAA", dns.rcode.NOERROR, keys, "NSEC3")


def _signed_answer(zone: Zone, rs: RecordSet) -> list[dns.rrset.RRset] | None:
    answer = zone.ask(rs.name, rs.type).answer
    rdtype = dns.rdatatype.from_text(rs.type)
    texts = {canonical_rdata(rdtype, rd.to_text()) for r in answer if r.rdtype == rdtype for rd in r}
    signed = any(r.rdtype == dns.rdatatype.RRSIG for r in answer)
    return answer if signed and texts == set(rs.rdata) else None


def _validated_denial(
    zone: Zone, name: str, rdtype: str, rcode: dns.rcode.Rcode, keys: dns.rrset.RRset, denial: str
) -> list[dns.rrset.RRset]:
    response = zone.ask(name, rdtype)
    assert response.rcode() == rcode and not response.answer, response
    proof = validate_section(response.authority, keys, zone.origin)
    kinds = {dns.rdatatype.to_text(r.rdtype) for r in proof}
    assert kinds == {"SOA", denial}, kinds
    return proof


@pytest.mark.parametrize("denial", ["NSEC3", "NSEC"])
def test_negative_answers_carry_validated_denial_of_existence(zone: Zone, denial: str) -> None:
    zone.dnssec = DnssecSettings(denial=denial)  # type: ignore[arg-type]
    signed_zone(zone)
    keys = zone.keys()
    if denial == "NSEC3":
        # RFC 9276: no extra iterations, no salt, no opt-out.
        param = zone.ask("@", "NSEC3PARAM")
        validate_section(param.answer, keys, zone.origin)
        values = [rd for r in param.answer for rd in r if isinstance(rd, NSEC3PARAM)]
        assert [(p.algorithm, p.flags, p.iterations, p.salt) for p in values] == [(1, 0, 0, b"")]
    else:
        assert not zone.ask("@", "NSEC3PARAM").answer
    nxdomain = _validated_denial(zone, "nowhere", "A", dns.rcode.NXDOMAIN, keys, denial)
    nodata = _validated_denial(zone, "www", "TXT", dns.rcode.NOERROR, keys, denial)
    _validated_denial(zone, "a.b", "A", dns.rcode.NOERROR, keys, denial)  # an empty non-terminal
    if denial == "NSEC3":
        for proof in (nxdomain, nodata):
            hashed = [rd for r in proof for rd in r if isinstance(rd, NSEC3)]
            assert hashed and all(rd.iterations == 0 and rd.salt == b"" and not rd.flags & 1 for rd in hashed)


def test_signatures_still_validate_after_the_server_renews_them(zone: Zone) -> None:
    signed_zone(zone)
    keys = zone.keys()
    www = RECORDS[2]
    first = _rrsig(zone, www)
    known = zone.backend.read_zone(zone.name)
    assert known is not None
    if zone.target.kind == "rfc2136":
        # The test policy's signatures live 9-10 minutes and are renewed 8 minutes before they
        # expire: within about two minutes BIND has re-signed the zone on its own.
        def renewed_signature() -> RRSIG | None:
            now = _rrsig(zone, www)
            return now if now.expiration > first.expiration else None

        renewed = wait_for("BIND re-signed www A", renewed_signature, 180.0)
        assert renewed.inception > first.inception
        # Re-signing moved the serial; what it changed is signatures only, which a read hides. The
        # read asks for the differences (IXFR; BIND sends the whole zone instead when they would be
        # no smaller, as when every signature was renewed at once) and writes nothing.
        before = dataclasses.replace(zone.backend.stats)
        content = zone.backend.read_zone(zone.name)
        spent = zone.backend.stats - before
        assert (spent.probes, spent.incremental_reads, spent.writes) == (1, 1, 0), spent
        assert content is not None and content.serial > known.serial
        assert content.record_sets == known.record_sets
    else:
        # PowerDNS signs each answer as it goes out, with a window fixed per week: from the start of
        # the previous week (weeks start Thursday 00:00 UTC, the epoch's weekday) to two weeks after
        # the start of this one. Every answer is so signed afresh, and the window moves on by a week
        # every Thursday; a test cannot wait a week, so it checks the window is that rule's.
        now = int(time.time())
        week = 7 * 86400
        start = now - now % week
        renewed = _rrsig(zone, www)
        assert (renewed.inception, renewed.expiration) == (start - week, start + 2 * week)
        state = zone.backend.dnssec_state(zone.name)
        assert state.signatures_expire == renewed.expiration
    answer = zone.ask(www.name, www.type).answer
    validate_section(answer, keys, zone.origin)
    validate_section(zone.ask("nowhere", "A").authority, keys, zone.origin)


def _rrsig(zone: Zone, rs: RecordSet) -> RRSIG:
    answer = zone.ask(rs.name, rs.type).answer
    sigs = [rd for r in answer if r.rdtype == dns.rdatatype.RRSIG for rd in r if isinstance(rd, RRSIG)]
    assert len(sigs) == 1, answer
    return sigs[0]


def test_turning_signing_off_leaves_an_unsigned_zone(zone: Zone) -> None:
    signed_zone(zone)
    zone.dnssec = None
    before = dataclasses.replace(zone.backend.stats)
    zone.backend.apply(zone.config, ChangeSet())
    assert (zone.backend.stats - before).writes >= 1  # a change of settings is a write

    def unsigned() -> bool:
        # BIND withdraws the keys first (dnssec-policy insecure) and drops the policy on a later
        # sync once nothing signed is served; each sync goes as far as the server allows.
        zone.backend.apply(zone.config, ChangeSet())
        response = zone.ask("@", "SOA")
        return not zone.ask("@", "DNSKEY").answer and not any(r.rdtype == dns.rdatatype.RRSIG for r in response.answer)

    wait_for(f"{zone.name} served unsigned", unsigned)
    assert zone.backend.dnssec_state(zone.name) == DnssecState(signed=False)
    for rs in RECORDS:
        response = zone.ask(rs.name, rs.type)
        assert not any(
            r.rdtype in (dns.rdatatype.RRSIG, dns.rdatatype.NSEC3) for r in (*response.answer, *response.authority)
        )
    nx = zone.ask("nowhere", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert {r.rdtype for r in nx.authority} == {dns.rdatatype.SOA}
    if isinstance(zone.target, BindTarget):
        wait_for("dnssec-policy none", lambda: _unsigned_in_bind(zone))
    # Settled: another sync writes nothing.
    before = dataclasses.replace(zone.backend.stats)
    content = zone.backend.apply(zone.config, ChangeSet())
    assert (zone.backend.stats - before).writes == 0
    assert sorted(content.record_sets.values(), key=lambda r: r.key) == sorted(RECORDS, key=lambda r: r.key)


def _unsigned_in_bind(zone: Zone) -> bool:
    zone.backend.apply(zone.config, ChangeSet())
    assert isinstance(zone.target, BindTarget)
    return "dnssec-policy" not in zone.target.server.rndc("showzone", zone.name)


def test_signing_turned_on_for_an_existing_unsigned_zone(zone: Zone) -> None:
    zone.dnssec = None
    zone.backend.create_zone(zone.config, RECORDS)
    assert zone.backend.dnssec_state(zone.name) == DnssecState(signed=False)
    assert not zone.ask("@", "DNSKEY").answer
    zone.dnssec = DnssecSettings()
    before = dataclasses.replace(zone.backend.stats)
    zone.backend.apply(zone.config, ChangeSet())
    assert (zone.backend.stats - before).writes >= 1
    zone.wait_signed()
    keys = zone.keys()
    validate_section(zone.ask("www", "A").answer, keys, zone.origin)
    _validated_denial(zone, "nowhere", "A", dns.rcode.NXDOMAIN, keys, "NSEC3")


def test_switching_denial_of_existence_is_one_settings_write_and_serves_the_other_chain(zone: Zone) -> None:
    signed_zone(zone)  # NSEC3
    zone.dnssec = DnssecSettings(denial="NSEC")
    before = dataclasses.replace(zone.backend.stats)
    zone.backend.apply(zone.config, ChangeSet())
    assert (zone.backend.stats - before).writes >= 1
    keys = zone.keys()

    def nsec_proof() -> list[dns.rrset.RRset] | None:
        response = zone.ask("nowhere", "A")
        kinds = {r.rdtype for r in response.authority}
        return response.authority if dns.rdatatype.NSEC in kinds and dns.rdatatype.NSEC3 not in kinds else None

    validate_section(wait_for("NXDOMAIN proved by NSEC", nsec_proof), keys, zone.origin)
    assert not zone.ask("@", "NSEC3PARAM").answer
    zone.wait_signed(f"{zone.name} served signed with NSEC")
    before = dataclasses.replace(zone.backend.stats)
    zone.backend.apply(zone.config, ChangeSet())
    assert (zone.backend.stats - before).writes == 0


def test_bind_keeps_the_zones_configuration_when_its_policy_changes(bind_server: BindServer) -> None:
    target = BindTarget(bind_server)
    zone = Zone(target, target.backend(), target.new_zone(), None)
    try:
        zone.backend.create_zone(zone.config, RECORDS)
        before = bind_server.rndc("showzone", zone.name)
        assert "dnssec-policy" not in before
        zone.dnssec = DnssecSettings()
        zone.backend.apply(zone.config, ChangeSet())
        after = bind_server.rndc("showzone", zone.name)
        assert 'dnssec-policy "siteplane-test-nsec3";' in after
        # Everything else as named had it: file, updates and transfers by the TSIG key.
        assert after.replace(' dnssec-policy "siteplane-test-nsec3";', "").split() == before.split()
        zone.wait_signed()
    finally:
        target.backend().remove_zone(zone.name)


def test_a_policy_named_conf_does_not_define_is_refused_saying_so(bind_server: BindServer) -> None:
    target = BindTarget(bind_server)
    provisioner = target.provisioner()
    provisioner.dnssec_policies = {"NSEC3": "not-in-named-conf", "NSEC": "not-in-named-conf"}
    name = target.new_zone()
    with pytest.raises(BackendError) as refused:
        provisioner.create(ZoneConfig(name, SOA, DnssecSettings()), RECORDS[:1])
    assert not refused.value.retryable
    assert "named.conf must define dnssec-policy 'not-in-named-conf'" in str(refused.value)
    provisioner.remove(name)


def test_without_a_zone_signer_bind_zones_are_signed_only_by_the_servers_own_configuration(
    bind_server: BindServer,
) -> None:
    target = BindTarget(bind_server)
    plain = target.backend()
    assert isinstance(plain, RFC2136Backend)
    plain.zone_signer = None  # RFC 2136 alone: no rndc to set a dnssec-policy with
    zone = Zone(target, plain, target.new_zone(), None)
    try:
        plain.create_zone(zone.config, RECORDS)
        zone.dnssec = DnssecSettings()
        before = dataclasses.replace(plain.stats)
        with pytest.raises(BackendError) as refused:
            plain.apply(zone.config, ChangeSet(upserts=(record_set("new", "A", 60, ["192.0.2.5"]),)))
        assert not refused.value.retryable and "no zone_signer" in str(refused.value)
        assert (plain.stats - before).writes == 0
        # Signed by named's own configuration (here: the policy set by hand): good enough.
        target.provisioner().set_signing(zone.name, DnssecSettings(), lambda: True)
        zone.wait_signed()
        plain.apply(zone.config, ChangeSet())
    finally:
        target.backend().remove_zone(zone.name)
