"""The shipped manifests are enough: the operator runs as its own ServiceAccount, with peering on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from harness.controlplane.cluster import ControlPlane
from harness.operator_runner import operator_running
from harness.server import free_port
from tests.cluster.test_operator_smoke import embedded_config
from tests.reconcile_support import remove_webhook_configurations, wait_until

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


def test_with_its_own_rbac_the_operator_reads_secrets_in_siteplane_system_only(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    """A Secret in siteplane-system is read; one elsewhere gives a condition saying what to grant."""
    control_plane.kubectl("apply", "-f", str(MANIFESTS / "operator"))
    kubeconfig = control_plane.service_account_kubeconfig(
        "siteplane-system", "siteplane-operator", tmp_path / "operator.kubeconfig"
    )
    unreachable = "http://127.0.0.1:9"  # discard port: nothing answers, so the check fails after the read
    docs: list[dict[str, object]] = []
    for backend, secret_namespace in (("allowed-ns", "siteplane-system"), ("other-ns", namespace)):
        docs += [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{backend}-key", "namespace": secret_namespace},
                "stringData": {"apiKey": "not-a-real-key"},
            },
            {
                "apiVersion": "siteplane.io/v1alpha1",
                "kind": "DNSBackend",
                "metadata": {"name": backend},
                "spec": {
                    "type": "powerdns",
                    "powerdns": {
                        "apiURL": unreachable,
                        "apiKeySecretRef": {"namespace": secret_namespace, "name": f"{backend}-key", "key": "apiKey"},
                    },
                },
            },
        ]
    control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    try:
        with operator_running(kubeconfig, embedded_config(tmp_path)):

            def message(backend: str) -> str:
                return control_plane.kubectl(
                    "get", "dnsbackend", backend, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].message}"
                ).stdout

            wait_until(lambda: bool(message("allowed-ns") and message("other-ns")), 60, "both conditions")
            assert "unreachable" in message("allowed-ns"), message("allowed-ns")
            assert "may not read" not in message("allowed-ns")
            assert f"the operator may not read Secret {namespace}/other-ns-key" in message("other-ns")
            assert f"get on secrets in namespace {namespace}" in message("other-ns")
            assert "not-a-real-key" not in message("allowed-ns") + message("other-ns")
    finally:
        control_plane.kubectl("delete", "dnsbackend", "allowed-ns", "other-ns", "--wait=false", check=False)


def test_with_its_own_rbac_the_operator_serves_the_webhook_and_makes_both_kinds_of_grant(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    """RBAC's escalation prevention applies to the operator too: its ClusterRole must hold what it
    hands out, for a binding to a shipped role and for a generated per-name Role alike."""
    control_plane.kubectl("apply", "-f", str(MANIFESTS / "operator"))
    control_plane.kubectl("apply", "-f", str(MANIFESTS / "rbac"))
    kubeconfig = control_plane.service_account_kubeconfig(
        "siteplane-system", "siteplane-operator", tmp_path / "operator.kubeconfig"
    )
    webhook = f"{namespace}.siteplane.io"
    config = replace(
        embedded_config(tmp_path), webhook_listen=f"127.0.0.1:{free_port()}", webhook_configuration=webhook
    )
    grants = [
        {
            "apiVersion": "siteplane.io/v1alpha1",
            "kind": "AccessGrant",
            "metadata": {"name": name},
            "spec": {
                "subjects": [{"kind": "Group", "name": "dns-team"}],
                "resources": ["dnszones", "dnsrecords"],
                "access": "edit",
                **extra,
            },
        }
        for name, extra in (("shipped", {}), ("named", {"resourceNames": ["mx"]}))
    ]
    try:
        with operator_running(kubeconfig, config):
            wait_until(
                lambda: (
                    control_plane.kubectl("get", "validatingwebhookconfiguration", webhook, check=False).returncode == 0
                ),
                60,
                "the webhook configuration",
            )
            wait_until(
                lambda: (
                    control_plane.kubectl(
                        "apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(grants), check=False
                    ).returncode
                    == 0
                ),
                60,
                "grants admitted",
            )
            for name, role in (
                ("shipped", "ClusterRole/siteplane:dns-editor"),
                ("named", "Role/siteplane-grant-named"),
            ):
                control_plane.kubectl(
                    "wait", "-n", namespace, f"accessgrant/{name}", "--for=condition=Ready", "--timeout=60s"
                )
                got = control_plane.kubectl(
                    "get", "accessgrant", name, "-n", namespace, "-o", "jsonpath={.status.role}"
                ).stdout
                assert got == role
    finally:
        remove_webhook_configurations(control_plane, webhook)
