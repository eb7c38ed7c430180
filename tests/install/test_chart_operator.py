"""The operator as the chart runs it, short of a node: its ServiceAccount with the chart's RBAC
(applied for real), the environment of the chart's Deployment, the certificate the chart made. The
operator runs as its own process on this machine (a later real-node test runs the pod itself)."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.controlplane.build import KUBE_VERSION
from harness.controlplane.cluster import ControlPlane
from harness.install_manifests import CHART
from harness.operator_runner import OperatorProcess
from harness.server import free_port
from harness.tools.build import build as build_tool
from siteplane.store.migrate import upgrade
from tests.reconcile_support import wait_until

pytestmark = pytest.mark.cluster
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


class _ServiceConnection(http.client.HTTPSConnection):
    """HTTPS to a loopback port, checking the certificate against the Service's DNS name, as the
    apiserver does when it calls the webhook through the Service."""

    def __init__(self, port: int, service_name: str, context: ssl.SSLContext) -> None:
        super().__init__("127.0.0.1", port, context=context, timeout=30)
        self.service_name, self.tls = service_name, context

    def connect(self) -> None:
        self.sock = self.tls.wrap_socket(
            socket.create_connection((self.host, self.port), self.timeout), server_hostname=self.service_name
        )


@pytest.fixture
def chart_install(control_plane: ControlPlane, tmp_path: Path) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """The chart rendered into a fresh namespace under a release of its own; its RBAC applied."""
    namespace, release = f"t-{uuid.uuid4().hex[:10]}", f"sp-{uuid.uuid4().hex[:6]}"
    command = [str(build_tool("helm")), "template", release, str(CHART), "--namespace", namespace]
    command += [
        "--kube-version",
        KUBE_VERSION.lstrip("v"),
        "--set",
        "rbac.shippedRoles=false",
        "--set",
        "crds.install=false",
    ]
    command += ["--set", f"webhook.configurationName={release}.siteplane.io"]
    docs = [
        d for d in yaml.safe_load_all(subprocess.run(command, check=True, capture_output=True, text=True).stdout) if d
    ]
    control_plane.kubectl("create", "namespace", namespace)
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS]
    control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(rbac))
    try:
        yield namespace, release, docs
    finally:
        for doc in rbac:
            if doc["kind"].startswith("Cluster"):
                control_plane.kubectl("delete", doc["kind"], doc["metadata"]["name"], "--ignore-not-found", check=False)
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_the_operator_runs_with_the_charts_identity_settings_and_certificate(
    control_plane: ControlPlane, chart_install: tuple[str, str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    namespace, release, docs = chart_install
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-operator"))
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    secret = next(d for d in docs if d["kind"] == "Secret")
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"].endswith("-webhook"))

    # The pod's paths, on this machine: the data volume, the mounted certificate Secret.
    certs = tmp_path / "webhook"
    certs.mkdir()
    for key, value in secret["data"].items():
        (certs / key).write_bytes(base64.b64decode(value))
    database = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(database)  # what the init container (`siteplane db upgrade`) does
    assert pod["initContainers"][0]["args"] == ["db", "upgrade"]
    webhook_port, liveness_port = free_port(), free_port()
    env.update(
        SITEPLANE_DATABASE_URL=database,
        SITEPLANE_ZONE_DIR=str(tmp_path / "zones"),
        SITEPLANE_WEBHOOK_CERT_DIR=str(certs),
        SITEPLANE_WEBHOOK_LISTEN=f"127.0.0.1:{webhook_port}",
        SITEPLANE_LIVENESS=env["SITEPLANE_LIVENESS"].replace("0.0.0.0:8081", f"127.0.0.1:{liveness_port}"),
    )
    assert env["SITEPLANE_WEBHOOK_CONFIGURATION"] == ""
    kubeconfig = control_plane.service_account_kubeconfig(
        namespace, pod["serviceAccountName"], tmp_path / "operator.kubeconfig"
    )
    zone = {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "DNSZone",
        "metadata": {"name": "chart"},
        "spec": {"zoneName": f"{namespace}.example", "nameServers": ["ns1.example.net"]},
    }
    site = {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "Site",
        "metadata": {"name": "www"},
        "spec": {"primaryDomain": f"www.{namespace}.example", "serving": {"cname": "lb.example.net"}},
    }
    operator = OperatorProcess(kubeconfig, database, tmp_path / "zones", (namespace,), tmp_path / "operator.log", env)
    with operator:
        # kopf's liveness endpoint, which the chart's liveness and startup probes ask.
        def alive() -> bool:
            try:
                with urllib.request.urlopen(env["SITEPLANE_LIVENESS"], timeout=5) as answer:
                    return bool(answer.status == 200)
            except OSError:
                return False

        wait_until(alive, 120, "the liveness endpoint", operator.log)

        # With only the chart's RBAC, it reconciles.
        control_plane.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all([zone, site]))
        control_plane.kubectl("wait", "-n", namespace, "site/www", "--for=condition=Ready", "--timeout=120s")

        # The webhook serves the chart's certificate for the Service's name, at the paths of the
        # chart's webhook configuration, and refuses an escalation.
        tls = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        service_name = f"{service['metadata']['name']}.{namespace}.svc"
        configuration = next(d for d in docs if d["kind"] == "ValidatingWebhookConfiguration")
        path = next(w for w in configuration["webhooks"] if w["name"].startswith("accessgrants-"))["clientConfig"][
            "service"
        ]["path"]
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": str(uuid.uuid4()),
                "kind": {"group": "siteplane.io", "version": "v1alpha1", "kind": "AccessGrant"},
                "resource": {"group": "siteplane.io", "version": "v1alpha1", "resource": "accessgrants"},
                "namespace": namespace,
                "name": "carol-takes-dns",
                "operation": "CREATE",
                "userInfo": {"username": "carol", "groups": ["system:authenticated"]},
                "dryRun": True,
                "object": {
                    "apiVersion": "siteplane.io/v1alpha1",
                    "kind": "AccessGrant",
                    "metadata": {"name": "carol-takes-dns", "namespace": namespace, "uid": str(uuid.uuid4())},
                    "spec": {
                        "subjects": [{"kind": "User", "name": "carol"}],
                        "resources": ["dnszones", "dnsrecords"],
                        "access": "edit",
                    },
                },
            },
        }
        answers: list[dict[str, Any]] = []

        def answered() -> bool:
            connection = _ServiceConnection(webhook_port, service_name, tls)
            try:
                connection.request("POST", path, json.dumps(review), {"Content-Type": "application/json"})
                answer = json.loads(connection.getresponse().read())["response"]
            finally:
                connection.close()
            answers.append(answer)
            return answer.get("status", {}).get("code") != 503  # 503: still starting

        wait_until(answered, 120, "an admission answer", lambda: f"{answers[-1:]}\n{operator.log()}")
        assert answers[-1]["allowed"] is False
        assert "carol may not grant" in answers[-1]["status"]["message"]

        # It left the webhook configuration to the chart: it created none.
        absent = control_plane.kubectl("get", "validatingwebhookconfiguration", f"{release}.siteplane.io", check=False)
        assert absent.returncode != 0 and "NotFound" in absent.stderr
    assert "Traceback" not in operator.log()
