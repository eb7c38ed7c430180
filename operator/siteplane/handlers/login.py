"""How kopf authenticates: in a pod by its ServiceAccount, elsewhere by a kubeconfig; always with a
session that bounds the requests in flight (kube/session.py)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import kopf

from siteplane.handlers.memo import config_of
from siteplane.kube.session import bounded_session


@kopf.on.login()
async def login(memo: kopf.Memo, **kwargs: Any) -> kopf.ConnectionInfo | kopf.AiohttpSession:
    # In a pod, the mounted ServiceAccount token (the kubelet rotates it; kopf re-logs in on 401).
    # Elsewhere, $KUBECONFIG (read at login time, unlike the client library, which reads it at
    # import time) or ~/.kube/config, using its current context.
    info = kopf.login_with_service_account(**kwargs)
    if info is not None:
        info = dataclasses.replace(info, server=in_cluster_server(os.environ, info.server))
    info = info or kopf.login_with_kubeconfig(**kwargs)
    if info is None:
        raise kopf.LoginError("no in-cluster ServiceAccount and no kubeconfig ($KUBECONFIG or ~/.kube/config)")
    limit = config_of(memo).api_concurrency
    if not limit:  # 0: kopf's own session, no limit
        return info
    # kopf closes the session when these credentials are replaced (on a 401) or the operator stops.
    session = bounded_session(
        info.as_ssl_context(),
        limit=limit,
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    return kopf.AiohttpSession(
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
        aiohttp_session=session,
    )


def in_cluster_server(environ: Mapping[str, str], default: str) -> str:
    """The apiserver's address in a pod, as client-go finds it: the `kubernetes` Service's
    address from the environment the kubelet sets, so no DNS is needed (kopf's own default,
    kubernetes.default.svc, fails wherever pods have no cluster DNS, or it is down)."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        return default
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
