"""RBAC → grants: which subject may do what on which siteplane resources, binding by binding.

Every RoleBinding and ClusterRoleBinding whose role has rules on siteplane resources becomes grant
rows, whoever made it (an AccessGrant, a person, a Helm chart). Rows follow the role's current
rules, so editing a role (or the aggregation controller filling an aggregated one such as ``view``)
changes the rows of every binding that refers to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from siteplane.rbac.rules import RESOURCE_TYPES, WILDCARD, Rule, access_of, siteplane_rules

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"

# Verbs in a canonical order, so equal verb sets always compare (and store) equal.
_VERB_ORDER = ("*", "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


def _sorted_verbs(verbs: Iterable[str]) -> tuple[str, ...]:
    order = {verb: i for i, verb in enumerate(_VERB_ORDER)}
    return tuple(sorted(set(verbs), key=lambda v: (order.get(v, len(order)), v)))


@dataclass(frozen=True)
class RoleKey:
    kind: str  # Role | ClusterRole
    namespace: str | None  # None for a ClusterRole
    name: str


@dataclass(frozen=True)
class Subject:
    """A binding subject as RBAC matches it: a ServiceAccount is the user ``system:serviceaccount:ns:name``."""

    kind: str  # User | Group | ServiceAccount
    name: str


@dataclass(frozen=True)
class Binding:
    kind: str  # RoleBinding | ClusterRoleBinding
    namespace: str | None  # None for a ClusterRoleBinding
    name: str
    role: RoleKey
    subjects: tuple[Subject, ...]

    @classmethod
    def from_k8s(cls, kind: str, body: Mapping[str, Any]) -> Binding:
        meta = body.get("metadata") or {}
        namespace = meta.get("namespace") if kind == "RoleBinding" else None
        ref = body.get("roleRef") or {}
        role_namespace = namespace if ref.get("kind") == "Role" else None
        subjects = []
        for subject in body.get("subjects") or ():
            if subject.get("kind") == "ServiceAccount":
                sa_namespace = subject.get("namespace") or namespace or ""
                subjects.append(Subject("ServiceAccount", f"{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{subject['name']}"))
            elif subject.get("kind") in ("User", "Group"):
                subjects.append(Subject(subject["kind"], subject["name"]))
        return cls(
            kind=kind,
            namespace=namespace,
            name=meta.get("name", ""),
            role=RoleKey(ref.get("kind", ""), role_namespace, ref.get("name", "")),
            subjects=tuple(subjects),
        )


def role_rules(body: Mapping[str, Any]) -> tuple[Rule, ...]:
    """The siteplane-relevant rules of a Role or ClusterRole object."""
    return siteplane_rules(body.get("rules") or ())


@dataclass(frozen=True)
class GrantRow:
    """One row of the grants table: a subject's verbs on one resource type, in one scope."""

    subject_kind: str
    subject_name: str
    namespace: str | None  # None: cluster-wide
    resource_type: str
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...]  # empty: every object
    source_kind: str
    source_namespace: str | None
    source_name: str

    @property
    def access(self) -> str:
        return "edit" if WILDCARD in self.verbs else access_of(self.verbs)

    @property
    def key(self) -> tuple[object, ...]:
        return row_key(self)


def row_key(row: Any) -> tuple[object, ...]:
    """Identity of a grant row (planned, or as stored): everything but the verbs, which a role edit
    may change in place."""
    return (
        row.source_kind,
        row.source_namespace,
        row.source_name,
        row.subject_kind,
        row.subject_name,
        row.resource_type,
        tuple(row.resource_names or ()),
    )


def grants_of(binding: Binding, rules: Iterable[Rule]) -> list[GrantRow]:
    """The grant rows one binding gives, for its role's current ``rules``.

    Rules with the same resource names merge into one row per resource type; a rule limited to
    names gives a separate row, because names and verbs go together in RBAC.
    """
    verbs: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for rule in rules:
        for resource_type in RESOURCE_TYPES:
            if rule.covers(resource_type):
                verbs[(resource_type, tuple(sorted(rule.resource_names)))] |= rule.verbs
    return [
        GrantRow(
            subject_kind=subject.kind,
            subject_name=subject.name,
            namespace=binding.namespace,
            resource_type=resource_type,
            verbs=_sorted_verbs(verb_set),
            resource_names=names,
            source_kind=binding.kind,
            source_namespace=binding.namespace,
            source_name=binding.name,
        )
        for (resource_type, names), verb_set in sorted(verbs.items())
        for subject in binding.subjects
    ]


def all_grants(bindings: Iterable[Binding], roles: Mapping[RoleKey, tuple[Rule, ...]]) -> list[GrantRow]:
    """Every grant row of every binding; a binding to a role that does not exist grants nothing."""
    rows: list[GrantRow] = []
    for binding in bindings:
        rules = roles.get(binding.role)
        if rules:
            rows.extend(grants_of(binding, rules))
    return rows
