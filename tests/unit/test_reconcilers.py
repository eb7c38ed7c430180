"""Reconcilers on the embedded defaults (a real SQLite file and real zone files), no cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from siteplane.domain.objects import ObjectRef
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


def _ready(world: Embedded, ref: ObjectRef) -> tuple[str, str]:
    report = world.status(ref)
    assert report is not None
    ready = next(c for c in report.conditions if c.type == "Ready")
    return ready.status, ready.reason


@pytest.mark.parametrize("kind", ["Site", "DNSRecord", "DNSZone"])
def test_an_object_created_in_the_holders_second_does_not_take_its_name(tmp_path: Path, kind: str) -> None:
    # Every object here has the same creationTimestamp (whole seconds, as the API server keeps
    # them), and the newcomer's name sorts first: the holder keeps what it publishes.
    world = Embedded.create(tmp_path)
    specs = {
        "Site": (SITE, {**SITE, "serving": {"ipv4": ["198.51.100.7"]}}),
        "DNSRecord": (
            {"zone": "example.com", "name": "www", "type": "A", "a": ["192.0.2.1"]},
            {"zone": "example.com", "name": "www", "type": "A", "a": ["198.51.100.7"]},
        ),
        "DNSZone": (ZONE, ZONE),
    }
    held, wanted = specs[kind]
    if kind != "DNSZone":
        world.run(observed("DNSZone", "zone", ZONE))
    holder = observed(kind, "zzz-holder", held)
    world.run(holder)
    assert _ready(world, holder.ref)[0] == "True"
    newcomer = observed(kind, "aaa-newcomer", wanted)
    world.run(newcomer)
    world.run(holder)  # the holder's next reconcile (a resync) decides again: still the holder's

    assert _ready(world, holder.ref)[0] == "True"
    assert _ready(world, newcomer.ref) == ("False", {"Site": "DomainConflict"}.get(kind, "NameConflict"))
    zone_file = (tmp_path / "zones" / "example.com.zone").read_text()
    assert "198.51.100.7" not in zone_file
    world.close()
