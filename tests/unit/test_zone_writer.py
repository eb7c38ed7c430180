"""One writer per zone, coalescing: a burst of requests for one zone becomes a few syncs."""

from __future__ import annotations

import asyncio
import threading
import time

from siteplane.reconcile.zone_sync import SyncResult
from siteplane.reconcile.zone_writer import ZoneWriter


class CountingSync:
    """A zone sync that takes a little time and records how many ran at once per zone."""

    def __init__(self, seconds: float = 0.05, gate: threading.Event | None = None) -> None:
        self.seconds = seconds
        self.gate = gate  # when given, a sync of zone "a" holds until it is set
        self.started = threading.Event()
        self.calls: dict[str, int] = {}
        self.running: dict[str, int] = {}
        self.max_parallel_per_zone = 0
        self._lock = threading.Lock()

    def __call__(self, zone: str) -> SyncResult:
        with self._lock:
            self.calls[zone] = self.calls.get(zone, 0) + 1
            self.running[zone] = self.running.get(zone, 0) + 1
            self.max_parallel_per_zone = max(self.max_parallel_per_zone, self.running[zone])
        self.started.set()
        if self.gate is not None and zone == "a":
            self.gate.wait(30)
        time.sleep(self.seconds)
        with self._lock:
            self.running[zone] -= 1
        return SyncResult(zone, serial=self.calls[zone])


def test_a_burst_of_five_hundred_requests_for_one_zone_costs_a_few_syncs() -> None:
    sync = CountingSync()

    async def burst() -> list[SyncResult]:
        writer = ZoneWriter(sync)
        return await asyncio.gather(*(writer.sync("example.com") for _ in range(500)))

    results = asyncio.run(burst())
    assert len(results) == 500
    assert sync.calls["example.com"] <= 3
    assert sync.max_parallel_per_zone == 1


def test_requests_arriving_during_a_sync_are_served_by_a_later_one() -> None:
    sync = CountingSync(seconds=0.2)

    async def staggered() -> tuple[SyncResult, SyncResult]:
        writer = ZoneWriter(sync, gather_seconds=0.01)
        first = asyncio.create_task(writer.sync("example.com"))
        await asyncio.sleep(0.1)  # the first sync is running now
        second = await writer.sync("example.com")
        return await first, second

    first, second = asyncio.run(staggered())
    assert second.serial is not None and first.serial is not None and second.serial > first.serial


def test_zones_are_written_in_parallel_but_each_by_one_writer() -> None:
    sync = CountingSync()

    async def many_zones() -> None:
        writer = ZoneWriter(sync)
        await asyncio.gather(*(writer.sync(f"z{i % 5}.example") for i in range(100)))

    asyncio.run(many_zones())
    assert set(sync.calls) == {f"z{i}.example" for i in range(5)}
    assert sync.max_parallel_per_zone == 1


def test_a_failing_sync_reaches_every_waiter_and_the_writer_goes_on() -> None:
    calls = 0

    def flaky(zone: str) -> SyncResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk full")
        return SyncResult(zone, serial=calls)

    async def run() -> tuple[list[SyncResult], SyncResult]:
        writer = ZoneWriter(flaky)
        failed = await asyncio.gather(*(writer.sync("example.com") for _ in range(3)))
        recovered = await writer.sync("example.com")
        writer.close()
        return list(failed), recovered

    failed, recovered = asyncio.run(run())
    assert [f.error for f in failed] == ["the zone's sync failed (OSError)"] * 3
    assert (recovered.error, recovered.serial) == (None, 2)


def test_objects_a_sync_affected_are_reported_once_and_never_to_themselves() -> None:
    from siteplane.domain.objects import ObjectRef

    refs = [ObjectRef("Site", "ns", f"s{i}", f"uid-{i}") for i in range(5)]
    bystander = ObjectRef("Site", "ns", "other", "uid-other")

    def sync(zone: str) -> SyncResult:
        return SyncResult(zone, serial=1, affected={*refs, bystander})

    async def burst() -> list[SyncResult]:
        writer = ZoneWriter(sync)
        return await asyncio.gather(*(writer.sync("example.com", ref) for ref in refs))

    results = asyncio.run(burst())
    reported = [r.affected for r in results if r.affected]
    assert reported == [{bystander}], "one waiter re-reads the bystander; nobody re-reads a requester"


def test_zones_waiting_for_a_sync_slot_gather_their_requests_into_one_sync() -> None:
    # One slot, and zone "a" holds it: the 50 requests for each of "b" and "c" arriving meanwhile,
    # spread out in time, are served by one sync per zone once a slot is free.
    gate = threading.Event()
    sync = CountingSync(seconds=0, gate=gate)

    async def crowded() -> None:
        writer = ZoneWriter(sync, gather_seconds=0.01, concurrency=1)
        first = asyncio.create_task(writer.sync("a"))
        await asyncio.to_thread(sync.started.wait, 30)  # "a" is syncing now, and holds the slot
        later: list[asyncio.Task[SyncResult]] = []
        for _ in range(50):
            later += [asyncio.create_task(writer.sync("b")), asyncio.create_task(writer.sync("c"))]
            await asyncio.sleep(0.002)
        gate.set()
        await asyncio.gather(first, *later)

    asyncio.run(crowded())
    assert sync.calls == {"a": 1, "b": 1, "c": 1}
