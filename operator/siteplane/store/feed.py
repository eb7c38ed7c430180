"""The change feed as the dashboard's live updates read it, and when to read it again.

The feed is table ``changes``: one row per change of an object's Ready (or its deletion), appended
by the operator's one status writer, so ids are committed in increasing order and "everything
after id N" is one indexed range read. Each change is delivered with the object's latest history
entry as of that change (and who made it), so a change replayed later reads as it did live.

When to read: SQLite has no notifications, so the feed is polled (``Polling``); on PostgreSQL the
status writer NOTIFYs channel ``siteplane_changes`` on commit, and ``Notifications`` holds one
LISTEN connection, outside the pool, that wakes the reader (and wakes it anyway now and then, and
at once after a reconnect, since a notification sent while the connection was down is lost).

Nothing here writes the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import aliased

from siteplane.domain.access import Visibility
from siteplane.store.listings import author_of_entry, visible
from siteplane.store.models import Change, History, as_utc
from siteplane.store.repositories import ChangeRepository
from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)


APPLICATION_NAME = "siteplane-live"
"""How the LISTEN connection names itself to PostgreSQL (pg_stat_activity)."""

Scope = Mapping[str, Visibility]
"""What a caller may see, per kind ("Site", "DNSZone", ...): a kind left out is not seen at all."""


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    at: datetime
    action: str  # stored, deleted, dns-applied, drift-reverted
    generation: int | None
    zone: str | None
    serial: int | None
    author: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class FeedChange:
    id: int
    at: datetime
    kind: str
    namespace: str
    name: str
    ready: str | None  # None: the object is gone
    reason: str | None
    history: HistoryEntry | None

    @property
    def deleted(self) -> bool:
        return self.ready is None


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """SQL for "the caller may see this change": its kind's Visibility on its namespace and name."""
    allowed = [
        and_(Change.kind == kind, visible(Change.namespace, Change.name, seen))
        for kind, seen in sorted(scope.items())
        if not seen.nothing
    ]
    return or_(*allowed) if allowed else false()


def bounds(uow: UnitOfWork) -> tuple[int, int]:
    """(first, last) id the feed holds; (0, 0) when it is empty."""
    first, last = uow.session.execute(select(func.min(Change.id), func.max(Change.id))).one()
    return int(first or 0), int(last or 0)


def last_seen(uow: UnitOfWork, upto: int, scope: Scope) -> int:
    """The id of the latest change up to ``upto`` that ``scope`` sees; 0 when there is none."""
    if all(seen.nothing for seen in scope.values()):
        return 0
    stmt = select(func.max(Change.id)).where(Change.id <= upto, in_scope(scope))
    return int(uow.session.scalar(stmt) or 0)


def read_changes(
    uow: UnitOfWork, after: int, *, limit: int, upto: int | None = None, scope: Scope | None = None
) -> list[FeedChange]:
    """Changes with ids after ``after`` (and up to ``upto``), oldest first, at most ``limit``;
    only those ``scope`` sees when it is given."""
    if scope is not None and all(seen.nothing for seen in scope.values()):
        return []
    entry = aliased(History)
    latest = (
        select(func.max(entry.id))
        .where(entry.object_uid == Change.uid, entry.at <= Change.at)
        .correlate(Change)
        .scalar_subquery()
    )
    stmt = select(Change, latest).where(Change.id > after)
    if upto is not None:
        stmt = stmt.where(Change.id <= upto)
    if scope is not None:
        stmt = stmt.where(in_scope(scope))
    rows = uow.session.execute(stmt.order_by(Change.id).limit(limit)).all()
    entries = _history(uow, {hid for _, hid in rows if hid is not None})
    return [
        FeedChange(
            c.id,
            as_utc(c.at),
            c.kind,
            c.namespace,
            c.name,
            c.ready,
            c.reason,
            entries.get(hid) if hid is not None else None,
        )
        for c, hid in rows
    ]


def _history(uow: UnitOfWork, ids: set[int]) -> dict[int, HistoryEntry]:
    """The history entries, each with its author by the rule the history listing uses."""
    if not ids:
        return {}
    stmt = select(History, author_of_entry).where(History.id.in_(sorted(ids)))
    return {
        r.id: HistoryEntry(
            r.id, as_utc(r.at), r.action, r.generation, r.zone_name, r.serial, author, dict(r.detail or {})
        )
        for r, author in uow.session.execute(stmt)
    }


# -- when to read the feed again ------------------------------------------------------------------


class Wakeups(Protocol):
    async def wait(self) -> None:
        """Until the feed may hold something new (or it is time to look anyway)."""

    async def close(self) -> None: ...


class Polling:
    """SQLite: look every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    async def wait(self) -> None:
        await asyncio.sleep(self.interval)

    async def close(self) -> None:
        return None


class Notifications:
    """PostgreSQL: one LISTEN connection of our own; ``wait`` returns on a notification, after
    ``timeout`` seconds without one, and at once after the connection was (re)made."""

    RETRY_MAX = 5.0

    def __init__(self, conninfo: str, timeout: float, channel: str = ChangeRepository.CHANNEL) -> None:
        self._conninfo = conninfo
        self.timeout = timeout
        self.channel = channel
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._failures = 0
        self.connects = 0  # LISTEN connections made, for tests and metrics
        self.notifications = 0

    async def wait(self) -> None:
        if self._conn is None or self._conn.closed:
            await self._connect()
            return  # whatever was announced while no one listened must be read now
        try:
            async for _ in self._conn.notifies(timeout=self.timeout, stop_after=1):
                self.notifications += 1
        except psycopg.Error as error:
            log.warning("the LISTEN connection for live updates failed (%s); reconnecting", type(error).__name__)
            await self._drop()

    async def _connect(self) -> None:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=5,
                application_name=APPLICATION_NAME,
                # A peer gone without a word (a partition) is noticed in about 20 s, not hours.
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=2,
            )
            await conn.execute(f'LISTEN "{self.channel}"')
        except psycopg.Error as error:
            self._failures += 1
            delay = min(self.RETRY_MAX, self.timeout, 0.5 * 2 ** min(self._failures, 4))
            if self._failures == 1:
                log.warning("cannot LISTEN for live updates (%s); polling until it can", type(error).__name__)
            await asyncio.sleep(delay)
            return
        if self._failures:
            log.info("listening for live updates again")
        self._conn, self._failures = conn, 0
        self.connects += 1

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except psycopg.Error:
                log.debug("closing a broken LISTEN connection failed", exc_info=True)

    async def close(self) -> None:
        await self._drop()


def conninfo(url: URL) -> str:
    """A libpq connection string (with its password) from an engine's URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def wakeups(store: Store, poll: float, notify_timeout: float) -> Wakeups:
    """How the feed of ``store``'s database says it may hold something new."""
    if store.engine.dialect.name == "postgresql":
        return Notifications(conninfo(store.engine.url), notify_timeout)
    return Polling(poll)
