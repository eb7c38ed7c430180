"""A world for the dashboard API's tests: two tenants' objects made by the real operator on the real
control plane, then the operator stopped, so the database holds still while the API is probed.

- ``v`` (the viewer's namespace): alice may read everything in it (the built-in ``view``), bob may
  edit DNS there (``siteplane:dns-editor``) and sees no Site. Its zone lets ``o`` publish in it.
- ``o`` (another tenant): nobody above may see anything of it; its Site ``intruder`` publishes into
  v's zone, so v's zone holds a record set whose owner alice and bob must never learn.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from harness.controlplane.cluster import USERS, ControlPlane
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import operator_running
from siteplane.config import Config
from siteplane.dashboard.app import create_app
from siteplane.store.database import make_engine
from siteplane.store.models import Base, History, Record, Site, Zone
from tests.reconcile_support import apply, objects, wait_all, wait_until

REPO = Path(__file__).resolve().parents[1]
ROLES = REPO / "manifests" / "rbac" / "roles.yaml"
PLURALS = {"Site": "sites", "DNSZone": "dnszones", "DNSRecord": "dnsrecords"}
Key = tuple[str, str, str]  # (kind, namespace, name)


def binding_doc(name: str, role: str, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


def groups_of(user: str) -> list[str]:
    return [*next(u.groups for u in USERS if u.name == user), "system:authenticated"]


def may_get(plane: ControlPlane, user: str, key: Key) -> bool:
    """The apiserver's own answer (a SubjectAccessReview): may ``user`` get this object?"""
    kind, namespace, name = key
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": groups_of(user),
            "resourceAttributes": {
                "group": "siteplane.io",
                "resource": PLURALS[kind],
                "verb": "get",
                "namespace": namespace,
                "name": name,
            },
        },
    }
    result = plane.kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(review))
    return bool(json.loads(result.stdout)["status"].get("allowed"))


@dataclass
class DashboardWorld:
    plane: ControlPlane
    config: Config
    v: str
    o: str
    secret: str
    """A word in every name of o's that v's people could otherwise learn; it must never reach them."""
    keys: set[Key] = field(default_factory=set)
    """Every object the database has heard of (live or deleted), by kind, namespace and name."""
    live: set[Key] = field(default_factory=set)

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.plane.token(user)}"}

    @contextlib.contextmanager
    def client(self) -> Iterator[TestClient]:
        with TestClient(create_app(self.config)) as client:
            yield client

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table: a request that wrote anything would change it."""
        engine = make_engine(self.config.database_url)
        try:
            with engine.connect() as conn:
                return {
                    table.name: sorted((tuple(str(v) for v in row) for row in conn.execute(sa.select(table))), key=str)
                    for table in Base.metadata.sorted_tables
                }
        finally:
            engine.dispose()

    def visible_to(self, user: str) -> set[Key]:
        """What ``user`` may get of everything the database has heard of, by SubjectAccessReview."""
        return {key for key in sorted(self.keys) if may_get(self.plane, user, key)}


@contextlib.contextmanager
def dashboard_world(plane: ControlPlane, database_url: str, workdir: Path) -> Iterator[DashboardWorld]:
    suffix = uuid.uuid4().hex[:6]
    v, o, secret = f"dv-{suffix}", f"do-{suffix}", f"hidden{suffix}"
    for ns in (v, o):
        plane.kubectl("create", "namespace", ns)
    plane.kubectl("apply", "--server-side", "-f", str(ROLES))
    config = Config(database_url=database_url, zone_dir=str(workdir / "zones"), namespaces=(v, o))
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(plane.kubeconfig)  # the API's own client reviews tokens with it
    world = DashboardWorld(plane, config, v, o, secret)
    try:
        with operator_running(plane.kubeconfig, config):
            apply(
                plane,
                v,
                [
                    binding_doc("alice-views", "view", "alice"),
                    binding_doc("bob-edits-dns", "siteplane:dns-editor", "bob"),
                    zone_doc("zone", f"{v}.example", publishers=[{"namespace": o, "names": ["x"]}]),
                    site_doc("www", f"www.{v}.example", "192.0.2.1", aliases=[f"shop.{v}.example"], customer="acme"),
                    site_doc("blog", f"blog.{v}.example", "192.0.2.2", customer="a_c", plan="business"),
                    site_doc("gone", f"gone.{v}.example", "192.0.2.3"),
                    record_doc("mail", f"{v}.example", "@", "MX", [{"preference": 10, "host": f"mail.{v}.example"}]),
                    record_doc("dmarc", f"{v}.example", "_dmarc", "TXT", ["v=DMARC1; p=none"]),
                ],
            )
            apply(
                plane,
                o,
                [
                    zone_doc("zone", f"{secret}.example"),
                    site_doc("www", f"www.{secret}.example", "198.51.100.1", customer=f"{secret}-customer"),
                    site_doc(f"intruder-{secret}", f"x.{v}.example", "198.51.100.2"),
                    record_doc(f"txt-{secret}", f"{secret}.example", "www", "TXT", [secret]),
                ],
            )
            for ns in (v, o):
                for plural in ("dnszones", "sites", "dnsrecords"):
                    wait_all(plane, ns, plural)
            plane.kubectl("delete", "site", "gone", "-n", v)
            engine = make_engine(database_url)
            try:

                def settled() -> bool:
                    with engine.connect() as conn:
                        gone = conn.execute(sa.select(Site.deleted_at).where(Site.name == "gone")).scalar()
                    return gone is not None and "gone" not in {
                        s["metadata"]["name"] for s in objects(plane, v, "sites")
                    }

                wait_until(settled, 60, "Site gone deleted")
                with engine.connect() as conn:
                    for model, kind in ((Site, "Site"), (Zone, "DNSZone"), (Record, "DNSRecord")):
                        for ns, name, deleted in conn.execute(sa.select(model.namespace, model.name, model.deleted_at)):
                            world.keys.add((kind, ns, name))
                            if deleted is None:
                                world.live.add((kind, ns, name))
                    for kind, ns, name in conn.execute(
                        sa.select(History.object_kind, History.object_namespace, History.object_name)
                    ):
                        world.keys.add((kind, ns, name))
            finally:
                engine.dispose()
        # The operator is stopped: nothing writes the database while the API is probed.
        yield world
    finally:
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
        for ns in (v, o):
            # Nobody runs the finalizers now: take them off, so the namespaces really go.
            for plural in ("sites", "dnsrecords", "dnszones"):
                for item in objects(plane, ns, plural):
                    plane.kubectl(
                        "patch", plural, item["metadata"]["name"], "-n", ns, "--type=merge",
                        "-p", '{"metadata":{"finalizers":null}}', check=False,
                    )  # fmt: skip
            plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)
