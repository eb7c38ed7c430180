"""Build the siteplane image from the repository's Containerfile, with no registry and no Docker.

The Containerfile's ``BASE_IMAGE`` (``debian:bookworm-slim`` for users) is replaced by a local
Debian base made with mmdebstrap from this machine's own apt sources: the minbase variant, without
documentation, as the slim images are. buildah (Debian's) then builds the Containerfile itself,
step by step, in chroot isolation (no OCI runtime needed) with the host's network, and writes the
result as a docker-archive tarball that ``ctr images import`` or ``podman load`` take as it is.

What is slow is cached outside the repository, under ``~/.cache/siteplane/image`` (or
``$SITEPLANE_CACHE_DIR/image``):

- the base rootfs tarball, keyed by the suite, the variant, the apt sources and mmdebstrap's version;
- buildah's layer cache (its own storage): each step is keyed by its instruction and by the
  content it copies, so the dependency layer is rebuilt only when pyproject.toml changes, and a
  source change rebuilds only the wheel layer and the runtime's copy of the virtualenv;
- the archive, keyed by the image ID.

Standard library only. Needs root (buildah's storage and chroot) and the Debian packages
``buildah`` and ``mmdebstrap`` (installed by ``make image`` when missing).

Usage::

    python -m harness.image.build          # build (when needed); print the archive's path
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = REPO_ROOT / "Containerfile"
SUITE = "bookworm"
VARIANT = "minbase"
# What the slim images leave out; dpkg keeps the copyright files.
_DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")
_APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
IMAGE_NAME = "localhost/siteplane"
REQUIRED_TOOLS = ("buildah", "mmdebstrap")


@dataclass(frozen=True)
class BuiltImage:
    archive: Path
    """docker-archive tarball (``ctr -n k8s.io images import``, ``podman load``)."""
    reference: str
    """The name and tag inside the archive, e.g. localhost/siteplane:0.1.0-3f2a…"""
    image_id: str


def cache_dir() -> Path:
    base = os.environ.get("SITEPLANE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "siteplane"
    )
    return Path(base) / "image"


def _log(message: str) -> None:
    print(f"image: {message}", file=sys.stderr, flush=True)


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


def _apt_sources() -> Path:
    for path in _APT_SOURCES:
        if path.is_file() and path.stat().st_size:
            return path
    raise RuntimeError(f"no Debian apt sources found (looked at {', '.join(map(str, _APT_SOURCES))})")


def _mmdebstrap_version() -> str:
    return subprocess.run(["mmdebstrap", "--version"], check=True, capture_output=True, text=True).stdout.strip()


def base_key() -> str:
    """What the base rootfs depends on: suite, variant, excludes, apt sources, mmdebstrap's version."""
    parts = [SUITE, VARIANT, *_DPKG_EXCLUDES, _apt_sources().read_text(), _mmdebstrap_version()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def build_base_rootfs(key: str) -> Path:
    """The Debian base as a tarball, made by mmdebstrap once per key."""
    target = cache_dir() / "base" / f"debian-{SUITE}-{VARIANT}-{key}.tar"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.tar")
    started = time.monotonic()
    _log(f"making the Debian {SUITE} base with mmdebstrap into {target} ...")
    subprocess.run(
        [
            "mmdebstrap",
            f"--variant={VARIANT}",
            "--mode=root",
            "--format=tar",
            "--quiet",
            *(f"--dpkgopt=path-exclude={pattern}" for pattern in _DPKG_EXCLUDES),
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            SUITE,
            str(partial),
            str(_apt_sources()),
        ],
        check=True,
    )
    partial.rename(target)  # atomic: a half-made base is never taken for a cached one
    _log(f"made the base in {time.monotonic() - started:.0f}s")
    return target


class Buildah:
    """buildah with its storage in the cache (its layer cache survives between runs)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _command(self, args: Sequence[str]) -> list[str]:
        return [
            "buildah",
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "run"),
            "--storage-driver",
            "overlay",
            *args,
        ]

    def run(self, *args: str, capture: bool = True) -> str:
        result = subprocess.run(self._command(args), check=True, text=True, stdout=subprocess.PIPE if capture else None)
        return (result.stdout or "").strip()

    def image_id(self, reference: str) -> str | None:
        result = subprocess.run(
            self._command(["images", "--quiet", "--no-trunc", reference]), capture_output=True, text=True
        )
        ids = result.stdout.split()
        return ids[0] if result.returncode == 0 and ids else None


def import_base(buildah: Buildah, rootfs: Path, key: str) -> str:
    """The base rootfs as an image in buildah's storage, as ``debian:bookworm-slim`` is configured."""
    reference = f"localhost/siteplane-base/debian:{SUITE}-{key}"
    if buildah.image_id(reference):
        return reference
    _log(f"importing the base as {reference}")
    container = buildah.run("from", "scratch")
    try:
        buildah.run("add", container, str(rootfs), "/")
        buildah.run(
            "config",
            "--env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--cmd",
            '["bash"]',
            container,
        )
        buildah.run("commit", "--quiet", container, reference)
    finally:
        buildah.run("rm", container)
    return reference


def _host_ca_bundle() -> Path | None:
    """The CA bundle this machine's own pip trusts (a TLS-inspecting proxy's CA may be in it)."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _build_volumes(cache: Path) -> list[str]:
    """Mounts for the RUN steps only (never in a layer): pip trusts what the host's pip trusts."""
    bundle = _host_ca_bundle()
    if bundle is None:
        return []
    config = cache / "pip.conf"
    config.write_text("[global]\ncert = /run/siteplane-build/ca-certificates.crt\n")
    return [
        "--volume",
        f"{bundle}:/run/siteplane-build/ca-certificates.crt:ro",
        "--volume",
        f"{config}:/etc/pip.conf:ro",
    ]


def _drop_old_tags(buildah: Buildah, keep: str) -> None:
    """Untag the images of earlier builds, so that their top layers can go; the cached steps stay."""
    listed = buildah.run("images", "--format", "{{.Name}}:{{.Tag}}", "--filter", f"reference={IMAGE_NAME}")
    old = [name for name in listed.split() if name != keep and not name.endswith("-dev")]
    if old:
        buildah.run("rmi", *old)


def _version() -> str:
    import tomllib

    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time per cache (buildah's storage has its own locks; this orders the steps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(context: Path = REPO_ROOT) -> BuiltImage:
    """Build the image from ``context``'s Containerfile (cached steps are reused); return its archive."""
    if os.geteuid() != 0:
        raise RuntimeError("building the image needs root (buildah's storage and chroot isolation)")
    missing = missing_tools()
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: run `make image` (or apt-get install {' '.join(missing)})")
    cache = cache_dir()
    with _locked(cache / "build.lock"):
        buildah = Buildah(cache / "buildah")
        # Containers an interrupted build left behind (this storage is ours alone, and locked):
        # each holds a mount until removed.
        buildah.run("rm", "--all")
        key = base_key()
        base = import_base(buildah, build_base_rootfs(key), key)
        tag = f"{IMAGE_NAME}:{_version()}-dev"
        started = time.monotonic()
        _log(f"building {tag} from {context / 'Containerfile'} ...")
        buildah.run(
            "bud",
            "--layers",
            "--force-rm",  # no container (and no mount) left behind by a failed step
            "--isolation",
            "chroot",
            "--network",
            "host",
            *_build_volumes(cache),
            "--build-arg",
            f"BASE_IMAGE={base}",
            "--file",
            str(context / "Containerfile"),
            "--tag",
            tag,
            str(context),
            capture=False,
        )
        image_id = buildah.image_id(tag)
        if not image_id:
            raise RuntimeError(f"buildah built no {tag}")
        image_id = image_id.removeprefix("sha256:")
        reference = f"{IMAGE_NAME}:{_version()}-{image_id[:12]}"
        archive = cache / "archives" / f"siteplane-{image_id[:16]}.tar"
        if not archive.exists():
            archive.parent.mkdir(parents=True, exist_ok=True)
            for old in archive.parent.glob("siteplane-*.tar"):
                old.unlink()  # keep one archive: they are large, and the layer cache rebuilds any
            _drop_old_tags(buildah, keep=reference)
            partial = archive.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            buildah.run("tag", tag, reference)
            buildah.run("push", "--quiet", tag, f"docker-archive:{partial}:{reference}")
            partial.rename(archive)
        _log(f"image {reference} ready in {time.monotonic() - started:.0f}s: {archive}")
        return BuiltImage(archive=archive, reference=reference, image_id=image_id)


def image_config(archive: Path) -> dict[str, object]:
    """The image's config (Entrypoint, Cmd, User, Env, ...) read from a docker-archive."""
    with tarfile.open(archive) as tar:
        manifest = json.loads(_member(tar, "manifest.json"))
        config = json.loads(_member(tar, manifest[0]["Config"]))
    return dict(config["config"])


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    file = tar.extractfile(name)
    if file is None:
        raise ValueError(f"{name} is not a file in the archive")
    return file.read()


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(build().archive)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
