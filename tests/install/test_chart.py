"""The Helm chart (charts/siteplane) and the kustomize base generated from it (manifests/install):
helm lint, kubeconform in strict mode with schemas made from the pinned release's OpenAPI and from
the CRDs, and a server-side dry run of everything rendered against the test apiserver, in a
namespace that enforces the restricted Pod Security level, with no warning. And what the operator
needs of them: the webhooks kopf would build, the RBAC of manifests/, the settings it knows."""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from kopf._cogs.structs.references import Resource
from kopf._core.engines.admission import build_webhooks
from kopf._core.intents.causes import WebhookType

import siteplane.handlers.admission  # noqa: F401  (registers the webhook handlers with kopf)
from harness.controlplane.build import KUBE_VERSION
from harness.controlplane.cluster import ControlPlane
from harness.install_manifests import BASE, BASE_VALUES, CHART, REPO_ROOT, expected_files, helm_template, out_of_date
from harness.tools import schemas
from harness.tools.build import build as build_tool
from siteplane.config import ENVIRONMENT

Doc = dict[str, Any]
CERT_MANAGER_KINDS = {"Certificate", "Issuer"}  # no cert-manager in the test cluster, nor its schemas
PEERING_CRDS = REPO_ROOT / "manifests" / "peering" / "crds.yaml"

# Value sets the chart is rendered with: the defaults and what a production install changes.
VALUE_SETS: dict[str, tuple[str, ...]] = {
    "defaults": (),
    "postgresql-ha": (
        "database.type=postgresql",
        "database.postgresql.existingSecret=siteplane-db",
        "operator.replicas=2",
        "dashboard.replicas=3",
        "persistence.enabled=false",
        "operator.env.SITEPLANE_DRIFT_INTERVAL=600",
    ),
    "cert-manager": ("webhook.certificate.source=cert-manager",),
    "own-secret": (
        "webhook.certificate.source=secret",
        "webhook.certificate.secretName=my-webhook-tls",
        "webhook.certificate.caBundle=" + base64.b64encode(b"-----BEGIN CERTIFICATE-----").decode(),
        "persistence.existingClaim=siteplane-data",
        "zoneFiles.existingClaim=bind-zones",
        "zoneFiles.reloadCommand=rndc reload",
        "operator.namespaces={team-a,team-b}",
    ),
    "minimal": (
        "dashboard.enabled=false",
        "networkPolicy.enabled=false",
        "crds.install=false",
        "rbac.shippedRoles=false",
    ),
}


def documents(text: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(docs: list[Doc], kind: str, name_suffix: str = "") -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"{len(found)} {kind} named *{name_suffix}"
    return found[0]


@pytest.fixture(scope="module")
def helm() -> Path:
    return build_tool("helm")


@pytest.fixture(scope="module")
def kubeconform() -> Path:
    return build_tool("kubeconform")


@pytest.fixture(scope="module")
def schema_locations(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Built-in kinds from the pinned release's OpenAPI; siteplane's and kopf's from their CRDs."""
    crd_dir = tmp_path_factory.mktemp("crd-schemas")
    schemas.write_crd_schemas(crd_dir, schemas.crds_in([*sorted((REPO_ROOT / "crds").glob("*.yaml")), PEERING_CRDS]))
    return [schemas.schema_location(schemas.builtin_schemas()), schemas.schema_location(crd_dir)]


def render(helm: Path, *values: str) -> str:
    return helm_template(*values, helm=helm)


def validate(kubeconform: Path, locations: list[str], manifests: str) -> subprocess.CompletedProcess[str]:
    command = [str(kubeconform), "-strict", "-summary", "-skip", ",".join(sorted(CERT_MANAGER_KINDS))]
    for location in locations:
        command += ["-schema-location", location]
    return subprocess.run([*command, "-"], input=manifests, capture_output=True, text=True)


def kustomize_build() -> str:
    return subprocess.run(["kubectl", "kustomize", str(BASE)], check=True, capture_output=True, text=True).stdout


# --- helm lint, values.schema.json, kubeconform -----------------------------------------------


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_helm_lint(helm: Path, value_set: str) -> None:
    command = [str(helm), "lint", "--strict", str(CHART)]
    for value in VALUE_SETS[value_set]:
        command += ["--set", value]
    linted = subprocess.run(command, capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("operator.replicass=2", "additional properties 'replicass' not allowed"),
        ("database.type=mysql", "value must be one of"),
        ("webhook.certificate.source=vault", "value must be one of"),
        ("operator.replicas=0", "minimum"),
    ],
)
def test_values_outside_the_schema_are_refused(helm: Path, value: str, says: str) -> None:
    with pytest.raises(subprocess.CalledProcessError) as refused:
        render(helm, value)
    assert says in refused.value.stderr


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (("operator.replicas=2",), "needs database.type postgresql"),
        (("database.type=postgresql",), "database.postgresql.existingSecret is required"),
        (("persistence.enabled=false",), "needs persistence.enabled"),
    ],
)
def test_combinations_that_cannot_work_are_refused_with_the_reason(
    helm: Path, values: tuple[str, ...], says: str
) -> None:
    with pytest.raises(subprocess.CalledProcessError) as refused:
        render(helm, *values)
    assert says in refused.value.stderr


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_the_rendered_chart_passes_kubeconform_strict(
    helm: Path, kubeconform: Path, schema_locations: list[str], value_set: str
) -> None:
    checked = validate(kubeconform, schema_locations, render(helm, *VALUE_SETS[value_set]))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Invalid: 0, Errors: 0" in checked.stdout


def test_the_kustomize_base_passes_kubeconform_strict(kubeconform: Path, schema_locations: list[str]) -> None:
    checked = validate(kubeconform, schema_locations, kustomize_build())
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Invalid: 0, Errors: 0" in checked.stdout


def test_the_schemas_are_strict(helm: Path, kubeconform: Path, schema_locations: list[str]) -> None:
    """A misspelt field in a built-in kind and in a siteplane kind is an error, not ignored."""
    docs = documents(render(helm))
    deployment = find(docs, "Deployment", "-operator")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Never"
    site = {
        "apiVersion": "siteplane.io/v1alpha1",
        "kind": "Site",
        "metadata": {"name": "www", "namespace": "team-a"},
        "spec": {"primaryDomain": "www.example.com", "addresses": ["192.0.2.1"], "primaryDomian": "x"},
    }
    for doc in (deployment, site):
        checked = validate(kubeconform, schema_locations, yaml.safe_dump(doc))
        assert checked.returncode != 0, checked.stdout
        assert "additional properties" in checked.stdout


# --- the kustomize base is the chart ------------------------------------------------------------


def _without_helm_labels(docs: list[Doc]) -> list[Doc]:
    for doc in docs:
        labels = doc["metadata"].get("labels") or {}
        labels.pop("helm.sh/chart", None)
        labels.pop("app.kubernetes.io/managed-by", None)
    return docs


def _key(doc: Doc) -> tuple[str, str, str]:
    return (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])


def test_the_kustomize_base_is_the_chart_rendered_with_its_values(helm: Path) -> None:
    assert not out_of_date(expected_files()), "run `make install-manifests`"
    from_chart = sorted(_without_helm_labels(documents(render(helm, *BASE_VALUES))), key=_key)
    from_kustomize = sorted(documents(kustomize_build()), key=_key)
    assert [_key(d) for d in from_kustomize] == [_key(d) for d in from_chart]
    assert from_kustomize == from_chart


# --- what the operator needs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("ValidatingWebhookConfiguration", WebhookType.VALIDATING),
        ("MutatingWebhookConfiguration", WebhookType.MUTATING),
    ],
)
def test_the_webhooks_are_those_kopf_builds_from_the_handlers(helm: Path, kind: str, reason: WebhookType) -> None:
    """The chart's webhook configurations are what kopf's managed mode would write, with
    clientConfig.service (through the Service, not a URL) instead of kopf's URL."""
    docs = documents(render(helm))
    shipped = find(docs, kind)
    service = find(docs, "Service", "-webhook")
    handlers = [h for h in kopf.get_default_registry()._webhooks.get_all_handlers() if h.reason == reason]
    assert handlers
    resources = [
        Resource("siteplane.io", "v1alpha1", plural, namespaced=True)
        for plural in ("sites", "dnszones", "dnsrecords", "accessgrants", "dnsbackends")
    ]
    client_config = {"service": {"namespace": "siteplane-system", "name": service["metadata"]["name"], "port": 443}}
    expected = build_webhooks(
        handlers,
        resources=resources,
        name_suffix=shipped["metadata"]["name"],
        client_config=client_config,  # type: ignore[arg-type]
    )
    for webhook in expected:
        if webhook["objectSelector"] is None:
            del webhook["objectSelector"]
    got = shipped["webhooks"]
    for webhook in got:
        assert base64.b64decode(webhook["clientConfig"].pop("caBundle")).startswith(b"-----BEGIN CERTIFICATE-----")
        assert "url" not in webhook["clientConfig"]
    assert sorted(got, key=lambda w: w["name"]) == sorted(expected, key=lambda w: w["name"])
    # The Service reaches the operator's webhook port, and the port is the one it listens on.
    operator = find(docs, "Deployment", "-operator")
    assert service["spec"]["selector"] == operator["spec"]["selector"]["matchLabels"]
    container = operator["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert env["SITEPLANE_WEBHOOK_LISTEN"] == f":{ports['webhook']}"
    assert env["SITEPLANE_WEBHOOK_CONFIGURATION"] == ""  # the operator leaves the chart's configuration be


def test_one_certificate_secret_serves_every_replica(helm: Path) -> None:
    docs = documents(render(helm, *VALUE_SETS["postgresql-ha"]))
    secret = find(docs, "Secret", "-webhook-tls")
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    operator = find(docs, "Deployment", "-operator")
    assert operator["spec"]["replicas"] == 2
    volumes = {v["name"]: v for v in operator["spec"]["template"]["spec"]["volumes"]}
    assert volumes["webhook-tls"]["secret"]["secretName"] == secret["metadata"]["name"]
    cert_manager = documents(render(helm, "webhook.certificate.source=cert-manager"))
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        webhook = find(docs, kind)
        assert {w["clientConfig"]["caBundle"] for w in webhook["webhooks"]} == {secret["data"]["ca.crt"]}
        injected = find(cert_manager, kind)
        assert (
            injected["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
            == "siteplane-system/siteplane-webhook"
        )
    assert find(cert_manager, "Certificate")["spec"]["secretName"] == secret["metadata"]["name"]


def _rules(docs: list[Doc], kind: str, name: str) -> list[Doc]:
    return [rule for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name for rule in doc["rules"]]


def test_the_chart_grants_what_the_shipped_rbac_grants_and_no_more(helm: Path) -> None:
    """manifests/operator/rbac.yaml and manifests/dashboard/rbac.yaml say why each rule is needed
    (and the operator's tests run under them); the chart grants the same, less the webhook
    configuration (the chart ships it) and peering unless replicas need it."""
    operator_manifest = documents((REPO_ROOT / "manifests/operator/rbac.yaml").read_text())
    dashboard_manifest = documents((REPO_ROOT / "manifests/dashboard/rbac.yaml").read_text())
    wanted = _rules(operator_manifest, "ClusterRole", "siteplane:operator")
    webhook_rule = [r for r in wanted if "validatingwebhookconfigurations" in r["resources"]]
    peering_rule = [r for r in wanted if r["apiGroups"] == ["kopf.dev"]]
    assert len(webhook_rule) == len(peering_rule) == 1
    single = documents(render(helm))
    assert _rules(single, "ClusterRole", "siteplane:operator") == [
        r for r in wanted if r not in webhook_rule + peering_rule
    ]
    several = documents(render(helm, *VALUE_SETS["postgresql-ha"]))
    assert _rules(several, "ClusterRole", "siteplane:operator") == [r for r in wanted if r not in webhook_rule]
    assert _rules(single, "Role", "siteplane:operator-credentials") == _rules(
        operator_manifest, "Role", "siteplane:operator-credentials"
    )
    assert _rules(single, "ClusterRole", "siteplane:dashboard") == _rules(
        dashboard_manifest, "ClusterRole", "siteplane:dashboard"
    )
    # Bound to their own ServiceAccounts, which the Deployments run as.
    for component in ("operator", "dashboard"):
        binding = find(single, "ClusterRoleBinding", f":{component}")
        deployment = find(single, "Deployment", f"-{component}")
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": f"siteplane-{component}", "namespace": "siteplane-system"}
        ]
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == f"siteplane-{component}"


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_setting_the_chart_sets_is_one_siteplane_knows(helm: Path, value_set: str) -> None:
    # POD_ID is kopf's convention for a replica's identity in peering (read by handlers/memo.py).
    known = {variable for variable, _ in ENVIRONMENT.values()} | {"POD_ID"}
    for doc in documents(render(helm, *VALUE_SETS[value_set])):
        if doc["kind"] != "Deployment":
            continue
        spec = doc["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            names = {e["name"] for e in container["env"]}
            assert names <= known, names - known
            assert container["image"] == "siteplane:0.1.0"


def test_database_settings(helm: Path) -> None:
    sqlite = documents(render(helm))
    operator = find(sqlite, "Deployment", "-operator")
    pod = operator["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["args"] == ["db", "upgrade"]  # the migration, before the operator starts
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["SITEPLANE_DATABASE_URL"]["value"] == "sqlite:////var/lib/siteplane/siteplane.db"
    assert env["SITEPLANE_ZONE_DIR"]["value"] == "/var/lib/siteplane/zones"
    assert operator["spec"]["strategy"]["type"] == "Recreate"  # never two writers of one SQLite file
    claim = find(sqlite, "PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    dashboard = find(sqlite, "Deployment", "-dashboard")
    assert dashboard["spec"]["template"]["spec"]["affinity"]["podAffinity"]  # on the volume's node
    assert not [d for d in sqlite if d["kind"] == "PodDisruptionBudget"]

    postgresql = documents(render(helm, *VALUE_SETS["postgresql-ha"]))
    for component in ("operator", "dashboard"):
        pod = find(postgresql, "Deployment", f"-{component}")["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        assert env["SITEPLANE_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "siteplane-db", "key": "url"}
    pdbs = {d["metadata"]["name"]: d["spec"] for d in postgresql if d["kind"] == "PodDisruptionBudget"}
    assert pdbs == {
        "siteplane-operator": {"minAvailable": 1, "selector": {"matchLabels": _selector("operator")}},
        "siteplane-dashboard": {"minAvailable": 1, "selector": {"matchLabels": _selector("dashboard")}},
    }
    env = {
        e["name"]: e.get("value")
        for e in find(postgresql, "Deployment", "-operator")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SITEPLANE_PEERING"] == "siteplane"
    assert (
        find(postgresql, "ClusterKopfPeering")["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    )


def _selector(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "siteplane",
        "app.kubernetes.io/instance": "siteplane",
        "app.kubernetes.io/component": component,
    }


def test_crds_are_installed_and_kept_on_uninstall_by_default(helm: Path) -> None:
    docs = documents(render(helm))
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert sorted(d["metadata"]["name"] for d in crds) == sorted(p.stem for p in (REPO_ROOT / "crds").glob("*.yaml"))
    for crd in crds:
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert (
            crd["spec"] == yaml.safe_load((REPO_ROOT / "crds" / f"{crd['metadata']['name']}.yaml").read_text())["spec"]
        )
    not_kept = documents(render(helm, "crds.keep=false"))
    assert all(
        "helm.sh/resource-policy" not in d["metadata"].get("annotations", {})
        for d in not_kept
        if d["kind"] == "CustomResourceDefinition"
    )


# --- the apiserver's own word -------------------------------------------------------------------


@pytest.fixture
def restricted_namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A namespace whose Pod Security admission enforces (and warns about) the restricted level."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    manifest = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")},
        },
    }
    control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))
    # kopf's peering CRDs exist in a cluster that runs several replicas (the CRs need them served).
    control_plane.kubectl("apply", "--server-side", "-f", str(PEERING_CRDS))
    control_plane.kubectl("wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev", "--timeout=60s")
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def dry_run(control_plane: ControlPlane, manifests: str) -> subprocess.CompletedProcess[str]:
    """Server-side apply, dry run: admission (Pod Security included) and validation, nothing stored.
    Conflicts with what other tests applied are forced: nothing is written anyway."""
    docs = [d for d in documents(manifests) if d["kind"] not in CERT_MANAGER_KINDS]
    return control_plane.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=siteplane-chart-test",
        "--dry-run=server",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(docs),
        check=False,
    )


@pytest.mark.cluster
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_the_apiserver_accepts_everything_rendered_in_a_restricted_namespace_without_a_warning(
    control_plane: ControlPlane, restricted_namespace: str, helm: Path, value_set: str
) -> None:
    # A release name of its own: cluster-wide names (ClusterRoles, the webhook configuration) are
    # new to the cluster, so nothing another test applied is in the way.
    release = f"sp-{uuid.uuid4().hex[:6]}"
    command = [
        str(helm),
        "template",
        release,
        str(CHART),
        "--namespace",
        restricted_namespace,
        "--kube-version",
        KUBE_VERSION.lstrip("v"),
    ]
    for value in (
        *VALUE_SETS[value_set],
        f"webhook.configurationName={release}.siteplane.io",
        f"operator.peeringName={release}",
    ):
        command += ["--set", value]
    rendered = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    applied = dry_run(control_plane, rendered)
    assert applied.returncode == 0, applied.stderr
    assert "Warning" not in applied.stderr, applied.stderr
    assert "(server dry run)" in applied.stdout
    kinds = {line.split("/", 1)[0] for line in applied.stdout.splitlines()}
    assert "deployment.apps" in kinds


@pytest.mark.cluster
def test_the_kustomize_base_is_accepted_by_the_apiserver_without_a_warning(control_plane: ControlPlane) -> None:
    """Its namespace carries the restricted labels itself; dry-run against the real apiserver."""
    built = kustomize_build()
    namespace = find(documents(built), "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(namespace))  # the dry run needs it to exist
    applied = dry_run(control_plane, built)
    assert applied.returncode == 0, applied.stderr
    assert "Warning" not in applied.stderr, applied.stderr


@pytest.mark.cluster
def test_pod_security_admission_does_warn_about_a_pod_that_is_not_restricted(
    control_plane: ControlPlane, restricted_namespace: str, helm: Path
) -> None:
    """The check above can fail: the same dry run of a pod running as root is warned about."""
    command = [
        str(helm),
        "template",
        "sp-root",
        str(CHART),
        "--namespace",
        restricted_namespace,
        "--kube-version",
        KUBE_VERSION.lstrip("v"),
    ]
    command += ["--set", "podSecurityContext.runAsNonRoot=false", "--set", "crds.install=false"]
    rendered = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    deployments = [d for d in documents(rendered) if d["kind"] == "Deployment"]
    applied = dry_run(control_plane, yaml.safe_dump_all(deployments))
    assert "would violate PodSecurity" in applied.stderr and "runAsNonRoot" in applied.stderr, applied.stderr
