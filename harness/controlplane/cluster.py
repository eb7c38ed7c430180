"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager.

Used by the pytest session fixture, by ``make cluster`` (``python -m harness.controlplane.cluster``)
and by ``make demo``. Everything listens on free 127.0.0.1 ports, keeps its state in one working
directory, and is torn down on stop, on interpreter exit and (through PR_SET_PDEATHSIG) even when
the process that started it is killed outright.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.controlplane import build
from harness.controlplane.pki import write_pki
from harness.paths import CRD_DIR
from harness.processes import die_with_parent


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ControlPlane:
    workdir: Path
    crd_dir: Path | None = CRD_DIR
    bin_dir: Path = field(default_factory=build.bin_dir)
    tokens: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api_port: int = 0
    startup_seconds: float = 0.0

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "pki" / "ca.crt"

    def token(self, user: str) -> str:
        return self.tokens[user]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        started = time.monotonic()
        atexit.register(self.stop)
        pki_dir = self.workdir / "pki"
        pki_dir.mkdir(parents=True, exist_ok=True)
        pki = write_pki(pki_dir, ["127.0.0.1", "localhost", "kubernetes.default.svc"])
        self._write_tokens()
        self._start_etcd()
        self._start_apiserver(pki)
        self._wait_ready()
        self._write_kubeconfigs()
        self._start_controller_manager()
        if self.crd_dir is not None:
            self.install_crds(self.crd_dir)
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop every process, newest first; SIGKILL whatever ignores SIGTERM for 15 s."""
        for name in reversed(list(self.processes)):
            proc = self.processes.pop(name)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values()]

    # -- processes ---------------------------------------------------------------------------

    def _spawn(self, name: str, args: Sequence[str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            [str(self.bin_dir / name), *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        self.processes[name] = proc

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        self._spawn(
            "etcd",
            [
                "--name=siteplane-test",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=siteplane-test=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync",  # a throwaway test store: durability would only cost time
                "--quota-backend-bytes=8589934592",  # benchmarks create tens of thousands of objects
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self, pki: dict[str, Path]) -> None:
        self.api_port = free_port()
        self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--cert-dir={self.workdir / 'pki'}",
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
            ],
        )

    def _start_controller_manager(self) -> None:
        self._spawn(
            "kube-controller-manager",
            [
                f"--kubeconfig={self.workdir / 'controller-manager.kubeconfig'}",
                # Only what the tests rely on: namespaces that really delete, ownerReferences that are
                # really collected, the default ServiceAccount in every namespace, and aggregated
                # ClusterRoles (siteplane's viewers really become part of `view`).
                "--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,"
                "clusterrole-aggregation-controller",
                "--leader-elect=false",
                "--secure-port=0",
                "--use-service-account-credentials=false",
            ],
        )

    # -- configuration files -----------------------------------------------------------------

    def _write_tokens(self) -> None:
        lines = []
        for uid, user in enumerate(USERS, start=1):
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
        people = [u.name for u in USERS if not u.name.startswith("system:")]
        for path, content in (
            (self.kubeconfig, self._kubeconfig(people, "admin")),
            (
                self.workdir / "controller-manager.kubeconfig",
                self._kubeconfig(["system:kube-controller-manager"], "system:kube-controller-manager"),
            ),
        ):
            path.write_text(yaml.safe_dump(content, sort_keys=False))
            path.chmod(0o600)

    # -- readiness ---------------------------------------------------------------------------

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def _wait_ready(self, timeout: float = 120.0) -> None:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        request = urllib.request.Request(
            f"{self.server}/readyz", headers={"Authorization": f"Bearer {self.tokens['admin']}"}
        )
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(request, context=context, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"kube-apiserver not ready after {timeout:.0f}s; see {self.workdir}")
            time.sleep(0.25)

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
    """Build the binaries if needed, start a control plane, and always stop it."""
    build.build()
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="siteplane-cp-")))
        plane = ControlPlane(workdir=workdir, crd_dir=crd_dir)
        try:
            plane.start()
            yield plane
        finally:
            plane.stop()


def main() -> int:
    """``make cluster``: start a control plane and keep it until interrupted."""
    workdir = Path(os.environ.get("SITEPLANE_CLUSTER_DIR", "/tmp/siteplane-cluster"))
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh etcd each time: no stale objects or tokens
    workdir.mkdir(parents=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with running(workdir) as plane:
        print(f"control plane up in {plane.startup_seconds:.1f}s at {plane.server}")
        print(f"users (contexts): {', '.join(u.name for u in USERS if not u.name.startswith('system:'))}")
        print(f"export KUBECONFIG={plane.kubeconfig}", flush=True)
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
