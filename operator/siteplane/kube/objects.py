"""siteplane's own custom objects through the API: read one, write its status, set its finalizers.

Writes carry the resourceVersion they were computed from, so the API server refuses (409) a write
based on a stale view instead of applying it over a newer one; the caller reads again and
recomputes. Status is written through the status subresource as a merge patch of the fields
that changed.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.api.kinds import BY_KIND
from siteplane.domain.objects import ObjectRef
from siteplane.kube.client import MERGE_PATCH, ApiError, KubeClient

Body = dict[str, Any]


def object_path(ref: ObjectRef) -> str:
    kind = BY_KIND[ref.kind]
    base = f"/apis/{API_GROUP}/{API_VERSION}"
    name = urllib.parse.quote(ref.name, safe="")
    if kind.namespaced:
        return f"{base}/namespaces/{urllib.parse.quote(ref.namespace, safe='')}/{kind.plural}/{name}"
    return f"{base}/{kind.plural}/{name}"


def collection_path(plural: str, namespace: str | None = None) -> str:
    base = f"/apis/{API_GROUP}/{API_VERSION}"
    if namespace:
        return f"{base}/namespaces/{urllib.parse.quote(namespace, safe='')}/{plural}"
    return f"{base}/{plural}"


class CustomObjects:
    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def get(self, ref: ObjectRef) -> Body | None:
        """The object as the API server holds it now; None when it is gone (or another object
        with the same name replaced it: a different uid)."""
        try:
            body: Body = await self.client.request("GET", object_path(ref))
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        if ref.uid and (body.get("metadata") or {}).get("uid") != ref.uid:
            return None
        return body

    async def patch_status(self, ref: ObjectRef, status: Mapping[str, Any], resource_version: str) -> Body:
        """Merge ``status`` into the object's status, if it is still at ``resource_version``."""
        patch = {"metadata": {"resourceVersion": resource_version}, "status": dict(status)}
        body: Body = await self.client.request(
            "PATCH", object_path(ref) + "/status", body=patch, content_type=MERGE_PATCH
        )
        return body

    async def set_finalizers(self, ref: ObjectRef, finalizers: Sequence[str], resource_version: str) -> Body:
        """Replace the object's finalizers, if it is still at ``resource_version``."""
        patch = {"metadata": {"resourceVersion": resource_version, "finalizers": list(finalizers)}}
        body: Body = await self.client.request("PATCH", object_path(ref), body=patch, content_type=MERGE_PATCH)
        return body

    async def list(self, plural: str, namespace: str | None = None) -> list[Body]:
        """Every object of ``plural`` (in ``namespace``, or everywhere), page by page."""
        items: list[Body] = []
        params: dict[str, str] = {"limit": "500"}
        while True:
            page = await self.client.request("GET", collection_path(plural, namespace), params=params)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            params = {"limit": "500", "continue": token}

    async def count(self, plurals: Iterable[str], namespaces: Sequence[str]) -> int:
        """How many objects of ``plurals`` exist (in ``namespaces``, or everywhere when empty): a list
        with limit=1 reports the rest as remainingItemCount, so this costs one small request each."""
        total = 0
        for plural in plurals:
            scopes: list[str | None] = list(namespaces) or [None]
            for namespace in scopes:
                page = await self.client.request("GET", collection_path(plural, namespace), params={"limit": "1"})
                meta = page.get("metadata") or {}
                total += len(page.get("items") or []) + int(meta.get("remainingItemCount") or 0)
        return total
