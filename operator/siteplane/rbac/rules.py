"""RBAC policy rules as siteplane reads them, with Kubernetes' own matching semantics.

The evaluator must answer exactly what the apiserver's RBAC authorizer answers, so matching follows
it to the letter: ``*`` matches any group, resource or verb; a rule with resourceNames matches only
a request that carries one of those names (a request without a name, such as create or an
unfiltered list, never matches it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from siteplane.api.common import API_GROUP

WILDCARD = "*"

# The namespaced siteplane resources permissions are segmented by. DNSBackends are cluster-wide
# infrastructure and stay with cluster administrators.
RESOURCE_TYPES: tuple[str, ...] = ("sites", "dnszones", "dnsrecords", "accessgrants")

VIEW_VERBS: tuple[str, ...] = ("get", "list", "watch")
EDIT_VERBS: tuple[str, ...] = (*VIEW_VERBS, "create", "update", "patch", "delete", "deletecollection")
# What a grant limited to named objects can carry. RBAC compares names only when the request has
# one: get/update/patch/delete always do, list/watch do when filtered by metadata.name, and create
# and deletecollection never do, so a name-limited rule for those would never allow anything.
NAMED_VIEW_VERBS: tuple[str, ...] = VIEW_VERBS
NAMED_EDIT_VERBS: tuple[str, ...] = (*VIEW_VERBS, "update", "patch", "delete")


def access_of(verbs: Iterable[str]) -> str:
    """The dashboard's one-word summary of a verb set: 'edit' if it can change anything, else 'view'."""
    return "view" if set(verbs) <= set(VIEW_VERBS) else "edit"


@dataclass(frozen=True)
class Rule:
    """One PolicyRule, reduced to what authorizes siteplane resources."""

    api_groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    resource_names: frozenset[str] = frozenset()

    @classmethod
    def from_k8s(cls, rule: Mapping[str, Any]) -> Rule:
        """From a PolicyRule as the API returns it (camelCase keys)."""
        return cls(
            api_groups=frozenset(rule.get("apiGroups") or ()),
            resources=frozenset(rule.get("resources") or ()),
            verbs=frozenset(rule.get("verbs") or ()),
            resource_names=frozenset(rule.get("resourceNames") or ()),
        )

    def covers(self, resource_type: str) -> bool:
        """Does this rule say anything about ``resource_type`` (the resource itself, not a subresource)?"""
        return bool({API_GROUP, WILDCARD} & self.api_groups) and bool({resource_type, WILDCARD} & self.resources)

    def allows(self, verb: str, resource_type: str, name: str | None) -> bool:
        if not self.covers(resource_type) or not ({verb, WILDCARD} & self.verbs):
            return False
        return not self.resource_names or (bool(name) and name in self.resource_names)


def siteplane_rules(rules: Iterable[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """The rules among ``rules`` that authorize anything on a siteplane resource type."""
    parsed = (Rule.from_k8s(rule) for rule in rules if not rule.get("nonResourceURLs"))
    return tuple(rule for rule in parsed if rule.verbs and any(rule.covers(t) for t in RESOURCE_TYPES))
