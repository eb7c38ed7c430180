"""The chart, installed with helm on a real node: the operator and the dashboard API run as pods of
the image built from the Containerfile, the apiserver calls the webhook through its Service, and
the host reaches the Services' ClusterIPs as any client in the cluster would (kube-proxy).

One release for the module, with the chart's defaults (SQLite on the data volume, one operator
replica, the dashboard API): the claim is bound to a hostPath volume made here, since the node
has no storage provisioner.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import dns.rdatatype
import dns.zone
import pytest
import yaml

from harness.node.cluster import NodeCluster
from harness.paths import EXAMPLES_DIR
from tests.metrics_support import parse, total
from tests.node_support import (
    DASHBOARD,
    IMAGE_UID,
    METRICS_SERVICE,
    NAMESPACE,
    OPERATOR,
    TENANT,
    WEBHOOK_REFUSAL,
    WEBHOOK_SERVICE,
    Release,
    condition,
    ensure_tenant,
    escalating_grant,
    http_get,
    image_values,
    wait_ready,
)
from tests.reconcile_support import wait_until

pytestmark = pytest.mark.node
EXAMPLE_NAMESPACES = ("team-a", "team-b")


def data_volume(cluster: NodeCluster, claim: str) -> dict[str, Any]:
    """A hostPath PersistentVolume reserved for the chart's data claim, owned by the image's user."""
    path = cluster.workdir / "volumes" / claim
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, IMAGE_UID, IMAGE_UID)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"{NAMESPACE}-{claim}"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": str(path), "type": "Directory"},
            "claimRef": {"namespace": NAMESPACE, "name": claim},
        },
    }


@pytest.fixture(scope="module")
def release(
    node_cluster: NodeCluster, siteplane_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Release]:
    node_cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(data_volume(node_cluster, "siteplane-data")))
    installed = Release(node_cluster, NAMESPACE, tmp_path_factory.mktemp("values") / "values.yaml")
    installed.install(image_values(siteplane_image))
    operator, dashboard = installed.rollout(OPERATOR), installed.rollout(DASHBOARD)
    for service in (WEBHOOK_SERVICE, DASHBOARD, METRICS_SERVICE):
        installed.wait_routed(service)
    print(f"\nrollout after helm install: operator {operator:.1f}s, dashboard API {dashboard:.1f}s")
    ensure_tenant(node_cluster)
    yield installed


def apply_as(cluster: NodeCluster, user: str, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("apply", "-n", TENANT, "-f", "-", user=user, stdin=json.dumps(doc), check=False)


ZONE = {
    "apiVersion": "siteplane.io/v1alpha1",
    "kind": "DNSZone",
    "metadata": {"name": "example-com"},
    "spec": {"zoneName": "example.com", "nameServers": ["ns1.hosting.example.net"]},
}
SITE = {
    "apiVersion": "siteplane.io/v1alpha1",
    "kind": "Site",
    "metadata": {"name": "www"},
    "spec": {"primaryDomain": "www.example.com", "serving": {"ipv4": ["192.0.2.10"]}},
}


def test_the_operator_rolls_out_ready_with_readiness_from_the_probe_server_and_liveness_from_kopf(
    release: Release,
) -> None:
    deployment = release.get("deployment", OPERATOR)
    assert deployment["status"].get("availableReplicas") == 1
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes", "scheme": "HTTP"}
    assert container["livenessProbe"]["httpGet"]["port"] == "liveness"
    env = {item["name"]: item for item in container["env"]}
    assert env["POD_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    (pod,) = release.pods("operator")
    ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert ready["Ready"] == "True"
    assert pod["spec"]["nodeName"] == "siteplane-node"


def test_the_apiserver_calls_the_webhook_through_its_service_and_the_webhook_refuses_an_escalation(
    release: Release,
) -> None:
    for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
        webhooks = release.get(kind, "siteplane.io")["webhooks"]
        assert {w["clientConfig"]["service"]["name"] for w in webhooks} == {WEBHOOK_SERVICE}
        assert all("url" not in w["clientConfig"] for w in webhooks)
    result = apply_as(release.cluster, "carol", escalating_grant("carol-self"))
    assert result.returncode != 0
    # The apiserver's wording around the webhook's own: the refusal came back from the pod.
    assert WEBHOOK_REFUSAL in result.stderr
    assert "carol may not grant what they do not hold" in result.stderr
    assert release.cluster.kubectl("get", "accessgrant", "carol-self", "-n", TENANT, check=False).returncode != 0


def test_a_site_becomes_ready_and_its_record_is_in_the_zone_file_on_the_pods_volume(release: Release) -> None:
    for user, doc in (("bob", ZONE), ("alice", SITE)):
        result = apply_as(release.cluster, user, doc)
        assert result.returncode == 0, result.stderr
    site = wait_ready(release, TENANT, "site", "www")
    assert site["status"]["zone"] == "example.com"
    # The finalizer came with the create (the mutating webhook, through the Service): no manager
    # owns it, as one would had the operator PATCHed it on.
    fields = json.loads(
        release.cluster.kubectl("get", "site", "www", "-n", TENANT, "-o", "json", "--show-managed-fields").stdout
    )["metadata"]
    assert "siteplane.io/finalizer" in fields["finalizers"]
    assert not [e["manager"] for e in fields["managedFields"] if "f:finalizers" in json.dumps(e.get("fieldsV1"))]
    zone_file = release.kubectl(
        "exec", f"deployment/{OPERATOR}", "-c", "operator", "--", "cat", "/var/lib/siteplane/zones/example.com.zone"
    )
    zone = dns.zone.from_text(zone_file, origin="example.com.", relativize=False)
    addresses = zone.get_rdataset("www.example.com.", dns.rdatatype.A)
    assert addresses is not None and {rdata.to_text() for rdata in addresses} == {"192.0.2.10"}, zone_file


def test_the_dashboard_api_answers_through_its_service_with_a_users_token(release: Release) -> None:
    address = release.cluster_ip(DASHBOARD)
    token = release.cluster.token("alice")
    wait_ready(release, TENANT, "site", "www")
    status, body = http_get(f"http://{address}/api/v1/sites/{TENANT}/www", token)
    assert status == 200, body
    assert json.loads(body)["primaryDomain"] == "www.example.com"
    assert http_get(f"http://{address}/api/v1/sites", None)[0] == 401  # no token, no data


def test_prometheus_scrapes_the_operator_through_its_metrics_service(release: Release) -> None:
    service = release.get("service", METRICS_SERVICE)
    assert service["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    status, body = http_get(f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}/metrics")
    assert status == 200, body
    series = parse(body)
    assert total(series, "siteplane_active") == 1.0
    assert total(series, "controller_runtime_max_concurrent_reconciles", controller="site") >= 1


def test_the_webhook_service_routes_only_to_ready_pods(release: Release) -> None:
    slices = release.get("endpointslices", "-l", f"kubernetes.io/service-name={WEBHOOK_SERVICE}")["items"]
    endpoints = [endpoint for piece in slices for endpoint in piece.get("endpoints") or []]
    pods = {pod["status"]["podIP"]: pod for pod in release.pods("operator")}
    assert endpoints and all(endpoint["addresses"][0] in pods for endpoint in endpoints)
    for endpoint in endpoints:
        pod = pods[endpoint["addresses"][0]]
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "True"
        assert endpoint["conditions"]["ready"] is ready


def test_the_shipped_examples_become_ready_and_their_zones_are_served(release: Release) -> None:
    # The README's tour, in the cluster: everything Ready but the deliberate conflict, and each
    # zone file on the pod's volume at the serial its DNSZone reports.
    release.cluster.kubectl("apply", "-f", str(EXAMPLES_DIR))

    def objects(plural: str) -> list[dict[str, Any]]:
        items = json.loads(release.cluster.kubectl("get", plural, "-A", "-o", "json").stdout)["items"]
        return [o for o in items if o["metadata"].get("namespace") in EXAMPLE_NAMESPACES]

    def verdicts() -> dict[str, tuple[str, str]]:
        return {
            f"{o['kind']} {o['metadata']['namespace']}/{o['metadata']['name']}": (
                condition(o).get("status", ""),
                condition(o).get("reason", ""),
            )
            for plural in ("dnszones", "sites", "dnsrecords", "accessgrants")
            for o in objects(plural)
            if o["metadata"].get("generation") == o.get("status", {}).get("observedGeneration")
        }

    expected_count = sum(len(objects(plural)) for plural in ("dnszones", "sites", "dnsrecords", "accessgrants"))

    def settled() -> bool:
        found = verdicts()
        return len(found) == expected_count and all(
            status == "True" or key == "Site team-a/www-new" for key, (status, _) in found.items()
        )

    wait_until(settled, 180, "the examples settled", lambda: f"{verdicts()}\n{release.describe()}")
    assert verdicts()["Site team-a/www-new"] == ("False", "DomainConflict")

    def served_serial(name: str) -> int | None:
        text = release.kubectl(
            "exec", f"deployment/{OPERATOR}", "-c", "operator", "--", "cat", f"/var/lib/siteplane/zones/{name}.zone"
        )
        soa = dns.zone.from_text(text, origin=f"{name}.", relativize=False).get_rdataset(f"{name}.", dns.rdatatype.SOA)
        return None if soa is None else int(soa[0].serial)

    def serials_shown() -> bool:
        # A zone's serial in status settles a couple of seconds after its last sync (tallies wait).
        return all(
            served_serial(z["spec"]["zoneName"]) == z.get("status", {}).get("serial") for z in objects("dnszones")
        )

    wait_until(serials_shown, 60, "each zone's status to show the serial it serves")
    shop = dns.zone.from_text(
        release.kubectl(
            "exec", f"deployment/{OPERATOR}", "-c", "operator", "--", "cat", "/var/lib/siteplane/zones/example.com.zone"
        ),
        origin="example.com.",
        relativize=False,
    ).get_rdataset("shop.example.com.", dns.rdatatype.A)
    assert shop is not None and {r.to_text() for r in shop} == {"198.51.100.20"}  # team-b's Site in team-a's zone


def test_helm_upgrade_runs_the_migration_and_rolls_the_operator(release: Release) -> None:
    (before,) = release.pods("operator")
    values = {**release.values, "operator": {"env": {"SITEPLANE_DRIFT_INTERVAL": "900"}}}
    release.upgrade(values)
    release.rollout(OPERATOR)
    wait_until(
        lambda: [p["metadata"]["name"] for p in release.pods("operator")] != [before["metadata"]["name"]],
        120,
        "the old pod gone",
    )
    (after,) = release.pods("operator")
    (migrate,) = after["status"]["initContainerStatuses"]
    assert migrate["state"]["terminated"]["exitCode"] == 0
    assert "is at revision" in release.kubectl("logs", after["metadata"]["name"], "-c", "migrate")
    # The new pod serves what the old one made.
    status, body = http_get(
        f"http://{release.cluster_ip(DASHBOARD)}/api/v1/sites/{TENANT}/www", release.cluster.token("alice")
    )
    assert status == 200, body


def test_helm_uninstall_keeps_the_crds_and_the_custom_objects(release: Release) -> None:
    release.uninstall()
    assert release.cluster.kubectl("get", "crd", "sites.siteplane.io").returncode == 0
    assert release.cluster.kubectl("get", "site", "www", "-n", TENANT).returncode == 0
    assert release.cluster.kubectl("get", "dnszone", "example-com", "-n", TENANT).returncode == 0
    assert release.kubectl("get", "deployments", "-o", "name").strip() == ""
