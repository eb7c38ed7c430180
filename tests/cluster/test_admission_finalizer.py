"""The finalizer at admission, on the real control plane: a Site, DNSZone or DNSRecord is created
with siteplane's finalizer by the mutating webhook, so the operator's first write to it is its
status. Deletion is safe whether the webhook added the finalizer or, with the webhook down, the
operator did; objects in namespaces this installation does not serve are left alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.controlplane.cluster import ControlPlane
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import operator_running
from harness.server import free_port
from siteplane.reconcile.observed import FINALIZER
from tests.cluster.test_operator_smoke import embedded_config
from tests.reconcile_support import apply, condition, remove_webhook_configurations, served, wait_until

pytestmark = pytest.mark.cluster


def _create(plane: ControlPlane, namespace: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server answered the create: what admission made of it."""
    out = plane.kubectl("create", "-n", namespace, "-f", "-", "-o", "json", stdin=json.dumps(doc)).stdout
    return dict(json.loads(out))


def _get(plane: ControlPlane, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    result = plane.kubectl("get", kind, name, "-n", namespace, "-o", "json", "--show-managed-fields", check=False)
    return dict(json.loads(result.stdout)) if result.returncode == 0 else None


def _ready(plane: ControlPlane, namespace: str, kind: str, name: str) -> bool:
    found = _get(plane, namespace, kind, name)
    return found is not None and condition(found).get("status") == "True"


def _finalizer_writers(obj: dict[str, Any]) -> list[str]:
    """The field managers that own metadata.finalizers. What a mutating webhook adds to a create is
    owned by nobody (managedFields record the request as sent); a PATCH by the operator is owned by
    its manager ("Python", aiohttp's user agent)."""
    return sorted(
        entry["manager"]
        for entry in obj["metadata"]["managedFields"]
        if "f:finalizers" in json.dumps(entry.get("fieldsV1") or {})
    )


@pytest.fixture
def webhook(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[Path]:
    """An operator serving ``namespace`` with its admission webhooks registered (kopf's managed
    mode, on loopback); yields its zone directory once a create is mutated."""
    name = f"{namespace}.siteplane.io"
    config = replace(
        embedded_config(tmp_path),
        namespaces=(namespace,),
        webhook_listen=f"127.0.0.1:{free_port()}",
        webhook_configuration=name,
    )
    try:
        with operator_running(control_plane.kubeconfig, config):

            def mutating() -> bool:
                probe = zone_doc(f"probe-{uuid.uuid4().hex[:6]}", f"probe-{uuid.uuid4().hex[:6]}.example")
                result = control_plane.kubectl(
                    "create", "--dry-run=server", "-n", namespace, "-f", "-", "-o", "json", stdin=json.dumps(probe)
                )
                return FINALIZER in json.loads(result.stdout)["metadata"].get("finalizers", [])

            wait_until(mutating, 60, "the mutating webhook registered and answering")
            yield tmp_path / "zones"
    finally:
        remove_webhook_configurations(control_plane, name)


def test_objects_are_created_with_the_finalizer_and_the_operator_writes_only_their_status(
    control_plane: ControlPlane, namespace: str, webhook: Path
) -> None:
    zone = f"adm-{uuid.uuid4().hex[:6]}.example"
    docs = [
        zone_doc("zone", zone),
        site_doc("www", f"www.{zone}", "192.0.2.40"),
        record_doc("mail", zone, "mail", "A", ["192.0.2.41"]),
    ]
    for doc in docs:
        created = _create(control_plane, namespace, doc)
        assert FINALIZER in created["metadata"]["finalizers"], f"{doc['kind']} created without the finalizer"
    for kind, name in (("dnszone", "zone"), ("site", "www"), ("dnsrecord", "mail")):
        wait_until(lambda k=kind, n=name: _ready(control_plane, namespace, k, n), 60, f"{kind}/{name} Ready")
        found = _get(control_plane, namespace, kind, name)
        assert found is not None
        assert found["metadata"]["finalizers"] == [FINALIZER]
        assert _finalizer_writers(found) == [], f"{kind}/{name}: the finalizer was PATCHed after the create"
    assert ("www", "A", "192.0.2.40") in served(webhook, zone)


def test_an_object_deleted_right_after_its_creation_is_cleaned_up_and_released(
    control_plane: ControlPlane, namespace: str, webhook: Path
) -> None:
    zone = f"quick-{uuid.uuid4().hex[:6]}.example"
    apply(control_plane, namespace, [zone_doc("zone", zone)])
    wait_until(lambda: _ready(control_plane, namespace, "dnszone", "zone"), 60, "zone Ready")
    for round_ in range(5):
        name = f"brief-{round_}"
        created = _create(control_plane, namespace, site_doc(name, f"{name}.{zone}", "192.0.2.50"))
        assert FINALIZER in created["metadata"]["finalizers"]
        control_plane.kubectl("delete", "site", name, "-n", namespace, "--wait=false")
        wait_until(lambda n=name: _get(control_plane, namespace, "site", n) is None, 60, f"{name} released")
    # Whatever a brief Site managed to publish is withdrawn with it.
    wait_until(
        lambda: not any(name.startswith("brief-") for name, _, _ in served(webhook, zone)), 60, "nothing of them served"
    )


def test_objects_in_a_namespace_this_installation_does_not_serve_get_no_finalizer(
    control_plane: ControlPlane, namespace: str, webhook: Path
) -> None:
    other = f"t-{uuid.uuid4().hex[:10]}"
    control_plane.kubectl("create", "namespace", other)
    try:
        created = _create(control_plane, other, site_doc("elsewhere", "www.elsewhere.example", "192.0.2.60"))
        assert FINALIZER not in (created["metadata"].get("finalizers") or [])
    finally:
        control_plane.kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_with_the_webhook_down_the_operator_adds_the_finalizer_and_deletion_still_withdraws(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    config = replace(embedded_config(tmp_path), namespaces=(namespace,))  # no webhook at all
    zone = f"nohook-{uuid.uuid4().hex[:6]}.example"
    with operator_running(control_plane.kubeconfig, config):
        apply(control_plane, namespace, [zone_doc("zone", zone)])
        created = _create(control_plane, namespace, site_doc("www", f"www.{zone}", "192.0.2.70"))
        assert FINALIZER not in (created["metadata"].get("finalizers") or [])
        wait_until(lambda: _ready(control_plane, namespace, "site", "www"), 60, "www Ready")
        found = _get(control_plane, namespace, "site", "www")
        assert found is not None and FINALIZER in found["metadata"]["finalizers"]
        assert _finalizer_writers(found) == ["Python"], "the operator's PATCH (aiohttp: manager Python) owns it"
        assert ("www", "A", "192.0.2.70") in served(tmp_path / "zones", zone)
        control_plane.kubectl("delete", "site", "www", "-n", namespace, "--wait=false")
        wait_until(lambda: _get(control_plane, namespace, "site", "www") is None, 60, "www released")
        assert not any(name == "www" for name, _, _ in served(tmp_path / "zones", zone))
