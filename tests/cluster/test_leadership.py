"""Two operator replicas with kopf's peering, as processes against the real control plane: the
standby is fully passive while the other leads, and takes over when it stops."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from harness.controlplane.cluster import ControlPlane
from harness.operator_runner import OperatorProcess
from harness.server import free_ports
from siteplane.store.migrate import upgrade
from tests.metrics_support import get, scrape, total
from tests.reconcile_support import remove_webhook_configurations, wait_until

pytestmark = pytest.mark.cluster
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
ZONE = {
    "apiVersion": "siteplane.io/v1alpha1",
    "kind": "DNSZone",
    "metadata": {"name": "lead"},
    "spec": {"zoneName": "lead.example", "nameServers": ["ns1.example.net"]},
}


def site(address: str) -> dict[str, object]:
    return {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "Site",
        "metadata": {"name": "www"},
        "spec": {"primaryDomain": "www.lead.example", "serving": {"ipv4": [address]}},
    }


# What only the replica that leads may do, as its own /metrics counts it.
ACTIVE_WORK = (
    "controller_runtime_reconcile_total",
    "siteplane_backend_writes_total",
    "siteplane_zone_syncs_total",
    "siteplane_status_writes_total",
    "siteplane_drift_checks_total",
)


def test_a_standby_serves_only_the_webhook_until_the_active_replica_stops(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    control_plane.kubectl("apply", "-f", str(MANIFESTS / "peering" / "crds.yaml"))
    control_plane.kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev")
    # A namespaced operator's peering object lives in its namespace (kopf's rule).
    peering = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "siteplane"}}
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(peering))
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"  # one database for both, as a PostgreSQL would be
    upgrade(url)
    ports = free_ports(3)
    webhook = f"{namespace}.siteplane.io"

    def replica(name: str, priority: int, port: int, webhook_port: int | None = None) -> OperatorProcess:
        # Only the standby serves the webhook here, so the apiserver calls it alone: in a cluster
        # both sit behind one Service.
        serving = {"SITEPLANE_WEBHOOK_LISTEN": f"127.0.0.1:{webhook_port}", "SITEPLANE_WEBHOOK_CONFIGURATION": webhook}
        env = {
            **(serving if webhook_port else {}),
            "SITEPLANE_PEERING": "siteplane",
            "SITEPLANE_PEERING_PRIORITY": str(priority),
            "SITEPLANE_PROBES_LISTEN": f"127.0.0.1:{port}",
            "SITEPLANE_DRIFT_INTERVAL": "1",  # drift checks all the time: the standby must run none
            "SITEPLANE_BACKEND_RECHECK_INTERVAL": "1",
        }
        return OperatorProcess(
            control_plane.kubeconfig, url, tmp_path / "zones", (namespace,), tmp_path / f"{name}.log", env
        )

    leader, standby = replica("leader", 20, ports[0]), replica("standby", 10, ports[1], ports[2])
    try:
        leader.start()
        wait_until(
            lambda: total(scrape(ports[0]), "siteplane_active") == 1, 120, "the first replica leading", leader.log
        )
        standby.start()
        wait_until(lambda: get(ports[1], "/readyz")[0] == 200, 120, "the standby ready", standby.log)

        def peers() -> str:
            return control_plane.kubectl(
                "get", "kopfpeering", "siteplane", "-n", namespace, "-o", "jsonpath={.status}"
            ).stdout

        wait_until(lambda: peers().count("priority") == 2, 120, "both replicas in the peering object", peers)
        configured = ("get", "validatingwebhookconfiguration", webhook)
        wait_until(lambda: control_plane.kubectl(*configured, check=False).returncode == 0, 60, "the webhook")

        control_plane.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all([ZONE, site("192.0.2.1")]))
        control_plane.kubectl("wait", "-n", namespace, "site/www", "--for=condition=Ready", "--timeout=120s")
        # The leader keeps working (drift checks every second); the standby has done none of it.
        checks = total(scrape(ports[0]), "siteplane_drift_checks_total")
        wait_until(lambda: total(scrape(ports[0]), "siteplane_drift_checks_total") >= checks + 3, 60, "drift checks")
        leading, waiting = scrape(ports[0]), scrape(ports[1])
        assert total(leading, "siteplane_backend_writes_total") > 0
        assert total(leading, "siteplane_status_writes_total") > 0
        assert total(waiting, "siteplane_active") == 0
        for name in ACTIVE_WORK:
            assert total(waiting, name) == 0, f"the standby did {name}: {total(waiting, name)}"
        assert "is now active" not in standby.log()
        # ... but it answered the admission webhook for the zone and the Site
        assert total(waiting, "siteplane_admission_decisions_total", result="allowed") >= 2

        # The leader stops; the standby takes over and serves a change made right after.
        stopped = time.monotonic()
        leader.stop()  # SIGTERM, and wait for it to exit: kopf leaves the peering object on the way
        exited = time.monotonic()
        control_plane.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(site("192.0.2.2")))
        zone_file = tmp_path / "zones" / "lead.example.zone"

        def served() -> bool:
            return zone_file.exists() and "192.0.2.2" in zone_file.read_text()

        wait_until(served, 180, "the change served by the former standby", standby.log)
        failover = time.monotonic() - stopped
        control_plane.kubectl(
            "wait", "-n", namespace, "site/www", "--for=jsonpath={.status.observedGeneration}=2", "--timeout=120s"
        )
        control_plane.kubectl("wait", "-n", namespace, "site/www", "--for=condition=Ready", "--timeout=120s")
        took_over = scrape(ports[1])
        assert total(took_over, "siteplane_active") == 1
        assert total(took_over, "siteplane_backend_writes_total") > 0
        assert total(took_over, "siteplane_status_writes_total") > 0
        assert "leadership: this replica is now active" in standby.log()
        print(
            f"failover: the change was served {failover:.1f}s after the leader was told to stop "
            f"({exited - stopped:.1f}s of it the leader's own shutdown)"
        )
    finally:
        leader.stop()
        standby.stop()
        remove_webhook_configurations(control_plane, webhook)
