"""The shipped manifests are enough: the operator runs as its own ServiceAccount, with peering on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from tests.cluster.test_operator_smoke import embedded_config
from tests.controlplane.cluster import ControlPlane
from tests.operator_runner import operator_running

pytestmark = pytest.mark.cluster
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"


def test_operator_works_with_only_its_service_account_rbac_and_peering(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    control_plane.kubectl("apply", "-f", str(MANIFESTS / "operator"))
    control_plane.kubectl("apply", "-f", str(MANIFESTS / "peering" / "crds.yaml"))
    control_plane.kubectl("wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev")
    control_plane.kubectl("apply", "-f", str(MANIFESTS / "peering" / "siteplane.yaml"))
    kubeconfig = control_plane.service_account_kubeconfig(
        "siteplane-system", "siteplane-operator", tmp_path / "operator.kubeconfig"
    )
    site = {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "Site",
        "metadata": {"name": "as-sa"},
        "spec": {"primaryDomain": "www.sa.example", "serving": {"cname": "lb.example.net"}},
    }
    zone = {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "DNSZone",
        "metadata": {"name": "sa"},
        "spec": {"zoneName": "sa.example", "nameServers": ["ns1.example.net"]},
    }
    config = replace(embedded_config(tmp_path), peering="siteplane")
    with operator_running(kubeconfig, config):
        control_plane.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all([zone, site]))
        control_plane.kubectl("wait", "-n", namespace, "site/as-sa", "--for=condition=Ready", "--timeout=60s")
        peers = control_plane.kubectl("get", "clusterkopfpeering", "siteplane", "-o", "jsonpath={.status}").stdout
        assert peers not in ("", "{}"), "the operator announced itself in the peering object"
