"""What a zone sync asks of its backend, on the embedded defaults (a SQLite file, zone files).

A drift check of a quiet zone must cost one freshness probe and nothing else, and a sync that
writes must judge the write by what the backend read back from disk, not by what it meant to write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from siteplane.dns.backend import BackendStats
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
