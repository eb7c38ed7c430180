"""The operator starts in-process against the real control plane and handles siteplane objects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.controlplane.cluster import ControlPlane
from tests.operator_runner import operator_running

pytestmark = pytest.mark.cluster

SITE = {
    "apiVersion": "siteplane.io/v1alpha1",
    "kind": "Site",
    "metadata": {"name": "smoke"},
    "spec": {"primaryDomain": "www.smoke.example", "serving": {"ipv4": ["192.0.2.7"]}},
}


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    with operator_running(control_plane.kubeconfig):
        yield control_plane


def _conditions(plane: ControlPlane, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    site = json.loads(plane.kubectl("get", "site", name, "-n", namespace, "-o", "json").stdout)
    return {c["type"]: c for c in site.get("status", {}).get("conditions", [])}


def test_operator_accepts_a_site_and_kubectl_wait_sees_it(operator: ControlPlane, namespace: str) -> None:
    operator.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(SITE))
    operator.kubectl("wait", "-n", namespace, "site/smoke", "--for=condition=Accepted", "--timeout=60s")
    accepted = _conditions(operator, namespace, "smoke")["Accepted"]
    assert accepted["status"] == "True"
    assert accepted["reason"] == "SpecValid"
    assert accepted["observedGeneration"] == 1


def test_a_spec_change_is_seen_with_its_new_generation(operator: ControlPlane, namespace: str) -> None:
    operator.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(SITE))
    operator.kubectl("wait", "-n", namespace, "site/smoke", "--for=condition=Accepted", "--timeout=60s")
    changed = {**SITE, "spec": {**SITE["spec"], "serving": {"ipv4": ["192.0.2.8"]}}}
    operator.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(changed))
    operator.kubectl(
        "wait", "-n", namespace, "site/smoke", "--for=jsonpath={.status.observedGeneration}=2", "--timeout=60s"
    )
    first = _conditions(operator, namespace, "smoke")["Accepted"]
    assert first["observedGeneration"] == 2


def test_every_kind_is_handled(operator: ControlPlane, namespace: str) -> None:
    docs = [
        {
            "kind": "DNSZone",
            "metadata": {"name": "z"},
            "spec": {"zoneName": "smoke.example", "nameServers": ["ns1.example.net"]},
        },
        {
            "kind": "DNSRecord",
            "metadata": {"name": "r"},
            "spec": {"zone": "smoke.example", "name": "www", "type": "A", "a": ["192.0.2.1"]},
        },
        {
            "kind": "AccessGrant",
            "metadata": {"name": "g"},
            "spec": {"subjects": [{"kind": "User", "name": "erin"}], "resources": ["sites"], "access": "view"},
        },
    ]
    for doc in docs:
        doc["apiVersion"] = "siteplane.io/v1alpha1"
        operator.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(doc))
        operator.kubectl(
            "wait",
            "-n",
            namespace,
            f"{doc['kind'].lower()}/{doc['metadata']['name']}",
            "--for=condition=Accepted",
            "--timeout=60s",
        )
