"""Who made each change: the admission webhook notes the author of every admitted change of a
Site, DNSZone or DNSRecord, and this writes them to the database in batches.

Batched, not one transaction per admission: the webhook answers at once, and a burst of 10,000
creates costs a few writes. The controller flushes the buffer before it reconciles a change
(``flush``), so a change's author is in the database before the change's history is: the live
updates read both at once, a moment after the commit, and must not say "unknown" of a change whose
author is merely still in the buffer. A flush with nothing buffered costs nothing; in a burst, one
flush writes the authors of every change admitted so far. An author still in the buffer when the
operator dies is lost: that change's history then says the author is unknown, which is true;
nothing is ever guessed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from siteplane.errors import SiteplaneError
from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Authorship:
    object_uid: str
    generation: int
    operation: str  # CREATE, UPDATE or DELETE
    username: str


class AuthorLog:
    def __init__(self, store: Store, delay: float = 0.2) -> None:
        self.store = store
        self.delay = delay
        self._buffer: list[Authorship] = []
        self._flush: asyncio.Task[None] | None = None
        # One write at a time: a flush that finds the buffer empty waits for a batch still being
        # written, which may hold the author it needs.
        self._writing = asyncio.Lock()

    def note(self, authorship: Authorship) -> None:
        self._buffer.append(authorship)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._write_soon(), name="author-log")

    async def close(self) -> None:
        if self._flush is not None:
            await self._flush
        await self._write()

    async def flush(self) -> None:
        """Every author noted so far is in the database (or its write failed and was logged)."""
        await self._write()

    async def _write_soon(self) -> None:
        await asyncio.sleep(self.delay)
        await self._write()

    async def _write(self) -> None:
        async with self._writing:
            await self._write_batch()

    async def _write_batch(self) -> None:
        batch, self._buffer = self._buffer, []
        if not batch:
            return

        def record(uow: UnitOfWork) -> None:
            uow.authors.record_many((a.object_uid, a.generation, a.operation, a.username) for a in batch)

        try:
            await asyncio.to_thread(self.store.transaction, record)
        except SiteplaneError as error:
            log.warning("recording the authors of %d change(s) failed: %s", len(batch), error)
