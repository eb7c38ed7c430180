"""The kustomize base (manifests/install/) is generated from the Helm chart, never edited by hand.

``python -m harness.install_manifests`` (``make install-manifests``):

1. copies what the chart ships from elsewhere in the repository into ``charts/siteplane/files/``:
   the CRDs (``crds/``) and the shipped roles (``manifests/rbac/roles.yaml``), since a chart can
   only read files inside itself, and kopf's peering CRDs (``manifests/peering/crds.yaml``) into the
   chart's ``crds/``, which Helm installs before everything else;
2. renders the chart with the base's values (release ``siteplane`` in ``siteplane-system``, the
   namespace created with the restricted Pod Security level, the webhook certificate from
   cert-manager: a generated certificate must not be committed) and writes one file per template
   into ``manifests/install/``, less Helm's own labels, with a ``kustomization.yaml`` listing them.

``--check`` writes nothing and lists what is out of date (exit 1); a test runs it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from harness.controlplane.build import KUBE_VERSION
from harness.tools.build import build as build_tool

REPO_ROOT = Path(__file__).resolve().parents[1]
CHART = REPO_ROOT / "charts" / "siteplane"
BASE = REPO_ROOT / "manifests" / "install"
RELEASE = "siteplane"
NAMESPACE = "siteplane-system"
# The kustomize base's values: everything else is the chart's default.
BASE_VALUES = ("namespace.create=true", "webhook.certificate.source=cert-manager")
# Labels that say Helm manages an object: untrue of the kustomize base.
_HELM_LABELS = re.compile(r"^\s+(helm\.sh/chart|app\.kubernetes\.io/managed-by): .*\n", re.MULTILINE)
_SOURCE = re.compile(r"^# Source: siteplane/templates/(?P<name>[\w.-]+)\n", re.MULTILINE)
HEADER = (
    "# Generated from charts/siteplane by `make install-manifests` (harness/install_manifests.py):\n"
    "# edit the chart, not this file.\n"
)


def copied_files() -> dict[Path, str]:
    """The chart's copies of files kept elsewhere: target -> content."""
    files = {
        CHART / "files" / "crds" / crd.name: crd.read_text() for crd in sorted((REPO_ROOT / "crds").glob("*.yaml"))
    }
    files[CHART / "files" / "roles.yaml"] = (REPO_ROOT / "manifests" / "rbac" / "roles.yaml").read_text()
    files[CHART / "crds" / "kopf-peering.yaml"] = (REPO_ROOT / "manifests" / "peering" / "crds.yaml").read_text()
    return files


def helm_template(*values: str, chart: Path = CHART, helm: Path | None = None) -> str:
    """``helm template`` of the chart as the release the base describes, with ``values`` set."""
    command = [
        str(helm or build_tool("helm")),
        "template",
        RELEASE,
        str(chart),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION.lstrip("v"),
    ]
    for value in values:
        command += ["--set", value]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def base_files(rendered: str) -> dict[Path, str]:
    """The kustomize base from a rendering: one file per template, and the kustomization."""
    rendered = _HELM_LABELS.sub("", rendered)
    files: dict[Path, str] = {}
    for chunk in rendered.split("\n---\n"):
        match = _SOURCE.search(chunk)
        if not match or not chunk[match.end() :].strip():
            continue
        name = match.group("name")
        body = chunk[match.end() :].strip("\n") + "\n"
        path = BASE / name
        files[path] = files.get(path, HEADER) + "---\n" + body
    order = sorted(files, key=lambda p: (p.name != "namespace.yaml", p.name != "crds.yaml", p.name))
    kustomization = (
        HEADER
        + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
        + "".join(f"  - {path.name}\n" for path in order)
    )
    files[BASE / "kustomization.yaml"] = kustomization
    return files


def expected_files() -> dict[Path, str]:
    copies = copied_files()
    return {**copies, **base_files(helm_template(*BASE_VALUES))}


def out_of_date(expected: dict[Path, str]) -> list[Path]:
    stale = [path for path, content in expected.items() if not path.exists() or path.read_text() != content]
    stray = [path for path in BASE.glob("*") if path not in expected]
    stray += [path for path in (CHART / "files" / "crds").glob("*") if path not in expected]
    return sorted(stale + stray)


def write(expected: dict[Path, str]) -> None:
    for path in [*BASE.glob("*"), *(CHART / "files" / "crds").glob("*")]:
        if path not in expected:
            path.unlink()
    for path, content in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def main(argv: list[str]) -> int:
    # The chart's copies first: the rendering reads them.
    copies = copied_files()
    if "--check" in argv:
        stale = out_of_date({**copies, **base_files(helm_template(*BASE_VALUES))})
        for path in stale:
            print(f"out of date: {path.relative_to(REPO_ROOT)} (run `make install-manifests`)", file=sys.stderr)
        return 1 if stale else 0
    write(copies)
    write({**copies, **base_files(helm_template(*BASE_VALUES))})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
