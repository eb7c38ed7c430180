"""AccessGrants beyond their reconcile handler (registered with the other kinds in resources.py):
forgetting admission records on delete, and the watch that puts back their RBAC objects if
someone edits or deletes them by hand (adding oneself to a generated RoleBinding must not stick)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
import kubernetes.client
from kubernetes.client.exceptions import ApiException

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.rbac.accessgrants import MANAGED_BY
from siteplane.reconcile.accessgrants import AccessGrantService
from siteplane.reconcile.inputs import ObjectInput

log = logging.getLogger(__name__)


def _service(memo: kopf.Memo) -> AccessGrantService:
    service: AccessGrantService = memo["services"].accessgrants
    return service


@kopf.on.delete(API_GROUP, API_VERSION, "accessgrants", id="forget", optional=True)
async def forget(uid: str, memo: kopf.Memo, **_: Any) -> None:
    await asyncio.to_thread(_service(memo).forget, uid)


def _grant_owner(meta: kopf.Meta) -> str | None:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "AccessGrant" and ref.get("apiVersion", "").startswith(f"{API_GROUP}/"):
            return str(ref.get("name"))
    return None


@kopf.on.event("rbac.authorization.k8s.io", "v1", "rolebindings", labels=MANAGED_BY, id="guard-grant-objects")
@kopf.on.event("rbac.authorization.k8s.io", "v1", "roles", labels=MANAGED_BY, id="guard-grant-objects")
async def guard(event: kopf.RawEvent, meta: kopf.Meta, memo: kopf.Memo, **_: Any) -> None:
    """A generated object changed or went away: reconcile its grant, which restores what the grant
    says (and writes nothing when the change was the operator's own)."""
    owner, namespace = _grant_owner(meta), meta.get("namespace")
    if event.get("type") not in ("MODIFIED", "DELETED") or owner is None or namespace is None:
        return
    api: kubernetes.client.CustomObjectsApi = memo["nudger"].api
    try:
        body: Any = await asyncio.to_thread(
            api.get_namespaced_custom_object, API_GROUP, API_VERSION, namespace, "accessgrants", owner
        )
    except ApiException as error:
        if error.status != 404:  # 404: the grant is gone and its objects are being collected
            log.warning("cannot re-check AccessGrant %s/%s: %s", namespace, owner, error.reason)
        return
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return
    outcome = await _service(memo).reconcile(ObjectInput.from_body("AccessGrant", body), 0)
    if outcome.status:
        await asyncio.to_thread(
            api.patch_namespaced_custom_object_status,
            API_GROUP,
            API_VERSION,
            namespace,
            "accessgrants",
            owner,
            {"status": outcome.status},
        )
