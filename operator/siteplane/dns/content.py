"""What every backend needs of zone content: reading a dnspython zone, building and comparing SOAs,
checking zone names and rendering zone files.

Zone files are rendered by dnspython from dnspython objects only: record data is parsed from the
canonical rdata text and owner names are checked label by label, so no value can smuggle a
directive or a second record into the file. The zone-file backend writes them, and the rndc zone
provisioner seeds new BIND zones with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.zone
from dns.rdataclass import IN
from dns.rdtypes.ANY.SOA import SOA

from siteplane.dns.backend import DNSSEC_TYPES, BackendError, SOASettings, ZoneContent
from siteplane.domain.names import APEX, normalise
from siteplane.domain.records import RecordKey, RecordSet, canonical_rdata

MAX_TTL = 2**31 - 1  # RFC 2181 section 8

# Zone names become file names and the last argv of commands (a reload command, rndc): no leading '-' or '.'.
_ZONE_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_OWNER_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def zone_name(zone: str) -> str:
    """``zone`` normalised, or BackendError when it is not a plain lowercase DNS name (and so a safe file name)."""
    name = normalise(zone)
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_ZONE_LABEL.fullmatch(label) for label in labels):
        raise BackendError(f"invalid zone name {zone!r}", retryable=False)
    return name


def soa_rdata(soa: SOASettings, serial: int) -> SOA:
    """The SOA record for ``soa`` at ``serial``; settings no server could take are refused here."""
    try:
        if not 0 <= soa.ttl <= MAX_TTL:
            raise ValueError(f"TTL {soa.ttl} out of range")
        return SOA(  # type: ignore[no-untyped-call]  # dnspython leaves rdata constructors unannotated
            dns.rdataclass.IN,
            dns.rdatatype.SOA,
            dns.name.from_text(soa.mname, origin=dns.name.root),
            dns.name.from_text(soa.rname, origin=dns.name.root),
            serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum,
        )
    except (dns.exception.DNSException, ValueError, TypeError) as exc:
        raise BackendError(f"invalid SOA settings {soa}: {exc}", retryable=False) from exc


def canonical_soa(soa: SOASettings) -> SOASettings:
    """``soa`` spelled as servers give it back (names lowercased and absolute), so settings compare."""
    rdata = soa_rdata(soa, 0)
    return SOASettings(
        mname=rdata.mname.canonicalize().to_text(),
        rname=rdata.rname.canonicalize().to_text(),
        refresh=soa.refresh,
        retry=soa.retry,
        expire=soa.expire,
        minimum=soa.minimum,
        ttl=soa.ttl,
    )


def zone_content(z: dns.zone.Zone) -> ZoneContent:
    """Every record set but the SOA, with canonical rdata and relative owner names; the SOA apart.

    All backends read zones through this one function (or, for IXFR differences, through the
    same helpers below), so that what any of them serves compares equal to what the planner produced.
    """
    assert z.origin is not None
    serial = 0
    soa: SOASettings | None = None
    records: dict[RecordKey, RecordSet] = {}
    for name, node in z.nodes.items():
        owner = owner_text(name)
        for rds in node:
            if rds.rdtype == dns.rdatatype.SOA and owner == APEX:
                rdata = rds[0]
                assert isinstance(rdata, SOA)
                serial, soa = rdata.serial, soa_settings(z.origin, rdata, rds.ttl)
                continue
            if dns.rdatatype.to_text(rds.rdtype) in DNSSEC_TYPES:
                continue  # the signer's, not the zone's content
            rs = RecordSet(owner, dns.rdatatype.to_text(rds.rdtype), rds.ttl, rdata_texts(z.origin, rds))
            records[rs.key] = rs
    return ZoneContent(serial, records, soa)


def owner_text(name: dns.name.Name) -> str:
    """A zone-relative owner name as record sets spell it: lowercase, ``@`` for the apex."""
    return APEX if name == dns.name.empty else name.canonicalize().to_text()


def rdata_texts(origin: dns.name.Name, rdatas: Iterable[dns.rdata.Rdata]) -> tuple[str, ...]:
    """Canonical texts of rdata read relative to ``origin`` (host names made absolute again)."""
    return tuple(canonical_rdata(rd.rdtype, rd.to_text(origin=origin, relativize=False)) for rd in rdatas)


def soa_settings(origin: dns.name.Name, soa: SOA, ttl: int) -> SOASettings:
    """The settings an SOA read relative to ``origin`` holds, spelled as ``canonical_soa`` spells them."""
    return SOASettings(
        mname=soa.mname.derelativize(origin).canonicalize().to_text(),
        rname=soa.rname.derelativize(origin).canonicalize().to_text(),
        refresh=soa.refresh,
        retry=soa.retry,
        expire=soa.expire,
        minimum=soa.minimum,
        ttl=ttl,
    )


def render_zone_file(zone: str, soa: SOASettings, serial: int, record_sets: Iterable[RecordSet]) -> bytes:
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


def checked_record_set(zone: str, rs: RecordSet) -> RecordSet:
    """``rs`` if it can be written exactly as it is, else BackendError."""
    _owner(rs.name, dns.name.from_text(zone, origin=dns.name.root))
    rdtype = _rdatas(rs)[0].rdtype
    for text in rs.rdata:
        # Only the canonical spelling is accepted: dnspython stops parsing at an unquoted ';', so
        # anything else might have been cut short, and would also never compare equal when read back.
        canonical = canonical_rdata(rdtype, text)
        if canonical != text:
            raise BackendError(f"record set {rs.key} has data {text!r}, canonically {canonical!r}", retryable=False)
    return rs
