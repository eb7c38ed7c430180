"""The node tests' session: one control plane with a real node (harness/node/), and the image
built from the Containerfile imported into the node's containerd."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from harness.image import build as image
from harness.node.cluster import NodeCluster, running_node


@pytest.fixture(scope="session")
def node_cluster() -> Iterator[NodeCluster]:
    """containerd, kubelet and kube-proxy joined to a control plane of their own; the host cleaned after."""
    if os.geteuid() != 0:
        # Not a skip: CI runs as root, and a suite that quietly skips its in-cluster tests proves nothing.
        pytest.fail("the node tests need root (containerd, runc, iptables, mounts); run them as root", pytrace=False)
    started = time.monotonic()
    with running_node() as cluster:
        print(f"\nnode cluster up (node Ready) in {time.monotonic() - started:.1f}s")
        yield cluster


@pytest.fixture(scope="session")
def siteplane_image(node_cluster: NodeCluster) -> str:
    """The reference of the image built from the Containerfile, present in the node's containerd."""
    built = image.build()
    node_cluster.import_image(built.archive, built.reference)
    return built.reference
