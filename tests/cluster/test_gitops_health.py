"""GitOps health, proven against the real consumers: kstatus (what Flux uses, through a small Go
program on sigs.k8s.io/cli-utils, harness/kstatus/) and Argo CD's health Lua (run with lupa, as
Argo CD runs it), on objects as the real apiserver serves them.

- A just-created object of every kind (the shipped examples, no operator) reads InProgress and
  Progressing: the CRDs' default ``status.observedGeneration: 0`` says so without any write.
- Every state the operator produces for real (tests/gitops_states.py) gets its intended verdict
  from kstatus and from the Argo CD health check, and the two agree.
- The committed Argo CD testdata/ agree with kstatus file by file.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.bind import BindServer
from harness.controlplane.cluster import ControlPlane
from harness.kstatus import verdicts
from harness.paths import EXAMPLES_DIR
from tests.argocd_lua import ROOT, health, health_tests, kinds
from tests.gitops_states import KSTATUS_TO_ARGO, PLURALS, State, produce

pytestmark = pytest.mark.cluster
SCRIPT = (ROOT / "health.lua").read_text()


def _argo_agrees(kstatus: str, argo: str) -> bool:
    return argo == KSTATUS_TO_ARGO[kstatus] or (kstatus, argo) == ("Current", "Suspended")


@pytest.fixture
def tenants(control_plane: ControlPlane) -> Iterator[dict[str, str]]:
    names = {"team-a": f"ex-a-{uuid.uuid4().hex[:6]}", "team-b": f"ex-b-{uuid.uuid4().hex[:6]}"}
    for name in names.values():
        control_plane.kubectl("create", "namespace", name)
    yield names
    for name in names.values():
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _example_objects(tenants: dict[str, str], suffix: str) -> list[dict[str, Any]]:
    """The shipped examples' siteplane objects, in the test's namespaces (and a backend name of its own)."""
    docs = []
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc["kind"] not in PLURALS:
                continue
            metadata = doc["metadata"]
            if "namespace" in metadata:
                metadata["namespace"] = tenants[metadata["namespace"]]
            else:
                metadata["name"] = f"{metadata['name']}-{suffix}"
            docs.append(doc)
    return docs


def test_every_shipped_example_reads_in_progress_until_the_operator_has_written_it(
    control_plane: ControlPlane, tenants: dict[str, str]
) -> None:
    suffix = uuid.uuid4().hex[:6]
    docs = _example_objects(tenants, suffix)
    assert len(docs) == 21
    created = []
    try:
        for doc in docs:
            # The answer to the create itself already carries the default: no window where it reads Current.
            out = control_plane.kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(doc)).stdout
            created.append(json.loads(out))
        read = []
        for doc in docs:
            where = ["-n", doc["metadata"]["namespace"]] if "namespace" in doc["metadata"] else []
            kind = PLURALS[doc["kind"]]
            read.append(
                json.loads(control_plane.kubectl("get", kind, doc["metadata"]["name"], *where, "-o", "json").stdout)
            )
        listed = [
            obj
            for plural in PLURALS.values()
            for obj in json.loads(control_plane.kubectl("get", plural, "-A", "-o", "json").stdout)["items"]
            if obj["metadata"].get("namespace") in tenants.values() or obj["metadata"]["name"].endswith(suffix)
        ]
        assert len(listed) == 21
        every = created + read + listed  # as answered to a create, a get and a list (what informers start from)
        for obj in every:
            assert obj["status"] == {"observedGeneration": 0}, obj["metadata"]["name"]
        found = verdicts(every)
        assert Counter(v["status"] for v in found) == {"InProgress": 63}
        assert all("latest observed generation is 0" in v["message"] for v in found)
        assert {health(SCRIPT, obj)["status"] for obj in every} == {"Progressing"}
    finally:
        for doc in docs:
            if "namespace" not in doc["metadata"]:
                control_plane.kubectl("delete", "dnsbackend", doc["metadata"]["name"], "--wait=false", check=False)


@pytest.fixture(scope="module")
def states(
    control_plane: ControlPlane, bind_server: BindServer, tmp_path_factory: pytest.TempPathFactory
) -> list[State]:
    return produce(control_plane, tmp_path_factory.mktemp("gitops"), bind_server)


def test_every_state_the_operator_produces_gets_its_verdict_from_kstatus(states: list[State]) -> None:
    found = verdicts(s.obj for s in states)
    wrong = {s.label: v for s, v in zip(states, found, strict=True) if v["status"] != s.kstatus}
    assert wrong == {}
    assert {s.kstatus for s in states} == {"Current", "InProgress", "Failed", "Terminating"}
    assert {s.kind for s in states} == set(PLURALS)


def test_every_state_the_operator_produces_gets_the_same_verdict_from_argo_cd(states: list[State]) -> None:
    found = {s.label: health(SCRIPT, s.obj) for s in states}
    assert {label: h["status"] for label, h in found.items()} == {s.label: s.argo for s in states}
    for state in states:
        assert _argo_agrees(state.kstatus, found[state.label]["status"]), state.label
        assert found[state.label]["message"], f"{state.label}: Argo CD shows why"


def test_stalled_objects_carry_ready_false_with_the_same_reason(states: list[State]) -> None:
    for state in states:
        conditions = {c["type"]: c for c in state.obj["status"].get("conditions", [])}
        if state.kstatus == "Failed":
            stalled, ready = conditions["Stalled"], conditions["Ready"]
            assert (stalled["status"], ready["status"]) == ("True", "False"), state.label
            assert stalled["reason"] == ready["reason"] and stalled["message"] == ready["message"], state.label
            assert conditions["Reconciling"]["status"] == "False", state.label
        elif state.kstatus == "Current":
            assert conditions["Reconciling"]["status"] == conditions["Stalled"]["status"] == "False", state.label


@pytest.mark.parametrize("directory", kinds(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_committed_argo_cd_testdata_agree_with_kstatus(directory: Path) -> None:
    tests = health_tests(directory)
    found = verdicts(yaml.safe_load(path.read_text()) for path, _ in tests)
    for (path, expected), verdict in zip(tests, found, strict=True):
        assert _argo_agrees(verdict["status"], expected["status"]), (
            f"{path.name}: kstatus {verdict}, Argo CD {expected}"
        )
