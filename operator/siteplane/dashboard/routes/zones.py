"""DNSZones: a filtered, permission-checked, keyset-paged list; one zone in detail; its record sets."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from siteplane.dashboard.context import CallerDep, DashboardDep, only, seen, seen_all
from siteplane.dashboard.models import (
    BackendHealth,
    Page,
    Ready,
    RecordSet,
    RecordSetCounts,
    RecordSetOwner,
    ZoneDetail,
    ZoneSummary,
)
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
    text_filter,
)
from siteplane.dashboard.problems import not_found
from siteplane.dashboard.routes.sites import NamePath, NamespacePath
from siteplane.dashboard.status import zone_conditions
from siteplane.store.listings import (
    Cursor,
    PageRequest,
    SetFilters,
    SetRow,
    SetState,
    ZoneFilters,
    list_zones,
    sort_value,
    zone_detail,
    zone_record_sets,
)
from siteplane.store.listings import ZoneRow as Row
from siteplane.store.unit_of_work import UnitOfWork

router = APIRouter(prefix="/api/v1/zones", tags=["zones"])
ZoneSort = Literal["name", "namespace", "zone", "created"]
SetSort = Literal["name", "type"]
LIST_PARAMS = (
    "namespace",
    "name",
    "nameMatch",
    "zone",
    "zoneMatch",
    "ready",
    "reason",
    "backend",
    "sort",
    "order",
    "limit",
    "continue",
)
SET_PARAMS = ("name", "nameMatch", "type", "state", "sort", "order", "limit", "continue")


def summary(row: Row) -> ZoneSummary:
    return ZoneSummary(
        namespace=row.namespace,
        name=row.name,
        zone_name=row.zone_name,
        owner=row.is_owner,
        backend=row.backend,
        serial=row.serial,
        record_count=row.record_count,
        drift_corrections=row.drift_corrections,
        last_sync=row.synced_at,
        last_check=row.checked_at,
        ready=Ready(status=row.ready, reason=row.reason),
        created=row.created,
    )


def record_set(row: SetRow) -> RecordSet:
    hidden = row.owner_name is None
    state: SetState = "rejected" if row.rejected else "applied" if row.applied_serial is not None else "pending"
    return RecordSet(
        name=row.name,
        type=row.type,
        ttl=row.ttl,
        values=list(row.values),
        owner=RecordSetOwner(kind=row.owner_kind, namespace=row.owner_namespace, name=row.owner_name, hidden=hidden),
        state=state,
        applied_serial=row.applied_serial,
        rejected=row.rejected,
    )


@router.get("", response_model=Page[ZoneSummary], dependencies=[Depends(only(*LIST_PARAMS))])
async def list_(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespaceParam = None,
    name: NameText = None,
    name_match: Annotated[MatchParam, Query(alias="nameMatch")] = "exact",
    zone: DnsText = None,
    zone_match: Annotated[MatchParam, Query(alias="zoneMatch")] = "exact",
    ready: ReadyParam = None,
    reason: ReasonParam = None,
    backend: BackendParam = None,
    sort: ZoneSort = "name",
    order: SortOrder = "asc",
    limit: Limit = 50,
    continue_: ContinueParam = None,
) -> Page[ZoneSummary]:
    """DNSZones the caller may get, filtered, sorted, in keyset pages. ``backend`` is the DNSBackend
    a zone is served through (a zone naming none counts for the operator's default)."""
    filters = ZoneFilters(
        namespace=namespace,
        name=text_filter(name, name_match),
        zone=dns_filter(zone, zone_match),
        ready=ready,
        reason=reason,
        backend=backend,
    )
    query = fingerprint("zones", f"{sort}:{order}", filters.__dict__)
    after = decode(continue_, query) if continue_ else None
    page = PageRequest(sort, order == "desc", limit, after)

    def read(uow: UnitOfWork) -> list[Row]:
        return list_zones(uow, seen(uow, who, "dnszones"), filters, page, parts.config.default_backend)

    rows, token = cut(
        await asyncio.to_thread(parts.store.read, read), limit, query, lambda r: Cursor(sort_value(r, sort), r.id)
    )
    return Page[ZoneSummary](items=[summary(r) for r in rows], continue_=token)


@router.get("/{namespace}/{name}", response_model=ZoneDetail, dependencies=[Depends(only())])
async def detail(who: CallerDep, parts: DashboardDep, namespace: NamespacePath, name: NamePath) -> ZoneDetail:
    """One DNSZone: its serial, last sync and check, drift corrections, record set counts, the health
    of its backend, and its conditions."""
    default = parts.config.default_backend

    def read(uow: UnitOfWork) -> ZoneDetail | None:
        found = zone_detail(uow, seen(uow, who, "dnszones"), namespace, name, default)
        if found is None:
            return None
        base = summary(found.row).model_dump()
        base["ready"] = Ready(status=found.row.ready, reason=found.row.reason, message=found.message)
        backend = found.backend
        return ZoneDetail(
            **base,
            default_ttl=found.default_ttl,
            soa=found.soa,
            name_servers=list(found.name_servers),
            publishers=list(found.publishers),
            delegations=list(found.delegations),
            deletion_policy=found.deletion_policy,
            management=found.management,
            served=found.served,
            backend_health=BackendHealth(
                name=backend.name,
                embedded=backend.name is None,
                ready=Ready(status=backend.ready, reason=backend.reason) if backend.ready is not None else None,
            ),
            record_sets=RecordSetCounts(
                total=found.record_sets.total,
                applied=found.record_sets.applied,
                pending=found.record_sets.pending,
                rejected=found.record_sets.rejected,
            ),
            conditions=zone_conditions(uow, found.row.uid),
            generation=found.row.generation,
            updated_at=found.updated_at,
        )

    result = await asyncio.to_thread(parts.store.read, read)
    if result is None:
        raise not_found()
    return result


@router.get(
    "/{namespace}/{name}/record-sets", response_model=Page[RecordSet], dependencies=[Depends(only(*SET_PARAMS))]
)
async def record_sets(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespacePath,
    name: NamePath,
    set_name: Annotated[
        str | None, Query(alias="name", min_length=1, max_length=253, pattern=r"^[A-Za-z0-9*@._-]+$")
    ] = None,
    set_name_match: Annotated[MatchParam, Query(alias="nameMatch")] = "exact",
    type_: TypeParam = None,
    state: Annotated[SetState | None, Query()] = None,
    sort: SetSort = "name",
    order: SortOrder = "asc",
    limit: Limit = 100,
    continue_: ContinueParam = None,
) -> Page[RecordSet]:
    """The record sets the zone serves or should serve (owner, type, TTL, values, applied serial,
    rejection). An owner the caller may not get shows as its kind only."""
    filters = SetFilters(name=dns_filter(set_name, set_name_match), type=type_, state=state)
    query = fingerprint(f"record-sets:{namespace}/{name}", f"{sort}:{order}", filters.__dict__)
    after = decode(continue_, query) if continue_ else None
    page = PageRequest(sort, order == "desc", limit, after)

    def read(uow: UnitOfWork) -> list[SetRow] | None:
        return zone_record_sets(uow, seen_all(uow, who), namespace, name, filters, page)

    found = await asyncio.to_thread(parts.store.read, read)
    if found is None:
        raise not_found()
    rows, token = cut(found, limit, query, lambda r: Cursor(getattr(r, sort), r.id))
    return Page[RecordSet](items=[record_set(r) for r in rows], continue_=token)
