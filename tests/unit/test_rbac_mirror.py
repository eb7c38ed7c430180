"""RBAC → grant rows: bindings read as the API returns them, roles' rules merged per resource type."""

from __future__ import annotations

from typing import Any

import pytest

from siteplane.api.common import API_GROUP
from siteplane.rbac.mirror import (
    Binding,
    GrantRow,
    RoleKey,
    Subject,
    all_grants,
    grants_of,
    role_rules,
)
from siteplane.rbac.rules import RESOURCE_TYPES, Rule, siteplane_rules

RBAC_API = "rbac.authorization.k8s.io"


def role_binding(
    name: str, namespace: str, role_kind: str, role_name: str, subjects: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "uid": "u-1", "resourceVersion": "7"},
        "roleRef": {"apiGroup": RBAC_API, "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def cluster_role_binding(name: str, role_name: str, subjects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "uid": "u-2"},
        "roleRef": {"apiGroup": RBAC_API, "kind": "ClusterRole", "name": role_name},
        "subjects": subjects,
    }


def user(name: str) -> dict[str, Any]:
    return {"kind": "User", "apiGroup": RBAC_API, "name": name}


def group(name: str) -> dict[str, Any]:
    return {"kind": "Group", "apiGroup": RBAC_API, "name": name}


def service_account(name: str, namespace: str | None = None) -> dict[str, Any]:
    subject: dict[str, Any] = {"kind": "ServiceAccount", "name": name}
    if namespace is not None:
        subject["namespace"] = namespace
    return subject


def rules(*k8s_rules: dict[str, Any]) -> tuple[Rule, ...]:
    return siteplane_rules(k8s_rules)


def siteplane_rule(resources: list[str], verbs: list[str], names: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"apiGroups": [API_GROUP], "resources": resources, "verbs": verbs}
    if names is not None:
        out["resourceNames"] = names
    return out


# --- Binding.from_k8s --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        pytest.param(
            "RoleBinding",
            role_binding("editors", "team", "ClusterRole", "siteplane:site-editor", [user("alice"), group("devs")]),
            Binding(
                "RoleBinding",
                "team",
                "editors",
                RoleKey("ClusterRole", None, "siteplane:site-editor"),
                (Subject("User", "alice"), Subject("Group", "devs")),
            ),
            id="rolebinding-to-clusterrole",
        ),
        pytest.param(
            "RoleBinding",
            role_binding("own", "team", "Role", "site-admin", [user("alice")]),
            Binding("RoleBinding", "team", "own", RoleKey("Role", "team", "site-admin"), (Subject("User", "alice"),)),
            id="rolebinding-to-role-in-its-namespace",
        ),
        pytest.param(
            "RoleBinding",
            role_binding("bots", "team", "ClusterRole", "view", [service_account("deployer")]),
            Binding(
                "RoleBinding",
                "team",
                "bots",
                RoleKey("ClusterRole", None, "view"),
                (Subject("ServiceAccount", "system:serviceaccount:team:deployer"),),
            ),
            id="sa-without-namespace-defaults-to-binding-namespace",
        ),
        pytest.param(
            "RoleBinding",
            role_binding("bots", "team", "ClusterRole", "view", [service_account("ci", "tools")]),
            Binding(
                "RoleBinding",
                "team",
                "bots",
                RoleKey("ClusterRole", None, "view"),
                (Subject("ServiceAccount", "system:serviceaccount:tools:ci"),),
            ),
            id="sa-with-own-namespace",
        ),
        pytest.param(
            "ClusterRoleBinding",
            cluster_role_binding("admins", "cluster-admin", [group("system:masters"), service_account("op", "sys")]),
            Binding(
                "ClusterRoleBinding",
                None,
                "admins",
                RoleKey("ClusterRole", None, "cluster-admin"),
                (Subject("Group", "system:masters"), Subject("ServiceAccount", "system:serviceaccount:sys:op")),
            ),
            id="clusterrolebinding",
        ),
        pytest.param(
            "ClusterRoleBinding",
            {
                **cluster_role_binding("stray-ns", "view", [user("bob")]),
                "metadata": {"name": "stray-ns", "namespace": "x"},
            },
            Binding(
                "ClusterRoleBinding", None, "stray-ns", RoleKey("ClusterRole", None, "view"), (Subject("User", "bob"),)
            ),
            id="clusterrolebinding-ignores-namespace",
        ),
        pytest.param(
            "RoleBinding",
            {k: v for k, v in role_binding("empty", "team", "ClusterRole", "view", []).items() if k != "subjects"},
            Binding("RoleBinding", "team", "empty", RoleKey("ClusterRole", None, "view"), ()),
            id="no-subjects",
        ),
        pytest.param(
            "RoleBinding",
            role_binding("odd", "team", "ClusterRole", "view", [{"kind": "Robot", "name": "r2"}, user("carol")]),
            Binding("RoleBinding", "team", "odd", RoleKey("ClusterRole", None, "view"), (Subject("User", "carol"),)),
            id="unknown-subject-kind-skipped",
        ),
    ],
)
def test_binding_from_k8s(kind: str, body: dict[str, Any], expected: Binding) -> None:
    assert Binding.from_k8s(kind, body) == expected


def test_role_rules_reads_a_role_object() -> None:
    body = {
        "kind": "ClusterRole",
        "metadata": {"name": "mixed"},
        "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            siteplane_rule(["sites"], ["get"]),
        ],
    }
    assert role_rules(body) == (Rule(frozenset({API_GROUP}), frozenset({"sites"}), frozenset({"get"})),)


@pytest.mark.parametrize(
    "body",
    [pytest.param({"kind": "ClusterRole"}, id="missing"), pytest.param({"rules": None}, id="null")],
)
def test_role_rules_of_a_role_without_rules_is_empty(body: dict[str, Any]) -> None:
    # An aggregated ClusterRole has rules: null until the aggregation controller fills it.
    assert role_rules(body) == ()


# --- grants_of ---------------------------------------------------------------------------------

TEAM_ALICE = Binding("RoleBinding", "team", "alice-sites", RoleKey("Role", "team", "r"), (Subject("User", "alice"),))


def row(
    resource_type: str,
    verbs: tuple[str, ...],
    names: tuple[str, ...] = (),
    binding: Binding = TEAM_ALICE,
    subject: Subject | None = None,
) -> GrantRow:
    subject = subject or binding.subjects[0]
    return GrantRow(
        subject_kind=subject.kind,
        subject_name=subject.name,
        namespace=binding.namespace,
        resource_type=resource_type,
        verbs=verbs,
        resource_names=names,
        source_kind=binding.kind,
        source_namespace=binding.namespace,
        source_name=binding.name,
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        pytest.param(
            rules(siteplane_rule(["sites"], ["watch", "get"]), siteplane_rule(["sites"], ["list", "get"])),
            [row("sites", ("get", "list", "watch"))],
            id="same-names-merge-with-canonical-verbs",
        ),
        pytest.param(
            rules(siteplane_rule(["sites"], ["deletecollection", "patch", "create", "get"])),
            [row("sites", ("get", "create", "patch", "deletecollection"))],
            id="canonical-verb-order",
        ),
        pytest.param(
            rules(siteplane_rule(["sites"], ["get", "list", "watch"]), siteplane_rule(["sites"], ["update"], ["www"])),
            [row("sites", ("get", "list", "watch")), row("sites", ("update",), ("www",))],
            id="names-limited-rule-separate-row",
        ),
        pytest.param(
            rules(
                siteplane_rule(["sites"], ["get"], ["www", "blog"]),
                siteplane_rule(["sites"], ["patch"], ["blog", "www"]),
            ),
            [row("sites", ("get", "patch"), ("blog", "www"))],
            id="same-names-any-order-merge-sorted",
        ),
        pytest.param(
            rules(siteplane_rule(["sites"], ["get"], ["www"]), siteplane_rule(["sites"], ["get"], ["blog"])),
            [row("sites", ("get",), ("blog",)), row("sites", ("get",), ("www",))],
            id="different-names-different-rows",
        ),
        pytest.param(
            rules(siteplane_rule(["dnszones", "dnsrecords"], ["get", "list"])),
            [row("dnsrecords", ("get", "list")), row("dnszones", ("get", "list"))],
            id="one-rule-several-types",
        ),
        pytest.param(
            rules(siteplane_rule(["sites"], ["get", "frobnicate"])),
            [row("sites", ("get", "frobnicate"))],
            id="unknown-verbs-last",
        ),
        pytest.param((), [], id="no-rules-no-rows"),
    ],
)
def test_grants_of(role: tuple[Rule, ...], expected: list[GrantRow]) -> None:
    assert grants_of(TEAM_ALICE, role) == expected


def test_cluster_admin_like_rule_grants_edit_on_every_type() -> None:
    binding = Binding(
        "ClusterRoleBinding",
        None,
        "cluster-admin",
        RoleKey("ClusterRole", None, "cluster-admin"),
        (Subject("Group", "system:masters"),),
    )
    rows = grants_of(binding, rules({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}))
    assert sorted(r.resource_type for r in rows) == sorted(RESOURCE_TYPES)
    assert {(r.verbs, r.access, r.namespace, r.resource_names) for r in rows} == {(("*",), "edit", None, ())}


def test_every_subject_gets_its_own_rows() -> None:
    binding = Binding(
        "RoleBinding",
        "team",
        "crew",
        RoleKey("ClusterRole", None, "siteplane:dns-viewer"),
        (Subject("User", "alice"), Subject("Group", "devs")),
    )
    rows = grants_of(binding, rules(siteplane_rule(["dnszones"], ["get", "list", "watch"])))
    assert [(r.subject_kind, r.subject_name, r.resource_type) for r in rows] == [
        ("User", "alice", "dnszones"),
        ("Group", "devs", "dnszones"),
    ]


@pytest.mark.parametrize(
    ("verbs", "access"),
    [
        pytest.param(("get", "list", "watch"), "view", id="view"),
        pytest.param(("get", "update"), "edit", id="edit"),
        pytest.param(("*",), "edit", id="wildcard"),
    ],
)
def test_grant_row_access(verbs: tuple[str, ...], access: str) -> None:
    assert row("sites", verbs).access == access


def test_grant_row_key_ignores_verbs() -> None:
    assert row("sites", ("get",)).key == row("sites", ("get", "update")).key
    assert row("sites", ("get",)).key != row("sites", ("get",), ("www",)).key


# --- all_grants --------------------------------------------------------------------------------


def test_all_grants_follows_each_binding_to_its_role() -> None:
    viewer = RoleKey("ClusterRole", None, "siteplane:site-viewer")
    own_role = RoleKey("Role", "team", "dns-admin")
    view_binding = Binding.from_k8s(
        "RoleBinding", role_binding("site-viewers", "team", "ClusterRole", viewer.name, [group("readers")])
    )
    role_bound = Binding.from_k8s("RoleBinding", role_binding("dns", "team", "Role", own_role.name, [user("bob")]))
    dangling = Binding.from_k8s(
        "ClusterRoleBinding", cluster_role_binding("dangling", "does-not-exist", [user("mallory")])
    )
    roles = {
        viewer: rules(siteplane_rule(["sites"], ["get", "list", "watch"])),
        own_role: rules(siteplane_rule(["dnsrecords"], ["*"])),
    }
    assert all_grants([view_binding, dangling, role_bound], roles) == [
        row("sites", ("get", "list", "watch"), binding=view_binding),
        row("dnsrecords", ("*",), binding=role_bound),
    ]
    assert [(r.source_kind, r.source_namespace, r.source_name) for r in all_grants([role_bound], roles)] == [
        ("RoleBinding", "team", "dns")
    ]


def test_binding_to_missing_role_grants_nothing() -> None:
    binding = Binding.from_k8s("RoleBinding", role_binding("b", "team", "Role", "gone", [user("alice")]))
    # The same name as a ClusterRole does not stand in for the missing Role.
    roles = {RoleKey("ClusterRole", None, "gone"): rules(siteplane_rule(["sites"], ["*"]))}
    assert all_grants([binding], roles) == []


def test_binding_to_role_without_siteplane_rules_grants_nothing() -> None:
    binding = Binding.from_k8s("RoleBinding", role_binding("b", "team", "ClusterRole", "view", [user("alice")]))
    assert all_grants([binding], {RoleKey("ClusterRole", None, "view"): ()}) == []


def test_cluster_role_binding_rows_are_cluster_wide() -> None:
    binding = Binding.from_k8s("ClusterRoleBinding", cluster_role_binding("all-sites", "site-reader", [user("eve")]))
    roles = {RoleKey("ClusterRole", None, "site-reader"): rules(siteplane_rule(["sites"], ["get"]))}
    (only,) = all_grants([binding], roles)
    assert (only.namespace, only.source_kind, only.source_namespace, only.source_name) == (
        None,
        "ClusterRoleBinding",
        None,
        "all-sites",
    )
