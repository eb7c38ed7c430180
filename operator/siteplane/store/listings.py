"""The dashboard's read queries: lists with filters and keyset pages, details, history.

Everything a caller may not see is left out in SQL, by ``visible``: the caller's Visibility (what
RBAC lets them ``get``, from the grants table) becomes part of the WHERE clause of every query, so
counts, pages and searches never include, nor reveal, what is hidden. Pages are keyset pages over
(sort value, id): stable under concurrent inserts, as the API server's continue tokens are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true, tuple_
from sqlalchemy.orm import selectinload

from siteplane.domain.access import Visibility
from siteplane.store.models import ObjectStatus, Site, SiteDomain, Zone
from siteplane.store.unit_of_work import UnitOfWork

Match = Literal["exact", "prefix", "suffix", "contains"]
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
MAX_PAGE = 500


@dataclass(frozen=True)
class TextFilter:
    value: str
    match: Match = "exact"


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: its last row's sort value and id."""

    value: Any
    id: int


@dataclass(frozen=True)
class PageRequest:
    sort: str  # a sort key of the kind's list
    descending: bool = False
    limit: int = 50
    after: Cursor | None = None


def visible(namespace: Any, name: Any, seen: Visibility) -> ColumnElement[bool]:
    """SQL for "the caller may get this object": the Visibility as a condition on its columns."""
    if seen.everything:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if seen.namespaces:
        conditions.append(namespace.in_(sorted(seen.namespaces)))
    in_namespace = sorted((ns, n) for ns, n in seen.named if ns is not None)
    anywhere = sorted(n for ns, n in seen.named if ns is None)
    if in_namespace:
        conditions.append(tuple_(namespace, name).in_(in_namespace))
    if anywhere:
        conditions.append(name.in_(anywhere))
    return or_(*conditions) if conditions else false()


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(column: Any, wanted: TextFilter) -> ColumnElement[bool]:
    """``column`` matches ``wanted`` (its wildcards taken literally: a '%' is a '%')."""
    if wanted.match == "exact":
        return column == wanted.value  # type: ignore[no-any-return]
    pattern = {"prefix": "{}%", "suffix": "%{}", "contains": "%{}%"}[wanted.match].format(_escaped(wanted.value))
    return column.like(pattern, escape="\\")  # type: ignore[no-any-return]


def paged(stmt: SelectT, sort: Any, id_column: Any, page: PageRequest) -> SelectT:
    """``stmt`` ordered by (sort, id) and cut after ``page.after``; one row more than the page
    holds, so the caller knows whether another page follows. A missing value sorts as ''."""
    key = func.coalesce(sort, "")
    if page.after is not None:
        after = tuple_(key, id_column)
        point = tuple_(page.after.value, page.after.id)
        stmt = stmt.where(after < point if page.descending else after > point)
    order = (key.desc(), id_column.desc()) if page.descending else (key.asc(), id_column.asc())
    return stmt.order_by(*order).limit(min(page.limit, MAX_PAGE) + 1)


def ready_of(kind: str, namespace: Any, name: Any) -> Any:
    """The object's stored Ready (object_status), to join on."""
    return and_(ObjectStatus.kind == kind, ObjectStatus.namespace == namespace, ObjectStatus.name == name)


# -- Sites --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteFilters:
    namespace: str | None = None
    name: TextFilter | None = None
    domain: TextFilter | None = None
    customer: TextFilter | None = None
    plan: str | None = None
    ready: str | None = None
    reason: str | None = None
    zone: str | None = None
    backend: str | None = None


@dataclass(frozen=True)
class SiteRow:
    id: int
    namespace: str
    name: str
    uid: str
    primary_domain: str
    aliases: tuple[str, ...]
    customer: str | None
    plan: str | None
    suspended: bool
    zone: str | None
    ready: str | None
    reason: str | None
    created: str
    generation: int


SITE_SORTS: dict[str, Any] = {
    "name": Site.name,
    "namespace": Site.namespace,
    "domain": Site.primary_domain,
    "customer": Site.customer,
    "created": Site.created,
}


def _live_domain(*conditions: Any) -> Any:
    return exists().where(SiteDomain.site_id == Site.id, SiteDomain.deleted_at.is_(None), *conditions)


def list_sites(uow: UnitOfWork, seen: Visibility, filters: SiteFilters, page: PageRequest) -> list[SiteRow]:
    stmt = (
        select(Site, ObjectStatus.ready, ObjectStatus.reason)
        .outerjoin(ObjectStatus, ready_of("Site", Site.namespace, Site.name))
        .where(Site.deleted_at.is_(None), visible(Site.namespace, Site.name, seen))
        .options(selectinload(Site.domains))
    )
    if filters.namespace is not None:
        stmt = stmt.where(Site.namespace == filters.namespace)
    if filters.name is not None:
        stmt = stmt.where(matches(Site.name, filters.name))
    if filters.domain is not None:
        stmt = stmt.where(_live_domain(matches(SiteDomain.domain, filters.domain)))
    if filters.customer is not None:
        stmt = stmt.where(matches(Site.customer, filters.customer))
    if filters.plan is not None:
        stmt = stmt.where(Site.plan == filters.plan)
    if filters.ready is not None:
        stmt = stmt.where(ObjectStatus.ready == filters.ready)
    if filters.reason is not None:
        stmt = stmt.where(ObjectStatus.reason == filters.reason)
    if filters.zone is not None:
        stmt = stmt.where(_live_domain(SiteDomain.zone_name == filters.zone))
    if filters.backend is not None:
        placed = select(Zone.zone_name).where(
            Zone.backend == filters.backend, Zone.is_owner.is_(True), Zone.deleted_at.is_(None)
        )
        stmt = stmt.where(_live_domain(SiteDomain.zone_name.in_(placed)))
    stmt = paged(stmt, SITE_SORTS[page.sort], Site.id, page)
    return [_site_row(row[0], row[1], row[2]) for row in uow.session.execute(stmt)]


def _site_row(site: Site, ready: str | None, reason: str | None) -> SiteRow:
    domains = sorted((d for d in site.domains if d.deleted_at is None), key=lambda d: d.position)
    return SiteRow(
        site.id,
        site.namespace,
        site.name,
        site.uid,
        site.primary_domain,
        tuple(d.domain for d in domains[1:]),
        site.customer,
        site.plan,
        bool(site.suspended),
        domains[0].zone_name if domains else None,
        ready,
        reason,
        site.created,
        site.generation,
    )


def sort_value(row: Any, sort: str) -> Any:
    """The value a row sorts by under ``sort`` (what a continue token carries)."""
    value = getattr(row, {"domain": "primary_domain"}.get(sort, sort))
    return "" if value is None else value


@dataclass(frozen=True)
class DomainDetail:
    domain: str
    position: int
    state: str
    publish_state: str | None
    zone: str | None


@dataclass(frozen=True)
class SiteDetail:
    row: SiteRow
    ttl: int | None
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    cname: str | None
    domains: tuple[DomainDetail, ...]
    message: str | None
    updated_at: datetime | None


def site_detail(uow: UnitOfWork, seen: Visibility, namespace: str, name: str) -> SiteDetail | None:
    """One Site, if the caller may see it (else None, exactly as when it does not exist)."""
    if not seen.allows(namespace, name):
        return None
    stmt = (
        select(Site, ObjectStatus.ready, ObjectStatus.reason, ObjectStatus.message)
        .outerjoin(ObjectStatus, ready_of("Site", Site.namespace, Site.name))
        .where(Site.namespace == namespace, Site.name == name, Site.deleted_at.is_(None))
        .options(selectinload(Site.domains))
    )
    found = uow.session.execute(stmt).first()
    if found is None:
        return None
    site, ready, reason, message = found
    domains = sorted((d for d in site.domains if d.deleted_at is None), key=lambda d: d.position)
    return SiteDetail(
        _site_row(site, ready, reason),
        site.ttl,
        tuple(site.ipv4 or ()),
        tuple(site.ipv6 or ()),
        site.cname,
        tuple(DomainDetail(d.domain, d.position, d.state, d.publish_state, d.zone_name) for d in domains),
        message,
        site.updated_at,
    )
