"""``siteplane serve``: the dashboard API under uvicorn."""

from __future__ import annotations

import uvicorn

from siteplane.config import Config
from siteplane.dashboard.app import create_app


def serve(config: Config) -> None:
    host, port = config.api_address
    # No access log: it would be one line per request, and request lines carry filters people typed.
    uvicorn.run(create_app(config), host=host, port=port, access_log=False, log_level="info", proxy_headers=False)
