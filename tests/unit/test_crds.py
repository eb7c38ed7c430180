"""crds/ is generated from the models, structural, and carries what `kubectl get` users need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from siteplane.api import crdgen
from siteplane.api.kinds import KINDS, Kind

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"


def test_committed_crds_are_exactly_what_the_models_generate() -> None:
    assert crdgen.stale(CRD_DIR) == [], "run `siteplane crds` and commit the result"


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        found += _walk(sub, f"{path}.{name}")
    if "items" in node:
        found += _walk(node["items"], f"{path}[]")
    return found


@pytest.mark.parametrize("kind", KINDS, ids=[k.kind for k in KINDS])
def test_schema_is_structural(kind: Kind) -> None:
    schema = crdgen.crd_for(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert not {"$ref", "anyOf", "allOf", "oneOf", "default", "title"} & node.keys(), path
        assert "type" in node, f"{path} has no type"
        if node["type"] == "object" and path not in ("", ".metadata"):
            assert "properties" in node or node.get("x-kubernetes-preserve-unknown-fields"), path


@pytest.mark.parametrize("kind", KINDS, ids=[k.kind for k in KINDS])
def test_every_kind_has_status_subresource_columns_short_names_and_category(kind: Kind) -> None:
    crd = yaml.safe_load((CRD_DIR / f"{kind.crd_name}.yaml").read_text())
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert "siteplane" in crd["spec"]["names"]["categories"]
    assert crd["spec"]["names"]["shortNames"]
    columns = {c["name"] for c in version["additionalPrinterColumns"]}
    assert {"Ready", "Age"} <= columns
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert status["kopf"]["x-kubernetes-preserve-unknown-fields"] is True, "room for kopf's progress storage"
    assert status["conditions"]["x-kubernetes-list-type"] == "map"


def test_scopes_follow_the_design() -> None:
    assert {k.kind for k in KINDS if not k.namespaced} == {"DNSBackend"}
