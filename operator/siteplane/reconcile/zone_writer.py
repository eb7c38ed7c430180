"""One writer per zone, with coalescing: many requests for one zone become few syncs.

Every caller that changed the database for a zone asks for a sync and awaits it. Requests that
arrive while a sync of that zone runs are served together by the next one, so a burst of 500 Sites
in a zone costs a handful of backend writes, not 500. A sync always starts after the request that
it answers, so it sees that request's committed changes.

Only a few syncs run at once (``concurrency``), and a zone's requests are taken up only when its
sync gets a slot. That is the back-pressure: when thousands of Sites arrive in hundreds of zones,
each zone's requests pile up while it waits and are served by one sync, so the number of syncs
falls as the load rises; a single change on a quiet system still starts at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.zone_sync import SyncResult

T = TypeVar("T")


@dataclass
class WriterStats:
    requests: int = 0
    syncs: int = 0
    syncs_per_zone: dict[str, int] = field(default_factory=dict)


class ZoneWriter:
    def __init__(self, sync: Callable[[str], SyncResult], gather_seconds: float = 0.05, concurrency: int = 2) -> None:
        self._sync = sync
        self._gather = gather_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting: dict[str, list[tuple[asyncio.Future[SyncResult], ObjectRef | None]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.stats = WriterStats()

    def _lock(self, zone_name: str) -> asyncio.Lock:
        return self._locks.setdefault(zone_name, asyncio.Lock())

    async def exclusive(self, zone_name: str, work: Callable[[], T]) -> T:
        """Run ``work`` (in a thread) while no sync of ``zone_name`` runs: e.g. removing the zone."""
        async with self._lock(zone_name):
            return await asyncio.to_thread(work)

    async def sync(self, zone_name: str, requester: ObjectRef | None = None) -> SyncResult:
        """Sync ``zone_name`` after this call; ``requester`` is the object on whose behalf.

        The result's ``affected`` set (objects whose state the sync changed) leaves out every
        requester served by the same sync, which reports on itself, and is handed to one waiter
        only: with 500 Sites in one burst, nobody re-reads the other 499.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SyncResult] = loop.create_future()
        self._waiting.setdefault(zone_name, []).append((future, requester))
        self.stats.requests += 1
        if zone_name not in self._workers:
            self._workers[zone_name] = loop.create_task(self._drain(zone_name), name=f"zone-writer:{zone_name}")
        return await future

    async def _drain(self, zone_name: str) -> None:
        try:
            while self._waiting.get(zone_name):
                await asyncio.sleep(self._gather)  # let the rest of a burst arrive
                async with self._slots, self._lock(zone_name):
                    # Taken only now: whatever arrived while this zone waited for a slot rides along.
                    waiters = self._waiting.pop(zone_name)
                    self.stats.syncs += 1
                    self.stats.syncs_per_zone[zone_name] = self.stats.syncs_per_zone.get(zone_name, 0) + 1
                    try:
                        result = await asyncio.to_thread(self._sync, zone_name)
                    except Exception as error:  # handed to every waiter; the worker goes on
                        for waiter, _ in waiters:
                            if not waiter.done():
                                waiter.set_exception(error)
                        continue
                others = {ref for ref in result.affected if ref not in {r for _, r in waiters}}
                for index, (waiter, _) in enumerate(waiters):
                    if not waiter.done():
                        waiter.set_result(replace(result, affected=others if index == 0 else set()))
        finally:
            self._workers.pop(zone_name, None)
