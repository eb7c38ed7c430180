"""A proxy in front of the test API server that can make chosen requests hang: a silent network.

Clients are pointed at it with a kubeconfig of its own (its own CA; the user's token passes
through), and it forwards everything to the real API server, streaming answers (so watches work).
A test can then make requests that match a predicate hang without an answer, as a dropped
connection or a partition does to a client without timeouts, while everything else flows.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from harness.controlplane.cluster import ControlPlane
from harness.controlplane.pki import CertificateAuthority
from harness.server import ADDRESS, free_port

Predicate = Callable[[str, str], bool]
"""(method, path with query) -> whether this request is one to hang."""
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


@dataclass
class _Hang:
    matches: Predicate
    times: int | None  # how many matching requests still hang; None: every one
    hung: list[str] = field(default_factory=list)


class ApiProxy:
    def __init__(self, plane: ControlPlane, workdir: Path) -> None:
        self.plane = plane
        self.workdir = workdir
        self.port = free_port()
        self.url = f"https://{ADDRESS}:{self.port}"
        self._ca = CertificateAuthority("siteplane-test-proxy-ca")
        self._hangs: list[_Hang] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    # -- what tests use -----------------------------------------------------------------------

    def kubeconfig(self, user: str = "admin") -> Path:
        """A kubeconfig that reaches the API server as ``user`` through this proxy."""
        ca = self.workdir / "proxy-ca.crt"
        ca.write_bytes(self._ca.cert_pem)
        path = self.workdir / f"proxy-{user}.kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url, "certificate-authority": str(ca)}}],
            "users": [{"name": user, "user": {"token": self.plane.token(user)}}],
            "contexts": [{"name": user, "context": {"cluster": "proxy", "user": user}}],
            "current-context": user,
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def hang(self, matches: Predicate, times: int | None = None) -> list[str]:
        """From now on, the next ``times`` requests (or all) that ``matches`` get no answer ever.
        Returns the list the hung requests are recorded in."""
        hang = _Hang(matches, times)
        with self._lock:
            self._hangs.append(hang)
        return hang.hung

    def release(self) -> None:
        """Stop hanging new requests (those already hung stay so: their clients must give up)."""
        with self._lock:
            self._hangs.clear()

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> ApiProxy:
        self._thread = threading.Thread(target=self._serve, name="api-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the API proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def __enter__(self) -> ApiProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        cert, key = self._ca.issue_serving([ADDRESS])
        cert_file, key_file = self.workdir / "proxy.crt", self.workdir / "proxy.key"
        cert_file.write_bytes(cert)
        key_file.write_bytes(key)
        key_file.chmod(0o600)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert_file, key_file)
        upstream_tls = ssl.create_default_context(cafile=str(self.plane.ca_file))
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=upstream_tls), timeout=aiohttp.ClientTimeout(total=None)
        ) as upstream:
            app = web.Application(client_max_size=64 * 1024 * 1024)

            async def forward(request: web.Request) -> web.StreamResponse:
                return await self._forward(request, upstream)

            app.router.add_route("*", "/{tail:.*}", forward)
            runner = web.AppRunner(app, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, ADDRESS, self.port, ssl_context=server_tls).start()
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

    def _hangs_for(self, method: str, path: str) -> bool:
        with self._lock:
            for hang in self._hangs:
                if (hang.times is None or hang.times > 0) and hang.matches(method, path):
                    if hang.times is not None:
                        hang.times -= 1
                    hang.hung.append(f"{method} {path}")
                    return True
        return False

    async def _forward(self, request: web.Request, upstream: aiohttp.ClientSession) -> web.StreamResponse:
        path = request.path_qs
        if self._hangs_for(request.method, path):
            await asyncio.Event().wait()  # never answered; ends only with the proxy
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        async with upstream.request(
            request.method, self.plane.server + path, headers=headers, data=body or None, allow_redirects=False
        ) as answer:
            response = web.StreamResponse(status=answer.status, reason=answer.reason)
            for name, value in answer.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    response.headers[name] = value
            await response.prepare(request)
            with contextlib.suppress(ConnectionResetError, aiohttp.ClientPayloadError):
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
            with contextlib.suppress(ConnectionResetError):
                await response.write_eof()
            return response


@contextlib.contextmanager
def proxied(plane: ControlPlane) -> Iterator[ApiProxy]:
    with (
        tempfile.TemporaryDirectory(prefix="siteplane-api-proxy-") as directory,
        ApiProxy(plane, Path(directory)) as proxy,
    ):
        yield proxy
