"""HTTP sessions to the API server with a bounded number of requests waiting at once.

aiohttp's default session (and so kopf's) has no connection limit: every request that finds no
idle connection opens a new one. A burst of 10,000 objects made the operator open hundreds of TLS
connections (620 in the benchmark's kopf floor, rising), each with its buffers here and a TLS
handshake and a goroutine in the API server, which on two cores does not answer faster for it.

Here at most ``limit`` requests wait for their response at once; the rest wait their turn in the
event loop, where a waiting request costs almost nothing. A request holds its slot until its
response headers arrive: the (small) body is read right after, and a watch, whose headers the API
server sends at once, does not keep its slot while it streams.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping

import aiohttp


class RequestLimit:
    """aiohttp client middleware: at most ``limit`` requests waiting for their response at a time."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the request limit must be at least 1")
        self._slots = asyncio.Semaphore(limit)

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        async with self._slots:
            return await handler(request)


def bounded_session(
    ssl_context: ssl.SSLContext | bool,
    *,
    limit: int,
    headers: Mapping[str, str] | None = None,
    proxy: str | None = None,
    trust_env: bool = False,
) -> aiohttp.ClientSession:
    """A session with at most ``limit`` requests in flight (0: no limit). Must be made in the event loop."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=ssl_context),  # the limit is per request, above
        headers=dict(headers or {}),
        proxy=proxy,
        trust_env=trust_env,
        middlewares=(RequestLimit(limit),) if limit else (),
    )
