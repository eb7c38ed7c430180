"""The dashboard's read queries (store/listings.py) against real SQLite and real PostgreSQL.

One small world of rows, written as the operator writes them, read through every query with
several permission sets: what a caller may not ``get`` never comes back from any list, detail,
search or history, whatever the filters, and pages stay whole while rows are inserted between
them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from siteplane.domain.access import Visibility
from siteplane.store.database import make_engine
from siteplane.store.listings import (
    Cursor,
    HistoryFilters,
    PageRequest,
    RecordFilters,
    SetFilters,
    SiteFilters,
    TextFilter,
    Visibilities,
    ZoneFilters,
    list_history,
    list_records,
    list_sites,
    list_zones,
    record_detail,
    search,
    site_detail,
    sort_value,
    zone_detail,
    zone_record_sets,
)
from siteplane.store.models import (
    ChangeAuthor,
    History,
    ObjectStatus,
    Record,
    RecordSetRow,
    Site,
    SiteDomain,
    Zone,
)
from siteplane.store.unit_of_work import Store, UnitOfWork

pytestmark = pytest.mark.cluster

A, B = "team-a", "team-b"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
Key = tuple[str, str, str]  # (kind, namespace, name)


def _uid() -> str:
    return uuid.uuid4().hex


@dataclass
class World:
    """The rows, and what is live in them: (kind, namespace, name) -> uid."""

    store: Store
    live: dict[Key, str] = field(default_factory=dict)
    domains: dict[Key, list[str]] = field(default_factory=dict)  # what search finds each object by
    zone_ids: dict[str, int] = field(default_factory=dict)
    histories: set[Key] = field(default_factory=set)

    def read(self, work: Callable[[UnitOfWork], Any]) -> Any:
        return self.store.read(work)


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    world = World(Store(engine))
    _seed(world)
    yield world
    engine.dispose()


def _status(kind: str, namespace: str, name: str, uid: str, ready: str, reason: str) -> ObjectStatus:
    return ObjectStatus(kind=kind, namespace=namespace, name=name, uid=uid, ready=ready, reason=reason, message="m")


def _seed(world: World) -> None:
    def add_zone(uow: UnitOfWork, ns: str, name: str, zone_name: str, **extra: Any) -> Zone:
        uid = _uid()
        zone = Zone(
            uid=uid,
            namespace=ns,
            name=name,
            created="2026-01-01T00:00:00Z",
            generation=1,
            zone_name=zone_name,
            is_owner=extra.pop("is_owner", True),
            default_ttl=3600,
            soa={"refresh": 3600},
            name_servers=["ns1.hosting.example.net"],
            **extra,
        )
        uow.session.add(zone)
        uow.flush()
        world.live[("DNSZone", ns, name)] = uid
        world.domains[("DNSZone", ns, name)] = [zone_name]
        return zone

    def add_site(
        uow: UnitOfWork, ns: str, name: str, domains: list[tuple[str, str | None, str, str | None]], **extra: Any
    ) -> Site:
        uid = _uid()
        site = Site(
            uid=uid,
            namespace=ns,
            name=name,
            created=extra.pop("created", "2026-01-02T00:00:00Z"),
            generation=extra.pop("generation", 1),
            primary_domain=domains[0][0],
            customer=extra.pop("customer", None),
            plan=extra.pop("plan", "basic"),
            suspended=extra.pop("suspended", False),
            ttl=None,
            ipv4=["192.0.2.1"],
            ipv6=[],
            cname=None,
            domains=[
                SiteDomain(domain=d, position=i, zone_name=z, is_owner=state == "Owned", state=state, publish_state=p)
                for i, (d, z, state, p) in enumerate(domains)
            ],
            **extra,
        )
        uow.session.add(site)
        uow.flush()
        if site.deleted_at is None:
            world.live[("Site", ns, name)] = uid
            world.domains[("Site", ns, name)] = [d for d, *_ in domains]
        return site

    def add_record(
        uow: UnitOfWork, ns: str, name: str, zone: str, record: str, type_: str, rdata: list[str], **extra: Any
    ) -> Record:
        uid = _uid()
        row = Record(
            uid=uid,
            namespace=ns,
            name=name,
            created="2026-01-03T00:00:00Z",
            generation=1,
            zone_name=zone,
            record_name=record,
            type=type_,
            ttl=None,
            rdata=rdata,
            state=extra.pop("state", "Published"),
            **extra,
        )
        uow.session.add(row)
        uow.flush()
        if row.deleted_at is None:
            world.live[("DNSRecord", ns, name)] = uid
            world.domains[("DNSRecord", ns, name)] = [zone if record == "@" else f"{record}.{zone}"]
        return row

    def add_set(
        uow: UnitOfWork, zone: Zone, name: str, type_: str, owner: Key, applied: int | None, rejected: str | None = None
    ) -> None:
        kind, ns, owner_name = owner
        uow.session.add(
            RecordSetRow(
                zone_id=zone.id,
                name=name,
                type=type_,
                ttl=300,
                rdata=["192.0.2.1"],
                owner_kind=kind,
                owner_namespace=ns,
                owner_name=owner_name,
                owner_uid=world.live[owner],
                owner_generation=1,
                applied_serial=applied,
                rejected=rejected,
            )
        )

    def history(
        uow: UnitOfWork,
        key: Key,
        uid: str,
        generation: int,
        action: str,
        minutes: int,
        author: tuple[str, str] | None = None,
    ) -> None:
        kind, ns, name = key
        uow.session.add(
            History(
                at=T0 + timedelta(minutes=minutes),
                object_kind=kind,
                object_namespace=ns,
                object_name=name,
                object_uid=uid,
                generation=generation,
                action=action,
                detail={"n": minutes},
            )
        )
        if author is not None:
            operation, username = author
            uow.session.add(ChangeAuthor(object_uid=uid, generation=generation, operation=operation, username=username))
        world.histories.add(key)

    def seed(uow: UnitOfWork) -> None:
        now = datetime.now(UTC)
        zone_a = add_zone(uow, A, "zone-a", "a.example", serial=7, synced_at=now, checked_at=now, drift_corrections=2)
        add_zone(uow, A, "zone-a-late", "a.example", is_owner=False)
        zone_b = add_zone(
            uow, B, "zone-b", "b.example", backend="bind", serial=3, sync_error="down", sync_error_reason="BackendError"
        )
        world.zone_ids = {"a.example": zone_a.id, "b.example": zone_b.id}
        add_site(
            uow,
            A,
            "www",
            [
                ("www.a.example", "a.example", "Owned", "Published"),
                ("shop.a.example", "a.example", "Owned", "Published"),
            ],
            customer="acme",
            generation=2,
        )
        add_site(
            uow, A, "blog", [("blog.a.example", "a.example", "Owned", "Published")], customer="a_c", plan="business"
        )
        add_site(uow, A, "parked", [("parked.a.example", "a.example", "Owned", None)], customer="abc", suspended=True)
        add_site(uow, B, "www", [("www.b.example", "b.example", "Owned", "Published")], customer="abc")
        add_site(uow, B, "intruder", [("x.a.example", "a.example", "Owned", "Published")], customer="other")
        gone = add_site(uow, A, "gone", [("gone.a.example", "a.example", "Owned", "Published")], deleted_at=now)
        add_record(uow, A, "mail", "a.example", "@", "MX", ["10 mail.a.example."])
        add_record(uow, A, "www", "a.example", "_dmarc", "TXT", ['"v=DMARC1; p=none"'])
        add_record(uow, B, "www", "b.example", "www", "TXT", ['"hello"'])
        add_record(uow, A, "old", "a.example", "old", "A", ["192.0.2.9"], deleted_at=now)
        add_set(uow, zone_a, "@", "NS", ("DNSZone", A, "zone-a"), 7)
        add_set(uow, zone_a, "www", "A", ("Site", A, "www"), 7)
        add_set(uow, zone_a, "shop", "A", ("Site", A, "www"), 7)
        add_set(uow, zone_a, "blog", "A", ("Site", A, "blog"), None)
        add_set(uow, zone_a, "x", "A", ("Site", B, "intruder"), 7)
        add_set(uow, zone_a, "@", "MX", ("DNSRecord", A, "mail"), 7)
        add_set(uow, zone_a, "_dmarc", "TXT", ("DNSRecord", A, "www"), None, "refused by policy")
        add_set(uow, zone_b, "@", "NS", ("DNSZone", B, "zone-b"), 3)
        add_set(uow, zone_b, "www", "A", ("Site", B, "www"), None)
        for (kind, ns, name), uid in world.live.items():
            ready = "True" if (kind, ns, name) != ("Site", A, "blog") else "False"
            uow.session.add(_status(kind, ns, name, uid, ready, "Published" if ready == "True" else "Pending"))
        uow.session.add(_status("DNSBackend", "", "bind", _uid(), "False", "Unusable"))
        site_www = world.live[("Site", A, "www")]
        history(uow, ("Site", A, "www"), site_www, 1, "stored", 1, ("CREATE", "alice"))
        history(uow, ("Site", A, "www"), site_www, 2, "stored", 2, ("UPDATE", "bob"))
        history(uow, ("Site", A, "www"), site_www, 2, "dns-applied", 3)
        history(uow, ("Site", A, "gone"), gone.uid, 1, "stored", 4, ("CREATE", "alice"))
        history(uow, ("Site", A, "gone"), gone.uid, 1, "deleted", 5, ("DELETE", "carol"))
        history(uow, ("Site", A, "gone"), gone.uid, 1, "dns-applied", 5)  # its records withdrawn
        history(uow, ("DNSZone", A, "zone-a"), world.live[("DNSZone", A, "zone-a")], 1, "stored", 6)
        history(uow, ("DNSZone", A, "zone-a"), world.live[("DNSZone", A, "zone-a")], 1, "drift-reverted", 7)
        history(
            uow, ("DNSRecord", A, "mail"), world.live[("DNSRecord", A, "mail")], 1, "stored", 8, ("CREATE", "admin")
        )
        history(uow, ("DNSRecord", A, "mail"), world.live[("DNSRecord", A, "mail")], 1, "dns-applied", 9)
        history(uow, ("Site", B, "www"), world.live[("Site", B, "www")], 1, "stored", 10, ("CREATE", "dave"))
        history(uow, ("DNSRecord", B, "www"), world.live[("DNSRecord", B, "www")], 1, "stored", 11, ("CREATE", "dave"))
        uow.commit()

    world.store.transaction(seed)


# -- who sees what ------------------------------------------------------------------------------

EVERYTHING = Visibility(everything=True)
NOTHING = Visibility()
TEAM_A = Visibility(namespaces=frozenset({A}))
WWW_IN_A = Visibility(named=frozenset({(A, "www")}))
WWW_ANYWHERE = Visibility(named=frozenset({(None, "www")}))

SIGHTS: dict[str, Visibilities] = {
    "cluster-admin": Visibilities(EVERYTHING, EVERYTHING, EVERYTHING),
    "team-a viewer": Visibilities(TEAM_A, TEAM_A, TEAM_A),
    "www in team-a only": Visibilities(WWW_IN_A, WWW_IN_A, WWW_IN_A),
    "www in every namespace": Visibilities(WWW_ANYWHERE, NOTHING, WWW_ANYWHERE),
    "sites of team-a, one record of team-b": Visibilities(TEAM_A, NOTHING, Visibility(named=frozenset({(B, "www")}))),
    "DNS only, team-b": Visibilities(
        NOTHING, Visibility(namespaces=frozenset({B})), Visibility(namespaces=frozenset({B}))
    ),
    "nobody": Visibilities(NOTHING, NOTHING, NOTHING),
}


def allowed(seen: Visibilities, keys: Any) -> set[Key]:
    return {(kind, ns, name) for kind, ns, name in keys if seen.of(kind).allows(ns, name)}


def every_page(
    fetch: Callable[[PageRequest], list[Any]],
    sort: str,
    limit: int,
    cursor: Callable[[Any], Cursor],
    descending: bool = False,
) -> list[Any]:
    """Every row of a list, read ``limit`` at a time as the API reads it (one row more than a page)."""
    found: list[Any] = []
    after: Cursor | None = None
    for _ in range(100):
        rows = fetch(PageRequest(sort, descending, limit, after))
        found += rows[:limit]
        if len(rows) <= limit:
            return found
        after = cursor(rows[limit - 1])
    raise AssertionError("more than 100 pages")


def by_sort(sort: str) -> Callable[[Any], Cursor]:
    return lambda row: Cursor(sort_value(row, sort), row.id)


def _lists(world: World, seen: Visibilities, limit: int = 2) -> dict[str, set[Key]]:
    def sites(uow: UnitOfWork) -> list[Any]:
        return every_page(lambda p: list_sites(uow, seen.sites, SiteFilters(), p), "name", limit, by_sort("name"))

    def zones(uow: UnitOfWork) -> list[Any]:
        return every_page(lambda p: list_zones(uow, seen.zones, ZoneFilters(), p), "zone", limit, by_sort("zone"))

    def records(uow: UnitOfWork) -> list[Any]:
        return every_page(lambda p: list_records(uow, seen.records, RecordFilters(), p), "fqdn", limit, by_sort("fqdn"))

    def hits(uow: UnitOfWork) -> list[Any]:
        wanted = TextFilter("example", "contains")
        return every_page(lambda p: search(uow, seen, wanted, p), "domain", limit, lambda h: Cursor(h.domain, h.key))

    def history(uow: UnitOfWork) -> list[Any]:
        return every_page(
            lambda p: list_history(uow, seen, HistoryFilters(), p), "id", limit, lambda r: Cursor(r.id, r.id), True
        )

    return {
        "sites": {("Site", r.namespace, r.name) for r in world.read(sites)},
        "zones": {("DNSZone", r.namespace, r.name) for r in world.read(zones)},
        "records": {("DNSRecord", r.namespace, r.name) for r in world.read(records)},
        "search": {(h.kind, h.namespace, h.name) for h in world.read(hits)},
        "history": {(r.kind, r.namespace, r.name) for r in world.read(history)},
    }


@pytest.mark.parametrize("who", list(SIGHTS))
def test_every_list_search_and_history_hold_exactly_what_the_caller_may_get(world: World, who: str) -> None:
    seen = SIGHTS[who]
    got = _lists(world, seen)
    live = set(world.live)
    assert got["sites"] == allowed(seen, {k for k in live if k[0] == "Site"})
    assert got["zones"] == allowed(seen, {k for k in live if k[0] == "DNSZone"})
    assert got["records"] == allowed(seen, {k for k in live if k[0] == "DNSRecord"})
    assert got["search"] == allowed(seen, live)
    # History keeps deleted objects: their entries are seen by whoever may get that name.
    assert got["history"] == allowed(seen, world.histories)
    assert ("Site", A, "gone") not in got["sites"]


@pytest.mark.parametrize("who", list(SIGHTS))
def test_a_detail_is_there_exactly_when_the_caller_may_get_the_object(world: World, who: str) -> None:
    seen = SIGHTS[who]
    keys = {*world.live, ("Site", A, "gone"), ("DNSRecord", A, "old"), ("Site", A, "nothing")}
    details = {
        "Site": lambda uow, ns, n: site_detail(uow, seen.sites, ns, n),
        "DNSZone": lambda uow, ns, n: zone_detail(uow, seen.zones, ns, n),
        "DNSRecord": lambda uow, ns, n: record_detail(uow, seen, ns, n),
    }
    for kind, ns, name in sorted(keys):
        found = world.read(lambda uow, k=kind, ns=ns, name=name: details[k](uow, ns, name))
        assert (found is not None) == ((kind, ns, name) in allowed(seen, world.live)), (kind, ns, name)


# -- filters ------------------------------------------------------------------------------------

ALL = SIGHTS["cluster-admin"]
SITE_FILTERS: list[tuple[SiteFilters, str | None, set[tuple[str, str]]]] = [
    (SiteFilters(name=TextFilter("www")), None, {(A, "www"), (B, "www")}),
    (SiteFilters(namespace=A, name=TextFilter("w", "prefix")), None, {(A, "www")}),
    (SiteFilters(domain=TextFilter("shop.a.example")), None, {(A, "www")}),  # an alias finds its Site
    (
        SiteFilters(domain=TextFilter(".a.example", "suffix")),
        None,
        {(A, "www"), (A, "blog"), (A, "parked"), (B, "intruder")},
    ),
    (SiteFilters(domain=TextFilter("b.ex", "contains")), None, {(B, "www")}),
    (SiteFilters(customer=TextFilter("a_c")), None, {(A, "blog")}),
    # '_' is a LIKE wildcard: taken literally, "a_" is no prefix of "abc" or "acme".
    (SiteFilters(customer=TextFilter("a_", "prefix")), None, {(A, "blog")}),
    (SiteFilters(customer=TextFilter("_", "contains")), None, {(A, "blog")}),
    (SiteFilters(customer=TextFilter("%", "contains")), None, set()),
    (SiteFilters(customer=TextFilter("\\", "contains")), None, set()),
    (SiteFilters(customer=TextFilter("' OR '1'='1", "contains")), None, set()),
    (SiteFilters(plan="business"), None, {(A, "blog")}),
    (SiteFilters(ready="False"), None, {(A, "blog")}),
    (SiteFilters(reason="Pending"), None, {(A, "blog")}),
    (SiteFilters(zone="b.example"), None, {(B, "www")}),
    (SiteFilters(backend="bind"), None, {(B, "www")}),
    # With bind as the operator's default, zones naming no backend are served by it too.
    (SiteFilters(backend="bind"), "bind", {(A, "www"), (A, "blog"), (A, "parked"), (B, "www"), (B, "intruder")}),
]


@pytest.mark.parametrize(("filters", "default", "expected"), SITE_FILTERS)
def test_site_filters(world: World, filters: SiteFilters, default: str | None, expected: set[tuple[str, str]]) -> None:
    rows = world.read(lambda uow: list_sites(uow, ALL.sites, filters, PageRequest("name"), default))
    assert {(r.namespace, r.name) for r in rows} == expected


ZONE_FILTERS: list[tuple[ZoneFilters, set[tuple[str, str]]]] = [
    (ZoneFilters(zone=TextFilter("a.example")), {(A, "zone-a"), (A, "zone-a-late")}),
    (ZoneFilters(zone=TextFilter("b.", "prefix")), {(B, "zone-b")}),
    (ZoneFilters(name=TextFilter("-late", "suffix")), {(A, "zone-a-late")}),
    (ZoneFilters(name=TextFilter("_", "contains")), set()),
    (ZoneFilters(backend="bind"), {(B, "zone-b")}),
    (ZoneFilters(namespace=B), {(B, "zone-b")}),
]


@pytest.mark.parametrize(("filters", "expected"), ZONE_FILTERS)
def test_zone_filters(world: World, filters: ZoneFilters, expected: set[tuple[str, str]]) -> None:
    rows = world.read(lambda uow: list_zones(uow, ALL.zones, filters, PageRequest("name")))
    assert {(r.namespace, r.name) for r in rows} == expected


RECORD_FILTERS: list[tuple[RecordFilters, set[tuple[str, str]]]] = [
    (RecordFilters(fqdn=TextFilter("a.example")), {(A, "mail")}),  # '@' is the zone's apex
    (RecordFilters(fqdn=TextFilter("_dmarc.a.example")), {(A, "www")}),
    (RecordFilters(fqdn=TextFilter("_dmarc", "prefix")), {(A, "www")}),
    (RecordFilters(fqdn=TextFilter("_", "contains")), {(A, "www")}),
    (RecordFilters(type="MX"), {(A, "mail")}),
    (RecordFilters(zone="b.example"), {(B, "www")}),
    (RecordFilters(backend="bind"), {(B, "www")}),
    (RecordFilters(name=TextFilter("www")), {(A, "www"), (B, "www")}),
]


@pytest.mark.parametrize(("filters", "expected"), RECORD_FILTERS)
def test_record_filters(world: World, filters: RecordFilters, expected: set[tuple[str, str]]) -> None:
    rows = world.read(lambda uow: list_records(uow, ALL.records, filters, PageRequest("name")))
    assert {(r.namespace, r.name) for r in rows} == expected


def test_search_finds_each_kind_by_its_own_name_and_a_site_by_every_domain(world: World) -> None:
    def hits(
        wanted: TextFilter, kinds: tuple[str, ...] = ("Site", "DNSZone", "DNSRecord")
    ) -> list[tuple[str, str, str, str]]:
        rows = world.read(lambda uow: search(uow, ALL, wanted, PageRequest("domain", limit=100), kinds))
        return [(h.kind, h.namespace, h.name, h.domain) for h in rows]

    assert set(hits(TextFilter("a.example", "suffix"))) == {
        ("DNSZone", A, "zone-a", "a.example"),
        ("DNSZone", A, "zone-a-late", "a.example"),
        ("DNSRecord", A, "mail", "a.example"),
        ("DNSRecord", A, "www", "_dmarc.a.example"),
        ("Site", A, "blog", "blog.a.example"),
        ("Site", A, "parked", "parked.a.example"),
        ("Site", A, "www", "shop.a.example"),
        ("Site", A, "www", "www.a.example"),
        ("Site", B, "intruder", "x.a.example"),
    }
    assert {h[3] for h in hits(TextFilter("a.example", "suffix"))} == {
        "a.example",
        "_dmarc.a.example",
        "blog.a.example",
        "parked.a.example",
        "shop.a.example",
        "www.a.example",
        "x.a.example",
    }
    assert hits(TextFilter("shop.a.example")) == [("Site", A, "www", "shop.a.example")]
    assert hits(TextFilter("b.example"), ("DNSZone",)) == [("DNSZone", B, "zone-b", "b.example")]
    assert hits(TextFilter("%", "contains")) == []
    hidden = world.read(
        lambda uow: search(uow, SIGHTS["nobody"], TextFilter("example", "contains"), PageRequest("domain"))
    )
    assert hidden == []


# -- details ------------------------------------------------------------------------------------


def test_a_zone_names_only_the_record_set_owners_the_caller_may_get(world: World) -> None:
    seen = Visibilities(WWW_IN_A, TEAM_A, NOTHING)
    rows = world.read(
        lambda uow: zone_record_sets(uow, seen, A, "zone-a", SetFilters(), PageRequest("name", limit=100))
    )
    owners = {(r.name, r.type): (r.owner_kind, r.owner_namespace, r.owner_name) for r in rows}
    assert owners == {
        ("@", "NS"): ("DNSZone", A, "zone-a"),
        ("www", "A"): ("Site", A, "www"),
        ("shop", "A"): ("Site", A, "www"),
        ("blog", "A"): ("Site", None, None),  # another Site of the same namespace: not erin's to see
        ("x", "A"): ("Site", None, None),  # another namespace's Site: not even its namespace
        ("@", "MX"): ("DNSRecord", None, None),
        ("_dmarc", "TXT"): ("DNSRecord", None, None),
    }
    rejected = world.read(
        lambda uow: zone_record_sets(uow, seen, A, "zone-a", SetFilters(state="rejected"), PageRequest("name"))
    )
    assert [(r.name, r.rejected) for r in rejected] == [("_dmarc", "refused by policy")]
    pending = world.read(
        lambda uow: zone_record_sets(uow, seen, A, "zone-a", SetFilters(state="pending"), PageRequest("name"))
    )
    assert [r.name for r in pending] == ["blog"]
    assert world.read(lambda uow: zone_record_sets(uow, seen, B, "zone-b", SetFilters(), PageRequest("name"))) is None


def test_a_zone_detail_has_its_serial_sync_drift_counts_and_backend_health(world: World) -> None:
    a = world.read(lambda uow: zone_detail(uow, EVERYTHING, A, "zone-a"))
    assert a is not None
    assert (a.row.serial, a.row.drift_corrections) == (7, 2)
    assert a.row.synced_at is not None and a.row.synced_at.tzinfo is not None
    assert (a.record_sets.total, a.record_sets.applied, a.record_sets.pending, a.record_sets.rejected) == (7, 5, 1, 1)
    assert a.backend.name is None  # the embedded zone files: no DNSBackend
    defaulted = world.read(lambda uow: zone_detail(uow, EVERYTHING, A, "zone-a", "bind"))
    assert defaulted is not None and (defaulted.backend.name, defaulted.backend.ready) == ("bind", "False")
    b = world.read(lambda uow: zone_detail(uow, EVERYTHING, B, "zone-b"))
    assert b is not None and (b.backend.name, b.backend.ready, b.backend.reason) == ("bind", "False", "Unusable")
    missing = world.read(lambda uow: zone_detail(uow, EVERYTHING, A, "zone-a", "no-such-backend"))
    assert missing is not None and (missing.backend.name, missing.backend.ready) == ("no-such-backend", None)


def test_a_site_detail_says_where_each_domain_is_served_or_why_not(world: World) -> None:
    def domains(ns: str, name: str) -> list[tuple[str, bool, str | None]]:
        found = world.read(lambda uow: site_detail(uow, EVERYTHING, ns, name))
        assert found is not None
        return [(d.domain, d.served, d.why_not) for d in found.domains]

    assert domains(A, "www") == [("www.a.example", True, None), ("shop.a.example", True, None)]
    assert domains(A, "blog") == [("blog.a.example", False, "Pending")]
    assert domains(A, "parked") == [("parked.a.example", False, "Suspended")]
    assert domains(B, "www") == [("www.b.example", False, "BackendError")]


def test_a_record_detail_holds_its_record_set(world: World) -> None:
    found = world.read(lambda uow: record_detail(uow, ALL, A, "www"))
    assert found is not None
    assert (found.row.fqdn, found.zone_serial) == ("_dmarc.a.example", 7)
    assert [(s.name, s.type, s.rejected) for s in found.sets] == [("_dmarc", "TXT", "refused by policy")]


# -- history ------------------------------------------------------------------------------------


def test_history_names_who_made_each_change_and_never_guesses(world: World) -> None:
    rows = world.read(lambda uow: list_history(uow, ALL, HistoryFilters(), PageRequest("id", False, 100)))
    authors = [(r.kind, r.namespace, r.name, r.generation, r.action, r.author) for r in rows]
    assert authors == [
        ("Site", A, "www", 1, "stored", "alice"),
        ("Site", A, "www", 2, "stored", "bob"),
        ("Site", A, "www", 2, "dns-applied", "bob"),  # the author of the generation it applied
        ("Site", A, "gone", 1, "stored", "alice"),
        ("Site", A, "gone", 1, "deleted", "carol"),  # the DELETE's author, not the creator
        ("Site", A, "gone", 1, "dns-applied", "carol"),  # the withdrawal the deletion caused
        ("DNSZone", A, "zone-a", 1, "stored", "unknown"),  # the webhook saw nothing
        ("DNSZone", A, "zone-a", 1, "drift-reverted", "siteplane"),
        ("DNSRecord", A, "mail", 1, "stored", "admin"),
        ("DNSRecord", A, "mail", 1, "dns-applied", "admin"),
        ("Site", B, "www", 1, "stored", "dave"),
        ("DNSRecord", B, "www", 1, "stored", "dave"),
    ]
    assert all(r.at.tzinfo is not None for r in rows)


HISTORY_FILTERS: list[tuple[HistoryFilters, list[tuple[str, str, str]]]] = [
    (HistoryFilters(author="bob"), [("Site", "www", "dns-applied"), ("Site", "www", "stored")]),
    (HistoryFilters(author="unknown"), [("DNSZone", "zone-a", "stored")]),
    (HistoryFilters(author="siteplane"), [("DNSZone", "zone-a", "drift-reverted")]),
    (HistoryFilters(author="' OR 1=1 --"), []),
    (HistoryFilters(action="deleted"), [("Site", "gone", "deleted")]),
    (
        HistoryFilters(kind="DNSRecord", namespace=A),
        [("DNSRecord", "mail", "dns-applied"), ("DNSRecord", "mail", "stored")],
    ),
    (
        HistoryFilters(name=TextFilter("go", "prefix")),
        [("Site", "gone", "deleted"), ("Site", "gone", "dns-applied"), ("Site", "gone", "stored")],
    ),
    (
        HistoryFilters(since=T0 + timedelta(minutes=9), until=T0 + timedelta(minutes=11)),
        [("DNSRecord", "mail", "dns-applied"), ("Site", "www", "stored")],
    ),
    # A time without a zone is taken as UTC.
    (HistoryFilters(since=datetime(2026, 1, 1, 0, 10), until=datetime(2026, 1, 1, 0, 11)), [("Site", "www", "stored")]),
]


@pytest.mark.parametrize(("filters", "expected"), HISTORY_FILTERS)
def test_history_filters(world: World, filters: HistoryFilters, expected: list[tuple[str, str, str]]) -> None:
    rows = world.read(lambda uow: list_history(uow, ALL, filters, PageRequest("id", True, 100)))
    assert sorted((r.kind, r.name, r.action) for r in rows) == sorted(expected)


# -- keyset pages under concurrent inserts ------------------------------------------------------


def _insert_sites(world: World, names: list[str]) -> None:
    def insert(uow: UnitOfWork) -> None:
        for name in names:
            uid = _uid()
            domain = f"{name}.a.example"
            uow.session.add(
                Site(
                    uid=uid,
                    namespace=A,
                    name=name,
                    created="2026-01-05T00:00:00Z",
                    generation=1,
                    primary_domain=domain,
                    customer=None,
                    plan=None,
                    suspended=False,
                    ttl=None,
                    ipv4=[],
                    ipv6=[],
                    cname=None,
                    domains=[
                        SiteDomain(domain=domain, position=0, zone_name="a.example", is_owner=True, state="Owned")
                    ],
                )
            )
            uow.session.add(
                History(
                    object_kind="Site",
                    object_namespace=A,
                    object_name=name,
                    object_uid=uid,
                    generation=1,
                    action="stored",
                )
            )
            uow.session.add(
                Record(
                    uid=_uid(),
                    namespace=A,
                    name=name,
                    created="2026-01-05T00:00:00Z",
                    generation=1,
                    zone_name="a.example",
                    record_name=name,
                    type="A",
                    ttl=None,
                    rdata=["192.0.2.3"],
                )
            )
        uow.commit()

    world.store.transaction(insert)


PAGED: dict[
    str, tuple[str, bool, Callable[[UnitOfWork, PageRequest], list[Any]], Callable[[Any], Cursor], Callable[[Any], Any]]
] = {
    "sites by name": (
        "name",
        False,
        lambda uow, p: list_sites(uow, ALL.sites, SiteFilters(), p),
        by_sort("name"),
        lambda r: (r.namespace, r.name),
    ),
    "sites newest first": (
        "created",
        True,
        lambda uow, p: list_sites(uow, ALL.sites, SiteFilters(), p),
        by_sort("created"),
        lambda r: (r.namespace, r.name),
    ),
    "records by FQDN": (
        "fqdn",
        False,
        lambda uow, p: list_records(uow, ALL.records, RecordFilters(), p),
        by_sort("fqdn"),
        lambda r: (r.namespace, r.name),
    ),
    "zones by zone name": (
        "zone",
        True,
        lambda uow, p: list_zones(uow, ALL.zones, ZoneFilters(), p),
        by_sort("zone"),
        lambda r: (r.namespace, r.name),
    ),
    "search": (
        "domain",
        False,
        lambda uow, p: search(uow, ALL, TextFilter("example", "contains"), p),
        lambda h: Cursor(h.domain, h.key),
        lambda h: (h.kind, h.namespace, h.name, h.domain),
    ),
    "history": (
        "id",
        True,
        lambda uow, p: list_history(uow, ALL, HistoryFilters(), p),
        lambda r: Cursor(r.id, r.id),
        lambda r: r.id,
    ),
}


@pytest.mark.parametrize("listing", list(PAGED))
def test_pages_stay_whole_while_rows_are_inserted_between_them(world: World, listing: str) -> None:
    """Rows inserted between pages, sorting before, between and after the cursor: no row is shown
    twice, and every row that existed before the first page is shown exactly once."""
    sort, descending, fetch, cursor, identity = PAGED[listing]
    before = [identity(r) for r in world.read(lambda uow: fetch(uow, PageRequest(sort, descending, 500)))]
    assert len(before) >= 3
    seen: list[Any] = []
    after: Cursor | None = None
    for round_ in range(100):
        rows = world.read(lambda uow, a=after: fetch(uow, PageRequest(sort, descending, 2, a)))
        seen += [identity(r) for r in rows[:2]]
        if len(rows) <= 2:
            break
        after = cursor(rows[1])
        if round_ < 3:
            # Around everything already there: "aaa..." sorts first, "zzz..." last, "m..." between.
            _insert_sites(world, [f"aaa{round_}", f"mmm{round_}", f"zzz{round_}"])
    else:
        raise AssertionError("no last page")
    assert len(seen) == len(set(seen)), "a row was shown twice"
    assert set(before) <= set(seen), f"rows skipped: {set(before) - set(seen)}"
