"""Against the real apiserver: the CRDs install, examples apply cleanly, bad manifests are refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from harness.controlplane.cluster import ControlPlane
from siteplane.api.kinds import KINDS
from tests.corpus import EXAMPLES_DIR, InvalidCase, example_documents, invalid_cases

pytestmark = pytest.mark.cluster

CASES = invalid_cases()
BACKEND_EXAMPLES = EXAMPLES_DIR.parent / "backends"


def _get(plane: ControlPlane, doc: dict[str, Any]) -> dict[str, Any]:
    args = [
        "get",
        f"{doc['kind'].lower()}.{doc['apiVersion'].split('/')[0]}" if "/" in doc["apiVersion"] else doc["kind"].lower(),
        doc["metadata"]["name"],
        "-o",
        "json",
    ]
    if doc["metadata"].get("namespace"):
        args += ["-n", doc["metadata"]["namespace"]]
    return dict(json.loads(plane.kubectl(*args).stdout))


def _assert_reads_back_unchanged(plane: ControlPlane) -> None:
    for filename, doc in example_documents():
        live = _get(plane, doc)
        if "spec" in doc:
            assert live["spec"] == doc["spec"], f"{filename}: {doc['metadata']['name']} changed on the server"
        for key in ("labels", "annotations"):
            for name, value in (doc["metadata"].get(key) or {}).items():
                assert live["metadata"][key][name] == value


@pytest.fixture(scope="module")
def examples_applied(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    yield control_plane
    control_plane.kubectl("delete", "-f", str(EXAMPLES_DIR), "--wait=false", "--ignore-not-found", check=False)


def test_every_crd_is_established_with_its_names(control_plane: ControlPlane) -> None:
    for kind in KINDS:
        crd = json.loads(control_plane.kubectl("get", "crd", kind.crd_name, "-o", "json").stdout)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True"
        assert conditions["NamesAccepted"] == "True"
        assert crd["status"]["acceptedNames"]["categories"] == ["siteplane"]


def test_examples_apply_read_back_unchanged_and_show_no_diff(examples_applied: ControlPlane) -> None:
    plane = examples_applied
    plane.kubectl("apply", "-f", str(EXAMPLES_DIR))
    _assert_reads_back_unchanged(plane)
    # What a GitOps tool does next: a server-side apply of the same files changes nothing...
    plane.kubectl("apply", "--server-side", "--field-manager=gitops", "--force-conflicts", "-f", str(EXAMPLES_DIR))
    _assert_reads_back_unchanged(plane)
    # ...and a diff of the repository against the cluster is empty (exit code 0).
    assert plane.kubectl("diff", "-f", str(EXAMPLES_DIR), check=False).returncode == 0
    # The category lists every siteplane kind in one command.
    listing = plane.kubectl("get", "siteplane", "-A").stdout
    for kind in (
        "site.siteplane.io/www",
        "dnszone.siteplane.io/example-com",
        "dnsrecord.siteplane.io/mx",
        "accessgrant.siteplane.io/dns-team-edits-dns",
        "dnsbackend.siteplane.io/zonefiles",
    ):
        assert kind in listing


def test_examples_apply_server_side_from_scratch(control_plane: ControlPlane, namespace: str) -> None:
    """Server-side apply on its own (Argo CD's ServerSideApply=true, Flux), into a fresh namespace."""
    for filename, doc in example_documents():
        if doc["kind"] not in ("Site", "DNSRecord", "AccessGrant"):
            continue
        doc = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
        control_plane.kubectl("apply", "--server-side", "--field-manager=flux", "-f", "-", stdin=yaml.safe_dump(doc))
        assert _get(control_plane, doc)["spec"] == doc["spec"], filename


def test_backend_examples_pass_the_schema(control_plane: ControlPlane) -> None:
    """manifests/backends/ as a cluster admin would apply them (the behaviour suite runs them for real)."""
    for name in ("siteplane-system", "dns-team"):
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(namespace))
    examples = sorted(BACKEND_EXAMPLES.glob("*.yaml"))
    assert len(examples) >= 2
    for path in examples:
        control_plane.kubectl("apply", "--dry-run=server", "-f", str(path))


def test_short_names_work(control_plane: ControlPlane) -> None:
    for kind in KINDS:
        for short in kind.short_names:
            control_plane.kubectl("get", short, "-A")


@pytest.fixture(scope="module")
def corpus_namespace(control_plane: ControlPlane) -> Iterator[str]:
    control_plane.kubectl("create", "namespace", "invalid-corpus")
    yield "invalid-corpus"
    control_plane.kubectl("delete", "namespace", "invalid-corpus", "--wait=false", check=False)


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 25
    assert all(case.expect for case in CASES), "every case says which field it is about"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_manifest_is_rejected_naming_the_field(
    control_plane: ControlPlane, corpus_namespace: str, case: InvalidCase
) -> None:
    for doc in case.setup:
        control_plane.kubectl("apply", "-n", corpus_namespace, "-f", "-", stdin=yaml.safe_dump(doc))
    result = control_plane.kubectl(
        "apply", "-n", corpus_namespace, "-f", "-", stdin=yaml.safe_dump(case.manifest), check=False
    )
    assert result.returncode != 0, f"{case.name} was accepted"
    for expected in case.expect:
        assert expected in result.stderr, f"{case.name}: {expected!r} not in {result.stderr!r}"
    # Nothing of the rejected manifest was stored.
    if not case.is_update:
        kind = case.manifest["kind"].lower() + ".siteplane.io"
        got = control_plane.kubectl("get", kind, case.manifest["metadata"]["name"], "-n", corpus_namespace, check=False)
        assert got.returncode != 0 and "NotFound" in got.stderr
