"""Argo CD health checks for the five kinds, in Argo CD's own layout, run as Argo CD runs them (lupa).

manifests/argocd/resource_customizations/siteplane.io/<Kind>/ holds health.lua (a copy of
manifests/argocd/health.lua), health_test.yaml and testdata/ captured from real objects by
``python -m tests.gitops_states``. tests/cluster/test_gitops_health.py holds the testdata to
kstatus' verdicts; here: each health_test.yaml passes, the layout is whole, the script behaves on
shapes the apiserver does not serve today, and the docs' argocd-cm snippet is the same script.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.argocd_lua import CUSTOMIZATIONS, ROOT, health, health_tests, kinds
from tests.gitops_states import PLURALS

SCRIPT = (ROOT / "health.lua").read_text()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "concepts.md"


def test_every_kind_has_a_health_check_in_argo_cds_layout() -> None:
    assert [p.relative_to(CUSTOMIZATIONS).as_posix() for p in kinds()] == sorted(f"siteplane.io/{k}" for k in PLURALS)
    for directory in kinds():
        assert (directory / "health.lua").read_text() == SCRIPT, f"{directory}: run python -m tests.gitops_states"
        listed = {path.name for path, _ in health_tests(directory)}
        assert listed == {p.name for p in (directory / "testdata").glob("*.yaml")}, "every testdata file is tested"


@pytest.mark.parametrize(
    ("path", "expected"),
    [case for directory in kinds() for case in health_tests(directory)],
    ids=lambda value: f"{value.parent.parent.name}/{value.name}" if isinstance(value, Path) else value["status"],
)
def test_health_test_yaml(path: Path, expected: dict[str, str]) -> None:
    obj = yaml.safe_load(path.read_text())
    assert health(SCRIPT, obj) == expected
    assert expected["status"].lower() == path.name.split("_")[0], "the file name says its health, as in Argo CD"


def _obj(status: Any = None, generation: int = 3, deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "x", "generation": generation}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    obj: dict[str, Any] = {"apiVersion": "siteplane.io/v1alpha1", "kind": "Site", "metadata": metadata}
    if status is not None:
        obj["status"] = status
    return obj


def _cond(ctype: str, status: str, reason: str, message: str = "") -> dict[str, str]:
    return {"type": ctype, "status": status, "reason": reason, "message": message}


READY = _cond("Ready", "True", "Published", "served")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            _obj(), ("Progressing", "Waiting for the siteplane operator to observe this object"), id="no-status"
        ),
        pytest.param(
            _obj({}), ("Progressing", "Waiting for the siteplane operator to observe this object"), id="empty"
        ),
        pytest.param(
            _obj({"observedGeneration": 2, "conditions": [READY]}),
            ("Progressing", "Generation 3 is not yet observed (observed: 2)"),
            id="older-generation",
        ),
        pytest.param(_obj({"observedGeneration": 3, "conditions": [READY]}), ("Healthy", "served"), id="ready"),
        pytest.param(
            _obj({"observedGeneration": 3, "conditions": [_cond("Ready", "False", "Pending")]}),
            ("Progressing", "Pending"),
            id="ready-false-alone",
        ),
        pytest.param(
            _obj({"observedGeneration": 3}),
            ("Progressing", "Waiting for the siteplane operator to report Ready"),
            id="no-conditions",
        ),
        pytest.param(
            _obj(
                {
                    "observedGeneration": 3,
                    "conditions": [_cond("Stalled", "True", "X", "m"), _cond("Reconciling", "True", "Y")],
                }
            ),
            ("Degraded", "X: m"),
            id="first-true-wins-as-in-kstatus",
        ),
        pytest.param(
            _obj({"observedGeneration": 3, "conditions": [READY]}, deleting=True),
            ("Progressing", "Pending deletion"),
            id="deleting",
        ),
        pytest.param(
            _obj({"observedGeneration": 3, "conditions": [_cond("Ready", "True", "Suspended", "suspended")]}),
            ("Suspended", "suspended"),
            id="suspended",
        ),
    ],
)
def test_the_script_on_shapes_the_operator_does_not_write_today(obj: dict[str, Any], expected: tuple[str, str]) -> None:
    assert health(SCRIPT, obj) == {"status": expected[0], "message": expected[1]}


def test_the_runner_refuses_what_argo_cd_refuses() -> None:
    """No string library in argocd-cm scripts; an unknown status reads Unknown."""
    with pytest.raises(Exception, match="string"):
        health('return {status = string.upper("healthy")}', {})
    assert health('return {status = "Fine"}', {}) == {
        "status": "Unknown",
        "message": "Lua returned an invalid health status",
    }


def test_the_argocd_cm_snippet_in_the_docs_is_the_health_check_of_every_kind() -> None:
    text = DOCS.read_text()
    block = re.search(r"```yaml\n(# argocd-cm.*?)```", text, re.DOTALL)
    assert block, "docs/concepts.md has the argocd-cm snippet"
    config_map = yaml.safe_load(block.group(1))
    assert config_map["metadata"]["name"] == "argocd-cm"
    data = config_map["data"]
    assert set(data) == {f"resource.customizations.health.siteplane.io_{kind}" for kind in PLURALS}
    assert all(script == SCRIPT for script in data.values())
