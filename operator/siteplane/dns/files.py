"""Durable file writes for backends that hand files to a DNS server (zone files, rndc seed files).

A server may read the file at any moment, so it must see either the old content or the new, never a
torn write, and a crash must not lose a rename the caller was told succeeded.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

READABLE_BY_OTHERS = 0o644  # the DNS server usually runs as another user and must read the file


def write_atomically(target: Path, data: bytes, mode: int = READABLE_BY_OTHERS) -> None:
    """Write ``data`` to ``target`` through a temporary file, fsync and rename; OSError on failure."""
    # Same directory as the target, so os.replace is an atomic rename on one file system.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_directory(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink(missing_ok=True)
        raise


def fsync_directory(directory: Path) -> None:
    # A rename or an unlink is only durable once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
