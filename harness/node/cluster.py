"""A control plane with a real node: containerd, kubelet and kube-proxy on this machine, plus the
kube-scheduler and the controllers that pods and Deployments need.

It is the test control plane (``harness.controlplane.cluster``) with other flags, never a change
to it: the apiserver listens on every address and advertises the host's (a pod's 127.0.0.1 is the
pod), authorizes with Node,RBAC, and reaches the kubelet with a client certificate; the
controller-manager runs the Deployment, ReplicaSet, EndpointSlice, root-CA publisher,
node-lifecycle, PersistentVolume and disruption controllers too. The siteplane CRDs are not
installed here: the chart under test installs them.

Root only (containerd, runc, iptables, mounts), one per machine (``host.machine_lock``), and the
host is left as found (``host.HostState``). containerd's root lives in the cache, so an image
imported once is there for the next session. Started by the node tests' session fixture, or by
hand: ``python -m harness.node.cluster`` (Ctrl-C stops it and cleans up).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import yaml

from harness.controlplane.cluster import USERS, ControlPlane, TestUser
from harness.controlplane.pki import write_pki
from harness.node import configs, host
from harness.node.images import node_cache_dir, pause_image
from harness.server import ADDRESS, InWorkdir, temporary_workdir

NODE_NAME = "siteplane-node"
BRIDGE = "siteplane0"
KUBERNETES_SERVICE_IP = "10.96.0.1"  # the first address of --service-cluster-ip-range
LOCK_TIMEOUT = 600.0
# Pods still running when the node stops: how long the kubelet gets to tear their sandboxes down.
DRAIN_TIMEOUT = 90.0


def containerd_root() -> Path:
    """containerd's content and snapshots, kept between sessions (imports become no-ops)."""
    return node_cache_dir() / "containerd"


@dataclass
class NodeCluster(ControlPlane):
    """A control plane and one real node, ``siteplane-node``, with containerd's images kept in the cache."""

    crd_dir: Path | None = None
    host_ip: str = field(default_factory=host.host_address)
    proxy_healthz_port: int = 0
    proxy_metrics_port: int = 0
    _host_state: host.HostState | None = field(default=None, init=False, repr=False)
    _lock: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, init=False, repr=False)

    port_fields: ClassVar[tuple[str, ...]] = (
        "etcd_port",
        "etcd_peer_port",
        "api_port",
        "proxy_healthz_port",
        "proxy_metrics_port",
    )
    users: ClassVar[tuple[TestUser, ...]] = (
        *USERS,
        TestUser("system:kube-scheduler", (), "the scheduler (bound by the default RBAC)"),
        TestUser("system:kube-proxy", (), "kube-proxy (bound by the default RBAC)"),
        TestUser(f"system:node:{NODE_NAME}", ("system:nodes",), "the kubelet (Node authorizer)"),
    )
    label = "node cluster"
    workdir_prefix = "siteplane-node-"
    start_timeout = 180.0

    containerd_socket = InWorkdir("containerd.sock")
    containerd_state = InWorkdir("containerd-state")
    cni_conf_dir = InWorkdir("cni")
    kubelet_root = InWorkdir("kubelet")

    def how_to_connect(self) -> list[str]:
        return [*super().how_to_connect(), f"node {NODE_NAME} at {self.host_ip}; containerd: {self.containerd_socket}"]

    @classmethod
    @contextlib.contextmanager
    def for_developer(cls) -> Iterator[NodeCluster]:
        with temporary_workdir(cls.workdir_prefix) as workdir, cls(workdir=workdir) as cluster:
            yield cluster

    # -- start -------------------------------------------------------------------------------

    def _prepare(self) -> None:
        if os.geteuid() != 0:
            raise RuntimeError(
                "a real node needs root (containerd, runc, iptables, mounts): run the node tests as root"
            )
        if self._host_state is None:
            self._lock.enter_context(host.machine_lock(LOCK_TIMEOUT))
            self._host_state = host.HostState.save()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pki_dir.mkdir(exist_ok=True)
        if not self.ca_file.exists():
            hosts = [ADDRESS, self.host_ip, KUBERNETES_SERVICE_IP, "localhost"]
            hosts += [
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ]
            write_pki(
                self.pki_dir, hosts, clients=[("kubelet-client", "kube-apiserver-kubelet-client", "system:masters")]
            )
        super()._prepare()

    def _apiserver_args(self) -> list[str]:
        replaced = {
            "--bind-address": "0.0.0.0",
            "--advertise-address": self.host_ip,  # the `kubernetes` Service's endpoint, as pods see it
            "--authorization-mode": "Node,RBAC",
        }
        args = [
            f"{name}={replaced[name]}" if name in replaced else arg
            for arg in super()._apiserver_args()
            for name in [arg.split("=", 1)[0]]
        ]
        return [
            *args,
            "--enable-admission-plugins=NodeRestriction",
            f"--kubelet-client-certificate={self.pki_dir / 'kubelet-client.crt'}",
            f"--kubelet-client-key={self.pki_dir / 'kubelet-client.key'}",
            # The node's name resolves nowhere: logs and exec go to its address.
            "--kubelet-preferred-address-types=InternalIP,Hostname",
        ]

    def _controller_manager_args(self) -> list[str]:
        args = [arg for arg in super()._controller_manager_args() if not arg.startswith("--controllers=")]
        controllers = [
            "namespace-controller",
            "garbage-collector-controller",
            "serviceaccount-controller",
            "clusterrole-aggregation-controller",
            "deployment-controller",
            "replicaset-controller",
            "endpoints-controller",
            "endpointslice-controller",
            "endpointslice-mirroring-controller",
            # kube-root-ca.crt in every namespace: without it no ServiceAccount token volume mounts.
            "root-ca-certificate-publisher-controller",
            # Lifts the not-ready taint every new Node gets, once the kubelet reports Ready.
            "node-lifecycle-controller",
            "persistentvolume-binder-controller",
            "disruption-controller",
        ]
        return [*args, f"--controllers={','.join(controllers)}", f"--root-ca-file={self.ca_file}"]

    def _launch(self) -> None:
        super()._launch()
        self._write_node_kubeconfigs()
        self._spawn_component(
            "kube-scheduler",
            [f"--kubeconfig={self.workdir / 'scheduler.kubeconfig'}", "--leader-elect=false", "--secure-port=0"],
        )
        self._start_containerd()
        self.import_image(*pause_image())
        self._start_kubelet()
        self._start_kube_proxy()
        self._wait_until(self.node_ready)

    def _write_node_kubeconfigs(self) -> None:
        for stem, user in (
            ("scheduler", "system:kube-scheduler"),
            ("kube-proxy", "system:kube-proxy"),
            ("kubelet", f"system:node:{NODE_NAME}"),
        ):
            path = self.workdir / f"{stem}.kubeconfig"
            path.write_text(yaml.safe_dump(self._kubeconfig([user], user), sort_keys=False))
            path.chmod(0o600)

    def _start_containerd(self) -> None:
        root = containerd_root()
        root.mkdir(parents=True, exist_ok=True)
        self.containerd_state.mkdir(exist_ok=True)
        self.cni_conf_dir.mkdir(exist_ok=True)
        config = self.workdir / "containerd.toml"
        _, pause = pause_image()
        config.write_text(
            configs.containerd_toml(root, self.containerd_state, self.containerd_socket, pause, self.cni_conf_dir)
        )
        (self.cni_conf_dir / "10-siteplane.conflist").write_text(
            json.dumps(configs.cni_conflist(BRIDGE, self.workdir / "cni-ipam"), indent=2)
        )
        self._spawn("containerd", ["containerd", f"--config={config}"])
        self._wait_until(lambda: self.ctr("version", check=False).returncode == 0)

    def _start_kubelet(self) -> None:
        config = self.workdir / "kubelet.yaml"
        pod_logs = self.workdir / "pod-logs"
        pod_logs.mkdir(exist_ok=True)
        config.write_text(yaml.safe_dump(configs.kubelet_config(self.containerd_socket, self.ca_file, pod_logs)))
        self._spawn_component(
            "kubelet",
            [
                f"--config={config}",
                f"--kubeconfig={self.workdir / 'kubelet.kubeconfig'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={self.host_ip}",
                f"--root-dir={self.kubelet_root}",
                f"--cert-dir={self.workdir / 'kubelet-pki'}",
                "--v=1",
            ],
        )

    def _start_kube_proxy(self) -> None:
        config = self.workdir / "kube-proxy.yaml"
        config.write_text(
            yaml.safe_dump(
                configs.kube_proxy_config(
                    NODE_NAME, self.workdir / "kube-proxy.kubeconfig", self.proxy_healthz_port, self.proxy_metrics_port
                )
            )
        )
        self._spawn_component("kube-proxy", [f"--config={config}"])

    # -- what tests use ----------------------------------------------------------------------

    def node_ready(self) -> bool:
        ready = '{.status.conditions[?(@.type=="Ready")].status}'
        result = self.kubectl("get", "node", NODE_NAME, "-o", f"jsonpath={ready}", check=False)
        return result.stdout.strip() == "True"

    def ctr(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``ctr`` against this node's containerd, in the namespace the kubelet's pods live in."""
        cmd = ["ctr", f"--address={self.containerd_socket}", "--namespace=k8s.io", *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def import_image(self, archive: Path, reference: str) -> None:
        """Import a docker-archive unless containerd already has ``reference`` (kept between sessions)."""
        if reference in self.ctr("images", "ls", "--quiet").stdout.split():
            return
        started = time.monotonic()
        self.ctr("images", "import", str(archive))
        print(f"node: imported {reference} in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)

    # -- stop --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Drain the node, stop everything, and put the host back as it was. Idempotent."""
        started = time.monotonic()
        try:
            if self._running("kubelet"):
                self._drain()
            for name in ("kube-proxy", "kubelet"):
                child = self._children.pop(name, None)
                if child is not None and child.running:
                    self._stop_child(child)
            if self._host_state is not None and (self.bin_dir / "kube-proxy").exists():
                subprocess.run([str(self.bin_dir / "kube-proxy"), "--cleanup"], capture_output=True, check=False)
            if self._running("containerd"):
                self._remove_containers()
            super().stop()
        finally:
            if self._host_state is not None:
                problems = self._host_state.restore(self.workdir, BRIDGE)
                problems += self._unmount_containerd()
                self._host_state = None
                for problem in problems:
                    print(f"node teardown: {problem}", file=sys.stderr, flush=True)
                print(f"node: stopped and the host restored in {time.monotonic() - started:.1f}s", file=sys.stderr)
            self._lock.close()

    def _drain(self) -> None:
        """Delete every pod (nothing may recreate them) and wait for the kubelet to tear them down:
        it stops their sandboxes, which removes their network namespaces and veths through CNI."""
        for name in ("kube-scheduler", "kube-controller-manager"):
            child = self._children.pop(name, None)
            if child is not None and child.running:
                self._stop_child(child)
        self.kubectl("delete", "pods", "-A", "--all", "--force", "--grace-period=0", "--wait=false", check=False)
        # A pod already terminating keeps its grace period (30 s, and a preStop sleep) whatever the
        # forced delete says: kill the workloads' processes now. Only theirs: the sandboxes stay
        # for the kubelet to stop, which is what tears their network down through CNI.
        _, pause = pause_image()
        for line in self.ctr("containers", "ls", check=False).stdout.splitlines()[1:]:
            container, image = [*line.split(), "", ""][:2]
            if image != pause:
                self.ctr("tasks", "kill", "--signal=SIGKILL", container, check=False)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self.ctr("tasks", "ls", "--quiet", check=False).stdout.strip() and time.monotonic() < deadline:
            time.sleep(0.5)

    def _remove_containers(self) -> None:
        """Whatever the kubelet left: its tasks killed, its containers (and their snapshots) removed."""
        for task in self.ctr("tasks", "ls", "--quiet", check=False).stdout.split():
            self.ctr("tasks", "kill", "--signal=SIGKILL", task, check=False)
            self.ctr("tasks", "rm", "--force", task, check=False)
        containers = self.ctr("containers", "ls", "--quiet", check=False).stdout.split()
        if containers:
            self.ctr("containers", "rm", *containers, check=False)

    def _unmount_containerd(self) -> list[str]:
        problems: list[str] = []
        host.unmount_under([containerd_root()], problems)
        return problems


@contextlib.contextmanager
def running_node() -> Iterator[NodeCluster]:
    """A node cluster in a fresh working directory; always stopped, the host cleaned, the directory removed."""
    with temporary_workdir(NodeCluster.workdir_prefix) as workdir, NodeCluster(workdir=workdir) as cluster:
        yield cluster


if __name__ == "__main__":
    sys.exit(NodeCluster.main())
