"""Tenants cannot reach, block or learn about each other's zones, on SQLite and PostgreSQL.

Each case is one tenant attacking another through what it may legitimately write in its own
namespace: a DNSRecord naming the other's zone, a DNSZone declared inside the other's zone.
The operator runs without its admission webhook here, as if the webhook had been bypassed: what
the operator decides at reconcile time is the line that has to hold.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.controlplane.cluster import ControlPlane
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import OperatorProcess
from tests.reconcile_support import apply, condition, served, wait_until

pytestmark = pytest.mark.cluster


@dataclass
class Tenants:
    plane: ControlPlane
    a: str  # the tenant that owns the parent zone
    b: str  # the tenant that attacks it
    zone_dir: Path
    operator: OperatorProcess

    def get(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        result = self.plane.kubectl("get", plural, name, "-n", namespace, "-o", "json", check=False)
        return dict(json.loads(result.stdout)) if result.returncode == 0 else None

    def wait_reason(self, namespace: str, plural: str, name: str, reason: str, timeout: float = 90) -> dict[str, Any]:
        """Ready's condition once it has ``reason`` for the object's current generation."""
        found: dict[str, Any] = {}

        def check() -> bool:
            nonlocal found
            found = self.get(namespace, plural, name) or {}
            status = found.get("status") or {}
            return (
                condition(found).get("reason") == reason
                and status.get("observedGeneration") == found["metadata"]["generation"]
            )

        wait_until(check, timeout, f"{plural}/{name} reason {reason}", lambda: str(found.get("status")))
        return condition(found)

    def wait_gone(self, namespace: str, plural: str, name: str, timeout: float = 90) -> None:
        wait_until(
            lambda: self.get(namespace, plural, name) is None,
            timeout,
            f"{plural}/{name} deleted",
            lambda: str((self.get(namespace, plural, name) or {}).get("status")),
        )

    def zone_file(self, zone: str) -> Path:
        return self.zone_dir / f"{zone}.zone"


@pytest.fixture
def tenants(control_plane: ControlPlane, database_url: str, tmp_path: Path) -> Iterator[Tenants]:
    suffix = uuid.uuid4().hex[:6]
    a, b = f"owner-{suffix}", f"attacker-{suffix}"
    for ns in (a, b):
        control_plane.kubectl("create", "namespace", ns)
    operator = OperatorProcess(
        control_plane.kubeconfig, database_url, tmp_path / "zones", (a, b), tmp_path / "operator.log"
    )
    try:
        with operator:
            yield Tenants(control_plane, a, b, tmp_path / "zones", operator)
    finally:
        print(operator.log()[-4000:])
        for ns in (a, b):
            control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_a_record_naming_another_tenants_zone_does_not_keep_it_from_being_deleted(tenants: Tenants) -> None:
    zone = f"{tenants.a}.example"
    apply(tenants.plane, tenants.a, [zone_doc("zone", zone)])
    tenants.wait_reason(tenants.a, "dnszones", "zone", "Served")
    apply(tenants.plane, tenants.b, [record_doc("squat", zone, "www", "A", ["198.51.100.66"])])
    tenants.wait_reason(tenants.b, "dnsrecords", "squat", "NotPermitted")

    tenants.plane.kubectl("delete", "dnszone", "zone", "-n", tenants.a, "--wait=false")
    tenants.wait_gone(tenants.a, "dnszones", "zone")
    wait_until(lambda: not tenants.zone_file(zone).exists(), 30, "the zone gone from its backend")
    # The record that never published anything stays as it was.
    assert condition(tenants.get(tenants.b, "dnsrecords", "squat") or {}).get("reason") == "NotPermitted"


def test_deletion_is_held_only_by_permitted_objects_and_the_message_counts_only_the_zones_own(
    tenants: Tenants,
) -> None:
    zone = f"{tenants.a}.example"
    publishers = [{"namespace": tenants.b, "names": ["shop"]}]
    apply(tenants.plane, tenants.a, [zone_doc("zone", zone, publishers=publishers)])
    tenants.wait_reason(tenants.a, "dnszones", "zone", "Served")
    apply(tenants.plane, tenants.a, [site_doc("own", f"www.{zone}", "192.0.2.1")])
    apply(
        tenants.plane,
        tenants.b,
        [
            site_doc("shop", f"shop.{zone}", "198.51.100.1"),  # permitted
            record_doc("txt-1", zone, "shop", "TXT", ["permitted"]),  # permitted
            record_doc("txt-2", zone, "api", "TXT", ["not permitted"]),
            record_doc("txt-3", zone, "mail", "TXT", ["not permitted"]),
        ],
    )
    tenants.wait_reason(tenants.a, "sites", "own", "Published")
    tenants.wait_reason(tenants.b, "sites", "shop", "Published")
    tenants.wait_reason(tenants.b, "dnsrecords", "txt-1", "Published")
    tenants.wait_reason(tenants.b, "dnsrecords", "txt-3", "NotPermitted")

    tenants.plane.kubectl("delete", "dnszone", "zone", "-n", tenants.a, "--wait=false")
    blocked = tenants.wait_reason(tenants.a, "dnszones", "zone", "DeletionBlocked")
    message = str(blocked["message"])
    # One object of the zone's own namespace; what other namespaces hold is not counted out.
    assert "1 object(s) in this namespace" in message, message
    for hidden in ("2", "3", "4", tenants.b, "shop", "txt-"):
        assert hidden not in message.replace(zone, "").replace(tenants.a, ""), f"{hidden!r} leaks: {message}"

    # The zone's owner can always end it: its own Site goes, and it stops letting the tenant publish.
    tenants.plane.kubectl("delete", "site", "own", "-n", tenants.a)
    apply(tenants.plane, tenants.a, [zone_doc("zone", zone)])
    tenants.wait_gone(tenants.a, "dnszones", "zone")
    tenants.wait_reason(tenants.b, "sites", "shop", "NotPermitted")
    tenants.wait_reason(tenants.b, "dnsrecords", "txt-1", "NotPermitted")


def test_a_zone_inside_another_tenants_zone_is_stored_but_not_served_without_its_consent(tenants: Tenants) -> None:
    parent = f"{tenants.a}.example"
    child = f"shop.{parent}"
    apply(tenants.plane, tenants.a, [zone_doc("parent", parent), site_doc("shop", f"www.shop.{parent}", "192.0.2.7")])
    tenants.wait_reason(tenants.a, "sites", "shop", "Published")

    apply(tenants.plane, tenants.b, [zone_doc("hijack", child)])
    refused = tenants.wait_reason(tenants.b, "dnszones", "hijack", "DelegationRefused")
    assert str(refused["message"]).startswith("spec.zoneName:"), refused
    assert tenants.a not in str(refused["message"]).replace(parent, "")
    # The parent's tenant keeps its names, and the hijacking zone is not on the server.
    assert condition(tenants.get(tenants.a, "sites", "shop") or {}).get("reason") == "Published"
    assert ("www.shop", "A", "192.0.2.7") in served(tenants.zone_dir, parent)
    assert not tenants.zone_file(child).exists()


def test_a_delegated_zone_is_served_and_withdrawn_when_the_parent_takes_its_consent_back(tenants: Tenants) -> None:
    parent = f"{tenants.a}.example"
    child = f"shop.{parent}"
    delegations = [{"namespace": tenants.b, "names": ["shop"]}]
    apply(tenants.plane, tenants.a, [zone_doc("parent", parent, delegations=delegations)])
    tenants.wait_reason(tenants.a, "dnszones", "parent", "Served")
    apply(tenants.plane, tenants.b, [zone_doc("child", child), site_doc("www", f"www.{child}", "198.51.100.9")])
    tenants.wait_reason(tenants.b, "dnszones", "child", "Served")
    tenants.wait_reason(tenants.b, "sites", "www", "Published")
    assert ("www", "A", "198.51.100.9") in served(tenants.zone_dir, child)

    # Consent withdrawn: the child zone leaves its server, its names publish nowhere.
    apply(tenants.plane, tenants.a, [zone_doc("parent", parent)])
    tenants.wait_reason(tenants.b, "dnszones", "child", "DelegationRefused")
    tenants.wait_reason(tenants.b, "sites", "www", "NotPermitted")
    wait_until(lambda: not tenants.zone_file(child).exists(), 30, "the child zone gone from its backend")
    assert not any(r[0].startswith("www.shop") for r in served(tenants.zone_dir, parent))

    # Given again: served again.
    apply(tenants.plane, tenants.a, [zone_doc("parent", parent, delegations=delegations)])
    tenants.wait_reason(tenants.b, "dnszones", "child", "Served")
    tenants.wait_reason(tenants.b, "sites", "www", "Published")


def test_an_older_zone_is_not_refused_by_a_parent_declared_after_it(tenants: Tenants) -> None:
    # First come, first served, as for every name: a parent zone declared later cannot take a
    # subtree another tenant already serves (nor block it by refusing consent).
    child = f"shop.{tenants.a}.example"
    parent = f"{tenants.a}.example"
    apply(tenants.plane, tenants.b, [zone_doc("child", child), site_doc("www", f"www.{child}", "198.51.100.9")])
    tenants.wait_reason(tenants.b, "sites", "www", "Published")
    apply(tenants.plane, tenants.a, [zone_doc("parent", parent), site_doc("apex", parent, "192.0.2.1")])
    tenants.wait_reason(tenants.a, "sites", "apex", "Published")
    tenants.wait_reason(tenants.b, "dnszones", "child", "Served")
    assert ("www", "A", "198.51.100.9") in served(tenants.zone_dir, child)
