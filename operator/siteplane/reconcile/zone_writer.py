"""One writer per zone, with coalescing: many requests for one zone become few syncs.

Whoever changed the database for a zone asks for a sync: ``request`` and go on, or ``sync`` and
await the result. A quiet zone's writer waits until its requests stop coming for ``gather_seconds``
(but no longer than ``gather_max_seconds``); requests that arrive while a sync of that zone waits
or runs are served together by the next one, which starts ``gather_max_seconds`` after the last
began: a burst of 500 Sites in a zone costs a handful of backend writes, not 500, and a single
change to a quiet zone still starts at once. A sync always starts after the request it answers, so it sees that
request's committed changes.

Only a few syncs run at once (``concurrency``), and a zone's requests are taken up only when its
sync gets a slot. That is the back-pressure: when thousands of Sites arrive in hundreds of zones,
each zone's requests pile up while it waits and are served by one sync, so the number of syncs
falls as the load rises; a single change on a quiet system still starts at once.

A drift check (``check``) that finds nothing else waiting for its zone is first handed to
``probe``: nothing changed the zone's rows since its last sync, so only the server can have moved,
and the probe can say "quiet" without loading and planning the zone. A probe that cannot tell
answers None, and the check becomes a whole sync.

After each sync ``on_synced`` hears the result and who asked, so their status can be written. A
sync that failed is retried by the writer itself with backoff, slowly when no retry can help (a
wrong key, a refused zone): a person, or a change to the DNSBackend, has to act first.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from siteplane import metrics
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.zone_sync import SyncResult

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Waiter:
    future: asyncio.Future[SyncResult] | None  # None: nobody awaits the result
    requester: ObjectRef | None
    concerns: frozenset[ObjectRef] = frozenset()  # objects whose status is to be written after the sync
    check: bool = False  # a drift check: nothing in the database changed for it


def backoff(attempt: int, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter, so that many failures do not retry in lockstep."""
    return random.uniform(base, min(cap, base * 2 ** min(attempt, 16)))


@dataclass
class WriterStats:
    requests: int = 0
    syncs: int = 0
    probes: int = 0  # drift checks answered by a probe, without a sync
    failures: int = 0
    syncs_per_zone: dict[str, int] = field(default_factory=dict)
    probes_per_zone: dict[str, int] = field(default_factory=dict)

    def answered(self, zone_name: str) -> int:
        """Requests and checks of the zone answered so far, by a sync or by a probe."""
        return self.syncs_per_zone.get(zone_name, 0) + self.probes_per_zone.get(zone_name, 0)


class ZoneWriter:
    def __init__(
        self,
        sync: Callable[[str], SyncResult],
        on_synced: Callable[[SyncResult, set[ObjectRef]], None] = lambda result, requesters: None,
        gather_seconds: float = 0.05,
        concurrency: int = 2,
        gather_max_seconds: float = 1.0,
        gate: Callable[[], Awaitable[None]] | None = None,
        probe: Callable[[str], SyncResult | None] | None = None,
    ) -> None:
        self._sync = sync
        self._probe = probe
        # Awaited before each sync: a standby replica writes nothing to DNS (leadership.py).
        self._gate = gate
        self._on_synced = on_synced
        self._gather = gather_seconds
        self._gather_max = max(gather_max_seconds, gather_seconds)
        self._latest: dict[str, float] = {}  # when each zone's last request came
        self._last_start: dict[str, float] = {}  # when each zone's last sync was begun
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting: dict[str, list[Waiter]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._failures: dict[str, int] = {}
        self._retries: dict[str, asyncio.TimerHandle] = {}
        self.stats = WriterStats()

    def _lock(self, zone_name: str) -> asyncio.Lock:
        return self._locks.setdefault(zone_name, asyncio.Lock())

    async def exclusive(self, zone_name: str, work: Callable[[], T]) -> T:
        """Run ``work`` (in a thread) while no sync of ``zone_name`` runs."""
        async with self._lock(zone_name):
            return await asyncio.to_thread(work)

    def request(self, zone_name: str, requester: ObjectRef | None = None, concerns: Iterable[ObjectRef] = ()) -> None:
        """Have ``zone_name`` synced soon; its result reaches ``on_synced`` with ``requester`` and
        ``concerns`` (objects whose status should be written only once the zone serves the change)."""
        self._enqueue(zone_name, Waiter(None, requester, frozenset(concerns)))

    def check(self, zone_name: str) -> None:
        """A drift check: have ``zone_name`` compared with its server, unless its last sync failed
        and the writer is already going to try it again (with its own backoff)."""
        if zone_name not in self._retries:
            self._enqueue(zone_name, Waiter(None, None, check=True))

    async def sync(self, zone_name: str, requester: ObjectRef | None = None) -> SyncResult:
        """Sync ``zone_name`` after this call and return the result of that sync.

        The result's ``affected`` set leaves out every requester served by the same sync, and is
        handed to one waiter only: with 500 Sites in one burst, nobody re-reads the other 499.
        """
        future: asyncio.Future[SyncResult] = asyncio.get_running_loop().create_future()
        self._enqueue(zone_name, Waiter(future, requester))
        return await future

    def pending(self) -> int:
        """Zones with requests waiting for their sync."""
        return len(self._waiting)

    def busy(self, zone_name: str) -> bool:
        """Whether the zone has a sync waiting or running: more of its changes are on their way."""
        return zone_name in self._workers

    def close(self) -> None:
        for handle in self._retries.values():
            handle.cancel()
        self._retries.clear()

    def _enqueue(self, zone_name: str, waiter: Waiter) -> None:
        self._waiting.setdefault(zone_name, []).append(waiter)
        self._latest[zone_name] = time.monotonic()
        self.stats.requests += 1
        if zone_name not in self._workers:
            task = asyncio.get_running_loop().create_task(self._drain(zone_name), name=f"zone-writer:{zone_name}")
            self._workers[zone_name] = task

    async def _drain(self, zone_name: str) -> None:
        try:
            busy = False
            while self._waiting.get(zone_name):
                if busy:
                    # Requests came while the last sync ran: the zone is in a stream of changes,
                    # served once per window rather than once per gap in it.
                    await asyncio.sleep(max(0.0, self._last_start[zone_name] + self._gather_max - time.monotonic()))
                else:
                    await self._gathered(zone_name)
                busy = True
                if self._gate is not None:
                    await self._gate()
                self._last_start[zone_name] = time.monotonic()
                async with self._slots, self._lock(zone_name):
                    # Taken only now: whatever arrived while this zone waited for a slot rides along.
                    waiters = self._waiting.pop(zone_name)
                    result = await self._probed(zone_name, waiters) or await self._synced(zone_name)
                self._settle(zone_name, result, waiters)
        finally:
            self._workers.pop(zone_name, None)
            self._last_start.pop(zone_name, None)

    async def _probed(self, zone_name: str, waiters: list[Waiter]) -> SyncResult | None:
        """The probe's answer when every waiter is a drift check; None: a whole sync is needed."""
        if self._probe is None or not all(w.check for w in waiters):
            return None
        try:
            result = await asyncio.to_thread(self._probe, zone_name)
        except Exception:  # the probe is an optimisation: the whole sync reports what is wrong
            log.debug("zone %s: probe raised", zone_name, exc_info=True)
            return None
        if result is not None:
            metrics.drift_probed()
            self.stats.probes += 1
            self.stats.probes_per_zone[zone_name] = self.stats.probes_per_zone.get(zone_name, 0) + 1
        return result

    async def _synced(self, zone_name: str) -> SyncResult:
        self.stats.syncs += 1
        self.stats.syncs_per_zone[zone_name] = self.stats.syncs_per_zone.get(zone_name, 0) + 1
        try:
            return await asyncio.to_thread(self._sync, zone_name)
        except Exception as error:  # e.g. the database: a result like any failed sync
            log.warning("zone %s: sync failed: %s", zone_name, type(error).__name__)
            log.debug("zone %s: sync raised", zone_name, exc_info=True)
            # Only the type: a database error's text may carry its URL and password.
            return SyncResult(zone_name, error=f"the zone's sync failed ({type(error).__name__})")

    async def _gathered(self, zone_name: str) -> None:
        """Until the zone's requests have paused for ``gather_seconds``, or ``gather_max_seconds``
        have passed: a steady stream of changes becomes one sync per window, not one per change."""
        started = time.monotonic()
        while True:
            quiet_at = self._latest.get(zone_name, started) + self._gather
            deadline = min(quiet_at, started + self._gather_max)
            now = time.monotonic()
            if now >= deadline:
                return
            await asyncio.sleep(deadline - now)

    def _settle(self, zone_name: str, result: SyncResult, waiters: list[Waiter]) -> None:
        requesters = {w.requester for w in waiters if w.requester is not None}
        concerned = requesters.union(*(w.concerns for w in waiters))
        self._schedule_retry(zone_name, result)
        try:
            self._on_synced(result, concerned)
        except Exception:  # a listener's trouble must not stop the zone's writer
            log.exception("zone %s: handling the sync's result failed", zone_name)
        others = {ref for ref in result.affected if ref not in requesters}
        first = True
        for waiter in waiters:
            if waiter.future is not None and not waiter.future.done():
                waiter.future.set_result(replace(result, affected=others if first else set()))
                first = False

    def _schedule_retry(self, zone_name: str, result: SyncResult) -> None:
        pending = self._retries.pop(zone_name, None)
        if pending is not None:
            pending.cancel()
        if result.error is None:
            self._failures.pop(zone_name, None)
            return
        self.stats.failures += 1
        attempt = self._failures.get(zone_name, 0)
        self._failures[zone_name] = attempt + 1
        delay = backoff(attempt) if result.retryable else backoff(attempt, base=30, cap=600)
        self._retries[zone_name] = asyncio.get_running_loop().call_later(delay, self.request, zone_name)
