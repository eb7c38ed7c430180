"""From a zone as served to the manifests that describe it exactly: a DNSZone, Sites and DNSRecords.

Pure: it takes the zone as a backend reads it (``ZoneContent``) and gives documents and findings.
Every document is built by validating the API models, so it passes the CRD schema; and before
anything is handed out, the planner is run on the documents and its result compared with what is
served, so that applying them onto the live zone is a no-op for the operator's first sync. What
cannot be described that way is a ``Finding`` with its reason and its consequence, never dropped.

Two rules decide what a DNSZone may describe. The SOA and the apex NS are the zone's: both are
served with the zone's defaultTTL, so a zone whose apex NS TTL differs from its SOA TTL cannot be
taken as it is. Everything else is a record set: in a Shared zone (what adoption writes) a record
set siteplane does not manage is left on the server exactly as served.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from pydantic import BaseModel, ValidationError

from siteplane.adopt.check import AdoptionCheckFailed as AdoptionCheckFailed  # raised by adopt_zone
from siteplane.adopt.check import check
from siteplane.adopt.names import NameBook
from siteplane.adopt.sites import Network, relative, site_specs
from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.api.dnsrecord import RECORD_TYPES, DNSRecordSpec
from siteplane.api.dnszone import DNSZoneSpec
from siteplane.dns.backend import DNSSEC_TYPES, ZoneContent
from siteplane.domain.names import APEX, normalise
from siteplane.domain.records import RecordKey, RecordSet, record_set

LEFT_ALONE = "left on the server as served: siteplane does not manage it (the DNSZone is Shared)"
NOT_ADOPTED = "zone not adopted: no manifests written for it"
CHANGES = "adopted anyway (--allow-changes): the operator's first sync will change this"
ZONE_LEVEL = ""  # the name of a finding about the zone itself rather than one record set


@dataclass(frozen=True)
class Finding:
    """Something served that the manifests do not describe, why, and what that means on the server."""

    zone: str
    name: str  # relative owner name ('@' the apex); ZONE_LEVEL for the zone's own settings
    type: str
    reason: str
    consequence: str

    def to_dict(self) -> dict[str, str]:
        return {
            "zone": self.zone,
            "name": self.name,
            "type": self.type,
            "reason": self.reason,
            "consequence": self.consequence,
        }

    def __str__(self) -> str:
        where = f"{self.name}/{self.type}" if self.name else "zone"
        return f"{self.zone}: {where}: {self.reason}; {self.consequence}"


@dataclass(frozen=True)
class AdoptOptions:
    namespace: str | None = None
    """metadata.namespace of every object; left out (kubectl's -n decides) when None."""
    backend: str | None = None
    """spec.backend of the DNSZone; the operator's default backend when None."""
    site_networks: tuple[Network, ...] = ()
    """The hosting company's addresses: a name whose A/AAAA all lie here becomes a Site."""
    allow_changes: bool = False
    """Adopt a zone even where its settings cannot be described exactly (the first sync changes them)."""


@dataclass
class Adoption:
    """One zone's manifests (empty when it was not adopted) and its findings."""

    zone: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sites: int = 0
    records: int = 0

    @property
    def adopted(self) -> bool:
        return bool(self.documents)


def adopt_zone(zone: str, content: ZoneContent, options: AdoptOptions) -> Adoption:
    zone = normalise(zone)
    result = Adoption(zone)
    zone_spec, blocking = _zone_spec(zone, content, options)
    if zone_spec is None or (blocking and not options.allow_changes):
        result.findings += [_with(f, NOT_ADOPTED) for f in blocking]
        return result
    result.findings += [_with(f, CHANGES) for f in blocking]
    assert content.soa is not None  # _zone_spec refuses a zone without one

    records: dict[RecordKey, DNSRecordSpec] = {}
    types_at: dict[str, set[str]] = {}
    for key in content.record_sets:
        types_at.setdefault(key.name, set()).add(key.type)
    for key in sorted(content.record_sets):
        rs = content.record_sets[key]
        if key == RecordKey(APEX, "NS") or rs.type in DNSSEC_TYPES:
            continue  # the zone's own (or the signer's, see _zone_spec)
        reason = _inexpressible(zone, rs, types_at[rs.name], zone_spec, records)
        if reason is not None:
            result.findings.append(Finding(zone, rs.name, rs.type, reason, LEFT_ALONE))

    default_ttl = zone_spec.default_ttl or content.soa.ttl
    sites = site_specs(zone, content.record_sets, records, default_ttl, options.site_networks)
    for site in sites:
        for domain in site.domains:
            name = relative(domain, zone)
            records.pop(RecordKey(name, "A"), None)
            records.pop(RecordKey(name, "AAAA"), None)
    check(zone, content, zone_spec, sites, records, options.allow_changes)

    # Object names are unique per kind: the DNSZone, a Site and a DNSRecord may share one.
    site_names, record_names, meta = NameBook(), NameBook(), _metadata(options)
    result.documents.append(_document("DNSZone", NameBook().take(zone), meta, zone_spec))
    for site in sites:
        result.documents.append(_document("Site", site_names.take(site.primary_domain), meta, site))
    for key, spec in sorted(records.items()):
        label = zone if key.name == APEX else f"{key.name}.{zone}"
        result.documents.append(_document("DNSRecord", record_names.take(f"{label}-{key.type.lower()}"), meta, spec))
    result.sites, result.records = len(sites), len(records)
    return result


# -- the zone ---------------------------------------------------------------------------------------


def _zone_spec(zone: str, content: ZoneContent, options: AdoptOptions) -> tuple[DNSZoneSpec | None, list[Finding]]:
    """The DNSZone describing the served SOA and apex NS (None when none can), and what it cannot say."""
    soa, ns = content.soa, content.record_sets.get(RecordKey(APEX, "NS"))
    if soa is None:
        return None, [Finding(zone, ZONE_LEVEL, "SOA", "the zone has no SOA", NOT_ADOPTED)]
    if ns is None:
        return None, [Finding(zone, APEX, "NS", "the zone has no NS at its apex", NOT_ADOPTED)]
    blocking = []
    if ns.ttl != soa.ttl:
        blocking.append(
            Finding(
                zone,
                APEX,
                "NS",
                f"the apex NS has TTL {ns.ttl} and the SOA TTL {soa.ttl}; a DNSZone serves both with its defaultTTL",
                "",
            )
        )
    signed = sorted({key.type for key in content.record_sets if key.type in DNSSEC_TYPES})
    if signed:
        blocking.append(
            Finding(
                zone,
                ZONE_LEVEL,
                ",".join(signed),
                "the zone is served signed; a DNSZone cannot declare DNSSEC yet, and the first write would "
                "leave the zone unsigned",
                "",
            )
        )
    mname = dns.name.from_text(soa.mname)
    spec = {
        "zoneName": zone,
        "backend": options.backend,
        "defaultTTL": soa.ttl,
        "nameServers": [_host(dns.name.from_text(text)) for text in ns.rdata],
        "soa": {
            "primaryNameServer": _host(mname),
            "responsibleMailbox": _host(dns.name.from_text(soa.rname)),
            "refresh": soa.refresh,
            "retry": soa.retry,
            "expire": soa.expire,
            "negativeTTL": soa.minimum,
        },
    }
    try:
        return DNSZoneSpec.model_validate({k: v for k, v in spec.items() if v is not None}), blocking
    except ValidationError as error:
        return None, [*blocking, Finding(zone, ZONE_LEVEL, "SOA", _schema_says(error), "")]


# -- record sets ------------------------------------------------------------------------------------


def _inexpressible(
    zone: str, rs: RecordSet, types_here: set[str], zone_spec: DNSZoneSpec, records: dict[RecordKey, DNSRecordSpec]
) -> str | None:
    """Why ``rs`` cannot be a DNSRecord; None when it became one (added to ``records``)."""
    if rs.type not in RECORD_TYPES:
        return f"record type {rs.type} is not one siteplane manages ({', '.join(RECORD_TYPES)})"
    if rs.type == "CNAME" and len(types_here) > 1:
        others = ", ".join(sorted(types_here - {"CNAME"}))
        return f"a CNAME beside other data ({others}) at one name (RFC 1034 3.6.2): the schema refuses it"
    try:
        values = _values(rs.type, rs.rdata)
    except (dns.exception.DNSException, ValueError) as error:
        return f"cannot describe its data: {error}"
    spec_data: dict[str, Any] = {"zone": zone, "name": rs.name, "type": rs.type, rs.type.lower(): values}
    if rs.ttl != zone_spec.default_ttl:
        spec_data["ttl"] = rs.ttl
    try:
        spec = DNSRecordSpec.model_validate(spec_data)
    except ValidationError as error:
        return _schema_says(error)
    rebuilt = record_set(rs.name, rs.type, spec.ttl or rs.ttl, spec.values())
    if rebuilt.rdata != rs.rdata:
        return (
            f"a DNSRecord cannot say it exactly: served {list(rs.rdata)}, the manifest would give {list(rebuilt.rdata)}"
        )
    records[rs.key] = spec
    return None


def _values(rtype: str, texts: Iterable[str]) -> Any:
    """The typed values of a DNSRecord of ``rtype`` for canonical rdata ``texts``."""
    values: list[Any] = []
    kind = dns.rdatatype.from_text(rtype)
    for text in texts:
        rd: Any = dns.rdata.from_text(dns.rdataclass.IN, kind, text, origin=dns.name.root, relativize=False)
        match rtype:
            case "A" | "AAAA":
                values.append(rd.address)
            case "CNAME" | "NS" | "PTR":
                values.append(_host(rd.target))
            case "MX":
                values.append({"preference": rd.preference, "host": _host(rd.exchange)})
            case "SRV":
                values.append(
                    {"priority": rd.priority, "weight": rd.weight, "port": rd.port, "target": _host(rd.target)}
                )
            case "CAA":
                caa = {"tag": _text(rd.tag), "value": _text(rd.value)}
                values.append({"flags": rd.flags, **caa} if rd.flags else caa)
            case "TXT":
                values.append(_text(b"".join(rd.strings)))
    return values[0] if rtype == "CNAME" and len(values) == 1 else values


def _host(name: dns.name.Name) -> str:
    """A host name as the API models spell it: no trailing dot (the root itself stays '.')."""
    text: str = name.to_text()
    return text if text == "." else text.rstrip(".")


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("its text is not UTF-8, and a DNSRecord holds text") from None


def _schema_says(error: ValidationError) -> str:
    problems = []
    for e in error.errors()[:3]:
        where = ".".join(str(p) for p in e["loc"]) or "spec"
        # The pattern itself is a screenful of regular expression; the CRD documents it.
        what = "does not match the field's pattern" if e["type"] == "string_pattern_mismatch" else e["msg"]
        value = f" {e['input']!r}" if isinstance(e.get("input"), str | int) else ""
        problems.append(f"{where}{value}: {what}")
    return "the schema refuses it: " + "; ".join(problems)


# -- documents --------------------------------------------------------------------------------------


def _metadata(options: AdoptOptions) -> dict[str, str]:
    return {"namespace": options.namespace} if options.namespace else {}


def _document(kind: str, name: str, metadata: Mapping[str, str], spec: BaseModel) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": kind,
        "metadata": {"name": name, **metadata},
        "spec": spec.model_dump(by_alias=True, exclude_none=True, mode="json"),
    }


def _with(finding: Finding, consequence: str) -> Finding:
    return Finding(finding.zone, finding.name, finding.type, finding.reason, finding.consequence or consequence)
