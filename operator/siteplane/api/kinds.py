"""The five siteplane kinds: names, scope, models and printer columns, in one table.

Everything that describes a kind to Kubernetes is here, so the CRD generator, the operator's
handlers and the tests all agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from siteplane.api.accessgrant import AccessGrantSpec, AccessGrantStatus
from siteplane.api.common import API_GROUP, API_VERSION, CRModel, StatusBase
from siteplane.api.dnsbackend import DNSBackendSpec, DNSBackendStatus
from siteplane.api.dnsrecord import DNSRecordSpec, DNSRecordStatus
from siteplane.api.dnszone import DNSZoneSpec, DNSZoneStatus
from siteplane.api.site import SiteSpec, SiteStatus

READY = '.status.conditions[?(@.type=="Ready")].status'
REASON = '.status.conditions[?(@.type=="Ready")].reason'


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0  # 1 = only with `kubectl get -o wide`
    description: str = ""


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool
    spec: type[CRModel]
    status: type[StatusBase]
    columns: tuple[PrinterColumn, ...]
    description: str

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{API_GROUP}"

    @property
    def api_version(self) -> str:
        return f"{API_GROUP}/{API_VERSION}"


def _status_columns() -> tuple[PrinterColumn, ...]:
    return (
        PrinterColumn("Ready", READY, description="Whether the object is fully in effect"),
        PrinterColumn("Reason", REASON, priority=1, description="Why it is or is not Ready"),
        PrinterColumn("Age", ".metadata.creationTimestamp", type="date"),
    )


SITE = Kind(
    kind="Site",
    plural="sites",
    short_names=("site",),
    namespaced=True,
    spec=SiteSpec,
    status=SiteStatus,
    description="A hosted site: its domains and where it is served; siteplane publishes its DNS records.",
    columns=(
        PrinterColumn("Domain", ".spec.primaryDomain", description="Primary domain"),
        PrinterColumn("Zone", ".status.zone", description="Zone the primary domain is published in"),
        PrinterColumn("Customer", ".spec.customer", priority=1),
        PrinterColumn("Suspended", ".spec.suspended", type="boolean", priority=1),
        *_status_columns(),
    ),
)
DNSZONE = Kind(
    kind="DNSZone",
    plural="dnszones",
    short_names=("dz", "zone"),
    namespaced=True,
    spec=DNSZoneSpec,
    status=DNSZoneStatus,
    description="An authoritative DNS zone, its SOA and NS, and which namespaces may publish in it.",
    columns=(
        PrinterColumn("Zone", ".spec.zoneName"),
        PrinterColumn("Backend", ".spec.backend"),
        PrinterColumn("Records", ".status.recordCount", type="integer"),
        PrinterColumn("Serial", ".status.serial", type="integer"),
        PrinterColumn("Drift", ".status.driftCorrections", type="integer", priority=1),
        *_status_columns(),
    ),
)
DNSRECORD = Kind(
    kind="DNSRecord",
    plural="dnsrecords",
    short_names=("dr", "rec"),
    namespaced=True,
    spec=DNSRecordSpec,
    status=DNSRecordStatus,
    description="One DNS record set (name, type, TTL, values) in a zone.",
    columns=(
        PrinterColumn("Zone", ".spec.zone"),
        PrinterColumn("Name", ".spec.name"),
        PrinterColumn("Type", ".spec.type"),
        PrinterColumn("TTL", ".spec.ttl", type="integer"),
        PrinterColumn("FQDN", ".status.fqdn", priority=1),
        *_status_columns(),
    ),
)
ACCESSGRANT = Kind(
    kind="AccessGrant",
    plural="accessgrants",
    short_names=("ag", "grant"),
    namespaced=True,
    spec=AccessGrantSpec,
    status=AccessGrantStatus,
    description="Gives users, groups or service accounts view or edit access to sites, zones or records.",
    columns=(
        PrinterColumn("Access", ".spec.access"),
        PrinterColumn("Resources", ".spec.resources"),
        PrinterColumn("Names", ".spec.resourceNames", priority=1),
        PrinterColumn("Role", ".status.role", priority=1),
        *_status_columns(),
    ),
)
DNSBACKEND = Kind(
    kind="DNSBackend",
    plural="dnsbackends",
    short_names=("dbe",),
    namespaced=False,
    spec=DNSBackendSpec,
    status=DNSBackendStatus,
    description="Where DNS zones live: zone files, an RFC 2136 server (BIND, Knot) or the PowerDNS API.",
    columns=(
        PrinterColumn("Type", ".spec.type"),
        PrinterColumn("Zones", ".status.zoneCount", type="integer"),
        *_status_columns(),
    ),
)

KINDS: tuple[Kind, ...] = (SITE, DNSZONE, DNSRECORD, ACCESSGRANT, DNSBACKEND)
BY_KIND: dict[str, Kind] = {k.kind: k for k in KINDS}
