"""``siteplane serve``: the dashboard API under uvicorn."""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI

from siteplane.config import Config
from siteplane.dashboard.app import create_app

GRACE_SECONDS = 10
"""How long a stopping server lets requests in flight finish before it cancels them."""


class Server(uvicorn.Server):
    """uvicorn's server, ending the live updates streams when asked to stop: they would otherwise
    keep it waiting for them forever. Their clients resume at another replica with Last-Event-ID."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        live = getattr(self.app.state, "live", None)
        if live is not None:
            live.close_streams_threadsafe()


def serve(config: Config) -> None:
    host, port = config.api_address
    app = create_app(config)
    # No access log: it would be one line per request, and request lines carry filters people typed.
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="info",
        proxy_headers=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    Server(settings, app).run()
