"""RBAC in kopf's terms: indices of every Role, ClusterRole and binding (reduced to what matters
for siteplane), whose changes rewrite the grants table; and the watch that puts back an
AccessGrant's RBAC objects when someone edits or deletes them by hand.

kopf holds back every other handler until all indices have done their initial listing, so the
first event seen here already has the whole cluster's RBAC.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import kopf

from siteplane.api.common import API_GROUP
from siteplane.domain.objects import ObjectRef
from siteplane.handlers.memo import running
from siteplane.rbac.accessgrants import MANAGED_BY
from siteplane.rbac.mirror import Binding, GrantRow, RoleKey, all_grants, role_rules
from siteplane.rbac.rules import Rule

RBAC = "rbac.authorization.k8s.io"


@kopf.index(RBAC, "v1", "clusterroles")
def rbac_cluster_roles(name: str, body: kopf.Body, **_: Any) -> dict[RoleKey, tuple[Rule, ...]]:
    rules = role_rules(body)
    return {RoleKey("ClusterRole", None, name): rules} if rules else {}


@kopf.index(RBAC, "v1", "roles")
def rbac_roles(name: str, namespace: str | None, body: kopf.Body, **_: Any) -> dict[RoleKey, tuple[Rule, ...]]:
    rules = role_rules(body)
    return {RoleKey("Role", namespace, name): rules} if rules else {}


@kopf.index(RBAC, "v1", "clusterrolebindings")
def rbac_cluster_role_bindings(name: str, body: kopf.Body, **_: Any) -> dict[str, Binding]:
    return {name: Binding.from_k8s("ClusterRoleBinding", body)}


@kopf.index(RBAC, "v1", "rolebindings")
def rbac_role_bindings(name: str, namespace: str | None, body: kopf.Body, **_: Any) -> dict[str, Binding]:
    return {f"{namespace}/{name}": Binding.from_k8s("RoleBinding", body)}


def _values(index: kopf.Index[Any, Any]) -> Iterable[tuple[Any, Any]]:
    """(key, value) for every value kopf keeps under each key of ``index``."""
    for key in index:
        for value in index[key]:
            yield key, value


@kopf.on.event(RBAC, "v1", "clusterroles", id="mirror")
@kopf.on.event(RBAC, "v1", "roles", id="mirror")
@kopf.on.event(RBAC, "v1", "clusterrolebindings", id="mirror")
@kopf.on.event(RBAC, "v1", "rolebindings", id="mirror")
async def rbac_changed(memo: kopf.Memo, **kwargs: Any) -> None:
    # kopf hands every handler each index as a keyword argument named after its indexing function.
    role_indices = (kwargs["rbac_cluster_roles"], kwargs["rbac_roles"])
    binding_indices = (kwargs["rbac_cluster_role_bindings"], kwargs["rbac_role_bindings"])

    def rows() -> list[GrantRow]:
        roles: dict[RoleKey, tuple[Rule, ...]] = {key: rules for i in role_indices for key, rules in _values(i)}
        bindings: list[Binding] = [binding for i in binding_indices for _, binding in _values(i)]
        return all_grants(bindings, roles)

    running(memo).rbac_changed(rows)


def _grant_owner(meta: kopf.Meta) -> ObjectRef | None:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "AccessGrant" and ref.get("apiVersion", "").startswith(f"{API_GROUP}/"):
            return ObjectRef("AccessGrant", meta.get("namespace") or "", str(ref.get("name")), str(ref.get("uid")))
    return None


@kopf.on.event(RBAC, "v1", "rolebindings", labels=MANAGED_BY, id="guard-grant-objects")
@kopf.on.event(RBAC, "v1", "roles", labels=MANAGED_BY, id="guard-grant-objects")
async def grant_object_changed(event: kopf.RawEvent, meta: kopf.Meta, memo: kopf.Memo, **_: Any) -> None:
    """A generated object changed or went away: reconcile its grant, which restores what the grant
    says (and writes nothing when the change was the operator's own). Adding oneself to a
    generated RoleBinding must not stick."""
    grant = _grant_owner(meta)
    if event.get("type") in ("MODIFIED", "DELETED") and grant is not None:
        running(memo).controller.requeue(grant)
