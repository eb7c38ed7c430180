"""SubjectAccessReviews: may this user do this? The API server answers with every authorizer the
cluster runs, current to the second; the database's mirror of RBAC is for reads, not for this."""

from __future__ import annotations

from typing import Any

from siteplane.api.common import API_GROUP
from siteplane.domain.access import Author, Permission
from siteplane.kube.client import KubeClient


class SubjectAccessReviews:
    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def allowed(self, author: Author, permission: Permission, namespace: str) -> bool:
        """Whether the API server lets ``author`` do ``permission`` in ``namespace``; KubeUnavailable
        when it cannot be asked."""
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
        review = await self.client.request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body={"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
        )
        return bool(((review or {}).get("status") or {}).get("allowed"))
