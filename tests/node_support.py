"""What the node tests share: the chart installed with helm on the node cluster, reaching Services
by their ClusterIP from the host (kube-proxy's OUTPUT chain), and reading objects' state."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.install_manifests import CHART
from harness.node.cluster import NodeCluster
from harness.tools.build import build as build_tool
from tests.reconcile_support import wait_until

RELEASE = "siteplane"
# One release name and namespace for every module: the CRDs a release kept on uninstall carry its
# name, and only a release of the same name and namespace may adopt them.
NAMESPACE = "siteplane-system"
OPERATOR = f"{RELEASE}-operator"
DASHBOARD = f"{RELEASE}-dashboard"
WEBHOOK_SERVICE = f"{RELEASE}-webhook"
METRICS_SERVICE = f"{RELEASE}-operator-metrics"
# The Containerfile's numeric user: a hostPath volume does not get the pod's fsGroup.
IMAGE_UID = 65532


def image_values(reference: str) -> dict[str, Any]:
    repository, tag = reference.rsplit(":", 1)
    # Never: the node has no registry to pull from; the image was imported into containerd.
    return {"image": {"repository": repository, "tag": tag, "pullPolicy": "Never"}}


@dataclass
class Release:
    """The chart installed in ``namespace`` of ``cluster``, by the helm binary built from Go modules."""

    cluster: NodeCluster
    namespace: str
    values_file: Path
    values: dict[str, Any] = field(default_factory=dict)

    def helm(self, *args: str, timeout: float = 600) -> str:
        cmd = [str(build_tool("helm")), f"--kubeconfig={self.cluster.kubeconfig}", "--kube-context=admin", *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"helm {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def install(self, values: dict[str, Any]) -> None:
        self.values = values
        self.values_file.write_text(yaml.safe_dump(values))
        self.helm(
            "install", RELEASE, str(CHART), "-n", self.namespace, "--create-namespace", "-f", str(self.values_file)
        )

    def upgrade(self, values: dict[str, Any]) -> None:
        self.values = values
        self.values_file.write_text(yaml.safe_dump(values))
        self.helm("upgrade", RELEASE, str(CHART), "-n", self.namespace, "-f", str(self.values_file))

    def uninstall(self) -> None:
        self.helm("uninstall", RELEASE, "-n", self.namespace, "--wait")

    def kubectl(self, *args: str, **kwargs: Any) -> str:
        return self.cluster.kubectl("-n", self.namespace, *args, **kwargs).stdout

    def get(self, *what: str) -> dict[str, Any]:
        return dict(json.loads(self.kubectl("get", *what, "-o", "json")))

    def rollout(self, deployment: str, timeout: float = 300) -> float:
        """Wait until the Deployment's rollout completes (every replica updated and Ready); its duration."""
        started = time.monotonic()
        self.kubectl(
            "rollout", "status", f"deployment/{deployment}", f"--timeout={int(timeout)}s", timeout=timeout + 30
        )
        return time.monotonic() - started

    def pods(self, component: str) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}"
        return list(self.get("pods", "-l", selector)["items"])

    def cluster_ip(self, service: str) -> str:
        return str(self.get("service", service)["spec"]["clusterIP"])

    def wait_routed(self, service: str, timeout: float = 60) -> None:
        """Until the Service's ClusterIP takes connections on its first port: a finished rollout is
        not yet a routed Service (the EndpointSlice, then kube-proxy's next sync; until then its
        rules refuse)."""
        spec = self.get("service", service)["spec"]
        address, port = spec["clusterIP"], int(spec["ports"][0]["port"])

        def connects() -> bool:
            try:
                socket.create_connection((address, port), timeout=2).close()
            except OSError:
                return False
            return True

        wait_until(connects, timeout, f"{service} routed at {address}:{port}", self.describe)

    def describe(self) -> str:
        """Pods, events and the operator's log: what a failed wait shows."""
        pods = self.kubectl("get", "pods", "-o", "wide", check=False)
        events = self.kubectl("get", "events", "--sort-by=.lastTimestamp", check=False)
        logs = self.kubectl("logs", f"deployment/{OPERATOR}", "--tail=40", "--all-containers", check=False)
        return f"{pods}\n{events[-3000:]}\n{logs[-4000:]}"


def http_get(url: str, token: str | None = None, timeout: float = 10) -> tuple[int, str]:
    """(status, body) of a GET; (0, reason) when nothing answers."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=ssl.create_default_context()) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


def condition(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any]:
    for item in obj.get("status", {}).get("conditions", []):
        if item.get("type") == kind:
            return dict(item)
    return {}


def wait_ready(release: Release, namespace: str, plural: str, name: str, timeout: float = 120) -> dict[str, Any]:
    """Wait until the object's Ready condition is True; the object then."""
    seen: dict[str, Any] = {}

    def ready() -> bool:
        seen.update(json.loads(release.cluster.kubectl("get", plural, name, "-n", namespace, "-o", "json").stdout))
        return condition(seen).get("status") == "True"

    wait_until(ready, timeout, f"{plural}/{name} Ready", lambda: f"{condition(seen)}\n{release.describe()}")
    return seen


TENANT = "team-a"
# The tenant's people, bound to the shipped roles: alice edits sites, bob DNS zones, carol manages
# access (holding nothing else, so any grant of hers escalates).
TENANT_BINDINGS = (
    ("site-team", "siteplane:site-editor", "site-team"),
    ("dns-team", "siteplane:dns-editor", "dns-team"),
    ("access-managers", "siteplane:access-manager", "access-managers"),
)


def ensure_tenant(cluster: NodeCluster) -> None:
    """The tenant namespace and its people's RoleBindings, whether or not another module made them."""
    docs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TENANT}}]
    for name, role, group in TENANT_BINDINGS:
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": TENANT},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
            }
        )
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))


def escalating_grant(name: str) -> dict[str, Any]:
    """An AccessGrant carol may not make: she would grant herself what she does not hold."""
    return {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "AccessGrant",
        "metadata": {"name": name},
        "spec": {"subjects": [{"kind": "User", "name": "carol"}], "resources": ["sites"], "access": "view"},
    }


WEBHOOK_REFUSAL = 'admission webhook "accessgrants-no-escalation.siteplane.io" denied the request'
