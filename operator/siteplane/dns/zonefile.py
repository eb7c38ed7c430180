"""Zone files on local disk: the embedded default DNS backend.

Each zone lives in ``<directory>/<zone>.zone``, rendered by ``content.render_zone_file`` from
dnspython objects only: record data is parsed from the canonical rdata text and owner names are
checked label by label, so no value can smuggle a directive or a second record into the file.
Writes are atomic (temporary file in the same directory, fsync, rename, fsync of the directory),
and a rendered file is parsed back and compared with what was meant before it replaces the old one.

The file on disk is what is served. A read takes the file's bytes and compares their digest with
the bytes this backend last read or wrote; only different bytes are parsed. A digest rather than
the file's inode, size and mtime: an edit in place can keep all three (a same-size change within
one clock tick, or an mtime set back). After a write (and the reload command) the file is read
again the same way, so a write returns what is on disk, which a reload hook or another writer
may have changed, rather than what was meant.

DNSSEC (``ZoneConfig.dnssec``): the zone is signed whole on every write (signing.py) with the keys
handed in, and an otherwise empty ``apply`` writes (re-signs) when the earliest signature
expires within ``resign_window`` seconds, so the periodic sync keeps signatures fresh. A change
of keys or of the denial chain, or turning DNSSEC off, is a write too. ``read_zone`` leaves the
DNSSEC records out; ``dnssec_state`` validates every RRset against the zone's own DNSKEY.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.zone

from siteplane.dns import signing
from siteplane.dns.backend import (
    BackendError,
    BackendStats,
    DnssecSettings,
    DnssecState,
    SOASettings,
    ZoneConfig,
    ZoneContent,
    ZoneMissing,
)
from siteplane.dns.content import canonical_soa, checked_record_set, render_zone_file, zone_content, zone_name
from siteplane.dns.files import fsync_directory, write_atomically
from siteplane.domain.changes import ChangeSet, apply_to
from siteplane.domain.records import RecordKey, RecordSet

SERIAL_MAX = 2**32 - 1
RELOAD_TIMEOUT = 30.0
SIGNATURE_VALIDITY = 14 * 86400  # seconds an RRSIG is valid from its signing
RESIGN_WINDOW = 7 * 86400  # re-sign when the earliest signature expires within this many seconds
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


@dataclass
class _Seen:
    """A zone file's bytes as this backend last read or wrote them: their digest, and what they hold."""

    digest: bytes
    content: ZoneContent
    signature: signing.Signature | None = None  # how the file is signed (None: unsigned)
    zone: dns.zone.Zone | None = None  # the parsed file, for dnssec_state (kept only for signed zones)
    state: DnssecState | None = None  # dnssec_state of these bytes, once asked


class ZoneFileBackend:
    """Zone files in one directory, optionally followed by a reload command (e.g. ``rndc reload``)."""

    def __init__(
        self,
        directory: Path,
        reload_command: Sequence[str] | None = None,
        clock: Callable[[], float] = time.time,
        signature_validity: float = SIGNATURE_VALIDITY,
        resign_window: float = RESIGN_WINDOW,
    ) -> None:
        if not 0 <= resign_window < signature_validity:
            raise ValueError("the re-signing window must be shorter than the signatures' validity")
        self.directory = Path(directory)
        self.signature_validity = int(signature_validity)
        self.resign_window = int(resign_window)
        self.reload_command = tuple(reload_command) if reload_command else None
        self.reload_timeout = RELOAD_TIMEOUT
        self._clock = clock
        self.stats = BackendStats()
        # Zones written but not yet reloaded successfully: a retried apply finds nothing to write,
        # yet the server still has to pick the file up.
        self._reload_pending: set[str] = set()
        # Per zone, the bytes last read or written: parsing is most of a read's cost, and a quiet
        # zone's bytes come back identical.
        self._seen: dict[str, _Seen] = {}

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
        """The file's content: its bytes read and digested (the probe), parsed only when they differ
        from the bytes last read or written."""
        name = zone_name(zone)
        self.stats.probes += 1
        try:
            data = self.path(name).read_bytes()
        except FileNotFoundError:
            self._seen.pop(name, None)
            return None
        except OSError as exc:
            raise BackendError(f"cannot read zone file for {name}: {exc}") from exc
        digest = hashlib.sha256(data).digest()
        seen = self._seen.get(name)
        if seen is not None and seen.digest == digest:
            return seen.content
        self.stats.full_reads += 1
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BackendError(f"cannot read zone file for {name}: {exc}") from exc
        self._seen[name] = seen = _parse(name, text, digest)
        return seen.content

    def create_zone(self, zone: ZoneConfig, record_sets: Iterable[RecordSet]) -> ZoneContent:
        # Idempotent: an existing file is brought to exactly ``record_sets`` like any other change.
        desired: dict[RecordKey, RecordSet] = {}
        for rs in record_sets:
            if rs.key in desired:
                raise BackendError(f"record set {rs.key} given twice for zone {zone.name}", retryable=False)
            desired[rs.key] = rs
        return self._converge(zone, self.read_zone(zone.name), desired)

    def apply(self, zone: ZoneConfig, changes: ChangeSet) -> ZoneContent:
        current = self.read_zone(zone.name)
        if current is None:
            raise ZoneMissing(zone.name)
        return self._converge(zone, current, apply_to(current.record_sets, changes))

    def dnssec_state(self, zone: str) -> DnssecState:
        """The file's DNSSEC, every RRset validated against its DNSKEY at the backend's clock;
        remembered for the same bytes (validating costs a signature check per RRset)."""
        name = zone_name(zone)
        if self.read_zone(name) is None:
            raise ZoneMissing(name)
        seen = self._seen[name]
        if seen.signature is None or seen.zone is None:
            return DnssecState(signed=False)
        now = self._clock()
        if seen.state is None or (seen.state.signatures_expire or 0) <= now:
            seen.state = signing.state_of(seen.zone, now)
        return seen.state

    def remove_zone(self, zone: str) -> None:
        # The reload command is not run: there is no file left to load, and taking the zone out of
        # the server's configuration is not this backend's business.
        name = zone_name(zone)
        self._reload_pending.discard(name)
        self._seen.pop(name, None)
        try:
            self.path(name).unlink(missing_ok=True)
            if self.directory.is_dir():
                fsync_directory(self.directory)
        except OSError as exc:
            raise BackendError(f"cannot remove zone file for {name}: {exc}") from exc

    def _converge(
        self, zone: ZoneConfig, current: ZoneContent | None, desired: Mapping[RecordKey, RecordSet]
    ) -> ZoneContent:
        """Write the file if its content (``current``, just read from disk) is not ``desired``; the file
        as it is on disk afterwards."""
        name = zone_name(zone.name)
        records = {key: checked_record_set(name, rs) for key, rs in desired.items()}
        soa = canonical_soa(zone.soa)
        now = self._clock()
        seen = self._seen.get(name) if current is not None else None
        signed_as_wanted = self._signed_as_wanted(seen.signature if seen else None, zone.dnssec, now)
        if current is not None and dict(current.record_sets) == records and current.soa == soa and signed_as_wanted:
            if name in self._reload_pending:
                self._reload(name)
            return current
        serial = next_serial(current.serial if current else None, now)
        data = render_zone_file(name, soa, serial, records.values())
        if zone.dnssec is not None:
            data = self._signed(name, data, zone.dnssec, soa, now)
        written = ZoneContent(serial, records, soa)
        parsed = _parse(name, data.decode("utf-8"), hashlib.sha256(data).digest())
        if parsed.content != written:
            raise BackendError(f"zone {name} does not survive rendering unchanged", retryable=False)
        # Marked before writing: a failure after the rename must still leave the reload owed.
        self._reload_pending.add(name)
        self._write(name, data)
        self.stats.wrote()
        # Remembered as written, so that reading the same bytes back costs a digest and no parse.
        self._seen[name] = parsed
        self._reload(name)
        served = self.read_zone(name)
        if served is None:
            raise BackendError(f"zone file for {name} is gone right after it was written")
        return served

    def _signed_as_wanted(self, signature: signing.Signature | None, wanted: DnssecSettings | None, now: float) -> bool:
        """Whether a file signed as ``signature`` needs no re-signing for ``wanted``."""
        if wanted is None:
            return signature is None
        return (
            signature is not None
            and signature.denial == wanted.denial
            and signature.dnskeys == signing.public_dnskeys(wanted)
            and signature.expires is not None
            and signature.expires - now > self.resign_window
        )

    def _signed(self, name: str, data: bytes, settings: DnssecSettings, soa: SOASettings, now: float) -> bytes:
        """The rendered zone file ``data``, signed whole."""
        z = dns.zone.from_text(data.decode("utf-8"), origin=name + ".", relativize=True, check_origin=False)
        inception = int(now) - signing.INCEPTION_SLACK
        # RFC 9077: the denial records' TTL is the lesser of the SOA's TTL and its minimum field.
        signing.sign(z, settings, inception, int(now) + self.signature_validity, soa.ttl, min(soa.ttl, soa.minimum))
        text = z.to_text(sorted=True, relativize=True, want_origin=True)
        lines = text.splitlines()
        if lines[0] != f"$ORIGIN {name}." or any(line.startswith("$") for line in lines[1:]):
            raise BackendError(f"zone {name} signed with unexpected directives", retryable=False)
        return text.encode("utf-8")

    def _write(self, name: str, data: bytes) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path(name), data)
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


def _parse(zone: str, text: str, digest: bytes) -> _Seen:
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
    signature = signing.signature_of(z)
    return _Seen(digest, zone_content(z), signature, z if signature is not None else None)
