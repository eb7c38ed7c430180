"""The operator's API session: a bounded number of requests in flight, watches not counted, and
the same credentials kopf's own session would send. Against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import kopf
import pytest
from aiohttp import web

from siteplane.config import Config
from siteplane.kube.session import RequestLimit, bounded_session


@dataclass
class Server:
    """Counts the ordinary requests it is answering at once; holds watches open until released."""

    url: str = ""
    running: int = 0
    most_at_once: int = 0
    watches_open: int = 0
    release_watches: asyncio.Event = field(default_factory=asyncio.Event)
    authorization: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.authorization.append(request.headers.get("Authorization", ""))
        if request.query.get("watch") == "true":
            response = web.StreamResponse()
            await response.prepare(request)
            self.watches_open += 1
            await self.release_watches.wait()
            return response
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.02)
        self.running -= 1
        return web.json_response({"ok": True})


@asynccontextmanager
async def serving() -> AsyncIterator[Server]:
    server = Server()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.release_watches.set()
        await runner.cleanup()


async def _get(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url) as response:
        await response.read()
        return response.status


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_no_more_than_the_limit_of_requests_is_in_flight_at_once(limit: int) -> None:
    async def burst() -> tuple[list[int], int]:
        async with serving() as server, aiohttp.ClientSession(middlewares=(RequestLimit(limit),)) as session:
            statuses = await asyncio.gather(*(_get(session, f"{server.url}/api/{i}") for i in range(40)))
            return list(statuses), server.most_at_once

    statuses, most_at_once = asyncio.run(burst())
    assert statuses == [200] * 40
    assert most_at_once == limit


def test_open_watches_do_not_take_the_slots_of_ordinary_requests() -> None:
    async def watches_then_requests() -> list[int]:
        async with serving() as server, aiohttp.ClientSession(middlewares=(RequestLimit(2),)) as session:
            opening = (session.get(f"{server.url}/apis/x?watch=true") for _ in range(4))
            watches = await asyncio.wait_for(asyncio.gather(*opening), timeout=10)
            assert server.watches_open == 4  # all four hold their connection, with only 2 slots
            statuses = await asyncio.wait_for(
                asyncio.gather(*(_get(session, f"{server.url}/api/{i}") for i in range(10))), timeout=10
            )
            for watch in watches:
                watch.close()
            return list(statuses)

    assert asyncio.run(watches_then_requests()) == [200] * 10


def test_the_bounded_session_sends_the_credentials_kopf_would() -> None:
    async def one_request() -> list[str]:
        async with serving() as server:
            info = kopf.ConnectionInfo(server=server.url, token="secret-token", default_namespace="ns")
            session = bounded_session(info.as_ssl_context(), limit=4, headers=info.as_http_headers())
            try:
                assert await _get(session, f"{server.url}/api") == 200
            finally:
                await session.close()
            return server.authorization

    assert asyncio.run(one_request()) == ["Bearer secret-token"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", 32), ("0", 0), ("1", 1), ("64", 64)],
)
def test_the_api_request_limit_comes_from_the_environment(value: str, expected: int) -> None:
    assert Config.from_env({"SITEPLANE_API_CONCURRENCY": value}).api_concurrency == expected


@pytest.mark.parametrize("value", ["-1", "many", "2.5"])
def test_a_bad_api_request_limit_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match="SITEPLANE_API_CONCURRENCY must be a whole number"):
        Config.from_env({"SITEPLANE_API_CONCURRENCY": value})


def test_a_request_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RequestLimit(0)
