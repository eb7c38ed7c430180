"""What a node changes on the host, and how the teardown puts it back.

containerd, runc, the kubelet, kube-proxy and the CNI bridge plugin are not confined to a working
directory: they add iptables chains, a bridge, network namespaces, mounts, cgroups, sysctls and a
few directories at fixed paths. ``HostState.save`` notes what is there before the node starts;
``HostState.restore`` removes what the node added and sets every sysctl back. A lock file keeps
it to one node per machine: the chains, port 10250 and the kubelet's device-plugin socket are
global.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LOCK_FILE = Path("/run/lock/siteplane-node.lock")
# Set by the kubelet (its kernel defaults), by kube-proxy (route_localnet) and by the CNI bridge
# plugin (ip_forward); read before the node starts, written back after it stops.
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)
# Paths containerd 1.6, its shims, libcni and the kubelet use whatever they are configured with.
FIXED_DIRS = (
    Path("/run/containerd"),
    Path("/run/netns"),
    Path("/var/lib/cni"),
    Path("/var/lib/kubelet"),
    Path("/var/log/containers"),
    Path("/var/log/pods"),
)
CHAIN_PREFIXES = ("KUBE-", "CNI-")
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def host_address() -> str:
    """The address of the interface the default route leaves by: what pods can reach the host at.

    Loopback will not do: inside a pod's network namespace 127.0.0.1 is the pod itself. No packet
    is sent: connecting a UDP socket only picks the route.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("198.51.100.1", 9))  # TEST-NET-2: routed by default, never sent
        address = str(sock.getsockname()[0])
    if address.startswith("127."):
        raise RuntimeError("the host has no non-loopback IPv4 address for pods to reach it at")
    return address


@contextlib.contextmanager
def machine_lock(timeout: float) -> Iterator[None]:
    """Hold the one-node-per-machine lock, waiting up to ``timeout`` seconds for another node to go."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another node test run holds {LOCK_FILE} (one node per machine)") from None
                time.sleep(1)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


@dataclass
class HostState:
    """What the host looked like before the node: sysctls, and which fixed paths existed."""

    sysctls: dict[str, str] = field(default_factory=dict)
    existing: set[Path] = field(default_factory=set)

    @classmethod
    def save(cls) -> HostState:
        state = cls()
        for name in SYSCTLS:
            with contextlib.suppress(OSError):
                state.sysctls[name] = _sysctl_path(name).read_text().strip()
        state.existing = {path for path in [*FIXED_DIRS, *_kubepods_cgroups()] if path.exists()}
        return state

    def restore(self, workdir: Path, bridge: str) -> list[str]:
        """Undo the node's traces; returns what could not be undone (empty when all went)."""
        problems: list[str] = []
        remove_chains(problems)
        unmount_under([workdir, Path("/run/netns")], problems)
        if Path(f"/sys/class/net/{bridge}").exists():
            result = _run("ip", "link", "del", bridge)
            if result.returncode:
                problems.append(f"ip link del {bridge}: {result.stderr.strip()}")
        for cgroup in _kubepods_cgroups():
            if cgroup not in self.existing:
                _remove_cgroup(cgroup, problems)
        for path in FIXED_DIRS:
            if path not in self.existing and path.exists():
                shutil.rmtree(path, ignore_errors=True)
                if path.exists():
                    problems.append(f"could not remove {path}")
        for name, value in self.sysctls.items():
            path = _sysctl_path(name)
            with contextlib.suppress(OSError):
                if path.read_text().strip() != value:
                    path.write_text(value)
        return problems


def _kubepods_cgroups() -> list[Path]:
    """The kubelet's cgroup (cgroupfs driver) in every v1 hierarchy."""
    if not _CGROUP_ROOT.is_dir():
        return []
    return [hierarchy / "kubepods" for hierarchy in _CGROUP_ROOT.iterdir() if (hierarchy / "kubepods").is_dir()]


def _remove_cgroup(cgroup: Path, problems: list[str]) -> None:
    """rmdir a cgroup tree bottom-up (cgroupfs refuses rmtree: its files cannot be unlinked)."""
    for directory, _, _ in sorted(os.walk(cgroup), key=lambda entry: -len(entry[0])):
        try:
            os.rmdir(directory)
        except OSError as error:
            problems.append(f"rmdir {directory}: {error}")
            return


def unmount_under(roots: list[Path], problems: list[str]) -> None:
    """Lazily unmount everything mounted under ``roots``, deepest first (the kubelet's rshared
    self-bind of its root dir, pod volumes, containers' rootfs, network namespaces)."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == str(root) or point.startswith(f"{root}/") for root in roots):
            mounts.append(point)
    for point in sorted(set(mounts), key=len, reverse=True):
        result = _run("umount", "-l", point)
        if result.returncode and "not mounted" not in result.stderr:
            problems.append(f"umount {point}: {result.stderr.strip()}")


def remove_chains(problems: list[str]) -> None:
    """Delete every KUBE-* and CNI-* chain, and the jumps to them, in iptables and ip6tables.

    ``kube-proxy --cleanup`` removes its own, but not the kubelet's (KUBE-FIREWALL,
    KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT) nor the CNI plugins' (masquerade, hostport).
    """
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for table in ("filter", "nat", "mangle"):
            saved = _run(f"{tool}-save", "-t", table).stdout
            ours = set(re.findall(r"^:((?:KUBE-|CNI-)\S+)", saved, re.MULTILINE))
            for line in saved.splitlines():
                if not line.startswith("-A "):
                    continue
                chain = line.split()[1]
                target = re.search(r"-j (\S+)", line)
                if chain not in ours and target and target.group(1).startswith(CHAIN_PREFIXES):
                    # iptables-save prints a rule the way -D takes it back.
                    _run(tool, "-t", table, "-D", *shlex.split(line[3:]))
            for chain in ours:
                _run(tool, "-t", table, "-F", chain)
            for chain in ours:
                result = _run(tool, "-t", table, "-X", chain)
                if result.returncode:
                    problems.append(f"{tool} -t {table} -X {chain}: {result.stderr.strip()}")


def node_traces(bridge: str) -> dict[str, object]:
    """What of the host a node touches, as it is now: compared before and after a node's life.

    Only what is the node's own, so that another test run on the machine (its mounts, its
    processes) never shows up: KUBE-/CNI- chains, the bridge and veths, mounts under the
    node's paths, kubepods cgroups, the fixed directories and the sysctls.
    """
    chains = []
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for table in ("filter", "nat", "mangle"):
            saved = _run(f"{tool}-save", "-t", table).stdout
            chains += [f"{tool}/{table}/{c}" for c in re.findall(r"^:((?:KUBE-|CNI-)\S+)", saved, re.MULTILINE)]
    links = sorted(name for name in os.listdir("/sys/class/net") if name == bridge or name.startswith("veth"))
    roots = ("/run/netns", "/run/containerd", "/var/lib/kubelet", "/tmp/siteplane-node-")
    mounts = sorted(
        point
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        for point in [line.split()[4]]
        if point.startswith(roots)
    )
    sysctls = {}
    for name in SYSCTLS:
        with contextlib.suppress(OSError):
            sysctls[name] = _sysctl_path(name).read_text().strip()
    return {
        "chains": sorted(chains),
        "links": links,
        "mounts": mounts,
        "cgroups": sorted(str(path) for path in _kubepods_cgroups()),
        "dirs": sorted(str(path) for path in FIXED_DIRS if path.exists()),
        "sysctls": sysctls,
    }
