"""Zone files on local disk: the embedded default DNS backend.

Each zone lives in ``<directory>/<zone>.zone``, rendered by ``content.render_zone_file`` from
dnspython objects only: record data is parsed from the canonical rdata text and owner names are
checked label by label, so no value can smuggle a directive or a second record into the file.
Writes are atomic (temporary file in the same directory, fsync, rename, fsync of the directory),
and a rendered file is parsed back and compared with what was meant before it replaces the old one.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import dns.exception
import dns.zone

from siteplane.dns.backend import BackendError, ZoneConfig, ZoneContent, ZoneMissing
from siteplane.dns.content import canonical_soa, checked_record_set, render_zone_file, zone_content, zone_name
from siteplane.dns.files import fsync_directory, write_atomically
from siteplane.domain.records import RecordKey, RecordSet
from siteplane.planning.changes import ChangeSet, apply_to

SERIAL_MAX = 2**32 - 1
RELOAD_TIMEOUT = 30.0
STDERR_TAIL = 500

# Zone files may be edited by hand; $INCLUDE and $GENERATE would read or create data we never wrote.
_READ_DIRECTIVES = ("$ORIGIN", "$TTL")


def next_serial(old: int | None, now: float) -> int:
    """The serial after ``old``: the clock when it is ahead, else ``old + 1``, in RFC 1982 arithmetic."""
    if old is None:
        return int(now) if 0 < now <= SERIAL_MAX else 1
    candidate = max(old + 1, int(now))
    # An increment of 2**31 or more reads as a decrease to secondaries, so the clock may not jump that far.
    if candidate > SERIAL_MAX or candidate - old >= 2**31:
        candidate = (old + 1) % 2**32
    return candidate or 1


class ZoneFileBackend:
    """Zone files in one directory, optionally followed by a reload command (e.g. ``rndc reload``)."""

    def __init__(
        self,
        directory: Path,
        reload_command: Sequence[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.reload_command = tuple(reload_command) if reload_command else None
        self.reload_timeout = RELOAD_TIMEOUT
        self._clock = clock
        self.writes = 0  # zone files written, for tests and metrics
        # Zones written but not yet reloaded successfully: a retried apply finds nothing to write,
        # yet the server still has to pick the file up.
        self._reload_pending: set[str] = set()
        # The last content read or written per zone, keyed by the file's identity (inode, size,
        # mtime): a sync reads its zone before and after writing, and parsing is most of its cost.
        # Any other writer (an atomic replace, an edit in place) changes that identity.
        self._parsed: dict[str, tuple[tuple[int, int, int], ZoneContent]] = {}

    def check(self) -> None:
        """The directory exists (it is created if not) and the operator may write there."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(
                f"cannot create zone directory {self.directory}: {exc.strerror}", retryable=False
            ) from exc
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise BackendError(f"zone directory {self.directory} is not writable by the operator", retryable=False)

    def path(self, zone: str) -> Path:
        return self.directory / f"{zone_name(zone)}.zone"

    def read_zone(self, zone: str) -> ZoneContent | None:
        name = zone_name(zone)
        path = self.path(name)
        try:
            with path.open("rb") as file:
                identity = _identity(os.fstat(file.fileno()))
                cached = self._parsed.get(name)
                if cached is not None and cached[0] == identity:
                    return cached[1]
                text = file.read().decode("utf-8")
        except FileNotFoundError:
            self._parsed.pop(name, None)
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise BackendError(f"cannot read zone file for {name}: {exc}") from exc
        content = _parse(name, text)
        self._parsed[name] = (identity, content)
        return content

    def create_zone(self, zone: ZoneConfig, record_sets: Iterable[RecordSet]) -> int:
        # Idempotent: an existing file is brought to exactly ``record_sets`` like any other change.
        desired: dict[RecordKey, RecordSet] = {}
        for rs in record_sets:
            if rs.key in desired:
                raise BackendError(f"record set {rs.key} given twice for zone {zone.name}", retryable=False)
            desired[rs.key] = rs
        return self._converge(zone, self.read_zone(zone.name), desired)

    def apply(self, zone: ZoneConfig, changes: ChangeSet) -> int:
        current = self.read_zone(zone.name)
        if current is None:
            raise ZoneMissing(zone.name)
        return self._converge(zone, current, apply_to(current.record_sets, changes))

    def remove_zone(self, zone: str) -> None:
        # The reload command is not run: there is no file left to load, and taking the zone out of
        # the server's configuration is not this backend's business.
        name = zone_name(zone)
        self._reload_pending.discard(name)
        self._parsed.pop(name, None)
        try:
            self.path(name).unlink(missing_ok=True)
            if self.directory.is_dir():
                fsync_directory(self.directory)
        except OSError as exc:
            raise BackendError(f"cannot remove zone file for {name}: {exc}") from exc

    def _converge(self, zone: ZoneConfig, current: ZoneContent | None, desired: Mapping[RecordKey, RecordSet]) -> int:
        name = zone_name(zone.name)
        records = {key: checked_record_set(name, rs) for key, rs in desired.items()}
        soa = canonical_soa(zone.soa)
        if current is not None and dict(current.record_sets) == records and current.soa == soa:
            if name in self._reload_pending:
                self._reload(name)
            return current.serial
        serial = next_serial(current.serial if current else None, self._clock())
        data = render_zone_file(name, soa, serial, records.values())
        written = ZoneContent(serial, records, soa)
        if _parse(name, data.decode("utf-8")) != written:
            raise BackendError(f"zone {name} does not survive rendering unchanged", retryable=False)
        # Marked before writing: a failure after the rename must still leave the reload owed.
        self._reload_pending.add(name)
        # Cached under the identity of the file we wrote, from its own descriptor (not a stat of the
        # path afterwards, which could be someone else's file by then).
        self._parsed[name] = (_identity(self._write(name, data)), written)
        self.writes += 1
        self._reload(name)
        return serial

    def _write(self, name: str, data: bytes) -> os.stat_result:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            return write_atomically(self.path(name), data)
        except OSError as exc:
            raise BackendError(f"cannot write zone file for {name}: {exc}") from exc

    def _reload(self, name: str) -> None:
        if self.reload_command is None:
            self._reload_pending.discard(name)
            return
        argv = [*self.reload_command, name]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=self.reload_timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BackendError(f"reload command {argv[0]} for zone {name} timed out after {exc.timeout}s") from exc
        except OSError as exc:
            raise BackendError(f"reload command {argv[0]} for zone {name} could not run: {exc}") from exc
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL:]
            raise BackendError(f"reload command {argv[0]} for zone {name} exited with {done.returncode}: {tail}")
        self._reload_pending.discard(name)


def _identity(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _parse(zone: str, text: str) -> ZoneContent:
    try:
        z = dns.zone.from_text(
            text,
            origin=zone + ".",
            relativize=True,
            check_origin=False,
            allow_include=False,
            allow_directives=_READ_DIRECTIVES,
        )
    except dns.exception.DNSException as exc:
        raise BackendError(f"cannot parse zone file for {zone}: {exc}", retryable=False) from exc
    return zone_content(z)
