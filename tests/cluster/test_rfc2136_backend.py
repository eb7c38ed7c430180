"""The RFC 2136 backend against a real BIND 9: SOA queries, AXFR and TSIG-signed dynamic updates."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import dns.update
import pytest

from harness.bind import BindServer, running_bind
from siteplane.dns.backend import BackendError, SOASettings, ZoneConfig, ZoneContent
from siteplane.dns.rfc2136 import DriftDetected, PartiallyApplied, RFC2136Backend
from siteplane.domain.records import RecordKey, RecordSet, canonical_rdata, record_set
from siteplane.planning.changes import ChangeSet

pytestmark = pytest.mark.cluster

# The SOA and NS that BindServer.add_zone writes into every new zone.
SOA = SOASettings("ns1.example.net.", "hostmaster.example.net.", 3600, 600, 86400, 300, 300)
APEX_NS = record_set("@", "NS", 300, ["ns1.example.net"])


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    with running_bind() as server:
        yield server


def _backend(bind: BindServer, secret: str | None = None, **kwargs: Any) -> RFC2136Backend:
    def create(zone: ZoneConfig, record_sets: Iterable[RecordSet]) -> None:
        bind.add_zone(zone.name)

    return RFC2136Backend(
        bind.address,
        bind.port,
        bind.tsig_name,
        secret or bind.tsig_secret,
        bind.tsig_algorithm,
        timeout=2.0,
        zone_creator=create,
        zone_remover=bind.delete_zone,
        **kwargs,
    )


def _zone(name: str, soa: SOASettings = SOA) -> ZoneConfig:
    return ZoneConfig(name, soa)


def _served(bind: BindServer, zone: str, key: RecordKey) -> RecordSet | None:
    """The record set as a plain (unsigned) query sees it; delegations come back in the authority section."""
    fqdn = zone + "." if key.name == "@" else f"{key.name}.{zone}."
    query = dns.message.make_query(fqdn, key.type)
    response = dns.query.tcp(query, bind.address, port=bind.port, timeout=3)
    rdtype = dns.rdatatype.from_text(key.type)
    for rrset in (*response.answer, *response.authority):
        if rrset.name == dns.name.from_text(fqdn) and rrset.rdtype == rdtype:
            texts = tuple(canonical_rdata(rdtype, rd.to_text()) for rd in rrset)
            return RecordSet(key.name, key.type, rrset.ttl, texts)
    return None


def _serial(bind: BindServer, zone: str) -> int:
    response = dns.query.udp(dns.message.make_query(zone + ".", "SOA"), bind.address, port=bind.port, timeout=3)
    return int(response.answer[0][0].serial)


def _out_of_band(bind: BindServer, zone: str, name: str, rdtype: str, *values: str) -> None:
    keyring = dns.tsigkeyring.from_text({bind.tsig_name: (bind.tsig_algorithm, bind.tsig_secret)})
    update = dns.update.UpdateMessage(zone + ".", keyring=keyring, keyalgorithm=bind.tsig_algorithm)
    update.replace(dns.name.from_text(f"{name}.{zone}."), 300, rdtype, *values)
    assert dns.query.tcp(update, bind.address, port=bind.port, timeout=3).rcode() == dns.rcode.NOERROR


def _every_type() -> list[RecordSet]:
    long_txt = "v=long;" + "x" * 300 + '"quoted" \\ back;slash'
    return [
        APEX_NS,
        record_set("@", "MX", 300, [SimpleNamespace(preference=10, host="mail.example.net")]),
        record_set("@", "CAA", 300, [SimpleNamespace(flags=0, tag="issue", value="letsencrypt.org")]),
        record_set("@", "TXT", 300, [long_txt, 'say "hi"; ok', "plain"]),
        record_set("www", "A", 300, ["192.0.2.1", "192.0.2.2"]),
        record_set("www", "AAAA", 600, ["2001:db8::1"]),
        record_set("alias", "CNAME", 300, ["www.example.net"]),
        record_set(
            "_sip._tcp", "SRV", 300, [SimpleNamespace(priority=10, weight=5, port=5060, target="sip.example.net")]
        ),
        record_set("sub", "NS", 3600, ["ns1.other.example", "ns2.other.example"]),
        record_set("1.2", "PTR", 300, ["host.example.net"]),
    ]


def test_repr_and_str_never_show_the_secret(bind: BindServer) -> None:
    backend = _backend(bind)
    assert bind.tsig_secret not in repr(backend)
    assert bind.tsig_secret not in str(backend)
    assert "RFC2136Backend(server='127.0.0.1'" in repr(backend)
    with pytest.raises(BackendError) as caught:
        RFC2136Backend(bind.address, bind.port, bind.tsig_name, "not base64 !!secret!!")
    assert "!!secret!!" not in str(caught.value)
    assert caught.value.retryable is False


def test_every_type_round_trips_and_is_served(bind: BindServer) -> None:
    zone = "roundtrip.test"
    backend = _backend(bind)
    desired = _every_type()
    serial = backend.create_zone(_zone(zone), desired)

    content = backend.read_zone(zone)
    assert content is not None
    assert content.serial == serial == _serial(bind, zone)
    assert dict(content.record_sets) == {rs.key: rs for rs in desired}
    assert content.soa == SOA
    for rs in desired:
        assert _served(bind, zone, rs.key) == rs, rs.key
    # A fresh backend (no cache) reads the same through its own transfer.
    assert _backend(bind).read_zone(zone) == content


def test_ttl_change_and_type_change_at_a_name(bind: BindServer) -> None:
    zone = "change.test"
    backend = _backend(bind)
    www = record_set("www", "A", 300, ["192.0.2.1"])
    backend.create_zone(_zone(zone), [APEX_NS, www])

    longer = record_set("www", "A", 900, ["192.0.2.1"])
    backend.apply(_zone(zone), ChangeSet(upserts=(longer,)))
    assert _served(bind, zone, www.key) == longer

    cname = record_set("www", "CNAME", 300, ["target.example.net"])
    serial = backend.apply(_zone(zone), ChangeSet(upserts=(cname,), deletes=(www.key,)))
    assert _served(bind, zone, cname.key) == cname
    response = dns.query.tcp(dns.message.make_query(f"www.{zone}.", "A"), bind.address, port=bind.port, timeout=3)
    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.CNAME]  # no A left beside it
    content = backend.read_zone(zone)
    assert content is not None and content.serial == serial
    assert dict(content.record_sets) == {APEX_NS.key: APEX_NS, cname.key: cname}


def test_soa_settings_change(bind: BindServer) -> None:
    zone = "soa.test"
    backend = _backend(bind)
    before = backend.create_zone(_zone(zone), [APEX_NS])
    changed = SOASettings("ns2.example.net.", "dns.example.net.", 7200, 900, 604800, 60, 600)
    serial = backend.apply(_zone(zone, changed), ChangeSet())
    assert serial == before + 1 == _serial(bind, zone)
    content = backend.read_zone(zone)
    assert content is not None and content.soa == changed


def test_five_hundred_record_sets_go_in_a_few_messages(bind: BindServer) -> None:
    zone = "many.test"
    backend = _backend(bind)
    backend.create_zone(_zone(zone), [APEX_NS])
    sets = [record_set(f"host{i:03d}", "A", 300, [f"10.0.{i // 256}.{i % 256}"]) for i in range(500)]
    sent = backend.messages_sent
    backend.apply(_zone(zone), ChangeSet(upserts=tuple(sets)))
    messages = backend.messages_sent - sent
    print(f"500 record sets took {messages} UPDATE messages")
    assert 1 < messages < 10  # split by size (16000 bytes), not one message per record set

    fresh = _backend(bind).read_zone(zone)
    assert fresh is not None
    assert dict(fresh.record_sets) == {APEX_NS.key: APEX_NS, **{rs.key: rs for rs in sets}}
    for rs in (sets[0], sets[249], sets[499]):
        assert _served(bind, zone, rs.key) == rs


def test_empty_apply_sends_nothing(bind: BindServer) -> None:
    zone = "empty.test"
    backend = _backend(bind)
    serial = backend.create_zone(_zone(zone), [APEX_NS])
    sent = backend.messages_sent
    assert backend.apply(_zone(zone), ChangeSet()) == serial
    assert backend.messages_sent == sent
    assert _serial(bind, zone) == serial


def test_out_of_band_change_is_detected_and_nothing_is_written(bind: BindServer) -> None:
    zone = "drift.test"
    backend = _backend(bind)
    www = record_set("www", "A", 300, ["192.0.2.1"])
    backend.create_zone(_zone(zone), [APEX_NS, www])
    _out_of_band(bind, zone, "www", "A", "192.0.2.99")
    serial = _serial(bind, zone)

    # Planned from the stale view: www still 192.0.2.1. The new name would be fine on its own,
    # but the whole message fails on the prerequisite.
    stale = ChangeSet(upserts=(record_set("new", "A", 300, ["192.0.2.7"]), record_set("www", "A", 300, ["192.0.2.3"])))
    with pytest.raises(DriftDetected) as caught:
        backend.apply(_zone(zone), stale)
    assert caught.value.retryable is True
    assert _serial(bind, zone) == serial
    assert _served(bind, zone, www.key) == record_set("www", "A", 300, ["192.0.2.99"])
    assert _served(bind, zone, RecordKey("new", "A")) is None

    # A record set we believe absent but that appeared meanwhile is drift too.
    _out_of_band(bind, zone, "other", "A", "192.0.2.50")
    content = backend.read_zone(zone)  # re-read: the cache was invalidated, so this is a new transfer
    assert content is not None and RecordKey("other", "A") in content.record_sets
    _out_of_band(bind, zone, "late", "A", "192.0.2.51")
    with pytest.raises(DriftDetected):
        backend.apply(_zone(zone), ChangeSet(upserts=(record_set("late", "A", 300, ["192.0.2.8"]),)))
    assert _served(bind, zone, RecordKey("late", "A")) == record_set("late", "A", 300, ["192.0.2.51"])

    # After reading again the same intent goes through.
    backend.read_zone(zone)
    backend.apply(_zone(zone), stale)
    assert _served(bind, zone, www.key) == record_set("www", "A", 300, ["192.0.2.3"])


def test_wrong_secret_is_not_retryable_writes_nothing_and_is_not_quoted(bind: BindServer) -> None:
    zone = "badkey.test"
    good = _backend(bind)
    good.create_zone(_zone(zone), [APEX_NS])
    serial = _serial(bind, zone)
    wrong = base64.b64encode(b"w" * 32).decode()
    bad = _backend(bind, secret=wrong)

    with pytest.raises(BackendError) as caught:
        bad.read_zone(zone)
    assert caught.value.retryable is False
    assert "BADSIG" in str(caught.value) and zone in str(caught.value)

    change = ChangeSet(upserts=(record_set("www", "A", 300, ["192.0.2.1"]),))
    with pytest.raises(BackendError) as caught:
        bad.apply(_zone(zone), change)
    assert caught.value.retryable is False
    # The UPDATE path itself, with a view of the zone the bad key could not have read.
    bad._cache[zone] = ZoneContent(serial, {APEX_NS.key: APEX_NS}, SOA)
    with pytest.raises(BackendError) as caught:
        bad.apply(_zone(zone), change)
    assert caught.value.retryable is False
    assert bad.messages_sent == 1
    for secret in (wrong, bind.tsig_secret):
        assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert _serial(bind, zone) == serial
    assert _served(bind, zone, RecordKey("www", "A")) is None


def test_refused_record_set_is_bisected_out_and_the_rest_applied(bind: BindServer) -> None:
    # BIND's check-names (default "fail" for primary zones) refuses an A record whose owner is not a
    # host name; it answers REFUSED for the whole UPDATE, so the backend bisects to find it.
    zone = "bisect.test"
    backend = _backend(bind)
    backend.create_zone(_zone(zone), [APEX_NS])
    good = [record_set(f"h{i}", "A", 300, [f"192.0.2.{i + 1}"]) for i in range(6)]
    bad = record_set("bad_host", "A", 300, ["192.0.2.200"])
    with pytest.raises(PartiallyApplied) as caught:
        backend.apply(_zone(zone), ChangeSet(upserts=(*good, bad)))
    assert caught.value.refused == [bad.key]
    assert caught.value.retryable is False
    assert caught.value.serial == _serial(bind, zone)
    for rs in good:
        assert _served(bind, zone, rs.key) == rs
    assert _served(bind, zone, bad.key) is None
    content = backend.read_zone(zone)
    assert content is not None and set(content.record_sets) == {APEX_NS.key, *(rs.key for rs in good)}


def test_read_zone_transfers_only_when_the_serial_moved(bind: BindServer) -> None:
    zone = "cache.test"
    bind.add_zone(zone, "www A 192.0.2.1")
    backend = _backend(bind)
    first = backend.read_zone(zone)
    assert first is not None and backend.transfers == 1
    assert backend.read_zone(zone) == first
    assert backend.transfers == 1
    _out_of_band(bind, zone, "www", "A", "192.0.2.2")
    second = backend.read_zone(zone)
    assert backend.transfers == 2
    assert second is not None and second.serial == first.serial + 1
    assert second.record_sets[RecordKey("www", "A")].rdata == ("192.0.2.2",)
    # Our own update moves the serial by exactly one; the backend knows the result and needs no transfer.
    backend.apply(_zone(zone), ChangeSet(upserts=(record_set("www", "A", 300, ["192.0.2.3"]),)))
    third = backend.read_zone(zone)
    assert backend.transfers == 2
    assert third is not None and third.record_sets[RecordKey("www", "A")].rdata == ("192.0.2.3",)
    assert third == _backend(bind).read_zone(zone)


def test_missing_zone_creation_and_removal(bind: BindServer) -> None:
    zone = "lifecycle.test"
    backend = _backend(bind)
    assert backend.read_zone(zone) is None
    no_creator = RFC2136Backend(bind.address, bind.port, bind.tsig_name, bind.tsig_secret)
    with pytest.raises(BackendError, match=f"create {zone} on the server") as caught:
        no_creator.create_zone(_zone(zone), [APEX_NS])
    assert caught.value.retryable is False

    www = record_set("www", "A", 300, ["192.0.2.1"])
    backend.create_zone(_zone(zone), [APEX_NS, www])
    # Idempotent: creating again brings the zone to exactly the given record sets.
    other = record_set("other", "A", 300, ["192.0.2.2"])
    backend.create_zone(_zone(zone), [APEX_NS, other])
    content = backend.read_zone(zone)
    assert content is not None and dict(content.record_sets) == {APEX_NS.key: APEX_NS, other.key: other}

    backend.remove_zone(zone)
    assert backend.read_zone(zone) is None
    backend.remove_zone(zone)  # not an error


def test_stopped_server_is_retryable(bind: BindServer) -> None:
    zone = "stopped.test"
    backend = _backend(bind)
    backend.create_zone(_zone(zone), [APEX_NS])
    bind.stop()
    try:
        with pytest.raises(BackendError) as caught:
            backend.read_zone(zone)
        assert caught.value.retryable is True
        with pytest.raises(BackendError) as caught:
            backend.apply(_zone(zone), ChangeSet(upserts=(record_set("www", "A", 300, ["192.0.2.1"]),)))
        assert caught.value.retryable is True
        assert bind.tsig_secret not in str(caught.value)
    finally:
        bind.start()
    assert backend.read_zone(zone) is not None
