"""Record sets with typed, canonical rdata.

Record data is never built by pasting user text into zone-file syntax: each value goes through a
dnspython rdata constructor, and the canonical presentation text that dnspython renders (with
quotes, backslashes and semicolons escaped) is what we store, compare and send. Two record sets
are equal exactly when they would mean the same thing on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.CAA import CAA
from dns.rdtypes.ANY.TXT import TXT

from siteplane.domain.names import APEX, absolute

TXT_CHUNK = 255  # a DNS character-string holds at most 255 bytes


@dataclass(frozen=True, order=True)
class RecordKey:
    """Where a record set lives in its zone: relative owner name ('@' for the apex) and type."""

    name: str
    type: str

    def __str__(self) -> str:
        return f"{self.name}/{self.type}"


@dataclass(frozen=True)
class RecordSet:
    """One RRset: owner name relative to the zone, type, TTL and canonical rdata texts (sorted)."""

    name: str
    type: str
    ttl: int
    rdata: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "rdata", tuple(sorted(set(self.rdata))))

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.name, self.type)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "ttl": self.ttl, "rdata": list(self.rdata)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordSet:
        return cls(str(data["name"]), str(data["type"]), int(data["ttl"]), tuple(data["rdata"]))


# Remembered: every sync plans its whole zone again and reads its server's answer back, so the
# same few values are canonicalised over and over (a fifth of a quiet sync's CPU before). Room for
# every record of a 50,000-Site fleet, so a drift round over all zones does not evict as it goes.
@lru_cache(maxsize=1 << 17)
def canonical_rdata(rdtype: str | int, text: str) -> str:
    """The one spelling siteplane stores, compares and sends for some rdata: dnspython's text form,
    with host names absolute (trailing dot). Every source spelling of the same data ('::1' vs
    '0::1', 'Host.' vs 'host.') ends up identical."""
    kind = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else dns.rdatatype.RdataType(rdtype)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, kind, text, origin=dns.name.root, relativize=False)
    # Through the DNSSEC canonical wire form (RFC 4034 6.2), which lowercases the host names inside
    # CNAME, MX, NS, PTR, SRV... data: 'Host.' and 'host.' are the same name.
    wire = rdata.to_digestable(dns.name.root)
    return dns.rdata.from_wire(dns.rdataclass.IN, kind, wire, 0, len(wire)).to_text(relativize=False)


def _canonical(rdtype: str, rdata: dns.rdata.Rdata) -> str:
    return canonical_rdata(rdtype, rdata.to_text())


def _from_text(rdtype: str, text: str) -> str:
    return canonical_rdata(rdtype, text)


def txt_rdata(value: str) -> str:
    """A TXT value as one rdata, split into 255-byte character-strings, escaped by dnspython."""
    data = value.encode("utf-8")
    chunks = [data[i : i + TXT_CHUNK] for i in range(0, len(data), TXT_CHUNK)] or [b""]
    return _canonical("TXT", TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks))


def caa_rdata(flags: int, tag: str, value: str) -> str:
    caa = CAA(dns.rdataclass.IN, dns.rdatatype.CAA, flags, tag.encode(), value.encode())  # type: ignore[no-untyped-call]
    return _canonical("CAA", caa)


def typed_rdata(rdtype: str, value: Any) -> str:
    """Canonical rdata text for one typed value from a DNSRecord or Site spec."""
    match rdtype:
        case "A":
            return _from_text("A", str(IPv4Address(str(value))))
        case "AAAA":
            return _from_text("AAAA", str(IPv6Address(str(value))))
        case "CNAME" | "NS" | "PTR":
            return _from_text(rdtype, absolute(str(value)))
        case "MX":
            return _from_text("MX", f"{int(value.preference)} {absolute(value.host)}")
        case "SRV":
            return _from_text(
                "SRV", f"{int(value.priority)} {int(value.weight)} {int(value.port)} {absolute(value.target)}"
            )
        case "CAA":
            return caa_rdata(int(value.flags or 0), value.tag, value.value)
        case "TXT":
            return txt_rdata(str(value))
    raise ValueError(f"unsupported record type {rdtype}")


def record_set(name: str, rdtype: str, ttl: int, values: Iterable[Any]) -> RecordSet:
    return RecordSet(name, rdtype, ttl, tuple(typed_rdata(rdtype, v) for v in values))


def apex_ns(ttl: int, name_servers: Iterable[str]) -> RecordSet:
    return record_set(APEX, "NS", ttl, name_servers)
