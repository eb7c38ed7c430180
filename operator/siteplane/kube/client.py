"""The one client siteplane uses for the Kubernetes API, and its timeout policy.

Every request has a deadline (``Config.kube_timeout``): a server that stops answering in the middle
of a request (a dropped connection, a partition) costs one timeout, never a worker forever. Errors
come back as ``ApiError`` (the server answered, with a status) or ``KubeUnavailable`` (it did not),
both carrying whether a retry may help.

Credentials come from the ServiceAccount in a pod, else from $KUBECONFIG or ~/.kube/config, loaded
by the kubernetes library (so tokens, client certificates and exec plugins work as for kubectl), and
are re-read when the server answers 401 (a rotated ServiceAccount token).
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import kubernetes.client
import kubernetes.config

from siteplane.errors import KubeUnavailable
from siteplane.kube.session import bounded_session

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class ApiError(KubeUnavailable):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str, body: Mapping[str, Any] | None = None) -> None:
        retryable = status >= 500 or status in (408, 429)
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}", retryable=retryable)
        self.status = status
        self.api_reason = reason
        self.api_message = message
        self.body: Mapping[str, Any] = body or {}


@dataclass(frozen=True)
class Credentials:
    """Where the API server is and how to prove who we are to it."""

    server: str
    ssl_context: ssl.SSLContext | bool
    authorization: Callable[[], str | None]
    """The current Authorization header value (a bearer token may be refreshed on each call)."""


def load_credentials(kubeconfig: str | None = None) -> Credentials:
    """The ServiceAccount's credentials in a pod, else the kubeconfig's current context."""
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig or os.environ.get("KUBECONFIG"), client_configuration=configuration
        )
    return credentials_of(configuration)


def credentials_of(configuration: kubernetes.client.Configuration) -> Credentials:
    context: ssl.SSLContext | bool
    if configuration.verify_ssl:
        context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)

    def authorization() -> str | None:
        # The library's own view of its auth (its key names changed between versions); calling it
        # also runs the refresh hook that re-reads a rotated ServiceAccount token.
        settings: Mapping[str, Any] = configuration.auth_settings()
        for setting in settings.values():
            if setting.get("in") == "header" and str(setting.get("key")).lower() == "authorization":
                value = setting.get("value")
                if value:
                    return str(value)
        return None

    return Credentials(str(configuration.host).rstrip("/"), context, authorization)


def bearer(token: str) -> Callable[[], str | None]:
    """An Authorization header of a fixed bearer token (e.g. a caller's own token)."""
    header = f"Bearer {token}"
    return lambda: header


class KubeClient:
    """JSON requests to the API server, each within ``timeout`` seconds. Make it in the event loop
    (``KubeClient.connect``) and ``close()`` it at the end."""

    def __init__(
        self, credentials: Credentials, session: aiohttp.ClientSession, timeout: aiohttp.ClientTimeout
    ) -> None:
        self.credentials = credentials
        self.timeout = timeout
        self._session = session
        self.requests = 0  # for metrics and tests

    @classmethod
    def connect(cls, credentials: Credentials, *, timeout: float, concurrency: int = 32) -> KubeClient:
        """A client with its own session: at most ``concurrency`` requests waiting at once (0: no limit)."""
        session = bounded_session(credentials.ssl_context, limit=concurrency)
        return cls(credentials, session, aiohttp.ClientTimeout(total=timeout))

    def speaking_as(self, authorization: Callable[[], str | None]) -> KubeClient:
        """The same server, session and timeout, authenticating as someone else (a caller's own token)."""
        credentials = Credentials(self.credentials.server, self.credentials.ssl_context, authorization)
        return KubeClient(credentials, self._session, self.timeout)

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """The decoded JSON answer; ApiError for an error status, KubeUnavailable when none came."""
        url = self.credentials.server + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(2):
            headers = {"Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = content_type
            authorization = self.credentials.authorization()
            if authorization:
                headers["Authorization"] = authorization
            self.requests += 1
            try:
                async with self._session.request(
                    method, url, data=data, headers=headers, timeout=self.timeout
                ) as response:
                    payload = await response.read()
                    status = response.status
            except TimeoutError:
                raise KubeUnavailable(f"{method} {path}: no answer within {self.timeout.total}s") from None
            except (aiohttp.ClientError, OSError) as error:
                raise KubeUnavailable(f"{method} {path}: {type(error).__name__}") from None
            if status == 401 and attempt == 0:
                # The token may have been rotated under us; the authorization hook re-reads it.
                log.debug("401 from the API server for %s %s; trying once more", method, path)
                continue
            return _decode(method, path, status, payload)
        raise AssertionError("unreachable")  # pragma: no cover


def _decode(method: str, path: str, status: int, payload: bytes) -> Any:
    try:
        decoded = json.loads(payload) if payload.strip() else None
    except ValueError:
        decoded = None
    if status < 400:
        return decoded
    reason, message = "", ""
    if isinstance(decoded, dict):
        reason, message = str(decoded.get("reason") or ""), str(decoded.get("message") or "")
    raise ApiError(
        status, reason or "Error", message or f"{method} {path}", decoded if isinstance(decoded, dict) else None
    )
