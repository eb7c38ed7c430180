"""The operator's probe server, as a process against the real control plane: readiness follows the
database, and the number of metric series does not grow with the number of objects."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from harness.controlplane.cluster import ControlPlane
from harness.operator_runner import OperatorProcess
from harness.postgres import PostgresServer
from harness.server import free_port
from siteplane.store.migrate import upgrade
from tests.metrics_support import get, scrape, total
from tests.reconcile_support import wait_until

pytestmark = pytest.mark.cluster
ZONES = 20


def objects(first: int, last: int) -> list[dict[str, object]]:
    """Objects ``first`` .. ``last - 1`` of 20 zones (the first 20) and Sites spread over them."""
    docs: list[dict[str, object]] = []
    for index in range(first, last):
        if index < ZONES:
            docs.append(
                {
                    "apiVersion": "siteplane.io/v1alpha1",
                    "kind": "DNSZone",
                    "metadata": {"name": f"zone-{index}"},
                    "spec": {"zoneName": f"z{index}.metrics.example", "nameServers": ["ns1.example.net"]},
                }
            )
        else:
            zone = index % ZONES
            docs.append(
                {
                    "apiVersion": "siteplane.io/v1alpha1",
                    "kind": "Site",
                    "metadata": {"name": f"site-{index}"},
                    "spec": {
                        "primaryDomain": f"www{index}.z{zone}.metrics.example",
                        "serving": {"ipv4": [f"192.0.2.{index % 250 + 1}"]},
                    },
                }
            )
    return docs


def test_the_number_of_series_does_not_grow_with_the_number_of_objects(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(url)
    port = free_port()
    env = {"SITEPLANE_PROBES_LISTEN": f"127.0.0.1:{port}"}
    operator = OperatorProcess(
        control_plane.kubeconfig, url, tmp_path / "zones", (namespace,), tmp_path / "operator.log", env
    )

    def ready() -> float:
        return total(scrape(port), "siteplane_objects", kind="Site", ready="True") + total(
            scrape(port), "siteplane_objects", kind="DNSZone", ready="True"
        )

    with operator:
        wait_until(lambda: get(port, "/readyz")[0] == 200, 120, "the operator ready", operator.log)
        control_plane.kubectl("create", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(objects(0, 100)))
        wait_until(lambda: ready() == 100, 300, "100 objects Ready", operator.log)
        small = scrape(port)
        more = yaml.safe_dump_all(objects(100, 2000))
        control_plane.kubectl("create", "-n", namespace, "-f", "-", stdin=more, timeout=1200)
        wait_until(lambda: ready() == 2000, 1500, "2,000 objects Ready", lambda: f"{ready()} Ready")
        large = scrape(port)
        text = get(port, "/metrics")[1]

    print(f"series: {len(small)} at 100 objects, {len(large)} at 2,000")
    assert set(large) == set(small), f"new series: {sorted(set(large) - set(small))[:10]}"
    assert total(large, "controller_runtime_reconcile_total", controller="site") >= 1980
    assert total(large, "siteplane_backend_writes_total", backend="embedded") > 0
    for name in (namespace, "site-1999", "zone-19", "z19.metrics.example"):
        assert name not in text, f"{name} appears in /metrics"


def test_readiness_follows_the_database(
    control_plane: ControlPlane, namespace: str, tmp_path: Path, postgres: PostgresServer
) -> None:
    database = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(database)
    upgrade(url)
    port, liveness = free_port(), free_port()
    env = {
        "SITEPLANE_PROBES_LISTEN": f"127.0.0.1:{port}",
        "SITEPLANE_LIVENESS": f"http://127.0.0.1:{liveness}/healthz",  # kopf's endpoint: the one liveness check
    }
    operator = OperatorProcess(
        control_plane.kubeconfig, url, tmp_path / "zones", (namespace,), tmp_path / "operator.log", env
    )

    with operator:
        wait_until(lambda: get(port, "/readyz")[0] == 200, 120, "the operator ready", operator.log)
        assert get(liveness, "/healthz")[0] == 200
        assert get(port, "/healthz")[0] == 404  # liveness has one home: kopf's endpoint
        try:
            postgres.refuse_connections(database, True)
            wait_until(lambda: get(port, "/readyz")[0] == 503, 60, "not ready without its database")
            assert "the database does not answer" in get(port, "/readyz")[1]
            assert get(liveness, "/healthz")[0] == 200  # alive all the same: a restart would not help
            assert total(scrape(port), "siteplane_database_errors_total", error="unavailable") > 0
        finally:
            postgres.refuse_connections(database, False)
        wait_until(lambda: get(port, "/readyz")[0] == 200, 60, "ready again once the database answers")
