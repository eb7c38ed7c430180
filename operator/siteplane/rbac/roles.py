"""The shipped ClusterRoles (manifests/rbac/roles.yaml), as data the operator plans with.

A unit test holds the manifest and this table to each other, so neither drifts.
"""

from __future__ import annotations

from dataclasses import dataclass

from siteplane.rbac.rules import EDIT_VERBS, VIEW_VERBS


@dataclass(frozen=True)
class ShippedRole:
    name: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    aggregates_to_view: bool


SITE_VIEWER = ShippedRole("siteplane:site-viewer", ("sites",), VIEW_VERBS, aggregates_to_view=True)
SITE_EDITOR = ShippedRole("siteplane:site-editor", ("sites",), EDIT_VERBS, aggregates_to_view=False)
DNS_VIEWER = ShippedRole("siteplane:dns-viewer", ("dnszones", "dnsrecords"), VIEW_VERBS, aggregates_to_view=True)
DNS_EDITOR = ShippedRole("siteplane:dns-editor", ("dnszones", "dnsrecords"), EDIT_VERBS, aggregates_to_view=False)
ACCESS_MANAGER = ShippedRole("siteplane:access-manager", ("accessgrants",), EDIT_VERBS, aggregates_to_view=False)

SHIPPED_ROLES: tuple[ShippedRole, ...] = (SITE_VIEWER, SITE_EDITOR, DNS_VIEWER, DNS_EDITOR, ACCESS_MANAGER)


def shipped_role_for(resources: frozenset[str], verbs: tuple[str, ...]) -> ShippedRole | None:
    """The shipped role giving exactly ``verbs`` on exactly ``resources``, if there is one."""
    for role in SHIPPED_ROLES:
        if frozenset(role.resources) == resources and role.verbs == verbs:
            return role
    return None
