"""AccessGrant → the RBAC objects that carry it, and the permissions its author must hold.

An unnamed grant whose resource types match one shipped role exactly is a RoleBinding to that
ClusterRole. Anything else (named objects, or a mix such as sites + dnsrecords) gets a generated
Role with exactly those rules, and a RoleBinding to it. Both are owned by the grant, so the
garbage collector removes them with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from siteplane.api.accessgrant import AccessGrantSpec
from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.domain.access import Permission
from siteplane.rbac.roles import shipped_role_for
from siteplane.rbac.rules import EDIT_VERBS, NAMED_EDIT_VERBS, NAMED_VIEW_VERBS, VIEW_VERBS

RBAC_API = "rbac.authorization.k8s.io"
MANAGED_BY = {"app.kubernetes.io/managed-by": "siteplane"}
NAME_PREFIX = "siteplane-grant-"
_MAX_NAME = 253


def verbs_for(access: str, named: bool) -> tuple[str, ...]:
    if named:
        return NAMED_EDIT_VERBS if access == "edit" else NAMED_VIEW_VERBS
    return EDIT_VERBS if access == "edit" else VIEW_VERBS


def generated_name(grant_name: str) -> str:
    """The name of a grant's RoleBinding (and Role): readable, and within the length limit."""
    name = NAME_PREFIX + grant_name
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(grant_name.encode()).hexdigest()[:10]
    return f"{name[: _MAX_NAME - 11]}-{digest}"


def permissions_granted(spec: AccessGrantSpec) -> list[Permission]:
    names: Sequence[str | None] = spec.resource_names or [None]
    verbs = verbs_for(spec.access, bool(spec.resource_names))
    return [Permission(verb, resource, name) for resource in spec.resources for verb in verbs for name in names]


@dataclass(frozen=True)
class GrantObjects:
    """The RBAC objects for one grant: always a RoleBinding, plus a Role unless a shipped role fits."""

    role_binding: dict[str, Any]
    role: dict[str, Any] | None

    @property
    def role_ref(self) -> dict[str, str]:
        return dict(self.role_binding["roleRef"])

    def describe(self) -> str:
        ref = self.role_ref
        return f"RoleBinding {self.role_binding['metadata']['name']} to {ref['kind']} {ref['name']}"


def _metadata(name: str, namespace: str, grant_name: str, grant_uid: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": dict(MANAGED_BY),
        "ownerReferences": [
            {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": "AccessGrant",
                "name": grant_name,
                "uid": grant_uid,
                "controller": True,
                # True would need permission to update the grant's finalizers; nothing needs the
                # grant to wait for its bindings' deletion.
                "blockOwnerDeletion": False,
            }
        ],
    }


def _subject(subject: Any) -> dict[str, str]:
    out = {"kind": subject.kind, "name": subject.name}
    if subject.kind == "ServiceAccount":
        out["namespace"] = subject.namespace
    else:
        out["apiGroup"] = RBAC_API
    return out


def plan_grant_objects(grant_name: str, grant_uid: str, namespace: str, spec: AccessGrantSpec) -> GrantObjects:
    name = generated_name(grant_name)
    resources = tuple(sorted(set(spec.resources)))
    named = bool(spec.resource_names)
    verbs = verbs_for(spec.access, named)
    shipped = None if named else shipped_role_for(frozenset(resources), verbs)
    role: dict[str, Any] | None = None
    if shipped is not None:
        role_ref = {"apiGroup": RBAC_API, "kind": "ClusterRole", "name": shipped.name}
    else:
        rule: dict[str, Any] = {"apiGroups": [API_GROUP], "resources": list(resources), "verbs": list(verbs)}
        if named:
            rule["resourceNames"] = sorted(set(spec.resource_names or ()))
        role = {
            "apiVersion": f"{RBAC_API}/v1",
            "kind": "Role",
            "metadata": _metadata(name, namespace, grant_name, grant_uid),
            "rules": [rule],
        }
        role_ref = {"apiGroup": RBAC_API, "kind": "Role", "name": name}
    binding = {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(name, namespace, grant_name, grant_uid),
        "roleRef": role_ref,
        "subjects": [_subject(s) for s in spec.subjects],
    }
    return GrantObjects(binding, role)
