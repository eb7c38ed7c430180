"""Live updates (GET /api/v1/events) on the real control plane, with the operator running in-process
and the API served by uvicorn, over SQLite and PostgreSQL: a change reaches who may see it and no
one else, a stream resumes exactly where it stopped, keep-alives come, a revoked permission stops
the events, and on PostgreSQL every replica hears every change (through NOTIFY).

Every wait is on something the stream or the cluster says, never on time: "nothing arrived" is
shown by a later event (the feed is delivered in id order) or by keep-alives written after it.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.controlplane.cluster import ControlPlane
from harness.dashboard_api import EventStream, Received, ServedApi, api_serving
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import operator_running
from harness.postgres import PostgresServer
from harness.server import free_port
from siteplane.config import Config
from siteplane.dashboard.live import LiveFeed, Subscription
from siteplane.domain.access import Visibility
from siteplane.store.database import make_engine
from siteplane.store.feed import APPLICATION_NAME, Notifications, bounds, last_seen, read_changes
from siteplane.store.models import Change, ChangeAuthor, History
from siteplane.store.unit_of_work import Store
from tests.conftest import DATABASES, fresh_database_url
from tests.reconcile_support import apply, condition, objects, remove_webhook_configurations, wait_until

pytestmark = pytest.mark.cluster

ROLES = Path(__file__).resolve().parents[2] / "manifests" / "rbac" / "roles.yaml"
KEEPALIVE = 0.5
RECHECK = 0.5
LATENCIES: dict[str, list[float]] = {}


@dataclass
class World:
    plane: ControlPlane
    namespace: str
    database: str
    url: str
    config: Config
    api: ServedApi
    zone: str

    def stream(self, user: str, api: ServedApi | None = None, **options: Any) -> EventStream:
        stream = EventStream(api or self.api, self.plane.token(user), **options)
        assert stream.status == 200, stream.raw
        return stream

    def get(self, user: str, path: str, api: ServedApi | None = None) -> Any:
        served = api or self.api
        conn = http.client.HTTPConnection(served.host, served.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self.plane.token(user)}"})
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def ready(self, plural: str, name: str, status: str = "True") -> None:
        def done() -> bool:
            found = [o for o in objects(self.plane, self.namespace, plural) if o["metadata"]["name"] == name]
            return bool(found) and condition(found[0]).get("status") == status

        wait_until(done, 120, f"{plural}/{name} Ready={status}")

    @property
    def feed(self) -> LiveFeed:
        feed: LiveFeed = self.api.app.state.live
        return feed

    def note_latencies(self, *streams: EventStream) -> None:
        for stream in streams:
            LATENCIES.setdefault(self.database, []).extend(c.latency for c in stream.changes())


def _wait_for_webhook(plane: ControlPlane, name: str) -> None:
    def configured() -> bool:
        result = plane.kubectl("get", "validatingwebhookconfiguration", name, "-o", "json", check=False)
        hooks = json.loads(result.stdout).get("webhooks") or [] if result.returncode == 0 else []
        return len(hooks) == 4 and all(h["clientConfig"].get("caBundle") for h in hooks)

    wait_until(configured, 60, f"ValidatingWebhookConfiguration {name} with a caBundle")


@pytest.fixture(scope="module", params=DATABASES)
def world(
    request: pytest.FixtureRequest, control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    plane, database = control_plane, str(request.param)
    namespace = f"live-{uuid.uuid4().hex[:8]}"
    directory = tmp_path_factory.mktemp(f"live-{database}")
    url = fresh_database_url(database, directory, request)
    plane.kubectl("create", "namespace", namespace)
    plane.kubectl("apply", "--server-side", "-f", str(ROLES))
    for user, role in (
        ("alice", "site-viewer"),
        ("bob", "dns-viewer"),
        ("frank", "site-viewer"),
        ("carol", "site-editor"),
    ):
        plane.kubectl(
            "create",
            "rolebinding",
            f"{user}-views",
            f"--clusterrole=siteplane:{role}",
            f"--user={user}",
            "-n",
            namespace,
        )
    webhook = f"live-{namespace}.siteplane.io"  # the webhook notes who made each change (history's author)
    config = Config(
        namespaces=(namespace,),
        database_url=url,
        zone_dir=str(directory / "zones"),
        webhook_listen=f"127.0.0.1:{free_port()}",
        webhook_configuration=webhook,
        live_keepalive_seconds=KEEPALIVE,
        live_recheck_seconds=RECHECK,
        # On PostgreSQL nothing may wait for the safety net: a change arrives through NOTIFY or late.
        live_notify_timeout_seconds=60,
    )
    zone = f"{namespace}.example"
    try:
        with operator_running(plane.kubeconfig, config):
            _wait_for_webhook(plane, webhook)
            apply(plane, namespace, [zone_doc("zone", zone)])
            with api_serving(config, plane.kubeconfig) as api:
                world = World(plane, namespace, database, url, config, api, zone)
                world.ready("dnszones", "zone")
                for user, resource in (("alice", "sites"), ("bob", "dnszones"), ("frank", "sites")):
                    wait_until(partial(_may_see, world, user, resource), 60, f"{user}'s permissions mirrored")
                yield world
    finally:
        remove_webhook_configurations(plane, webhook)
        plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _may_see(world: World, user: str, resource: str) -> bool:
    me = world.get(user, "/api/v1/me")
    return any(n["namespace"] == world.namespace for n in me["permissions"][resource]["namespaces"])


@pytest.fixture(scope="module", autouse=True)
def latency_report() -> Iterator[None]:
    yield
    for database, seconds in sorted(LATENCIES.items()):
        if seconds:
            ordered = sorted(seconds)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            print(
                f"\nlive updates, {database}: {len(ordered)} changes from the database to a client: "
                f"median {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
                f"max {ordered[-1] * 1000:.0f} ms"
            )


def is_open(item: Received) -> bool:
    return item.event == "open"


def change_of(kind: str, name: str, **data: Any) -> Callable[[Received], bool]:
    def check(item: Received) -> bool:
        if item.event != "change":
            return False
        body = item.json
        return body["kind"] == kind and body["name"] == name and all(body.get(k) == v for k, v in data.items())

    return check


def published(kind: str, name: str) -> Callable[[Received], bool]:
    return change_of(kind, name, ready={"status": "True", "reason": "Published"})


def keepalives_after(stream: EventStream, index: int, count: int = 2) -> None:
    """Until ``count`` keep-alives arrived after item ``index``: whatever was handed to the stream
    before then has been written before them."""
    for _ in range(count):
        index, _ = stream.wait_for(lambda i: i.comment == "keep-alive", "a keep-alive", 30, after=index + 1)


# -- who sees what ----------------------------------------------------------------------------------


def test_a_change_reaches_who_may_see_it_and_no_one_else(world: World) -> None:
    alice, bob, erin = world.stream("alice"), world.stream("bob"), world.stream("erin")
    try:
        _, opened = alice.wait_for(is_open, "the stream's opening")
        for stream in (bob, erin):
            stream.wait_for(is_open, "the stream's opening")
        assert erin.items[0].id == "0", "a caller who sees nothing is given no id of anything"
        apply(world.plane, world.namespace, [site_doc("shop", f"shop.{world.zone}", "192.0.2.10")])
        _, shop = alice.wait_for(published("Site", "shop"), "shop Published")
        body = shop.json
        assert body["namespace"] == world.namespace and body["deleted"] is False
        # Who made the change is known live: the operator writes what the webhook noted before it
        # reconciles the change.
        assert body["history"]["action"] == "dns-applied" and body["history"]["author"] == "admin"
        assert "192.0.2.10" in json.dumps(body["history"]["detail"])
        # Bob (DNS people) is shown a record made after the Site: everything before it has reached him.
        seen_up_to = len(erin.items) - 1
        apply(world.plane, world.namespace, [record_doc("mail", world.zone, "mail", "A", ["192.0.2.25"])])
        bob.wait_for(published("DNSRecord", "mail"), "the record mail Published")
        keepalives_after(erin, seen_up_to)
        assert all(c.json["kind"] != "Site" for c in bob.changes())
        assert b"shop" not in bytes(bob.raw)
        assert erin.changes() == [] and [i.event for i in erin.items if i.event] == ["open"]
        assert world.namespace.encode() not in bytes(erin.raw) and b"shop" not in bytes(erin.raw)

        world.plane.kubectl("delete", "site", "shop", "-n", world.namespace, "--wait=false", user="carol")
        _, gone = alice.wait_for(change_of("Site", "shop", deleted=True), "shop deleted")
        assert gone.json["ready"] is None
        assert gone.json["history"]["action"] in ("deleted", "dns-applied")  # then its records withdrawn
        assert gone.json["history"]["author"] == "carol"
        ids = [int(c.id or 0) for c in alice.changes()]
        assert ids == sorted(set(ids)), "ids rise, none twice"
        world.note_latencies(alice, bob)

        assert _authors_noted(world, "DELETE"), "the deletion's author is in the database"
        again = world.stream("alice", last_event_id=opened.id)
        try:
            again.wait_for(lambda i: i.id == gone.id, "the deletion, read back")
            authors = {c.json["history"]["author"] for c in again.changes() if c.json["name"] == "shop"}
            # Created by the admin; deleted by carol, and its records withdrawn after that: hers too.
            assert authors == {"admin", "carol"}
            assert again.changes()[-1].json["history"]["author"] == "carol"
        finally:
            again.close()
    finally:
        for stream in (alice, bob, erin):
            stream.close()


def _authors_noted(world: World, operation: str) -> bool:
    engine = make_engine(world.url)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(ChangeAuthor.__table__.select().where(ChangeAuthor.operation == operation)).first()
            )
    finally:
        engine.dispose()


def test_keep_alives_come_when_nothing_happens(world: World) -> None:
    stream = world.stream("erin")
    try:
        index, opened = stream.wait_for(is_open, "the opening")
        _, first = stream.wait_for(lambda i: i.comment == "keep-alive", "a keep-alive", 10, after=index + 1)
        assert first.arrived - opened.arrived < KEEPALIVE * 4
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-store"
    finally:
        stream.close()


def test_a_revoked_permission_stops_the_events(world: World) -> None:
    frank, alice = world.stream("frank"), world.stream("alice")
    try:
        apply(world.plane, world.namespace, [site_doc("before", f"before.{world.zone}", "192.0.2.11")])
        frank.wait_for(published("Site", "before"), "before Published, for frank")
        world.plane.kubectl("delete", "rolebinding", "frank-views", "-n", world.namespace)

        def revoked() -> bool:
            clients = _clients(world.feed, "frank")
            return bool(clients) and all(c.scope["Site"].nothing for c in clients)

        wait_until(revoked, 60, "frank's stream no longer sees Sites")
        apply(world.plane, world.namespace, [site_doc("after", f"after.{world.zone}", "192.0.2.12")])
        alice.wait_for(published("Site", "after"), "after Published, for alice")
        keepalives_after(frank, len(frank.items) - 1)
        assert not any(c.json["name"] == "after" for c in frank.changes())
        assert b"after" not in bytes(frank.raw)
        world.note_latencies(alice)
    finally:
        frank.close()
        alice.close()
        world.plane.kubectl(
            "create", "rolebinding", "frank-views", "--clusterrole=siteplane:site-viewer", "--user=frank",
            "-n", world.namespace, check=False,
        )  # fmt: skip


def _clients(feed: LiveFeed, user: str) -> list[Subscription]:
    for _ in range(10):  # the set may change under us (another thread's loop): read it again
        try:
            return [c for c in list(feed.clients) if c.who.username == user]
        except RuntimeError:
            continue
    return []


# -- resuming -----------------------------------------------------------------------------------


def test_resuming_delivers_exactly_what_was_missed(world: World) -> None:
    away, watching = world.stream("alice"), world.stream("alice")
    _, opened = away.wait_for(is_open, "the opening")
    watching.wait_for(is_open, "the opening")
    start = int(opened.id or 0)
    away.close()
    apply(
        world.plane,
        world.namespace,
        [site_doc("r1", f"r1.{world.zone}", "192.0.2.21"), site_doc("r2", f"r2.{world.zone}", "192.0.2.22")],
    )
    world.ready("sites", "r1")
    world.ready("sites", "r2")
    for name in ("r1", "r2"):
        watching.wait_for(published("Site", name), f"{name} Published, live")
    missed = _changes_after(world, start)
    assert {c[1] for c in missed} >= {"r1", "r2"}
    live = {c.id: c.data for c in watching.changes()}
    try:
        for options in ({"last_event_id": str(start)}, {"query": f"?since={start}"}):
            back = world.stream("alice", **options)
            try:
                _, reopened = back.wait_for(is_open, "the reopening")
                assert reopened.id == str(start) and reopened.json == {"resumed": True}
                index, _ = back.wait_for(lambda i, last=missed[-1][0]: i.id == str(last), "the last missed change")
                keepalives_after(back, index, 1)
                got = [(int(c.id or 0), c.json["name"], (c.json["ready"] or {}).get("status")) for c in back.changes()]
                assert got == [(i, name, ready) for i, name, ready in missed]
                # Read back, a change is what it was live, its author included.
                assert all(live[c.id] == c.data for c in back.changes() if c.id in live)
                assert {c.json["history"]["author"] for c in back.changes()} == {"admin"}
            finally:
                back.close()
    finally:
        watching.close()
    world.note_latencies(watching)


def _changes_after(world: World, start: int) -> list[tuple[int, str, str | None]]:
    engine = make_engine(world.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                Change.__table__.select()
                .where(Change.id > start, Change.kind == "Site", Change.namespace == world.namespace)
                .order_by(Change.id)
            ).all()
        return [(row.id, row.name, row.ready) for row in rows]
    finally:
        engine.dispose()


def test_a_stream_told_to_reload_and_bad_requests(world: World) -> None:
    unknown = world.stream("alice", last_event_id=str(10**15))
    _, told = unknown.wait_for(lambda i: i.event == "reload", "reload")
    assert told.json["reason"] == "unknown-id" and told.id is None
    unknown.wait_ended()
    for headers, query in (({"last_event_id": "abc"}, ""), ({"last_event_id": "3"}, "?since=4")):
        refused = EventStream(world.api, world.plane.token("alice"), query=query, **headers)  # type: ignore[arg-type]
        assert refused.status == 400 and b"Last-Event-ID" in bytes(refused.raw)
    conn = http.client.HTTPConnection(world.api.host, world.api.port, timeout=30)
    conn.request("GET", "/api/v1/events")
    assert conn.getresponse().status == 401
    conn.close()

    small = replace(world.config, live_backlog=1, live_max_clients=1)
    with api_serving(small, world.plane.kubeconfig) as api:
        first = world.stream("alice", api=api)
        first.wait_for(is_open, "the opening")
        second = EventStream(api, world.plane.token("alice"))
        assert second.status == 503 and second.headers.get("retry-after")
        first.close()
        feed: LiveFeed = api.app.state.live
        wait_until(lambda: not feed.clients, 30, "the closed stream let go")
        behind = world.stream("alice", api=api, last_event_id="0")  # alice saw more than one change
        _, told = behind.wait_for(lambda i: i.event == "reload", "reload")
        assert told.json["reason"] == "behind"
        behind.wait_ended()


def test_a_stopping_server_ends_its_streams_and_stops(world: World, tmp_path: Path) -> None:
    """``siteplane serve`` on SIGTERM: its streams end (clients resume elsewhere) and it exits, not
    waiting for them (an open stream would keep uvicorn waiting forever)."""
    if world.database != "sqlite":
        pytest.skip("one database is enough for the process's signal handling")
    port = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(world.plane.kubeconfig),
        "SITEPLANE_DATABASE_URL": world.url,
        "SITEPLANE_API_LISTEN": f"127.0.0.1:{port}",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "siteplane", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        api = ServedApi(world.api.app, "127.0.0.1", port)
        wait_until(partial(_answers, api), 60, "siteplane serve answering", log.read_text)
        stream = world.stream("alice", api=api)
        stream.wait_for(is_open, "the opening")
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stream.wait_ended(10)
        # uvicorn raises the signal again once it has shut down cleanly: the status says SIGTERM.
        assert process.wait(10) in (0, -signal.SIGTERM)
        assert time.monotonic() - asked < 5, log.read_text()
        assert "Application shutdown complete" in log.read_text()
        assert "Cancel" not in log.read_text(), "nothing was left to be cancelled after the grace period"
        assert [i.event for i in stream.items if i.event] == ["open"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _answers(api: ServedApi) -> bool:
    try:
        conn = http.client.HTTPConnection(api.host, api.port, timeout=5)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


# -- replicas (PostgreSQL) -------------------------------------------------------------------------


def test_every_replica_hears_every_change(world: World) -> None:
    if world.database != "postgresql":
        pytest.skip("replicas share a PostgreSQL database")
    with api_serving(world.config, world.plane.kubeconfig) as other:
        one, two = world.stream("alice"), world.stream("alice", api=other)
        try:
            one.wait_for(is_open, "the opening")
            two.wait_for(is_open, "the opening")
            apply(world.plane, world.namespace, [site_doc("both", f"both.{world.zone}", "192.0.2.31")])
            one.wait_for(published("Site", "both"), "both Published, replica one")
            two.wait_for(published("Site", "both"), "both Published, replica two")
            assert [(c.id, c.data) for c in one.changes()] == [(c.id, c.data) for c in two.changes()]
            for feed in (world.feed, other.app.state.live):
                assert isinstance(feed.wakeups, Notifications) and feed.wakeups.notifications > 0
            world.note_latencies(one, two)
        finally:
            one.close()
            two.close()


def test_a_lost_listen_connection_is_made_again(world: World, postgres: PostgresServer) -> None:
    if world.database != "postgresql":
        pytest.skip("LISTEN is PostgreSQL's")
    wakeups = world.feed.wakeups
    assert isinstance(wakeups, Notifications)
    before = wakeups.connects
    database = world.url.rsplit("/", 1)[1]
    with psycopg.connect(postgres.conninfo(), autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s AND datname = %s",
            (APPLICATION_NAME, database),
        ).fetchall()
    assert killed
    wait_until(lambda: wakeups.connects > before, 30, "LISTEN again")
    stream = world.stream("alice")
    try:
        stream.wait_for(is_open, "the opening")
        notified = wakeups.notifications
        apply(world.plane, world.namespace, [site_doc("again", f"again.{world.zone}", "192.0.2.41")])
        stream.wait_for(published("Site", "again"), "again Published")
        assert wakeups.notifications > notified, "woken by NOTIFY on the new connection, not the safety net"
        world.note_latencies(stream)
    finally:
        stream.close()


def test_each_change_of_a_series_arrives_in_order_and_its_delay_is_noted(world: World) -> None:
    """Ten Sites one after another: each change arrives, in order. How long each took is noted for
    the run's summary, not judged here: the bar (under a second at p99) is the benchmark's
    (bench/dashboard.py, docs/performance.md), measured on a machine whose load it records."""
    stream = world.stream("alice")
    try:
        stream.wait_for(is_open, "the opening")
        for n in range(10):
            apply(world.plane, world.namespace, [site_doc(f"l{n}", f"l{n}.{world.zone}", f"192.0.2.{100 + n}")])
            stream.wait_for(published("Site", f"l{n}"), f"l{n} Published")
        ids = [int(c.id or 0) for c in stream.changes()]
        assert ids == sorted(set(ids)), "ids rise, none twice"
        world.note_latencies(stream)
    finally:
        stream.close()


# -- the feed as the store reads it ---------------------------------------------------------------


def test_the_feed_carries_each_change_with_its_history_entry_then(database_url: str) -> None:
    store = Store(make_engine(database_url))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def write(uow: Any) -> None:
        s = uow.session
        s.add_all(
            [
                History(id=1, at=t0, object_kind="Site", object_namespace="a", object_name="www",
                        object_uid="u1", generation=1, action="stored", detail={}),
                ChangeAuthor(object_uid="u1", generation=1, operation="CREATE", username="alice"),
                Change(id=1, at=t0 + timedelta(seconds=1), kind="Site", namespace="a", name="www", uid="u1",
                       ready="False", reason="Pending"),
                History(id=2, at=t0 + timedelta(seconds=2), object_kind="Site", object_namespace="a",
                        object_name="www", object_uid="u1", generation=1, action="dns-applied", detail={"p": 1}),
                Change(id=2, at=t0 + timedelta(seconds=3), kind="Site", namespace="a", name="www", uid="u1",
                       ready="True", reason="Published"),
                History(id=3, at=t0 + timedelta(seconds=4), object_kind="DNSZone", object_namespace="a",
                        object_name="z", object_uid="u2", generation=1, action="drift-reverted", detail={}),
                Change(id=3, at=t0 + timedelta(seconds=5), kind="DNSZone", namespace="a", name="z", uid="u2",
                       ready="True", reason="Served"),
                Change(id=4, at=t0 + timedelta(seconds=6), kind="Site", namespace="b", name="www", uid="u3",
                       ready="True", reason="Published"),
                History(id=4, at=t0 + timedelta(seconds=7), object_kind="Site", object_namespace="a",
                        object_name="www", object_uid="u1", generation=1, action="deleted", detail={}),
                Change(id=5, at=t0 + timedelta(seconds=8), kind="Site", namespace="a", name="www", uid="u1"),
            ]
        )  # fmt: skip

    store.transaction(write)
    everything = store.read(lambda uow: read_changes(uow, 0, limit=10))
    assert [c.id for c in everything] == [1, 2, 3, 4, 5]
    one, two, zone, other, gone = everything
    assert one.history is not None and (one.history.action, one.history.author) == ("stored", "alice")
    assert two.history is not None and (two.history.action, two.history.author) == ("dns-applied", "alice")
    assert two.history.detail == {"p": 1}
    assert zone.history is not None and zone.history.author == "siteplane"
    assert other.history is None
    assert (
        gone.deleted
        and gone.history is not None
        and (gone.history.action, gone.history.author)
        == (
            "deleted",
            "unknown",
        )
    )
    site_a = {"Site": Visibility(namespaces=frozenset({"a"}))}
    assert [c.id for c in store.read(lambda uow: read_changes(uow, 0, limit=10, scope=site_a))] == [1, 2, 5]
    assert [c.id for c in store.read(lambda uow: read_changes(uow, 1, upto=4, limit=10, scope=site_a))] == [2]
    named = {"Site": Visibility(named=frozenset({(None, "www")})), "DNSZone": Visibility()}
    assert [c.id for c in store.read(lambda uow: read_changes(uow, 0, limit=2, scope=named))] == [1, 2]
    assert store.read(lambda uow: read_changes(uow, 0, limit=10, scope={"Site": Visibility()})) == []
    assert store.read(lambda uow: last_seen(uow, 4, site_a)) == 2
    assert store.read(lambda uow: last_seen(uow, 5, {"DNSZone": Visibility(everything=True)})) == 3
    assert store.read(lambda uow: last_seen(uow, 5, {})) == 0
    assert store.read(bounds) == (1, 5)
    store.engine.dispose()
