"""GET /api/v1/search: Sites by any of their domains, DNSZones by zone name, DNSRecords by FQDN,
in one list; each kind only where the caller may get the object."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from siteplane.dashboard.context import CallerDep, DashboardDep, only, seen_all
from siteplane.dashboard.models import Page, Ready, SearchHit
from siteplane.dashboard.pages import cut, decode, fingerprint
from siteplane.dashboard.params import DNS_CHARS, ContinueParam, Limit, MatchParam, NamespaceParam, dns_filter
from siteplane.store.listings import SEARCH_KINDS, Cursor, PageRequest, search
from siteplane.store.listings import SearchHit as Hit
from siteplane.store.unit_of_work import UnitOfWork

router = APIRouter(prefix="/api/v1/search", tags=["search"])
Kind = Literal["Site", "DNSZone", "DNSRecord"]
PARAMS = ("domain", "match", "kind", "namespace", "limit", "continue")


@router.get("", response_model=Page[SearchHit], dependencies=[Depends(only(*PARAMS))])
async def search_(
    who: CallerDep,
    parts: DashboardDep,
    domain: Annotated[str, Query(min_length=1, max_length=253, pattern=DNS_CHARS)],
    match: MatchParam = "contains",
    kind: Kind | None = None,
    namespace: NamespaceParam = None,
    limit: Limit = 50,
    continue_: ContinueParam = None,
) -> Page[SearchHit]:
    """Everything named by a domain the caller may get, ordered by that name. A Site appears once
    per matching domain."""
    wanted = dns_filter(domain, match)
    assert wanted is not None
    kinds = (kind,) if kind else SEARCH_KINDS
    query = fingerprint("search", "domain:asc", {"domain": wanted, "kinds": kinds, "namespace": namespace})
    after = decode(continue_, query) if continue_ else None
    page = PageRequest("domain", False, limit, after)

    def read(uow: UnitOfWork) -> list[Hit]:
        return search(uow, seen_all(uow, who), wanted, page, kinds, namespace)

    rows, token = cut(await asyncio.to_thread(parts.store.read, read), limit, query, lambda h: Cursor(h.domain, h.key))
    return Page[SearchHit](
        items=[
            SearchHit(
                kind=h.kind,
                namespace=h.namespace,
                name=h.name,
                domain=h.domain,
                ready=Ready(status=h.ready, reason=h.reason),
            )
            for h in rows
        ],
        continue_=token,
    )
