"""History and audit: what changed, when, at which generation, and who, per object and across
objects; every entry only where the caller may get its object (by the grants of its kind)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from siteplane.dashboard.context import CallerDep, DashboardDep, only, seen_all
from siteplane.dashboard.models import HistoryEntry, Page
from siteplane.dashboard.pages import cut, decode, fingerprint
from siteplane.dashboard.params import (
    ContinueParam,
    DnsText,
    Limit,
    MatchParam,
    NamespaceParam,
    NameText,
    Since,
    SortOrder,
    Until,
    UserParam,
    lower,
    text_filter,
)
from siteplane.dashboard.problems import not_found
from siteplane.dashboard.routes.sites import NamePath, NamespacePath
from siteplane.store.listings import (
    Cursor,
    HistoryAction,
    HistoryFilters,
    HistoryRow,
    PageRequest,
    TextFilter,
    list_history,
)
from siteplane.store.unit_of_work import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["history"])
Kind = Literal["Site", "DNSZone", "DNSRecord"]
ACROSS = (
    "kind",
    "namespace",
    "name",
    "nameMatch",
    "action",
    "author",
    "zone",
    "since",
    "until",
    "order",
    "limit",
    "continue",
)
PER_OBJECT = ("action", "author", "since", "until", "order", "limit", "continue")


def entry(row: HistoryRow) -> HistoryEntry:
    return HistoryEntry(
        id=row.id,
        at=row.at,
        kind=row.kind,
        namespace=row.namespace,
        name=row.name,
        uid=row.uid,
        generation=row.generation,
        zone=row.zone_name,
        action=row.action,
        author=row.author,
        serial=row.serial,
        detail=row.detail,
    )


async def _page(
    who: CallerDep, parts: DashboardDep, filters: HistoryFilters, order: str, limit: int, token: str | None, scope: str
) -> tuple[list[HistoryRow], str | None]:
    query = fingerprint(f"history:{scope}", f"id:{order}", filters.__dict__)
    after = decode(token, query) if token else None
    page = PageRequest("id", order == "desc", limit, after)

    def read(uow: UnitOfWork) -> list[HistoryRow]:
        return list_history(uow, seen_all(uow, who), filters, page)

    rows = await asyncio.to_thread(parts.store.read, read)
    return cut(rows, limit, query, lambda r: Cursor(r.id, r.id))


@router.get("/history", response_model=Page[HistoryEntry], dependencies=[Depends(only(*ACROSS))])
async def history(
    who: CallerDep,
    parts: DashboardDep,
    kind: Kind | None = None,
    namespace: NamespaceParam = None,
    name: NameText = None,
    name_match: Annotated[MatchParam, Query(alias="nameMatch")] = "exact",
    action: HistoryAction | None = None,
    author: UserParam = None,
    zone: DnsText = None,
    since: Since = None,
    until: Until = None,
    order: SortOrder = "desc",
    limit: Limit = 50,
    continue_: ContinueParam = None,
) -> Page[HistoryEntry]:
    """Changes across objects, newest first: what changed, when, at which generation, and who."""
    filters = HistoryFilters(
        kind=kind,
        namespace=namespace,
        name=text_filter(name, name_match),
        action=action,
        author=author,
        zone=lower(zone),
        since=since,
        until=until,
    )
    rows, token = await _page(who, parts, filters, order, limit, continue_, "all")
    return Page[HistoryEntry](items=[entry(r) for r in rows], continue_=token)


def _per_object(kind: str, plural: str) -> None:
    @router.get(
        f"/{plural}/{{namespace}}/{{name}}/history",
        response_model=Page[HistoryEntry],
        dependencies=[Depends(only(*PER_OBJECT))],
        name=f"{plural}_history",
        summary=f"History of one {kind}",
        tags=[plural],
    )
    async def object_history(
        who: CallerDep,
        parts: DashboardDep,
        namespace: NamespacePath,
        name: NamePath,
        action: HistoryAction | None = None,
        author: UserParam = None,
        since: Since = None,
        until: Until = None,
        order: SortOrder = "desc",
        limit: Limit = 50,
        continue_: ContinueParam = None,
    ) -> Page[HistoryEntry]:
        filters = HistoryFilters(
            kind=kind,
            namespace=namespace,
            name=TextFilter(name),
            action=action,
            author=author,
            since=since,
            until=until,
        )
        rows, token = await _page(who, parts, filters, order, limit, continue_, f"{kind}/{namespace}/{name}")
        if not rows and continue_ is None and not any((action, author, since, until)):
            raise not_found()  # never there, or not the caller's to see: answered alike
        return Page[HistoryEntry](items=[entry(r) for r in rows], continue_=token)

    object_history.__doc__ = (
        f"Everything that happened to the {kind} of this namespace and name (every incarnation), newest first."
    )


_per_object("Site", "sites")
_per_object("DNSZone", "zones")
_per_object("DNSRecord", "records")
