"""What the API answers, typed: every response of the OpenAPI document is one of these."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

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


class Serving(Model):
    ipv4: list[str]
    ipv6: list[str]
    cname: str | None


class SiteDetail(SiteSummary):
    ttl: int | None
    serving: Serving
    domains: list[DomainPlacement]
    generation: int
    updated_at: datetime | None


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
