"""Changes through the dashboard API on the real control plane, with the operator and its admission
webhook running, and the API running as its own ServiceAccount with only manifests/dashboard's
RBAC: every write is the caller's, judged by RBAC, the CRD schema with CEL and the webhook; a
namespace Git owns takes none; the API's own identity can write nothing; no token leaks."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from harness.controlplane.cluster import ControlPlane
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import operator_running
from harness.server import free_port
from siteplane.config import Config
from siteplane.dashboard.app import create_app
from siteplane.dashboard.routes.writes import GITOPS_PROBLEM
from siteplane.kube.client import KubeClient
from siteplane.store.migrate import upgrade
from tests.reconcile_support import apply, condition, remove_webhook_configurations, wait_until

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "manifests" / "rbac" / "roles.yaml"
DASHBOARD_RBAC = REPO / "manifests" / "dashboard"
PLURALS = ("sites", "dnszones", "dnsrecords")
SEGMENT = {"sites": "sites", "dnszones": "zones", "dnsrecords": "records"}
NS1 = ["ns1.hosting.example.net"]


@dataclass
class World:
    plane: ControlPlane
    api: TestClient
    a: str  # team-a: alice edits sites, bob DNS, frank both; erin only views
    b: str  # tenant-b: dave's; its zone lets nobody else publish
    g: str  # Git owns it (siteplane.io/managed-by-gitops: "true"); frank may edit there
    suffix: str
    sa_kubeconfig: Path  # the API's own ServiceAccount

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.plane.token(user)}"}

    def call(self, user: str, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
        return self.api.request(method, path, json=body, params=params or None, headers=self.headers(user))

    def zone_name(self, tag: str) -> str:
        return f"{tag}-{self.suffix}.example"

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        result = self.plane.kubectl(
            "get", plural, name, "-n", namespace, "-o", "json", "--show-managed-fields", check=False
        )
        if result.returncode != 0:
            assert "NotFound" in result.stderr, result.stderr
            return None
        return dict(json.loads(result.stdout))

    def snapshot(self, namespace: str) -> dict[tuple[str, str], tuple[Any, ...]]:
        """What a write could change, of every siteplane object in ``namespace`` (not status: the
        operator writes that)."""
        found: dict[tuple[str, str], tuple[Any, ...]] = {}
        for plural in PLURALS:
            items = json.loads(self.plane.kubectl("get", plural, "-n", namespace, "-o", "json").stdout)["items"]
            for item in items:
                meta = item["metadata"]
                found[(plural, meta["name"])] = (
                    meta["uid"],
                    meta["generation"],
                    json.dumps(item["spec"], sort_keys=True),
                    meta.get("deletionTimestamp"),
                    json.dumps(meta.get("labels"), sort_keys=True),
                    json.dumps(meta.get("annotations"), sort_keys=True),
                )
        return found


def _managers(obj: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["manager"], m["operation"]) for m in obj["metadata"].get("managedFields") or []}


def _gone(world: World, plural: str, namespace: str, name: str) -> Callable[[], bool]:
    return lambda: world.get(plural, namespace, name) is None


def _wait_for_webhook(plane: ControlPlane, name: str) -> None:
    def configured() -> bool:
        result = plane.kubectl("get", "validatingwebhookconfiguration", name, "-o", "json", check=False)
        if result.returncode != 0:
            return False
        hooks = json.loads(result.stdout).get("webhooks") or []
        return len(hooks) == 4 and all(h["clientConfig"].get("caBundle") for h in hooks)

    wait_until(configured, 60, f"ValidatingWebhookConfiguration {name} with a caBundle")


def _bind(plane: ControlPlane, namespace: str, name: str, role: str, *subject: str) -> None:
    plane.kubectl("create", "rolebinding", name, f"--clusterrole={role}", *subject, "-n", namespace)


@pytest.fixture(scope="module")
def world(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    plane = control_plane
    suffix = uuid.uuid4().hex[:6]
    a, b, g = f"wa-{suffix}", f"wb-{suffix}", f"wg-{suffix}"
    for ns in (a, b, g):
        plane.kubectl("create", "namespace", ns)
    plane.kubectl("annotate", "namespace", g, "siteplane.io/managed-by-gitops=true")
    plane.kubectl("apply", "--server-side", "-f", str(ROLES))
    plane.kubectl("apply", "-f", str(DASHBOARD_RBAC))
    _bind(plane, a, "site-team", "siteplane:site-editor", "--group=site-team")
    _bind(plane, a, "dns-team", "siteplane:dns-editor", "--group=dns-team")
    _bind(plane, a, "erin-sites", "siteplane:site-viewer", "--user=erin")
    _bind(plane, a, "erin-dns", "siteplane:dns-viewer", "--user=erin")
    _bind(plane, b, "tenant-b-sites", "siteplane:site-editor", "--group=tenant-b")
    _bind(plane, b, "tenant-b-dns", "siteplane:dns-editor", "--group=tenant-b")
    _bind(plane, g, "frank-sites", "siteplane:site-editor", "--user=frank")
    _bind(plane, g, "frank-dns", "siteplane:dns-editor", "--user=frank")

    directory = tmp_path_factory.mktemp("dashboard-writes")
    url = f"sqlite:///{directory / 'siteplane.db'}"
    upgrade(url)
    webhook = f"writes-{suffix}.siteplane.io"
    config = Config(
        namespaces=(a, b, g),
        database_url=url,
        zone_dir=str(directory / "zones"),
        webhook_listen=f"127.0.0.1:{free_port()}",
        webhook_configuration=webhook,
    )
    sa_kubeconfig = plane.service_account_kubeconfig(
        "siteplane-system", "siteplane-dashboard", directory / "dashboard.kubeconfig"
    )
    try:
        with operator_running(plane.kubeconfig, config):
            _wait_for_webhook(plane, webhook)
            # Tenant b's zone lets no one else publish; Git's namespace holds one of each kind.
            apply(plane, b, [zone_doc("zone", f"b-{suffix}.example")])
            g_zone = f"g-{suffix}.example"
            apply(
                plane,
                g,
                [
                    zone_doc("zone", g_zone),
                    site_doc("www", f"www.{g_zone}", "192.0.2.1"),
                    record_doc("mail", g_zone, "mail", "A", ["192.0.2.25"]),
                ],
            )
            plane.kubectl("wait", "-n", b, "dnszone/zone", "--for=condition=Ready", "--timeout=60s")
            with _api_as(sa_kubeconfig, config) as client:
                world = World(plane, client, a, b, g, suffix, sa_kubeconfig)
                _wait_for_mirror(world)
                yield world
    finally:
        # A webhook nobody serves would slow every later write (failurePolicy Ignore still waits).
        remove_webhook_configurations(plane, webhook)
        for ns in (a, b, g):
            plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@contextlib.contextmanager
def _api_as(kubeconfig: Path, config: Config) -> Iterator[TestClient]:
    """The API as it is deployed: its credentials (read once, at start) are its ServiceAccount's.
    $KUBECONFIG is put back at once: the in-process operator reads it too, on a re-login."""
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(kubeconfig)
    try:
        client = TestClient(create_app(config))
        client.__enter__()
    finally:
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
    try:
        yield client
    finally:
        client.__exit__(None, None, None)


def _wait_for_mirror(world: World) -> None:
    """Until the operator has mirrored the bindings and Git's annotation into the database."""

    def mirrored() -> bool:
        frank = world.call("frank", "GET", "/api/v1/me").json()
        erin = world.call("erin", "GET", "/api/v1/me").json()
        in_g = [p["namespace"] for p in frank["permissions"]["sites"]["namespaces"]]
        in_a = [p["namespace"] for p in erin["permissions"]["dnsrecords"]["namespaces"]]
        return world.g in frank["gitopsNamespaces"] and world.g in in_g and world.a in in_a

    wait_until(mirrored, 60, "the RBAC mirror and the GitOps annotation in the database")


# -- bodies -----------------------------------------------------------------------------------------


def site_spec(domain: str, ipv4: str = "192.0.2.1", **more: Any) -> dict[str, Any]:
    return {"primaryDomain": domain, "serving": {"ipv4": [ipv4]}, **more}


def zone_spec(zone: str, **more: Any) -> dict[str, Any]:
    return {"zoneName": zone, "nameServers": NS1, **more}


def record_spec(zone: str, name: str = "mail", address: str = "192.0.2.25", **more: Any) -> dict[str, Any]:
    return {"zone": zone, "name": name, "type": "A", "a": [address], **more}


def _standing(world: World, tag: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """One zone, site and record in team-a made by the admin with kubectl: plural -> (name, spec)."""
    zone = world.zone_name(tag)
    made = {
        "dnszones": (f"{tag}-zone", zone_spec(zone)),
        "sites": (f"{tag}-www", site_spec(f"www.{zone}")),
        "dnsrecords": (f"{tag}-mail", record_spec(zone)),
    }
    kinds = {"dnszones": "DNSZone", "sites": "Site", "dnsrecords": "DNSRecord"}
    apply(
        world.plane,
        world.a,
        [
            {"apiVersion": "siteplane.io/v1alpha1", "kind": kinds[p], "metadata": {"name": n}, "spec": s}
            for p, (n, s) in made.items()
        ],
    )
    return made


def _every_write(
    world: World, namespace: str, made: dict[str, tuple[str, dict[str, Any]]], tag: str
) -> Iterator[tuple[str, str, str, Any]]:
    """(what, method, path, body) for every write of every kind, on ``made`` and on new names."""
    for plural, (name, spec) in made.items():
        segment = SEGMENT[plural]
        yield f"create {plural}", "POST", f"/api/v1/{segment}/{namespace}", {"name": f"{tag}-new", "spec": spec}
        changed = dict(spec, **({"ttl": 600} if plural != "dnszones" else {"defaultTTL": 600}))
        yield f"update {plural}", "PUT", f"/api/v1/{segment}/{namespace}/{name}", {"spec": changed}
        yield f"delete {plural}", "DELETE", f"/api/v1/{segment}/{namespace}/{name}", None
    site = made["sites"][0]
    yield "suspend", "POST", f"/api/v1/sites/{namespace}/{site}/suspend", None
    yield "resume", "POST", f"/api/v1/sites/{namespace}/{site}/resume", None


class _SentAs:
    """Records every request any KubeClient sends with one of ``tokens`` (the real request still
    goes out): what the API sent to Kubernetes as a caller."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tokens: list[str]) -> None:
        self.sent: list[tuple[str, str]] = []
        headers = {f"Bearer {t}" for t in tokens}
        original = KubeClient.request

        async def request(client: KubeClient, method: str, path: str, **kwargs: Any) -> Any:
            if client.credentials.authorization() in headers:
                self.sent.append((method, path))
            return await original(client, method, path, **kwargs)

        monkeypatch.setattr(KubeClient, "request", request)


# -- the tests --------------------------------------------------------------------------------------


def test_editors_create_update_suspend_resume_and_delete_and_kubectl_sees_it(world: World) -> None:
    a, zone = world.a, world.zone_name("life")
    created = world.call("bob", "POST", f"/api/v1/zones/{a}", {"name": "zone", "spec": zone_spec(zone)})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/api/v1/zones/{a}/zone"
    assert created.json()["kind"] == "DNSZone" and created.json()["dryRun"] is False
    site = {"name": "www", "spec": site_spec(f"www.{zone}", aliases=[f"shop.{zone}"], customer="acme")}
    assert world.call("alice", "POST", f"/api/v1/sites/{a}", site).status_code == 201
    record = {"name": "mail", "spec": record_spec(zone)}
    assert world.call("bob", "POST", f"/api/v1/records/{a}", record).status_code == 201

    for plural, name in (("dnszones", "zone"), ("sites", "www"), ("dnsrecords", "mail")):
        obj = world.get(plural, a, name)
        assert obj is not None, f"{plural}/{name} is there for kubectl"
        assert ("siteplane-dashboard", "Apply") in _managers(obj), obj["metadata"]["managedFields"]
    assert world.get("sites", a, "www")["spec"]["aliases"] == [f"shop.{zone}"]  # type: ignore[index]
    world.plane.kubectl("wait", "-n", a, "site/www", "--for=condition=Ready", "--timeout=60s")

    # The whole spec, applied: what the dashboard set and leaves out goes; what changed, changes.
    update = {"spec": site_spec(f"www.{zone}", ipv4="192.0.2.2", customer="acme")}
    updated = world.call("alice", "PUT", f"/api/v1/sites/{a}/www", update)
    assert updated.status_code == 200, updated.text
    assert updated.json()["spec"] == update["spec"] and updated.json()["generation"] == 2
    seen = world.get("sites", a, "www")
    assert seen is not None and seen["spec"] == update["spec"]

    suspended = world.call("alice", "POST", f"/api/v1/sites/{a}/www/suspend")
    assert suspended.status_code == 200 and suspended.json()["spec"]["suspended"] is True
    seen = world.get("sites", a, "www")
    assert seen is not None and seen["spec"]["suspended"] is True
    assert ("siteplane-dashboard", "Update") in _managers(seen)  # the one field, by a merge patch
    assert seen["spec"]["primaryDomain"] == f"www.{zone}"  # nothing else lost

    def reason_is(expected: str) -> Callable[[], bool]:
        return lambda: condition(world.get("sites", a, "www") or {}).get("reason") == expected

    wait_until(reason_is("Suspended"), 60, "the operator to see the Site suspended")
    resumed = world.call("alice", "POST", f"/api/v1/sites/{a}/www/resume")
    assert resumed.status_code == 200 and resumed.json()["spec"]["suspended"] is False
    wait_until(reason_is("Published"), 60, "the operator to publish the Site again")

    zone_update = {"spec": zone_spec(zone, defaultTTL=600)}
    assert world.call("bob", "PUT", f"/api/v1/zones/{a}/zone", zone_update).status_code == 200
    record_update = {"spec": record_spec(zone, ttl=120)}
    assert world.call("bob", "PUT", f"/api/v1/records/{a}/mail", record_update).status_code == 200
    assert world.get("dnszones", a, "zone")["spec"]["defaultTTL"] == 600  # type: ignore[index]
    assert world.get("dnsrecords", a, "mail")["spec"]["ttl"] == 120  # type: ignore[index]

    for user, segment, plural, name in (
        ("bob", "records", "dnsrecords", "mail"),
        ("alice", "sites", "sites", "www"),
        ("bob", "zones", "dnszones", "zone"),
    ):
        deleted = world.call(user, "DELETE", f"/api/v1/{segment}/{a}/{name}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["dryRun"] is False
        wait_until(_gone(world, plural, a, name), 60, f"{plural}/{name} to go")


def test_a_dry_run_changes_nothing(world: World) -> None:
    a = world.a
    made = _standing(world, "dry")
    before = world.snapshot(a)
    zone = world.zone_name("dry-new")
    for segment, plural, spec in (
        ("zones", "dnszones", zone_spec(zone)),
        ("sites", "sites", site_spec(f"www.{zone}")),
        ("records", "dnsrecords", record_spec(zone)),
    ):
        user = "alice" if plural == "sites" else "bob"
        answer = world.call(user, "POST", f"/api/v1/{segment}/{a}", {"name": "dry-new", "spec": spec}, dryRun="true")
        assert answer.status_code == 200, answer.text
        assert answer.json()["dryRun"] is True and answer.json()["spec"] == spec
        assert world.get(plural, a, "dry-new") is None

        name, old = made[plural]
        changed = dict(old, ttl=77) if plural != "dnszones" else dict(old, defaultTTL=77)
        answer = world.call(user, "PUT", f"/api/v1/{segment}/{a}/{name}", {"spec": changed}, dryRun="true")
        assert answer.status_code == 200, answer.text
        assert answer.json()["spec"] == changed and answer.json()["dryRun"] is True

        answer = world.call(user, "DELETE", f"/api/v1/{segment}/{a}/{name}", dryRun="true")
        assert answer.status_code == 200 and answer.json()["dryRun"] is True
    site = made["sites"][0]
    answer = world.call("alice", "POST", f"/api/v1/sites/{a}/{site}/suspend", dryRun="true")
    assert answer.status_code == 200 and answer.json()["spec"]["suspended"] is True
    assert world.snapshot(a) == before


@pytest.mark.parametrize(
    ("user", "plurals"),
    [
        ("dave", PLURALS),  # another tenant
        ("erin", PLURALS),  # may view, not change
        ("carol", PLURALS),  # manages access grants, nothing else
        ("alice", ("dnszones", "dnsrecords")),  # a site person, on DNS
        ("bob", ("sites",)),  # a DNS person, on sites
    ],
)
def test_a_caller_without_rights_gets_403_for_every_write_and_nothing_changes(
    world: World, user: str, plurals: tuple[str, ...]
) -> None:
    made = _standing(world, f"no-{user}")
    before = world.snapshot(world.a)
    tried = 0
    for what, method, path, body in _every_write(world, world.a, made, f"no-{user}"):
        if what.split()[-1] not in plurals and not (what in ("suspend", "resume") and "sites" in plurals):
            continue
        for params in ({}, {"dryRun": "true"}):
            answer = world.call(user, method, path, body, **params)
            assert answer.status_code == 403, f"{user} {what} {params}: {answer.status_code} {answer.text}"
            assert answer.headers["content-type"] == "application/problem+json"
            assert "forbidden" in answer.json()["detail"] and user in answer.json()["detail"], answer.text
            tried += 1
    assert tried == 2 * (3 * len(plurals) + (2 if "sites" in plurals else 0))
    assert world.snapshot(world.a) == before


def test_a_cel_refusal_is_a_422_naming_the_field(world: World) -> None:
    """Immutability is a CEL transition rule: only the API server can judge it (the models see no
    old object), so this is its refusal, relayed."""
    a, zone = world.a, world.zone_name("cel")
    for segment, spec in (("zones", zone_spec(zone)), ("records", record_spec(zone))):
        made = world.call("bob", "POST", f"/api/v1/{segment}/{a}", {"name": "cel", "spec": spec})
        assert made.status_code == 201, made.text
    answer = world.call("bob", "PUT", f"/api/v1/zones/{a}/cel", {"spec": zone_spec("moved.example")})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert [e["location"] for e in problem["errors"]] == ["spec.zoneName"]
    assert "zoneName is immutable" in problem["errors"][0]["message"]
    assert problem["errors"][0]["reason"] == "FieldValueInvalid"
    answer = world.call("bob", "PUT", f"/api/v1/records/{a}/cel", {"spec": record_spec("moved.example")})
    assert answer.status_code == 422 and answer.json()["errors"][0]["location"] == "spec.zone", answer.text
    assert world.get("dnszones", a, "cel")["spec"]["zoneName"] == zone  # type: ignore[index]


def test_a_malformed_body_is_a_422_naming_the_field_without_a_round_trip(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _SentAs(monkeypatch, [world.plane.token("alice")])
    a, zone = world.a, world.zone_name("bad")
    cases: list[tuple[Any, str]] = [
        (
            {"name": "x", "spec": site_spec(f"www.{zone}", serving={"ipv4": ["192.0.2.1"], "cname": "x.example"})},
            "spec.serving",
        ),
        ({"name": "x", "spec": site_spec(f"www.{zone}", ipv4="192.0.2.300")}, "spec.serving.ipv4[0]"),
        ({"name": "x", "spec": site_spec(f"www.{zone}", colour="blue")}, "spec.colour"),
        ({"name": "x", "spec": {"serving": {"cname": "x.example"}}}, "spec.primaryDomain"),
        ({"name": "Not_A_Name", "spec": site_spec(f"www.{zone}")}, "name"),
        ({"spec": site_spec(f"www.{zone}")}, "name"),
    ]
    for body, location in cases:
        answer = world.call("alice", "POST", f"/api/v1/sites/{a}", body)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert location in [e["location"] for e in answer.json()["errors"]], answer.text
    answer = world.api.post(
        f"/api/v1/sites/{a}",
        content=b"{not json",
        headers={**world.headers("alice"), "content-type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert spy.sent == []


def test_a_webhook_refusal_comes_back_as_the_apiserver_gave_it(world: World) -> None:
    a, theirs = world.a, f"www.b-{world.suffix}.example"
    body = {"name": "theirs", "spec": site_spec(theirs)}
    doc = site_doc("theirs", theirs, "192.0.2.1")
    kubectl = world.plane.kubectl("create", "-n", a, "-f", "-", user="alice", stdin=yaml.safe_dump(doc), check=False)
    assert kubectl.returncode != 0 and "denied the request" in kubectl.stderr, kubectl.stderr
    for params in ({}, {"dryRun": "true"}):
        answer = world.call("alice", "POST", f"/api/v1/sites/{a}", body, **params)
        assert answer.status_code == 403, answer.text
        detail = answer.json()["detail"]
        assert "denied the request: spec.primaryDomain: no zone that namespace" in detail
        assert detail in kubectl.stderr  # the same words kubectl shows
        assert world.b not in detail  # and, as the webhook words it, nothing of the other tenant
    assert world.get("sites", a, "theirs") is None


def test_conflicts_are_409(world: World) -> None:
    a = world.a
    made = _standing(world, "clash")
    name, spec = made["sites"]
    again = world.call("alice", "POST", f"/api/v1/sites/{a}", {"name": name, "spec": spec})
    assert again.status_code == 409 and f'sites.siteplane.io "{name}" already exists' in again.json()["detail"]

    current = world.get("sites", a, name)
    assert current is not None
    stale = {"spec": dict(spec, customer="mine"), "resourceVersion": "1"}
    answer = world.call("alice", "PUT", f"/api/v1/sites/{a}/{name}", stale)
    assert answer.status_code == 409 and "has been modified" in answer.json()["detail"], answer.text

    # Another field manager holds spec.customer with another value: the 409 says which, and who.
    world.plane.kubectl("patch", "site", name, "-n", a, "--type=merge", "-p", '{"spec":{"customer":"theirs"}}')
    mine = {"spec": dict(spec, customer="mine")}
    answer = world.call("alice", "PUT", f"/api/v1/sites/{a}/{name}", mine)
    assert answer.status_code == 409, answer.text
    assert [(e["location"], e["reason"]) for e in answer.json()["errors"]] == [
        ("spec.customer", "FieldManagerConflict")
    ]
    assert "kubectl-patch" in answer.json()["errors"][0]["message"]
    assert world.get("sites", a, name)["spec"]["customer"] == "theirs"  # type: ignore[index]
    # Taking it over is the caller's explicit choice.
    answer = world.call("alice", "PUT", f"/api/v1/sites/{a}/{name}", mine, force="true")
    assert answer.status_code == 200 and answer.json()["spec"]["customer"] == "mine", answer.text

    gone = world.call("alice", "PUT", f"/api/v1/sites/{a}/nothing-here", {"spec": spec})
    assert gone.status_code == 404, gone.text
    assert world.get("sites", a, "nothing-here") is None  # an update never creates
    assert world.call("alice", "POST", f"/api/v1/sites/{a}/nothing-here/suspend").status_code == 404
    assert world.call("alice", "DELETE", f"/api/v1/sites/{a}/nothing-here").status_code == 404


def test_a_namespace_git_owns_refuses_every_write_and_nothing_is_sent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = world.g
    made = {
        "dnszones": ("zone", zone_spec(f"g-{world.suffix}.example")),
        "sites": ("www", site_spec(f"www.g-{world.suffix}.example")),
        "dnsrecords": ("mail", record_spec(f"g-{world.suffix}.example")),
    }
    before = world.snapshot(g)
    assert set(before) == {(p, n) for p, (n, _) in made.items()}
    spy = _SentAs(monkeypatch, [world.plane.token("frank"), world.plane.token("dave")])
    writes = list(_every_write(world, g, made, "git"))
    for what, method, path, body in writes:
        for params in ({}, {"dryRun": "true"}):
            answer = world.call("frank", method, path, body, **params)
            assert answer.status_code == 409, f"{what}: {answer.text}"
            problem = answer.json()
            assert problem["type"] == GITOPS_PROBLEM
            assert "Git would undo" in problem["detail"] and "siteplane.io/managed-by-gitops" in problem["detail"]
            # Who may not see into the namespace learns nothing of it.
            answer = world.call("dave", method, path, body, **params)
            assert answer.status_code == 403, f"{what}: {answer.text}"
            assert "Git" not in answer.text
    assert len(writes) == 11
    assert spy.sent == []
    assert world.snapshot(g) == before


def test_the_apis_own_service_account_reviews_tokens_and_can_write_nothing(world: World) -> None:
    """The API in this module runs as this ServiceAccount, with only manifests/dashboard's RBAC: the
    writes the other tests saw succeed were carried by the callers' tokens alone."""

    def as_api(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", f"--kubeconfig={world.sa_kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert as_api("auth", "can-i", "create", "tokenreviews.authentication.k8s.io").stdout.strip() == "yes"
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": world.plane.token("alice")},
    }
    # --validate=false: kubectl's client-side check would list CRDs, which the API may not either.
    reviewed = as_api("create", "--validate=false", "-o", "json", "-f", "-", stdin=json.dumps(review))
    assert reviewed.returncode == 0, reviewed.stderr
    assert json.loads(reviewed.stdout)["status"]["user"]["username"] == "alice"
    for plural in (*PLURALS, "accessgrants"):
        for verb in ("create", "update", "patch", "delete", "deletecollection"):
            for scope in (["-n", world.a], ["-A"]):
                answer = as_api("auth", "can-i", verb, f"{plural}.siteplane.io", *scope).stdout.strip()
                assert answer == "no", f"the API's ServiceAccount may {verb} {plural} {scope}"
    for verb in ("create", "update", "patch", "delete"):
        assert as_api("auth", "can-i", verb, "dnsbackends.siteplane.io").stdout.strip() == "no"
    for verb in ("get", "list"):
        assert as_api("auth", "can-i", verb, "secrets", "-A").stdout.strip() == "no"
    zone = world.zone_name("sa")
    docs = [zone_doc("sa-zone", zone), site_doc("sa-www", f"www.{zone}", "192.0.2.1")]
    for manifest in docs:
        for command, verb in (
            (["create"], "create"),
            (["apply", "--server-side", "--field-manager=siteplane-dashboard"], "patch"),
        ):
            tried = as_api(*command, "--validate=false", "-n", world.a, "-f", "-", stdin=yaml.safe_dump(manifest))
            assert tried.returncode != 0 and f"cannot {verb} resource" in tried.stderr, tried.stderr
    assert world.get("dnszones", world.a, "sa-zone") is None and world.get("sites", world.a, "sa-www") is None


def test_no_token_appears_in_any_answer_or_log_line(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    a, zone = world.a, world.zone_name("tok")
    bogus = "sp-" + uuid.uuid4().hex * 4
    answers = [
        world.call("bob", "POST", f"/api/v1/zones/{a}", {"name": "tok", "spec": zone_spec(zone)}),
        world.call("alice", "POST", f"/api/v1/sites/{a}", {"name": "tok", "spec": site_spec(f"www.{zone}")}),
        world.call("alice", "POST", f"/api/v1/sites/{a}", {"name": "tok", "spec": site_spec(f"www.{zone}")}),
        world.call("alice", "POST", f"/api/v1/zones/{a}", {"name": "x", "spec": zone_spec(zone)}),
        world.call("bob", "PUT", f"/api/v1/zones/{a}/tok", {"spec": zone_spec("moved.example")}),
        world.call("alice", "POST", f"/api/v1/sites/{a}", {"name": "x", "spec": {"primaryDomain": "x"}}),
        world.call("frank", "DELETE", f"/api/v1/sites/{world.g}/www"),
        world.call("alice", "DELETE", f"/api/v1/sites/{a}/nothing-here", dryRun="true"),
        world.call("alice", "POST", f"/api/v1/sites/{a}/tok/suspend", dryRun="true"),
        world.api.post(f"/api/v1/sites/{a}", json={}, headers={"Authorization": f"Bearer {bogus}"}),
        world.api.delete(f"/api/v1/zones/{a}/tok", headers={"Authorization": f"Bearer {bogus}"}),
    ]
    assert [r.status_code for r in answers] == [201, 201, 409, 403, 422, 422, 409, 404, 200, 401, 401]
    assert any("alice: create sites" in r.getMessage() for r in caplog.records), "the API logs its writes"
    tokens = [world.plane.token(u) for u in ("alice", "bob", "frank")] + [bogus]
    for token in tokens:
        for answer in answers:
            assert token not in answer.text and token not in str(answer.headers)
        for record in caplog.records:
            assert token not in record.getMessage() and token not in (record.exc_text or "")
        assert token not in caplog.text
