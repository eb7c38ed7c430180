"""PowerDNSBackend against a real PowerDNS 4.7: what it writes is read back equal and served over DNS."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from harness.powerdns import PowerDNSServer, running_powerdns
from siteplane.dns.backend import BackendError, SOASettings, ZoneConfig, ZoneMissing
from siteplane.dns.powerdns import PowerDNSBackend
from siteplane.domain.names import fqdn
from siteplane.domain.records import RecordSet, apex_ns, canonical_rdata, record_set
from siteplane.planning.changes import ChangeSet

pytestmark = pytest.mark.cluster

SOA = SOASettings(mname="ns1.example.net.", rname="hostmaster.example.net.", minimum=60)
NS = apex_ns(3600, ["ns1.example.net.", "ns2.example.net."])
# Quotes, a semicolon, a backslash, a non-ASCII letter, and more than one 255-byte character-string.
LONG_TXT = 'v=spf1 a; include:"_spf.example.net" back\\slash é ' + "x" * 300


@pytest.fixture(scope="module")
def pdns() -> Iterator[PowerDNSServer]:
    with running_powerdns() as server:
        yield server


@pytest.fixture
def backend(pdns: PowerDNSServer) -> PowerDNSBackend:
    return PowerDNSBackend(pdns.api_url, pdns.api_key, pdns.server_id, timeout=5.0)


@pytest.fixture
def zone(pdns: PowerDNSServer) -> Iterator[ZoneConfig]:
    """A zone name of the test's own, removed afterwards whatever the test did."""
    config = ZoneConfig(f"z{uuid.uuid4().hex[:12]}.test", SOA)
    yield config
    if not pdns.running:
        pdns.start()
    status, body = pdns.api("DELETE", f"/api/v1/servers/localhost/zones/{config.name}.")
    assert status in (204, 404), body


def served(pdns: PowerDNSServer, zone: str, owner: str, rdtype: str) -> tuple[int, set[str]] | None:
    """(TTL, canonical rdata texts) the server gives for ``owner``/``rdtype``: answer, else referral."""
    response = pdns.query(fqdn(owner, zone) + ".", rdtype)
    name = dns.name.from_text(fqdn(owner, zone) + ".")
    kind = dns.rdatatype.from_text(rdtype)
    for section in (response.answer, response.authority):
        rrset = response.get_rrset(section, name, dns.rdataclass.IN, kind)
        if rrset is not None:
            return rrset.ttl, {canonical_rdata(rdtype, rd.to_text()) for rd in rrset}
    return None


def assert_served(pdns: PowerDNSServer, zone: str, *record_sets: RecordSet) -> None:
    for rs in record_sets:
        assert served(pdns, zone, rs.name, rs.type) == (rs.ttl, set(rs.rdata)), rs


def every_type() -> list[RecordSet]:
    mx = SimpleNamespace(preference=10, host="mail.example.net")
    srv = SimpleNamespace(priority=1, weight=5, port=5060, target="sip.example.net")
    caa = SimpleNamespace(flags=0, tag="issue", value="letsencrypt.org")
    return [
        record_set("www", "A", 300, ["192.0.2.1", "192.0.2.2"]),
        record_set("www", "AAAA", 300, ["2001:db8::1"]),
        record_set("alias", "CNAME", 300, ["www.example.net"]),
        record_set("@", "MX", 3600, [mx]),
        record_set("_sip._tcp", "SRV", 600, [srv]),
        record_set("@", "CAA", 3600, [caa]),
        record_set("@", "TXT", 300, [LONG_TXT, "short one", ""]),
        record_set("sub", "NS", 3600, ["ns1.elsewhere.example", "ns2.elsewhere.example"]),
        record_set("1.2", "PTR", 300, ["host.example.net"]),
    ]


def test_repr_and_str_never_show_the_key(pdns: PowerDNSServer, backend: PowerDNSBackend) -> None:
    for text in (repr(backend), str(backend)):
        assert pdns.api_key not in text
        assert pdns.api_url in text


def test_create_zone_then_read_zone_equals_what_was_written(
    pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    sets = [NS, record_set("www", "A", 300, ["192.0.2.1"]), record_set("@", "TXT", 300, ["hello"])]
    serial = backend.create_zone(zone, sets)
    content = backend.read_zone(zone.name)
    assert content is not None
    assert dict(content.record_sets) == {rs.key: rs for rs in sets}
    assert content.serial == serial > 0
    assert content.soa == SOA
    assert_served(pdns, zone.name, *sets)


def test_every_type_round_trips_and_is_served(pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig) -> None:
    backend.create_zone(zone, [NS])
    sets = every_type()
    backend.apply(zone, ChangeSet(upserts=tuple(sets)))
    content = backend.read_zone(zone.name)
    assert content is not None
    assert dict(content.record_sets) == {rs.key: rs for rs in [NS, *sets]}
    assert_served(pdns, zone.name, NS, *sets)


def test_ttl_change(pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig) -> None:
    a = record_set("www", "A", 300, ["192.0.2.1"])
    backend.create_zone(zone, [NS, a])
    longer = record_set("www", "A", 7200, ["192.0.2.1"])
    backend.apply(zone, ChangeSet(upserts=(longer,)))
    content = backend.read_zone(zone.name)
    assert content is not None and content.record_sets[a.key] == longer
    assert_served(pdns, zone.name, longer)


def test_type_change_a_to_cname_in_one_change_set(
    pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    a = record_set("www", "A", 300, ["192.0.2.1"])
    backend.create_zone(zone, [NS, a])
    cname = record_set("www", "CNAME", 300, ["target.example.net"])
    patches = backend.patches_sent
    backend.apply(zone, ChangeSet(upserts=(cname,), deletes=(a.key,)))
    assert backend.patches_sent - patches == 1
    content = backend.read_zone(zone.name)
    assert content is not None and dict(content.record_sets) == {NS.key: NS, cname.key: cname}
    assert_served(pdns, zone.name, cname)


def test_500_record_sets_in_one_patch(pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig) -> None:
    backend.create_zone(zone, [NS])
    sets = [record_set(f"h{i}", "A", 300, [f"198.51.{i // 256}.{i % 256}"]) for i in range(500)]
    patches = backend.patches_sent
    backend.apply(zone, ChangeSet(upserts=tuple(sets)))
    assert backend.patches_sent - patches == 1
    content = backend.read_zone(zone.name)
    assert content is not None and len(content.record_sets) == 501
    assert_served(pdns, zone.name, *sets)


def test_empty_apply_writes_nothing_and_keeps_the_serial(backend: PowerDNSBackend, zone: ZoneConfig) -> None:
    serial = backend.create_zone(zone, [NS])
    requests, patches = backend.requests_sent, backend.patches_sent
    assert backend.apply(zone, ChangeSet()) == serial
    assert backend.patches_sent == patches
    assert backend.requests_sent - requests == 1  # one GET of the SOA: the current serial and SOA settings
    content = backend.read_zone(zone.name)
    assert content is not None and content.serial == serial


def test_serial_rises_on_every_change_including_soa_settings(
    pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    serials = [backend.create_zone(zone, [NS])]
    a = record_set("www", "A", 300, ["192.0.2.1"])
    serials.append(backend.apply(zone, ChangeSet(upserts=(a,))))
    serials.append(backend.apply(zone, ChangeSet(deletes=(a.key,))))
    moved = ZoneConfig(zone.name, SOASettings("ns9.example.net.", "dns.example.net.", 1800, 300, 604800, 30, 600))
    serials.append(backend.apply(moved, ChangeSet()))
    assert serials == sorted(set(serials)), serials
    content = backend.read_zone(zone.name)
    assert content is not None and content.soa == moved.soa and content.serial == serials[-1]
    response = pdns.query(zone.name + ".", "SOA")
    (soa,) = response.answer[0]
    assert soa.mname.to_text() == "ns9.example.net." and soa.serial == serials[-1] and soa.minimum == 30
    assert backend.apply(moved, ChangeSet()) == serials[-1]


def test_create_zone_is_idempotent(backend: PowerDNSBackend, zone: ZoneConfig) -> None:
    a = record_set("www", "A", 300, ["192.0.2.1"])
    first = backend.create_zone(zone, [NS, a])
    b = record_set("api", "AAAA", 300, ["2001:db8::2"])
    second = backend.create_zone(zone, [NS, b])
    assert second > first
    content = backend.read_zone(zone.name)
    assert content is not None and dict(content.record_sets) == {NS.key: NS, b.key: b}
    assert backend.create_zone(zone, [NS, b]) == second  # nothing to do: no write, same serial


def test_wrong_api_key_is_not_retryable_changes_nothing_and_is_not_shown(
    pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    backend.create_zone(zone, [NS])
    wrong_key = "wrong-" + uuid.uuid4().hex
    wrong = PowerDNSBackend(pdns.api_url, wrong_key, pdns.server_id)
    calls: list[Callable[[], object]] = [
        lambda: wrong.apply(zone, ChangeSet(upserts=(record_set("www", "A", 300, ["192.0.2.1"]),))),
        lambda: wrong.read_zone(zone.name),
        lambda: wrong.remove_zone(zone.name),
        lambda: wrong.create_zone(zone, [NS]),
    ]
    for call in calls:
        with pytest.raises(BackendError) as info:
            call()
        assert info.value.retryable is False
        assert "rejected the API key" in str(info.value)
        assert wrong_key not in str(info.value) and pdns.api_key not in str(info.value)
    content = backend.read_zone(zone.name)
    assert content is not None and dict(content.record_sets) == {NS.key: NS}


def test_rejected_content_is_not_retryable_quotes_powerdns_and_changes_nothing(
    backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    a = record_set("www", "A", 300, ["192.0.2.1"])
    serial = backend.create_zone(zone, [NS, a])
    # A CNAME next to an A record: PowerDNS refuses the whole PATCH with 422.
    clash = record_set("www", "CNAME", 300, ["target.example.net"])
    ok = record_set("other", "A", 300, ["192.0.2.9"])
    with pytest.raises(BackendError) as info:
        backend.apply(zone, ChangeSet(upserts=(clash, ok)))
    assert info.value.retryable is False
    assert "422" in str(info.value) and "CNAME" in str(info.value)
    content = backend.read_zone(zone.name)
    assert content is not None and dict(content.record_sets) == {NS.key: NS, a.key: a}
    assert content.serial == serial


def test_server_down_is_retryable_and_the_same_backend_recovers(
    pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    backend.create_zone(zone, [NS])
    a = record_set("www", "A", 300, ["192.0.2.1"])
    pdns.stop()
    try:
        with pytest.raises(BackendError) as info:
            backend.apply(zone, ChangeSet(upserts=(a,)))
        assert info.value.retryable is True
        assert pdns.api_key not in str(info.value)
    finally:
        pdns.start()
    backend.apply(zone, ChangeSet(upserts=(a,)))
    content = backend.read_zone(zone.name)
    assert content is not None and content.record_sets[a.key] == a
    assert_served(pdns, zone.name, a)


def test_remove_zone(pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig) -> None:
    backend.create_zone(zone, [NS])
    backend.remove_zone(zone.name)
    assert backend.read_zone(zone.name) is None
    backend.remove_zone(zone.name)  # already gone: fine
    with pytest.raises(ZoneMissing):
        backend.apply(zone, ChangeSet(upserts=(record_set("www", "A", 300, ["192.0.2.1"]),)))
    assert pdns.query(zone.name + ".", "SOA").rcode() == dns.rcode.REFUSED


def test_applies_from_8_threads_are_serialised(
    pdns: PowerDNSServer, backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    first = backend.create_zone(zone, [NS])
    errors: list[BaseException] = []
    serials: list[int] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                rs = record_set(f"t{n}-{i}", "A", 300, [f"192.0.2.{n * 10 + i}"])
                serials.append(backend.apply(zone, ChangeSet(upserts=(rs,))))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(serials) == 40 and len(set(serials)) == 40 and min(serials) > first
    content = backend.read_zone(zone.name)
    assert content is not None and len(content.record_sets) == 41
    assert content.serial == max(serials)
