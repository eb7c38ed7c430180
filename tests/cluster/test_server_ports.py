"""Every development server survives the port race: a port chosen free but taken before the server
binds it makes the first start choose again, not fail."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import harness.server
from harness.bind import BindServer
from harness.controlplane.cluster import ControlPlane
from harness.postgres import PostgresServer
from harness.powerdns import PowerDNSServer
from harness.server import ADDRESS, Server, free_ports, temporary_workdir
from tests.reconcile_support import wait_until

pytestmark = pytest.mark.cluster

SERVERS: dict[str, Callable[[Path], Server]] = {
    "postgres": lambda workdir: PostgresServer(workdir=workdir),
    "bind": lambda workdir: BindServer(workdir=workdir),
    "powerdns": lambda workdir: PowerDNSServer(workdir=workdir),
    "controlplane": lambda workdir: ControlPlane(workdir=workdir, crd_dir=None),
}


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port someone else listens on (TCP and UDP), as if they had bound it just before the server."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        tcp.bind((ADDRESS, 0))
        tcp.listen()
        port = int(tcp.getsockname()[1])
        udp.bind((ADDRESS, port))
        yield port


@pytest.mark.parametrize("position", [0, -1], ids=["first-port", "last-port"])
@pytest.mark.parametrize("kind", list(SERVERS))
def test_first_start_chooses_again_when_a_chosen_port_is_taken(
    kind: str, position: int, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    choices: list[list[int]] = []

    def racy_free_ports(count: int) -> list[int]:
        """The first choice loses the race on one port (a control plane: etcd's or kube-apiserver's)."""
        ports = free_ports(count)
        if not choices:
            ports[position] = taken_port
        choices.append(ports)
        return ports

    monkeypatch.setattr(harness.server, "free_ports", racy_free_ports)
    with temporary_workdir("siteplane-ports-") as workdir, SERVERS[kind](workdir) as server:
        assert server.running
        assert len(choices) == 2
        assert taken_port not in server.ports
        assert list(server.ports) == choices[-1]


def test_a_kube_apiserver_that_exits_while_etcd_is_probed_is_not_taken_for_serving(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe skips a component that does not run (restarts need that): a kube-apiserver that
    exits on a taken port while etcd is being probed must still make the start choose again."""
    choices: list[list[int]] = []

    def racy_free_ports(count: int) -> list[int]:
        ports = free_ports(count)
        if not choices:
            ports[-1] = taken_port  # kube-apiserver's
        choices.append(ports)
        return ports

    probe = ControlPlane._serving

    def probe_once_it_has_exited(plane: ControlPlane) -> bool:
        if plane.api_port == taken_port:
            # etcd is slow to answer just long enough: kube-apiserver is gone when it does.
            wait_until(lambda: not plane._running("kube-apiserver"), 30, "kube-apiserver exited")
        return probe(plane)

    monkeypatch.setattr(harness.server, "free_ports", racy_free_ports)
    monkeypatch.setattr(ControlPlane, "_serving", probe_once_it_has_exited)
    with temporary_workdir("siteplane-ports-") as workdir, ControlPlane(workdir=workdir, crd_dir=None) as plane:
        assert plane.running and plane.api_port != taken_port and len(choices) == 2
