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
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from pydantic import BaseModel, ValidationError

from siteplane.adopt.names import NameBook
from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.api.dnsrecord import RECORD_TYPES, DNSRecordSpec
from siteplane.api.dnszone import DNSZoneSpec
from siteplane.api.site import SiteSpec
from siteplane.dns.backend import DNSSEC_TYPES, SOASettings, ZoneContent
from siteplane.dns.content import canonical_soa
from siteplane.domain.names import APEX, absolute, fqdn, normalise
from siteplane.domain.objects import ObjectRef
from siteplane.domain.records import RecordKey, RecordSet, apex_ns, record_set
from siteplane.planning.placement import ZoneView
from siteplane.planning.zone_plan import RecordClaim, SiteClaim, plan_zone

Network = IPv4Network | IPv6Network

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


class AdoptionCheckFailed(Exception):
    """The planner would not serve exactly what is served: a bug here, so no manifests at all."""


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

    sites = _sites(zone, content.record_sets, records, zone_spec.default_ttl or content.soa.ttl, options)
    for site in sites:
        for domain in site.domains:
            name = _relative(domain, zone)
            records.pop(RecordKey(name, "A"), None)
            records.pop(RecordKey(name, "AAAA"), None)
    _check(zone, content, zone_spec, sites, records, options)

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


def _soa_of(spec: DNSZoneSpec) -> SOASettings:
    """The SOA settings the operator derives from ``spec`` (every field is set by adoption)."""
    soa = spec.soa
    assert soa is not None and spec.default_ttl is not None
    assert soa.primary_name_server and soa.responsible_mailbox
    assert soa.refresh and soa.retry and soa.expire and soa.negative_ttl
    return SOASettings(
        mname=absolute(soa.primary_name_server),
        rname=absolute(soa.responsible_mailbox),
        refresh=soa.refresh,
        retry=soa.retry,
        expire=soa.expire,
        minimum=soa.negative_ttl,
        ttl=spec.default_ttl,
    )


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


# -- sites ------------------------------------------------------------------------------------------


def _sites(
    zone: str,
    served: Mapping[RecordKey, RecordSet],
    records: Mapping[RecordKey, DNSRecordSpec],
    default_ttl: int,
    options: AdoptOptions,
) -> list[SiteSpec]:
    """A Site for each name whose A/AAAA (all of them) point into the hosting company's networks.

    A name and www.<name> served alike become one Site (the name primary, www an alias): the way a
    site is usually published. Any other grouping (by shared address) would merge customers who
    share a server.
    """
    if not options.site_networks:
        return []
    # Addresses at or below a delegation are glue for the child zone's servers, not a site.
    cuts = [key.name for key in served if key.type == "NS" and key.name != APEX]
    serving: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {}
    for name in sorted({key.name for key in records if key.type in ("A", "AAAA")}):
        if any(name == cut or name.endswith("." + cut) for cut in cuts):
            continue
        a, aaaa = served.get(RecordKey(name, "A")), served.get(RecordKey(name, "AAAA"))
        sets = [rs for key, rs in ((RecordKey(name, "A"), a), (RecordKey(name, "AAAA"), aaaa)) if rs and key in records]
        if len(sets) != sum(1 for rs in (a, aaaa) if rs) or len({rs.ttl for rs in sets}) != 1:
            continue  # one of them is not adoptable, or they differ in TTL: a Site has one
        addresses = [ip_address(text) for rs in sets for text in rs.rdata]
        if all(any(address in net for net in options.site_networks) for address in addresses):
            serving[fqdn(name, zone)] = (a.rdata if a else (), aaaa.rdata if aaaa else (), sets[0].ttl)
    sites, used = [], set()
    for domain in sorted(serving, key=lambda d: (d.count("."), d)):
        if domain in used:
            continue
        aliases = (
            [f"www.{domain}"] if serving.get(f"www.{domain}") == serving[domain] and not domain.startswith("*") else []
        )
        ipv4, ipv6, ttl = serving[domain]
        spec_data: dict[str, Any] = {
            "primaryDomain": domain,
            "serving": {k: list(v) for k, v in (("ipv4", ipv4), ("ipv6", ipv6)) if v},
        }
        if aliases:
            spec_data["aliases"] = aliases
        if ttl != default_ttl:
            spec_data["ttl"] = ttl
        try:
            site = SiteSpec.model_validate(spec_data)
        except ValidationError:
            continue  # e.g. an underscore label, or more addresses than a Site takes: stays DNSRecords
        used.update(site.domains)
        sites.append(site)
    return sites


def _relative(domain: str, zone: str) -> str:
    return APEX if domain == zone else domain[: -len(zone) - 1]


# -- the check --------------------------------------------------------------------------------------


def _check(
    zone: str,
    content: ZoneContent,
    zone_spec: DNSZoneSpec,
    sites: list[SiteSpec],
    records: Mapping[RecordKey, DNSRecordSpec],
    options: AdoptOptions,
) -> None:
    """The planner, given these manifests, serves exactly what is served (in what they describe)."""
    assert zone_spec.default_ttl is not None
    namespace = options.namespace or "adopted"
    view = ZoneView(ObjectRef("DNSZone", namespace, zone), zone, zone_spec.default_ttl, tuple(zone_spec.name_servers))
    site_claims = [
        SiteClaim(
            ObjectRef("Site", namespace, site.primary_domain),
            "",
            domains=tuple(site.domains),
            ttl=site.ttl,
            ipv4=tuple(str(a) for a in site.serving.ipv4 or ()),
            ipv6=tuple(str(a) for a in site.serving.ipv6 or ()),
        )
        for site in sites
    ]
    record_claims = [
        RecordClaim(
            ObjectRef("DNSRecord", namespace, str(key)),
            "",
            name=spec.name,
            type=spec.type,
            ttl=spec.ttl,
            # What the spec's values render to: _inexpressible took the spec only when they render
            # to exactly the served rdata (rendering them again here would double the run time).
            rdata=content.record_sets[key].rdata,
        )
        for key, spec in records.items()
    ]
    plan = plan_zone(view, site_claims, record_claims)
    if losers := [str(ref) for ref, outcome in plan.outcomes.items() if outcome.state != "Published"]:
        raise AdoptionCheckFailed(f"zone {zone}: not every object would publish: {', '.join(losers)}")
    expected = {key: content.record_sets[key] for key in plan.record_sets}
    ns = apex_ns(zone_spec.default_ttl, zone_spec.name_servers)
    if options.allow_changes:
        expected[ns.key] = ns  # a TTL that could not be kept was reported
    if unlike := sorted(str(k) for k in expected if expected[k] != plan.record_sets[k]):
        raise AdoptionCheckFailed(f"zone {zone}: the planner would serve {', '.join(unlike)} differently")
    assert content.soa is not None
    if canonical_soa(_soa_of(zone_spec)) != content.soa and not options.allow_changes:
        raise AdoptionCheckFailed(f"zone {zone}: the SOA would be served differently")


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
