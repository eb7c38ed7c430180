"""The dashboard API's memory of read answers: given again only to the same token, for the same
path and query, while the change feed stands still and for at most its seconds; never a write, an
error, the event stream or an answer too big (a plain ASGI app behind it counts what it builds)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from siteplane.dashboard.answer_cache import MAX_BODY, AnswerCache


@dataclass
class Backend:
    """The app behind the cache: answers ``status`` with a body naming how many answers it built."""

    status: int = 200
    body_size: int = 0
    built: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.built += 1
        body = (b"x" * self.body_size) if self.body_size else f"answer {self.built}".encode()
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"content-type", b"json")]})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        await send({"type": "http.response.body", "body": body[len(body) // 2 :]})


@dataclass
class World:
    backend: Backend = field(default_factory=Backend)
    position: int | None = 7
    now: float = 100.0
    seconds: float = 1.0
    entries: int = 8

    def __post_init__(self) -> None:
        self.cache = AnswerCache(
            self.backend, self.seconds, self.entries, lambda scope: self.position, clock=lambda: self.now
        )

    def ask(
        self, path: str = "/api/v1/sites", query: str = "limit=100", token: str | None = "t1", method: str = "GET"
    ) -> bytes:
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        scope: dict[str, Any] = {
            "type": "http", "method": method, "path": path, "query_string": query.encode(), "headers": headers,
        }  # fmt: skip
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            sent.append(message)

        asyncio.run(self.cache(scope, receive, send))
        assert sent[0]["type"] == "http.response.start"
        return b"".join(m.get("body", b"") for m in sent[1:])


def test_the_same_token_asking_the_same_again_is_answered_from_memory_as_first_sent() -> None:
    world = World()
    first = world.ask()
    world.now += 0.9
    assert world.ask() == first == b"answer 1"
    assert world.backend.built == 1 and world.cache.stats.hits == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda w: setattr(w, "position", 8), "the change feed moved"),
        (lambda w: setattr(w, "now", w.now + 1.0), "the answer is as old as allowed"),
        (lambda w: setattr(w, "position", None), "nobody follows the feed (or it cannot be read)"),
    ],
)
def test_an_answer_is_built_again_when(change: Any, why: str) -> None:
    world = World()
    world.ask()
    change(world)
    assert world.ask() == b"answer 2", why


@pytest.mark.parametrize(
    ("second", "why"),
    [
        ({"token": "t2"}, "another token"),
        ({"query": "limit=50"}, "another query"),
        ({"query": "limit=100&ready=True"}, "one more filter"),
        ({"path": "/api/v1/zones"}, "another path"),
    ],
)
def test_an_answer_is_never_given_to(second: dict[str, str], why: str) -> None:
    world = World()
    world.ask()
    assert world.ask(**second) == b"answer 2", why


@pytest.mark.parametrize(
    ("ask", "backend", "why"),
    [
        ({"method": "POST"}, Backend(), "a write"),
        ({"method": "HEAD"}, Backend(), "not a GET"),
        ({"path": "/api/v1/events"}, Backend(), "the event stream"),
        ({"path": "/healthz"}, Backend(), "outside the API"),
        ({"path": "/"}, Backend(), "the page"),
        ({"token": None}, Backend(), "no token: refused anyway"),
        ({}, Backend(status=404), "an error"),
        ({}, Backend(status=401), "a refusal"),
        ({}, Backend(body_size=MAX_BODY + 1), "an answer over 1 MiB"),
    ],
)
def test_nothing_is_kept_of(ask: dict[str, Any], backend: Backend, why: str) -> None:
    world = World(backend=backend)
    world.ask(**ask)
    world.ask(**ask)
    assert backend.built == 2 and len(world.cache) == 0, why


def test_turned_off_it_keeps_nothing() -> None:
    world = World(seconds=0)
    world.ask()
    world.ask()
    assert world.backend.built == 2 and len(world.cache) == 0


def test_it_keeps_at_most_its_entries_the_least_recently_used_going_first() -> None:
    world = World(entries=2)
    world.ask(query="a")
    world.ask(query="b")
    world.ask(query="a")  # a is now the most recently used
    world.ask(query="c")  # b goes
    assert len(world.cache) == 2
    built = world.backend.built
    world.ask(query="a")
    world.ask(query="c")
    assert world.backend.built == built, "a and c kept"
    world.ask(query="b")
    assert world.backend.built == built + 1, "b was forgotten"


@dataclass
class SlowBackend(Backend):
    """Builds its answers slowly, so that requests can arrive while one is being built."""

    release: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.release is not None
        self.built += 1
        await self.release.wait()
        body = f"answer {self.built}".encode()
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize(("status", "builds"), [(200, 1), (500, 8)])
def test_requests_that_miss_together_wait_for_one_answer_unless_it_is_not_kept(status: int, builds: int) -> None:
    backend = SlowBackend(status=status)
    cache = AnswerCache(backend, 1.0, 8, lambda scope: 7, clock=lambda: 100.0)
    scope = {
        "type": "http", "method": "GET", "path": "/api/v1/sites", "query_string": b"",
        "headers": [(b"authorization", b"Bearer t")],
    }  # fmt: skip

    async def one() -> bytes:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request"}

        await cache(dict(scope), receive, send)
        return b"".join(m.get("body", b"") for m in sent[1:])

    async def run() -> list[bytes]:
        backend.release = asyncio.Event()
        asking = [asyncio.create_task(one()) for _ in range(8)]
        await asyncio.sleep(0)  # all eight have asked
        backend.release.set()
        return await asyncio.gather(*asking)

    answers = asyncio.run(run())
    assert backend.built == builds
    if status == 200:
        assert set(answers) == {b"answer 1"}, "every one got the one answer"
