"""A short-lived memory of the read endpoints' answers, per token.

A dashboard asks for the same lists again and again: a page walked back and forth, a list polled,
several tabs of one person. Building a 100-row, permission-checked page costs about 20 ms of
CPU (mostly the ORM; docs/performance.md), so an answer is kept and given again, as it was sent,
while both of these hold:

- the change feed has not moved since it was built (the live updates' follower watches it: a
  Site, zone or record whose status or generation changed moves it), and
- it is younger than ``SITEPLANE_API_CACHE_SECONDS`` (1 s), which bounds what the feed does not
  signal (a zone's last check, a grant mirrored from RBAC).

Requests that miss together wait for one answer: when a kept answer goes stale, the clients that
were paging through it together (a dashboard open in many places) would otherwise all build it at
once, each paying the full cost.

Only 200 answers to ``GET /api/v1/...`` are kept, never the event stream, a write or an error.
The key is a digest of the ``Authorization`` header (never the token itself), the path and the
query string exactly as sent: an answer is only ever given again to the same token that was shown
it, within a second, which the token's own review already allows for ten (``SITEPLANE_API_TOKEN_
CACHE_SECONDS``). At most ``SITEPLANE_API_CACHE_ENTRIES`` answers of at most 1 MiB each are kept,
the least recently used going first.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/api/v1/"
STREAMS = frozenset({"/api/v1/events"})
MAX_BODY = 1 << 20

Key = tuple[bytes, str, bytes]


@dataclass(frozen=True)
class _Answer:
    at: float
    position: int
    start: Message
    body: bytes
    route: Any = None  # the route that built it, for whoever counts requests by route after us


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


class AnswerCache:
    def __init__(
        self,
        app: ASGIApp,
        seconds: float,
        entries: int,
        position: Callable[[Scope], int | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.entries = entries
        self.position = position  # where the change feed is now; None when nobody follows it
        self.clock = clock
        self.stats = CacheStats()
        self._answers: OrderedDict[Key, _Answer] = OrderedDict()
        self._building: dict[Key, asyncio.Future[_Answer | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope) if self.seconds > 0 else None
        position = self.position(scope) if key is not None else None
        if key is None or position is None:
            await self.app(scope, receive, send)
            return
        now = self.clock()
        found = self._fresh(key, position, now)
        if found is None and key in self._building:
            # Another request is building this very answer: take it, unless it keeps nothing.
            found = await asyncio.shield(self._building[key])
            found = found if found is not None and found.position == position else None
        if found is not None:
            if key in self._answers:
                self._answers.move_to_end(key)
            self.stats.hits += 1
            if found.route is not None:
                scope["route"] = found.route
            await send(found.start)
            await send({"type": "http.response.body", "body": found.body})
            return
        self.stats.misses += 1
        # The first to miss builds for those who miss after it; one who found nothing to take
        # builds for itself.
        building: asyncio.Future[_Answer | None] | None = None
        if key not in self._building:
            building = self._building[key] = asyncio.get_running_loop().create_future()
        built: _Answer | None = None
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0

        async def keep(message: Message) -> None:
            nonlocal start, size, built
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body" and start is not None and start["status"] == 200:
                body: bytes = message.get("body", b"")
                size += len(body)
                if size <= MAX_BODY:
                    chunks.append(body)
                    if not message.get("more_body", False):
                        # Built from what the database held after ``now`` and ``position``: its age
                        # is counted from before the read, never after.
                        built = _Answer(now, position, start, b"".join(chunks), scope.get("route"))
                        self._remember(key, built)
                else:
                    chunks.clear()
            await send(message)

        try:
            await self.app(scope, receive, keep)
        finally:
            if building is not None:
                del self._building[key]
                building.set_result(built)

    def _fresh(self, key: Key, position: int, now: float) -> _Answer | None:
        found = self._answers.get(key)
        if found is not None and found.position == position and now - found.at < self.seconds:
            return found
        return None

    def clear(self) -> None:
        self._answers.clear()

    def __len__(self) -> int:
        return len(self._answers)

    def _remember(self, key: Key, answer: _Answer) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        self.stats.kept += 1
        while len(self._answers) > self.entries:
            self._answers.popitem(last=False)

    @staticmethod
    def _key(scope: Scope) -> Key | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path: str = scope["path"]
        if not path.startswith(PREFIX) or path in STREAMS:
            return None
        authorization = _header(scope, b"authorization")
        if authorization is None:
            return None  # answered 401 anyway; nothing to keep
        return hashlib.sha256(authorization).digest(), path, scope.get("query_string", b"")


def _header(scope: Scope, name: bytes) -> bytes | None:
    headers: Any = scope.get("headers", [])
    for key, value in headers:
        if key.lower() == name:
            return bytes(value)
    return None
