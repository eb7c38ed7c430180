"""The operator's HTTP session to the API server, with a bounded number of requests in flight.

kopf's own session has no connection limit: every request that finds no idle connection opens a
new one. A burst of 10,000 Sites makes 10,000 per-object workers patch at once, so the operator
opened hundreds of TLS connections (620 in the benchmark's kopf floor, rising), each with its
buffers here and a TLS handshake and a goroutine in the API server. The apiserver, on two cores,
does not answer faster for it: it only costs memory on both sides and CPU for the handshakes.

Here at most ``limit`` requests wait for their response at once; the rest wait their turn in the
event loop, where a waiting request costs nothing but the worker that already exists. A request
holds its slot until its response headers arrive: kopf reads the (small) body right after, and a
watch, whose headers the API server sends at once, does not keep its slot while it streams.
"""

from __future__ import annotations

import asyncio

import aiohttp
import kopf


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


def bounded_session(info: kopf.ConnectionInfo, limit: int) -> kopf.AiohttpSession:
    """The session kopf would build from ``info`` (same TLS, headers and proxy), with ``limit``.

    Must be called in the event loop. kopf closes the session when these credentials are
    replaced (on a 401, e.g. a rotated ServiceAccount token) or the operator stops.
    """
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=info.as_ssl_context()),  # the limit is per request, above
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
        middlewares=(RequestLimit(limit),),
    )
    return kopf.AiohttpSession(
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
        aiohttp_session=session,
    )
