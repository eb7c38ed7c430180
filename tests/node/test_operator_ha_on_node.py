"""Two operator replicas on the real node, sharing a PostgreSQL the pods reach at the host's address
(its URL, with a password, from a Secret): one leads through kopf's peering, both serve the
webhook; readiness follows the database; the standby takes over when the leader's pod is killed;
and a helm upgrade rolls the replicas one at a time while the webhook keeps answering.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harness.node.cluster import NodeCluster
from harness.node.postgres import PodReachablePostgres
from harness.server import temporary_workdir
from tests.metrics_support import parse, total
from tests.node_support import (
    NAMESPACE,
    OPERATOR,
    TENANT,
    WEBHOOK_REFUSAL,
    WEBHOOK_SERVICE,
    Release,
    ensure_tenant,
    escalating_grant,
    http_get,
    image_values,
    wait_ready,
)
from tests.reconcile_support import wait_until

pytestmark = pytest.mark.node
DATABASE = "siteplane_ha"
SECRET = "siteplane-db"


@pytest.fixture(scope="module")
def database(node_cluster: NodeCluster) -> Iterator[PodReachablePostgres]:
    with (
        temporary_workdir(PodReachablePostgres.workdir_prefix) as workdir,
        PodReachablePostgres(workdir=workdir, host_ip=node_cluster.host_ip) as server,
    ):
        yield server


@pytest.fixture(scope="module")
def release(
    node_cluster: NodeCluster,
    siteplane_image: str,
    database: PodReachablePostgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Release]:
    url = database.database_for_pods(DATABASE)
    node_cluster.kubectl("create", "namespace", NAMESPACE, check=False)  # kept from another module, maybe
    node_cluster.kubectl("delete", "secret", SECRET, "-n", NAMESPACE, "--ignore-not-found")
    node_cluster.kubectl("create", "secret", "generic", SECRET, f"--from-literal=url={url}", "-n", NAMESPACE)
    ensure_tenant(node_cluster)
    installed = Release(node_cluster, NAMESPACE, tmp_path_factory.mktemp("values") / "values.yaml")
    values: dict[str, Any] = {
        **image_values(siteplane_image),
        "database": {"type": "postgresql", "postgresql": {"existingSecret": SECRET}},
        "persistence": {"enabled": False},
        "dashboard": {"enabled": False},
        "operator": {"replicas": 2},
    }
    installed.install(values)
    print(f"\nrollout of 2 replicas after helm install: {installed.rollout(OPERATOR):.1f}s")
    installed.wait_routed(WEBHOOK_SERVICE)
    node_cluster.kubectl("apply", "-n", TENANT, "-f", "-", user="bob", stdin=json.dumps(ZONE))
    wait_ready(installed, TENANT, "dnszone", "ha-example")
    yield installed
    installed.uninstall()


def active(pod: dict[str, Any]) -> float | None:
    """siteplane_active of one replica, scraped at its pod IP; None when it does not answer."""
    status, body = http_get(f"http://{pod['status']['podIP']}:8082/metrics", timeout=3)
    return total(parse(body), "siteplane_active") if status == 200 else None


def leader_and_standby(release: Release) -> tuple[dict[str, Any], dict[str, Any]]:
    found: dict[str, Any] = {}

    def one_leads() -> bool:
        pods = [pod for pod in release.pods("operator") if pod["status"].get("podIP")]
        states = {pod["metadata"]["name"]: (active(pod), pod) for pod in pods}
        leaders = [pod for value, pod in states.values() if value == 1.0]
        standbys = [pod for value, pod in states.values() if value == 0.0]
        found.update(leader=leaders[0] if leaders else None, standby=standbys[0] if standbys else None)
        return len(leaders) == 1 and len(standbys) == 1

    wait_until(one_leads, 120, "one leader and one standby", release.describe)
    return found["leader"], found["standby"]


def ready_endpoints(release: Release) -> dict[str, bool]:
    """The webhook Service's endpoints (pod IP -> ready) as the EndpointSlices say."""
    slices = release.get("endpointslices", "-l", f"kubernetes.io/service-name={WEBHOOK_SERVICE}")["items"]
    return {
        endpoint["addresses"][0]: bool(endpoint["conditions"].get("ready"))
        for piece in slices
        for endpoint in piece.get("endpoints") or []
    }


ZONE = {
    "apiVersion": "siteplane.io/v1alpha1",
    "kind": "DNSZone",
    "metadata": {"name": "ha-example"},
    "spec": {"zoneName": "ha.example", "nameServers": ["ns1.hosting.example.net"]},
}


def site(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "Site",
        "metadata": {"name": name},
        "spec": {"primaryDomain": f"{name}.ha.example", "serving": {"ipv4": ["192.0.2.20"]}},
    }


def test_one_replica_leads_and_both_are_ready_to_serve_the_webhook(release: Release) -> None:
    leader, standby = leader_and_standby(release)
    assert leader["metadata"]["name"] != standby["metadata"]["name"]
    endpoints = ready_endpoints(release)
    assert endpoints == {leader["status"]["podIP"]: True, standby["status"]["podIP"]: True}


def test_readiness_follows_the_database_and_the_webhook_service_drops_unready_pods(
    release: Release, database: PodReachablePostgres
) -> None:

    try:
        database.refuse_connections(DATABASE, True)
        wait_until(
            lambda: not any(ready_endpoints(release).values()), 90, "no ready webhook endpoint without the database"
        )
        (pod, *_) = release.pods("operator")
        status, body = http_get(f"http://{pod['status']['podIP']}:8082/readyz")
        assert (status, "the database does not answer" in body) == (503, True)
    finally:
        database.refuse_connections(DATABASE, False)
    wait_until(lambda: all(ready_endpoints(release).values()) and len(ready_endpoints(release)) == 2, 90, "ready again")


def test_the_standby_takes_over_when_the_leaders_pod_is_killed(release: Release) -> None:
    leader, standby = leader_and_standby(release)
    started = time.monotonic()
    release.kubectl("delete", "pod", leader["metadata"]["name"], "--grace-period=0", "--force", "--wait=false")
    # Only once the old leader no longer answers is the Site created: a leader that is still
    # stopping could otherwise reconcile it, and the figure would measure nothing.
    wait_until(lambda: active(leader) is None, 60, "the killed leader's process gone")
    gone = time.monotonic() - started
    name = f"failover-{uuid.uuid4().hex[:6]}"
    release.cluster.kubectl("apply", "-n", TENANT, "-f", "-", user="alice", stdin=json.dumps(site(name)))
    wait_ready(release, TENANT, "site", name, timeout=180)
    failover = time.monotonic() - started
    print(
        f"\nfailover: leader pod force-deleted; its process gone after {gone:.1f}s; "
        f"a Site created then was Ready {failover:.1f}s after the delete"
    )
    # A live replica leads: the former standby, or the Deployment's replacement pod once it has
    # started, if its (random) peering priority is the higher one: kopf's rule.
    new_leader, _ = leader_and_standby(release)
    assert new_leader["metadata"]["name"] != leader["metadata"]["name"]
    assert standby["metadata"]["name"] in {p["metadata"]["name"] for p in release.pods("operator")}


def test_helm_upgrade_rolls_the_replicas_while_the_webhook_keeps_answering(release: Release) -> None:
    leader_and_standby(release)  # both replicas up before the upgrade
    # What the chart promises for a voluntary disruption: one replica stays.
    assert release.get("poddisruptionbudget", OPERATOR)["spec"]["minAvailable"] == 1
    assert release.get("deployment", OPERATOR)["spec"]["strategy"]["rollingUpdate"] == {
        "maxSurge": 0,
        "maxUnavailable": 1,
    }
    answers: list[str] = []
    stop = threading.Event()

    def ask_the_webhook() -> None:
        while not stop.is_set():
            result = release.cluster.kubectl(
                "create",
                "--dry-run=server",
                "-n",
                TENANT,
                "-f",
                "-",
                user="carol",
                stdin=json.dumps(escalating_grant("carol-upgrade")),
                check=False,
            )
            answers.append("refused" if WEBHOOK_REFUSAL in result.stderr else result.stderr.strip() or "admitted")
            time.sleep(0.1)

    before = {pod["metadata"]["name"] for pod in release.pods("operator")}
    # Two callers: the apiserver then keeps more than one connection to the webhook, and a
    # stopping replica has each of them to drain (a call written on one as it closed got "EOF").
    askers = [threading.Thread(target=ask_the_webhook) for _ in range(2)]
    for asker in askers:
        asker.start()
    try:
        values = {
            **release.values,
            "operator": {**release.values["operator"], "env": {"SITEPLANE_DRIFT_INTERVAL": "900"}},
        }
        release.upgrade(values)
        release.rollout(OPERATOR)
        wait_until(
            lambda: not before & {pod["metadata"]["name"] for pod in release.pods("operator")}, 120, "old pods gone"
        )
    finally:
        stop.set()
        for asker in askers:
            asker.join()
    others = [answer for answer in answers if answer != "refused"]
    print(f"\nwebhook during the upgrade: {len(answers)} asked, {len(others)} not answered by the webhook")
    assert answers and not others, others[:3]
    for pod in release.pods("operator"):
        (migrate,) = pod["status"]["initContainerStatuses"]
        assert migrate["state"]["terminated"]["exitCode"] == 0
