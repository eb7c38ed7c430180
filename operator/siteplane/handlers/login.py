"""How the operator authenticates: in a pod by its ServiceAccount, elsewhere by a kubeconfig."""

from __future__ import annotations

from typing import Any

import kopf

from siteplane.handlers.api_session import bounded_session
from siteplane.handlers.settings import operator_config


@kopf.on.login()
async def login(memo: kopf.Memo, **kwargs: Any) -> kopf.ConnectionInfo | kopf.AiohttpSession:
    # In a pod, the mounted ServiceAccount token (the kubelet rotates it; kopf re-logs in on 401).
    # Elsewhere, $KUBECONFIG (read at login time, unlike the client library, which reads it at
    # import time) or ~/.kube/config, using its current context.
    info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    if info is None:
        raise kopf.LoginError("no in-cluster ServiceAccount and no kubeconfig ($KUBECONFIG or ~/.kube/config)")
    config = operator_config(memo)
    if not config.api_concurrency:  # 0: kopf's own session, no limit
        return info
    return bounded_session(info, config.api_concurrency)
