"""Zone files on local disk: the embedded default DNS backend.

Each zone lives in ``<directory>/<zone>.zone``, rendered by dnspython from dnspython objects only:
record data is parsed from the canonical rdata text and owner names are checked label by label, so
no value can smuggle a directive or a second record into the file. Writes are atomic (temporary
file in the same directory, fsync, rename, fsync of the directory), and a rendered file is parsed
back and compared with what was meant before it replaces the old one.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import dns.exception
import dns.name
import dns.rdata
import dns.rdataset
import dns.rdatatype
import dns.zone
from dns.rdataclass import IN

from siteplane.dns.backend import BackendError, SOASettings, ZoneConfig, ZoneContent, ZoneMissing
from siteplane.dns.content import MAX_TTL, canonical_soa, soa_rdata, zone_content
from siteplane.domain.names import APEX, normalise
from siteplane.domain.records import RecordKey, RecordSet, canonical_rdata
from siteplane.planning.changes import ChangeSet, apply_to

SERIAL_MAX = 2**32 - 1
RELOAD_TIMEOUT = 30.0
STDERR_TAIL = 500
FILE_MODE = 0o644  # the DNS server usually runs as another user and must read the file

# Zone labels become a file name and the last argv of the reload command: no leading '-' or '.'.
_ZONE_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_OWNER_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
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


def zone_name(zone: str) -> str:
    """``zone`` normalised, or BackendError when it is not a plain lowercase DNS name (and so a safe file name)."""
    name = normalise(zone)
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_ZONE_LABEL.fullmatch(label) for label in labels):
        raise BackendError(f"invalid zone name {zone!r}", retryable=False)
    return name


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
        # Zones written but not yet reloaded successfully: a retried apply finds nothing to write,
        # yet the server still has to pick the file up.
        self._reload_pending: set[str] = set()

    def path(self, zone: str) -> Path:
        return self.directory / f"{zone_name(zone)}.zone"

    def read_zone(self, zone: str) -> ZoneContent | None:
        name = zone_name(zone)
        try:
            text = self.path(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise BackendError(f"cannot read zone file for {name}: {exc}") from exc
        return _parse(name, text)

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
        try:
            self.path(name).unlink(missing_ok=True)
            if self.directory.is_dir():
                _fsync_directory(self.directory)
        except OSError as exc:
            raise BackendError(f"cannot remove zone file for {name}: {exc}") from exc

    def _converge(self, zone: ZoneConfig, current: ZoneContent | None, desired: Mapping[RecordKey, RecordSet]) -> int:
        name = zone_name(zone.name)
        records = {key: _checked_set(name, rs) for key, rs in desired.items()}
        soa = canonical_soa(zone.soa)
        if current is not None and dict(current.record_sets) == records and current.soa == soa:
            if name in self._reload_pending:
                self._reload(name)
            return current.serial
        serial = next_serial(current.serial if current else None, self._clock())
        data = render(name, soa, serial, records.values())
        if _parse(name, data.decode("utf-8")) != ZoneContent(serial, records, soa):
            raise BackendError(f"zone {name} does not survive rendering unchanged", retryable=False)
        # Marked before writing: a failure after the rename must still leave the reload owed.
        self._reload_pending.add(name)
        self._write(name, data)
        self._reload(name)
        return serial

    def _write(self, name: str, data: bytes) -> None:
        target = self.path(name)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Same directory as the target, so os.replace is an atomic rename on one file system.
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=".tmp")
        except OSError as exc:
            raise BackendError(f"cannot write zone file for {name}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), FILE_MODE)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            _fsync_directory(self.directory)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise BackendError(f"cannot write zone file for {name}: {exc}") from exc
            raise

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


def render(zone: str, soa: SOASettings, serial: int, record_sets: Iterable[RecordSet]) -> bytes:
    """The zone file bytes: ``$ORIGIN`` first, then names and types sorted, so equal content gives equal bytes."""
    origin = dns.name.from_text(zone_name(zone), origin=dns.name.root)
    z = dns.zone.Zone(origin, relativize=True)
    apex = z.find_node(dns.name.empty, create=True)
    apex.replace_rdataset(dns.rdataset.from_rdata(soa.ttl, soa_rdata(soa, serial)))
    by_name: dict[str, list[RecordSet]] = {}
    for rs in record_sets:
        by_name.setdefault(rs.name, []).append(rs)
    for owner, sets in by_name.items():
        types = {rs.type for rs in sets}
        if "CNAME" in types and (len(types) > 1 or owner == APEX):
            raise BackendError(f"{owner} in zone {zone} has a CNAME besides other data", retryable=False)
        node = z.find_node(_owner(owner, origin), create=True)
        for rs in sorted(sets, key=lambda r: r.type):
            rdatas = sorted(_rdatas(rs), key=lambda r: r.to_text())
            node.replace_rdataset(dns.rdataset.from_rdata_list(rs.ttl, rdatas))
    text = z.to_text(sorted=True, relativize=True, want_origin=True)
    lines = text.splitlines()
    # Belt and braces: dnspython escapes everything, but a directive in the output would be fatal.
    if lines[0] != f"$ORIGIN {zone_name(zone)}." or any(line.startswith("$") for line in lines[1:]):
        raise BackendError(f"zone {zone} rendered with unexpected directives", retryable=False)
    return text.encode("utf-8")


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


def _owner(owner: str, origin: dns.name.Name) -> dns.name.Name:
    labels = owner.split(".")
    valid = owner == APEX or (
        all(_OWNER_LABEL.fullmatch(label) or (i == 0 and label == "*") for i, label in enumerate(labels))
    )
    if not valid:
        raise BackendError(f"invalid owner name {owner!r} in zone {origin}", retryable=False)
    try:
        name = dns.name.empty if owner == APEX else dns.name.from_text(owner, origin=None)
        name.derelativize(origin)
    except dns.name.NameTooLong as exc:
        raise BackendError(f"owner name {owner!r} is too long for zone {origin}", retryable=False) from exc
    return name


def _rdatas(rs: RecordSet) -> list[dns.rdata.Rdata]:
    try:
        rdtype = dns.rdatatype.from_text(rs.type)
    except dns.exception.DNSException as exc:
        raise BackendError(f"unknown record type {rs.type!r} for {rs.name}", retryable=False) from exc
    if rdtype == dns.rdatatype.SOA:
        raise BackendError(f"the SOA of {rs.name} is managed by the backend", retryable=False)
    if not rs.rdata:
        raise BackendError(f"record set {rs.key} has no data", retryable=False)
    if not 0 <= rs.ttl <= MAX_TTL:
        raise BackendError(f"record set {rs.key} has TTL {rs.ttl} out of range", retryable=False)
    result = []
    for text in rs.rdata:
        # A line break would end the rdata early and dnspython would silently drop the rest.
        if _CONTROL.search(text):
            raise BackendError(f"record set {rs.key} has control characters in its data", retryable=False)
        try:
            # relativize=False: the canonical text leaves the root's final dot off host names, which
            # inside the zone would otherwise be read as relative to the zone's origin.
            result.append(dns.rdata.from_text(IN, rdtype, text, origin=dns.name.root, relativize=False))
        except (dns.exception.DNSException, ValueError) as exc:
            raise BackendError(f"record set {rs.key} has invalid data {text!r}: {exc}", retryable=False) from exc
    return result


def _checked_set(zone: str, rs: RecordSet) -> RecordSet:
    """``rs`` if it can be written exactly as it is, else BackendError."""
    _owner(rs.name, dns.name.from_text(zone, origin=dns.name.root))
    rdtype = _rdatas(rs)[0].rdtype
    for text in rs.rdata:
        # Only the canonical spelling is accepted: dnspython stops parsing at an unquoted ';', so
        # anything else might have been cut short, and would also never compare equal when read back.
        canonical = _canonical_text(rdtype, text)
        if canonical != text:
            raise BackendError(f"record set {rs.key} has data {text!r}, canonically {canonical!r}", retryable=False)
    return rs


def _canonical_text(rdtype: dns.rdatatype.RdataType, text: str) -> str:
    return canonical_rdata(rdtype, text)


def _fsync_directory(directory: Path) -> None:
    # The rename itself is only durable once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
