"""Reconcilers on the embedded defaults (a real SQLite file and real zone files), no cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from siteplane.errors import BackendUnavailable, InvalidSpec
from tests.embedded import Embedded, observed

ZONE = {"zoneName": "example.com", "nameServers": ["ns1.example.net"]}
SITE = {"primaryDomain": "www.example.com", "serving": {"ipv4": ["192.0.2.1"]}}


def test_handling_the_same_generation_twice_writes_nothing_new(tmp_path: Path) -> None:
    world = Embedded.create(tmp_path)
    world.run(observed("DNSZone", "zone", ZONE))
    world.run(observed("Site", "www", SITE))
    history = world.store.read(lambda uow: uow.history.count())
    zone_file = (tmp_path / "zones" / "example.com.zone").read_bytes()

    again = world.run(observed("Site", "www", SITE))

    assert not again.effects.zones, "an unchanged object asks for no zone work"
    assert world.store.read(lambda uow: uow.history.count()) == history
    assert (tmp_path / "zones" / "example.com.zone").read_bytes() == zone_file
    world.close()


def test_a_spec_the_model_refuses_names_the_field_and_nothing_is_written(tmp_path: Path) -> None:
    world = Embedded.create(tmp_path)
    bad = {"primaryDomain": "www.example.com", "serving": {"ipv4": ["192.0.2.1"], "cname": "x.example.net"}}
    with pytest.raises(InvalidSpec, match=r"^spec\.serving:") as refused:
        world.run(observed("Site", "bad", bad))
    assert (refused.value.reason, refused.value.retryable) == ("InvalidSpec", False)
    assert world.store.read(lambda uow: (uow.sites.by_uid("uid-team-a-bad"), uow.history.count())) == (None, 0)
    world.close()


def test_a_zone_on_an_unknown_backend_is_not_stored_and_says_which_field(tmp_path: Path) -> None:
    world = Embedded.create(tmp_path)
    with pytest.raises(BackendUnavailable, match=r"^spec\.backend: no DNSBackend named 'missing'"):
        world.run(observed("DNSZone", "zone", {**ZONE, "backend": "missing"}))
    assert world.store.read(lambda uow: uow.zones.by_uid("uid-team-a-zone")) is None
    assert not (tmp_path / "zones" / "example.com.zone").exists()
    world.close()


def test_a_site_is_ready_only_once_its_zone_serves_it(tmp_path: Path) -> None:
    world = Embedded.create(tmp_path)
    world.run(observed("DNSZone", "zone", ZONE))
    site = observed("Site", "www", SITE)
    world.run(site)
    report = world.status(site.ref)
    assert report is not None
    assert [(c.type, c.status, c.reason) for c in report.conditions] == [
        ("Stored", "True", "Stored"),
        ("DNSProgrammed", "True", "Served"),
        ("Ready", "True", "Published"),
    ]
    assert "www 3600 IN A 192.0.2.1" in (tmp_path / "zones" / "example.com.zone").read_text()
    world.close()


def test_deleting_a_zone_is_blocked_only_by_what_it_lets_publish_and_counts_only_its_own(tmp_path: Path) -> None:
    world = Embedded.create(tmp_path)
    zone = observed("DNSZone", "zone", {**ZONE, "publishers": [{"namespace": "team-b", "names": ["shop"]}]})
    world.run(zone)
    world.run(observed("Site", "www", SITE))
    world.run(
        observed(
            "DNSRecord", "mx", {"zone": "example.com", "name": "shop", "type": "TXT", "txt": ["ok"]}, namespace="team-b"
        )
    )
    for i in range(3):  # refused by the zone: they hold nothing
        spec = {"zone": "example.com", "name": f"other{i}", "type": "TXT", "txt": ["squat"]}
        world.run(observed("DNSRecord", f"squat-{i}", spec, namespace="team-b"))

    blocked = world.run(zone, delete=True)
    assert not blocked.finished and blocked.report is not None
    message = blocked.report.conditions[0].message
    assert message.startswith("1 object(s) in this namespace and objects of namespaces that spec.publishers")
    assert "team-b" not in message and "3" not in message

    world.run(observed("Site", "www", SITE), delete=True)
    unshared = observed("DNSZone", "zone", ZONE, generation=2)  # team-b no longer let publish
    world.run(unshared)
    assert world.run(unshared, delete=True).finished
    assert not (tmp_path / "zones" / "example.com.zone").exists()
    world.close()
