"""End to end on the real control plane, against SQLite and PostgreSQL: Sites, zones and records
land in the database and in zone files, follow changes and deletions, and survive restarts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.controlplane.cluster import ControlPlane
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import OperatorProcess
from harness.postgres import PostgresServer
from tests.conftest import fresh_database_url
from tests.reconcile_support import (
    Database,
    apply,
    condition,
    objects,
    serial,
    served,
    wait_all,
    wait_past_creation,
    wait_until,
)

pytestmark = pytest.mark.cluster
NS_RECORD = ("@", "NS", "ns1.hosting.example.net.")


@dataclass
class World:
    plane: ControlPlane
    namespace: str
    zone_dir: Path
    db: Database
    operator: OperatorProcess


@pytest.fixture
def world(control_plane: ControlPlane, database_url: str, tmp_path: Path) -> Iterator[World]:
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", namespace)
    zone_dir = tmp_path / "zones"
    operator = OperatorProcess(
        control_plane.kubeconfig, database_url, zone_dir, (namespace,), tmp_path / "operator.log"
    )
    db = Database(database_url)
    operator.start()
    try:
        yield World(control_plane, namespace, zone_dir, db, operator)
    finally:
        operator.stop()
        db.close()
        print(operator.log()[-5000:])


def _zone(ns: str, i: int) -> str:
    return f"z{i}.{ns}.example"


def _fleet(
    ns: str, zones: int = 5, per_zone: int = 10
) -> tuple[list[dict[str, object]], dict[str, set[tuple[str, str, str]]]]:
    """Zones, Sites (one A record each) and a DNSRecord per zone; and what each zone file must hold."""
    docs: list[dict[str, object]] = []
    expected: dict[str, set[tuple[str, str, str]]] = {}
    for z in range(zones):
        zone = _zone(ns, z)
        docs.append(zone_doc(f"zone-{z}", zone))
        expected[zone] = {NS_RECORD, ("@", "MX", "10 mx.example.net.")}
        docs.append(record_doc(f"mx-{z}", zone, "@", "MX", [{"preference": 10, "host": "mx.example.net"}]))
        for s in range(per_zone):
            address = f"192.0.2.{z * per_zone + s + 1}"
            docs.append(site_doc(f"site-{z}-{s}", f"s{s}.{zone}", address))
            expected[zone].add((f"s{s}", "A", address))
    return docs, expected


def test_fifty_sites_in_five_zones_converge_follow_changes_and_deletions(world: World) -> None:
    docs, expected = _fleet(world.namespace)
    apply(world.plane, world.namespace, docs)
    wait_all(world.plane, world.namespace, "dnszones")
    wait_all(world.plane, world.namespace, "sites")
    wait_all(world.plane, world.namespace, "dnsrecords")
    for zone, records in expected.items():
        assert served(world.zone_dir, zone) == records
    assert world.db.live_sites() == 50
    # A zone's status is written after the sync that made its Sites Ready: it follows within moments.
    wait_until(
        lambda: {z["status"].get("recordCount") for z in objects(world.plane, world.namespace, "dnszones")} == {12},
        30,
        "every zone reporting NS, MX and 10 sites",
    )
    # `kubectl wait` works on the Ready condition, as Flux and Argo CD health checks do.
    world.plane.kubectl("wait", "-n", world.namespace, "site", "--all", "--for=condition=Ready", "--timeout=10s")

    # Handling everything again (an operator restart resumes every object) writes nothing new.
    history, serials = world.db.history_count(), {z: serial(world.zone_dir, z) for z in expected}
    files = {z: (world.zone_dir / f"{z}.zone").read_bytes() for z in expected}
    world.operator.stop()
    world.operator.start()
    wait_until(lambda: world.operator.log().count("siteplane started") >= 2, 60, "operator restart")
    # The restarted operator logs once it has seen every object it serves. Sites and DNSRecords
    # stored and Ready as they stand are resumed, not reconciled again; the zones are reconciled.
    wait_until(lambda: world.operator.log().count("startup: all ") >= 2, 60, "everything seen again")
    assert "startup: all 60 objects seen" in world.operator.log()
    assert "(55 resumed as stored, 5 reconciled)" in world.operator.log()
    wait_all(world.plane, world.namespace, "sites")
    assert world.db.history_count() == history
    assert {z: serial(world.zone_dir, z) for z in expected} == serials
    assert {z: (world.zone_dir / f"{z}.zone").read_bytes() for z in expected} == files

    # A Site changed while the operator was down is reconciled by the next start, not resumed.
    world.operator.stop()
    zone4 = _zone(world.namespace, 4)
    apply(world.plane, world.namespace, [site_doc("site-4-9", f"s9.{zone4}", "203.0.113.9")])
    world.operator.start()
    wait_until(lambda: world.operator.log().count("startup: all ") >= 3, 60, "everything seen a third time")
    assert "(54 resumed as stored, 6 reconciled)" in world.operator.log()
    wait_until(lambda: ("s9", "A", "203.0.113.9") in served(world.zone_dir, zone4), 60, "the change served")
    expected[zone4] = (expected[zone4] - {("s9", "A", "192.0.2.50")}) | {("s9", "A", "203.0.113.9")}
    assert served(world.zone_dir, zone4) == expected[zone4]
    wait_all(world.plane, world.namespace, "sites")
    serials[zone4] = serial(world.zone_dir, zone4)

    # Change five sites' addresses: records follow, serials rise.
    zone0 = _zone(world.namespace, 0)
    changed = [site_doc(f"site-0-{s}", f"s{s}.{zone0}", f"198.51.100.{s + 1}") for s in range(5)]
    apply(world.plane, world.namespace, changed)
    wait_all(world.plane, world.namespace, "sites")
    for s in range(5):
        expected[zone0].discard((f"s{s}", "A", f"192.0.2.{s + 1}"))
        expected[zone0].add((f"s{s}", "A", f"198.51.100.{s + 1}"))
    assert served(world.zone_dir, zone0) == expected[zone0]
    assert serial(world.zone_dir, zone0) > serials[zone0]

    # Delete five sites of zone 1: their records are withdrawn, their rows marked deleted.
    zone1 = _zone(world.namespace, 1)
    before = serial(world.zone_dir, zone1)
    world.plane.kubectl("delete", "-n", world.namespace, "site", *[f"site-1-{s}" for s in range(5)], "--timeout=60s")
    for s in range(5):
        expected[zone1].discard((f"s{s}", "A", f"192.0.2.{10 + s + 1}"))
    assert served(world.zone_dir, zone1) == expected[zone1]
    assert serial(world.zone_dir, zone1) > before
    assert world.db.live_sites() == 45
    assert world.db.deleted_sites() == 5


def _ready(world: World, plural: str, name: str, namespace: str | None = None) -> dict[str, object]:
    for obj in objects(world.plane, namespace or world.namespace, plural):
        if obj["metadata"]["name"] == name:
            return condition(obj)
    return {}


def _wait_reason(world: World, plural: str, name: str, reason: str, namespace: str | None = None) -> dict[str, object]:
    found: dict[str, object] = {}

    def check() -> bool:
        nonlocal found
        found = _ready(world, plural, name, namespace)
        return found.get("reason") == reason

    wait_until(check, 90, f"{plural}/{name} reason {reason}", lambda: str(found))
    return found


def test_oldest_claim_wins_and_the_next_takes_over_when_it_goes(world: World) -> None:
    zone = f"conflict.{world.namespace}.example"
    apply(world.plane, world.namespace, [zone_doc("zone", zone), site_doc("first", f"www.{zone}", "192.0.2.1")])
    wait_all(world.plane, world.namespace, "sites")
    wait_past_creation(world.plane, world.namespace, "site/first")
    apply(
        world.plane,
        world.namespace,
        [
            site_doc("second", f"www.{zone}", "192.0.2.2"),
            record_doc("api-old", zone, "api", "A", ["192.0.2.10"]),
        ],
    )
    wait_past_creation(world.plane, world.namespace, "dnsrecord/api-old")
    apply(world.plane, world.namespace, [record_doc("api-new", zone, "api", "A", ["192.0.2.20"])])
    conflict = _wait_reason(world, "sites", "second", "DomainConflict")
    assert "spec.primaryDomain" in str(conflict["message"]) and "Site " in str(conflict["message"])
    _wait_reason(world, "dnsrecords", "api-new", "NameConflict")
    assert ("www", "A", "192.0.2.1") in served(world.zone_dir, zone)
    assert ("api", "A", "192.0.2.10") in served(world.zone_dir, zone)

    # The winners go; the next claimants take over without anyone touching them.
    world.plane.kubectl("delete", "-n", world.namespace, "site/first", "dnsrecord/api-old", "--timeout=60s")
    _wait_reason(world, "sites", "second", "Published")
    _wait_reason(world, "dnsrecords", "api-new", "Published")
    records = served(world.zone_dir, zone)
    assert ("www", "A", "192.0.2.2") in records and ("www", "A", "192.0.2.1") not in records
    assert ("api", "A", "192.0.2.20") in records and ("api", "A", "192.0.2.10") not in records


def test_bad_input_gets_a_condition_naming_the_field_and_writes_nothing(world: World) -> None:
    zone = f"bad.{world.namespace}.example"
    apply(
        world.plane,
        world.namespace,
        [
            zone_doc("unknown-backend", zone, backend="no-such-backend"),
            site_doc("nowhere", f"www.{world.namespace}.nowhere.example", "192.0.2.1"),
            {
                **site_doc("apex-cname", zone, "192.0.2.1"),
                "spec": {"primaryDomain": f"apex.{world.namespace}.example", "serving": {"cname": "lb.example.net"}},
            },
            zone_doc("apex-zone", f"apex.{world.namespace}.example"),
        ],
    )
    backend = _wait_reason(world, "dnszones", "unknown-backend", "BackendUnavailable")
    assert "spec.backend" in str(backend["message"])
    nowhere = _wait_reason(world, "sites", "nowhere", "NotPermitted")
    assert "spec.primaryDomain" in str(nowhere["message"])
    apex = _wait_reason(world, "sites", "apex-cname", "CNAMEAtApex")
    assert "spec.serving.cname" in str(apex["message"])
    assert not (world.zone_dir / f"{zone}.zone").exists()
    assert served(world.zone_dir, f"apex.{world.namespace}.example") == {NS_RECORD}


def test_zone_deletion_waits_for_its_publishers_then_removes_the_zone(world: World) -> None:
    zone = f"doomed.{world.namespace}.example"
    apply(
        world.plane,
        world.namespace,
        [
            zone_doc("doomed", zone),
            site_doc("a", f"a.{zone}", "192.0.2.1"),
            record_doc("txt", zone, "t", "TXT", ["hello"]),
        ],
    )
    wait_all(world.plane, world.namespace, "sites")
    world.plane.kubectl("delete", "-n", world.namespace, "dnszone/doomed", "--wait=false")
    blocked = _wait_reason(world, "dnszones", "doomed", "DeletionBlocked")
    assert str(blocked["message"]).startswith("2 object(s) in this namespace still publish")
    assert (world.zone_dir / f"{zone}.zone").exists()
    world.plane.kubectl("delete", "-n", world.namespace, "site/a", "dnsrecord/txt", "--timeout=60s")
    world.plane.kubectl("wait", "-n", world.namespace, "--for=delete", "dnszone/doomed", "--timeout=120s")
    assert not (world.zone_dir / f"{zone}.zone").exists()

    kept = f"kept.{world.namespace}.example"
    apply(world.plane, world.namespace, [zone_doc("kept", kept, deletionPolicy="Orphan")])
    wait_all(world.plane, world.namespace, "dnszones")
    world.plane.kubectl("delete", "-n", world.namespace, "dnszone/kept", "--timeout=60s")
    assert served(world.zone_dir, kept) == {NS_RECORD}, "an orphaned zone stays on its backend"


def test_tenants_publish_only_where_a_zone_lets_them_and_learn_nothing_of_others(
    control_plane: ControlPlane, database_url: str, tmp_path: Path
) -> None:
    owner, tenant = f"own-{uuid.uuid4().hex[:6]}", f"ten-{uuid.uuid4().hex[:6]}"
    for ns in (owner, tenant):
        control_plane.kubectl("create", "namespace", ns)
    zone = f"{owner}.example"
    operator = OperatorProcess(
        control_plane.kubeconfig, database_url, tmp_path / "zones", (owner, tenant), tmp_path / "operator.log"
    )
    db = Database(database_url)
    world = World(control_plane, tenant, tmp_path / "zones", db, operator)
    with operator:
        apply(
            control_plane,
            owner,
            [zone_doc("secret-zone-object", zone, publishers=[{"namespace": tenant, "names": ["shop", "*.shop"]}])],
        )
        wait_all(control_plane, owner, "dnszones")
        apply(
            control_plane,
            tenant,
            [
                site_doc("shop", f"shop.{zone}", "198.51.100.1"),
                site_doc("hijack", f"www.{zone}", "198.51.100.66"),
                record_doc("mx-hijack", zone, "@", "MX", [{"preference": 1, "host": "evil.example.net"}]),
                zone_doc("second-copy", zone),
            ],
        )
        _wait_reason(world, "sites", "shop", "Published")
        hijacks = [
            _wait_reason(world, "sites", "hijack", "NotPermitted"),
            _wait_reason(world, "dnsrecords", "mx-hijack", "NotPermitted"),
            _wait_reason(world, "dnszones", "second-copy", "NameConflict"),
        ]
        for cond in hijacks:
            message = str(cond["message"])
            assert owner not in message.replace(zone, ""), f"leaks the owner's namespace: {message}"
            assert "secret-zone-object" not in message
        records = served(world.zone_dir, zone)
        assert ("shop", "A", "198.51.100.1") in records
        assert not any("198.51.100.66" in r[2] or "evil" in r[2] for r in records)

        # The zone stops allowing the tenant: its records are withdrawn.
        apply(control_plane, owner, [zone_doc("secret-zone-object", zone)])
        _wait_reason(world, "sites", "shop", "NotPermitted")
        assert ("shop", "A", "198.51.100.1") not in served(world.zone_dir, zone)
    db.close()


def test_database_outage_gives_a_condition_and_converges_when_it_returns(
    control_plane: ControlPlane, postgres: PostgresServer, tmp_path: Path, namespace: str
) -> None:
    url = fresh_database_url("postgresql", tmp_path, postgres)
    operator = OperatorProcess(
        control_plane.kubeconfig, url, tmp_path / "zones", (namespace,), tmp_path / "operator.log"
    )
    db = Database(url)
    world = World(control_plane, namespace, tmp_path / "zones", db, operator)
    zone = f"outage.{namespace}.example"
    with operator:
        apply(control_plane, namespace, [zone_doc("zone", zone), site_doc("before", f"a.{zone}", "192.0.2.1")])
        wait_all(control_plane, namespace, "sites")
        postgres.stop()
        try:
            apply(
                control_plane,
                namespace,
                [site_doc("during", f"b.{zone}", "192.0.2.2"), site_doc("before", f"a.{zone}", "192.0.2.3")],
            )
            cond = _wait_reason(world, "sites", "during", "DatabaseUnavailable")
            assert "postgresql" not in str(cond["message"]), "no URL in a condition"
        finally:
            postgres.start()
        wait_all(control_plane, namespace, "sites", timeout=120)
        assert served(world.zone_dir, zone) == {NS_RECORD, ("a", "A", "192.0.2.3"), ("b", "A", "192.0.2.2")}
        assert db.live_sites() == 2
        owners = [row for row in db.live_record_sets() if row[2] == "A"]
        assert len(owners) == 2, "nothing lost, nothing duplicated"
    db.close()


@pytest.mark.parametrize("ready_before_kill", [0, 10, 20], ids=["early", "middle", "late"])
def test_killing_the_operator_at_any_point_converges_to_the_same_state(
    control_plane: ControlPlane, tmp_path: Path, database_url: str, ready_before_kill: int
) -> None:
    namespace = f"kill-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", namespace)
    url = database_url
    operator = OperatorProcess(
        control_plane.kubeconfig, url, tmp_path / "zones", (namespace,), tmp_path / "operator.log"
    )
    db = Database(url)
    docs, expected = _fleet(namespace, zones=3, per_zone=10)
    operator.start()
    wait_until(lambda: "siteplane started" in operator.log(), 60, "operator start")
    apply(control_plane, namespace, docs)
    # Killed once this many of the 30 Sites are Ready: before any, a third, two thirds of the way.
    wait_until(
        lambda: (
            sum(condition(s).get("status") == "True" for s in objects(control_plane, namespace, "sites"))
            >= ready_before_kill
        ),
        120,
        f"{ready_before_kill} Sites Ready",
    )
    operator.kill()
    operator.start()
    try:
        wait_all(control_plane, namespace, "sites")
        wait_all(control_plane, namespace, "dnsrecords")
        for zone, records in expected.items():
            assert served(tmp_path / "zones", zone) == records
        assert db.live_sites() == 30
        # The database holds exactly what the zone files serve: one live row per record set.
        rows = db.live_record_sets()
        assert len(rows) == len(set(rows)) == sum(len(r) for r in expected.values())
    finally:
        operator.stop()
        db.close()


def test_a_second_zone_for_a_name_waits_and_takes_over_when_the_first_goes(world: World) -> None:
    zone = f"twice.{world.namespace}.example"
    apply(world.plane, world.namespace, [zone_doc("first", zone), site_doc("site", f"www.{zone}", "192.0.2.5")])
    wait_all(world.plane, world.namespace, "sites")
    wait_past_creation(world.plane, world.namespace, "dnszone/first")
    apply(world.plane, world.namespace, [zone_doc("second", zone, defaultTTL=600)])
    conflict = _wait_reason(world, "dnszones", "second", "NameConflict")
    assert "DNSZone " + world.namespace + "/first" in str(conflict["message"])
    world.plane.kubectl("delete", "-n", world.namespace, "site/site", "--timeout=60s")
    world.plane.kubectl("delete", "-n", world.namespace, "dnszone/first", "--timeout=90s")
    _wait_reason(world, "dnszones", "second", "Served")
    assert served(world.zone_dir, zone) == {NS_RECORD}
