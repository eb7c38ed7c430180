"""The test control plane is a real one: identities, RBAC, namespace deletion, garbage collection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.controlplane import build
from harness.controlplane.cluster import USERS, ControlPlane, running

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]


def test_server_reports_the_pinned_version(control_plane: ControlPlane) -> None:
    version = json.loads(control_plane.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert version["gitVersion"] == build.KUBE_VERSION
    assert version["minor"] == build.KUBE_VERSION.split(".")[1]


@pytest.mark.parametrize("user", [u for u in USERS if not u.name.startswith("system:")], ids=lambda u: u.name)
def test_each_test_user_authenticates_with_its_groups(control_plane: ControlPlane, user: object) -> None:
    name, groups = user.name, user.groups  # type: ignore[attr-defined]
    review = json.loads(control_plane.kubectl("auth", "whoami", "-o", "json", user=name).stdout)
    assert review["status"]["userInfo"]["username"] == name
    assert set(groups) | {"system:authenticated"} == set(review["status"]["userInfo"]["groups"])


def test_rbac_is_enforced(control_plane: ControlPlane, namespace: str) -> None:
    def can(user: str, *args: str) -> bool:
        return control_plane.kubectl("auth", "can-i", *args, "-n", namespace, user=user, check=False).returncode == 0

    assert can("admin", "delete", "sites.siteplane.io")
    assert not can("alice", "list", "sites.siteplane.io")
    denied = control_plane.kubectl("get", "sites", "-n", namespace, user="alice", check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


def test_namespaces_really_delete(control_plane: ControlPlane) -> None:
    control_plane.kubectl("create", "namespace", "doomed")
    control_plane.kubectl("create", "configmap", "c", "-n", "doomed", "--from-literal=a=b")
    control_plane.kubectl("delete", "namespace", "doomed", "--timeout=90s")
    assert control_plane.kubectl("get", "namespace", "doomed", check=False).returncode != 0


def test_owner_references_are_garbage_collected(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.kubectl("create", "configmap", "owner", "-n", namespace)
    uid = control_plane.kubectl("get", "configmap", "owner", "-n", namespace, "-o", "jsonpath={.metadata.uid}").stdout
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dependent",
            "namespace": namespace,
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}],
        },
    }
    control_plane.kubectl("apply", "-f", "-", stdin=json.dumps(dependent))
    control_plane.kubectl("delete", "configmap", "owner", "-n", namespace)
    control_plane.kubectl("wait", "--for=delete", "configmap/dependent", "-n", namespace, "--timeout=60s")


def test_new_namespaces_get_a_default_service_account(control_plane: ControlPlane, namespace: str) -> None:
    deadline = time.monotonic() + 30
    while control_plane.kubectl("get", "serviceaccount", "default", "-n", namespace, check=False).returncode:
        assert time.monotonic() < deadline, "serviceaccount controller did not create 'default'"
        time.sleep(0.5)


def _pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        with open(f"/proc/{pid}/stat") as stat:  # a zombie is already dead
            if stat.read().split(")")[-1].split()[0] != "Z":
                alive.append(pid)
    return alive


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_make_cluster_prints_kubeconfig_and_leaves_no_process_behind(tmp_path: Path, how: signal.Signals) -> None:
    """`make cluster` (this module run directly) whether stopped politely or killed outright."""
    env = {**os.environ, "SITEPLANE_CLUSTER_DIR": str(tmp_path / "cluster"), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.controlplane.cluster"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        export = ""
        for line in proc.stdout:
            if line.startswith("export KUBECONFIG="):
                export = line.strip()
                break
        assert export == f"export KUBECONFIG={tmp_path / 'cluster' / 'kubeconfig'}"
        servers = _children_of(proc.pid)
        assert len(servers) == 3
        kubeconfig = export.split("=", 1)[1]
        subprocess.run(
            ["kubectl", f"--kubeconfig={kubeconfig}", "get", "crd", "sites.siteplane.io"],
            check=True,
            capture_output=True,
        )
        proc.send_signal(how)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while _pids_alive(servers):
            assert time.monotonic() < deadline, f"left behind: {_pids_alive(servers)}"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_killed_apiserver_and_etcd_restart_on_their_ports_with_their_data(tmp_path: Path) -> None:
    """What a crash mid-burst looks like: each SIGKILLed, then back where clients expect it, nothing lost."""
    # A control plane of its own: the session's must not go down under other tests.
    with running(tmp_path / "cluster", crd_dir=None) as plane:
        plane.kubectl("create", "namespace", "before-the-kills")
        ports = plane.ports

        apiserver = plane.pid("kube-apiserver")
        plane.kill("kube-apiserver")
        assert _pids_alive([apiserver]) == [] and not plane.running
        refused = plane.kubectl("get", "namespace", "before-the-kills", "--request-timeout=5s", check=False)
        assert refused.returncode != 0
        plane.restart("kube-apiserver")
        assert plane.pid("kube-apiserver") != apiserver

        etcd = plane.pid("etcd")
        plane.kill("etcd")
        assert _pids_alive([etcd]) == [] and not plane.running
        plane.restart("etcd")
        assert plane.pid("etcd") != etcd

        # Both down at once: etcd first, as kube-apiserver's readiness needs it.
        plane.kill("kube-apiserver")
        plane.kill("etcd")
        plane.restart("etcd")
        plane.restart("kube-apiserver")

        assert plane.running and plane.ports == ports
        # The same kubeconfig (server, CA, token) reads what was written before and writes again.
        plane.kubectl("get", "namespace", "before-the-kills")
        plane.kubectl("create", "namespace", "after-the-kills")
        assert plane.kubectl("get", "namespace", "after-the-kills", "-o", "name").stdout.strip() == (
            "namespace/after-the-kills"
        )
