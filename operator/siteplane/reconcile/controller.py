"""The reconcile loop: watch events in, a bounded number of reconciles at a time, effects out.

kopf delivers every watch event of siteplane's kinds to ``observe`` (handlers/resources.py), which
only remembers the object and queues its key when there is something to do: a new object, a new
generation of its spec, its deletion, or our finalizer missing. Status writes and other metadata
changes are remembered but queue nothing. A fixed number of workers take keys from the queue
(workqueue.py: a key is never reconciled twice at once, and always once more after its last
change), run the kind's reconciler, and hand on what it set in motion: zones to the zone writer,
objects whose status moved to the status writer. A failed reconcile is retried with backoff.

So the work in flight is bounded by the number of workers, whatever the number of objects: a
burst of 10,000 Sites is 10,000 keys in a queue, not 10,000 handlers waiting.

A restart resumes rather than redoes (``resume``): a Site or DNSRecord first seen in the start-up
listing whose generation the database already holds, carrying our finalizer and a Ready status of
that generation, was stored and served by the previous run, and nothing has changed it since (its
zones' unfinished work is requested at start from the database itself). It is not reconciled
again: at 50,000 Sites that is the difference between minutes and seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from siteplane import metrics
from siteplane.domain.objects import ObjectRef
from siteplane.errors import InvalidSpec, SiteplaneError
from siteplane.kube.client import ApiError
from siteplane.kube.objects import CustomObjects
from siteplane.reconcile.observed import FINALIZER, Key, ObjectCache, Observed
from siteplane.reconcile.outcome import Outcome, Reconciler
from siteplane.reconcile.status import problem, ready_status
from siteplane.reconcile.status_writer import StatusWriter
from siteplane.reconcile.workqueue import QueueClosed, WorkQueue
from siteplane.reconcile.zone_writer import ZoneWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gone:
    """An object the API server deleted: whatever is still kept for it is dropped."""

    ref: ObjectRef


QueueItem = Key | Gone


def kind_of(item: QueueItem) -> str:
    return item.ref.kind if isinstance(item, Gone) else item.kind


class StartupProgress:
    """When a (re)started operator has reconciled, or resumed as stored, every object it serves
    once: the moment a restart is done. One log line says so, which operators (and the benchmark)
    can wait for."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.started = time.monotonic()
        self._seen: set[str] = set()
        self.resumed = 0
        self.done = expected == 0
        if self.done:
            log.info("startup: all 0 objects seen")

    def seen(self, uid: str, resumed: bool = False) -> None:
        if self.done:
            return
        if uid not in self._seen:
            self.resumed += resumed
        self._seen.add(uid)
        if len(self._seen) >= self.expected:
            self.done = True
            self._seen.clear()
            log.info(
                "startup: all %d objects seen in %.1fs (%d resumed as stored, %d reconciled)",
                self.expected,
                time.monotonic() - self.started,
                self.resumed,
                self.expected - self.resumed,
            )


@dataclass
class ControllerStats:
    reconciles: dict[str, int] = field(default_factory=dict)  # "kind/result" -> count
    seconds: dict[str, float] = field(default_factory=dict)  # kind -> total time

    def count(self, kind: str, result: str, elapsed: float) -> None:
        key = f"{kind}/{result}"
        self.reconciles[key] = self.reconciles.get(key, 0) + 1
        self.seconds[kind] = self.seconds.get(kind, 0.0) + elapsed


class Controller:
    def __init__(
        self,
        reconcilers: Mapping[str, Reconciler],
        cache: ObjectCache,
        objects: CustomObjects,
        status: StatusWriter,
        writer: ZoneWriter,
        workers: int,
        settle_authors: Callable[[], Awaitable[None]] | None = None,
        gate: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.reconcilers = reconcilers
        # Called before each reconcile: what admission noted about the change (its author) must
        # be in the database before the change's history is.
        self.settle_authors = settle_authors
        self.cache = cache
        cache.listener = self._changed
        self.objects = objects
        self.status = status
        self.writer = writer
        self.queue: WorkQueue[QueueItem] = WorkQueue(
            on_add=lambda item: metrics.queued(kind_of(item)),
            on_retry=lambda item: metrics.retried(kind_of(item)),
        )
        self.progress: StartupProgress | None = None
        self.stats = ControllerStats()
        # Awaited before each key is taken: a standby replica reconciles nothing (leadership.py).
        self.gate = gate
        # uid -> when a change that is to be served was seen (change-to-served latency).
        self._changed_at: dict[str, float] = {}
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        # uid -> generation the previous run stored, until the start-up listing has been seen.
        self._resumed: dict[str, int] = {}

    # -- events in ----------------------------------------------------------------------------

    def observe(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        """One watch event (``event_type`` None: seen in a listing). Quick: it only remembers and queues."""
        observed = Observed.from_body(kind, body)
        if event_type == "DELETED":
            self._changed_at.pop(observed.ref.uid, None)
            if self.cache.pop(observed.key, observed.ref.uid) is not None or observed.finalized:
                self.queue.add(Gone(observed.ref))
            return
        self.cache.put(observed)  # _changed hears it

    def resume(self, stored: dict[str, int]) -> None:
        """Before the start-up listing: the generation the previous run stored of each live Site
        and DNSRecord (uid -> generation). Those listed just as they were stored are not queued."""
        self._resumed = stored

    def _changed(self, previous: Observed | None, current: Observed) -> None:
        """Queue the object if this change asks for work; the cache calls it on every change it
        stores, from a watch event or from the answer to our own write alike."""
        if previous is None and self._served_as_stored(current):
            self._seen(current.ref.uid, resumed=True)
            return
        if _needs_reconcile(previous, current):
            self._changed_at.setdefault(current.ref.uid, time.monotonic())
            self.queue.add(current.key)

    def _served_as_stored(self, obj: Observed) -> bool:
        """Whether the previous run stored this generation and the object says it was served."""
        stored = self._resumed.pop(obj.ref.uid, None)
        return (
            stored == obj.generation
            and obj.finalized
            and not obj.deleting
            and obj.status.get("observedGeneration") == obj.generation
            and ready_status(obj.status) == "True"
        )

    def _seen(self, uid: str, resumed: bool = False) -> None:
        if self.progress is not None:
            self.progress.seen(uid, resumed)
            if self.progress.done:
                self._resumed.clear()  # what was not listed is gone: its own events say so

    def requeue(self, ref: ObjectRef) -> None:
        """Reconcile ``ref`` again although nothing changed (e.g. a DNSBackend's periodic check)."""
        found = self.cache.find(ref)
        if found is not None:
            self.queue.add(found.key)

    def deleting(self) -> set[str]:
        """uids of the objects being deleted right now."""
        return {o.ref.uid for kind in self.reconcilers for o in self.cache.of_kind(kind) if o.deleting}

    # -- work ---------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work(), name=f"reconcile-worker-{i}") for i in range(self._workers)]

    async def stop(self) -> None:
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def served(self, refs: set[ObjectRef]) -> None:
        """A zone sync served these objects' changes: how long each took since it was seen."""
        now = time.monotonic()
        for ref in refs:
            since = self._changed_at.pop(ref.uid, None)
            if since is not None:
                metrics.change_served(ref.kind, now - since)

    def queue_depth(self) -> dict[str, int]:
        """Keys waiting, by kind."""
        return _by_kind(self.queue.waiting())

    def in_flight(self) -> dict[str, int]:
        """Reconciles running, by kind."""
        return _by_kind(self.queue.processing())

    async def _work(self) -> None:
        while True:
            if self.gate is not None:
                await self.gate()
            try:
                item = await self.queue.get()
            except QueueClosed:
                return
            try:
                await self._process(item)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one object end a worker
                log.exception("reconciling %s failed unexpectedly", item)
                metrics.failed_unexpectedly(kind_of(item))
                if isinstance(item, Key):
                    self.queue.retry(item, base=2, cap=300)
            finally:
                self.queue.done(item)

    async def _process(self, item: QueueItem) -> None:
        if isinstance(item, Gone):
            await self._gone(item.ref)
            return
        obj = self.cache.get(item)
        if obj is None:
            return
        started = time.monotonic()
        try:
            outcome = await self._reconcile(self.reconcilers[obj.ref.kind], obj)
        except SiteplaneError as error:
            self.stats.count(obj.ref.kind, "error", time.monotonic() - started)
            metrics.reconciled(obj.ref.kind, "error", time.monotonic() - started)
            self._failed(item, obj, error)
        else:
            result = "success" if outcome.retry_after is None else "requeue"
            self.stats.count(obj.ref.kind, result, time.monotonic() - started)
            metrics.reconciled(
                obj.ref.kind, "success" if result == "success" else "requeue_after", time.monotonic() - started
            )
            self._hand_on(obj.ref, outcome)
            if outcome.retry_after is None:
                self.queue.forget(item)
            else:
                self.queue.add_after(item, outcome.retry_after)
        self._seen(obj.ref.uid)

    async def _reconcile(self, reconciler: Reconciler, obj: Observed) -> Outcome:
        if self.settle_authors is not None:
            await self.settle_authors()
        if obj.deleting:
            return await self._finalize(reconciler, obj)
        if reconciler.finalizer and not obj.finalized:
            # Before anything is stored or published: a deletion must always find us.
            obj = await self._set_finalizers(obj, (*obj.finalizers, FINALIZER))
        return await reconciler.reconcile(obj)

    def _failed(self, key: Key, obj: Observed, error: SiteplaneError) -> None:
        """The object shows the error; it is tried again unless only a new spec can help."""
        log.info("%s: %s", obj.ref, error)
        self.status.set_report(obj.ref, problem(error, obj.generation))
        self.status.mark([obj.ref])
        if error.retryable:
            self.queue.retry(key, base=1, cap=300)
        elif not isinstance(error, InvalidSpec):
            self.queue.retry(key, base=30, cap=600)  # a person has to act first: slowly
        else:
            self.queue.forget(key)

    async def _finalize(self, reconciler: Reconciler, obj: Observed) -> Outcome:
        if not obj.finalized:
            return Outcome()  # not ours to hold: the API server removes it when others let go
        outcome = await reconciler.finalize(obj)
        if outcome.finished:
            await self._set_finalizers(obj, tuple(f for f in obj.finalizers if f != FINALIZER))
        return outcome

    def _hand_on(self, ref: ObjectRef, outcome: Outcome) -> None:
        """The outcome's effects to the writers: zones to the zone writer (the object's status is
        written after their sync), other objects' status to the status writer."""
        self.status.set_report(ref, outcome.report)
        others = outcome.effects.without([ref])
        if not outcome.effects.zones:
            self._changed_at.pop(ref.uid, None)  # nothing for a DNS server to serve
            self.status.mark([ref, *others])
            return
        # Every status this change moved is written once its zones serve it: no object reads
        # Ready, or NotPermitted, while the server still says otherwise.
        for zone in sorted(outcome.effects.zones):
            self.writer.request(zone, ref, others)

    async def _set_finalizers(self, obj: Observed, finalizers: tuple[str, ...]) -> Observed:
        """Write ``finalizers`` onto the object, against the version seen; on a conflict, read again."""
        for _ in range(3):
            try:
                body = await self.objects.set_finalizers(obj.ref, finalizers, obj.resource_version)
            except ApiError as error:
                if error.status != 409:
                    raise
                fresh = await self.objects.get(obj.ref)
                if fresh is None:
                    raise
                obj = Observed.from_body(obj.ref.kind, fresh)
                self.cache.put(obj)
                keep = FINALIZER in finalizers
                finalizers = tuple(f for f in obj.finalizers if f != FINALIZER) + ((FINALIZER,) if keep else ())
                continue
            updated = Observed.from_body(obj.ref.kind, body)
            self.cache.put(updated)
            return updated
        raise ApiError(409, "Conflict", f"{obj.ref} kept changing while its finalizers were written")

    async def _gone(self, ref: ObjectRef) -> None:
        reconciler = self.reconcilers.get(ref.kind)
        self.status.forget(ref)
        if reconciler is None:
            return
        try:
            await reconciler.forget(ref)
        except SiteplaneError as error:
            log.warning("cleaning up after %s failed: %s", ref, error)


def _by_kind(items: list[QueueItem]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        kind = kind_of(item)
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _needs_reconcile(previous: Observed | None, current: Observed) -> bool:
    if previous is None or previous.ref.uid != current.ref.uid:
        return True  # new to us (or a new object of the same name)
    if current.deleting:
        return not previous.deleting  # the deletion started; its retries come from the queue
    return previous.generation != current.generation or (previous.finalized and not current.finalized)
