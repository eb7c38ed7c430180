"""The operator's readiness and metrics server (``SITEPLANE_PROBES_LISTEN``), plain HTTP:

  /readyz    readiness: 200 only when the operator has started (its initial listing done), the
             database answers and the admission webhook listens; otherwise 503 and why. A
             standby is ready too: it serves the webhook.
  /metrics   Prometheus's text format (siteplane/metrics.py lists every metric)

Liveness is not here: it is kopf's own liveness endpoint (``SITEPLANE_LIVENESS``), which kopf
answers only while its event loop and its health activities run. One liveness check, kopf's,
so a pod is never judged alive by one server and dead by the other.

It starts before the operator is built, so a slow start reads "not ready", never "dead".
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from siteplane import metrics
from siteplane.reconcile.operator import Operator

log = logging.getLogger(__name__)


class ProbeServer:
    def __init__(self, operator: Callable[[], Operator | None]) -> None:
        self._operator = operator
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.add_routes([web.get("/readyz", self._readyz), web.get("/metrics", self._metrics)])
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        log.info("probes and metrics on http://%s:%d (/readyz, /metrics)", host, port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _readyz(self, request: web.Request) -> web.Response:
        operator = self._operator()
        problems = ["starting"] if operator is None else await operator.readiness()
        if problems:
            return web.Response(status=503, text="not ready: " + "; ".join(problems) + "\n")
        return web.Response(text="ok\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        body = metrics.exposition(metrics.OPERATOR)
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})
