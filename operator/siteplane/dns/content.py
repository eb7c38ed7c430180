"""What every backend needs of zone content: reading a dnspython zone, building and comparing SOAs."""

from __future__ import annotations

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
from dns.rdtypes.ANY.SOA import SOA

from siteplane.dns.backend import BackendError, SOASettings, ZoneContent
from siteplane.domain.names import APEX
from siteplane.domain.records import RecordKey, RecordSet, canonical_rdata

MAX_TTL = 2**31 - 1  # RFC 2181 section 8


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

    All backends read zones through this one function, so that what any of them serves compares
    equal to what the planner produced.
    """
    assert z.origin is not None
    serial = 0
    soa: SOASettings | None = None
    records: dict[RecordKey, RecordSet] = {}
    for name, node in z.nodes.items():
        owner = APEX if name == dns.name.empty else name.canonicalize().to_text()
        for rds in node:
            if rds.rdtype == dns.rdatatype.SOA and owner == APEX:
                soa_rdata = rds[0]
                assert isinstance(soa_rdata, SOA)
                serial = soa_rdata.serial
                soa = SOASettings(
                    mname=soa_rdata.mname.derelativize(z.origin).canonicalize().to_text(),
                    rname=soa_rdata.rname.derelativize(z.origin).canonicalize().to_text(),
                    refresh=soa_rdata.refresh,
                    retry=soa_rdata.retry,
                    expire=soa_rdata.expire,
                    minimum=soa_rdata.minimum,
                    ttl=rds.ttl,
                )
                continue
            rdata = tuple(canonical_rdata(rds.rdtype, rd.to_text(origin=z.origin, relativize=False)) for rd in rds)
            rs = RecordSet(owner, dns.rdatatype.to_text(rds.rdtype), rds.ttl, rdata)
            records[rs.key] = rs
    return ZoneContent(serial, records, soa)
