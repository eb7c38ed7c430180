"""Build the chart's validation tools, helm and kubeconform, from Go modules.

Like the control plane (harness/controlplane/build.py): no package registry ships them, so each is
built with ``go install <package>@<version>`` from the Go module proxy, into a cache directory
outside the repository keyed by the pinned version, only when missing. ``go install`` at a
version builds with that module's own go.mod and go.sum, so nothing is vendored here.

Standard library only: this runs before any virtualenv exists.

Usage::

    python harness/tools/build.py        # build whatever is missing, print the bin directory
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

# name -> (package to install, pinned version)
TOOLS: dict[str, tuple[str, str]] = {
    "helm": ("helm.sh/helm/v3/cmd/helm", "v3.22.0"),
    "kubeconform": ("github.com/yannh/kubeconform/cmd/kubeconform", "v0.8.0"),
}
# What each reports as its version (release builds stamp it the same way).
_VERSION_VARIABLE = {
    "helm": "helm.sh/helm/v3/internal/version.version",
    "kubeconform": "main.version",
}


def cache_dir() -> Path:
    base = os.environ.get("SITEPLANE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "siteplane"
    )
    return Path(base) / "tools"


def tool_path(name: str) -> Path:
    """Where ``name`` is (or will be) built, keyed by its pinned version."""
    _package, version = TOOLS[name]
    return cache_dir() / f"{name}-{version}" / name


def _go_env(gobin: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false", GOBIN=str(gobin))
    return env


def build(name: str) -> Path:
    """Build ``name`` when missing; return the path of its binary."""
    target = tool_path(name)
    if target.exists():
        return target
    package, version = TOOLS[name]
    partial = target.parent / ".partial"
    partial.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"building {name} {version} into {target.parent} ...", file=sys.stderr, flush=True)
    subprocess.run(
        [
            "go",
            "install",
            "-trimpath",
            f"-ldflags=-s -w -X {_VERSION_VARIABLE[name]}={version}",
            f"{package}@{version}",
        ],
        check=True,
        env=_go_env(partial),
        cwd=target.parent,
    )
    (partial / name).rename(target)  # atomic: a half-built binary is never mistaken for a cached one
    partial.rmdir()
    print(f"built {name} in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    return target


def build_all() -> dict[str, Path]:
    return {name: build(name) for name in TOOLS}


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    for name, path in build_all().items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
