"""The dashboard API answers on the real control plane: who calls, and what they may see."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from harness.controlplane.cluster import ControlPlane
from harness.manifests import site_doc, zone_doc
from harness.operator_runner import operator_running
from siteplane.config import Config
from siteplane.dashboard.app import create_app
from siteplane.store.migrate import upgrade
from tests.reconcile_support import apply, wait_all

pytestmark = pytest.mark.cluster
ROLES = Path(__file__).resolve().parents[2] / "manifests" / "rbac" / "roles.yaml"


@pytest.fixture
def api(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(url)
    config = Config(database_url=url, zone_dir=str(tmp_path / "zones"), namespaces=(namespace,))
    control_plane.kubectl("apply", "--server-side", "-f", str(ROLES))
    control_plane.kubectl(
        "create",
        "rolebinding",
        "site-team",
        "--clusterrole=siteplane:site-viewer",
        "--group=site-team",
        "-n",
        namespace,
    )
    with operator_running(control_plane.kubeconfig, config):
        apply(
            control_plane,
            namespace,
            [zone_doc("zone", f"{namespace}.example"), site_doc("www", f"www.{namespace}.example", "192.0.2.1")],
        )
        wait_all(control_plane, namespace, "sites")
        os.environ["KUBECONFIG"] = str(control_plane.kubeconfig)
        with TestClient(create_app(config)) as client:
            yield client


def _as(plane: ControlPlane, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plane.token(user)}"}


def test_a_site_person_sees_the_site_and_a_dns_person_does_not(
    api: TestClient, control_plane: ControlPlane, namespace: str
) -> None:
    assert api.get("/api/v1/sites").status_code == 401
    assert api.get("/api/v1/sites", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    alice = api.get("/api/v1/sites", headers=_as(control_plane, "alice")).json()
    assert [s["name"] for s in alice["items"]] == ["www"]
    assert alice["items"][0]["ready"]["status"] == "True"
    assert api.get(f"/api/v1/sites/{namespace}/www", headers=_as(control_plane, "alice")).status_code == 200
    bob = api.get("/api/v1/sites", headers=_as(control_plane, "bob")).json()
    assert bob["items"] == []
    hidden = api.get(f"/api/v1/sites/{namespace}/www", headers=_as(control_plane, "bob"))
    missing = api.get(f"/api/v1/sites/{namespace}/nothing", headers=_as(control_plane, "bob"))
    assert hidden.status_code == missing.status_code == 404 and hidden.json() == missing.json()
    assert hidden.headers["content-type"] == "application/problem+json"
    me = api.get("/api/v1/me", headers=_as(control_plane, "alice")).json()
    assert me["user"] == "alice" and "site-team" in me["groups"]
    assert me["permissions"]["sites"]["namespaces"] == [{"namespace": namespace, "verbs": ["get", "list", "watch"]}]
