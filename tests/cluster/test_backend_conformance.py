"""What every DNS backend does alike, written once against ``Backend`` and run on each of them.

Zone files, BIND 9 (RFC 2136 + TSIG, zones made and removed with the rndc provisioner) and PowerDNS
(HTTP API), each against its real server. What is served is read without the backend's own code
(tests/backend_targets.py); what a backend says it serves must be exactly that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from siteplane.dns.backend import (
    Backend,
    BackendError,
    BackendStats,
    RecordSetsRefused,
    SOASettings,
    ZoneConfig,
    ZoneContent,
    ZoneMissing,
)
from siteplane.domain.changes import ChangeSet, apply_to
from siteplane.domain.records import RecordKey, RecordSet, apex_ns, record_set
from tests.backend_targets import KEEP, KEPT_OTHERWISE, BindTarget, PowerDNSTarget, Target, ZoneFileTarget

pytestmark = pytest.mark.cluster

KINDS = ["zonefile", "rfc2136", "powerdns"]
SOA = SOASettings("ns1.example.net.", "hostmaster.example.net.", 3600, 600, 86400, 300, 300)
NS = apex_ns(300, ["ns1.example.net"])
WWW = record_set("www", "A", 300, ["192.0.2.1"])
HOSTILE_TXT = ['say "hi" \\ back; semi', "$INCLUDE /etc/passwd", "$ORIGIN evil.", "\\; ( ) @ $TTL 0", "héllo wörld"]
# Writes one change set of 500 new record sets takes: one file, one PATCH, two UPDATEs of at most
# 16000 bytes (the README says so).
WRITES_FOR_500 = {"zonefile": 1, "rfc2136": 2, "powerdns": 1}


@pytest.fixture(params=KINDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "zonefile":
        return ZoneFileTarget(tmp_path / "zones", tmp_path / "server")
    if request.param == "rfc2136":
        return BindTarget(request.getfixturevalue("bind_server"))
    return PowerDNSTarget(request.getfixturevalue("powerdns_server"))


@dataclasses.dataclass
class Zone:
    target: Target
    backend: Backend
    name: str

    @property
    def config(self) -> ZoneConfig:
        return ZoneConfig(self.name, SOA)

    def served(self) -> ZoneContent | None:
        return self.target.served(self.name)

    def counts(self) -> BackendStats:
        return dataclasses.replace(self.backend.stats)


@pytest.fixture
def zone(target: Target) -> Iterator[Zone]:
    """A zone name of the test's own and a fresh backend; the zone is removed afterwards, whatever happened."""
    zone = Zone(target, target.backend(), target.new_zone())
    yield zone
    target.start()
    target.backend().remove_zone(zone.name)


def mx(preference: int, host: str) -> SimpleNamespace:
    return SimpleNamespace(preference=preference, host=host)


def every_type(zone: str) -> list[RecordSet]:
    srv = [
        SimpleNamespace(priority=10, weight=5, port=5060, target=f"sip.{zone}"),
        SimpleNamespace(priority=20, weight=0, port=5061, target="sip.example.org"),
    ]
    caa = [
        SimpleNamespace(flags=0, tag="issue", value="letsencrypt.org"),
        SimpleNamespace(flags=128, tag="iodef", value="mailto:security@example.com"),
    ]
    values: list[tuple[str, str, list[Any]]] = [
        ("www", "A", ["192.0.2.1", "192.0.2.2"]),
        ("www", "AAAA", ["2001:db8::1", "2001:0db8:0000::2"]),
        ("shop", "CNAME", ["shop.example.net"]),
        ("alias", "CNAME", [f"www.{zone}"]),  # inside the zone
        ("@", "MX", [mx(10, "mail.example.net"), mx(20, "MX.Example.NET.")]),  # BIND refuses in-zone hosts without A
        ("nomail", "MX", [mx(0, ".")]),  # RFC 7505 null MX
        ("_sip._tcp", "SRV", srv),
        ("@", "CAA", caa),
        ("@", "TXT", ["v=spf1 -all", "", "x" * 300]),  # 300 bytes: two character-strings
        ("hostile", "TXT", HOSTILE_TXT),
        ("_dmarc", "TXT", ["v=DMARC1; p=reject"]),
        ("sub", "NS", ["ns.example.org", "ns.sub.example.net"]),  # a delegation
        ("1.2", "PTR", ["host.example.net"]),
        ("*.dev", "A", ["192.0.2.10"]),
        ("*", "TXT", ["catch all"]),
    ]
    return [record_set(name, rdtype, 600, data) for name, rdtype, data in values]


def keyed(*record_sets: RecordSet) -> dict[RecordKey, RecordSet]:
    return {rs.key: rs for rs in record_sets}


# -- content -------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["created", "applied"])
def test_every_record_type_round_trips_and_is_served(zone: Zone, how: str) -> None:
    sets = [NS, *every_type(zone.name)]
    if how == "created":
        content = zone.backend.create_zone(zone.config, sets)
    else:
        zone.backend.create_zone(zone.config, [NS])
        content = zone.backend.apply(zone.config, ChangeSet(upserts=tuple(sets[1:])))
    assert dict(content.record_sets) == keyed(*sets)
    assert content.soa == SOA
    assert content == zone.served() == zone.target.backend().read_zone(zone.name)
    for rs in sets:
        assert zone.target.answer(zone.name, rs.key) == rs, rs.key


def test_a_ttl_change_and_a_to_cname_at_one_name_take_one_write_each_and_raise_the_serial(zone: Zone) -> None:
    serial = zone.backend.create_zone(zone.config, [NS, WWW]).serial
    longer = record_set("www", "A", 900, ["192.0.2.1"])
    cname = record_set("www", "CNAME", 300, ["target.example.net"])
    for changes, expected in [
        (ChangeSet(upserts=(longer,)), keyed(NS, longer)),
        (ChangeSet(upserts=(cname,), deletes=(WWW.key,)), keyed(NS, cname)),
    ]:
        before = zone.counts()
        content = zone.backend.apply(zone.config, changes)
        assert (zone.backend.stats - before).writes == 1
        assert dict(content.record_sets) == expected
        assert content == zone.served()
        assert content.serial > serial
        serial = content.serial
    assert zone.target.answer(zone.name, cname.key) == cname
    assert zone.target.answer(zone.name, WWW.key) is None


def test_soa_settings_changes_raise_the_serial_and_are_served(zone: Zone) -> None:
    created = zone.backend.create_zone(zone.config, [NS])
    moved = ZoneConfig(zone.name, SOASettings("ns2.example.net.", "dns.example.net.", 7200, 900, 604800, 60, 600))
    content = zone.backend.apply(moved, ChangeSet())
    assert content.serial > created.serial
    assert content.soa == moved.soa
    assert content == zone.served()
    assert zone.backend.apply(moved, ChangeSet()).serial == content.serial


def test_500_record_sets_in_one_change_set(zone: Zone) -> None:
    zone.backend.create_zone(zone.config, [NS])
    sets = [record_set(f"host{i:03d}", "A", 300, [f"10.0.{i // 256}.{i % 256}"]) for i in range(500)]
    before = zone.counts()
    content = zone.backend.apply(zone.config, ChangeSet(upserts=tuple(sets)))
    assert (zone.backend.stats - before).writes == WRITES_FOR_500[zone.target.kind]
    assert dict(content.record_sets) == keyed(NS, *sets)
    assert content == zone.served()
    for rs in (sets[0], sets[249], sets[499]):
        assert zone.target.answer(zone.name, rs.key) == rs


@pytest.mark.parametrize(
    "soa",
    [SOA, SOASettings("NS1.example.NET", "HostMaster.Example.net", 3600, 600, 86400, 300, 300)],
    ids=["same", "same-spelled-otherwise"],
)
def test_an_empty_apply_changes_nothing_keeps_the_serial_and_costs_one_probe(zone: Zone, soa: SOASettings) -> None:
    created = zone.backend.create_zone(zone.config, [NS, WWW])
    before = zone.counts()
    content = zone.backend.apply(ZoneConfig(zone.name, soa), ChangeSet())
    assert zone.backend.stats - before == BackendStats(probes=1)
    assert content == created == zone.served()


def test_create_is_idempotent_and_brings_an_existing_zone_to_exactly_the_given_sets(zone: Zone) -> None:
    first = zone.backend.create_zone(zone.config, [NS, WWW])
    api = record_set("api", "AAAA", 300, ["2001:db8::2"])
    second = zone.backend.create_zone(zone.config, [NS, api])
    assert second.serial > first.serial
    assert dict(second.record_sets) == keyed(NS, api)
    assert second == zone.served()
    again = zone.target.backend().create_zone(zone.config, [NS, api])  # nothing to do, even for a stranger
    assert again == second


def test_create_refuses_a_record_set_given_twice_and_creates_nothing(zone: Zone) -> None:
    with pytest.raises(BackendError) as caught:
        zone.backend.create_zone(zone.config, [NS, WWW, WWW])
    assert not caught.value.retryable
    assert zone.served() is None


def test_remove_is_idempotent(zone: Zone) -> None:
    zone.backend.create_zone(zone.config, [NS])
    zone.backend.remove_zone(zone.name)
    assert zone.backend.read_zone(zone.name) is None
    assert zone.served() is None
    zone.backend.remove_zone(zone.name)
    zone.target.backend().remove_zone(zone.target.new_zone())  # never there


def test_a_missing_zone_reads_as_none(zone: Zone) -> None:
    assert zone.backend.read_zone(zone.name) is None


def test_apply_to_a_missing_zone_raises_zone_missing(zone: Zone) -> None:
    change = ChangeSet(upserts=(WWW,))
    with pytest.raises(ZoneMissing):
        zone.backend.apply(zone.config, change)
    # Removed by someone else while the backend still remembers it.
    zone.backend.create_zone(zone.config, [NS])
    zone.target.remove_behind(zone.name)
    with pytest.raises(ZoneMissing):
        zone.backend.apply(zone.config, change)
    assert zone.served() is None


# -- credentials and outages ---------------------------------------------------------------------


def test_wrong_credentials_are_not_retryable_change_nothing_and_are_never_quoted(zone: Zone) -> None:
    wrong = zone.target.backend_with_wrong_credentials()
    if wrong is None:
        pytest.skip(f"{zone.target.kind} takes no credentials")
    zone.backend.create_zone(zone.config, [NS])
    served = zone.served()
    for call in (
        lambda: wrong.read_zone(zone.name),
        lambda: wrong.apply(zone.config, ChangeSet(upserts=(WWW,))),
        lambda: wrong.create_zone(zone.config, [NS, WWW]),
        lambda: wrong.remove_zone(zone.name),
    ):
        with pytest.raises(BackendError) as caught:
            call()
        assert caught.value.retryable is False
        for secret in zone.target.secrets():
            assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert zone.served() == served


def test_repr_never_shows_credentials(target: Target) -> None:
    backends = [target.backend(), target.backend_with_wrong_credentials()]
    for backend in [b for b in backends if b is not None]:
        for secret in target.secrets():
            assert secret not in repr(backend) and secret not in str(backend)


def test_a_server_down_is_retryable_and_the_same_backend_recovers(zone: Zone) -> None:
    zone.backend.create_zone(zone.config, [NS])
    zone.target.stop()
    try:
        with pytest.raises(BackendError) as caught:
            zone.backend.apply(zone.config, ChangeSet(upserts=(WWW,)))
        assert caught.value.retryable is True
        for secret in zone.target.secrets():
            assert secret not in str(caught.value)
        try:  # zone files stay readable while the server that loads them is down
            zone.backend.read_zone(zone.name)
        except BackendError as error:
            assert error.retryable is True
    finally:
        zone.target.start()
    content = zone.backend.apply(zone.config, ChangeSet(upserts=(WWW,)))
    assert dict(content.record_sets) == keyed(NS, WWW)
    assert content == zone.served()
    assert zone.target.answer(zone.name, WWW.key) == WWW


# -- reading: what changed, and what it costs ----------------------------------------------------


def test_an_out_of_band_change_is_seen_by_the_next_read(zone: Zone) -> None:
    """Zone files: edited in place keeping inode, size and mtime; servers: changed by another client."""
    zone.backend.create_zone(zone.config, [NS, KEEP])
    assert zone.backend.read_zone(zone.name) is not None
    zone.target.change_behind(zone.name, KEEP, KEPT_OTHERWISE)
    content = zone.backend.read_zone(zone.name)
    assert content is not None
    assert content.record_sets[KEEP.key] == KEPT_OTHERWISE
    assert content == zone.served()


def test_the_read_back_notices_served_data_that_differs_from_the_cache_and_the_write(zone: Zone) -> None:
    """What a write returns is read from the server afterwards, never the backend's last read plus
    what it sent. Each target makes them differ its own way (tests/backend_targets.py): a server
    hook edits the zone file in place right after the write; BIND ignores a CNAME added beside
    KEEP and answers NOERROR (RFC 2136 3.4.2.2); PowerDNS had KEEP changed by pdnsutil, which left
    the serial (and so every probe) as it was."""
    zone.backend.create_zone(zone.config, [NS, KEEP])
    cached = zone.backend.read_zone(zone.name)
    assert cached is not None
    changes = zone.target.diverge_on_next_write(zone.name)
    try:
        result = zone.backend.apply(zone.config, changes)
    except RecordSetsRefused as refused:
        # BIND: what it took without serving is said so, set by set, with what it does serve.
        assert set(refused.reasons) <= {rs.key for rs in changes.upserts} | set(changes.deletes)
        result = refused.served
    served = zone.served()
    assert served is not None and served.record_sets != apply_to(cached.record_sets, changes)
    assert zone.backend.read_zone(zone.name) == served
    assert result == served


def test_a_quiet_zone_costs_one_probe_and_no_full_read_or_write(zone: Zone) -> None:
    zone.backend.create_zone(zone.config, [NS, WWW])
    assert zone.backend.read_zone(zone.name) is not None
    before = zone.counts()
    content = zone.backend.read_zone(zone.name)
    assert zone.backend.stats - before == BackendStats(probes=1)
    assert content == zone.served()
