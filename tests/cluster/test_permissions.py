"""Permissions on the real control plane: shipped roles, AccessGrants, the admission webhook (over
TLS, called by the apiserver), escalation and hijack refusals, and the RBAC mirror in the database,
whose evaluator must answer exactly what the apiserver's SubjectAccessReview answers."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.controlplane.cluster import USERS, ControlPlane
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import operator_running
from harness.server import free_port
from siteplane.config import Config
from siteplane.reconcile.rbac_mirror import PermissionEvaluator
from siteplane.store.migrate import upgrade
from tests.reconcile_support import apply, condition, remove_webhook_configurations, served, wait_until

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "manifests" / "rbac" / "roles.yaml"
GROUP = "siteplane.io/v1alpha1"
RESOURCES = ("sites", "dnszones", "dnsrecords", "accessgrants")
VERBS = ("get", "list", "create", "update", "delete")
VIEW = frozenset({"get", "list"})
EDIT = frozenset(VERBS)
NAME = "www"  # the name asked about in the "named" column


def grant_doc(
    name: str, subjects: list[dict[str, str]], resources: list[str], access: str, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "AccessGrant",
        "metadata": {"name": name},
        "spec": {"subjects": subjects, "resources": resources, "access": access, **spec},
    }


def binding_doc(name: str, role: str, subjects: list[dict[str, str]], kind: str = "ClusterRole") -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", **s} for s in subjects],
    }


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "name": name}


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name}


@dataclass
class World:
    plane: ControlPlane
    a: str  # team-a: the site team, the DNS team, the access managers, erin
    b: str  # tenant-b: dave's namespace
    permissions: PermissionEvaluator  # the database's mirror of RBAC, as the dashboard asks it
    zone_dir: Path
    webhook: str  # the ValidatingWebhookConfiguration's name
    config: Config  # the operator's, whose database the dashboard API reads

    def get(self, plural: str, name: str, namespace: str) -> dict[str, Any]:
        return dict(json.loads(self.plane.kubectl("get", plural, name, "-n", namespace, "-o", "json").stdout))

    def exists(self, plural: str, name: str, namespace: str) -> bool:
        result = self.plane.kubectl("get", plural, name, "-n", namespace, check=False)
        return result.returncode == 0

    def ready(self, plural: str, name: str, namespace: str, reason: str, timeout: float = 60) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def check() -> bool:
            nonlocal found
            found = self.get(plural, name, namespace)
            return bool(
                condition(found).get("reason") == reason
                and found.get("status", {}).get("observedGeneration") == found["metadata"]["generation"]
            )

        wait_until(check, timeout, f"{plural}/{name} reason {reason}", lambda: str(found.get("status")))
        return found

    def apply_as(self, who: str, namespace: str, docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
        return self.plane.kubectl(
            "apply", "-n", namespace, "-f", "-", user=who, stdin=yaml.safe_dump_all(docs), check=False
        )


def _wait_for_webhook(plane: ControlPlane, name: str) -> None:
    def configured() -> bool:
        result = plane.kubectl("get", "validatingwebhookconfiguration", name, "-o", "json", check=False)
        if result.returncode != 0:
            return False
        hooks = json.loads(result.stdout).get("webhooks") or []
        return len(hooks) == 4 and all(h["clientConfig"].get("caBundle") for h in hooks)

    wait_until(configured, 60, f"ValidatingWebhookConfiguration {name} with a caBundle")


@pytest.fixture(scope="module")
def world(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    suffix = uuid.uuid4().hex[:6]
    a, b = f"team-a-{suffix}", f"tenant-b-{suffix}"
    plane = control_plane
    for ns in (a, b):
        plane.kubectl("create", "namespace", ns)
    plane.kubectl("apply", "--server-side", "-f", str(ROLES))
    directory = tmp_path_factory.mktemp("permissions")
    url = f"sqlite:///{directory / 'siteplane.db'}"
    upgrade(url)
    webhook = f"test-{suffix}.siteplane.io"  # kopf names each webhook <handler id>.<this>
    config = Config(
        namespaces=(a, b),
        database_url=url,
        zone_dir=str(directory / "zones"),
        webhook_listen=f"127.0.0.1:{free_port()}",
        webhook_configuration=webhook,
    )
    try:
        with operator_running(plane.kubeconfig, config) as memo:
            _wait_for_webhook(plane, webhook)
            world = World(
                plane, a, b, PermissionEvaluator(memo["operator"].store), directory / "zones", webhook, config
            )
            _grant_the_teams(world)
            yield world
    finally:
        # A webhook nobody serves would refuse every AccessGrant in later tests (failurePolicy Fail).
        remove_webhook_configurations(plane, webhook)
        for ns in (a, b):
            plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _grant_the_teams(world: World) -> None:
    """The access the matrix expects, made the ways a hosting company would: grants and by hand."""
    plane, a, b = world.plane, world.a, world.b
    apply(
        plane,
        a,
        [
            grant_doc("site-team-edits-sites", [group("site-team")], ["sites"], "edit"),
            grant_doc("dns-team-edits-dns", [group("dns-team")], ["dnszones", "dnsrecords"], "edit"),
            grant_doc("erin-views-www", [user("erin")], ["sites"], "view", resourceNames=[NAME]),
            grant_doc("erin-edits-www-record", [user("erin")], ["dnsrecords"], "edit", resourceNames=[NAME]),
            # By hand, not through a grant: the mirror must see these too.
            binding_doc("access-managers", "siteplane:access-manager", [group("access-managers"), user("alice")]),
        ],
    )
    apply(
        plane,
        b,
        [
            grant_doc("tenant-b-edits-dns", [group("tenant-b")], ["dnszones", "dnsrecords"], "edit"),
            binding_doc("tenant-b-sites", "siteplane:site-editor", [group("tenant-b")]),
            # The built-in `view` role: siteplane's viewers aggregate into it.
            binding_doc("alice-views-b", "view", [user("alice")]),
        ],
    )
    for ns in (a, b):
        for grant in json.loads(plane.kubectl("get", "accessgrants", "-n", ns, "-o", "json").stdout)["items"]:
            world.ready("accessgrants", grant["metadata"]["name"], ns, "Granted")


# -- the expected table -------------------------------------------------------------------------

# (user, namespace label, resource) -> verbs allowed on every object; NAMED adds verbs allowed on
# the object named NAME only. Everything not listed is refused.
UNNAMED: dict[tuple[str, str, str], frozenset[str]] = {
    ("alice", "a", "sites"): EDIT,
    ("alice", "a", "accessgrants"): EDIT,
    ("alice", "b", "sites"): VIEW,
    ("alice", "b", "dnszones"): VIEW,
    ("alice", "b", "dnsrecords"): VIEW,
    ("bob", "a", "dnszones"): EDIT,
    ("bob", "a", "dnsrecords"): EDIT,
    ("carol", "a", "accessgrants"): EDIT,
    ("dave", "b", "sites"): EDIT,
    ("dave", "b", "dnszones"): EDIT,
    ("dave", "b", "dnsrecords"): EDIT,
    ("frank", "a", "sites"): EDIT,
    ("frank", "a", "dnszones"): EDIT,
    ("frank", "a", "dnsrecords"): EDIT,
}
NAMED: dict[tuple[str, str, str], frozenset[str]] = {
    ("erin", "a", "sites"): VIEW,
    # A per-name grant cannot carry create: RBAC never sees a name on a create request.
    ("erin", "a", "dnsrecords"): frozenset({"get", "list", "update", "delete"}),
}
MATRIX_USERS = ("alice", "bob", "carol", "dave", "erin", "frank")


def expected(who: str, ns: str, resource: str, verb: str, named: bool) -> bool:
    if verb in UNNAMED.get((who, ns, resource), frozenset()):
        return True
    return named and verb in NAMED.get((who, ns, resource), frozenset())


def groups_of(who: str) -> list[str]:
    return [*next(u.groups for u in USERS if u.name == who), "system:authenticated"]


def kubectl_can_i(plane: ControlPlane, who: str, verb: str, target: str, namespace: str, *extra: str) -> bool:
    result = subprocess.run(
        [
            "kubectl",
            f"--server={plane.server}",
            f"--certificate-authority={plane.ca_file}",
            f"--token={plane.token(who)}",
            "auth",
            "can-i",
            verb,
            target,
            "-n",
            namespace,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl auth can-i said {answer!r}: {result.stderr}"
    return answer == "yes"


def subject_access_review(plane: ControlPlane, who: str, verb: str, resource: str, ns: str, name: str | None) -> bool:
    attributes = {"group": "siteplane.io", "resource": resource, "verb": verb, "namespace": ns}
    if name:
        attributes["name"] = name
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": who, "groups": groups_of(who), "resourceAttributes": attributes},
    }
    result = plane.kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(review))
    return bool(json.loads(result.stdout)["status"].get("allowed"))


CELLS = list(product(MATRIX_USERS, RESOURCES, VERBS, ("a", "b"), (False, True)))


def test_the_matrix_kubectl_auth_can_i_matches_the_expected_table(world: World) -> None:
    """6 users x 4 resources x 5 verbs x {team-a, tenant-b} x {named, unnamed}: 480 cells."""
    namespaces = {"a": world.a, "b": world.b}

    def ask(cell: tuple[str, str, str, str, bool]) -> tuple[tuple[str, str, str, str, bool], bool]:
        who, resource, verb, ns, named = cell
        target = f"{resource}.siteplane.io" + (f"/{NAME}" if named else "")
        return cell, kubectl_can_i(world.plane, who, verb, target, namespaces[ns])

    with ThreadPoolExecutor(8) as pool:
        answers = dict(pool.map(ask, CELLS))
    wrong = [f"{cell}: kubectl says {got}" for cell, got in answers.items() if got != expected(*_order(cell))]
    assert not wrong, "\n".join(wrong)
    assert sum(answers.values()) > 100 and not all(answers.values())


def _order(cell: tuple[str, str, str, str, bool]) -> tuple[str, str, str, str, bool]:
    who, resource, verb, ns, named = cell
    return who, ns, resource, verb, named


def test_the_database_evaluator_answers_exactly_what_subject_access_review_answers(world: World) -> None:
    namespaces = {"a": world.a, "b": world.b}
    evaluator = world.permissions

    def compare(cell: tuple[str, str, str, str, bool]) -> str | None:
        who, resource, verb, ns, named = cell
        name = NAME if named else None
        sar = subject_access_review(world.plane, who, verb, resource, namespaces[ns], name)
        db = evaluator.can(who, groups_of(who), verb, resource, namespaces[ns], name)
        return None if sar == db else f"{cell}: SubjectAccessReview {sar}, database {db}"

    with ThreadPoolExecutor(8) as pool:
        mismatches = [m for m in pool.map(compare, CELLS) if m]
    assert not mismatches, "\n".join(mismatches)


def test_the_cluster_administrator_is_mirrored_too(world: World) -> None:
    """system:masters holds cluster-admin through a ClusterRoleBinding with wildcard rules."""
    assert world.permissions.can("admin", ["system:masters"], "delete", "dnszones", world.b, "x")
    assert not world.permissions.can("nobody", [], "get", "sites", world.a)


# -- shipped roles ------------------------------------------------------------------------------


def test_viewers_aggregate_into_view_and_editors_stay_out_of_edit_and_admin(world: World) -> None:
    def rules(role: str) -> list[dict[str, Any]]:
        return list(json.loads(world.plane.kubectl("get", "clusterrole", role, "-o", "json").stdout).get("rules") or [])

    def siteplane_resources(role: str) -> set[tuple[str, str]]:
        return {
            (resource, verb)
            for rule in rules(role)
            if "siteplane.io" in rule.get("apiGroups", [])
            for resource in rule.get("resources", [])
            for verb in rule.get("verbs", [])
        }

    writes = {"create", "update", "patch", "delete", "deletecollection", "*"}
    view = siteplane_resources("view")
    assert {("sites", "list"), ("dnszones", "get"), ("dnsrecords", "watch")} <= view
    assert not any(verb in writes for _, verb in view)
    for role in ("edit", "admin"):
        # Kubernetes folds `view` into `edit` and `admin`, so they may read siteplane objects, but
        # they must not write them: that would hand both sites and DNS to every namespace editor.
        granted = siteplane_resources(role)
        assert ("sites", "get") in granted, f"{role} should see what view sees"
        assert not {(r, v) for r, v in granted if v in writes}, f"{role} must not include siteplane editors"


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "frank", "dave"])
@pytest.mark.parametrize("resource", ["sites", "dnszones", "dnsrecords", "accessgrants"])
def test_only_the_operator_may_write_status(world: World, who: str, resource: str) -> None:
    for ns in (world.a, world.b):
        for verb in ("patch", "update"):
            target = f"{resource}.siteplane.io"
            assert not kubectl_can_i(world.plane, who, verb, target, ns, "--subresource=status"), f"{who} {verb} {ns}"


# -- AccessGrants: what they create, and how they follow ----------------------------------------


def test_a_grant_on_exactly_a_shipped_role_is_a_rolebinding_to_it(world: World) -> None:
    grant = world.get("accessgrants", "dns-team-edits-dns", world.a)
    assert grant["status"]["role"] == "ClusterRole/siteplane:dns-editor"
    assert grant["status"]["grantedBy"] == "admin"
    binding = world.get("rolebindings", grant["status"]["roleBinding"], world.a)
    assert binding["roleRef"]["name"] == "siteplane:dns-editor"
    assert binding["metadata"]["ownerReferences"][0]["uid"] == grant["metadata"]["uid"]
    assert not world.exists("roles", grant["status"]["roleBinding"], world.a)


def test_a_per_name_grant_follows_its_names_and_disappears_with_the_grant(world: World) -> None:
    a = world.a
    apply(world.plane, a, [grant_doc("names", [user("erin")], ["sites"], "edit", resourceNames=["blog", "shop"])])
    grant = world.ready("accessgrants", "names", a, "Granted")
    name = grant["status"]["roleBinding"]
    role = world.get("roles", name, a)
    assert role["rules"] == [
        {
            "apiGroups": ["siteplane.io"],
            "resources": ["sites"],
            "verbs": ["get", "list", "watch", "update", "patch", "delete"],
            "resourceNames": ["blog", "shop"],
        }
    ]
    apply(world.plane, a, [grant_doc("names", [user("erin")], ["sites"], "edit", resourceNames=["shop"])])
    world.ready("accessgrants", "names", a, "Granted")
    wait_until(lambda: world.get("roles", name, a)["rules"][0]["resourceNames"] == ["shop"], 30, "names follow")
    wait_until(
        lambda: (
            world.permissions.can("erin", [], "update", "sites", a, "shop")
            and not world.permissions.can("erin", [], "update", "sites", a, "blog")
        ),
        30,
        "the database follows the Role",
    )
    # Dropping the names switches to the shipped role: the generated Role goes.
    apply(world.plane, a, [grant_doc("names", [user("erin")], ["sites"], "edit")])
    world.ready("accessgrants", "names", a, "Granted")
    wait_until(lambda: not world.exists("roles", name, a), 30, "generated Role removed")
    assert world.get("rolebindings", name, a)["roleRef"]["name"] == "siteplane:site-editor"

    world.plane.kubectl("delete", "accessgrant", "names", "-n", a)
    wait_until(lambda: not world.exists("rolebindings", name, a), 60, "RoleBinding collected with its grant")
    wait_until(
        lambda: not world.permissions.can("erin", [], "update", "sites", a, "shop"),
        30,
        "the database forgets the grant",
    )


def test_hand_edits_to_a_generated_rolebinding_are_put_back(world: World) -> None:
    a = world.a
    name = world.get("accessgrants", "erin-views-www", a)["status"]["roleBinding"]
    world.plane.kubectl(
        "patch",
        "rolebinding",
        name,
        "-n",
        a,
        "--type=json",
        "-p",
        json.dumps(
            [
                {
                    "op": "add",
                    "path": "/subjects/-",
                    "value": {"kind": "User", "name": "carol", "apiGroup": "rbac.authorization.k8s.io"},
                }
            ]
        ),
    )
    wait_until(
        lambda: [s["name"] for s in world.get("rolebindings", name, a)["subjects"]] == ["erin"], 30, "subjects restored"
    )
    world.plane.kubectl("delete", "rolebinding", name, "-n", a)
    wait_until(lambda: world.exists("rolebindings", name, a), 30, "deleted RoleBinding restored")


def test_a_rolebinding_of_the_same_name_made_by_hand_is_never_taken_over(world: World) -> None:
    a = world.a
    world.plane.kubectl(
        "create", "rolebinding", "siteplane-grant-squatter", "-n", a, "--clusterrole=view", "--user=erin"
    )
    apply(world.plane, a, [grant_doc("squatter", [user("bob")], ["sites"], "view")])
    grant = world.ready("accessgrants", "squatter", a, "NameConflict")
    assert "siteplane-grant-squatter" in condition(grant)["message"]
    binding = world.get("rolebindings", "siteplane-grant-squatter", a)
    assert [s["name"] for s in binding["subjects"]] == ["erin"] and binding["roleRef"]["name"] == "view"
    world.plane.kubectl("delete", "accessgrant", "squatter", "-n", a)
    world.plane.kubectl("delete", "rolebinding", "siteplane-grant-squatter", "-n", a)


# -- the RBAC mirror ----------------------------------------------------------------------------


def test_hand_made_bindings_and_role_edits_are_mirrored_and_removed(world: World) -> None:
    """grace is in no other binding, so every answer below comes from this binding alone."""
    a, evaluator = world.a, world.permissions
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "record-reader"},
        "rules": [{"apiGroups": ["siteplane.io"], "resources": ["dnsrecords"], "verbs": ["get"]}],
    }
    apply(world.plane, a, [role, binding_doc("grace-reads-records", "record-reader", [user("grace")], kind="Role")])
    wait_until(lambda: evaluator.can("grace", [], "get", "dnsrecords", a, "any"), 30, "binding mirrored")
    assert not evaluator.can("grace", [], "list", "dnsrecords", a)

    role["rules"][0]["verbs"] = ["get", "list"]
    apply(world.plane, a, [role])
    wait_until(lambda: evaluator.can("grace", [], "list", "dnsrecords", a), 30, "role edit mirrored")

    world.plane.kubectl("delete", "rolebinding", "grace-reads-records", "-n", a)
    wait_until(lambda: not evaluator.can("grace", [], "get", "dnsrecords", a, "any"), 30, "deletion mirrored")
    world.plane.kubectl("delete", "role", "record-reader", "-n", a)


# -- escalation ---------------------------------------------------------------------------------


def test_an_access_manager_cannot_grant_what_they_do_not_hold(world: World) -> None:
    result = world.apply_as("carol", world.a, [grant_doc("carol-self", [user("carol")], ["sites"], "view")])
    assert result.returncode != 0
    assert "carol may not grant what they do not hold" in result.stderr
    assert f"get sites in namespace {world.a}" in result.stderr
    assert not world.exists("accessgrants", "carol-self", world.a)


def test_a_site_editor_cannot_grant_dns_editing_to_anyone(world: World) -> None:
    for subjects in ([user("alice")], [group("site-team")], [user("erin")]):
        doc = grant_doc("alice-dns", subjects, ["dnszones", "dnsrecords"], "edit")
        result = world.apply_as("alice", world.a, [doc])
        assert result.returncode != 0, result.stdout
        assert "alice may not grant" in result.stderr and f"get dnszones in namespace {world.a}" in result.stderr
    assert not world.exists("accessgrants", "alice-dns", world.a)
    assert not world.permissions.can("erin", [], "create", "dnsrecords", world.a)


def test_a_site_editor_may_grant_site_access_they_hold(world: World) -> None:
    result = world.apply_as("alice", world.a, [grant_doc("alice-shares", [user("bob")], ["sites"], "view")])
    assert result.returncode == 0, result.stderr
    grant = world.ready("accessgrants", "alice-shares", world.a, "Granted")
    assert grant["status"]["grantedBy"] == "alice"
    assert kubectl_can_i(world.plane, "bob", "list", "sites.siteplane.io", world.a)
    world.plane.kubectl("delete", "accessgrant", "alice-shares", "-n", world.a)
    wait_until(lambda: not kubectl_can_i(world.plane, "bob", "list", "sites.siteplane.io", world.a), 60, "revoked")


def test_a_grant_that_bypassed_the_webhook_is_not_applied(world: World) -> None:
    """An administrator removes the webhook; a grant written meanwhile grants nothing."""
    saved = json.loads(world.plane.kubectl("get", "validatingwebhookconfiguration", world.webhook, "-o", "json").stdout)
    world.plane.kubectl("delete", "validatingwebhookconfiguration", world.webhook)
    sneaky = grant_doc("sneaky", [user("carol")], ["dnsrecords"], "edit")
    try:
        # The apiserver notices the removal within a moment.
        wait_until(lambda: world.apply_as("carol", world.a, [sneaky]).returncode == 0, 30, "the webhook bypassed")
        grant = world.ready("accessgrants", "sneaky", world.a, "NotAdmitted")
        assert "not admitted by the siteplane admission webhook" in condition(grant)["message"]
        assert not world.exists("rolebindings", "siteplane-grant-sneaky", world.a)
        assert not kubectl_can_i(world.plane, "carol", "create", "dnsrecords.siteplane.io", world.a)
    finally:
        for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            saved["metadata"].pop(key, None)
        world.plane.kubectl("create", "-f", "-", stdin=json.dumps(saved))
    # With the webhook back, carol's next change is refused at the door.
    changed = grant_doc("sneaky", [user("carol")], ["dnsrecords"], "view")
    wait_until(
        lambda: "carol may not grant" in world.apply_as("carol", world.a, [changed]).stderr, 30, "the webhook back"
    )
    world.plane.kubectl("delete", "accessgrant", "sneaky", "-n", world.a)


def test_a_grant_whose_author_lost_the_permissions_is_withdrawn_at_the_next_reconcile(world: World) -> None:
    plane, b = world.plane, world.b
    hand_made = [
        binding_doc("erin-edits-sites", "siteplane:site-editor", [user("erin")]),
        binding_doc("erin-manages-access", "siteplane:access-manager", [user("erin")]),
    ]
    apply(plane, b, hand_made)
    shares = grant_doc("erin-shares", [user("bob")], ["sites"], "view")
    wait_until(lambda: world.apply_as("erin", b, [shares]).returncode == 0, 30, "erin's grant admitted")
    name = world.ready("accessgrants", "erin-shares", b, "Granted")["status"]["roleBinding"]

    plane.kubectl("delete", "rolebinding", "erin-edits-sites", "-n", b)
    wait_until(lambda: not kubectl_can_i(plane, "erin", "get", "sites.siteplane.io", b), 30, "erin loses sites")
    # Any reconcile re-checks the author; a hand edit of the generated binding triggers one.
    plane.kubectl("label", "rolebinding", name, "-n", b, "touched=yes")
    grant = world.ready("accessgrants", "erin-shares", b, "Escalation")
    assert (
        f"erin may not grant what they do not hold: they lack get sites in namespace {b}" in condition(grant)["message"]
    )
    wait_until(lambda: not world.exists("rolebindings", name, b), 30, "the grant's RoleBinding withdrawn")
    assert not kubectl_can_i(plane, "bob", "get", "sites.siteplane.io", b)
    plane.kubectl("delete", "accessgrant", "erin-shares", "-n", b)
    plane.kubectl("delete", "rolebinding", "erin-manages-access", "-n", b)


# -- hijack -------------------------------------------------------------------------------------


def test_another_tenant_can_neither_publish_in_nor_learn_about_a_zone(world: World) -> None:
    a, b = world.a, world.b
    zone = f"{a}.example"
    apply(world.plane, a, [zone_doc("private-zone-object", zone), site_doc("www", f"www.{zone}", "192.0.2.10")])
    world.ready("dnszones", "private-zone-object", a, "Served", timeout=120)
    world.ready("sites", "www", a, "Published", timeout=120)

    attempts = {
        "site": site_doc("hijack", f"shop.{zone}", "198.51.100.66"),
        "alias": {**site_doc("alias", f"ok.{b}.example", "198.51.100.66")},
        "record": record_doc("mx-hijack", zone, "@", "MX", [{"preference": 1, "host": "evil.example.net"}]),
        "zone": zone_doc("second-copy", zone),
        "zone inside it": zone_doc("child", f"shop.{zone}"),
    }
    attempts["alias"]["spec"]["aliases"] = [f"www.{zone}"]
    for what, doc in attempts.items():
        result = world.apply_as("dave", b, [doc])
        assert result.returncode != 0, f"{what} was admitted: {result.stdout}"
        message = result.stderr
        assert "denied the request" in message, message
        for secret in (a, "private-zone-object", "192.0.2.10"):
            assert secret not in message.replace(zone, ""), f"{what} refusal reveals {secret}: {message}"
        assert not world.exists(f"{doc['kind'].lower()}s", doc["metadata"]["name"], b)
    assert not any("198.51.100.66" in r[2] or "evil" in r[2] for r in served(world.zone_dir, zone))


def test_a_zone_inside_another_tenants_zone_is_admitted_once_that_zone_delegates_it(world: World) -> None:
    a, b = world.a, world.b
    parent = f"delegating.{a}.example"
    apply(world.plane, a, [zone_doc("delegating", parent)])
    world.ready("dnszones", "delegating", a, "Served", timeout=120)
    refused = world.apply_as("dave", b, [zone_doc("child", f"shop.{parent}")])
    assert refused.returncode != 0 and "spec.zoneName:" in refused.stderr, refused.stderr

    apply(world.plane, a, [zone_doc("delegating", parent, delegations=[{"namespace": b, "names": ["shop"]}])])
    world.ready("dnszones", "delegating", a, "Served", timeout=120)
    admitted = world.apply_as("dave", b, [zone_doc("child", f"shop.{parent}")])
    assert admitted.returncode == 0, admitted.stderr
    world.ready("dnszones", "child", b, "Served", timeout=120)


# -- the dashboard API shows exactly what `get` allows --------------------------------------------

DASHBOARD_USERS = (*MATRIX_USERS, "admin")
KINDS = {"Site": ("sites", "sites"), "DNSZone": ("dnszones", "zones"), "DNSRecord": ("dnsrecords", "records")}
Key = tuple[str, str, str]  # (kind, namespace, name)


def _proof_objects(world: World) -> None:
    """Sites, zones and records in both namespaces, named to meet every kind of grant: namespace-wide,
    per name ("www": erin's), and ``view``; b publishes in a's zone, so a's zone holds b's records."""
    a, b = world.a, world.b
    apply(
        world.plane,
        a,
        [
            zone_doc("proof", f"proof.{a}.example", publishers=[{"namespace": b, "names": ["shop"]}]),
            site_doc(NAME, f"www.proof.{a}.example", "192.0.2.20"),
            site_doc("blog", f"blog.proof.{a}.example", "192.0.2.21", customer="acme"),
            record_doc(NAME, f"proof.{a}.example", "_dmarc", "TXT", ["v=DMARC1; p=none"]),
            record_doc("mail", f"proof.{a}.example", "@", "MX", [{"preference": 10, "host": f"mail.{a}.example"}]),
        ],
    )
    apply(
        world.plane,
        b,
        [
            zone_doc("proof", f"proof.{b}.example"),
            site_doc(NAME, f"www.proof.{b}.example", "198.51.100.20"),
            site_doc("shop", f"shop.proof.{a}.example", "198.51.100.21"),
            record_doc(NAME, f"proof.{b}.example", "www", "TXT", ["b"]),
        ],
    )


def _cluster_objects(world: World) -> set[Key]:
    """Every Site, DNSZone and DNSRecord of both namespaces, once the database holds each one's
    current generation (its status is written for it) and none is being deleted."""
    found: set[Key] = set()

    def settled() -> bool:
        found.clear()
        for kind, (plural, _) in KINDS.items():
            for ns in (world.a, world.b):
                listed = json.loads(world.plane.kubectl("get", plural, "-n", ns, "-o", "json").stdout)["items"]
                for obj in listed:
                    meta = obj["metadata"]
                    if (
                        meta.get("deletionTimestamp")
                        or (obj.get("status") or {}).get("observedGeneration") != meta["generation"]
                    ):
                        return False
                    found.add((kind, ns, meta["name"]))
        return True

    wait_until(settled, 180, "every object stored at its generation")
    return set(found)


def _pages(api: Any, token: str, path: str, **params: Any) -> list[dict[str, Any]]:
    """A list's every item, two at a time, following the continue tokens."""
    items: list[dict[str, Any]] = []
    after = None
    for _ in range(500):
        query = {"limit": 2, **params, **({"continue": after} if after else {})}
        answer = api.get(path, params=query, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, (path, query, items, answer.text)
        items += answer.json()["items"]
        after = answer.json().get("continue")
        if not after:
            return items
    raise AssertionError(f"{path}: more than 500 pages")


def _history_keys(world: World) -> set[Key]:
    import sqlalchemy as sa

    from siteplane.store.database import make_engine
    from siteplane.store.models import History

    engine = make_engine(world.config.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(History.object_kind, History.object_namespace, History.object_name))
            return {(kind, ns, name) for kind, ns, name in rows if ns in (world.a, world.b)}
    finally:
        engine.dispose()


def test_the_dashboard_shows_every_user_exactly_what_subject_access_review_lets_them_get(world: World) -> None:
    """For every user of the matrix: every list (all pages), the search, the history, and every
    object's detail, history and record sets answer exactly the objects a SubjectAccessReview lets
    that user ``get``: 200 for those, 404 for the rest, as for what does not exist."""
    from fastapi.testclient import TestClient

    from siteplane.dashboard.app import create_app

    _proof_objects(world)
    objects = _cluster_objects(world)
    with_history = _history_keys(world)
    assert {k for k in objects if k[1] == world.a} and {k for k in objects if k[1] == world.b}
    everything = objects | with_history
    cells = list(product(DASHBOARD_USERS, sorted(everything)))

    def ask(cell: tuple[str, Key]) -> tuple[tuple[str, Key], bool]:
        who, (kind, ns, name) = cell
        return cell, subject_access_review(world.plane, who, "get", KINDS[kind][0], ns, name)

    with ThreadPoolExecutor(8) as pool:
        answers = dict(pool.map(ask, cells))
    mismatches: list[str] = []
    with TestClient(create_app(world.config)) as api:
        for who in DASHBOARD_USERS:
            token = world.plane.token(who)
            allowed = {key for (user, key), yes in answers.items() if user == who and yes}
            ours = {k for k in allowed if k[1] in (world.a, world.b)}

            def compare(what: str, got: set[Key], expected: set[Key], who: str = who) -> None:
                if got != expected:
                    mismatches.append(f"{who} {what}: extra {sorted(got - expected)}, missing {sorted(expected - got)}")

            for kind, (_, path) in KINDS.items():
                listed = {(kind, i["namespace"], i["name"]) for i in _pages(api, token, f"/api/v1/{path}")}
                # Other tests' namespaces are not this operator's: the database holds only a and b.
                compare(f"/api/v1/{path}", listed, {k for k in ours if k[0] == kind and k in objects})
            hits = _pages(api, token, "/api/v1/search", domain="example", match="suffix")
            compare("/api/v1/search", {(h["kind"], h["namespace"], h["name"]) for h in hits}, ours & objects)
            entries = _pages(api, token, "/api/v1/history")
            compare("/api/v1/history", {(e["kind"], e["namespace"], e["name"]) for e in entries}, ours & with_history)
            for kind, ns, name in sorted(everything):
                base = f"/api/v1/{KINDS[kind][1]}/{ns}/{name}"
                may = (kind, ns, name) in allowed
                paths = [f"{base}/history"] + ([base] if (kind, ns, name) in objects else [])
                if kind == "DNSZone" and (kind, ns, name) in objects:
                    paths.append(f"{base}/record-sets")
                for path in paths:
                    answer = api.get(path, headers={"Authorization": f"Bearer {token}"})
                    if answer.status_code != (200 if may else 404):
                        mismatches.append(f"{who} {path}: {answer.status_code}, SubjectAccessReview says {may}")
                    elif may and path.endswith("/record-sets"):
                        owners = {
                            (s["owner"]["kind"], s["owner"]["namespace"], s["owner"]["name"])
                            for s in _pages(api, token, path)
                            if not s["owner"]["hidden"]
                        }
                        if owners - allowed:
                            mismatches.append(f"{who} {path}: names owners {sorted(owners - allowed)}")
    assert not mismatches, "\n".join(mismatches)
    # The matrix is not trivial: someone sees everything, someone nothing, someone a single name.
    seen = {who: {key for (user, key), yes in answers.items() if user == who and yes} for who in DASHBOARD_USERS}
    assert seen["admin"] == everything and not seen["carol"]
    assert {k for k in seen["erin"] if k[0] == "Site"} == {("Site", world.a, NAME)}


def test_history_names_who_the_webhook_saw_make_each_change(world: World) -> None:
    """alice creates a Site, frank changes it, alice deletes it: each entry says who, the one the
    operator wrote by itself says so, and nothing is guessed."""
    from fastapi.testclient import TestClient

    from siteplane.dashboard.app import create_app

    a = world.a
    _proof_objects(world)  # its zone
    doc = site_doc("authored", f"authored.proof.{a}.example", "192.0.2.30")
    assert world.apply_as("alice", a, [doc]).returncode == 0
    world.ready("sites", "authored", a, "Published", timeout=120)
    doc["spec"]["serving"]["ipv4"] = ["192.0.2.31"]
    assert world.apply_as("frank", a, [doc]).returncode == 0
    world.ready("sites", "authored", a, "Published", timeout=120)
    assert world.plane.kubectl("delete", "site", "authored", "-n", a, user="alice").returncode == 0
    with TestClient(create_app(world.config)) as api:

        def entries() -> list[tuple[int, str, str]]:
            answer = api.get(
                f"/api/v1/sites/{a}/authored/history",
                params={"order": "asc"},
                headers={"Authorization": f"Bearer {world.plane.token('admin')}"},
            )
            assert answer.status_code == 200, answer.text
            return [(e["generation"], e["action"], e["author"]) for e in answer.json()["items"]]

        wait_until(lambda: any(action == "deleted" for _, action, _ in entries()), 60, "the deletion in history")
        found = entries()
    assert found == [
        (1, "stored", "alice"),
        (1, "dns-applied", "alice"),  # what the zone served for that generation: its author's doing
        (2, "stored", "frank"),
        (2, "dns-applied", "frank"),
        (2, "deleted", "alice"),
        (2, "dns-applied", "alice"),  # its records withdrawn: the deletion's doing, not frank's
    ], found
    assert "unknown" not in {author for _, _, author in found}, found
