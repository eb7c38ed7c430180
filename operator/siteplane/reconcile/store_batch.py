"""Store requests that arrive together share one transaction.

Each Site or DNSRecord reconcile stores its object in a short transaction. In a burst, the
reconcile workers ask for one such transaction each, at once; run one by one, each pays for a
session, a commit (an fsync on SQLite) and statements the ORM would have sent as one
``executemany`` had the rows been flushed together. This gathers the requests made while a
transaction is running and runs them, in arrival order, in the next one: one commit and bulk
statements for the lot, the way the zone writer gathers DNS changes per zone.

What a caller sees does not change: its work runs against a unit of work and its result comes
back, or its own error. When a batch fails, its works run again one by one in transactions of
their own, so one object's failure (or a unique index race) stays that object's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BATCH = 256


@dataclass
class _Request:
    work: Callable[[UnitOfWork], Any]
    result: asyncio.Future[Any]


@dataclass
class BatchStats:
    transactions: int = 0
    works: int = 0
    split: int = 0  # batches that failed and ran again one work at a time


class StoreBatcher:
    def __init__(
        self,
        store: Store,
        lock: Callable[[], AbstractContextManager[object]] = nullcontext,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.store = store
        self.lock = lock  # held around each transaction, as ``outcome.transaction`` holds it
        self.max_batch = max_batch
        self._pending: list[_Request] = []
        self._running: asyncio.Task[None] | None = None
        self.stats = BatchStats()

    async def run(self, work: Callable[[UnitOfWork], T]) -> T:
        """``work`` in a committed transaction, shared with the works requested beside it."""
        request = _Request(work, asyncio.get_running_loop().create_future())
        self._pending.append(request)
        if self._running is None or self._running.done():
            self._running = asyncio.get_running_loop().create_task(self._drain(), name="store-batch")
        result: T = await request.result
        return result

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            batch = [r for r in batch if not r.result.done()]  # its caller was cancelled
            if not batch:
                continue
            try:
                results = await asyncio.to_thread(self._together, [r.work for r in batch])
            except Exception as error:
                if len(batch) == 1:
                    _fail(batch[0], error)
                    continue
                self.stats.split += 1
                log.debug("a batch of %d store requests failed (%s); each on its own", len(batch), error)
                for request in batch:
                    try:
                        (value,) = await asyncio.to_thread(self._together, [request.work])
                    except Exception as alone:
                        _fail(request, alone)
                    else:
                        _answer(request, value)
                continue
            for request, value in zip(batch, results, strict=True):
                _answer(request, value)

    def _together(self, works: list[Callable[[UnitOfWork], Any]]) -> list[Any]:
        with self.lock():
            results = self.store.transaction(lambda uow: [work(uow) for work in works])
        self.stats.transactions += 1
        self.stats.works += len(works)
        return results


# A caller cancelled meanwhile has a done future: nothing more to tell it.
def _answer(request: _Request, value: Any) -> None:
    if not request.result.done():
        request.result.set_result(value)


def _fail(request: _Request, error: BaseException) -> None:
    if not request.result.done():
        request.result.set_exception(error)
