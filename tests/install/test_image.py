"""The image built from the repository's Containerfile (harness/image/build.py: buildah, a local
Debian base, no registry), unpacked from its docker-archive and run as the kubelet would run it
under the chart's settings: as its numeric non-root user, root filesystem read-only, only the
data directory and /tmp writable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.image.build import BuiltImage, build, image_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="building and running the image needs root (CI runs as root)")

ENTRYPOINT = ["/opt/siteplane/bin/siteplane"]
UID = 65532


@pytest.fixture(scope="module")
def image() -> BuiltImage:
    return build()


def _unpack(archive: Path, root: Path) -> None:
    """The image's layers, in order, as a container runtime stacks them (whiteouts applied)."""
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for layer_name in manifest[0]["Layers"]:
            layer = outer.extractfile(layer_name)
            assert layer is not None
            with tarfile.open(fileobj=layer) as tar:
                members = []
                for member in tar.getmembers():
                    path = Path(member.name)
                    if path.name == ".wh..wh..opq":
                        for child in (root / path.parent).glob("*"):
                            _remove(child)
                    elif path.name.startswith(".wh."):
                        _remove(root / path.parent / path.name.removeprefix(".wh."))
                    else:
                        members.append(member)
                # Our own image, read back as root: owners, modes and absolute symlinks kept.
                tar.extractall(root, members=members, numeric_owner=True, filter="fully_trusted")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@pytest.fixture(scope="module")
def rootfs(image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("rootfs")
    root.chmod(0o755)  # it becomes `/`, which every user traverses
    _unpack(image.archive, root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_in_image(
    root: Path, config: dict[str, object], *command: str, user: str = f"{UID}:{UID}"
) -> subprocess.CompletedProcess[str]:
    """``command`` in the unpacked image: its own mount namespace, the root filesystem read-only,
    tmpfs on /tmp and the data directory (the chart's volumes), as ``user``, with the image's
    environment only."""
    env = [str(item) for item in config.get("Env") or []]  # type: ignore[attr-defined]
    workdir = str(config.get("WorkingDir") or "/")
    script = (
        'set -e; R="$1"; shift; '
        'mount --bind "$R" "$R"; mount -o remount,bind,ro "$R"; '
        'mount -t proc proc "$R/proc"; '
        'mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"; '
        f'mount -t tmpfs -o uid={UID},gid={UID},mode=0755 tmpfs "$R/var/lib/siteplane"; '
        f'exec chroot --userspec={user} "$R" /usr/bin/env -i "$@"'
    )
    return subprocess.run(
        [
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "sh",
            "-c",
            script,
            "sh",
            str(root),
            *env,
            "sh",
            "-c",
            f'cd {workdir} && exec "$@"',
            "sh",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_image_runs_siteplane_as_a_numeric_non_root_user(image: BuiltImage) -> None:
    config = image_config(image.archive)
    assert config["Entrypoint"] == ENTRYPOINT
    assert config["Cmd"] == ["run"]  # the operator by default; `serve` for the dashboard API
    assert config["User"] == f"{UID}:{UID}"  # numeric: runAsNonRoot can check it without /etc/passwd


def test_the_entrypoint_answers_as_that_user_on_a_read_only_root(rootfs: Path, image: BuiltImage) -> None:
    config = image_config(image.archive)
    entrypoint = [str(part) for part in config["Entrypoint"]]  # type: ignore[attr-defined]
    version = run_in_image(rootfs, config, *entrypoint, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "siteplane 0.1.0"
    for command in ([], ["run"], ["serve"], ["db", "upgrade"]):
        helped = run_in_image(rootfs, config, *entrypoint, *command, "--help")
        assert helped.returncode == 0, helped.stderr
        assert "usage: siteplane" in helped.stdout
    # Who it runs as, and that the root filesystem really is read-only for it.
    probe = run_in_image(rootfs, config, "/bin/sh", "-c", "id -u; id -g; touch /opt/siteplane/x 2>&1 || echo refused")
    assert probe.stdout.split()[:2] == [str(UID), str(UID)]
    assert "refused" in probe.stdout


def test_the_migration_runs_on_a_read_only_root_with_only_the_data_volume_writable(
    rootfs: Path, image: BuiltImage
) -> None:
    config = image_config(image.archive)
    entrypoint = [str(part) for part in config["Entrypoint"]]  # type: ignore[attr-defined]
    # The image's defaults put the database and the zone files on the data volume.
    upgraded = run_in_image(
        rootfs, config, "/bin/sh", "-c", " ".join([*entrypoint, "db", "upgrade", "&&", "ls", "/var/lib/siteplane"])
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert "siteplane.db" in upgraded.stdout


def test_rndc_is_there_for_the_bind_provisioner(rootfs: Path, image: BuiltImage) -> None:
    config = image_config(image.archive)
    rndc = run_in_image(rootfs, config, "rndc")  # on PATH; without arguments it prints its usage
    assert "Usage" in rndc.stderr + rndc.stdout, rndc.stderr
    assert "not found" not in rndc.stderr


def test_siteplane_is_installed_from_its_wheel_not_from_the_source_tree(rootfs: Path, image: BuiltImage) -> None:
    config = image_config(image.archive)
    script = (
        "import importlib.metadata as m, pathlib, siteplane; d = m.distribution('siteplane'); "
        "print(d.version); print(d.read_text('WHEEL') is not None); "
        "print(d.read_text('direct_url.json') or ''); print(pathlib.Path(siteplane.__file__).parent)"
    )
    shown = run_in_image(rootfs, config, "/opt/siteplane/bin/python", "-c", script)
    assert shown.returncode == 0, shown.stderr
    version, has_wheel_metadata, direct_url, package_dir = shown.stdout.strip().splitlines()
    assert version == "0.1.0"
    assert has_wheel_metadata == "True"
    assert json.loads(direct_url)["url"].endswith(".whl")  # installed from the built wheel
    assert package_dir.startswith("/opt/siteplane/lib/python3") and "site-packages" in package_dir
    assert not (rootfs / "src").exists() and not (rootfs / "wheels").exists()
    # The dashboard's page is package data of the wheel.
    assert list((rootfs / package_dir.lstrip("/") / "dashboard" / "page").glob("*.html"))


def test_the_runtime_has_no_build_tools(rootfs: Path) -> None:
    installed = {
        block.split("\n", 1)[0].removeprefix("Package: ")
        for block in (rootfs / "var/lib/dpkg/status").read_text().split("\n\n")
        if "Status: install ok installed" in block
    }
    for package in ("gcc", "cpp", "make", "build-essential", "python3-pip", "python3-venv", "python3-dev", "libc6-dev"):
        assert package not in installed
    assert {"python3", "bind9-utils", "ca-certificates"} <= installed
    bin_dir = rootfs / "opt/siteplane/bin"
    assert not [p.name for p in bin_dir.iterdir() if p.name.startswith(("pip", "easy_install"))]
    site = next((rootfs / "opt/siteplane/lib").glob("python3*/site-packages"))
    assert not (site / "pip").exists() and not (site / "setuptools").exists()
    for tool in ("gcc", "cc", "make", "apt-get.real"):
        assert not (rootfs / "usr/bin" / tool).exists()
    assert not list((rootfs / "var/lib/apt/lists").glob("*_Packages"))  # no package lists left behind


def test_nothing_in_the_image_is_writable_by_its_user(rootfs: Path) -> None:
    """The image owns no file to its user: whatever siteplane writes goes to a volume."""
    owned = [p for p in (rootfs / "opt").rglob("*") if not p.is_symlink() and p.lstat().st_uid == UID]
    assert not owned[:5]
