"""Reading credential Secrets through the API server, one GET per read (no cluster-wide watch).

The operator's RBAC grants ``get`` on Secrets only in the namespaces it is meant to read (see
manifests/operator/rbac.yaml); a reference elsewhere gets a clear "forbidden" condition instead.
"""

from __future__ import annotations

import base64
import binascii

import kubernetes.client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from siteplane.api.common import SecretKeyRef
from siteplane.reconcile.credentials import SecretUnavailable, describe


class KubernetesSecretReader:
    def __init__(self, client: kubernetes.client.ApiClient) -> None:
        self._core = kubernetes.client.CoreV1Api(client)

    def read(self, ref: SecretKeyRef) -> str:
        where = f"Secret {ref.namespace}/{ref.name}"
        try:
            secret = self._core.read_namespaced_secret(ref.name, ref.namespace, _request_timeout=30)
        except ApiException as error:
            if error.status == 404:
                raise SecretUnavailable(f"{where} does not exist") from None
            if error.status == 403:
                raise SecretUnavailable(
                    f"the operator may not read {where}: grant its ServiceAccount get on secrets in "
                    f"namespace {ref.namespace}"
                ) from None
            raise SecretUnavailable(f"reading {where} failed ({error.status})", retryable=True) from None
        except (HTTPError, OSError) as error:
            raise SecretUnavailable(f"reading {where} failed: {type(error).__name__}", retryable=True) from None
        encoded = (secret.data or {}).get(ref.key)
        if encoded is None:
            raise SecretUnavailable(f"{describe(ref)} does not exist")
        try:
            value = base64.b64decode(encoded, validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretUnavailable(f"{describe(ref)} is not UTF-8 text") from None
        if not value:
            raise SecretUnavailable(f"{describe(ref)} is empty")
        return value
