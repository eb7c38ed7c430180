"""The DNSZone custom resource: an authoritative zone, its SOA/NS, and who may publish in it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from siteplane.api.common import (
    JSON_INTEGER,
    LIST_SET,
    TTL,
    Boolean,
    CRModel,
    NamespaceName,
    ObjectName,
    RecordName,
    StatusBase,
    TargetName,
    ZoneName,
    cel,
    cel_rules,
    immutable,
    list_map,
)

SOA_SECONDS = Annotated[int, Field(ge=1, le=2147483647), JSON_INTEGER]


class SOA(CRModel):
    """SOA fields a DNS person may want to tune; the serial is managed by siteplane."""

    primary_name_server: TargetName | None = None
    """MNAME: the primary name server; the first of nameServers when unset."""
    responsible_mailbox: TargetName | None = None
    """RNAME in DNS form (hostmaster.example.com means hostmaster@example.com); hostmaster.<zone> when unset."""
    refresh: SOA_SECONDS | None = None
    """Seconds between secondary refreshes (default 3600)."""
    retry: SOA_SECONDS | None = None
    """Seconds before a failed refresh is retried (default 600)."""
    expire: SOA_SECONDS | None = None
    """Seconds after which secondaries stop answering without a refresh (default 1209600)."""
    negative_ttl: Annotated[TTL | None, Field(alias="negativeTTL")] = None
    """TTL of negative answers, the SOA minimum field (default 300)."""


class Publisher(CRModel):
    """Another namespace allowed to publish names in this zone."""

    namespace: NamespaceName
    """The namespace whose Sites and DNSRecords may publish here."""
    names: Annotated[list[RecordName], Field(min_length=1, max_length=64), LIST_SET] | None = None
    """Relative names it may use: 'shop' exactly, '*.shop' anything below shop, '*' anything; all when unset."""


class Delegation(CRModel):
    """Another namespace allowed to declare zones below this one."""

    namespace: NamespaceName
    """The namespace whose DNSZones may lie inside this zone."""
    names: Annotated[list[RecordName], Field(min_length=1, max_length=64), LIST_SET] | None = None
    """Which zones, by name relative to this one: 'shop' for shop.<zone> exactly, '*.shop' for any zone
    below shop, '*' for any; all when unset."""


DNSSEC_DENIAL_RULE = cel(
    "self.enabled || !has(self.denial)",
    "dnssec.denial applies only when dnssec.enabled is true",
    field_path=".denial",
)


class DNSSEC(CRModel):
    """Signing of the zone (docs/dnssec.md). Algorithm 13 (ECDSA P-256 with SHA-256), one combined
    key; the DS to hand to the registrar appears in status.dnssec once the zone is signed."""

    model_config = cel_rules(DNSSEC_DENIAL_RULE)

    enabled: Boolean
    """true: the zone is signed. Turning it off: remove the DS at the registrar first, wait out its TTL."""
    denial: Literal["NSEC3", "NSEC"] | None = None
    """How absent names are proven absent: NSEC3 (default; SHA-1, no opt-out, 0 extra iterations,
    empty salt, as RFC 9276 asks) or NSEC (simpler, but lets anyone list the zone's names)."""

    @model_validator(mode="after")
    def _denial_only_when_enabled(self) -> DNSSEC:
        if not self.enabled and self.denial is not None:
            raise ValueError(DNSSEC_DENIAL_RULE["message"])
        return self


class DNSZoneSpec(CRModel):
    """Desired state of an authoritative DNS zone."""

    zone_name: Annotated[ZoneName, Field(json_schema_extra=immutable("zoneName"))]
    """The zone's DNS name, e.g. example.com. Unique in the cluster; cannot change."""
    backend: ObjectName | None = None
    """The DNSBackend serving this zone; the operator's default backend when unset."""
    default_ttl: Annotated[TTL | None, Field(alias="defaultTTL")] = None
    """TTL of records that set none (default 3600)."""
    name_servers: Annotated[list[TargetName], Field(min_length=1, max_length=13), LIST_SET]
    """Host names of the zone's authoritative servers, published as NS at the apex."""
    soa: SOA | None = None
    """SOA settings."""
    publishers: Annotated[list[Publisher], Field(max_length=256), list_map("namespace")] | None = None
    """Other namespaces allowed to publish names in this zone (its own namespace always may)."""
    delegations: Annotated[list[Delegation], Field(max_length=256), list_map("namespace")] | None = None
    """Other namespaces allowed to declare zones inside this one (its own namespace always may). A
    zone inside an older zone of another namespace that does not delegate it is not served."""
    deletion_policy: Literal["Delete", "Orphan"] | None = None
    """Delete (default) removes the zone from its backend when the DNSZone goes; Orphan leaves it."""
    management: Literal["Shared", "Exclusive"] | None = None
    """Shared (default): record sets siteplane never published (added on the server by hand) are left
    alone. Exclusive: the zone holds exactly what siteplane publishes; anything else is removed."""
    dnssec: DNSSEC | None = None
    """DNSSEC signing; off when unset."""


class DNSSECStatus(CRModel):
    """The zone's DNSSEC as served: what the parent zone (the registrar) needs, and when it lapses."""

    ds: Annotated[list[Annotated[str, Field(max_length=1024)]], Field(max_length=8)] | None = None
    """DS records (digest type 2, SHA-256) to publish at the parent, presentation format."""
    dnskeys: Annotated[list[Annotated[str, Field(max_length=2048)]], Field(max_length=8)] | None = None
    """The key-signing DNSKEY records (flags 257), for registrars that take keys instead of DS."""
    signatures_expire: Annotated[str, Field(max_length=32)] | None = None
    """The earliest RRSIG expiry served (RFC 3339); signatures are refreshed well before it."""


class DNSZoneStatus(StatusBase):
    """Observed state of a DNSZone."""

    record_count: Annotated[int, Field(ge=0)] | None = None
    """Record sets currently published in the zone."""
    serial: Annotated[int, Field(ge=0, le=4294967295)] | None = None
    """The zone's current SOA serial."""
    dnssec: DNSSECStatus | None = None
    """DNSSEC as served, while spec.dnssec is enabled and the zone is signed (condition DNSSECReady)."""
    drift_corrections: Annotated[int, Field(ge=0)] | None = None
    """Record sets found changed on the server behind siteplane's back and put back (the database's
    zones.checked_at says when the zone was last compared; it is not written here, to spare the API)."""
