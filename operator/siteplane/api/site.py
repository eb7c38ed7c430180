"""The Site custom resource: a hosted site, its domains and where it is served."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from siteplane.api.common import (
    IPV4,
    IPV6,
    LIST_SET,
    TTL,
    Boolean,
    CRModel,
    DomainName,
    StatusBase,
    TargetName,
    cel,
    cel_rules,
)

SERVING_RULE = cel(
    "has(self.cname) != (has(self.ipv4) || has(self.ipv6))",
    "serving needs either a cname target or ipv4/ipv6 addresses, not both",
)
ALIASES_RULE = cel(
    "!has(self.aliases) || !(self.primaryDomain in self.aliases)",
    "aliases must not repeat primaryDomain",
    field_path=".aliases",
)


class Serving(CRModel):
    """Where the site is served: addresses (A/AAAA) or a CNAME target, never both."""

    model_config = cel_rules(SERVING_RULE)

    ipv4: Annotated[list[IPV4], Field(min_length=1, max_length=32), LIST_SET] | None = None
    """IPv4 addresses published as A records."""
    ipv6: Annotated[list[IPV6], Field(min_length=1, max_length=32), LIST_SET] | None = None
    """IPv6 addresses published as AAAA records."""
    cname: TargetName | None = None
    """A host name published as a CNAME (at names where a CNAME is allowed; never at a zone apex)."""

    @model_validator(mode="after")
    def _one_kind_of_target(self) -> Serving:
        if (self.cname is not None) == (self.ipv4 is not None or self.ipv6 is not None):
            raise ValueError(SERVING_RULE["message"])
        return self


class SiteSpec(CRModel):
    """Desired state of a hosted site."""

    model_config = cel_rules(ALIASES_RULE)

    primary_domain: DomainName
    """The site's main domain, e.g. www.example.com."""
    aliases: Annotated[list[DomainName], Field(max_length=100), LIST_SET] | None = None
    """Further domains served by the same site."""
    serving: Serving
    """Where the site is served."""
    customer: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")] | None = None
    """The customer (account) the site belongs to."""
    plan: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] | None = None
    """The hosting plan, e.g. basic or business."""
    suspended: Boolean | None = None
    """A suspended site keeps its data but publishes no DNS records."""
    ttl: TTL | None = None
    """TTL of the published records; the zone's default TTL when unset."""

    @model_validator(mode="after")
    def _aliases_distinct_from_primary(self) -> SiteSpec:
        if self.aliases and self.primary_domain in self.aliases:
            raise ValueError(ALIASES_RULE["message"])
        return self

    @property
    def domains(self) -> list[str]:
        """Every domain of the site, primary first."""
        return [self.primary_domain, *(self.aliases or [])]


class SiteStatus(StatusBase):
    """Observed state of a Site."""

    zone: str | None = None
    """The DNS zone the site's primary domain is published in."""
