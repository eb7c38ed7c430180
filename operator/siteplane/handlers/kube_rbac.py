"""The Kubernetes side of permissions: SubjectAccessReviews, and the Roles and RoleBindings that
AccessGrants own. Blocking client calls; the reconcile services run them in threads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kubernetes.client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from siteplane.api.common import API_GROUP
from siteplane.rbac.accessgrants import Permission
from siteplane.reconcile.accessgrants import RbacUnavailable
from siteplane.reconcile.authorization import Author, AuthorizationUnavailable

TIMEOUT = 30


class KubernetesAuthorizer:
    def __init__(self, client: kubernetes.client.ApiClient) -> None:
        self._api = kubernetes.client.AuthorizationV1Api(client)

    def allowed(self, author: Author, permission: Permission, namespace: str) -> bool:
        attributes: dict[str, Any] = {
            "group": API_GROUP,
            "resource": permission.resource,
            "verb": permission.verb,
            "namespace": namespace,
        }
        if permission.name:
            attributes["name"] = permission.name
        spec: dict[str, Any] = {
            "user": author.username,
            "groups": list(author.groups),
            "resourceAttributes": attributes,
        }
        if author.uid:
            spec["uid"] = author.uid
        if author.extra:
            spec["extra"] = {k: list(v) for k, v in author.extra.items()}
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        try:
            review = self._api.create_subject_access_review(body, _request_timeout=TIMEOUT)  # type: ignore[arg-type]
        except (ApiException, HTTPError, OSError) as error:
            raise AuthorizationUnavailable(f"SubjectAccessReview failed: {_describe(error)}") from None
        return bool(review.status and review.status.allowed)


def _describe(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return type(error).__name__


class KubernetesRbacObjects:
    """Roles and RoleBindings as plain dicts (camelCase, as kubectl shows them)."""

    def __init__(self, client: kubernetes.client.ApiClient) -> None:
        self._client = client
        self._api = kubernetes.client.RbacAuthorizationV1Api(client)

    def read(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        read = self._api.read_namespaced_role if kind == "Role" else self._api.read_namespaced_role_binding
        try:
            obj = read(name, namespace, _request_timeout=TIMEOUT)
        except ApiException as error:
            if error.status == 404:
                return None
            raise RbacUnavailable(f"reading {kind} {namespace}/{name} failed: {_describe(error)}") from None
        except (HTTPError, OSError) as error:
            raise RbacUnavailable(f"reading {kind} {namespace}/{name} failed: {_describe(error)}") from None
        result: dict[str, Any] = self._client.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return result

    def create(self, body: Mapping[str, Any]) -> None:
        namespace = body["metadata"]["namespace"]
        create = (
            self._api.create_namespaced_role if body["kind"] == "Role" else self._api.create_namespaced_role_binding
        )
        self._call(body, lambda: create(namespace, dict(body), _request_timeout=TIMEOUT))  # type: ignore[arg-type]

    def replace(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        replace = (
            self._api.replace_namespaced_role if body["kind"] == "Role" else self._api.replace_namespaced_role_binding
        )
        self._call(
            body,
            lambda: replace(meta["name"], meta["namespace"], dict(body), _request_timeout=TIMEOUT),  # type: ignore[arg-type]
        )

    def delete(self, kind: str, namespace: str, name: str) -> None:
        delete = self._api.delete_namespaced_role if kind == "Role" else self._api.delete_namespaced_role_binding
        try:
            delete(name, namespace, _request_timeout=TIMEOUT)
        except ApiException as error:
            if error.status != 404:
                raise RbacUnavailable(f"deleting {kind} {namespace}/{name} failed: {_describe(error)}") from None
        except (HTTPError, OSError) as error:
            raise RbacUnavailable(f"deleting {kind} {namespace}/{name} failed: {_describe(error)}") from None

    @staticmethod
    def _call(body: Mapping[str, Any], call: Any) -> None:
        meta = body["metadata"]
        what = f"{body['kind']} {meta['namespace']}/{meta['name']}"
        try:
            call()
        except ApiException as error:
            detail = _describe(error)
            if error.status == 403:
                detail += " (the operator's ClusterRole must hold every permission it hands out)"
            raise RbacUnavailable(f"writing {what} failed: {detail}") from None
        except (HTTPError, OSError) as error:
            raise RbacUnavailable(f"writing {what} failed: {_describe(error)}") from None
