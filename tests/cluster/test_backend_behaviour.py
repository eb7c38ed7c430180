"""One behaviour suite for every DNS backend, through the operator, on the real control plane.

Each case runs against zone files, BIND 9 (RFC 2136 + TSIG, zones created with rndc addzone) and
PowerDNS (HTTP API). Every expected answer is read from the server with dnspython (for zone files,
from the file parsed with dnspython), never from the operator's own state.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import kopf
import pytest

from harness.controlplane.cluster import ControlPlane
from harness.dns_targets import BindTarget, PowerDNSTarget, Target, ZoneFileTarget
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import operator_running
from siteplane.config import Config
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.store.migrate import upgrade
from tests.reconcile_support import apply, condition, objects, wait_all, wait_until

pytestmark = pytest.mark.cluster
KINDS = ["zonefile", "rfc2136", "powerdns"]
SERVERS = ["rfc2136", "powerdns"]
BURST = 500


# -- servers and operator ------------------------------------------------------------------------


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "zonefile":
        return ZoneFileTarget(tmp_path / "served-zones")
    if request.param == "rfc2136":
        return BindTarget(request.getfixturevalue("bind_server"))
    return PowerDNSTarget(request.getfixturevalue("powerdns_server"))


class LogCapture(logging.Handler):
    """Everything the operator logs, at every level, for the credentials check."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Setup:
    plane: ControlPlane
    namespace: str
    target: Target
    backend: str
    zone: str
    memo: kopf.Memo
    database: Path
    log: LogCapture

    def writes(self) -> int:
        """Writes the operator sent to this backend: UPDATE messages, PATCHes, or zone-file writes."""
        backend = self.memo["operator"].backends.instance(self.backend)
        return 0 if backend is None else int(backend.stats.writes)

    def writer(self) -> ZoneWriter:
        writer: ZoneWriter = self.memo["operator"].writer
        return writer

    def wait_syncs(self, count: int) -> None:
        """Until ``count`` more syncs or probes of the zone (drift checks, here every 2 s) have run."""
        before = self.writer().stats.answered(self.zone)
        wait_until(
            lambda: self.writer().stats.answered(self.zone) >= before + count,
            60,
            f"{count} more syncs of {self.zone}",
        )

    def answer(self, name: str, rdtype: str) -> set[str] | None:
        return self.target.answer(self.zone, name, rdtype)

    def wait_answer(self, name: str, rdtype: str, expected: set[str] | None, timeout: float = 60) -> None:
        wait_until(
            lambda: self.answer(name, rdtype) == expected,
            timeout,
            f"{name} {rdtype} = {expected}",
            lambda: f"served {self.answer(name, rdtype)}",
        )

    def zone_status(self) -> dict[str, Any]:
        return dict(objects(self.plane, self.namespace, "dnszones")[0].get("status", {}))


def operator_config(directory: Path, backend: str, namespace: str) -> Config:
    """The operator of one test's namespace alone: earlier tests' zones, still being deleted, would
    otherwise land on this test's backend (its default) and show in its counts."""
    url = f"sqlite:///{directory / 'siteplane.db'}"
    upgrade(url)
    return Config(
        database_url=url,
        namespaces=(namespace,),
        zone_dir=str(directory / "embedded-zones"),
        default_backend=backend,
        drift_interval=2.0,
        backend_recheck_interval=2.0,
    )


@pytest.fixture
def setup(control_plane: ControlPlane, namespace: str, target: Target, tmp_path: Path) -> Iterator[Setup]:
    """The operator (in-process, SQLite) with the target as its default backend, and one zone on it."""
    backend = f"b-{uuid.uuid4().hex[:8]}"
    zone = f"{target.kind}-{uuid.uuid4().hex[:6]}.example"
    capture = LogCapture()
    logging.getLogger().addHandler(capture)
    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    apply(control_plane, namespace, target.manifests(backend, namespace))
    config = operator_config(tmp_path, backend, namespace)
    try:
        with operator_running(control_plane.kubeconfig, config) as memo:
            apply(control_plane, namespace, [zone_doc("zone", zone, nameServers=[f"ns1.{zone}"])])
            apply(control_plane, namespace, [record_doc("ns1", zone, "ns1", "A", ["192.0.2.53"])])
            wait_all(control_plane, namespace, "dnszones", timeout=60)
            yield Setup(control_plane, namespace, target, backend, zone, memo, tmp_path / "siteplane.db", capture)
    finally:
        logging.getLogger().removeHandler(capture)
        logging.getLogger().setLevel(previous_level)
        control_plane.kubectl("delete", "dnsbackend", backend, "--wait=false", check=False)


def by_kind(kinds: list[str]) -> Any:
    return pytest.mark.parametrize("target", kinds, indirect=True)


# -- cases ---------------------------------------------------------------------------------------

EVERY_TYPE = [
    ("a", "www", "A", ["192.0.2.10", "192.0.2.11"], {"192.0.2.10", "192.0.2.11"}),
    ("aaaa", "www", "AAAA", ["2001:db8::10"], {"2001:db8::10"}),
    ("cname", "docs", "CNAME", "pages.hosting.example.net", {"pages.hosting.example.net."}),
    ("mx", "@", "MX", [{"preference": 10, "host": "mx1.example.net"}], {"10 mx1.example.net."}),
    ("txt", "_dmarc", "TXT", ["v=DMARC1; p=reject"], {'"v=DMARC1; p=reject"'}),
    (
        "srv",
        "_sip._tcp",
        "SRV",
        [{"priority": 10, "weight": 5, "port": 5060, "target": "sip.example.net"}],
        {"10 5 5060 sip.example.net."},
    ),
    ("caa", "@", "CAA", [{"flags": 0, "tag": "issue", "value": "letsencrypt.org"}], {'0 issue "letsencrypt.org"'}),
    ("ns", "child", "NS", ["ns1.child-dns.example.net"], {"ns1.child-dns.example.net."}),
    ("ptr", "10", "PTR", ["host10.example.net"], {"host10.example.net."}),
]


@by_kind(KINDS)
def test_every_record_type_is_added_changed_and_deleted(setup: Setup) -> None:
    docs = [record_doc(f"r-{key}", setup.zone, name, rtype, values) for key, name, rtype, values, _ in EVERY_TYPE]
    apply(setup.plane, setup.namespace, docs)
    wait_all(setup.plane, setup.namespace, "dnsrecords")
    for _, name, rtype, _, expected in EVERY_TYPE:
        if rtype == "NS":  # a delegation: the parent answers with a referral, not with data
            continue
        assert setup.answer(name, rtype) == expected, (name, rtype)
    assert setup.answer("@", "NS") == {f"ns1.{setup.zone}."}

    changed = record_doc("r-a", setup.zone, "www", "A", ["192.0.2.20"])
    apply(setup.plane, setup.namespace, [changed])
    setup.wait_answer("www", "A", {"192.0.2.20"})

    for key, *_ in EVERY_TYPE:
        setup.plane.kubectl("delete", "dnsrecord", f"r-{key}", "-n", setup.namespace)
    for _, name, rtype, _, _ in EVERY_TYPE:
        if rtype != "NS":
            setup.wait_answer(name, rtype, set())


@by_kind(KINDS)
def test_ttl_change_and_a_to_cname_at_one_name(setup: Setup) -> None:
    site = site_doc("shop", f"shop.{setup.zone}", "192.0.2.30", ttl=300)
    apply(setup.plane, setup.namespace, [site])
    setup.wait_answer("shop", "A", {"192.0.2.30"})

    apply(setup.plane, setup.namespace, [site_doc("shop", f"shop.{setup.zone}", "192.0.2.30", ttl=900)])
    wait_until(lambda: setup.target.ttl(setup.zone, "shop", "A") == 900, 60, "TTL 900")

    cname = site_doc("shop", f"shop.{setup.zone}", "192.0.2.30", ttl=900)
    cname["spec"]["serving"] = {"cname": "edge.hosting.example.net"}
    apply(setup.plane, setup.namespace, [cname])
    setup.wait_answer("shop", "CNAME", {"edge.hosting.example.net."})
    assert setup.answer("shop", "A") == set()
    wait_all(setup.plane, setup.namespace, "sites")


@by_kind(KINDS)
def test_a_burst_of_500_record_sets_is_batched(setup: Setup) -> None:
    before = setup.writes()
    docs = [record_doc(f"burst-{i}", setup.zone, f"host{i}", "A", [f"10.{i // 250}.{i % 250}.1"]) for i in range(BURST)]
    syncs = setup.writer().stats.syncs_per_zone.get(setup.zone, 0)
    started = time.monotonic()
    apply(setup.plane, setup.namespace, docs)
    applied = time.monotonic() - started
    wait_all(setup.plane, setup.namespace, "dnsrecords", timeout=300)
    elapsed = time.monotonic() - started
    writes = setup.writes() - before
    syncs = setup.writer().stats.syncs_per_zone.get(setup.zone, 0) - syncs
    print(
        f"\n{setup.target.kind}: {BURST} record sets applied in {applied:.1f}s, Ready in {elapsed:.1f}s, "
        f"{syncs} sync(s), {writes} write(s) to the backend"
    )
    for i in (0, 137, BURST - 1):
        assert setup.answer(f"host{i}", "A") == {f"10.{i // 250}.{i % 250}.1"}
    assert writes <= BURST // 10, f"{writes} writes for {BURST} record sets: batching does not show"


@by_kind(KINDS)
def test_zone_delete_removes_it_from_the_server(setup: Setup) -> None:
    assert setup.target.serves_zone(setup.zone)
    setup.plane.kubectl("delete", "dnsrecord", "ns1", "-n", setup.namespace)
    setup.plane.kubectl("delete", "dnszone", "zone", "-n", setup.namespace, "--timeout=60s")
    wait_until(lambda: not setup.target.serves_zone(setup.zone), 60, "zone gone from the server")


def test_the_default_backend_counts_zones_that_name_no_backend_as_they_come_and_go(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    # No periodic re-check here: the count must follow from the zones' own changes.
    target = ZoneFileTarget(tmp_path / "served-zones")
    backend = f"b-{uuid.uuid4().hex[:8]}"
    apply(control_plane, namespace, target.manifests(backend, namespace))
    config = replace(operator_config(tmp_path, backend, namespace), backend_recheck_interval=0.0)

    def zone_count() -> int | None:
        out = control_plane.kubectl("get", "dnsbackend", backend, "-o", "jsonpath={.status.zoneCount}").stdout
        return int(out) if out.strip() else None

    try:
        with operator_running(control_plane.kubeconfig, config):
            wait_until(lambda: zone_count() == 0, 30, "the backend reports no zones")
            apply(control_plane, namespace, [zone_doc("counted", f"counted-{backend}.example")])
            wait_until(lambda: zone_count() == 1, 30, "the default backend counts the new zone")
            control_plane.kubectl("delete", "dnszone", "counted", "-n", namespace, "--timeout=60s")
            wait_until(lambda: zone_count() == 0, 30, "the default backend no longer counts it")
    finally:
        control_plane.kubectl("delete", "dnsbackend", backend, "--wait=false", check=False)


@by_kind(KINDS)
def test_drift_is_reverted_counted_and_written_to_history(setup: Setup) -> None:
    apply(
        setup.plane,
        setup.namespace,
        [
            record_doc("www", setup.zone, "www", "A", ["192.0.2.40"]),
            record_doc("mail", setup.zone, "mail", "A", ["192.0.2.41"]),
        ],
    )
    wait_all(setup.plane, setup.namespace, "dnsrecords")
    setup.target.tamper(setup.zone, "www", "A", ["198.51.100.66"])  # changed by hand
    setup.target.tamper(setup.zone, "mail", "A", None)  # deleted by hand
    setup.target.tamper(setup.zone, "by-hand", "TXT", ['"added by a person"'])  # nobody's name
    setup.wait_answer("www", "A", {"192.0.2.40"}, timeout=30)
    setup.wait_answer("mail", "A", {"192.0.2.41"}, timeout=30)
    wait_until(lambda: setup.zone_status().get("driftCorrections", 0) >= 2, 30, "driftCorrections on the zone")
    with sqlite3.connect(setup.database) as db:
        rows = db.execute("SELECT detail FROM history WHERE action = 'drift-reverted'").fetchall()
    assert rows, "drift corrections are written to history"
    # Shared (the default): what siteplane never published is left alone, check after check.
    setup.wait_syncs(2)
    assert setup.answer("by-hand", "TXT") == {'"added by a person"'}

    zone = zone_doc("zone", setup.zone, nameServers=[f"ns1.{setup.zone}"], management="Exclusive")
    apply(setup.plane, setup.namespace, [zone])
    setup.wait_answer("by-hand", "TXT", set(), timeout=30)
    assert setup.answer("www", "A") == {"192.0.2.40"}


@by_kind(SERVERS)
def test_a_server_restarted_in_the_middle_of_a_batch_converges(setup: Setup) -> None:
    before = setup.writes()
    docs = [record_doc(f"rs-{i}", setup.zone, f"rs{i}", "A", [f"10.9.{i // 250}.{i % 250}"]) for i in range(300)]
    apply(setup.plane, setup.namespace, docs)
    wait_until(lambda: setup.writes() > before, 120, "the first write of the batch")
    setup.target.stop()
    failed = setup.writer().stats.failures
    wait_until(lambda: setup.writer().stats.failures > failed, 120, "a sync failing on the stopped server")
    setup.target.start()
    wait_all(setup.plane, setup.namespace, "dnsrecords", timeout=300)
    for i in (0, 150, 299):
        assert setup.answer(f"rs{i}", "A") == {f"10.9.{i // 250}.{i % 250}"}


@by_kind(SERVERS)
def test_a_wrong_key_gives_clear_conditions_writes_nothing_and_is_not_retried_in_a_tight_loop(
    control_plane: ControlPlane, namespace: str, target: Target, tmp_path: Path
) -> None:
    backend = f"wrong-{uuid.uuid4().hex[:6]}"
    zone = f"wrong-{uuid.uuid4().hex[:6]}.example"
    apply(control_plane, namespace, target.manifests(backend, namespace, wrong_key=True))
    capture = LogCapture()
    logging.getLogger("siteplane").addHandler(capture)
    try:
        with operator_running(control_plane.kubeconfig, operator_config(tmp_path, backend, namespace)) as memo:
            apply(control_plane, namespace, [zone_doc("zone", zone), site_doc("www", f"www.{zone}", "192.0.2.1")])
            zones = wait_all(
                control_plane, namespace, "dnszones", status="False", reason="BackendUnavailable", timeout=60
            )
            assert backend in condition(zones[0])["message"]
            backends = json_of(control_plane, "dnsbackend", backend)
            message = condition(backends)["message"]
            assert condition(backends)["status"] == "False"
            assert ("BADSIG" in message or "BADKEY" in message) if target.kind == "rfc2136" else "API key" in message
            sites = wait_all(control_plane, namespace, "sites", status="False", timeout=60)
            assert condition(sites[0])["reason"] == "BackendError"
            failures_before = len(capture.lines)
            # The DNSBackend is re-checked every 2 s here; over seven re-checks the failing zone
            # itself is not hammered (its syncs back off from 30 s).
            operator = memo["operator"]
            checks = operator.controller.stats.reconciles.get("DNSBackend/requeue", 0)
            wait_until(
                lambda: operator.controller.stats.reconciles.get("DNSBackend/requeue", 0) >= checks + 7,
                60,
                "seven re-checks of the DNSBackend",
            )
            assert not target.serves_zone(zone), "nothing was written"
            assert len(capture.lines) - failures_before < 30, capture.lines[-30:]

            # The Secret fixed: the periodic re-check notices, and the zone converges without a touch.
            apply(control_plane, namespace, target.manifests(backend, namespace)[:1])
            wait_all(control_plane, namespace, "sites", timeout=120)
            assert target.answer(zone, "www", "A") == {"192.0.2.1"}
    finally:
        logging.getLogger("siteplane").removeHandler(capture)
        control_plane.kubectl("delete", "dnsbackend", backend, "--wait=false", check=False)


def json_of(plane: ControlPlane, *what: str) -> dict[str, Any]:
    return dict(json.loads(plane.kubectl("get", *what, "-o", "json").stdout))


@by_kind(SERVERS)
def test_a_missing_secret_names_it_on_the_backend_and_the_zones(
    control_plane: ControlPlane, namespace: str, target: Target, tmp_path: Path
) -> None:
    backend = f"nosecret-{uuid.uuid4().hex[:6]}"
    zone = f"nosecret-{uuid.uuid4().hex[:6]}.example"
    manifests = target.manifests(backend, namespace)
    apply(control_plane, namespace, manifests[1:])  # the DNSBackend without its Secret
    try:
        with operator_running(control_plane.kubeconfig, operator_config(tmp_path, backend, namespace)):
            apply(control_plane, namespace, [zone_doc("zone", zone)])
            zones = wait_all(
                control_plane, namespace, "dnszones", status="False", reason="BackendUnavailable", timeout=60
            )
            secret = manifests[0]["metadata"]["name"]
            assert f"Secret {namespace}/{secret} does not exist" in condition(zones[0])["message"]
            assert condition(zones[0])["message"].startswith("spec.backend:")
            wait_until(
                lambda: "does not exist" in condition(json_of(control_plane, "dnsbackend", backend)).get("message", ""),
                30,
                "the DNSBackend's condition",
            )
            apply(control_plane, namespace, manifests[:1])
            wait_all(control_plane, namespace, "dnszones", timeout=60)
            assert target.serves_zone(zone)
    finally:
        control_plane.kubectl("delete", "dnsbackend", backend, "--wait=false", check=False)


@by_kind(["rfc2136"])
def test_a_record_set_the_server_refuses_gets_a_condition_and_holds_back_nothing_else(setup: Setup) -> None:
    too_big = record_doc("too-big", setup.zone, "pool", "A", [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(101)])
    fine = record_doc("fine", setup.zone, "fine", "A", ["192.0.2.77"])
    apply(setup.plane, setup.namespace, [too_big, fine])
    wait_until(
        lambda: condition(record(setup, "too-big")).get("reason") == "RejectedByServer",
        60,
        "a RejectedByServer condition",
    )
    message = condition(record(setup, "too-big"))["message"]
    assert message.startswith("spec.a:") and "101 records" in message and "max-records-per-type" in message
    setup.wait_answer("fine", "A", {"192.0.2.77"})
    assert setup.answer("pool", "A") == set()
    writes = setup.writes()
    setup.wait_syncs(3)  # three drift checks: the refused set is not sent again
    assert setup.writes() == writes

    smaller = record_doc("too-big", setup.zone, "pool", "A", [f"10.1.0.{i}" for i in range(1, 51)])
    apply(setup.plane, setup.namespace, [smaller])
    wait_until(lambda: condition(record(setup, "too-big")).get("status") == "True", 60, "Ready after the fix")
    assert len(setup.answer("pool", "A") or ()) == 50


def record(setup: Setup, name: str) -> dict[str, Any]:
    return json_of(setup.plane, "dnsrecord", name, "-n", setup.namespace)


@by_kind(KINDS)
def test_credentials_appear_nowhere(setup: Setup) -> None:
    """After a run with drift and changes: logs, status, events, history and the whole database."""
    apply(setup.plane, setup.namespace, [site_doc("www", f"www.{setup.zone}", "192.0.2.90")])
    wait_all(setup.plane, setup.namespace, "sites")
    setup.target.tamper(setup.zone, "www", "A", ["198.51.100.1"])
    setup.wait_answer("www", "A", {"192.0.2.90"}, timeout=30)
    places = {
        "operator log": "\n".join(setup.log.lines),
        "objects and status": setup.plane.kubectl("get", "siteplane", "-A", "-o", "yaml").stdout,
        "events": setup.plane.kubectl("get", "events", "-A", "-o", "yaml").stdout,
        "database": "\n".join(sqlite3.connect(setup.database).iterdump()),
    }
    assert "drift-reverted" in places["database"]
    for secret in setup.target.secret_values():
        for where, text in places.items():
            assert secret not in text, f"a credential appears in the {where}"
