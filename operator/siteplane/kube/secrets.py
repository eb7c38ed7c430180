"""Reading credential Secrets, one GET per read: the operator never lists or watches Secrets.

The operator's RBAC grants ``get`` on Secrets only where it is meant to read them (see
manifests/operator/rbac.yaml); a reference elsewhere gets a clear "forbidden" message instead.
Values are returned to the caller and never appear in an error.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse

from siteplane.api.common import SecretKeyRef
from siteplane.errors import KubeUnavailable, SecretUnavailable
from siteplane.kube.client import ApiError, KubeClient


def describe(ref: SecretKeyRef) -> str:
    return f"Secret {ref.namespace}/{ref.name} key {ref.key!r}"


class SecretReader:
    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def read(self, ref: SecretKeyRef) -> str:
        """The value under ``ref.key`` as text, stripped of surrounding whitespace; SecretUnavailable otherwise."""
        where = f"Secret {ref.namespace}/{ref.name}"
        path = (
            f"/api/v1/namespaces/{urllib.parse.quote(ref.namespace, safe='')}"
            f"/secrets/{urllib.parse.quote(ref.name, safe='')}"
        )
        try:
            secret = await self.client.request("GET", path)
        except ApiError as error:
            if error.status == 404:
                raise SecretUnavailable(f"{where} does not exist") from None
            if error.status == 403:
                raise SecretUnavailable(
                    f"the operator may not read {where}: grant its ServiceAccount get on secrets in "
                    f"namespace {ref.namespace}"
                ) from None
            raise SecretUnavailable(f"reading {where} failed ({error.status})", retryable=True) from None
        except KubeUnavailable as error:
            raise SecretUnavailable(f"reading {where} failed: {error}", retryable=True) from None
        encoded = ((secret or {}).get("data") or {}).get(ref.key)
        if encoded is None:
            raise SecretUnavailable(f"{describe(ref)} does not exist")
        try:
            value = base64.b64decode(encoded, validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretUnavailable(f"{describe(ref)} is not UTF-8 text") from None
        if not value:
            raise SecretUnavailable(f"{describe(ref)} is empty")
        return value
