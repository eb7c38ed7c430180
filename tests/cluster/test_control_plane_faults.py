"""Faults of the control plane itself: kube-apiserver or etcd killed and restarted in the middle of
a burst, and everything (records served, every object's status) converges unattended.

Each case runs its own control plane (it is the thing being killed) and the operator as its own
process, against SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.controlplane.cluster import Component, ControlPlane, running
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import OperatorProcess
from tests.reconcile_support import apply, condition, served, wait_until

pytestmark = pytest.mark.cluster
ZONES, SITES_PER_ZONE = 5, 40


@pytest.fixture
def own_plane(tmp_path: Path) -> Iterator[ControlPlane]:
    with running(tmp_path / "control-plane") as plane:
        yield plane


def _all(plane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    result = plane.kubectl("get", "sites,dnszones,dnsrecords", "-n", namespace, "-o", "json", check=False)
    return list(json.loads(result.stdout)["items"]) if result.returncode == 0 else []


def _unsettled(objects: list[dict[str, Any]]) -> list[str]:
    """Objects whose Ready is not True for their current generation."""
    return [
        f"{o['kind']}/{o['metadata']['name']}: {condition(o).get('reason')}"
        for o in objects
        if condition(o).get("status") != "True"
        or (o.get("status") or {}).get("observedGeneration") != o["metadata"]["generation"]
    ]


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
def test_killed_mid_burst_everything_converges_unattended(
    own_plane: ControlPlane, database_url: str, component: Component, tmp_path: Path
) -> None:
    plane = own_plane
    namespace = f"faults-{uuid.uuid4().hex[:6]}"
    plane.kubectl("create", "namespace", namespace)
    zone_dir = tmp_path / "zones"
    zones = [f"z{z}.{namespace}.example" for z in range(ZONES)]
    docs: list[dict[str, Any]] = []
    expected: dict[str, set[tuple[str, str, str]]] = {}
    for z, zone in enumerate(zones):
        docs.append(record_doc(f"txt-{z}", zone, "@", "TXT", [f"zone {z}"]))
        expected[zone] = {("@", "TXT", f'"zone {z}"')}
        for s in range(SITES_PER_ZONE):
            address = f"10.{z}.{s // 250}.{s % 250 + 1}"
            docs.append(site_doc(f"site-{z}-{s}", f"s{s}.{zone}", address))
            expected[zone].add((f"s{s}", "A", address))
    operator = OperatorProcess(
        plane.kubeconfig,
        database_url,
        zone_dir,
        (namespace,),
        tmp_path / "operator.log",
        {"SITEPLANE_KUBE_TIMEOUT": "5"},
    )
    with operator:
        apply(plane, namespace, [zone_doc(f"zone-{z}", zone) for z, zone in enumerate(zones)])
        wait_until(lambda: not _unsettled(_all(plane, namespace)), 120, "the zones Ready")
        apply(plane, namespace, docs)
        # Mid-burst: some objects are done, most are not.
        wait_until(
            lambda: len(_unsettled(objects := _all(plane, namespace))) < len(objects) - ZONES,
            120,
            "the burst under way",
        )
        plane.kill(component)
        plane.restart(component)
        wait_until(
            lambda: not _unsettled(_all(plane, namespace)),
            300,
            "every object Ready for its generation",
            lambda: "; ".join(_unsettled(_all(plane, namespace))[:20]) + "\n" + operator.log()[-3000:],
        )
    objects = _all(plane, namespace)
    assert len(objects) == ZONES * (SITES_PER_ZONE + 2)
    for zone, records in expected.items():
        assert records <= served(zone_dir, zone), zone
