"""RBAC rules and the evaluator: the same answers the apiserver's RBAC authorizer gives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from siteplane.api.common import API_GROUP
from siteplane.rbac.evaluator import can
from siteplane.rbac.mirror import GrantRow
from siteplane.rbac.rules import (
    EDIT_VERBS,
    NAMED_EDIT_VERBS,
    NAMED_VIEW_VERBS,
    RESOURCE_TYPES,
    VIEW_VERBS,
    Rule,
    access_of,
    siteplane_rules,
)


def rule(
    resources: tuple[str, ...] = ("sites",),
    verbs: tuple[str, ...] = ("get",),
    groups: tuple[str, ...] = (API_GROUP,),
    names: tuple[str, ...] = (),
) -> Rule:
    return Rule(frozenset(groups), frozenset(resources), frozenset(verbs), frozenset(names))


# --- Rule.allows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "verb", "resource", "name", "expected"),
    [
        pytest.param(rule(), "get", "sites", None, True, id="exact-match"),
        pytest.param(rule(), "get", "sites", "www", True, id="exact-match-with-name"),
        pytest.param(rule(), "list", "sites", None, False, id="other-verb"),
        pytest.param(rule(), "get", "dnszones", None, False, id="other-resource"),
        pytest.param(rule(groups=("*",)), "get", "sites", None, True, id="wildcard-group"),
        pytest.param(rule(resources=("*",)), "get", "dnsrecords", None, True, id="wildcard-resource"),
        pytest.param(rule(verbs=("*",)), "deletecollection", "sites", None, True, id="wildcard-verb"),
        pytest.param(rule(("*",), ("*",), ("*",)), "patch", "accessgrants", "x", True, id="wildcard-everything"),
        pytest.param(rule(groups=("",)), "get", "sites", None, False, id="core-group"),
        pytest.param(rule(groups=("apps",)), "get", "sites", None, False, id="other-group"),
        pytest.param(rule(groups=("apps", API_GROUP)), "get", "sites", None, True, id="one-of-several-groups"),
        pytest.param(rule(resources=("sites/status",)), "get", "sites", None, False, id="subresource-not-resource"),
        pytest.param(rule(resources=("sites/status",)), "get", "sites", "www", False, id="subresource-with-name"),
        pytest.param(rule(names=("www",)), "get", "sites", "www", True, id="names-listed-name"),
        pytest.param(rule(names=("www", "blog")), "get", "sites", "blog", True, id="names-second-name"),
        pytest.param(rule(names=("www",)), "get", "sites", "shop", False, id="names-unlisted-name"),
        pytest.param(rule(names=("www",)), "get", "sites", None, False, id="names-request-without-name"),
        pytest.param(rule(names=("www",)), "get", "sites", "", False, id="names-request-empty-name"),
        pytest.param(rule(verbs=("create",), names=("www",)), "create", "sites", None, False, id="names-create"),
        pytest.param(rule(verbs=("list",), names=("www",)), "list", "sites", None, False, id="names-unfiltered-list"),
        pytest.param(rule(verbs=("*",), names=("www",)), "delete", "sites", "www", True, id="names-wildcard-verb"),
        pytest.param(rule(verbs=()), "get", "sites", None, False, id="no-verbs"),
    ],
)
def test_rule_allows_follows_kubernetes_rbac(
    r: Rule, verb: str, resource: str, name: str | None, expected: bool
) -> None:
    assert r.allows(verb, resource, name) is expected


def test_rule_from_k8s_reads_camel_case_keys() -> None:
    parsed = Rule.from_k8s(
        {"apiGroups": [API_GROUP], "resources": ["sites"], "verbs": ["get", "list"], "resourceNames": ["www"]}
    )
    assert parsed == rule(verbs=("get", "list"), names=("www",))


def test_rule_from_k8s_treats_missing_and_null_fields_as_empty() -> None:
    parsed = Rule.from_k8s({"apiGroups": None, "verbs": ["get"]})
    assert parsed == Rule(frozenset(), frozenset(), frozenset({"get"}), frozenset())
    assert not parsed.allows("get", "sites", None)


# --- siteplane_rules ---------------------------------------------------------------------------

SITES_GET: dict[str, Any] = {"apiGroups": [API_GROUP], "resources": ["sites"], "verbs": ["get"]}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        pytest.param([SITES_GET], (rule(),), id="kept"),
        pytest.param([{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}], (), id="non-resource-urls-dropped"),
        pytest.param([{"nonResourceURLs": ["*"], "verbs": ["*"]}], (), id="non-resource-wildcard-dropped"),
        pytest.param([{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}], (), id="core-pods-dropped"),
        pytest.param([{"apiGroups": ["apps"], "resources": ["sites"], "verbs": ["*"]}], (), id="other-group-dropped"),
        pytest.param(
            [{"apiGroups": [API_GROUP], "resources": ["dnsbackends"], "verbs": ["*"]}], (), id="dnsbackends-dropped"
        ),
        pytest.param(
            [{"apiGroups": [API_GROUP], "resources": ["sites/status"], "verbs": ["*"]}], (), id="subresource-dropped"
        ),
        pytest.param([{"apiGroups": [API_GROUP], "resources": ["sites"], "verbs": []}], (), id="no-verbs-dropped"),
        pytest.param(
            [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
            (rule(("*",), ("*",), ("*",)),),
            id="cluster-admin-kept",
        ),
        pytest.param(
            [
                {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
                SITES_GET,
                {"apiGroups": [API_GROUP], "resources": ["dnsrecords"], "verbs": ["list"], "resourceNames": ["a"]},
            ],
            (rule(), rule(resources=("dnsrecords",), verbs=("list",), names=("a",))),
            id="mixed-keeps-siteplane-in-order",
        ),
    ],
)
def test_siteplane_rules_keeps_only_rules_on_siteplane_types(
    rules: list[Mapping[str, Any]], expected: tuple[Rule, ...]
) -> None:
    assert siteplane_rules(rules) == expected


# --- access_of ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verbs", "expected"),
    [
        pytest.param(VIEW_VERBS, "view", id="view-verbs"),
        pytest.param(NAMED_VIEW_VERBS, "view", id="named-view-verbs"),
        pytest.param(("get",), "view", id="get-only"),
        pytest.param((), "view", id="nothing"),
        pytest.param(EDIT_VERBS, "edit", id="edit-verbs"),
        pytest.param(NAMED_EDIT_VERBS, "edit", id="named-edit-verbs"),
        pytest.param(("get", "patch"), "edit", id="one-write-verb"),
        pytest.param(("delete",), "edit", id="delete-only"),
        pytest.param(("*",), "edit", id="wildcard"),
    ],
)
def test_access_of_summarises_verbs(verbs: tuple[str, ...], expected: str) -> None:
    assert access_of(verbs) == expected


# --- evaluator.can -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    subject_kind: str
    subject_name: str
    namespace: str | None
    resource_type: str = "sites"
    verbs: tuple[str, ...] = VIEW_VERBS
    resource_names: tuple[str, ...] = ()


ALICE = "alice"
SA_USER = "system:serviceaccount:team:deployer"


@pytest.mark.parametrize(
    ("grant", "user", "groups", "verb", "resource", "namespace", "name", "expected"),
    [
        pytest.param(Grant("User", ALICE, "team"), ALICE, (), "get", "sites", "team", None, True, id="user-by-name"),
        pytest.param(Grant("User", ALICE, "team"), "bob", (), "get", "sites", "team", None, False, id="other-user"),
        pytest.param(
            Grant("User", ALICE, "team"), "bob", (ALICE,), "get", "sites", "team", None, False, id="user-not-by-group"
        ),
        pytest.param(
            Grant("Group", "devs", "team"), "bob", ("devs",), "get", "sites", "team", None, True, id="group-member"
        ),
        pytest.param(
            Grant("Group", "devs", "team"), "bob", ("ops", "devs"), "list", "sites", "team", None, True, id="any-group"
        ),
        pytest.param(
            Grant("Group", "devs", "team"), "bob", ("ops",), "get", "sites", "team", None, False, id="not-in-group"
        ),
        pytest.param(
            Grant("Group", "devs", "team"), "devs", (), "get", "sites", "team", None, False, id="group-not-by-user"
        ),
        pytest.param(
            Grant("ServiceAccount", SA_USER, "team"), SA_USER, (), "get", "sites", "team", None, True, id="sa-as-user"
        ),
        pytest.param(
            Grant("ServiceAccount", SA_USER, "team"),
            "deployer",
            (),
            "get",
            "sites",
            "team",
            None,
            False,
            id="sa-bare-name-is-not-the-sa",
        ),
        pytest.param(
            Grant("ServiceAccount", SA_USER, "team"),
            "system:serviceaccount:other:deployer",
            (),
            "get",
            "sites",
            "team",
            None,
            False,
            id="sa-other-namespace",
        ),
        pytest.param(
            Grant("User", ALICE, "team"), ALICE, (), "get", "sites", "other", None, False, id="namespaced-elsewhere"
        ),
        pytest.param(Grant("User", ALICE, None), ALICE, (), "get", "sites", "team", None, True, id="cluster-wide-a"),
        pytest.param(Grant("User", ALICE, None), ALICE, (), "get", "sites", "other", None, True, id="cluster-wide-b"),
        pytest.param(
            Grant("User", ALICE, "team"), ALICE, (), "delete", "sites", "team", None, False, id="verb-not-granted"
        ),
        pytest.param(
            Grant("User", ALICE, "team"), ALICE, (), "get", "dnszones", "team", None, False, id="other-resource-type"
        ),
        pytest.param(
            Grant("User", ALICE, "team", verbs=("*",)),
            ALICE,
            (),
            "deletecollection",
            "sites",
            "team",
            None,
            True,
            id="wildcard-verb",
        ),
        pytest.param(
            Grant("User", ALICE, "team", resource_names=("www", "blog")),
            ALICE,
            (),
            "get",
            "sites",
            "team",
            "blog",
            True,
            id="names-listed",
        ),
        pytest.param(
            Grant("User", ALICE, "team", resource_names=("www",)),
            ALICE,
            (),
            "get",
            "sites",
            "team",
            "shop",
            False,
            id="names-unlisted",
        ),
        pytest.param(
            Grant("User", ALICE, "team", resource_names=("www",)),
            ALICE,
            (),
            "list",
            "sites",
            "team",
            None,
            False,
            id="names-unnamed-request",
        ),
        pytest.param(
            Grant("User", ALICE, "team", verbs=("*",), resource_names=("www",)),
            ALICE,
            (),
            "create",
            "sites",
            "team",
            None,
            False,
            id="names-wildcard-verb-unnamed-create",
        ),
    ],
)
def test_can_decides_like_rbac(
    grant: Grant,
    user: str,
    groups: tuple[str, ...],
    verb: str,
    resource: str,
    namespace: str,
    name: str | None,
    expected: bool,
) -> None:
    assert can([grant], user, groups, verb, resource, namespace, name) is expected


def test_can_without_grants_refuses() -> None:
    assert can([], ALICE, ("system:authenticated",), "get", "sites", "team") is False


def test_can_allows_when_any_grant_allows() -> None:
    grants = [
        Grant("User", ALICE, "other", verbs=EDIT_VERBS),
        Grant("Group", "devs", "team", resource_type="dnszones", verbs=EDIT_VERBS),
        Grant("Group", "devs", "team", verbs=EDIT_VERBS),
    ]
    assert can(grants, ALICE, ["devs"], "patch", "sites", "team", "www")
    assert not can(grants, ALICE, ["devs"], "patch", "dnsrecords", "team", "www")


def test_can_accepts_grant_rows_from_the_mirror() -> None:
    row = GrantRow(
        subject_kind="ServiceAccount",
        subject_name=SA_USER,
        namespace="team",
        resource_type="dnsrecords",
        verbs=("get", "list", "watch"),
        resource_names=("mx",),
        source_kind="RoleBinding",
        source_namespace="team",
        source_name="deployers",
    )
    assert can([row], SA_USER, (), "watch", "dnsrecords", "team", "mx")
    assert not can([row], SA_USER, (), "watch", "dnsrecords", "team", None)
    assert not can([row], SA_USER, (), "update", "dnsrecords", "team", "mx")


@pytest.mark.parametrize("resource_type", RESOURCE_TYPES)
def test_cluster_admin_like_grant_allows_every_type(resource_type: str) -> None:
    grant = Grant("Group", "system:masters", None, resource_type=resource_type, verbs=("*",))
    assert can([grant], "root", ["system:masters"], "deletecollection", resource_type, "anywhere")
