"""The pure parts of the live updates: the event format, where a stream resumes, who is handed
which change, a client falling behind, one stream from its opening to its end, and the author of a
history entry. The real thing, on the control plane and both databases: tests/cluster/test_dashboard_live.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from siteplane.config import Config
from siteplane.dashboard.auth import Caller, TokenReviewer
from siteplane.dashboard.live import (
    KEEPALIVE,
    KIND_RESOURCES,
    LiveChange,
    LiveFeed,
    Reload,
    Subscription,
    change_event,
    inline_schema,
    resume_point,
    sees,
    sse,
)
from siteplane.domain.access import Author, Visibility
from siteplane.errors import KubeUnavailable
from siteplane.store.database import make_engine
from siteplane.store.feed import FeedChange, HistoryEntry, Polling
from siteplane.store.listings import author_of_entry
from siteplane.store.migrate import upgrade
from siteplane.store.models import ChangeAuthor, History
from siteplane.store.unit_of_work import Store

AT = datetime(2026, 1, 1, tzinfo=UTC)
ALICE = Caller(Author("alice", ("site-team",)), "token-a")
SITES_IN_A = {"Site": Visibility(namespaces=frozenset({"a"})), "DNSZone": Visibility()}


def change(
    id: int, kind: str = "Site", namespace: str = "a", name: str = "www", ready: str | None = "True"
) -> FeedChange:
    return FeedChange(id, AT, kind, namespace, name, ready, "Published" if ready else None, None)


def test_an_event_is_its_fields_then_a_blank_line() -> None:
    assert sse(id=7, event="change", data='{"a":1}') == b'id: 7\nevent: change\ndata: {"a":1}\n\n'
    assert sse(retry=2000, id=0, event="open", data="{}") == b"retry: 2000\nid: 0\nevent: open\ndata: {}\n\n"
    assert KEEPALIVE.startswith(b":") and KEEPALIVE.endswith(b"\n\n")
    with pytest.raises(ValueError, match="one line"):
        sse(data="two\nlines")


def test_a_change_event_carries_the_object_and_its_ready() -> None:
    entry = HistoryEntry(3, AT, "dns-applied", 1, "a.example", 12, "alice", {"published": ["www A 1.2.3.4"]})
    event = change_event(FeedChange(9, AT, "Site", "a", "www", "True", "Published", entry)).decode()
    lines = event.split("\n")
    assert lines[:2] == ["id: 9", "event: change"] and event.endswith("\n\n")
    data = json.loads(lines[2].removeprefix("data: "))
    assert data == {
        "kind": "Site",
        "namespace": "a",
        "name": "www",
        "ready": {"status": "True", "reason": "Published"},
        "deleted": False,
        "at": "2026-01-01T00:00:00Z",
        "history": {
            "id": 3,
            "at": "2026-01-01T00:00:00Z",
            "action": "dns-applied",
            "author": "alice",
            "generation": 1,
            "zone": "a.example",
            "serial": 12,
            "detail": {"published": ["www A 1.2.3.4"]},
        },
    }
    gone = json.loads(change_event(change(10, ready=None)).decode().split("\n")[2].removeprefix("data: "))
    assert gone["ready"] is None and gone["deleted"] is True and gone["history"] is None


@pytest.mark.parametrize(
    ("header", "query", "start"),
    [(None, None, None), ("", None, None), ("12", None, 12), (" 12 ", None, 12), (None, 5, 5), ("5", 5, 5)],
)
def test_where_a_stream_resumes(header: str | None, query: int | None, start: int | None) -> None:
    assert resume_point(header, query) == start


@pytest.mark.parametrize(
    ("header", "query", "says"),
    [("abc", None, "Last-Event-ID"), ("-1", None, "Last-Event-ID"), ("1" * 19, None, "Last-Event-ID"),
     ("١٢", None, "Last-Event-ID"), ("3", 4, "differ")],
)  # fmt: skip
def test_a_resume_point_that_is_no_event_id_is_refused(header: str, query: int | None, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        resume_point(header, query)


def test_a_change_is_seen_only_through_its_kinds_visibility() -> None:
    assert set(KIND_RESOURCES) == {"Site", "DNSZone", "DNSRecord", "AccessGrant"}  # no DNSBackend
    assert sees(SITES_IN_A, change(1))
    assert not sees(SITES_IN_A, change(1, namespace="b"))
    assert not sees(SITES_IN_A, change(1, kind="DNSZone"))
    assert not sees(SITES_IN_A, change(1, kind="DNSRecord"))  # a kind left out is not seen
    named = {"Site": Visibility(named=frozenset({("b", "shop"), (None, "www")}))}
    assert sees(named, change(1, namespace="b", name="shop")) and sees(named, change(1, namespace="z"))
    assert not sees(named, change(1, namespace="c", name="shop"))


def feed(config: Config | None = None) -> LiveFeed:
    return LiveFeed(cast(Store, None), cast(TokenReviewer, None), config or Config(), Polling(1))


def test_each_change_goes_to_who_may_see_it_encoded_once() -> None:
    live = feed()
    alice = live.subscribe(ALICE, SITES_IN_A)
    bob = live.subscribe(Caller(Author("bob"), "token-b"), {"DNSZone": Visibility(everything=True)})
    live.deliver([change(1), change(2, kind="DNSZone"), change(3, namespace="b"), change(4, kind="DNSBackend")])
    assert live.position == 4
    got_alice = asyncio.run(alice.take(0))
    got_bob = asyncio.run(bob.take(0))
    assert [i for i, _ in got_alice] == [1] and [i for i, _ in got_bob] == [2]
    both = feed()
    one, two = both.subscribe(ALICE, SITES_IN_A), both.subscribe(ALICE, SITES_IN_A)
    both.deliver([change(5)])
    assert asyncio.run(one.take(0))[0][1] is asyncio.run(two.take(0))[0][1]


def test_a_client_with_no_room_left_is_behind() -> None:
    client = Subscription(ALICE, SITES_IN_A, 0, room=2)
    client.offer(1, b"1")
    client.offer(2, b"2")
    assert client.ended is None
    client.offer(3, b"3")
    assert client.ended == "behind"
    assert asyncio.run(client.take(10)) == []  # nothing more for it, and no wait
    client.offer(4, b"4")
    assert asyncio.run(client.take(0)) == []


class Scripted(LiveFeed):
    """A feed whose catching up is given (the store's part is tested against the databases)."""

    def __init__(self, start: tuple[int, list[FeedChange]] | Reload, config: Config) -> None:
        super().__init__(cast(Store, None), cast(TokenReviewer, None), config, Polling(1))
        self.start = start

    async def catch_up(self, client: Subscription, since: int | None) -> tuple[int, list[FeedChange]] | Reload:
        return self.start


async def _collect(stream: AsyncIterator[bytes], until: int) -> list[bytes]:
    got: list[bytes] = []
    async for chunk in stream:
        got.append(chunk)
        if len(got) == until:
            break
    return got


def test_a_stream_opens_sends_what_was_missed_then_what_comes_never_twice() -> None:
    async def run() -> tuple[list[bytes], Scripted]:
        live = Scripted((5, [change(6), change(7)]), Config(live_keepalive_seconds=0.01))
        client = live.subscribe(ALICE, SITES_IN_A)
        stream = live.stream(client, 5)
        first = await _collect(stream, 3)
        live.deliver([change(7), change(8)])  # 7 was read back already
        rest = await _collect(stream, 2)
        client.end("closing")
        tail = [chunk async for chunk in stream]
        return first + rest + tail, live

    chunks, live = asyncio.run(run())
    assert chunks[0].startswith(b"retry: 2000\nid: 5\nevent: open\n") and b'"resumed": true' in chunks[0]
    assert [c.split(b"\n")[0] for c in chunks[1:4]] == [b"id: 6", b"id: 7", b"id: 8"]
    assert chunks[4:] == [KEEPALIVE]  # nothing after 8 for a while; then the server stops: the end
    assert not live.clients, "a stream that ends lets go of its client"


def test_a_stream_told_to_reload_says_why_and_ends() -> None:
    async def run(start: tuple[int, list[FeedChange]] | Reload, behind: bool) -> list[bytes]:
        live = Scripted(start, Config(live_keepalive_seconds=0.01))
        client = live.subscribe(ALICE, SITES_IN_A)
        if behind:
            client.end("behind")
        return [chunk async for chunk in live.stream(client, None)]

    for start, behind, reason in (("unknown-id", False, "unknown-id"), ((0, []), True, "behind")):
        chunks = asyncio.run(run(start, behind))  # type: ignore[arg-type]
        last = chunks[-1].decode()
        assert last.startswith("event: reload\n") and json.loads(last.split("data: ")[1])["reason"] == reason
        assert "id:" not in last


AUTHORS = {("u", 1, "CREATE"): "alice", ("u", 2, "UPDATE"): "bob", ("u", 2, "DELETE"): "carol"}


@pytest.mark.parametrize(
    ("action", "generation", "after_deletion", "author"),
    [
        ("stored", 1, False, "alice"),
        ("dns-applied", 2, False, "bob"),
        ("deleted", 2, False, "carol"),
        ("dns-applied", 2, True, "carol"),
        ("drift-reverted", 2, False, "siteplane"),
        ("stored", 3, False, "unknown"),
        ("stored", None, False, "unknown"),
    ],
)
def test_the_author_of_a_history_entry(
    tmp_path: Path, action: str, generation: int | None, after_deletion: bool, author: str
) -> None:
    """The one rule, in SQL, that the history listing and the live updates both read."""
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(url)
    store = Store(make_engine(url))

    def write(uow: Any) -> None:
        for (uid, gen, operation), username in AUTHORS.items():
            uow.session.add(ChangeAuthor(object_uid=uid, generation=gen, operation=operation, username=username))
        entry = {"at": AT, "object_kind": "Site", "object_name": "www", "object_uid": "u", "detail": {}}
        if after_deletion:
            uow.session.add(History(id=1, generation=2, action="deleted", **entry))
        uow.session.add(History(id=2, generation=generation, action=action, **entry))

    store.transaction(write)
    found = store.read(lambda uow: uow.session.execute(select(author_of_entry).where(History.id == 2)).scalar_one())
    store.engine.dispose()
    assert found == author


def test_the_event_data_schema_is_self_contained() -> None:
    schema: dict[str, Any] = inline_schema(LiveChange)
    assert "$ref" not in json.dumps(schema) and "$defs" not in schema
    assert set(schema["properties"]) == {"kind", "namespace", "name", "ready", "deleted", "at", "history"}


@pytest.mark.parametrize("variable", ["SITEPLANE_LIVE_KEEPALIVE_SECONDS", "SITEPLANE_LIVE_POLL_SECONDS"])
def test_a_live_interval_must_be_more_than_zero(variable: str) -> None:
    with pytest.raises(ValueError, match=f"{variable} must be more than 0"):
        Config.from_env({variable: "0"})
    assert Config.from_env({"SITEPLANE_LIVE_BACKLOG": "10", "SITEPLANE_LIVE_MAX_CLIENTS": "2"}).live_backlog == 10


def test_a_bug_in_the_fan_out_ends_every_stream_rather_than_filter_wrongly() -> None:
    class Broken(Scripted):
        async def refresh_scopes(self) -> None:
            raise RuntimeError("a bug")

    async def run() -> str | None:
        live = Broken((0, []), Config(live_recheck_seconds=0.01))
        client = live.subscribe(ALICE, SITES_IN_A)
        task = asyncio.create_task(live._recheck())
        await client.take(5)
        task.cancel()
        return client.ended

    assert asyncio.run(run()) == "closing"  # the client resumes, its Visibility read again


def test_a_token_the_cluster_no_longer_accepts_ends_its_streams() -> None:
    class Reviewer:
        async def review(self, token: str) -> Author | None:
            if token == "down":
                raise KubeUnavailable("the API server does not answer")
            return None if token == "revoked" else Author("someone")

    live = LiveFeed(cast(Store, None), cast(TokenReviewer, Reviewer()), Config(), Polling(1))
    kept, revoked, unsure = (live.subscribe(Caller(Author(u), u), SITES_IN_A) for u in ("valid", "revoked", "down"))
    asyncio.run(live.review_tokens())
    assert (kept.ended, revoked.ended, unsure.ended) == (None, "unauthenticated", None)
