"""Build the kstatus oracle: a tiny Go program that asks sigs.k8s.io/cli-utils' kstatus, the library
Flux's health checks use, for its verdict on each object it reads (main.go).

Built as the control plane is (harness/controlplane/build.py): from the committed go.mod and
go.sum (cli-utils pinned), with the local Go toolchain, into a cache directory outside the
repository, keyed by what the binary depends on (main.go, go.mod, go.sum, the Go version), only
when missing. Standard library only.

Usage::

    python harness/kstatus/build.py          # build when missing, print the binary's path
    echo '{"apiVersion": ...}' | $(python harness/kstatus/build.py)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parent
SOURCES = ("main.go", "go.mod", "go.sum")
NAME = "kstatus-oracle"


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false -mod=readonly")
    return env


def _go_version() -> str:
    return subprocess.run(["go", "env", "GOVERSION"], check=True, capture_output=True, text=True).stdout.strip()


def key() -> str:
    """What the binary depends on: its sources, the pinned modules and the toolchain."""
    digest = hashlib.sha256(_go_version().encode())
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + (MODULE_DIR / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    base = os.environ.get("SITEPLANE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "siteplane"
    )
    return Path(base) / "kstatus"


def build() -> Path:
    """The oracle's path, built first when missing."""
    target = cache_dir() / key() / NAME
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {NAME} into {target.parent} ...", file=sys.stderr, flush=True)
    partial = target.parent / f".{NAME}.partial"
    subprocess.run(
        ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(partial), "."],
        check=True,
        env=_go_env(),
        cwd=MODULE_DIR,
    )
    partial.rename(target)  # atomic: a half-built binary is never mistaken for a cached one
    return target


if __name__ == "__main__":
    print(build())
