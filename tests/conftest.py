"""Session-wide fixtures: the real control plane, a real PostgreSQL, BIND and PowerDNS, and fresh
databases. Each server starts once for the whole run, when a test first asks for it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.bind import BindServer, running_bind
from harness.controlplane.cluster import ControlPlane, running
from harness.postgres import PostgresServer, running_postgres
from harness.powerdns import PowerDNSServer, running_powerdns
from siteplane.store.migrate import upgrade

DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """A real etcd + kube-apiserver + kube-controller-manager with siteplane's CRDs installed."""
    with running() as plane:
        yield plane


@pytest.fixture(scope="session")
def bind_server() -> Iterator[BindServer]:
    """A real BIND 9 (TSIG for updates and transfers, rndc for addzone/delzone) on loopback."""
    with running_bind() as server:
        yield server


@pytest.fixture(scope="session")
def powerdns_server() -> Iterator[PowerDNSServer]:
    """A real PowerDNS Authoritative with its HTTP API on loopback."""
    with running_powerdns() as server:
        yield server


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on a loopback port, for the whole session."""
    with running_postgres() as server:
        yield server


def fresh_database_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest | PostgresServer | None) -> str:
    """An empty database of ``kind``, migrated to the current schema."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    else:
        server = request if isinstance(request, PostgresServer) else request.getfixturevalue("postgres")  # type: ignore[union-attr]
        url = server.create_database(f"t_{uuid.uuid4().hex[:12]}")
    upgrade(url)
    return url


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: each test using it runs against SQLite and against PostgreSQL."""
    return fresh_database_url(str(request.param), tmp_path, request)
