"""Reading a dnspython zone (parsed from a file or transferred by AXFR) into what backends return."""

from __future__ import annotations

import dns.name
import dns.rdatatype
import dns.zone
from dns.rdtypes.ANY.SOA import SOA

from siteplane.dns.backend import SOASettings, ZoneContent
from siteplane.domain.names import APEX
from siteplane.domain.records import RecordKey, RecordSet, canonical_rdata


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
