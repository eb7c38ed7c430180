"""The application database against real SQLite and real PostgreSQL.

Most tests take ``database_url``, so each runs once per database: a fresh database migrated to
head. The central guarantee is that conflicts are decided by the database itself: whatever two
operator workers believe in memory, the partial unique indexes let only one of them own a zone
name, a site domain, or a record set.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from harness.postgres import PostgresServer
from siteplane.store.database import make_engine, normalise_url, redact
from siteplane.store.migrate import SchemaOutOfDate, current_revision, ensure_current, head_revision, upgrade
from siteplane.store.models import Base, History, RecordSetRow, Site, SiteDomain, Zone
from siteplane.store.repositories import HistoryRepository
from siteplane.store.unit_of_work import Store

pytestmark = pytest.mark.cluster

CREATED = "2026-01-01T00:00:00Z"
LATER = "2026-02-01T00:00:00Z"
PASSWORD = "s3cret"

StoreFactory = Callable[[str], Store]


# -- fixtures and row builders -------------------------------------------------------------------


@pytest.fixture
def open_store() -> Iterator[StoreFactory]:
    """Stores on engines of their own (one per simulated worker), all disposed after the test."""
    engines: list[Engine] = []

    def open_(url: str) -> Store:
        engine = make_engine(url)
        engines.append(engine)
        return Store(engine)

    yield open_
    for engine in engines:
        engine.dispose()


@pytest.fixture
def store(database_url: str, open_store: StoreFactory) -> Store:
    return open_store(database_url)


def _uid() -> str:
    return uuid.uuid4().hex


def _backend(url: str) -> str:
    return make_url(url).get_backend_name()


def _object(name: str, created: str = CREATED) -> dict[str, Any]:
    return {"uid": _uid(), "namespace": "default", "name": name, "created": created, "generation": 1}


def make_zone(
    zone_name: str = "example.com", *, is_owner: bool = False, name: str = "", created: str = CREATED
) -> Zone:
    return Zone(
        **_object(name or f"zone-{_uid()[:8]}", created),
        zone_name=zone_name,
        is_owner=is_owner,
        default_ttl=3600,
        soa={"mname": "ns1.example.com.", "rname": "hostmaster.example.com."},
        name_servers=["ns1.example.com.", "ns2.example.com."],
    )


def make_site(domain: str = "shop.example.com", *, is_owner: bool = False, created: str = CREATED) -> Site:
    return Site(
        **_object(f"site-{_uid()[:8]}", created),
        primary_domain=domain,
        customer="ACME",
        plan="basic",
        ttl=None,
        ipv4=["192.0.2.10"],
        cname=None,
        domains=[SiteDomain(domain=domain, position=0, zone_name="example.com", is_owner=is_owner)],
    )


def make_record_set(zone_id: int, name: str = "www", type_: str = "A") -> RecordSetRow:
    return RecordSetRow(
        zone_id=zone_id,
        name=name,
        type=type_,
        ttl=300,
        rdata=["192.0.2.10"],
        owner_kind="Site",
        owner_namespace="default",
        owner_name="shop",
        owner_uid=_uid(),
        owner_generation=1,
    )


def committed(store: Store, row: Any) -> Any:
    """Add ``row`` in a unit of work of its own and commit it (rows stay usable: expire_on_commit=False)."""
    with store.unit_of_work() as uow:
        uow.session.add(row)
        uow.commit()
    return row


def _schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


# -- 1. migrations -------------------------------------------------------------------------------


def test_migrated_schema_equals_the_models(database_url: str, store: Store) -> None:
    # No filtering needed: autogenerate reports no difference on either dialect, partial indexes included.
    assert _schema_differences(store.engine) == []
    assert current_revision(store.engine) == head_revision()


def test_partial_unique_indexes_keep_their_predicates(database_url: str, store: Store) -> None:
    """Autogenerate does not compare index predicates, so check them on the reflected schema itself.

    A migration that lost a predicate would make the index total: soft-deleted rows and non-owner
    claims would then block new owners.
    """
    inspector = sa.inspect(store.engine)
    dialect = store.engine.dialect.name
    expected = {
        ("zones", "uq_zones_live_zone_name"): "deleted_at IS NULL AND is_owner",
        ("site_domains", "uq_site_domains_live_owner_domain"): "deleted_at IS NULL AND is_owner",
        ("record_sets", "uq_record_sets_live_zone_name_type"): "deleted_at IS NULL",
    }
    for (table, index_name), predicate in expected.items():
        (index,) = [ix for ix in inspector.get_indexes(table) if ix["name"] == index_name]
        assert index["unique"]
        where = index.get("dialect_options", {}).get(f"{dialect}_where")
        assert where is not None, f"{index_name} is not partial on {dialect}"
        # PostgreSQL renders it back as '((deleted_at IS NULL) AND is_owner)'.
        assert " ".join(str(where).replace("(", "").replace(")", "").split()) == predicate


def test_upgrading_twice_is_a_no_op(database_url: str, store: Store) -> None:
    zone = committed(store, make_zone(is_owner=True))

    upgrade(database_url)

    assert current_revision(store.engine) == head_revision()
    assert _schema_differences(store.engine) == []
    with store.unit_of_work() as uow:
        assert uow.zones.owner_of("example.com") is not None
        assert uow.zones.by_uid(zone.uid) is not None


def test_ensure_current_passes_after_upgrade(database_url: str, store: Store) -> None:
    ensure_current(store.engine)


def test_ensure_current_refuses_an_empty_database_without_leaking_the_password(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest, open_store: StoreFactory
) -> None:
    if _backend(database_url) == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        postgres: PostgresServer = request.getfixturevalue("postgres")
        database = f"t_empty_{_uid()[:12]}"
        postgres.create_database(database)
        # Trust authentication ignores the password: it is only there to be kept out of the message.
        url = f"postgresql+psycopg://siteplane:{PASSWORD}@127.0.0.1:{postgres.port}/{database}"
    engine = open_store(url).engine

    with pytest.raises(SchemaOutOfDate) as raised:
        ensure_current(engine)

    message = str(raised.value)
    assert "siteplane db upgrade" in message
    assert "is empty" in message
    assert PASSWORD not in message
    # And the command it recommends makes the database usable.
    upgrade(url)
    ensure_current(engine)


def test_ensure_current_refuses_a_schema_ahead_of_the_code(database_url: str, store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))

    with pytest.raises(SchemaOutOfDate, match="at revision ffffffffffff") as raised:
        ensure_current(store.engine)
    assert "siteplane db upgrade" in str(raised.value)


# -- 2. unit of work -----------------------------------------------------------------------------


def test_staged_changes_are_invisible_elsewhere_and_discarded_without_commit(store: Store) -> None:
    site = make_site()
    with store.unit_of_work() as uow:
        uow.sites.add(site)
        uow.history.record(object_kind="Site", object_name=site.name, object_uid=site.uid, action="created")
        uow.flush()  # sent to the database, still uncommitted
        assert uow.sites.by_uid(site.uid) is not None
        with store.unit_of_work() as other:
            assert other.sites.by_uid(site.uid) is None
            assert other.history.count() == 0
        # no commit

    with store.unit_of_work() as uow:
        assert uow.sites.by_uid(site.uid) is None
        assert uow.sites.count_live() == 0
        assert uow.history.count() == 0


def test_committed_changes_are_visible_to_another_unit_of_work(
    database_url: str, store: Store, open_store: StoreFactory
) -> None:
    site = make_site("shop.example.com", is_owner=True)
    with store.unit_of_work() as uow:
        uow.sites.add(site)
        uow.commit()
    assert site.id is not None  # expire_on_commit=False: still readable after the block

    other_worker = open_store(database_url)
    with other_worker.unit_of_work() as uow:
        found = uow.sites.by_uid(site.uid)
        assert found is not None
        assert [(d.domain, d.is_owner) for d in found.domains] == [("shop.example.com", True)]
        assert uow.sites.count_live() == 1


def test_an_exception_inside_the_block_rolls_back(store: Store) -> None:
    kept, lost = make_site("kept.example.com"), make_site("lost.example.com")
    # Read now: the rollback expires every object of the session, even the one committed earlier.
    kept_uid, lost_uid = kept.uid, lost.uid
    with pytest.raises(RuntimeError, match="boom"), store.unit_of_work() as uow:
        uow.sites.add(kept)
        uow.commit()
        uow.sites.add(lost)
        uow.flush()
        raise RuntimeError("boom")

    with store.unit_of_work() as uow:
        assert uow.sites.by_uid(kept_uid) is not None
        assert uow.sites.by_uid(lost_uid) is None


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(IntegrityError), store.unit_of_work() as uow:
        uow.session.add(SiteDomain(site_id=999_999, domain="orphan.example.com", position=0))
        uow.commit()
    with pytest.raises(IntegrityError), store.unit_of_work() as uow:
        uow.record_sets.add(make_record_set(zone_id=999_999))
        uow.commit()


# -- 3. ownership enforced by the database ------------------------------------------------------


def test_two_workers_cannot_both_own_a_zone_name(database_url: str, open_store: StoreFactory) -> None:
    worker_a, worker_b = open_store(database_url), open_store(database_url)
    with worker_a.unit_of_work() as a, worker_b.unit_of_work() as b:
        # Both look, both see no owner, both decide they win.
        assert a.zones.owner_of("example.com") is None
        assert b.zones.owner_of("example.com") is None
        a.zones.add(make_zone(is_owner=True, name="first"))
        b.zones.add(make_zone(is_owner=True, name="second"))
        a.commit()
        with pytest.raises(IntegrityError):
            b.commit()

    with worker_a.unit_of_work() as uow:
        owners = [z.name for z in uow.zones.live_claims("example.com") if z.is_owner]
        assert owners == ["first"]


def test_two_workers_cannot_both_own_a_site_domain(database_url: str, open_store: StoreFactory) -> None:
    worker_a, worker_b = open_store(database_url), open_store(database_url)
    with worker_a.unit_of_work() as a, worker_b.unit_of_work() as b:
        assert a.sites.live_claims(["shop.example.com"]) == []
        assert b.sites.live_claims(["shop.example.com"]) == []
        winner = make_site("shop.example.com", is_owner=True)
        a.sites.add(winner)
        b.sites.add(make_site("shop.example.com", is_owner=True))
        a.commit()
        with pytest.raises(IntegrityError):
            b.flush()

    with worker_a.unit_of_work() as uow:
        claims = uow.sites.live_claims(["shop.example.com"])
        assert [(c.site.uid, c.is_owner) for c in claims] == [(winner.uid, True)]


def test_two_workers_cannot_both_write_a_record_set(database_url: str, open_store: StoreFactory) -> None:
    worker_a, worker_b = open_store(database_url), open_store(database_url)
    zone = committed(worker_a, make_zone(is_owner=True))
    with worker_a.unit_of_work() as a, worker_b.unit_of_work() as b:
        assert a.record_sets.live_in_zone(zone.id) == []
        assert b.record_sets.live_in_zone(zone.id) == []
        a.record_sets.add(make_record_set(zone.id, "www", "A"))
        b.record_sets.add(make_record_set(zone.id, "www", "A"))
        a.commit()
        with pytest.raises(IntegrityError):
            b.commit()

    with worker_a.unit_of_work() as uow:
        assert len(uow.record_sets.live_in_zone(zone.id)) == 1


def test_a_second_owner_is_refused_at_flush_in_the_same_transaction(store: Store) -> None:
    committed(store, make_zone(is_owner=True, name="first"))
    with store.unit_of_work() as uow:
        uow.zones.add(make_zone(is_owner=True, name="second"))
        with pytest.raises(IntegrityError):
            uow.flush()


def test_concurrent_claim_waits_for_the_first_and_then_loses(database_url: str, open_store: StoreFactory) -> None:
    """Truly concurrent: the second worker's write blocks on the first's uncommitted owner, then fails."""
    worker_a, worker_b = open_store(database_url), open_store(database_url)

    def second_worker() -> BaseException | None:
        try:
            with worker_b.unit_of_work() as b:
                b.zones.add(make_zone(is_owner=True, name="second"))
                b.commit()
        except IntegrityError as error:
            return error
        return None

    with ThreadPoolExecutor(max_workers=1) as pool:
        with worker_a.unit_of_work() as a:
            a.zones.add(make_zone(is_owner=True, name="first"))
            a.flush()  # holds the index entry (PostgreSQL) or the write lock (SQLite) until it ends
            outcome = pool.submit(second_worker)
            time.sleep(0.5)
            assert not outcome.done(), "the second owner was written while the first was uncommitted"
            a.commit()
        assert isinstance(outcome.result(timeout=30), IntegrityError)

    with worker_a.unit_of_work() as uow:
        assert [z.name for z in uow.zones.live_claims("example.com") if z.is_owner] == ["first"]


def test_ownership_can_change_hands_by_demoting_before_promoting(store: Store) -> None:
    old = committed(store, make_zone(is_owner=True, name="old", created=LATER))
    new = committed(store, make_zone(is_owner=False, name="new", created=CREATED))
    with store.unit_of_work() as uow:
        old_row, new_row = uow.zones.by_uid(old.uid), uow.zones.by_uid(new.uid)
        assert old_row is not None and new_row is not None
        old_row.is_owner = False
        uow.flush()
        new_row.is_owner = True
        uow.commit()

    with store.unit_of_work() as uow:
        owner = uow.zones.owner_of("example.com")
        assert owner is not None and owner.uid == new.uid


def test_a_soft_deleted_zone_owner_does_not_block_a_new_owner(store: Store) -> None:
    gone = committed(store, make_zone(is_owner=True, name="gone"))
    with store.unit_of_work() as uow:
        row = uow.zones.by_uid(gone.uid)
        assert row is not None
        row.deleted_at = datetime.now(UTC)  # soft delete; is_owner left True on purpose
        uow.commit()

    committed(store, make_zone(is_owner=True, name="successor"))

    with store.unit_of_work() as uow:
        owner = uow.zones.owner_of("example.com")
        assert owner is not None and owner.name == "successor"
        assert uow.zones.by_uid(gone.uid) is not None  # the old row is kept


def test_a_soft_deleted_domain_owner_does_not_block_a_new_owner(store: Store) -> None:
    gone = committed(store, make_site("shop.example.com", is_owner=True))
    with store.unit_of_work() as uow:
        row = uow.sites.by_uid(gone.uid)
        assert row is not None
        row.deleted_at = row.domains[0].deleted_at = datetime.now(UTC)
        uow.commit()

    successor = committed(store, make_site("shop.example.com", is_owner=True))

    with store.unit_of_work() as uow:
        claims = uow.sites.live_claims(["shop.example.com"])
        assert [(c.site.uid, c.is_owner) for c in claims] == [(successor.uid, True)]


def test_a_withdrawn_record_set_does_not_block_a_new_one(store: Store) -> None:
    zone = committed(store, make_zone(is_owner=True))
    committed(store, make_record_set(zone.id, "www", "A"))
    with store.unit_of_work() as uow:
        uow.record_sets.withdraw(uow.record_sets.live_in_zone(zone.id))
        uow.commit()

    committed(store, make_record_set(zone.id, "www", "A"))
    # Only the (zone, name, type) triple is unique: other types, names and zones are independent.
    committed(store, make_record_set(zone.id, "www", "AAAA"))
    committed(store, make_record_set(zone.id, "mail", "A"))
    other_zone = committed(store, make_zone("example.org", is_owner=True))
    committed(store, make_record_set(other_zone.id, "www", "A"))

    with store.unit_of_work() as uow:
        assert sorted((r.name, r.type) for r in uow.record_sets.live_in_zone(zone.id)) == [
            ("mail", "A"),
            ("www", "A"),
            ("www", "AAAA"),
        ]
        assert [(r.name, r.type) for r in uow.record_sets.withdrawing_in_zone(zone.id)] == [("www", "A")]


def test_non_owner_claims_can_be_many(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.zones.add(make_zone(is_owner=True, name="owner"))
        for i in range(3):
            uow.zones.add(make_zone(is_owner=False, name=f"claimant-{i}"))
        uow.sites.add(make_site("shop.example.com", is_owner=True))
        for _ in range(3):
            uow.sites.add(make_site("shop.example.com", is_owner=False))
        uow.commit()

    with store.unit_of_work() as uow:
        assert len(uow.zones.live_claims("example.com")) == 4
        assert len(uow.zones.owners_named(["example.com"])) == 1
        claims = uow.sites.live_claims(["shop.example.com"])
        assert sorted(c.is_owner for c in claims) == [False, False, False, True]


# -- 4. soft delete keeps history ----------------------------------------------------------------


def test_history_counts_and_lists_an_objects_entries_in_order(store: Store) -> None:
    site_uid, zone_uid = _uid(), _uid()
    for action in ("created", "placed", "published"):
        with store.unit_of_work() as uow:
            uow.history.record(
                object_kind="Site", object_namespace="default", object_name="shop", object_uid=site_uid, action=action
            )
            uow.history.record(object_kind="DNSZone", object_name="example", object_uid=zone_uid, action=action)
            uow.commit()

    with store.unit_of_work() as uow:
        assert uow.history.count() == 6
        entries = uow.history.for_object(site_uid)
        assert [e.action for e in entries] == ["created", "placed", "published"]
        assert [e.id for e in entries] == sorted(e.id for e in entries)
        assert all(e.object_uid == site_uid and e.detail == {} and e.at is not None for e in entries)
        assert uow.history.for_object("no-such-uid") == []


def test_soft_deleting_an_object_keeps_its_row_and_history(store: Store) -> None:
    site = make_site()
    with store.unit_of_work() as uow:
        uow.sites.add(site)
        uow.history.record(object_kind="Site", object_name=site.name, object_uid=site.uid, action="created")
        uow.commit()
    with store.unit_of_work() as uow:
        row = uow.sites.by_uid(site.uid)
        assert row is not None
        row.deleted_at = datetime.now(UTC)
        uow.history.record(object_kind="Site", object_name=site.name, object_uid=site.uid, action="deleted")
        uow.commit()

    with store.unit_of_work() as uow:
        assert uow.sites.count_live() == 0
        row = uow.sites.by_uid(site.uid)
        assert row is not None and row.deleted_at is not None
        assert [e.action for e in uow.history.for_object(site.uid)] == ["created", "deleted"]
        assert uow.history.count() == 2


def test_the_history_repository_only_appends() -> None:
    public = {name for name in dir(HistoryRepository) if not name.startswith("_")}
    assert public - {"session"} == {"add", "record", "record_object", "count", "for_object"}
    assert History.__table__.c.object_uid.nullable  # entries outlive and need not name an object


# -- 5. engine and URL specifics -----------------------------------------------------------------


def test_sqlite_engines_use_wal_and_enforce_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u:pw@h:5433/db", "postgresql+psycopg://u:pw@h:5433/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///siteplane.db", "sqlite:///siteplane.db"),
    ],
)
def test_normalise_url_uses_psycopg_for_postgresql(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


def test_postgresql_engines_use_psycopg() -> None:
    engine = make_engine("postgresql://u@127.0.0.1/db")  # no connection is made
    try:
        assert make_url(normalise_url("postgresql://u@h/db")).drivername == "postgresql+psycopg"
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_redact_hides_passwords() -> None:
    hidden = redact(f"postgresql+psycopg://siteplane:{PASSWORD}@db.internal:5432/siteplane")
    assert PASSWORD not in hidden
    assert hidden == "postgresql+psycopg://siteplane:***@db.internal:5432/siteplane"
    assert "p@ss" not in redact("postgresql://u:p%40ss@h/db")
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact("sqlite:///siteplane.db") == "sqlite:///siteplane.db"


# -- 6. database outage (PostgreSQL) -------------------------------------------------------------


def test_the_same_engine_survives_a_postgresql_restart(postgres: PostgresServer) -> None:
    url = postgres.create_database(f"t_outage_{_uid()[:12]}")
    upgrade(url)
    engine = make_engine(url)
    store = Store(engine)
    try:
        assert engine.pool._pre_ping
        zone = committed(store, make_zone(is_owner=True, name="before-outage"))
        with store.unit_of_work() as uow:
            assert uow.zones.by_uid(zone.uid) is not None

        try:
            with store.unit_of_work() as uow:
                uow.zones.owner_of("example.com")  # a unit of work in flight when the server goes
                postgres.stop()
                started = time.monotonic()
                with pytest.raises(OperationalError):
                    uow.zones.owner_of("example.com")
            with pytest.raises(OperationalError), store.unit_of_work() as uow:
                uow.zones.owner_of("example.com")  # a new one cannot even connect
            assert time.monotonic() - started < 30
        finally:
            postgres.start()  # session-wide: the other tests need it back whatever happened here

        with store.unit_of_work() as uow:
            found = uow.zones.by_uid(zone.uid)
            assert found is not None and found.name == "before-outage" and found.is_owner
            uow.zones.add(make_zone("example.org", is_owner=True, name="after-outage"))
            uow.commit()
        with store.unit_of_work() as uow:
            assert {z.name for z in uow.zones.live_owners()} == {"before-outage", "after-outage"}
    finally:
        engine.dispose()
