"""The node's images, with no registry: the pause (sandbox) image compiled from upstream's pause.c,
and any docker-archive imported into the node's containerd.

pause.c ships inside the ``k8s.io/kubernetes`` Go module the control plane is built from; Debian's
gcc compiles it statically, and a few lines of tarfile make it a docker-archive that
``ctr images import`` takes. Both the binary and the archive are cached, keyed by the source and
the compiler.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from harness.controlplane import build

PAUSE_REPOSITORY = "localhost/siteplane-node/pause"


def _pause_source() -> Path:
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"k8s.io/kubernetes@{build.KUBE_VERSION}"],
        check=True,
        capture_output=True,
        text=True,
        cwd=build.MODULE_DIR,
    ).stdout
    return Path(json.loads(out)["Dir"]) / "build" / "pause" / "linux" / "pause.c"


def node_cache_dir() -> Path:
    """``~/.cache/siteplane/node`` (or under ``$SITEPLANE_CACHE_DIR``): the pause image, containerd's root."""
    return build.cache_dir().parent.parent / "node"


def pause_image() -> tuple[Path, str]:
    """(docker-archive, reference) of the pause image, built when missing."""
    source = _pause_source()
    gcc = subprocess.run(["gcc", "--version"], check=True, capture_output=True, text=True).stdout
    key = hashlib.sha256(source.read_bytes() + gcc.encode()).hexdigest()[:16]
    reference = f"{PAUSE_REPOSITORY}:{key}"
    archive = node_cache_dir() / f"pause-{key}.tar"
    if archive.exists():
        return archive, reference
    archive.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    binary = archive.with_suffix(".bin")
    subprocess.run(
        ["gcc", "-Os", "-Wall", "-static", f"-DVERSION={build.KUBE_VERSION}-siteplane", "-o", str(binary), str(source)],
        check=True,
    )
    subprocess.run(["strip", str(binary)], check=True)
    partial = archive.with_suffix(".partial")
    write_docker_archive(partial, reference, {"pause": binary.read_bytes()}, entrypoint=["/pause"])
    partial.rename(archive)  # atomic: a half-written archive is never taken for a cached one
    binary.unlink()
    print(f"node: built {reference} in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
    return archive, reference


def write_docker_archive(path: Path, reference: str, files: dict[str, bytes], entrypoint: list[str]) -> None:
    """A one-layer image of executable ``files`` at the root, in ``docker save`` format."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    diff_id = hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        }
    ).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [reference], "Layers": [f"{diff_id}/layer.tar"]}])
    with tarfile.open(path, mode="w") as tar:
        for name, data in (
            (config_name, config),
            (f"{diff_id}/layer.tar", layer_bytes),
            ("manifest.json", manifest.encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
