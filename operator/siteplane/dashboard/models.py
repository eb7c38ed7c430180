"""What the API answers, typed: every response of the OpenAPI document is one of these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class Model(BaseModel):
    """camelCase on the wire, as the custom resources are."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Page(Model, Generic[T]):
    """One page of a list."""

    items: list[T]
    continue_: str | None = Field(default=None, alias="continue")
    """Pass as ?continue= for the next page; absent on the last page."""


class Health(Model):
    status: str


class Ready(Model):
    """An object's Ready condition, as the operator last wrote it."""

    status: str | None = None
    reason: str | None = None
    message: str | None = None


class Condition(Model):
    """One status condition, computed from the database now (for the generation it holds)."""

    type: str
    status: str
    reason: str
    message: str


class SiteSummary(Model):
    namespace: str
    name: str
    primary_domain: str
    aliases: list[str]
    customer: str | None
    plan: str | None
    suspended: bool
    zone: str | None
    """The zone the primary domain is published in."""
    ready: Ready
    created: str


class DomainPlacement(Model):
    domain: str
    position: int
    """0: the primary domain, then the aliases in order."""
    placement: str
    """Owned, DomainConflict, NotPermitted or Pending."""
    publication: str | None
    """What its zone made of it: Published, NameConflict, CNAMEAtApex; none while not planned."""
    zone: str | None
    served: bool
    """Its record sets are seen served by the zone's backend."""
    why_not: str | None
    """When not served, the first thing in the way: DomainConflict, NotPermitted, Pending (not placed,
    planned or served yet), Suspended, NameConflict, CNAMEAtApex, BackendError or RejectedByServer."""


class Serving(Model):
    ipv4: list[str]
    ipv6: list[str]
    cname: str | None


class SiteDetail(SiteSummary):
    ttl: int | None
    serving: Serving
    domains: list[DomainPlacement]
    conditions: list[Condition]
    """Stored, DNSProgrammed and Ready, as the database holds the Site now."""
    generation: int
    """The generation of the spec the database holds."""
    updated_at: datetime | None


class ZoneSummary(Model):
    namespace: str
    name: str
    zone_name: str
    owner: bool
    """True for the DNSZone that owns its zone name (the oldest claim); a later claim serves nothing."""
    backend: str | None
    """spec.backend: the DNSBackend it is served through; none for the operator's default."""
    serial: int | None
    """The SOA serial last served; none before the zone was first created on its backend."""
    record_count: int
    drift_corrections: int
    """Record sets changed on the server behind siteplane's back and put back, over the zone's life."""
    last_sync: datetime | None
    last_check: datetime | None
    """When the zone was last compared with what its backend serves."""
    ready: Ready
    created: str


class BackendHealth(Model):
    """The DNSBackend the zone is served through, as its Ready condition says."""

    name: str | None
    """None: the embedded zone files (no DNSBackend: the operator writes them itself)."""
    embedded: bool
    ready: Ready | None
    """None for the embedded zone files, and for a DNSBackend with no status (none of that name, or
    not checked yet)."""


class RecordSetCounts(Model):
    total: int
    applied: int
    """Seen served by the backend."""
    pending: int
    rejected: int
    """Refused by the server; not sent again until they change."""


class ZoneDetail(ZoneSummary):
    default_ttl: int
    soa: dict[str, Any]
    name_servers: list[str]
    publishers: list[dict[str, Any]]
    """Other namespaces that may publish names in the zone."""
    delegations: list[dict[str, Any]]
    """Other namespaces that may declare zones below it."""
    deletion_policy: str
    management: str
    served: bool
    """True while siteplane has the zone on a backend."""
    backend_health: BackendHealth
    record_sets: RecordSetCounts
    """The record sets themselves: GET .../record-sets."""
    conditions: list[Condition]
    generation: int
    updated_at: datetime | None


class RecordSetOwner(Model):
    kind: str
    namespace: str | None
    """None when the caller may not get the owner: they learn its kind, nothing more."""
    name: str | None
    hidden: bool


class RecordSet(Model):
    name: str
    """Relative to the zone; '@' for the apex."""
    type: str
    ttl: int
    values: list[str]
    owner: RecordSetOwner
    state: Literal["applied", "pending", "rejected"]
    applied_serial: int | None
    """The zone serial with which the backend was seen serving it."""
    rejected: str | None
    """Why the server refused it."""


class RecordSummary(Model):
    namespace: str
    name: str
    zone: str
    record_name: str
    fqdn: str
    type: str
    ttl: int | None
    """None: the zone's default TTL."""
    values: list[str]
    state: str
    """What its zone's plan made of it: Published, NameConflict, NotPermitted or Pending."""
    ready: Ready
    created: str


class RecordDetail(RecordSummary):
    record_sets: list[RecordSet]
    """What it holds in its zone now (none while it publishes nothing)."""
    zone_serial: int | None
    conditions: list[Condition]
    generation: int
    updated_at: datetime | None


class SearchHit(Model):
    kind: Literal["Site", "DNSZone", "DNSRecord"]
    namespace: str
    name: str
    domain: str
    """What matched: a Site's domain, a DNSZone's zone name or a DNSRecord's FQDN."""
    ready: Ready


class HistoryEntry(Model):
    id: int
    at: datetime
    kind: str
    namespace: str | None
    name: str
    uid: str | None
    generation: int | None
    zone: str | None
    action: str
    """stored, deleted, dns-applied or drift-reverted."""
    author: str
    """Who made the change, as the admission webhook saw it: for stored and dns-applied, who wrote
    that generation; for deleted, and what was applied after it (its records withdrawn), who
    deleted the object; "siteplane" for what the operator did by itself (a reverted drift);
    "unknown" when the webhook did not see the change. Never a guess."""
    serial: int | None
    detail: dict[str, Any]


class NamespaceVerbs(Model):
    namespace: str
    verbs: list[str]


class NamedVerbs(Model):
    namespace: str | None
    """None: the name in every namespace."""
    name: str
    verbs: list[str]


class ResourcePermissions(Model):
    """What the caller may do on one resource type, as RBAC grants it."""

    everywhere: list[str]
    """Verbs granted in every namespace."""
    namespaces: list[NamespaceVerbs]
    names: list[NamedVerbs]


class Me(Model):
    user: str
    groups: list[str]
    permissions: dict[str, ResourcePermissions]
    """By resource type: sites, dnszones, dnsrecords, accessgrants."""
    gitops_namespaces: list[str]
    """Of the namespaces the caller has permissions in, those Git owns: the API refuses writes there."""
