"""Every state a GitOps tool can find siteplane's objects in, produced for real and captured.

On the real control plane, with the operator in-process (SQLite, zone files) for two fresh
namespaces: objects before the operator has seen them, Ready ones, each terminal problem that can
be reached without a DNS server of its own, objects still in progress, a generation not yet
observed, and a deletion held by the finalizer. Each is read back as the apiserver serves it.

Used by tests/cluster/test_gitops_health.py (kstatus and the Argo CD health checks on the live
objects) and, as a script, to (re)write Argo CD's testdata/ and health_test.yaml::

    python -m tests.gitops_states        # its own control plane; writes manifests/argocd/...
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.bind import BindServer
from harness.controlplane.cluster import ControlPlane
from harness.dns_targets import BindTarget
from harness.manifests import backend_doc, record_doc, site_doc, zone_doc
from harness.operator_runner import operator_running
from harness.paths import REPO_ROOT
from harness.server import free_port
from siteplane.config import Config
from siteplane.store.migrate import upgrade
from tests.argocd_lua import CUSTOMIZATIONS, ROOT
from tests.reconcile_support import apply, condition, remove_webhook_configurations, wait_past_creation, wait_until

GROUP = "siteplane.io/v1alpha1"
RBAC_ROLES = REPO_ROOT / "manifests" / "rbac" / "roles.yaml"
PLURALS = {
    "Site": "sites",
    "DNSZone": "dnszones",
    "DNSRecord": "dnsrecords",
    "AccessGrant": "accessgrants",
    "DNSBackend": "dnsbackends",
}
KSTATUS_TO_ARGO = {
    "Current": "Healthy",
    "InProgress": "Progressing",
    "Failed": "Degraded",
    "Terminating": "Progressing",
}
"""What each kstatus verdict is in Argo CD's words (a suspended Site: Suspended where kstatus says Current)."""


@dataclass(frozen=True)
class State:
    """One captured state: the object as read back, and the verdicts it must get."""

    name: str  # the testdata file's stem, Argo CD style: <health>_<what>
    kind: str
    obj: dict[str, Any]
    kstatus: str
    argo: str

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


def scrub(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as served, less managedFields (noise for a reader; no health check reads them)."""
    out = copy.deepcopy(obj)
    out.get("metadata", {}).pop("managedFields", None)
    return out


@dataclass
class _World:
    plane: ControlPlane
    a: str
    b: str
    suffix: str
    directory: Path
    bind: BindServer | None = None

    @property
    def webhook(self) -> str:
        return f"gitops-{self.suffix}.siteplane.io"  # kopf names each webhook <handler id>.<this>

    @property
    def zone(self) -> str:
        return f"gitops-{self.suffix}.example"

    def get(self, kind: str, name: str, namespace: str | None) -> dict[str, Any]:
        where = ["-n", namespace] if namespace else []
        return dict(json.loads(self.plane.kubectl("get", PLURALS[kind], name, *where, "-o", "json").stdout))

    def until(self, kind: str, name: str, namespace: str | None, check: Callable[[dict[str, Any]], bool]) -> None:
        found: dict[str, Any] = {}

        def done() -> bool:
            nonlocal found
            found = self.get(kind, name, namespace)
            return check(found)

        wait_until(done, 120, f"{kind} {name}", lambda: json.dumps(found.get("status"))[:2000])

    def until_ready(self, kind: str, name: str, namespace: str | None, status: str, reason: str) -> None:
        def check(obj: dict[str, Any]) -> bool:
            ready = condition(obj)
            observed = (obj.get("status") or {}).get("observedGeneration")
            return (ready.get("status"), ready.get("reason")) == (status, reason) and observed == obj["metadata"][
                "generation"
            ]

        self.until(kind, name, namespace, check)

    def config(self, webhook: bool = False) -> Config:
        url = f"sqlite:///{self.directory / 'siteplane.db'}"
        upgrade(url)
        return Config(
            database_url=url,
            zone_dir=str(self.directory / "zones"),
            namespaces=(self.a, self.b),
            backend_recheck_interval=2.0,
            webhook_listen=f"127.0.0.1:{free_port()}" if webhook else None,
            webhook_configuration=self.webhook,
        )

    def wait_for_webhook(self) -> None:
        def configured() -> bool:
            result = self.plane.kubectl(
                "get", "validatingwebhookconfiguration", self.webhook, "-o", "json", check=False
            )
            hooks = json.loads(result.stdout).get("webhooks") or [] if result.returncode == 0 else []
            return bool(hooks) and all(h["clientConfig"].get("caBundle") for h in hooks)

        wait_until(configured, 60, f"ValidatingWebhookConfiguration {self.webhook} with a caBundle")

    def remove_webhook(self) -> None:
        """A webhook nobody serves would refuse every later write it covers (failurePolicy Fail)."""
        remove_webhook_configurations(self.plane, self.webhook)


def _grant(name: str) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "AccessGrant",
        "metadata": {"name": name},
        "spec": {"subjects": [{"kind": "User", "name": "erin"}], "resources": ["sites"], "access": "view"},
    }


@contextmanager
def _namespaces(plane: ControlPlane) -> Iterator[tuple[str, str]]:
    names = (f"gitops-a-{uuid.uuid4().hex[:6]}", f"gitops-b-{uuid.uuid4().hex[:6]}")
    for name in names:
        plane.kubectl("create", "namespace", name)
    try:
        yield names
    finally:
        for name in names:
            plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def produce(plane: ControlPlane, directory: Path, bind: BindServer | None = None) -> list[State]:
    """Produce every state on ``plane`` and return each object as the apiserver serves it; with
    ``bind``, also a record set the DNS server refuses."""
    states: list[State] = []
    with _namespaces(plane) as (a, b):
        world = _World(plane, a, b, uuid.uuid4().hex[:6], directory, bind)
        backends = tuple(f"gitops-{what}-{world.suffix}" for what in ("usable", "unusable", "bind"))
        try:
            states += _before_the_operator(world, backends[0])
            with operator_running(plane.kubeconfig, world.config()):
                states += _with_the_operator(world, *backends)
            try:
                with operator_running(plane.kubeconfig, world.config(webhook=True)):
                    states.append(_through_the_webhook(world))
            finally:
                world.remove_webhook()
            states += _with_the_operator_stopped(world)
            with operator_running(plane.kubeconfig, world.config()):
                states.append(_after_a_restart(world))
        finally:
            _clean_up(world, backends)
    return states


def _take(world: _World, name: str, kind: str, obj_name: str, namespace: str | None, kstatus: str, argo: str) -> State:
    return State(name, kind, scrub(world.get(kind, obj_name, namespace)), kstatus, argo)


def _before_the_operator(world: _World, usable: str) -> list[State]:
    """Created while no operator runs: the apiserver alone says 'not yet observed'."""
    a = world.a
    apply(world.plane, a, [zone_doc("zone", world.zone)])
    apply(world.plane, a, [site_doc("ready", f"www.{world.zone}", "192.0.2.10")])
    apply(world.plane, a, [site_doc("suspended", f"paused.{world.zone}", "192.0.2.11", suspended=True)])
    apply(world.plane, a, [record_doc("ready", world.zone, "txt", "TXT", ["hello"]), _grant("not-admitted")])
    backend = backend_doc(usable, {"type": "zonefile", "zonefile": {"directory": str(world.directory / "usable")}})
    world.plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(backend))
    fresh: list[tuple[str, str, str | None]] = [
        ("Site", "ready", a),
        ("DNSZone", "zone", a),
        ("DNSRecord", "ready", a),
        ("AccessGrant", "not-admitted", a),
        ("DNSBackend", usable, None),
    ]
    return [
        _take(world, "progressing_not_yet_observed", kind, n, ns, "InProgress", "Progressing") for kind, n, ns in fresh
    ]


def _with_the_operator(world: _World, usable: str, unusable: str, bind_backend: str) -> list[State]:
    """Without the admission webhook, which would refuse the conflicts at the door."""
    plane, a, b, zone = world.plane, world.a, world.b, world.zone
    world.until_ready("DNSZone", "zone", a, "True", "Served")
    world.until_ready("Site", "ready", a, "True", "Published")
    world.until_ready("Site", "suspended", a, "True", "Suspended")
    world.until_ready("DNSRecord", "ready", a, "True", "Published")
    world.until_ready("AccessGrant", "not-admitted", a, "False", "NotAdmitted")
    world.until_ready("DNSBackend", usable, None, "True", "Usable")

    # Conflicts: each loser is strictly younger than what it collides with.
    apply(plane, a, [record_doc("holder", zone, "taken", "A", ["192.0.2.20"])])
    world.until_ready("DNSRecord", "holder", a, "True", "Published")
    wait_past_creation(plane, a, "dnsrecord/holder")
    apply(
        plane,
        a,
        [
            site_doc("conflict", f"www.{zone}", "192.0.2.30"),
            site_doc("name-conflict", f"taken.{zone}", "192.0.2.31"),
            site_doc("not-permitted", f"www.nowhere-{world.suffix}.example", "192.0.2.32"),
            {
                **site_doc("cname-apex", zone, "192.0.2.33"),
                "spec": {"primaryDomain": zone, "serving": {"cname": "cdn.example.net"}},
            },
            record_doc("name-conflict", zone, "taken", "A", ["192.0.2.21"]),
            record_doc("not-permitted", f"nowhere-{world.suffix}.example", "www", "A", ["192.0.2.22"]),
        ],
    )
    wait_past_creation(plane, a, "dnszone/zone")
    apply(plane, b, [zone_doc("duplicate", zone), zone_doc("refused", f"sub.{zone}")])
    missing = {"namespace": a, "name": "no-such-secret", "key": "tsig"}
    tsig = {"name": "siteplane-update", "algorithm": "hmac-sha256", "secretRef": missing}
    spec = {"type": "rfc2136", "rfc2136": {"server": "127.0.0.1", "port": 1, "tsig": tsig}}
    plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(backend_doc(unusable, spec)))
    apply(plane, a, [zone_doc("broken", f"broken-{world.suffix}.example", backend=unusable)])

    expected = [
        ("healthy_served", "DNSZone", "zone", a, ("True", "Served"), "Current", "Healthy"),
        ("healthy_published", "Site", "ready", a, ("True", "Published"), "Current", "Healthy"),
        ("suspended_suspended", "Site", "suspended", a, ("True", "Suspended"), "Current", "Suspended"),
        ("healthy_published", "DNSRecord", "ready", a, ("True", "Published"), "Current", "Healthy"),
        ("healthy_usable", "DNSBackend", usable, None, ("True", "Usable"), "Current", "Healthy"),
        ("degraded_not_admitted", "AccessGrant", "not-admitted", a, ("False", "NotAdmitted"), "Failed", "Degraded"),
        ("degraded_domain_conflict", "Site", "conflict", a, ("False", "DomainConflict"), "Failed", "Degraded"),
        ("degraded_name_conflict", "Site", "name-conflict", a, ("False", "NameConflict"), "Failed", "Degraded"),
        ("degraded_not_permitted", "Site", "not-permitted", a, ("False", "NotPermitted"), "Failed", "Degraded"),
        ("degraded_cname_at_apex", "Site", "cname-apex", a, ("False", "CNAMEAtApex"), "Failed", "Degraded"),
        ("degraded_name_conflict", "DNSRecord", "name-conflict", a, ("False", "NameConflict"), "Failed", "Degraded"),
        ("degraded_not_permitted", "DNSRecord", "not-permitted", a, ("False", "NotPermitted"), "Failed", "Degraded"),
        ("degraded_name_conflict", "DNSZone", "duplicate", b, ("False", "NameConflict"), "Failed", "Degraded"),
        ("degraded_delegation_refused", "DNSZone", "refused", b, ("False", "DelegationRefused"), "Failed", "Degraded"),
        ("progressing_unusable", "DNSBackend", unusable, None, ("False", "Unusable"), "InProgress", "Progressing"),
        (
            "progressing_backend_unavailable",
            "DNSZone",
            "broken",
            a,
            ("False", "BackendUnavailable"),
            "InProgress",
            "Progressing",
        ),
    ]
    if world.bind is not None:
        # BIND refuses more than max-records-per-type records in one set.
        bind_zone = f"bind-{world.suffix}.example"
        apply(plane, a, BindTarget(world.bind).manifests(bind_backend, a))
        apply(plane, a, [zone_doc("on-bind", bind_zone, backend=bind_backend)])
        world.until_ready("DNSZone", "on-bind", a, "True", "Served")
        addresses = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(101)]
        apply(plane, a, [record_doc("refused", bind_zone, "pool", "A", addresses)])
        expected.append(
            (
                "degraded_rejected_by_server",
                "DNSRecord",
                "refused",
                a,
                ("False", "RejectedByServer"),
                "Failed",
                "Degraded",
            )
        )
    states = []
    for name, kind, obj_name, namespace, (status, reason), kstatus, argo in expected:
        world.until_ready(kind, obj_name, namespace, status, reason)
        states.append(_take(world, name, kind, obj_name, namespace, kstatus, argo))
    return states


def _binding(name: str, role: str, who: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": who}],
    }


def _through_the_webhook(world: _World) -> State:
    """Grants admitted by the webhook: one by a cluster administrator (granted, and captured), one by
    carol, an access manager who views sites herself (granted too, until she no longer does)."""
    plane, a = world.plane, world.a
    world.wait_for_webhook()
    plane.kubectl("apply", "--server-side", "-f", str(RBAC_ROLES))
    apply(
        plane,
        a,
        [
            _binding("carol-manages-access", "siteplane:access-manager", "carol"),
            _binding("carol-views-sites", "siteplane:site-viewer", "carol"),
        ],
    )
    apply(plane, a, [_grant("granted")])
    plane.kubectl("apply", "-n", a, "-f", "-", user="carol", stdin=yaml.safe_dump(_grant("escalation")))
    world.until_ready("AccessGrant", "escalation", a, "True", "Granted")
    world.until_ready("AccessGrant", "granted", a, "True", "Granted")
    return _take(world, "healthy_granted", "AccessGrant", "granted", a, "Current", "Healthy")


def _after_a_restart(world: _World) -> State:
    """carol lost the right to view sites while no operator ran: her grant now hands out more than
    she holds, and the operator, starting, withdraws it."""
    world.until_ready("AccessGrant", "escalation", world.a, "False", "Escalation")
    return _take(world, "degraded_escalation", "AccessGrant", "escalation", world.a, "Failed", "Degraded")


def _with_the_operator_stopped(world: _World) -> list[State]:
    """A new generation nobody has observed yet, and a deletion the finalizer holds (and carol
    loses the right to view sites, for the restart after)."""
    plane, a = world.plane, world.a
    plane.kubectl("delete", "rolebinding", "carol-views-sites", "-n", a)
    apply(plane, a, [site_doc("ready", f"www.{world.zone}", "192.0.2.10", customer="changed")])
    plane.kubectl("delete", "site", "suspended", "-n", a, "--wait=false")
    world.until("Site", "suspended", a, lambda o: "deletionTimestamp" in o["metadata"])
    return [
        _take(world, "progressing_new_generation", "Site", "ready", a, "InProgress", "Progressing"),
        _take(world, "progressing_deleting", "Site", "suspended", a, "Terminating", "Progressing"),
    ]


def _clean_up(world: _World, backends: tuple[str, ...]) -> None:
    """Everything deleted with the operator running, so that no finalizer is left behind."""
    with operator_running(world.plane.kubeconfig, world.config()):
        for namespace in (world.a, world.b):
            namespaced = ",".join(p for p in PLURALS.values() if p != "dnsbackends")
            world.plane.kubectl("delete", namespaced, "--all", "-n", namespace, "--timeout=120s", check=False)
        world.plane.kubectl("delete", "dnsbackends", *backends, "--timeout=60s", "--ignore-not-found", check=False)


# -- the script: Argo CD's testdata/ and health_test.yaml ----------------------------------------


def write_testdata(
    states: list[State], expected: Callable[[State], dict[str, str]], root: Path = CUSTOMIZATIONS
) -> None:
    """Each state's object under ``siteplane.io/<Kind>/testdata/``, each kind's health_test.yaml,
    and the shared health.lua copied into each kind's directory (Argo CD's layout)."""
    script = (ROOT / "health.lua").read_text()
    for kind in PLURALS:
        directory = root / "siteplane.io" / kind
        shutil.rmtree(directory / "testdata", ignore_errors=True)
        (directory / "testdata").mkdir(parents=True)
        (directory / "health.lua").write_text(script)
        tests = []
        for state in (s for s in states if s.kind == kind):
            path = directory / "testdata" / f"{state.name}.yaml"
            path.write_text(yaml.safe_dump(state.obj, sort_keys=False))
            tests.append({"healthStatus": expected(state), "inputPath": f"testdata/{state.name}.yaml"})
        (directory / "health_test.yaml").write_text(yaml.safe_dump({"tests": tests}, sort_keys=False))


def main() -> int:
    from harness.bind import running_bind
    from harness.controlplane.cluster import running
    from tests.argocd_lua import health

    script = (ROOT / "health.lua").read_text()
    with tempfile.TemporaryDirectory() as tmp, running() as plane, running_bind() as bind:
        states = produce(plane, Path(tmp), bind)
    wrong = [s.label for s in states if health(script, s.obj)["status"] != s.argo]
    if wrong:
        print(f"health.lua disagrees with the intended health of: {', '.join(wrong)}", file=sys.stderr)
        return 1
    write_testdata(states, lambda s: health(script, s.obj))
    print(f"wrote {len(states)} testdata files under {CUSTOMIZATIONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
