"""The node tests' session: one control plane with a real node (harness/node/), and the image
built from the Containerfile imported into the node's containerd."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from harness.image import build as image
from harness.node.cluster import BRIDGE, LOCK_TIMEOUT, NodeCluster, running_node
from harness.node.host import machine_lock, node_traces


@pytest.fixture(scope="session")
def node_cluster() -> Iterator[NodeCluster]:
    """containerd, kubelet and kube-proxy joined to a control plane of their own; the host cleaned after."""
    if os.geteuid() != 0:
        # Not a skip: CI runs as root, and a suite that quietly skips its in-cluster tests proves nothing.
        pytest.fail("the node tests need root (containerd, runc, iptables, mounts); run them as root", pytrace=False)
    with machine_lock(LOCK_TIMEOUT):
        # Read under the lock: no other node is halfway through its own life meanwhile.
        before = node_traces(BRIDGE)
    started = time.monotonic()
    with running_node() as cluster:
        print(f"\nnode cluster up (node Ready) in {time.monotonic() - started:.1f}s")
        yield cluster
    with machine_lock(LOCK_TIMEOUT):
        after = node_traces(BRIDGE)
    # The teardown is part of what is proven: the host is left as it was found.
    left = {what: (before[what], after[what]) for what in before if before[what] != after[what]}
    if left:
        pytest.fail(f"the node left traces on the host (before, after): {left}", pytrace=False)


@pytest.fixture(scope="session")
def siteplane_image(node_cluster: NodeCluster) -> str:
    """The reference of the image built from the Containerfile, present in the node's containerd."""
    built = image.build()
    node_cluster.import_image(built.archive, built.reference)
    return built.reference
