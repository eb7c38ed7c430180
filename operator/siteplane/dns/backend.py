"""The interface every DNS backend implements, small enough for zone files, BIND/Knot and PowerDNS.

A backend knows how to read a zone's record sets, apply a change set to it, and create or remove
a zone. It does not decide what the zone should hold (planning does) and does not serialise
writers (the caller guarantees one writer per zone at a time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from siteplane.domain.records import RecordKey, RecordSet
from siteplane.errors import BackendError as BackendError  # where every backend finds it
from siteplane.planning.changes import ChangeSet


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


@dataclass(frozen=True)
class ZoneConfig:
    """What a backend needs to know about a zone besides its record sets."""

    name: str  # normalised: lowercase, no trailing dot
    soa: SOASettings


@dataclass(frozen=True)
class ZoneContent:
    """A zone as the backend serves it: the SOA serial and every record set except the SOA."""

    serial: int
    record_sets: Mapping[RecordKey, RecordSet]
    soa: SOASettings | None = None


class DriftDetected(BackendError):
    """The zone changed on the server since it was last read, so nothing (more) was written: read it
    again and re-plan. Optimistic backends raise it when a write's precondition fails."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class RecordSetsRefused(BackendError):
    """The server refused some record sets (``refused``, with a reason each); every other change was
    applied (``serial``). Sending a refused set again unchanged would be refused again."""

    def __init__(self, zone: str, refused: Mapping[RecordKey, str], serial: int) -> None:
        keys = ", ".join(str(k) for k in sorted(refused))
        super().__init__(f"server refused record sets {keys} in zone {zone}; the rest was applied", retryable=False)
        self.reasons = dict(refused)
        self.refused = sorted(refused)
        self.serial = serial


class ZoneMissing(BackendError):
    """The zone does not exist on the backend."""

    def __init__(self, zone: str) -> None:
        super().__init__(f"zone {zone} does not exist on the backend", retryable=False)


class Backend(Protocol):
    """One DNS backend. Implementations: zonefile (embedded default), rfc2136, powerdns."""

    def check(self) -> None:
        """Raise BackendError unless the backend is reachable and accepts our credentials."""
        ...

    def read_zone(self, zone: str) -> ZoneContent | None:
        """The zone as served, or None when the backend has no such zone."""
        ...

    def create_zone(self, zone: ZoneConfig, record_sets: Iterable[RecordSet]) -> int:
        """Create the zone holding exactly ``record_sets``; returns its serial. Idempotent: if the zone
        exists, it is brought to exactly ``record_sets``."""
        ...

    def apply(self, zone: ZoneConfig, changes: ChangeSet) -> int:
        """Apply ``changes`` (and any SOA settings change) in one write; returns the serial.

        An empty change set with unchanged SOA settings writes nothing and returns the current
        serial: the serial rises on every change and never on a no-op.
        """
        ...

    def remove_zone(self, zone: str) -> None:
        """Remove the zone; removing a zone that does not exist is not an error."""
        ...
