"""The Roles and RoleBindings that AccessGrants own, as plain dicts (camelCase, as kubectl shows them)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from siteplane.errors import KubeUnavailable
from siteplane.kube.client import ApiError, KubeClient

RBAC_API = "/apis/rbac.authorization.k8s.io/v1"
PLURALS = {"Role": "roles", "RoleBinding": "rolebindings"}


def _path(kind: str, namespace: str, name: str | None = None) -> str:
    path = f"{RBAC_API}/namespaces/{urllib.parse.quote(namespace, safe='')}/{PLURALS[kind]}"
    return path if name is None else f"{path}/{urllib.parse.quote(name, safe='')}"


class RbacObjects:
    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def read(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = await self.client.request("GET", _path(kind, namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise KubeUnavailable(f"reading {kind} {namespace}/{name} failed: {error}") from None
        return body

    async def create(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        await self._write("POST", _path(body["kind"], meta["namespace"]), body)

    async def replace(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        await self._write("PUT", _path(body["kind"], meta["namespace"], meta["name"]), body)

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        try:
            await self.client.request("DELETE", _path(kind, namespace, name))
        except ApiError as error:
            if error.status != 404:
                raise KubeUnavailable(f"deleting {kind} {namespace}/{name} failed: {error}") from None

    async def _write(self, method: str, path: str, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        what = f"{body['kind']} {meta['namespace']}/{meta['name']}"
        try:
            await self.client.request(method, path, body=dict(body))
        except ApiError as error:
            detail = str(error)
            if error.status == 403:
                detail += " (the operator's ClusterRole must hold every permission it hands out)"
            raise KubeUnavailable(f"writing {what} failed: {detail}") from None
