"""Who made each change: the admission webhook notes the author of every admitted change of a
Site, DNSZone or DNSRecord, and this writes them to the database in batches.

Batched, not one transaction per admission: the webhook answers at once, and a burst of 10,000
creates costs a few writes. An author still in the buffer when the operator dies is lost: that
change's history then says the author is unknown, which is true; nothing is ever guessed.
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

    def note(self, authorship: Authorship) -> None:
        self._buffer.append(authorship)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._write_soon(), name="author-log")

    async def close(self) -> None:
        if self._flush is not None:
            await self._flush
        await self._write()

    async def _write_soon(self) -> None:
        await asyncio.sleep(self.delay)
        await self._write()

    async def _write(self) -> None:
        batch, self._buffer = self._buffer, []
        if not batch:
            return

        def record(uow: UnitOfWork) -> None:
            for a in batch:
                uow.authors.record(a.object_uid, a.generation, a.operation, a.username)

        try:
            await asyncio.to_thread(self.store.transaction, record)
        except SiteplaneError as error:
            log.warning("recording the authors of %d change(s) failed: %s", len(batch), error)
