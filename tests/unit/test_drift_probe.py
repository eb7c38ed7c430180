"""Drift checks of zones whose rows did not change: a probe of the server, not a whole sync.

On the embedded defaults (a SQLite file, zone files). The probe must answer "quiet" without one
statement to the database besides the batched checked_at, and must hand every case it cannot be
sure of to a whole sync: a server that changed, a change waiting beside the check, a new
leadership term, a digest too old, a failed last sync, a signed zone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from siteplane.dns import signing
from siteplane.reconcile.zone_sync import SyncResult, ZoneSynchronizer
from siteplane.reconcile.zone_writer import WriterStats, ZoneWriter
from tests.embedded import Embedded, observed
from tests.statements import statement_kinds

ZONE = observed("DNSZone", "zone", {"zoneName": "example.com", "nameServers": ["ns1.example.net"]})
SITE = observed("Site", "www", {"primaryDomain": "www.example.com", "serving": {"ipv4": ["192.0.2.1"]}})


def _world(tmp_path: Path) -> Embedded:
    world = Embedded.create(tmp_path)
    world.run(ZONE)
    world.run(SITE)
    return world


def _checked(world: Embedded, synchronizer: ZoneSynchronizer, *, also_request: bool = False) -> WriterStats:
    """One drift check of example.com through a zone writer with the probe (and, if asked, a
    change's request beside it); returns what the writer did once the check was answered."""

    async def go() -> WriterStats:
        answered = asyncio.Event()

        def on_synced(result: SyncResult, requesters: set[Any]) -> None:
            answered.set()

        writer = ZoneWriter(synchronizer.sync, on_synced, gather_seconds=0.01, probe=synchronizer.probe)
        writer.check("example.com")
        if also_request:
            writer.request("example.com")
        await answered.wait()
        writer.close()
        return writer.stats

    return asyncio.run(go())


def _checked_at(world: Embedded) -> datetime | None:
    return world.store.read(lambda uow: uow.zones.owner_of("example.com").checked_at)


def test_a_check_of_an_unchanged_zone_is_answered_by_a_probe_that_only_writes_checked_at(tmp_path: Path) -> None:
    world = _world(tmp_path)
    synchronizer = ZoneSynchronizer(world.store, world.backends)
    assert synchronizer.sync("example.com").error is None
    before = _checked_at(world)
    zone_file = (tmp_path / "zones" / "example.com.zone").read_bytes()

    with statement_kinds(world.store) as statements:
        stats = _checked(world, synchronizer)

    assert (stats.probes, stats.syncs) == (1, 0)
    assert [s for s in statements if s not in ("BEGIN", "COMMIT")] == ["UPDATE"]  # checked_at, nothing read
    after = _checked_at(world)
    assert before is not None and after is not None and after > before
    assert (tmp_path / "zones" / "example.com.zone").read_bytes() == zone_file
    world.close()


def _edit_served_address(world: Embedded, synchronizer: ZoneSynchronizer, tmp_path: Path) -> None:
    path = tmp_path / "zones" / "example.com.zone"
    path.write_text(path.read_text().replace("192.0.2.1", "192.0.2.99"))


def _nothing(world: Embedded, synchronizer: ZoneSynchronizer, tmp_path: Path) -> None:
    pass


def _failed_last_sync(world: Embedded, synchronizer: ZoneSynchronizer, tmp_path: Path) -> None:
    """A sync that cannot read the zone (its file is a directory for a moment), then the file gone."""
    path = tmp_path / "zones" / "example.com.zone"
    path.unlink()
    path.mkdir()
    assert synchronizer.sync("example.com").error is not None
    path.rmdir()


@pytest.mark.parametrize(
    ("case", "prepare", "also_request", "probe_for_seconds"),
    [
        ("the server changed behind siteplane's back", _edit_served_address, False, 3600.0),
        ("a change's request waits beside the check", _nothing, True, 3600.0),
        ("the digest is older than the whole-sync interval", _nothing, False, 0.0),
        ("the last sync failed", _failed_last_sync, False, 3600.0),
    ],
)
def test_a_check_becomes_a_whole_sync_when_the_probe_cannot_vouch_for_the_zone(
    tmp_path: Path,
    case: str,
    prepare: Callable[[Embedded, ZoneSynchronizer, Path], None],
    also_request: bool,
    probe_for_seconds: float,
) -> None:
    world = _world(tmp_path)
    synchronizer = ZoneSynchronizer(world.store, world.backends, probe_for_seconds=probe_for_seconds)
    assert synchronizer.sync("example.com").error is None
    prepare(world, synchronizer, tmp_path)

    stats = _checked(world, synchronizer, also_request=also_request)

    assert (stats.probes, stats.syncs) == (0, 1), case
    assert "192.0.2.1" in (tmp_path / "zones" / "example.com.zone").read_text()
    world.close()


def test_a_hand_edit_found_by_a_probe_is_put_back_and_counted_as_drift(tmp_path: Path) -> None:
    world = _world(tmp_path)
    synchronizer = ZoneSynchronizer(world.store, world.backends)
    assert synchronizer.sync("example.com").error is None
    _edit_served_address(world, synchronizer, tmp_path)

    _checked(world, synchronizer)

    assert "192.0.2.99" not in (tmp_path / "zones" / "example.com.zone").read_text()
    assert world.store.read(lambda uow: uow.zones.owner_of("example.com").drift_corrections) == 1
    world.close()


def test_a_new_leadership_term_makes_the_next_check_a_whole_sync(tmp_path: Path) -> None:
    world = _world(tmp_path)
    term = [0]
    synchronizer = ZoneSynchronizer(world.store, world.backends, epoch=lambda: term[0])
    assert synchronizer.sync("example.com").error is None
    term[0] += 2  # lost the lead and took it back: another replica may have changed the rows

    first, second = _checked(world, synchronizer), _checked(world, synchronizer)

    assert (first.probes, first.syncs) == (0, 1)
    assert (second.probes, second.syncs) == (1, 0)  # the whole sync vouches for the zone again
    world.close()


def test_a_signed_zone_is_never_only_probed(tmp_path: Path) -> None:
    world = _world(tmp_path)
    key = signing.generate_key(1_700_000_000)
    synchronizer = ZoneSynchronizer(world.store, world.backends, lambda zone, uid: (key,))
    world.store.transaction(lambda uow: setattr(uow.zones.owner_of("example.com"), "dnssec", {"denial": "NSEC3"}))
    assert synchronizer.sync("example.com").error is None

    stats = _checked(world, synchronizer)

    assert (stats.probes, stats.syncs) == (0, 1)  # its signatures are refreshed by whole syncs
    world.close()
