"""What only the PowerDNS backend does, against a real PowerDNS 4.7: one lock for every API call,
PowerDNS's own error texts, and freshness by a serial only the API raises. What every backend does
alike is in test_backend_conformance.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.powerdns import PowerDNSServer
from siteplane.dns.backend import BackendError, BackendStats, SOASettings, ZoneConfig
from siteplane.dns.powerdns import PowerDNSBackend
from siteplane.domain.changes import ChangeSet
from siteplane.domain.records import apex_ns, record_set
from tests.backend_targets import PowerDNSTarget

pytestmark = pytest.mark.cluster

SOA = SOASettings("ns1.example.net.", "hostmaster.example.net.", 3600, 600, 86400, 60, 300)
NS = apex_ns(3600, ["ns1.example.net", "ns2.example.net"])
WWW = record_set("www", "A", 300, ["192.0.2.1"])


@pytest.fixture
def pdns(powerdns_server: PowerDNSServer) -> PowerDNSTarget:
    return PowerDNSTarget(powerdns_server)


@pytest.fixture
def backend(pdns: PowerDNSTarget) -> PowerDNSBackend:
    made = pdns.backend()
    assert isinstance(made, PowerDNSBackend)
    return made


@pytest.fixture
def zone(pdns: PowerDNSTarget) -> Iterator[ZoneConfig]:
    config = ZoneConfig(pdns.new_zone(), SOA)
    yield config
    pdns.backend().remove_zone(config.name)


def test_content_powerdns_rejects_is_not_retryable_quotes_powerdns_and_changes_nothing(
    pdns: PowerDNSTarget, backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    created = backend.create_zone(zone, [NS, WWW])
    # A CNAME next to an A record: PowerDNS refuses the whole PATCH with 422.
    clash = record_set("www", "CNAME", 300, ["target.example.net"])
    with pytest.raises(BackendError) as caught:
        backend.apply(zone, ChangeSet(upserts=(clash, record_set("other", "A", 300, ["192.0.2.9"]))))
    assert caught.value.retryable is False
    assert "422" in str(caught.value) and "CNAME" in str(caught.value)
    assert pdns.served(zone.name) == created


def test_a_wrong_api_key_is_named_as_such(pdns: PowerDNSTarget, zone: ZoneConfig) -> None:
    wrong = pdns.backend_with_wrong_credentials()
    assert wrong is not None
    with pytest.raises(BackendError, match="PowerDNS rejected the API key"):
        wrong.read_zone(zone.name)


def test_applies_from_8_threads_are_serialised(
    pdns: PowerDNSTarget, backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    first = backend.create_zone(zone, [NS]).serial
    errors: list[BaseException] = []
    serials: list[int] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                rs = record_set(f"t{n}-{i}", "A", 300, [f"192.0.2.{n * 10 + i}"])
                serials.append(backend.apply(zone, ChangeSet(upserts=(rs,))).serial)
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
    assert content == pdns.served(zone.name)


def test_a_write_costs_an_soa_read_the_patch_and_one_full_read_back(backend: PowerDNSBackend, zone: ZoneConfig) -> None:
    backend.create_zone(zone, [NS])
    before = replace(backend.stats)
    backend.apply(zone, ChangeSet(upserts=(WWW,)))
    assert backend.stats - before == BackendStats(probes=1, full_reads=1, writes=1)


def test_a_change_made_other_than_through_the_api_shows_once_the_serial_moves(
    pdns: PowerDNSTarget, backend: PowerDNSBackend, zone: ZoneConfig
) -> None:
    """The caveat of reads by serial: pdnsutil leaves the serial, so reads keep the content they
    had; raising the serial (as the module docstring asks of other tools) makes the next read see it."""
    backend.create_zone(zone, [NS, WWW])
    changed = record_set("www", "A", 300, ["192.0.2.9"])
    pdns.pdnsutil("replace-rrset", zone.name, "www", "A", "300", "192.0.2.9")
    unseen = backend.read_zone(zone.name)
    assert unseen is not None and unseen.record_sets[WWW.key] == WWW
    pdns.pdnsutil("increase-serial", zone.name)
    seen = backend.read_zone(zone.name)
    assert seen is not None and seen.record_sets[WWW.key] == changed
    assert seen == pdns.served(zone.name)
