"""JSON schemas for kubeconform, made here instead of downloaded.

- Built-in kinds: from the OpenAPI (v2) document of the pinned Kubernetes release, which the
  ``k8s.io/kubernetes`` Go module ships (``api/openapi-spec/swagger.json``; the control plane is
  built from the same module, so it is in the module cache already). Cached under
  ``~/.cache/siteplane/tools/schemas/<version>``.
- siteplane's kinds (and any other CRD): from the CRDs' ``openAPIV3Schema``.

Both are strict, as kubeconform's ``-strict`` schemas are: an object schema that lists its
properties and says nothing of others gets ``additionalProperties: false``, so a misspelt or
misplaced field is an error. Files are laid out for the schema location
``DIR/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`` (kubeconform's ``Group`` is
the version for the core group, e.g. ``v1/service_v1.json``).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from harness.controlplane.build import KUBE_VERSION
from harness.tools.build import cache_dir

SCHEMA_LOCATION = "{dir}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json"
_INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
_QUANTITY = {"oneOf": [{"type": "string"}, {"type": "number"}]}
# What kubeconform needs of every object, whatever its CRD's schema says.
_OBJECT_ENVELOPE: dict[str, Any] = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
}


def schema_location(directory: Path) -> str:
    return SCHEMA_LOCATION.format(dir=directory)


def _path(directory: Path, group: str, version: str, kind: str) -> Path:
    return directory / (group or version) / f"{kind.lower()}_{version}.json"


_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_VALUES = ("items", "additionalProperties", "not")


def strict(schema: Any) -> Any:
    """A copy of ``schema`` that refuses unknown fields, with Kubernetes' special types spelt out.

    Only what is a schema is rewritten: the names in ``properties`` are data (JSONSchemaProps has
    properties named ``format``, ``nullable`` and ``x-kubernetes-int-or-string``)."""
    if not isinstance(schema, dict):
        return schema
    if schema.get("format") == "int-or-string" or schema.get("x-kubernetes-int-or-string") is True:
        return dict(_INT_OR_STRING, description=schema.get("description", ""))
    out = dict(schema)
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: strict(value) for name, value in out[key].items()}
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [strict(value) for value in out[key]]
    for key in _SCHEMA_VALUES:
        if isinstance(out.get(key), dict):
            out[key] = strict(out[key])
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _references(schema: Any) -> Iterable[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            yield ref.removeprefix("#/definitions/")
        for value in schema.values():
            yield from _references(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _references(item)


def _closure(definitions: dict[str, Any], root: str) -> dict[str, Any]:
    wanted, todo = {}, [root]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted[name] = definitions[name]
        todo.extend(_references(definitions[name]))
    return wanted


def swagger_document(kube_version: str = KUBE_VERSION) -> Path:
    """The pinned release's OpenAPI v2 document, from the Go module cache (downloaded when missing)."""
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod")
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"k8s.io/kubernetes@{kube_version}"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1] / "controlplane",
    ).stdout
    return Path(json.loads(out)["Dir"]) / "api" / "openapi-spec" / "swagger.json"


def write_builtin_schemas(directory: Path, swagger: dict[str, Any]) -> int:
    definitions = {name: strict(schema) for name, schema in swagger["definitions"].items()}
    definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] = _QUANTITY
    written = 0
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if "kind" not in schema.get("properties", {}):
                continue  # a shared type (DeleteOptions, WatchEvent ...), not a kind of object
            document = dict(schema, definitions=_closure(definitions, name))
            path = _path(directory, gvk["group"], gvk["version"], gvk["kind"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document))
            written += 1
    return written


def builtin_schemas(kube_version: str = KUBE_VERSION) -> Path:
    """Strict schemas of every built-in kind of ``kube_version``, made once and cached."""
    directory = cache_dir() / "schemas" / kube_version
    done = directory / ".complete"
    if done.exists():
        return directory
    swagger = json.loads(swagger_document(kube_version).read_text())
    write_builtin_schemas(directory, swagger)
    done.touch()
    return directory


def write_crd_schemas(directory: Path, crd_documents: Iterable[dict[str, Any]]) -> list[Path]:
    """Strict schemas of each served version of each CRD, next to the built-in ones."""
    written = []
    for crd in crd_documents:
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            schema.setdefault("properties", {})
            for field, envelope in _OBJECT_ENVELOPE.items():
                schema["properties"].setdefault(field, envelope)
            path = _path(directory, spec["group"], version["name"], spec["names"]["kind"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(strict(schema)))
            written.append(path)
    return written


def crds_in(paths: Iterable[Path]) -> list[dict[str, Any]]:
    found = []
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "CustomResourceDefinition":
                found.append(document)
    return found
