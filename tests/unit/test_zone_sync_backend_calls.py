"""What a zone sync asks of its backend, on the embedded defaults (a SQLite file, zone files).

A drift check of a quiet zone must cost one freshness probe and nothing else, and a sync that
writes must judge the write by what the backend read back from disk, not by what it meant to write.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from siteplane.dns import signing
from siteplane.dns.backend import BackendStats
from siteplane.reconcile.zone_sync import ZoneSynchronizer
from tests.backend_targets import ZoneFileTarget
from tests.embedded import Embedded, observed

ZONE = observed("DNSZone", "zone", {"zoneName": "example.com", "nameServers": ["ns1.example.net"]})


def _site(address: str, generation: int = 1) -> Any:
    return observed("Site", "www", {"primaryDomain": "www.example.com", "serving": {"ipv4": [address]}}, generation)


def test_a_drift_check_of_a_quiet_zone_reads_it_once_and_neither_writes_nor_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = Embedded.create(tmp_path)
    world.run(ZONE)
    world.run(_site("192.0.2.1"))
    backend = world.backends.for_zone(None)
    calls: Counter[str] = Counter()
    for method in ("read_zone", "apply", "create_zone"):
        monkeypatch.setattr(backend, method, _counted(calls, method, getattr(backend, method)))
    before = replace(backend.stats)

    result = world.synchronizer.sync("example.com")

    assert (result.error, result.changes) == (None, 0)
    assert calls == {"read_zone": 1}
    assert backend.stats - before == BackendStats(probes=1)
    world.close()


def test_a_sync_notices_when_the_file_on_disk_is_not_what_it_wrote(tmp_path: Path) -> None:
    server = ZoneFileTarget(tmp_path / "zones", tmp_path / "server")
    world = Embedded.create(tmp_path, tuple(server.reload_command()))
    world.run(ZONE)
    world.run(_site("192.0.2.1"))
    written = next(line for line in (tmp_path / "zones" / "example.com.zone").read_text().splitlines() if "www" in line)
    # The reload right after the next write changes the new address in the file, in place, keeping
    # its inode, size and mtime: nothing but its bytes tells.
    server.edit_after_next_write(written.replace("192.0.2.1", "192.0.2.2"), written.replace("192.0.2.1", "192.0.2.9"))

    world.run(_site("192.0.2.2", generation=2))

    with world.store.unit_of_work() as uow:
        zone = uow.zones.owner_of("example.com")
        assert zone is not None and zone.sync_error is not None
        assert "does not serve what was written (www/A)" in zone.sync_error
    world.close()


def _counted(calls: Counter[str], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return method(*args, **kwargs)

    return counted


def test_a_signed_zone_is_signed_checked_and_recorded_and_a_quiet_one_costs_no_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spec.dnssec on (as stored) -> the sync hands the backend the zone's key, records what the
    registrar needs; quiet syncs reach the backend (to refresh signatures in time) but write nothing;
    off -> unsigned, recorded, and quiet syncs are back to one probe."""
    world = Embedded.create(tmp_path)
    world.run(ZONE)
    world.run(_site("192.0.2.1"))
    key = signing.generate_key(1_700_000_000)
    synchronizer = ZoneSynchronizer(world.store, world.backends, lambda zone, uid: (key,))

    def set_dnssec(value: dict[str, str] | None) -> None:
        def change(uow: Any) -> None:
            zone = uow.zones.owner_of("example.com")
            zone.dnssec = value

        world.store.transaction(change)

    def served() -> dict[str, Any] | None:
        return world.store.read(lambda uow: uow.zones.owner_of("example.com").dnssec_served)

    set_dnssec({"denial": "NSEC3"})
    assert synchronizer.sync("example.com").error is None
    state = served()
    assert state is not None and state["signed"] and state["problem"] is None
    assert state["dnskeys"] == [signing.dnskey_of(key).to_text()] and len(state["ds"]) == 1
    assert "PRIVATE" not in json.dumps(state)

    backend = world.backends.for_zone(None)
    before = replace(backend.stats)
    assert synchronizer.sync("example.com").error is None
    assert (backend.stats - before).writes == 0

    set_dnssec(None)
    assert synchronizer.sync("example.com").error is None
    state = served()
    assert state is not None and not state["signed"]
    text = (tmp_path / "zones" / "example.com.zone").read_text()
    assert "RRSIG" not in text and "DNSKEY" not in text and "NSEC3" not in text
    calls: Counter[str] = Counter()
    for method in ("read_zone", "apply", "create_zone", "dnssec_state"):
        monkeypatch.setattr(backend, method, _counted(calls, method, getattr(backend, method)))
    assert synchronizer.sync("example.com").error is None
    assert calls == {"read_zone": 1}
    world.close()


def test_a_signed_zone_file_without_its_key_in_reach_fails_retryably_and_writes_nothing(tmp_path: Path) -> None:
    world = Embedded.create(tmp_path)
    world.run(ZONE)
    synchronizer = ZoneSynchronizer(world.store, world.backends, lambda zone, uid: None)

    def change(uow: Any) -> None:
        uow.zones.owner_of("example.com").dnssec = {"denial": "NSEC3"}

    world.store.transaction(change)
    before = (tmp_path / "zones" / "example.com.zone").read_bytes()
    result = synchronizer.sync("example.com")
    assert result.error is not None and "signing key" in result.error and result.retryable
    assert (tmp_path / "zones" / "example.com.zone").read_bytes() == before
    world.close()
