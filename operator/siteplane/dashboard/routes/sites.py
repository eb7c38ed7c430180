"""Sites: a filtered, permission-checked, keyset-paged list, and one Site in detail."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from siteplane.dashboard.context import CallerDep, DashboardDep, only, seen
from siteplane.dashboard.models import DomainPlacement, Page, Ready, Serving, SiteDetail, SiteSummary
from siteplane.dashboard.pages import cut, decode, fingerprint
from siteplane.dashboard.params import (
    BackendParam,
    ContinueParam,
    CustomerText,
    DnsText,
    Limit,
    MatchParam,
    NamespaceName,
    NamespaceParam,
    NameText,
    ObjectName,
    PlanParam,
    ReadyParam,
    ReasonParam,
    SortOrder,
    dns_filter,
    lower,
    text_filter,
)
from siteplane.dashboard.problems import not_found
from siteplane.dashboard.status import site_conditions
from siteplane.store.listings import Cursor, PageRequest, SiteFilters, list_sites, site_detail, sort_value
from siteplane.store.listings import SiteRow as Row
from siteplane.store.unit_of_work import UnitOfWork

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])
SiteSort = Literal["name", "namespace", "domain", "customer", "created"]
LIST_PARAMS = (
    "namespace",
    "name",
    "nameMatch",
    "domain",
    "domainMatch",
    "customer",
    "customerMatch",
    "plan",
    "ready",
    "reason",
    "zone",
    "backend",
    "sort",
    "order",
    "limit",
    "continue",
)
NamespacePath = Annotated[str, Path(pattern=NamespaceName.pattern, max_length=63)]
NamePath = Annotated[str, Path(pattern=ObjectName.pattern, max_length=253)]


def summary(row: Row) -> SiteSummary:
    return SiteSummary(
        namespace=row.namespace,
        name=row.name,
        primary_domain=row.primary_domain,
        aliases=list(row.aliases),
        customer=row.customer,
        plan=row.plan,
        suspended=row.suspended,
        zone=row.zone,
        ready=Ready(status=row.ready, reason=row.reason),
        created=row.created,
    )


@router.get("", response_model=Page[SiteSummary], dependencies=[Depends(only(*LIST_PARAMS))])
async def list_(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespaceParam = None,
    name: NameText = None,
    name_match: Annotated[MatchParam, Query(alias="nameMatch")] = "exact",
    domain: DnsText = None,
    domain_match: Annotated[MatchParam, Query(alias="domainMatch")] = "exact",
    customer: CustomerText = None,
    customer_match: Annotated[MatchParam, Query(alias="customerMatch")] = "exact",
    plan: PlanParam = None,
    ready: ReadyParam = None,
    reason: ReasonParam = None,
    zone: DnsText = None,
    backend: BackendParam = None,
    sort: SiteSort = "name",
    order: SortOrder = "asc",
    limit: Limit = 50,
    continue_: ContinueParam = None,
) -> Page[SiteSummary]:
    """Sites the caller may get, filtered, sorted, in keyset pages."""
    filters = SiteFilters(
        namespace=namespace,
        name=text_filter(name, name_match),
        domain=dns_filter(domain, domain_match),
        customer=text_filter(customer, customer_match),
        plan=plan,
        ready=ready,
        reason=reason,
        zone=lower(zone),
        backend=backend,
    )
    query = fingerprint("sites", f"{sort}:{order}", filters.__dict__)
    after = decode(continue_, query) if continue_ else None
    page = PageRequest(sort, order == "desc", limit, after)

    def read(uow: UnitOfWork) -> list[Row]:
        return list_sites(uow, seen(uow, who, "sites"), filters, page, parts.config.default_backend)

    rows, token = cut(
        await asyncio.to_thread(parts.store.read, read), limit, query, lambda r: Cursor(sort_value(r, sort), r.id)
    )
    return Page[SiteSummary](items=[summary(r) for r in rows], continue_=token)


@router.get("/{namespace}/{name}", response_model=SiteDetail, dependencies=[Depends(only())])
async def detail(who: CallerDep, parts: DashboardDep, namespace: NamespacePath, name: NamePath) -> SiteDetail:
    """One Site: its domains and where each is published, how it is served, its conditions."""

    def read(uow: UnitOfWork) -> SiteDetail | None:
        found = site_detail(uow, seen(uow, who, "sites"), namespace, name)
        if found is None:
            return None
        base = summary(found.row).model_dump()
        base["ready"] = Ready(status=found.row.ready, reason=found.row.reason, message=found.message)
        return SiteDetail(
            **base,
            ttl=found.ttl,
            serving=Serving(ipv4=list(found.ipv4), ipv6=list(found.ipv6), cname=found.cname),
            domains=[
                DomainPlacement(
                    domain=d.domain,
                    position=d.position,
                    placement=d.state,
                    publication=d.publish_state,
                    zone=d.zone,
                    served=d.served,
                    why_not=d.why_not,
                )
                for d in found.domains
            ],
            conditions=site_conditions(uow, found.row.uid),
            generation=found.row.generation,
            updated_at=found.updated_at,
        )

    result = await asyncio.to_thread(parts.store.read, read)
    if result is None:
        raise not_found()
    return result
