"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager.

Used by the pytest session fixture, by ``make cluster`` (``python -m harness.controlplane.cluster``),
by ``make demo`` and by the benchmark. Everything listens on free 127.0.0.1 ports and keeps its
state in one working directory; start, stop, readiness, logs and dying with the process that
started it work as for every server here (``harness.server``).

etcd and kube-apiserver can also be killed (SIGKILL, as a crash would) and restarted one at a time
on the same ports with the same data and certificates, so tests can check that the operator
converges through a control plane that goes away mid-burst.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Self

import yaml

from harness.controlplane import build
from harness.controlplane.pki import pki_paths, write_pki
from harness.paths import CRD_DIR
from harness.server import ADDRESS, PROBE_TIMEOUT, InWorkdir, Server, temporary_workdir

# The processes of the control plane, in the order they start.
Component = Literal["etcd", "kube-apiserver", "kube-controller-manager"]


@dataclass(frozen=True)
class TestUser:
    """A user known to the apiserver's static token file."""

    name: str
    groups: tuple[str, ...]
    description: str


# The users later tests act as. Group names mirror how a hosting company splits its staff.
USERS: tuple[TestUser, ...] = (
    TestUser("admin", ("system:masters",), "cluster administrator"),
    TestUser("alice", ("site-team",), "site person in team-a"),
    TestUser("bob", ("dns-team",), "DNS person in team-a"),
    TestUser("carol", ("access-managers",), "manages access grants in team-a"),
    TestUser("dave", ("tenant-b",), "member of another tenant"),
    TestUser("erin", (), "authenticated, in no group"),
    TestUser("frank", ("site-team", "dns-team"), "in both the site and the DNS team"),
    # The controller-manager runs with full rights: in this harness it exists only so that
    # namespaces really delete and ownerReferences are really collected.
    TestUser("system:kube-controller-manager", ("system:masters",), "the test controller-manager"),
)


@dataclass
class ControlPlane(Server):
    """etcd, kube-apiserver and kube-controller-manager, with siteplane's CRDs installed (``crd_dir``)."""

    crd_dir: Path | None = CRD_DIR
    bin_dir: Path = field(default_factory=build.bin_dir)
    tokens: dict[str, str] = field(default_factory=dict)
    etcd_port: int = 0
    etcd_peer_port: int = 0
    api_port: int = 0

    port_fields: ClassVar[tuple[str, ...]] = ("etcd_port", "etcd_peer_port", "api_port")
    users: ClassVar[tuple[TestUser, ...]] = USERS  # the static token file's users
    label = "control plane"
    workdir_prefix = "siteplane-cp-"
    start_timeout = 120.0
    poll_interval = 0.25

    kubeconfig = InWorkdir("kubeconfig")
    pki_dir = InWorkdir("pki")
    etcd_data_dir = InWorkdir("etcd")

    @property
    def server(self) -> str:
        return f"https://{ADDRESS}:{self.api_port}"

    @property
    def etcd_url(self) -> str:
        return f"http://{ADDRESS}:{self.etcd_port}"

    @property
    def ca_file(self) -> Path:
        return pki_paths(self.pki_dir)["ca"]

    def token(self, user: str) -> str:
        return self.tokens[user]

    def pid(self, component: Component) -> int:
        """The process id of ``component``'s current run (a restart changes it)."""
        return self._children[component].pid

    def how_to_connect(self) -> list[str]:
        return [
            f"API server: {self.server}",
            f"users (contexts): {', '.join(u.name for u in self.users if not u.name.startswith('system:'))}",
            f"export KUBECONFIG={self.kubeconfig}",
        ]

    @classmethod
    @contextlib.contextmanager
    def for_developer(cls) -> Iterator[Self]:
        """``make cluster``: a fresh control plane in $SITEPLANE_CLUSTER_DIR (/tmp/siteplane-cluster)."""
        workdir = Path(os.environ.get("SITEPLANE_CLUSTER_DIR", "/tmp/siteplane-cluster"))
        shutil.rmtree(workdir, ignore_errors=True)  # a fresh etcd each time: no stale objects or tokens
        workdir.mkdir(parents=True)
        with cls(workdir=workdir) as plane:
            yield plane

    # -- one component at a time -------------------------------------------------------------

    def kill(self, component: Component) -> None:
        """SIGKILL ``component``, as a crash would end it, and return once it is gone.

        Nothing else is touched: the other components keep running (kube-apiserver without etcd
        answers with errors; clients without kube-apiserver get connection refused), and the
        component's ports, data directory and certificates stay for ``restart``.
        """
        self._children[component].kill()

    def restart(self, component: Component) -> None:
        """Start ``component`` again (SIGKILLing it first if it still runs) and wait until it serves.

        It comes back exactly as it first started: the same arguments, so the same ports, etcd
        data directory, certificates and tokens, and every client configured before finds it again.
        Returns once etcd answers /health (if etcd runs) and kube-apiserver answers /readyz (if it
        runs), which needs etcd: restart etcd before kube-apiserver when both are down.
        """
        old = self._children[component]
        old.kill()
        self._children[component] = child = old.respawn()
        self._wait_until(self._serving, watch=[child])

    # -- the server --------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Build missing binaries, create the PKI and the users' tokens: first start only, restarts keep them."""
        if self.bin_dir == build.bin_dir():
            build.build()  # nothing to do when the binaries are cached
        super()._prepare()
        self.pki_dir.mkdir(exist_ok=True)
        if not self.ca_file.exists():
            write_pki(self.pki_dir, [ADDRESS, "localhost", "kubernetes.default.svc"])
        if not self.tokens:
            self._write_tokens()

    def _choose_ports(self) -> None:
        super()._choose_ports()
        # An etcd member remembers the peer URL it was created with: new ports need a new member.
        # Only a first start chooses ports, so there is nothing in it yet.
        shutil.rmtree(self.etcd_data_dir, ignore_errors=True)

    def _launch(self) -> None:
        self._start_etcd()
        self._start_apiserver()
        # Both must run: _serving skips a component that does not run (for restarts), so a
        # kube-apiserver that exits on a taken port while etcd is probed would look done. Asked after
        # the probe: a process that ran when _serving looked was probed, and dead ones stay dead.
        self._wait_until(lambda: self._serving() and self._running("etcd") and self._running("kube-apiserver"))
        self._write_kubeconfigs()
        self._start_controller_manager()
        if self.crd_dir is not None:
            self.install_crds(self.crd_dir)

    def _spawn_component(self, component: str, args: Sequence[str]) -> None:
        self._spawn(component, [str(self.bin_dir / component), *args])

    def _start_etcd(self) -> None:
        peer_url = f"http://{ADDRESS}:{self.etcd_peer_port}"
        self._spawn_component(
            "etcd",
            [
                "--name=siteplane-test",
                f"--data-dir={self.etcd_data_dir}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=siteplane-test={peer_url}",
                "--unsafe-no-fsync",  # a throwaway test store: durability would only cost time
                "--quota-backend-bytes=8589934592",  # benchmarks create tens of thousands of objects
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self) -> None:
        self._spawn_component("kube-apiserver", self._apiserver_args())

    def _apiserver_args(self) -> list[str]:
        pki = pki_paths(self.pki_dir)
        return [
            f"--etcd-servers={self.etcd_url}",
            f"--bind-address={ADDRESS}",
            f"--advertise-address={ADDRESS}",
            f"--secure-port={self.api_port}",
            f"--cert-dir={self.pki_dir}",
            f"--tls-cert-file={pki['serving_cert']}",
            f"--tls-private-key-file={pki['serving_key']}",
            f"--client-ca-file={pki['ca']}",
            f"--token-auth-file={self.workdir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki['sa_pub']}",
            f"--service-account-signing-key-file={pki['sa_key']}",
            "--service-cluster-ip-range=10.96.0.0/24",
            "--profiling=false",
        ]

    def _start_controller_manager(self) -> None:
        self._spawn_component("kube-controller-manager", self._controller_manager_args())

    def _controller_manager_args(self) -> list[str]:
        return [
            f"--kubeconfig={self.workdir / 'controller-manager.kubeconfig'}",
            # Only what the tests rely on: namespaces that really delete, ownerReferences that are
            # really collected, the default ServiceAccount in every namespace, and aggregated
            # ClusterRoles (siteplane's viewers really become part of `view`).
            "--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,"
            "clusterrole-aggregation-controller",
            "--leader-elect=false",
            "--secure-port=0",
            "--use-service-account-credentials=false",
        ]

    # -- readiness ---------------------------------------------------------------------------

    def _running(self, component: str) -> bool:
        child = self._children.get(component)
        return child is not None and child.running

    def _serving(self) -> bool:
        """etcd's /health says healthy and kube-apiserver's /readyz says 200, for those that run.

        The controller-manager serves nothing (--secure-port=0): that it runs is all there is.
        """
        if self._running("etcd"):
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=PROBE_TIMEOUT) as response:
                if json.loads(response.read()).get("health") != "true":
                    return False
        if self._running("kube-apiserver"):
            context = ssl.create_default_context(cafile=str(self.ca_file))
            request = urllib.request.Request(
                f"{self.server}/readyz", headers={"Authorization": f"Bearer {self.tokens['admin']}"}
            )
            with urllib.request.urlopen(request, context=context, timeout=PROBE_TIMEOUT) as response:
                return bool(response.status == 200)
        return True

    # -- configuration files -----------------------------------------------------------------

    def _write_tokens(self) -> None:
        lines = []
        for uid, user in enumerate(self.users, start=1):
            token = self.tokens[user.name] = secrets.token_urlsafe(24)
            groups = ",".join(user.groups)
            lines.append(f'{token},{user.name},{uid},"{groups}"' if groups else f"{token},{user.name},{uid}")
        path = self.workdir / "tokens.csv"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)

    def _kubeconfig(self, users: Sequence[str], current: str) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "siteplane-test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": u, "user": {"token": self.tokens[u]}} for u in users],
            "contexts": [{"name": u, "context": {"cluster": "siteplane-test", "user": u}} for u in users],
            "current-context": current,
        }

    def _write_kubeconfigs(self) -> None:
        people = [u.name for u in self.users if not u.name.startswith("system:")]
        for path, content in (
            (self.kubeconfig, self._kubeconfig(people, "admin")),
            (
                self.workdir / "controller-manager.kubeconfig",
                self._kubeconfig(["system:kube-controller-manager"], "system:kube-controller-manager"),
            ),
        ):
            path.write_text(yaml.safe_dump(content, sort_keys=False))
            path.chmod(0o600)

    # -- conveniences ------------------------------------------------------------------------

    def kubectl(
        self, *args: str, user: str = "admin", stdin: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["kubectl", f"--kubeconfig={self.kubeconfig}", f"--context={user}", *args]
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[3:])} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path) -> Path:
        """A kubeconfig that acts as a ServiceAccount, with a token from the TokenRequest API."""
        token = self.kubectl("create", "token", name, "-n", namespace, "--duration=2h").stdout.strip()
        self.tokens[f"system:serviceaccount:{namespace}:{name}"] = token
        user = f"system:serviceaccount:{namespace}:{name}"
        content = self._kubeconfig([user], user)
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        path.chmod(0o600)
        return path

    def install_crds(self, directory: Path) -> None:
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(directory))
        self.kubectl(
            "wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=siteplane", "--timeout=60s"
        )
        # Established is not yet servable: until its watch cache has initialised, a new resource
        # answers 429 "storage is (re)initializing". Wait for every one to list cleanly.
        resources = ",".join(
            f"{doc['spec']['names']['plural']}.{doc['spec']['group']}"
            for path in sorted(directory.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"
        )
        deadline = time.monotonic() + 60
        while self.kubectl("get", resources, "-A", "--request-timeout=5s", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRDs in {directory} established but not servable after 60s")
            time.sleep(0.2)


@contextlib.contextmanager
def running(workdir: Path | None = None, crd_dir: Path | None = CRD_DIR) -> Iterator[ControlPlane]:
    """Start a control plane (building the binaries if needed), and always stop it.

    Without ``workdir``, in a fresh temporary one, removed afterwards.
    """
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(temporary_workdir(ControlPlane.workdir_prefix))
        yield stack.enter_context(ControlPlane(workdir=workdir, crd_dir=crd_dir))


if __name__ == "__main__":
    sys.exit(ControlPlane.main())
