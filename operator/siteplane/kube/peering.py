"""kopf's peering objects, read: who is in the peering, with what priority, last seen when.

A ClusterKopfPeering when the operator serves every namespace, otherwise a KopfPeering in each
namespace it serves (kopf's own rule). Only read here: kopf itself writes them (keep-alives).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from siteplane.kube.client import ApiError, KubeClient

PEERING_GROUP = "kopf.dev/v1"


class PeeringObjects:
    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def peers(self, name: str, namespace: str | None = None) -> Mapping[str, Mapping[str, Any]] | None:
        """The peering object's status (peer identity -> priority, lifetime, lastseen); None when
        the object does not exist."""
        quoted = urllib.parse.quote(name, safe="")
        if namespace is None:
            path = f"/apis/{PEERING_GROUP}/clusterkopfpeerings/{quoted}"
        else:
            path = f"/apis/{PEERING_GROUP}/namespaces/{urllib.parse.quote(namespace, safe='')}/kopfpeerings/{quoted}"
        try:
            body = await self.client.request("GET", path)
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        status = body.get("status") if isinstance(body, dict) else None
        return {str(k): v for k, v in status.items() if isinstance(v, dict)} if isinstance(status, dict) else {}
