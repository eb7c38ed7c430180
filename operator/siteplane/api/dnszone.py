"""The DNSZone custom resource: an authoritative zone, its SOA/NS, and who may publish in it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from siteplane.api.common import (
    JSON_INTEGER,
    LIST_SET,
    TTL,
    CRModel,
    NamespaceName,
    ObjectName,
    RecordName,
    StatusBase,
    TargetName,
    ZoneName,
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


class DNSZoneStatus(StatusBase):
    """Observed state of a DNSZone."""

    record_count: Annotated[int, Field(ge=0)] | None = None
    """Record sets currently published in the zone."""
    serial: Annotated[int, Field(ge=0, le=4294967295)] | None = None
    """The zone's current SOA serial."""
    drift_corrections: Annotated[int, Field(ge=0)] | None = None
    """Record sets found changed on the server behind siteplane's back and put back (the database's
    zones.checked_at says when the zone was last compared; it is not written here, to spare the API)."""
