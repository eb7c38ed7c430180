"""Session-wide fixtures: the real control plane, and namespaces that clean up after themselves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.controlplane.cluster import ControlPlane, running


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """A real etcd + kube-apiserver + kube-controller-manager with siteplane's CRDs installed."""
    with running() as plane:
        yield plane


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)
