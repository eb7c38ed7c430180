"""The Secrets holding DNSSEC signing keys of zones siteplane signs itself (zone files).

One Secret per zone, in the operator's own namespace only, named by the caller (a digest: the
name tells nothing of the zone). The operator's RBAC grants get, create and delete on Secrets in
that namespace alone. Values go to the caller and never into an error message.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Mapping

from siteplane.errors import KubeUnavailable, SecretUnavailable
from siteplane.kube.client import ApiError, KubeClient

LABELS = {"app.kubernetes.io/managed-by": "siteplane", "siteplane.io/dnssec-key": "true"}


class KeySecrets:
    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def _path(self, name: str | None = None) -> str:
        path = f"/api/v1/namespaces/{urllib.parse.quote(self.namespace, safe='')}/secrets"
        return path if name is None else f"{path}/{urllib.parse.quote(name, safe='')}"

    def _failed(self, doing: str, name: str, error: KubeUnavailable) -> SecretUnavailable:
        where = f"Secret {self.namespace}/{name}"
        if isinstance(error, ApiError) and error.status == 403:
            return SecretUnavailable(
                f"the operator may not {doing} {where}: grant its ServiceAccount get, create and delete on "
                f"secrets in namespace {self.namespace}"
            )
        status = f" ({error.status})" if isinstance(error, ApiError) else f": {error}"
        return SecretUnavailable(f"{doing} {where} failed{status}", retryable=True)

    async def read(self, name: str) -> dict[str, bytes] | None:
        """The Secret's data, decoded; None when there is no such Secret."""
        try:
            secret = await self.client.request("GET", self._path(name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise self._failed("read", name, error) from None
        except KubeUnavailable as error:
            raise self._failed("read", name, error) from None
        try:
            return {k: base64.b64decode(v, validate=True) for k, v in ((secret or {}).get("data") or {}).items()}
        except (binascii.Error, TypeError, AttributeError):
            raise SecretUnavailable(f"Secret {self.namespace}/{name} holds data that is not base64") from None

    async def create(self, name: str, data: Mapping[str, bytes]) -> bool:
        """Create the Secret; False when one of that name exists already (someone was first)."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": self.namespace, "labels": dict(LABELS)},
            "type": "Opaque",
            "immutable": True,
            "data": {k: base64.b64encode(v).decode("ascii") for k, v in data.items()},
        }
        try:
            await self.client.request("POST", self._path(), body=body)
        except ApiError as error:
            if error.status == 409:
                return False
            raise self._failed("create", name, error) from None
        except KubeUnavailable as error:
            raise self._failed("create", name, error) from None
        return True

    async def delete(self, name: str) -> None:
        """Delete the Secret; one that does not exist is not an error."""
        try:
            await self.client.request("DELETE", self._path(name))
        except ApiError as error:
            if error.status != 404:
                raise self._failed("delete", name, error) from None
        except KubeUnavailable as error:
            raise self._failed("delete", name, error) from None
