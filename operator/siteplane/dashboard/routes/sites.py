"""Sites: a filtered, permission-checked, keyset-paged list, and one Site in detail."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from siteplane.dashboard.context import CallerDep, DashboardDep, only, seen
from siteplane.dashboard.models import DomainPlacement, Page, Ready, Serving, SiteDetail, SiteSummary
from siteplane.dashboard.pages import decode, encode, fingerprint
from siteplane.dashboard.params import (
    Limit,
    MatchParam,
    NamespaceName,
    NamespaceParam,
    NameText,
    ObjectName,
    ReadyParam,
    ReasonParam,
    SortOrder,
    text_filter,
)
from siteplane.dashboard.problems import not_found
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
    domain: NameText = None,
    domain_match: Annotated[MatchParam, Query(alias="domainMatch")] = "exact",
    customer: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    customer_match: Annotated[MatchParam, Query(alias="customerMatch")] = "exact",
    plan: Annotated[str | None, Query(min_length=1, max_length=63)] = None,
    ready: ReadyParam = None,
    reason: ReasonParam = None,
    zone: NameText = None,
    backend: Annotated[str | None, Query(min_length=1, max_length=253)] = None,
    sort: SiteSort = "name",
    order: SortOrder = "asc",
    limit: Limit = 50,
    continue_: Annotated[str | None, Query(alias="continue", max_length=2048)] = None,
) -> Page[SiteSummary]:
    filters = SiteFilters(
        namespace=namespace,
        name=text_filter(name, name_match),
        domain=text_filter(domain, domain_match),
        customer=text_filter(customer, customer_match),
        plan=plan,
        ready=ready,
        reason=reason,
        zone=zone,
        backend=backend,
    )
    query = fingerprint("sites", f"{sort}:{order}", filters.__dict__)
    after = decode(continue_, query) if continue_ else None
    page = PageRequest(sort, order == "desc", limit, after)

    def read(uow: UnitOfWork) -> list[Row]:
        return list_sites(uow, seen(uow, who, "sites"), filters, page)

    rows = await asyncio.to_thread(parts.store.read, read)
    more = len(rows) > limit
    rows = rows[:limit]
    token = encode(query, Cursor(sort_value(rows[-1], sort), rows[-1].id)) if more else None
    return Page[SiteSummary](items=[summary(r) for r in rows], continue_=token)


@router.get("/{namespace}/{name}", response_model=SiteDetail, dependencies=[Depends(only())])
async def detail(
    who: CallerDep,
    parts: DashboardDep,
    namespace: Annotated[str, Path(pattern=NamespaceName.pattern, max_length=63)],
    name: Annotated[str, Path(pattern=ObjectName.pattern, max_length=253)],
) -> SiteDetail:
    def read(uow: UnitOfWork) -> SiteDetail | None:
        found = site_detail(uow, seen(uow, who, "sites"), namespace, name)
        if found is None:
            return None
        base = summary(found.row)
        return SiteDetail(
            **base.model_dump(),
            ttl=found.ttl,
            serving=Serving(ipv4=list(found.ipv4), ipv6=list(found.ipv6), cname=found.cname),
            domains=[
                DomainPlacement(
                    domain=d.domain,
                    position=d.position,
                    placement=d.state,
                    publication=d.publish_state,
                    zone=d.zone,
                    served=d.publish_state == "Published" and not found.row.suspended,
                )
                for d in found.domains
            ],
            generation=found.row.generation,
            updated_at=found.updated_at,
        )

    result = await asyncio.to_thread(parts.store.read, read)
    if result is None:
        raise not_found()
    return result
