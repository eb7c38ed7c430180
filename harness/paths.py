"""Where the repository keeps what the development servers and tools load: CRDs and example manifests."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CRD_DIR = REPO_ROOT / "crds"
EXAMPLES_DIR = REPO_ROOT / "manifests" / "examples"
BACKEND_EXAMPLES_DIR = REPO_ROOT / "manifests" / "backends"
