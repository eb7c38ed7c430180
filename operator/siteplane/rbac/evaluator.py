"""can(user, groups, verb, resource type, namespace, name), answered from grant rows.

It decides the way Kubernetes RBAC does, so the dashboard shows exactly what the cluster enforces:
a subject matches by user name (ServiceAccounts are users named ``system:serviceaccount:ns:name``)
or by one of the groups; a namespaced grant applies only in its namespace; a grant limited to
names applies only to a request that names one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from siteplane.rbac.rules import WILDCARD


class GrantLike(Protocol):
    @property
    def subject_kind(self) -> str: ...
    @property
    def subject_name(self) -> str: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def resource_type(self) -> str: ...
    @property
    def verbs(self) -> Iterable[str]: ...
    @property
    def resource_names(self) -> Iterable[str]: ...


def subject_matches(grant: GrantLike, user: str, groups: Iterable[str]) -> bool:
    if grant.subject_kind == "Group":
        return grant.subject_name in set(groups)
    return grant.subject_name == user  # User and ServiceAccount


def grant_allows(
    grant: GrantLike, user: str, groups: Iterable[str], verb: str, resource_type: str, namespace: str, name: str | None
) -> bool:
    if grant.resource_type != resource_type or not subject_matches(grant, user, groups):
        return False
    if grant.namespace is not None and grant.namespace != namespace:
        return False
    verbs = set(grant.verbs)
    if verb not in verbs and WILDCARD not in verbs:
        return False
    names = set(grant.resource_names)
    return not names or (bool(name) and name in names)


def can(
    grants: Iterable[GrantLike],
    user: str,
    groups: Iterable[str],
    verb: str,
    resource_type: str,
    namespace: str,
    name: str | None = None,
) -> bool:
    groups = frozenset(groups)
    return any(grant_allows(g, user, groups, verb, resource_type, namespace, name) for g in grants)
