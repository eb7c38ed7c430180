"""The interface every DNS backend implements, small enough for zone files, BIND/Knot and PowerDNS.

A backend knows how to read a zone's record sets, apply a change set to it, and create or remove
a zone. It does not decide what the zone should hold (planning does) and does not serialise
writers (the caller guarantees one writer per zone at a time).

Two promises keep a sync honest and cheap. A read of a zone that did not change since the backend
last saw it costs one freshness probe and nothing else. A write returns the zone as the server
serves it afterwards, read back from the server (or the file on disk), never assumed from what
was sent: servers do take writes differently from what was sent (BIND ignores a CNAME added
beside other data and still answers NOERROR, RFC 2136 section 3.4.2.2).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Literal, Protocol

from siteplane.domain.changes import ChangeSet
from siteplane.domain.records import RecordKey, RecordSet
from siteplane.errors import BackendError as BackendError  # where every backend finds it


@dataclass(frozen=True)
class SOASettings:
    """The SOA fields siteplane manages; the serial is the backend's business."""

    mname: str  # absolute host name, trailing dot
    rname: str  # absolute mailbox in DNS form, trailing dot
    refresh: int = 3600
    retry: int = 600
    expire: int = 1209600
    minimum: int = 300  # negative-answer TTL
    ttl: int = 3600


DNSSEC_TYPES = frozenset({"DNSKEY", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "CDS", "CDNSKEY"})
"""Record types that signing produces. ``read_zone`` never returns them: they are the signer's, not
the zone's content, and planning must never try to add or remove them."""


@dataclass(frozen=True)
class SigningKey:
    """One DNSSEC private key of a zone siteplane signs itself (zone files). Servers that sign
    (BIND, PowerDNS) keep their own keys and never see these."""

    private_pem: bytes = field(
        repr=False
    )  # PKCS#8 PEM; kept in a Secret, never in the database, logs, status or events
    flags: int  # 257: key-signing (SEP) or combined key; 256: zone-signing key
    algorithm: int  # 13: ECDSA P-256 with SHA-256
    created: int  # Unix time the key was made, for rollover


@dataclass(frozen=True)
class DnssecSettings:
    """How a zone is signed. Present on a ZoneConfig: the zone is (made) signed; absent: unsigned."""

    denial: Literal["NSEC3", "NSEC"] = "NSEC3"  # NSEC3 with 0 extra iterations and no salt (RFC 9276)
    algorithm: int = 13
    signing_keys: tuple[SigningKey, ...] = ()  # only for backends that sign in siteplane (zone files)


@dataclass(frozen=True)
class DnssecState:
    """A zone's DNSSEC as served: what the registrar needs (DS) and what a validator checks against."""

    signed: bool
    dnskeys: tuple[str, ...] = ()  # the SEP DNSKEY rdata (flags 257), presentation format
    ds: tuple[str, ...] = ()  # a DS (digest type 2, SHA-256) for each of ``dnskeys``, presentation format
    signatures_expire: int | None = None  # earliest RRSIG expiration served (Unix time); None unsigned
    problem: str | None = None
    """Why the served zone does not validate against its DNSKEY (None: it does, or the backend cannot
    tell). Backends that check their own signatures (zone files) fill it in."""


@dataclass(frozen=True)
class ZoneConfig:
    """What a backend needs to know about a zone besides its record sets."""

    name: str  # normalised: lowercase, no trailing dot
    soa: SOASettings
    dnssec: DnssecSettings | None = None


@dataclass(frozen=True)
class ZoneContent:
    """A zone as the backend serves it: the SOA serial and every record set except the SOA."""

    serial: int
    record_sets: Mapping[RecordKey, RecordSet]
    soa: SOASettings | None = None


@dataclass
class BackendStats:
    """What a backend has done since it was built, in the same shape for every backend (tests, metrics)."""

    probes: int = 0
    """Freshness checks: an SOA query, an SOA-only GET, reading a zone file's bytes to compare a digest."""
    full_reads: int = 0
    """Whole-zone reads: an AXFR (or an IXFR answered with the whole zone), a full GET, parsing a changed file."""
    incremental_reads: int = 0
    """IXFR queries, the RFC 2136 read-back after a write; one answered with the whole zone counts as a
    full read too."""
    writes: int = 0
    """Changes sent: zone files written, UPDATE messages, PowerDNS PATCH, POST and PUT requests. Creating
    a zone through rndc and removing a zone are not counted."""

    def wrote(self) -> None:
        """One change sent: counted here and for the thread sending it (``sent_by_this_thread``)."""
        self.writes += 1
        _sent.writes = getattr(_sent, "writes", 0) + 1

    def __sub__(self, earlier: BackendStats) -> BackendStats:
        """What was done since ``earlier`` (a copy taken then, e.g. with ``dataclasses.replace``)."""
        return BackendStats(**{f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)})


_sent = threading.local()


def sent_by_this_thread() -> int:
    """Changes this thread has sent through any backend so far. A zone sync runs in one thread,
    so the difference across it is what that sync sent, whatever other syncs run beside it."""
    writes: int = getattr(_sent, "writes", 0)
    return writes


class DriftDetected(BackendError):
    """The zone changed on the server since it was last read, so nothing (more) was written: read it
    again and re-plan. Optimistic backends raise it when a write's precondition fails."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class RecordSetsRefused(BackendError):
    """The server refused some record sets (``refused``, with a reason each); every other change was
    applied, and ``served`` is the zone as the server serves it afterwards, read back like any
    write's result. Sending a refused set again unchanged would be refused again."""

    def __init__(self, zone: str, refused: Mapping[RecordKey, str], served: ZoneContent) -> None:
        keys = ", ".join(str(k) for k in sorted(refused))
        super().__init__(f"server refused record sets {keys} in zone {zone}; the rest was applied", retryable=False)
        self.reasons = dict(refused)
        self.refused = sorted(refused)
        self.served = served

    @property
    def serial(self) -> int:
        return self.served.serial


class ZoneMissing(BackendError):
    """The zone does not exist on the backend."""

    def __init__(self, zone: str) -> None:
        super().__init__(f"zone {zone} does not exist on the backend", retryable=False)


class Backend(Protocol):
    """One DNS backend. Implementations: zonefile (embedded default), rfc2136, powerdns."""

    stats: BackendStats

    def check(self) -> None:
        """Raise BackendError unless the backend is reachable and accepts our credentials."""
        ...

    def read_zone(self, zone: str) -> ZoneContent | None:
        """The zone as served, or None when the backend has no such zone.

        Cheap when nothing changed since this backend last saw the zone: exactly one freshness
        probe and the content remembered from then. A whole-zone read only when the probe says
        the zone moved. What the probe can see differs per backend (see each one's docstring).
        """
        ...

    def create_zone(self, zone: ZoneConfig, record_sets: Iterable[RecordSet]) -> ZoneContent:
        """Create the zone holding exactly ``record_sets``; returns the zone as served afterwards.
        Idempotent: if the zone exists, it is brought to exactly ``record_sets``."""
        ...

    def apply(self, zone: ZoneConfig, changes: ChangeSet) -> ZoneContent:
        """Apply ``changes`` (and any SOA settings change) in one write; returns the zone as the
        server serves it afterwards, read back from the server, which may differ from what was sent.

        An empty change set with unchanged SOA settings writes nothing and costs one probe: the
        serial rises on every change and never on a no-op. ZoneMissing when there is no zone.
        """
        ...

    def remove_zone(self, zone: str) -> None:
        """Remove the zone; removing a zone that does not exist is not an error."""
        ...

    # DNSSEC. ``create_zone`` and ``apply`` bring the zone's signing to ``zone.dnssec``: turned on
    # (idempotently) when set, turned off when None; a change of settings counts as a write. A
    # backend that signs in siteplane (zone files) also re-signs on an otherwise empty ``apply``
    # when the earliest signature expires within its refresh window, so a periodic sync keeps
    # signatures fresh.

    def dnssec_state(self, zone: str) -> DnssecState:
        """The zone's DNSSEC as served (DNSKEY, DS for the parent, earliest signature expiry).
        ZoneMissing when there is no zone."""
        ...
