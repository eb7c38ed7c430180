"""``siteplane serve`` (the dashboard API and its page) as its own process on a free loopback port.

Used by ``make demo`` and the page's browser test. It runs exactly as it would anywhere else: a
real uvicorn serving real HTTP, reading the database the operator writes and asking the control
plane who a token belongs to. Start, stop, readiness (``GET /readyz``) and its log
(``siteplane-serve.log`` in the working directory) work as for every server here (``harness.server``).
"""

from __future__ import annotations

import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness.server import ADDRESS, PROBE_TIMEOUT, Server


@dataclass
class DashboardServer(Server):
    """The dashboard API, authenticating tokens with the credentials in ``kubeconfig``."""

    kubeconfig: Path = Path()
    database_url: str = ""
    port: int = 0

    port_fields = ("port",)
    label = "dashboard API"
    workdir_prefix = "siteplane-dashboard-"

    @property
    def url(self) -> str:
        return f"http://{ADDRESS}:{self.port}/"

    def how_to_connect(self) -> list[str]:
        return [f"dashboard: {self.url}"]

    def _launch(self) -> None:
        # Through env(1): ChildProcess passes our environment on, and these two name files, not secrets.
        self._spawn(
            "siteplane-serve",
            [
                "env",
                f"KUBECONFIG={self.kubeconfig}",
                f"SITEPLANE_DATABASE_URL={self.database_url}",
                sys.executable,
                "-m",
                "siteplane",
                "serve",
                "--listen",
                f"{ADDRESS}:{self.port}",
            ],
        )
        self._wait_until(self._ready)

    def _ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}readyz", timeout=PROBE_TIMEOUT) as response:
            return bool(response.status == 200)
