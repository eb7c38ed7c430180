"""Generate the CustomResourceDefinitions in crds/ from the pydantic models.

The models are the single source of truth: their constraints become OpenAPI keywords and the CEL
rules they carry (``x-kubernetes-validations``) are the same rules their validators enforce. A test
regenerates the CRDs and compares them with crds/, so the two can never drift apart.

pydantic emits JSON Schema; a CRD needs a *structural* OpenAPI v3 schema: no ``$ref``, no
``anyOf`` for optional fields, no ``title``. Defaults are deliberately left out so that what a
person (or a GitOps tool) applies reads back unchanged; the operator applies the defaults.

One exception, in the status, which nobody applies: ``status.observedGeneration`` defaults to 0
(and ``status`` to ``{}``, or the inner default would never apply). The apiserver fills it in on
every read from etcd, so an object the operator has not written yet reads
``observedGeneration: 0`` against ``metadata.generation: 1``: kstatus (Flux) and the Argo CD health
checks read it as in progress instead of current, without the operator writing anything
(tests/cluster/test_gitops_health.py checks it on the real apiserver).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from siteplane.api.common import API_GROUP, API_VERSION, LIST_TYPE_ENFORCED
from siteplane.api.kinds import KINDS, Kind

_DROPPED = {"title", "default", "$defs"}
NOT_YET_OBSERVED = 0
"""``status.observedGeneration`` before the operator's first status write (metadata.generation starts at 1)."""
# Key order in the output: what a reader looks for first.
_ORDER = (
    "description",
    "type",
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "items",
    "properties",
    "required",
)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline $ref/allOf and drop the null branch of Optional, keeping the outer keys."""
    node = dict(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**_resolve(target, defs), **node}
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**_resolve(node.pop("allOf")[0], defs), **node}
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b != {"type": "null"}]
        if len(branches) != 1:
            raise ValueError(f"cannot express a union in a structural schema: {branches}")
        node = {**_resolve(branches[0], defs), **node}
    return node


def structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = _resolve(node, defs)
    if "x-kubernetes-list-type" in node and not node.get(LIST_TYPE_ENFORCED):
        # The apiserver refuses repeats in a set or map list; the model must too (api/common.py).
        raise ValueError(f"list type without LIST_SET or list_map(...) in its Annotated: {node}")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or key == LIST_TYPE_ENFORCED:
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = structural(value, defs)
        elif key == "additionalProperties":
            # False is what a structural schema means anyway (unknown fields do not exist); True is
            # only supported for free-form maps, which become x-kubernetes-preserve-unknown-fields.
            if value is not True and value is not False:
                raise ValueError("typed maps (additionalProperties with a schema) are not supported")
        else:
            out[key] = value
    if out.get("type") == "object" and "properties" not in out and node.get("additionalProperties") is True:
        out["x-kubernetes-preserve-unknown-fields"] = True
    ordered = {k: out.pop(k) for k in _ORDER if k in out}
    return {**ordered, **out}


def _model_schema(model: type[Any]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return structural(schema, schema.get("$defs", {}))


def crd_for(kind: Kind) -> dict[str, Any]:
    spec_schema = _model_schema(kind.spec)
    status_schema = {**_model_schema(kind.status), "default": {}}
    status_schema["properties"]["observedGeneration"]["default"] = NOT_YET_OBSERVED
    columns = []
    for column in kind.columns:
        entry: dict[str, Any] = {"name": column.name, "type": column.type, "jsonPath": column.json_path}
        if column.priority:
            entry["priority"] = column.priority
        if column.description:
            entry["description"] = column.description
        columns.append(entry)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "annotations": {"siteplane.io/generated-by": "siteplane crds (from operator/siteplane/api)"},
            "labels": {"app.kubernetes.io/part-of": "siteplane"},
        },
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": ["siteplane"],
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "description": kind.description,
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def render(kind: Kind) -> str:
    header = "# Generated from operator/siteplane/api by `siteplane crds`; do not edit by hand.\n"
    return header + yaml.safe_dump(crd_for(kind), sort_keys=False, width=120, allow_unicode=True)


def crd_path(directory: Path, kind: Kind) -> Path:
    return directory / f"{kind.crd_name}.yaml"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in KINDS:
        path = crd_path(directory, kind)
        path.write_text(render(kind))
        paths.append(path)
    return paths


def stale(directory: Path) -> list[Path]:
    """CRD files in ``directory`` that differ from what the models generate."""
    return [p for k in KINDS if not (p := crd_path(directory, k)).exists() or p.read_text() != render(k)]
