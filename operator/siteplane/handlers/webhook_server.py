"""The admission webhook's HTTPS server, in kopf's place (kopf.WebhookServer): it serves kopf's
admission handlers the same way, and differs in how it stops and renews its certificate.

- **It drains before it stops.** The apiserver keeps its HTTP/1.1 connections to a webhook open
  between calls and reuses the one it used last. A connection to a replica that is going away
  stays in use after Service proxies stopped sending new connections there. kopf closes its
  server the moment the operator is told to stop: a request the apiserver was writing on such a
  connection then fails ("EOF"), and an AccessGrant change (failurePolicy Fail) is refused. A
  draining server keeps listening and answering, with ``Connection: close`` on every answer;
  a connection idle for ``quiet_seconds`` is closed (the apiserver reuses its most recently used
  connection first, so an idle one is the least likely to be written on), but never while bytes
  the client sent wait unread. The drain ends when no connection is left and no request has come
  for ``SETTLE_SECONDS``, or after ``drain_seconds``. Closing an idle HTTP/1.1 connection always
  races with a client that writes on it at that instant: this narrows the race, it cannot end
  it. The operator stops after the drain: answers still need it.
- **A renewed certificate is used without a restart.** The mounted files (cert-manager renews
  the Secret) are read every ``certificate_check_seconds``; a set that loads becomes the TLS
  context of the next handshakes, and open connections go on. kopf restarts its server for it,
  closing every connection. A set that does not load (a half-written Secret) is logged and the
  previous one kept. A new CA is given to kopf as a new client configuration (its caBundle).
"""

from __future__ import annotations

import array
import asyncio
import base64
import fcntl
import ipaddress
import json
import logging
import socket
import ssl
import termios
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import kopf
from aiohttp import web

from siteplane.kube.webhook_tls import WebhookCertificates

log = logging.getLogger(__name__)

QUIET_SECONDS = 2.0
SETTLE_SECONDS = 0.5  # the drain ends only once no request has arrived for this long
CERTIFICATE_CHECK_SECONDS = 10.0
# An AdmissionReview carries the object and its old version, each up to etcd's 1.5 MiB.
MAX_REVIEW_BYTES = 4 * 1024 * 1024


@dataclass
class _Connection:
    """A connection that sent at least one request: whether it is answering one, and since when
    it has been idle."""

    transport: asyncio.BaseTransport
    in_flight: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    marked_idle_since: float | None = None  # idle_since when a drain step found it quiet

    def close_if_silent(self) -> None:
        """Close, in two steps, unless the client has sent something: closing with a request
        unanswered drops it (the apiserver's "EOF"); its answer will close the connection instead.
        A first call only marks it; the next one (a drain step later) closes the socket if no
        request has started since (one aiohttp had read but not yet handed over has by then) and
        no bytes wait unread."""
        if self._bytes_unread():
            self.marked_idle_since = None
        elif self.marked_idle_since != self.idle_since:
            self.marked_idle_since = self.idle_since
        else:
            self.transport.close()

    def _bytes_unread(self) -> bool:
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return False
        pending = array.array("i", [0])
        try:
            fcntl.ioctl(sock.fileno(), termios.FIONREAD, pending)
        except OSError:
            return False  # already closed
        return pending[0] > 0


@dataclass(frozen=True)
class _CertificateFiles:
    """The bytes of the three mounted files, compared to tell a renewal."""

    cert: bytes
    key: bytes
    ca: bytes

    @classmethod
    def read(cls, certs: WebhookCertificates) -> _CertificateFiles:
        return cls(certs.cert_file.read_bytes(), certs.key_file.read_bytes(), certs.ca_file.read_bytes())


def _tls_context(certs: WebhookCertificates) -> ssl.SSLContext:
    context = ssl.create_default_context(purpose=ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.cert_file, certs.key_file)
    return context


def _url(host: str, port: int) -> str:
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"https://{host}" if port == 443 else f"https://{host}:{port}"


class AdmissionServer:
    """kopf's webhook server protocol (``settings.admission.server``): called with kopf's function
    that answers an AdmissionReview, it listens and yields the client configuration the webhook
    configurations need (URL and caBundle). ``stop()`` drains and closes it; the operator's
    cleanup calls it before it stops the operator, and so does kopf's cancelling of the server."""

    def __init__(
        self,
        *,
        addr: str,
        port: int,
        host: str,
        certs: WebhookCertificates,
        drain_seconds: float,
        quiet_seconds: float = QUIET_SECONDS,
        certificate_check_seconds: float = CERTIFICATE_CHECK_SECONDS,
    ) -> None:
        self._addr, self._port, self._host = addr, port, host
        self._certs = certs
        self._drain_seconds = drain_seconds
        self._quiet_seconds = quiet_seconds
        self._certificate_check_seconds = certificate_check_seconds
        self._files = _CertificateFiles.read(certs)
        self._context = _tls_context(certs)  # the one new handshakes use
        self._fn: kopf.WebhookFn | None = None
        self._runner: web.AppRunner | None = None
        self._connections: dict[asyncio.BaseTransport, _Connection] = {}
        self._draining = False
        self._last_request = 0.0  # monotonic time the last request arrived
        self._stopping: asyncio.Future[None] | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def draining(self) -> bool:
        return self._draining

    async def __call__(self, fn: kopf.WebhookFn) -> AsyncIterator[kopf.WebhookClientConfig]:
        self._fn = fn
        if self._runner is None:
            await self._listen()
        try:
            while True:
                yield self._client_config()
                await self._until_the_ca_changes()
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Drain, then close; once, however many callers wait for it."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._drain_and_close())
        await asyncio.shield(self._stopping)

    async def _listen(self) -> None:
        family, kind, proto, _, address = socket.getaddrinfo(
            self._addr, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        # Every handshake asks which context to use: the one holding the current certificate.
        listening = _tls_context(self._certs)
        listening.sni_callback = self._choose_context
        app = web.Application(client_max_size=MAX_REVIEW_BYTES)
        app.router.add_post("/{webhook:[^/]+}", self._review)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock, ssl_context=listening).start()
        self._runner = runner
        log.debug("admission webhook listening on %s:%d", self._addr, self._port)

    def _choose_context(self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        connection.context = self._context

    def _client_config(self) -> kopf.WebhookClientConfig:
        config = kopf.WebhookClientConfig(url=_url(self._host, self._port))
        config["caBundle"] = base64.b64encode(self._files.ca).decode("ascii")
        return config

    async def _until_the_ca_changes(self) -> None:
        while True:
            await asyncio.sleep(self._certificate_check_seconds)
            try:
                files = _CertificateFiles.read(self._certs)
                if files == self._files:
                    continue
                context = _tls_context(self._certs)
            except (OSError, ssl.SSLError, ValueError) as error:
                log.warning("the webhook's renewed certificate does not load (%s); serving the previous one", error)
                continue
            ca_changed = files.ca != self._files.ca
            self._files, self._context = files, context
            log.info("the webhook serves its renewed certificate")
            if ca_changed:
                return

    async def _review(self, request: web.Request) -> web.StreamResponse:
        connection = self._connection_of(request)
        connection.in_flight += 1
        self._last_request = time.monotonic()
        try:
            response = await self._answer(request)
        finally:
            connection.in_flight -= 1
            connection.idle_since = time.monotonic()
        if self._draining:
            response.force_close()  # Connection: close; aiohttp closes it once this is sent
        return response

    async def _answer(self, request: web.Request) -> web.Response:
        webhook = request.match_info["webhook"]
        try:
            review = json.loads(await request.read())
        except ValueError as error:  # JSON, and UnicodeDecodeError
            return web.Response(status=400, text=f"not an AdmissionReview: {error}")
        if self._fn is None or not isinstance(review, dict):
            return web.Response(status=400, text="not an AdmissionReview")
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        try:
            answer = await self._fn(cast(Any, review), webhook=webhook, sslpeer=peer, headers=dict(request.headers))
        except Exception as error:  # kopf's WebhookError: a resource it does not serve, data missing
            log.warning("admission request to %s not answered: %s", webhook, error)
            return web.Response(status=400, text=str(error))
        return web.json_response(answer)

    def _connection_of(self, request: web.Request) -> _Connection:
        transport = request.transport
        assert transport is not None, "aiohttp runs a handler only for a connected request"
        connection = self._connections.get(transport)
        if connection is None:
            for gone in [t for t in self._connections if t.is_closing()]:
                del self._connections[gone]
            connection = self._connections[transport] = _Connection(transport)
        return connection

    async def _drain_and_close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._draining = True
        started = time.monotonic()
        while True:
            now = time.monotonic()
            for transport, connection in list(self._connections.items()):
                quiet = connection.in_flight == 0 and now - connection.idle_since >= self._quiet_seconds
                if quiet and not transport.is_closing():
                    connection.close_if_silent()
                if transport.is_closing():
                    del self._connections[transport]
            settled = now - self._last_request >= SETTLE_SECONDS  # no new connection still being sent here
            if (not self._connections and settled) or now - started >= self._drain_seconds:
                break
            await asyncio.sleep(min(0.1, self._quiet_seconds))
        left = len(self._connections)
        log.info(
            "admission webhook drained in %.1f s%s",
            time.monotonic() - started,
            f"; closing {left} connection(s) still open" if left else "",
        )
        await runner.cleanup()  # closes what is left, after the answers in flight
