"""The one writer of every object's status.

Whoever changes what an object should show (its reconcile, a zone sync, another object's change)
only marks it. This writer takes the marked objects in batches, computes each status from one
snapshot of the database read *after* the marks (or takes the report its reconcile left, for
what the database cannot tell: an invalid spec, a deletion that is blocked, an AccessGrant), and
patches only what differs, carrying the resourceVersion the patch was computed against.

Why no stale status can be the last one written: every change is committed before its object is
marked, and a mark taken while a batch is being written is kept for the next batch. So after the
last change to an object, one more write of it starts, and reads the database as it is then. A
write computed against an older view of the object itself is refused by the API server (409); the
writer reads the object again and recomputes. No reconcile waits for any of this.

Tallies settle. A patch that would change only a report's settling fields (a zone's serial and
record count) waits while the zone has syncs queued or running (``busy``) and until the object has
been quiet, unmarked, for ``settle`` seconds; at most ``settle_max`` seconds in all. A burst of
Sites moves each zone's serial with every sync, seconds apart under load, and writing each move
would cost the API more than the Sites' own status. The wait ends with a fresh computation, so
what is written is the tally as it is then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from siteplane import metrics
from siteplane.domain.objects import ObjectRef
from siteplane.errors import SiteplaneError
from siteplane.kube.client import ApiError
from siteplane.kube.objects import CustomObjects
from siteplane.reconcile.observed import Key, ObjectCache, Observed
from siteplane.reconcile.status import READY, StatusReport, render
from siteplane.reconcile.workqueue import backoff
from siteplane.store.models import Change, ObjectStatus
from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)
BATCH = 500
ATTEMPTS = 3

Reporter = Callable[[UnitOfWork, list[ObjectRef]], Mapping[Key, StatusReport]]
"""Reports for a batch of objects of one kind, from one unit of work; objects it has nothing to
say about (gone from the database, say) are left out."""


@dataclass(frozen=True)
class Summary:
    """An object's Ready as the dashboard sees it."""

    ready: str
    reason: str
    message: str
    observed_generation: int | None


def summarise(report: StatusReport, generation: int | None) -> Summary | None:
    ready = next((c for c in report.conditions if c.type == READY), None)
    if ready is None:
        return None
    observed = report.generation if report.generation is not None else generation
    return Summary(ready.status, ready.reason, ready.message, observed)


def _store_summaries(uow: UnitOfWork, changed: list[tuple[Key, ObjectRef, Summary]]) -> None:
    rows = uow.statuses.current((key.kind, key.namespace, key.name) for key, _, _ in changed)
    for key, ref, summary in changed:
        row = rows.get((key.kind, key.namespace, key.name))
        if row is None:
            row = ObjectStatus(kind=key.kind, namespace=key.namespace, name=key.name)
            uow.statuses.add(row)
        before = (row.ready, row.reason, row.observed_generation)
        row.uid, row.ready, row.reason = ref.uid, summary.ready, summary.reason
        row.message, row.observed_generation = summary.message, summary.observed_generation
        if before != (summary.ready, summary.reason, summary.observed_generation):
            uow.changes.append(
                Change(
                    kind=key.kind,
                    namespace=key.namespace,
                    name=key.name,
                    uid=ref.uid,
                    ready=summary.ready,
                    reason=summary.reason,
                    observed_generation=summary.observed_generation,
                )
            )
    uow.changes.announce()


def _store_gone(uow: UnitOfWork, refs: Iterable[ObjectRef]) -> None:
    for ref in refs:
        uow.statuses.remove(ref.kind, ref.namespace, ref.name)
        uow.changes.append(Change(kind=ref.kind, namespace=ref.namespace, name=ref.name, uid=ref.uid))
    uow.changes.announce()


MAX_STRETCH = 4  # a busy zone's tallies wait at most 2**4 x settle_max


@dataclass
class WriterStats:
    writes: int = 0
    conflicts: int = 0
    failures: int = 0


class StatusWriter:
    def __init__(
        self,
        store: Store,
        objects: CustomObjects,
        cache: ObjectCache,
        reporters: Mapping[str, Reporter],
        concurrency: int = 8,
        gate: Callable[[], Awaitable[None]] | None = None,
        settle: float = 2.0,
        settle_max: float = 30.0,
        busy: Callable[[str], bool] | None = None,
    ) -> None:
        self.store = store
        self.settle, self.settle_max, self.busy = settle, settle_max, busy
        # Awaited before each batch of writes: a standby replica writes no status (leadership.py).
        self.gate = gate
        self.objects = objects
        self.cache = cache
        self.reporters = reporters
        self._slots = asyncio.Semaphore(concurrency)
        self._dirty: dict[Key, ObjectRef] = {}
        self._reports: dict[Key, StatusReport] = {}
        self._gone: dict[Key, ObjectRef] = {}
        self._recorded: dict[Key, Summary] = {}  # what the database's object_status holds, as last written
        self._attempts: dict[Key, int] = {}  # failed writes in a row, per object: its own backoff
        self._marked_at: dict[Key, float] = {}  # when each object was last marked (monotonic)
        self._settling: dict[Key, float] = {}  # objects whose tallies wait, since when
        # Tally writes made in a row while the zone stayed busy: each waits twice as long as the last.
        self._stretched: dict[Key, int] = {}
        self._settle_timers: dict[Key, asyncio.TimerHandle] = {}
        self._marked = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.stats = WriterStats()

    # -- marking ------------------------------------------------------------------------------

    def mark(self, refs: Iterable[ObjectRef]) -> None:
        """These objects' status may read differently now: write it (if it does) soon."""
        now = time.monotonic()
        for ref in refs:
            key = Key.of(ref)
            self._dirty[key] = ref
            self._marked_at[key] = now
            self._idle.clear()
            self._marked.set()

    def set_report(self, ref: ObjectRef, report: StatusReport | None) -> None:
        """What ``ref`` shows instead of what the database says (None: the database decides again)."""
        if report is None:
            self._reports.pop(Key.of(ref), None)
        else:
            self._reports[Key.of(ref)] = report

    def forget(self, ref: ObjectRef) -> None:
        """``ref`` is gone from the API server: nothing more to write, and the change feed says so."""
        key = Key.of(ref)
        self._reports.pop(key, None)
        self._dirty.pop(key, None)
        self._recorded.pop(key, None)
        self._attempts.pop(key, None)
        self._marked_at.pop(key, None)
        self._settling.pop(key, None)
        self._stretched.pop(key, None)
        if (timer := self._settle_timers.pop(key, None)) is not None:
            timer.cancel()
        self._gone[key] = ref
        self._idle.clear()
        self._marked.set()

    def pending(self) -> int:
        return len(self._dirty) + len(self._settle_timers)

    async def idle(self) -> None:
        """Until nothing is marked, settling or being written (for tests and the benchmark)."""
        await self._idle.wait()

    # -- writing ------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self._marked.wait()
            self._marked.clear()
            while self._dirty or self._gone:
                if self.gate is not None:
                    await self.gate()
                batch = dict(list(self._dirty.items())[:BATCH])
                for key in batch:
                    del self._dirty[key]
                await self._write_batch(list(batch.values()))
                await self._record_gone()
            if not self._dirty and not self._settle_timers:
                self._idle.set()

    async def _write_batch(self, refs: list[ObjectRef]) -> None:
        try:
            computed = await asyncio.to_thread(self.store.read, lambda uow: self._compute(uow, refs))
        except SiteplaneError as error:  # the database: objects with a report of their own still get it
            log.debug("status from the database failed: %s", error)
            computed = {}
            self._later([r for r in refs if Key.of(r) not in self._reports], error)
        keys = {Key.of(r) for r in refs}
        reports = {**computed, **{k: v for k, v in self._reports.items() if k in keys}}
        await asyncio.gather(*(self._write(ref, reports[Key.of(ref)]) for ref in refs if Key.of(ref) in reports))
        await self._record([(ref, reports[Key.of(ref)]) for ref in refs if Key.of(ref) in reports])

    # -- what the dashboard reads: each object's Ready, and the change feed ---------------------

    async def _record(self, written: list[tuple[ObjectRef, StatusReport]]) -> None:
        """Store each object's Ready where it changed, and append it to the change feed."""
        changed: list[tuple[Key, ObjectRef, Summary]] = []
        for ref, report in written:
            current = self.cache.find(ref)
            summary = summarise(report, current.generation if current else None)
            key = Key.of(ref)
            if summary is not None and self._recorded.get(key) != summary:
                changed.append((key, current.ref if current else ref, summary))
        if not changed:
            return
        try:
            await asyncio.to_thread(self.store.transaction, lambda uow: _store_summaries(uow, changed))
        except SiteplaneError as error:  # the dashboard's view lags; the objects' status is written
            log.warning("recording %d object(s)' Ready for the dashboard failed: %s", len(changed), error)
            return
        for key, _, summary in changed:
            self._recorded[key] = summary

    async def _record_gone(self) -> None:
        if not self._gone:
            return
        gone, self._gone = self._gone, {}
        try:
            await asyncio.to_thread(self.store.transaction, lambda uow: _store_gone(uow, gone.values()))
        except SiteplaneError as error:
            log.warning("recording %d deletion(s) for the dashboard failed: %s", len(gone), error)
            self._gone.update(gone)

    def _compute(self, uow: UnitOfWork, refs: list[ObjectRef]) -> dict[Key, StatusReport]:
        by_kind: dict[str, list[ObjectRef]] = {}
        for ref in refs:
            if Key.of(ref) not in self._reports:
                by_kind.setdefault(ref.kind, []).append(ref)
        reports: dict[Key, StatusReport] = {}
        for kind, group in by_kind.items():
            reporter = self.reporters.get(kind)
            if reporter is not None:
                reports.update(reporter(uow, group))
        return reports

    async def _write(self, ref: ObjectRef, report: StatusReport) -> None:
        async with self._slots:
            if await self._written(ref, report):
                self._attempts.pop(Key.of(ref), None)

    async def _written(self, ref: ObjectRef, report: StatusReport) -> bool:
        """Write ``report`` unless the object already shows it; False when it is to be tried again later."""
        for _ in range(ATTEMPTS):
            current = self.cache.find(ref) or await self._read(ref)
            if current is None:
                return True  # gone, or replaced by another object of the same name
            if current.deleting and not current.finalized:
                return True  # only the garbage collector has business with it now
            patch = render(current.status, current.generation, report)
            if not patch:
                self._settling.pop(Key.of(ref), None)
                return True
            if self._waits_to_settle(ref, patch.keys(), report):
                return True
            try:
                body = await self.objects.patch_status(current.ref, patch, current.resource_version)
            except ApiError as error:
                if error.status == 409:  # our view of the object was stale: look again
                    self.stats.conflicts += 1
                    await self._read(ref)
                    continue
                if error.status == 404:
                    return True
                self._later([ref], error)
                return False
            except SiteplaneError as error:
                self._later([ref], error)
                return False
            self.stats.writes += 1
            self._settling.pop(Key.of(ref), None)
            metrics.status_written(ref.kind)
            self.cache.put(Observed.from_body(ref.kind, body))
            return True
        self._later([ref], None)
        return False

    def _waits_to_settle(self, ref: ObjectRef, changed: Iterable[str], report: StatusReport) -> bool:
        """Whether this patch, which changes only tallies, waits; if so, the object is looked at
        again once it may have settled."""
        key = Key.of(ref)
        if not report.settling or not set(changed) <= report.settling:
            self._settling.pop(key, None)
            return False
        now = time.monotonic()
        since = self._settling.setdefault(key, now)
        busy = report.settling_zone is not None and self.busy is not None and self.busy(report.settling_zone)
        quiet_at = self._marked_at.get(key, now) + self.settle
        # A zone busy for many minutes (a large import) shows its tallies after settle_max, then
        # after twice that, and so on up to 16 times: progress to watch at a cost that grows with
        # the logarithm of the burst's length, not with its length.
        stretched = self._stretched.get(key, 0)
        longest = self.settle_max * 2 ** min(stretched, MAX_STRETCH)
        # While busy, look again every ``settle`` seconds: its last sync may mark nothing new.
        due = min(now + self.settle if busy else quiet_at, since + longest)
        if now >= due:
            if busy:
                self._stretched[key] = stretched + 1
            else:
                self._stretched.pop(key, None)
            return False
        if key not in self._settle_timers:
            self._settle_timers[key] = asyncio.get_running_loop().call_later(due - now, self._settled, key, ref)
        return True

    def _settled(self, key: Key, ref: ObjectRef) -> None:
        """A settling object's wait is over: compute its status again (not a mark: it stays quiet)."""
        self._settle_timers.pop(key, None)
        self._dirty[key] = ref
        self._idle.clear()
        self._marked.set()

    async def _read(self, ref: ObjectRef) -> Observed | None:
        try:
            body = await self.objects.get(ref)
        except SiteplaneError as error:
            log.debug("reading %s failed: %s", ref, error)
            return None
        if body is None:
            return None
        observed = Observed.from_body(ref.kind, body)
        self.cache.put(observed)
        return observed

    def _later(self, refs: list[ObjectRef], error: Exception | None) -> None:
        """Mark ``refs`` again after a pause: the API server or the database is in trouble.

        Each object backs off by its own failures in a row, so one object that keeps failing
        (or an outage long over) does not slow the retry of another."""
        self.stats.failures += len(refs)
        if error is not None:
            log.warning("writing the status of %d object(s) failed (%s); trying again", len(refs), error)
        loop = asyncio.get_running_loop()
        for ref in refs:
            key = Key.of(ref)
            attempts = self._attempts[key] = self._attempts.get(key, 0) + 1
            loop.call_later(backoff(min(attempts - 1, 5)), self.mark, [ref])
