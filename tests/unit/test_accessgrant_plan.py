"""AccessGrant → RoleBinding (and Role): shipped roles where one fits, exact generated Roles otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from siteplane.api.accessgrant import AccessGrantSpec
from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.rbac.accessgrants import (
    MANAGED_BY,
    NAME_PREFIX,
    RBAC_API,
    Permission,
    generated_name,
    permissions_granted,
    plan_grant_objects,
)
from siteplane.rbac.rules import EDIT_VERBS, NAMED_EDIT_VERBS, NAMED_VIEW_VERBS, VIEW_VERBS

NAMESPACE = "team"
GRANT = "web-team"
UID = "0f6c1e2a-7a43-4d1e-9f3b-2b1c6f0e9d11"

ALICE = {"kind": "User", "name": "alice"}


def spec(
    resources: list[str], access: str, names: list[str] | None = None, subjects: list[dict[str, Any]] | None = None
) -> AccessGrantSpec:
    body: dict[str, Any] = {"subjects": subjects or [ALICE], "resources": resources, "access": access}
    if names is not None:
        body["resourceNames"] = names
    return AccessGrantSpec.model_validate(body)


def test_spec_reads_camel_case_resource_names() -> None:
    assert spec(["sites"], "view", ["www"]).resource_names == ["www"]


# --- which role a grant binds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "access", "cluster_role"),
    [
        pytest.param(["sites"], "view", "siteplane:site-viewer", id="site-viewer"),
        pytest.param(["sites"], "edit", "siteplane:site-editor", id="site-editor"),
        pytest.param(["dnszones", "dnsrecords"], "view", "siteplane:dns-viewer", id="dns-viewer"),
        pytest.param(["dnszones", "dnsrecords"], "edit", "siteplane:dns-editor", id="dns-editor"),
        pytest.param(["dnsrecords", "dnszones"], "edit", "siteplane:dns-editor", id="dns-editor-any-order"),
    ],
)
def test_unnamed_grant_matching_a_shipped_role_binds_it(resources: list[str], access: str, cluster_role: str) -> None:
    objects = plan_grant_objects(GRANT, UID, NAMESPACE, spec(resources, access))
    assert objects.role is None
    assert objects.role_ref == {"apiGroup": RBAC_API, "kind": "ClusterRole", "name": cluster_role}
    assert objects.role_binding["metadata"]["name"] == NAME_PREFIX + GRANT
    assert objects.role_binding["metadata"]["namespace"] == NAMESPACE
    assert objects.describe() == f"RoleBinding {NAME_PREFIX + GRANT} to ClusterRole {cluster_role}"


@pytest.mark.parametrize(
    ("resources", "access", "names", "expected_rule"),
    [
        pytest.param(
            ["sites", "dnsrecords"],
            "edit",
            None,
            {"apiGroups": [API_GROUP], "resources": ["dnsrecords", "sites"], "verbs": list(EDIT_VERBS)},
            id="mixed-types-edit",
        ),
        pytest.param(
            ["dnsrecords"],
            "view",
            None,
            {"apiGroups": [API_GROUP], "resources": ["dnsrecords"], "verbs": list(VIEW_VERBS)},
            id="records-only-view",
        ),
        pytest.param(
            ["sites"],
            "view",
            ["www", "blog"],
            {
                "apiGroups": [API_GROUP],
                "resources": ["sites"],
                "verbs": list(NAMED_VIEW_VERBS),
                "resourceNames": ["blog", "www"],
            },
            id="named-view",
        ),
        pytest.param(
            ["sites"],
            "edit",
            ["www"],
            {
                "apiGroups": [API_GROUP],
                "resources": ["sites"],
                "verbs": list(NAMED_EDIT_VERBS),
                "resourceNames": ["www"],
            },
            id="named-edit-shipped-types-still-generated",
        ),
    ],
)
def test_other_grants_get_a_generated_role(
    resources: list[str], access: str, names: list[str] | None, expected_rule: dict[str, Any]
) -> None:
    objects = plan_grant_objects(GRANT, UID, NAMESPACE, spec(resources, access, names))
    assert objects.role is not None
    assert objects.role["apiVersion"] == f"{RBAC_API}/v1"
    assert objects.role["kind"] == "Role"
    assert objects.role["metadata"]["name"] == NAME_PREFIX + GRANT
    assert objects.role["metadata"]["namespace"] == NAMESPACE
    assert objects.role["rules"] == [expected_rule]
    assert objects.role_ref == {"apiGroup": RBAC_API, "kind": "Role", "name": objects.role["metadata"]["name"]}
    assert objects.role_binding["metadata"]["name"] == objects.role["metadata"]["name"]


@pytest.mark.parametrize(
    "resources",
    [
        pytest.param(["sites"], id="sites"),
        pytest.param(["dnszones", "dnsrecords"], id="dns"),
        pytest.param(["sites", "dnszones", "dnsrecords"], id="all"),
    ],
)
def test_named_edit_never_carries_verbs_that_cannot_name_an_object(resources: list[str]) -> None:
    objects = plan_grant_objects(GRANT, UID, NAMESPACE, spec(resources, "edit", ["www"]))
    assert objects.role is not None
    (rule,) = objects.role["rules"]
    assert "create" not in rule["verbs"]
    assert "deletecollection" not in rule["verbs"]
    assert {"update", "patch", "delete"} <= set(rule["verbs"])


def test_named_role_lists_the_names_sorted() -> None:
    objects = plan_grant_objects(GRANT, UID, NAMESPACE, spec(["sites"], "view", ["www", "blog"]))
    assert objects.role is not None
    assert objects.role["rules"][0]["resourceNames"] == ["blog", "www"]


def test_a_name_given_twice_is_refused_as_the_apiserver_refuses_it() -> None:
    with pytest.raises(ValueError, match="Duplicate value"):
        spec(["sites"], "view", ["www", "blog", "www"])


# --- metadata and subjects ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "access", "names"),
    [
        pytest.param(["sites"], "view", None, id="shipped"),
        pytest.param(["sites", "dnszones"], "view", None, id="generated"),
        pytest.param(["sites"], "edit", ["www"], id="named"),
    ],
)
def test_planned_objects_are_owned_by_the_grant(resources: list[str], access: str, names: list[str] | None) -> None:
    objects = plan_grant_objects(GRANT, UID, NAMESPACE, spec(resources, access, names))
    for obj in filter(None, (objects.role_binding, objects.role)):
        metadata = obj["metadata"]
        assert metadata["labels"] == MANAGED_BY
        assert metadata["ownerReferences"] == [
            {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": "AccessGrant",
                "name": GRANT,
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ]


def test_planned_objects_do_not_share_mutable_metadata() -> None:
    objects = plan_grant_objects(GRANT, UID, NAMESPACE, spec(["sites"], "view", ["www"]))
    assert objects.role is not None
    objects.role["metadata"]["labels"]["extra"] = "x"
    assert "extra" not in objects.role_binding["metadata"]["labels"]
    assert "extra" not in MANAGED_BY


def test_subjects_are_converted_to_rbac_subjects() -> None:
    subjects = [
        {"kind": "User", "name": "alice"},
        {"kind": "Group", "name": "devs"},
        {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"},
    ]
    objects = plan_grant_objects(GRANT, UID, NAMESPACE, spec(["sites"], "view", subjects=subjects))
    assert objects.role_binding["subjects"] == [
        {"kind": "User", "name": "alice", "apiGroup": RBAC_API},
        {"kind": "Group", "name": "devs", "apiGroup": RBAC_API},
        {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"},
    ]
    assert objects.role_binding["apiVersion"] == f"{RBAC_API}/v1"
    assert objects.role_binding["kind"] == "RoleBinding"


# --- generated names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grant_name",
    [
        pytest.param("a", id="short"),
        pytest.param("a" * (253 - len(NAME_PREFIX)), id="exactly-fits"),
        pytest.param("a" * (254 - len(NAME_PREFIX)), id="one-too-long"),
        pytest.param("b" * 253, id="longest-grant-name"),
    ],
)
def test_generated_name_fits_and_is_stable(grant_name: str) -> None:
    name = generated_name(grant_name)
    assert len(name) <= 253
    assert name.startswith(NAME_PREFIX)
    assert generated_name(grant_name) == name


def test_short_generated_name_is_readable() -> None:
    assert generated_name("web-team") == "siteplane-grant-web-team"


def test_long_grant_names_sharing_a_prefix_get_different_names() -> None:
    first, second = "x" * 252 + "1", "x" * 252 + "2"
    assert generated_name(first) != generated_name(second)


def test_long_grant_name_is_used_in_both_objects() -> None:
    grant_name = "g" * 253
    objects = plan_grant_objects(grant_name, UID, NAMESPACE, spec(["sites", "dnszones"], "edit"))
    assert objects.role is not None
    assert objects.role["metadata"]["name"] == objects.role_binding["metadata"]["name"] == generated_name(grant_name)
    assert objects.role_binding["metadata"]["ownerReferences"][0]["name"] == grant_name


# --- what a grant hands out --------------------------------------------------------------------


def test_unnamed_permissions_cover_every_verb_on_every_type() -> None:
    granted = permissions_granted(spec(["sites", "dnsrecords"], "edit"))
    assert len(granted) == 2 * len(EDIT_VERBS)
    assert set(granted) == {Permission(verb, res) for res in ("sites", "dnsrecords") for verb in EDIT_VERBS}


def test_unnamed_view_permissions() -> None:
    assert permissions_granted(spec(["dnszones"], "view")) == [
        Permission("get", "dnszones"),
        Permission("list", "dnszones"),
        Permission("watch", "dnszones"),
    ]


def test_named_permissions_are_per_name() -> None:
    granted = permissions_granted(spec(["sites"], "view", ["www", "blog"]))
    assert len(granted) == len(NAMED_VIEW_VERBS) * 2
    assert set(granted) == {Permission(verb, "sites", name) for verb in NAMED_VIEW_VERBS for name in ("www", "blog")}


def test_named_edit_permissions_never_include_unnameable_verbs() -> None:
    granted = permissions_granted(spec(["sites", "dnszones"], "edit", ["www"]))
    assert len(granted) == 2 * len(NAMED_EDIT_VERBS)
    assert {p.verb for p in granted} == set(NAMED_EDIT_VERBS)
    assert all(p.name == "www" for p in granted)


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        pytest.param(Permission("get", "sites"), "get sites in namespace team", id="unnamed"),
        pytest.param(Permission("patch", "sites", "www"), "patch sites/www in namespace team", id="named"),
    ],
)
def test_permission_describe(permission: Permission, expected: str) -> None:
    assert permission.describe("team") == expected
