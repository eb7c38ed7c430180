"""Who asked, and may they: the permission checks behind "no user gains a permission through the
operator that they do not hold".

The checks go to the apiserver as SubjectAccessReviews (kube/access_reviews.py), never to the
database mirror: the apiserver's answer includes every authorizer the
cluster runs, and is current to the second.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from siteplane.api.accessgrant import AccessGrantSpec
from siteplane.domain.access import Author, Permission
from siteplane.rbac.accessgrants import permissions_granted


class Authorizer(Protocol):
    async def allowed(self, author: Author, permission: Permission, namespace: str) -> bool:
        """Does the apiserver let ``author`` do ``permission`` in ``namespace``? KubeUnavailable if unknown."""
        ...


def spec_digest(spec: Mapping[str, Any]) -> str:
    """A stable fingerprint of a spec, so an admission record matches only the spec it admitted."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def missing_permissions(
    authorizer: Authorizer, author: Author, spec: AccessGrantSpec, namespace: str
) -> list[Permission]:
    """What the grant would hand out that its author does not hold (empty: no escalation).

    Asks per verb and type first; only where that is refused does it ask name by name, so an author
    holding the whole type costs one review per verb, not one per verb and name.
    """
    missing: list[Permission] = []
    wholesale: dict[tuple[str, str], bool] = {}
    for permission in permissions_granted(spec):
        key = (permission.verb, permission.resource)
        if key not in wholesale:
            wholesale[key] = await authorizer.allowed(
                author, Permission(permission.verb, permission.resource), namespace
            )
        if wholesale[key]:
            continue
        if permission.name is None or not await authorizer.allowed(author, permission, namespace):
            missing.append(permission)
    return missing


def describe_escalation(author: Author, missing: Sequence[Permission], namespace: str) -> str:
    shown = "; ".join(p.describe(namespace) for p in missing[:5])
    more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
    return (
        f"{author.username} may not grant what they do not hold: they lack {shown}{more}. "
        "Ask someone who holds these permissions to create the grant."
    )
