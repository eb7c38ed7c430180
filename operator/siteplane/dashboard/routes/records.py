"""DNSRecords: a filtered, permission-checked, keyset-paged list, and one record in detail."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from siteplane.dashboard.context import CallerDep, DashboardDep, only, seen, seen_all
from siteplane.dashboard.models import Page, Ready, RecordDetail, RecordSummary
from siteplane.dashboard.pages import cut, decode, fingerprint
from siteplane.dashboard.params import (
    BackendParam,
    ContinueParam,
    DnsText,
    Limit,
    MatchParam,
    NamespaceParam,
    NameText,
    ReadyParam,
    ReasonParam,
    SortOrder,
    TypeParam,
    dns_filter,
    lower,
    text_filter,
)
from siteplane.dashboard.problems import not_found
from siteplane.dashboard.routes.sites import NamePath, NamespacePath
from siteplane.dashboard.routes.zones import record_set
from siteplane.dashboard.status import record_conditions
from siteplane.store.listings import Cursor, PageRequest, RecordFilters, list_records, record_detail, sort_value
from siteplane.store.listings import RecordRow as Row
from siteplane.store.unit_of_work import UnitOfWork

router = APIRouter(prefix="/api/v1/records", tags=["records"])
RecordSort = Literal["name", "namespace", "fqdn", "zone", "type", "created"]
LIST_PARAMS = (
    "namespace",
    "name",
    "nameMatch",
    "fqdn",
    "fqdnMatch",
    "zone",
    "type",
    "ready",
    "reason",
    "backend",
    "sort",
    "order",
    "limit",
    "continue",
)


def summary(row: Row) -> RecordSummary:
    return RecordSummary(
        namespace=row.namespace,
        name=row.name,
        zone=row.zone_name,
        record_name=row.record_name,
        fqdn=row.fqdn,
        type=row.type,
        ttl=row.ttl,
        values=list(row.values),
        state=row.state,
        ready=Ready(status=row.ready, reason=row.reason),
        created=row.created,
    )


@router.get("", response_model=Page[RecordSummary], dependencies=[Depends(only(*LIST_PARAMS))])
async def list_(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespaceParam = None,
    name: NameText = None,
    name_match: Annotated[MatchParam, Query(alias="nameMatch")] = "exact",
    fqdn: DnsText = None,
    fqdn_match: Annotated[MatchParam, Query(alias="fqdnMatch")] = "exact",
    zone: DnsText = None,
    type_: TypeParam = None,
    ready: ReadyParam = None,
    reason: ReasonParam = None,
    backend: BackendParam = None,
    sort: RecordSort = "name",
    order: SortOrder = "asc",
    limit: Limit = 50,
    continue_: ContinueParam = None,
) -> Page[RecordSummary]:
    """DNSRecords the caller may get, filtered, sorted, in keyset pages."""
    filters = RecordFilters(
        namespace=namespace,
        name=text_filter(name, name_match),
        fqdn=dns_filter(fqdn, fqdn_match),
        zone=lower(zone),
        type=type_,
        ready=ready,
        reason=reason,
        backend=backend,
    )
    query = fingerprint("records", f"{sort}:{order}", filters.__dict__)
    after = decode(continue_, query) if continue_ else None
    page = PageRequest(sort, order == "desc", limit, after)

    def read(uow: UnitOfWork) -> list[Row]:
        return list_records(uow, seen(uow, who, "dnsrecords"), filters, page, parts.config.default_backend)

    rows, token = cut(
        await asyncio.to_thread(parts.store.read, read), limit, query, lambda r: Cursor(sort_value(r, sort), r.id)
    )
    return Page[RecordSummary](items=[summary(r) for r in rows], continue_=token)


@router.get("/{namespace}/{name}", response_model=RecordDetail, dependencies=[Depends(only())])
async def detail(who: CallerDep, parts: DashboardDep, namespace: NamespacePath, name: NamePath) -> RecordDetail:
    """One DNSRecord: what it asks for, the record set it holds in its zone, its conditions."""

    def read(uow: UnitOfWork) -> RecordDetail | None:
        found = record_detail(uow, seen_all(uow, who), namespace, name)
        if found is None:
            return None
        base = summary(found.row).model_dump()
        base["ready"] = Ready(status=found.row.ready, reason=found.row.reason, message=found.message)
        return RecordDetail(
            **base,
            record_sets=[record_set(s) for s in found.sets],
            zone_serial=found.zone_serial,
            conditions=record_conditions(uow, found.row.uid),
            generation=found.row.generation,
            updated_at=found.updated_at,
        )

    result = await asyncio.to_thread(parts.store.read, read)
    if result is None:
        raise not_found()
    return result
