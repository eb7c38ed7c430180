"""manifests/rbac/roles.yaml and siteplane.rbac.roles describe the same roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from siteplane.rbac.roles import SHIPPED_ROLES, ShippedRole

MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "rbac" / "roles.yaml"
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"


def _manifest() -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc}


def test_the_manifest_holds_exactly_the_shipped_roles() -> None:
    assert set(_manifest()) == {role.name for role in SHIPPED_ROLES}


@pytest.mark.parametrize("role", SHIPPED_ROLES, ids=lambda r: r.name)
def test_each_role_grants_what_the_operator_plans_with(role: ShippedRole) -> None:
    doc = _manifest()[role.name]
    assert doc["kind"] == "ClusterRole"
    assert doc["rules"] == [
        {"apiGroups": ["siteplane.io"], "resources": list(role.resources), "verbs": list(role.verbs)}
    ]
    labels = doc["metadata"].get("labels", {})
    assert (labels.get(AGGREGATE_TO_VIEW) == "true") == role.aggregates_to_view
    assert not any(key.endswith(("aggregate-to-edit", "aggregate-to-admin")) for key in labels)


def test_no_shipped_role_touches_status_or_backends() -> None:
    for doc in _manifest().values():
        for rule in doc["rules"]:
            assert not any("/" in r or r == "dnsbackends" for r in rule["resources"]), doc["metadata"]["name"]
