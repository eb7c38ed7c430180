"""What a zone sync asks of its backend, on the embedded defaults (a SQLite file, zone files).

A drift check of a quiet zone must cost one freshness probe and nothing else, and a sync that
writes must judge the write by what the backend read back from disk, not by what it meant to write.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from siteplane.config import OperatorConfig
from siteplane.dns.backend import BackendStats
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.inputs import ObjectInput
from siteplane.reconcile.services import Services, build_services
from siteplane.reconcile.zone_sync import ZoneSynchronizer
from siteplane.store.migrate import upgrade
from tests.backend_targets import ZoneFileTarget

ZONE = {"zoneName": "example.com", "nameServers": ["ns1.example.net"]}


def _services(tmp_path: Path, reload_command: list[str] | None = None) -> Services:
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(url)
    config = OperatorConfig(
        database_url=url, zone_dir=str(tmp_path / "zones"), zone_reload_command=tuple(reload_command or ())
    )
    return build_services(config)


def _obj(kind: str, name: str, spec: dict[str, Any]) -> ObjectInput:
    return ObjectInput(ObjectRef(kind, "team-a", name, f"uid-{name}"), "2026-01-01T00:00:00Z", 1, spec, {})


def _site(address: str) -> ObjectInput:
    return _obj("Site", "www", {"primaryDomain": "www.example.com", "serving": {"ipv4": [address]}})


def _published(services: Services, *objects: ObjectInput) -> None:
    async def run() -> None:
        await services.zones.reconcile(_obj("DNSZone", "zone", ZONE))
        for obj in objects:
            await services.sites.reconcile(obj)

    asyncio.run(run())


def test_a_drift_check_of_a_quiet_zone_reads_it_once_and_neither_writes_nor_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = _services(tmp_path)
    _published(services, _site("192.0.2.1"))
    backend = services.backends.for_zone(None)
    calls: Counter[str] = Counter()
    for method in ("read_zone", "apply", "create_zone"):
        monkeypatch.setattr(backend, method, _counted(calls, method, getattr(backend, method)))
    before = replace(backend.stats)

    result = ZoneSynchronizer(services.store, services.backends).sync("example.com")

    assert (result.error, result.changes) == (None, 0)
    assert calls == {"read_zone": 1}
    assert backend.stats - before == BackendStats(probes=1)
    services.close()


def test_a_sync_notices_when_the_file_on_disk_is_not_what_it_wrote(tmp_path: Path) -> None:
    server = ZoneFileTarget(tmp_path / "zones", tmp_path / "server")
    services = _services(tmp_path, server.reload_command())
    _published(services, _site("192.0.2.1"))
    written = next(line for line in (tmp_path / "zones" / "example.com.zone").read_text().splitlines() if "www" in line)
    # The reload right after the next write changes the new address in the file, in place, keeping
    # its inode, size and mtime: nothing but its bytes tells.
    server.edit_after_next_write(written.replace("192.0.2.1", "192.0.2.2"), written.replace("192.0.2.1", "192.0.2.9"))

    _published(services, _site("192.0.2.2"))

    with services.store.unit_of_work() as uow:
        zone = uow.zones.owner_of("example.com")
        assert zone is not None and zone.sync_error is not None
        assert "does not serve what was written (www/A)" in zone.sync_error
    services.close()


def _counted(calls: Counter[str], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return method(*args, **kwargs)

    return counted
