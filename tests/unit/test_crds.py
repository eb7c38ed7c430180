"""crds/ is generated from the models, structural, and carries what `kubectl get` users need."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, Field

from siteplane.api import crdgen
from siteplane.api.common import LIST_SET, list_map
from siteplane.api.kinds import KINDS, Kind

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
# The only defaults: status, which nobody applies, reads "not yet observed" until the operator writes it.
DEFAULTED = {".status": {}, ".status.observedGeneration": 0}


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
        assert not {"$ref", "anyOf", "allOf", "oneOf", "title"} & node.keys(), path
        if path not in DEFAULTED:
            assert "default" not in node, f"{path}: what a person applies must read back unchanged"
        assert "type" in node, f"{path} has no type"
        if node["type"] == "object" and path not in ("", ".metadata"):
            assert "properties" in node or node.get("x-kubernetes-preserve-unknown-fields"), path


@pytest.mark.parametrize("kind", KINDS, ids=[k.kind for k in KINDS])
def test_status_reads_not_yet_observed_until_the_operator_writes_it(kind: Kind) -> None:
    schema = crdgen.crd_for(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert {path: node["default"] for path, node in _walk(schema) if "default" in node} == DEFAULTED


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


def test_a_list_type_the_model_does_not_enforce_is_refused() -> None:
    """A set or map list the apiserver de-duplicates but the model does not would make them disagree."""

    class Unenforced(BaseModel):
        names: Annotated[list[str], Field(json_schema_extra={"x-kubernetes-list-type": "set"})]

    with pytest.raises(ValueError, match="list type without LIST_SET"):
        crdgen.structural(Unenforced.model_json_schema(), {})


def test_list_set_given_as_json_schema_extra_fails_loudly() -> None:
    class Misspelt(BaseModel):
        names: Annotated[list[str], Field(json_schema_extra=LIST_SET)]

    with pytest.raises(TypeError, match="go into Annotated"):
        Misspelt.model_json_schema()


def test_list_set_and_map_marks_reach_the_crd_without_the_enforcement_mark() -> None:
    class Entry(BaseModel):
        namespace: str

    class Enforced(BaseModel):
        names: Annotated[list[str], Field(max_length=3), LIST_SET]
        entries: Annotated[list[Entry], list_map("namespace")]

    raw = Enforced.model_json_schema()
    schema = crdgen.structural(raw, raw["$defs"])
    assert schema["properties"]["names"]["x-kubernetes-list-type"] == "set"
    assert schema["properties"]["names"]["maxItems"] == 3
    assert schema["properties"]["entries"]["x-kubernetes-list-map-keys"] == ["namespace"]
    assert "enforced" not in yaml.safe_dump(schema)
