"""Live updates: the change feed, fanned out to every connected client as server-sent events.

One reader per API process follows the feed (``store.feed``: woken by PostgreSQL's NOTIFY, or
polling SQLite) and hands each change to the clients that may ``get`` its object, decided with the
same Visibility as the lists; a client sees nothing else of the rest (no event, no comment, no
name). What each client may see is read again every ``live_recheck_seconds`` (and its token
reviewed again every minute), so a revoked permission stops its events.

A stream begins with ``event: open`` whose id is where it starts (a resumed stream: the id it
resumed from; a new one: the latest change this caller may see), then every change after that
as ``event: change`` with the change's id, so ``Last-Event-ID`` resumes exactly there: what was
missed is read back from the database with the caller's Visibility in the query. A client more
than ``live_backlog`` changes behind, or resuming from an id the feed does not hold, gets
``event: reload`` and the stream ends: it must load its lists again and open a new stream without
``Last-Event-ID``. Silence is broken by a keep-alive comment every ``live_keepalive_seconds``.

Every id a client is given is the id of a change it may see (or 0): the stream says nothing of
what it does not show.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from functools import partial
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from siteplane.api.kinds import KINDS
from siteplane.config import Config
from siteplane.dashboard.auth import Caller, TokenReviewer
from siteplane.dashboard.context import seen
from siteplane.errors import KubeUnavailable, SiteplaneError
from siteplane.rbac.rules import RESOURCE_TYPES
from siteplane.store.feed import FeedChange, Scope, Wakeups, bounds, last_seen, read_changes, wakeups
from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)

KIND_RESOURCES: dict[str, str] = {k.kind: k.plural for k in KINDS if k.plural in RESOURCE_TYPES}
"""The kinds whose changes are streamed, and the resource type whose ``get`` shows each. DNSBackends
are not among them: no grant shows them (they stay with cluster administrators)."""
BATCH = 500
RETRY_MS = 2000
"""How long a client should wait before it reconnects (the stream's ``retry:`` field)."""
TOKEN_RECHECK_SECONDS = 60.0
"""How often a streaming caller's token is reviewed again (a TokenReview, through the cache)."""
KEEPALIVE = b": keep-alive\n\n"
Reload = Literal["behind", "unknown-id"]
RELOAD_DETAIL: dict[str, str] = {
    "behind": "this stream is too far behind the changes; load the lists again and open a new stream "
    "without Last-Event-ID",
    "unknown-id": "the change feed does not hold the id this stream was asked to resume from; load the lists "
    "again and open a new stream without Last-Event-ID",
}


# -- what a client receives -----------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class LiveReady(_Wire):
    status: str
    reason: str | None


class LiveHistory(_Wire):
    """The object's latest history entry as of the change, and who made it."""

    id: int
    at: datetime
    action: str
    """stored, deleted, dns-applied or drift-reverted."""
    author: str
    """Who made the change ("unknown" when no admission webhook saw it; "siteplane" for a drift put back)."""
    generation: int | None
    zone: str | None
    serial: int | None
    detail: dict[str, Any]


class LiveChange(_Wire):
    """The data of one ``event: change``."""

    kind: str
    namespace: str
    name: str
    ready: LiveReady | None
    """The object's Ready now; null when it is deleted."""
    deleted: bool
    at: datetime
    """When the change was recorded."""
    history: LiveHistory | None


def sse(*, event: str | None = None, data: str | None = None, id: int | None = None, retry: int | None = None) -> bytes:
    """One server-sent event (``data`` is one line: JSON never holds a raw newline)."""
    lines = []
    if retry is not None:
        lines.append(f"retry: {retry}")
    if id is not None:
        lines.append(f"id: {id}")
    if event is not None:
        lines.append(f"event: {event}")
    if data is not None:
        if "\n" in data or "\r" in data:
            raise ValueError("event data must be one line")
        lines.append(f"data: {data}")
    return ("\n".join(lines) + "\n\n").encode()


def live_change(change: FeedChange) -> LiveChange:
    h = change.history
    return LiveChange(
        kind=change.kind,
        namespace=change.namespace,
        name=change.name,
        ready=None if change.ready is None else LiveReady(status=change.ready, reason=change.reason),
        deleted=change.deleted,
        at=change.at,
        history=None
        if h is None
        else LiveHistory(
            id=h.id,
            at=h.at,
            action=h.action,
            author=h.author,
            generation=h.generation,
            zone=h.zone,
            serial=h.serial,
            detail=dict(h.detail),
        ),
    )


def change_event(change: FeedChange) -> bytes:
    return sse(id=change.id, event="change", data=live_change(change).model_dump_json(by_alias=True))


def open_event(start: int, resumed: bool) -> bytes:
    return sse(retry=RETRY_MS, id=start, event="open", data=json.dumps({"resumed": resumed}))


def reload_event(reason: Reload) -> bytes:
    return sse(event="reload", data=json.dumps({"reason": reason, "detail": RELOAD_DETAIL[reason]}))


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema with its definitions written in place (for the OpenAPI document)."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def sees(scope: Scope, change: FeedChange) -> bool:
    """May the caller with ``scope`` see ``change``'s object?"""
    found = scope.get(change.kind)
    return found is not None and found.allows(change.namespace, change.name)


def scope_of(uow: UnitOfWork, who: Caller) -> Scope:
    """What ``who`` may get of each streamed kind, from the grants table (as the lists decide)."""
    return {kind: seen(uow, who, resource) for kind, resource in KIND_RESOURCES.items()}


def resume_point(header: str | None, query: int | None) -> int | None:
    """Where a stream resumes: ``Last-Event-ID`` or ``?since=`` (both: they must agree); None: new.
    ValueError says what is wrong."""
    from_header: int | None = None
    if header is not None and header.strip():
        text = header.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise ValueError("Last-Event-ID must be the id of an event of this stream")
        from_header = int(text)
    if from_header is not None and query is not None and from_header != query:
        raise ValueError("Last-Event-ID and ?since= differ; send one of them")
    return from_header if from_header is not None else query


# -- one client -------------------------------------------------------------------------------------


class Subscription:
    """One connected client: its caller, what it may see, and the changes waiting to be sent."""

    def __init__(self, who: Caller, scope: Scope, joined: int, room: int) -> None:
        self.who = who
        self.scope = scope
        self.joined = joined
        """The feed's position when it joined: every later change comes through ``offer``."""
        self.room = room
        self._waiting: deque[tuple[int, bytes]] = deque()
        self._ready = asyncio.Event()
        self.ended: Literal["behind", "closing", "unauthenticated"] | None = None

    def offer(self, change_id: int, event: bytes) -> None:
        if self.ended is not None:
            return
        if len(self._waiting) >= self.room:
            self._waiting.clear()
            self.end("behind")
            return
        self._waiting.append((change_id, event))
        self._ready.set()

    def end(self, why: Literal["behind", "closing", "unauthenticated"]) -> None:
        if self.ended is None:
            self.ended = why
        self._ready.set()

    async def take(self, timeout: float) -> list[tuple[int, bytes]]:
        """What waits to be sent, after up to ``timeout`` seconds of waiting for something."""
        if not self._waiting and self.ended is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        taken = list(self._waiting)
        self._waiting.clear()
        self._ready.clear()
        return taken


# -- the fan-out ------------------------------------------------------------------------------------


class LiveFeed:
    """The one reader of the change feed in this process, and everyone it streams to."""

    def __init__(self, store: Store, reviewer: TokenReviewer, config: Config, wakeups_: Wakeups | None = None) -> None:
        self.store = store
        self.reviewer = reviewer
        self.config = config
        self.wakeups = wakeups_ or wakeups(store, config.live_poll_seconds, config.live_notify_timeout_seconds)
        self.position = 0
        self.clients: set[Subscription] = set()
        self.reads = 0  # reads of the feed, for tests and metrics
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failing = False

    @property
    def known_position(self) -> int | None:
        """Where the feed ends as last read; None while it is not being followed or cannot be read
        (then nobody may rely on it to tell that nothing changed)."""
        return None if self._failing or not self._tasks else self.position

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.position = await asyncio.to_thread(self.store.read, lambda uow: bounds(uow)[1])
        self._tasks = [
            asyncio.create_task(self._follow(), name="live-follow"),
            asyncio.create_task(self._recheck(), name="live-recheck"),
        ]

    async def stop(self) -> None:
        self.close_streams()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.wakeups.close()

    def close_streams(self) -> None:
        """End every stream (the server is stopping): clients resume elsewhere with Last-Event-ID."""
        for client in list(self.clients):
            client.end("closing")

    def close_streams_threadsafe(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.close_streams)

    # -- clients --------------------------------------------------------------------------------

    def full(self) -> bool:
        return len(self.clients) >= self.config.live_max_clients

    async def scope(self, who: Caller) -> Scope:
        return await asyncio.to_thread(self.store.read, lambda uow: scope_of(uow, who))

    def subscribe(self, who: Caller, scope: Scope) -> Subscription:
        """Join (``full`` is checked before: a few racing requests may pass it together)."""
        client = Subscription(who, scope, self.position, self.config.live_backlog)
        self.clients.add(client)
        return client

    def unsubscribe(self, client: Subscription) -> None:
        self.clients.discard(client)

    async def catch_up(self, client: Subscription, since: int | None) -> tuple[int, list[FeedChange]] | Reload:
        """Where ``client`` starts and what it missed up to its joining; or why it must reload."""
        upto, scope, room = client.joined, client.scope, self.config.live_backlog

        def read(uow: UnitOfWork) -> tuple[int, list[FeedChange]] | Reload:
            if since is None:
                return last_seen(uow, upto, scope), []
            first, last = bounds(uow)
            if since > last or since < first - 1:
                return "unknown-id"
            missed = read_changes(uow, since, upto=upto, limit=room + 1, scope=scope)
            return "behind" if len(missed) > room else (since, missed)

        return await asyncio.to_thread(self.store.read, read)

    async def stream(self, client: Subscription, since: int | None) -> AsyncIterator[bytes]:
        """The events of one client, until it goes, falls behind or the server stops."""
        try:
            started = await self.catch_up(client, since)
            if isinstance(started, str):
                yield reload_event(started)
                return
            last, missed = started
            yield open_event(last, since is not None)
            for change in missed:
                yield change_event(change)
                last = change.id
            while True:
                waiting = await client.take(self.config.live_keepalive_seconds)
                fresh = [event for change_id, event in waiting if change_id > last]
                if waiting:
                    last = max(last, max(change_id for change_id, _ in waiting))
                if fresh:
                    yield b"".join(fresh)
                if client.ended == "behind":
                    yield reload_event("behind")
                    return
                if client.ended is not None:
                    return
                if not waiting:
                    yield KEEPALIVE
        finally:
            self.unsubscribe(client)

    # -- following the feed ---------------------------------------------------------------------

    async def _follow(self) -> None:
        while True:
            try:
                await self._catch_up_feed()
                await self.wakeups.wait()
            except Exception:
                await self._unexpected("following the change feed")

    async def _unexpected(self, what: str) -> None:
        """A bug, not the database: end every stream (each client resumes exactly, from the
        database, with what it may see read again) rather than risk a missed or unfiltered event."""
        log.exception("live updates: %s failed; ending every stream", what)
        self.close_streams()
        await asyncio.sleep(1)

    async def _catch_up_feed(self) -> None:
        while True:
            idle = not self.clients
            try:
                if idle:  # nobody to send to: only where the feed ends
                    last = await asyncio.to_thread(self.store.read, lambda uow: bounds(uow)[1])
                else:
                    read = partial(read_changes, after=self.position, limit=BATCH)
                    batch = await asyncio.to_thread(self.store.read, read)
            except SiteplaneError as error:
                if not self._failing:
                    log.warning("live updates cannot read the change feed (%s); retrying", error)
                self._failing = True
                return
            if self._failing:
                log.info("live updates read the change feed again")
                self._failing = False
            self.reads += 1
            if idle:
                if self.clients:
                    continue  # one joined meanwhile, from the position it found: read what follows
                self.position = max(self.position, last)
                return
            self.deliver(batch)
            if len(batch) < BATCH:
                return

    def deliver(self, batch: Iterable[FeedChange]) -> None:
        """Hand each change to the clients that may see it (encoded once, whoever receives it)."""
        for change in batch:
            self.position = max(self.position, change.id)
            if change.kind not in KIND_RESOURCES:
                continue
            event: bytes | None = None
            for client in self.clients:
                if sees(client.scope, change):
                    event = event or change_event(change)
                    client.offer(change.id, event)

    # -- what each client may see, again ----------------------------------------------------------

    async def _recheck(self) -> None:
        since_review = 0.0
        while True:
            await asyncio.sleep(self.config.live_recheck_seconds)
            since_review += self.config.live_recheck_seconds
            try:
                await self.refresh_scopes()
                if since_review >= TOKEN_RECHECK_SECONDS:
                    since_review = 0.0
                    await self.review_tokens()
            except Exception:
                await self._unexpected("reading what each client may see")

    async def refresh_scopes(self) -> None:
        """Read again what each client may see (once per user and groups, however many streams)."""
        clients = list(self.clients)
        if not clients:
            return
        callers = {(c.who.username, c.who.groups): c.who for c in clients}

        def read(uow: UnitOfWork) -> dict[tuple[str, tuple[str, ...]], Scope]:
            return {key: scope_of(uow, who) for key, who in callers.items()}

        try:
            scopes = await asyncio.to_thread(self.store.read, read)
        except SiteplaneError:
            return  # the feed cannot be read either: nothing is sent meanwhile
        for client in clients:
            client.scope = scopes[(client.who.username, client.who.groups)]

    async def review_tokens(self) -> None:
        """End the streams whose token the cluster no longer accepts (the client then gets a 401)."""
        clients = list(self.clients)
        tokens = {c.who.token for c in clients}

        async def accepted(token: str) -> bool:
            try:
                return await self.reviewer.review(token) is not None
            except KubeUnavailable:
                return True  # not known to be refused: keep streaming

        answers = dict(zip(tokens, await asyncio.gather(*(accepted(t) for t in tokens)), strict=True))
        for client in clients:
            if not answers[client.who.token]:
                client.end("unauthenticated")


def live_feed(request: Request) -> LiveFeed:
    found: LiveFeed = request.app.state.live
    return found
