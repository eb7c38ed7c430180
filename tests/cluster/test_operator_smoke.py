"""The operator starts in-process against the real control plane and handles siteplane objects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.controlplane.cluster import ControlPlane
from harness.operator_runner import operator_running
from siteplane.config import Config
from siteplane.store.migrate import upgrade

pytestmark = pytest.mark.cluster

ZONE = {
    "apiVersion": "siteplane.io/v1alpha1",
    "kind": "DNSZone",
    "metadata": {"name": "smoke"},
    "spec": {"zoneName": "smoke.example", "nameServers": ["ns1.example.net"]},
}
SITE = {
    "apiVersion": "siteplane.io/v1alpha1",
    "kind": "Site",
    "metadata": {"name": "smoke"},
    "spec": {"primaryDomain": "www.smoke.example", "serving": {"ipv4": ["192.0.2.7"]}},
}


def embedded_config(directory: Path) -> Config:
    """SQLite and zone files in ``directory``: the embedded defaults."""
    url = f"sqlite:///{directory / 'siteplane.db'}"
    upgrade(url)
    return Config(database_url=url, zone_dir=str(directory / "zones"))


@pytest.fixture(scope="module")
def operator(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with operator_running(control_plane.kubeconfig, embedded_config(tmp_path_factory.mktemp("smoke"))):
        yield control_plane


def _conditions(plane: ControlPlane, namespace: str, kind: str, name: str) -> dict[str, dict[str, Any]]:
    obj = json.loads(plane.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def test_operator_serves_a_site_and_kubectl_wait_sees_it(operator: ControlPlane, namespace: str) -> None:
    operator.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all([ZONE, SITE]))
    operator.kubectl("wait", "-n", namespace, "site/smoke", "--for=condition=Ready", "--timeout=60s")
    conditions = _conditions(operator, namespace, "site", "smoke")
    assert conditions["Ready"]["reason"] == "Published"
    assert conditions["Stored"]["status"] == conditions["DNSProgrammed"]["status"] == "True"
    assert conditions["Ready"]["observedGeneration"] == 1


def test_every_kind_is_handled(operator: ControlPlane, namespace: str) -> None:
    grant = {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "AccessGrant",
        "metadata": {"name": "g"},
        "spec": {"subjects": [{"kind": "User", "name": "erin"}], "resources": ["sites"], "access": "view"},
    }
    record = {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "DNSRecord",
        "metadata": {"name": "r"},
        "spec": {"zone": "smoke.example", "name": "txt", "type": "TXT", "txt": ["hello"]},
    }
    operator.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all([grant, record]))
    # No admission webhook runs here, so the grant is handled but, rightly, not applied.
    operator.kubectl(
        "wait",
        "-n",
        namespace,
        "accessgrant/g",
        "--for=jsonpath={.status.conditions[?(@.type=='Ready')].reason}=NotAdmitted",
        "--timeout=60s",
    )
    operator.kubectl(
        "wait", "-n", namespace, "dnsrecord/r", "--for=jsonpath={.status.observedGeneration}=1", "--timeout=60s"
    )
