"""DNSSEC through the whole operator, on the real apiserver with zone files: the operator process
(``siteplane run``) signs the zone it serves, the zone file parsed with dnspython validates RRset
by RRset against its DNSKEY (before and after a record change and a signature refresh), negative
answers are provably signed, the status carries what the registrar needs, the private key stays
in its Secret, and turning DNSSEC off unsigns the zone."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.dnssec
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest
from dns.rdtypes.ANY.RRSIG import RRSIG

from harness.bind import DNSSEC_VERIFY, BindServer
from harness.controlplane.cluster import ControlPlane
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import OperatorProcess
from siteplane.dns import signing
from siteplane.dns.backend import DNSSEC_TYPES, DnssecSettings, SOASettings, ZoneConfig
from siteplane.dns.zonefile import ZoneFileBackend
from siteplane.domain.records import apex_ns, record_set
from siteplane.reconcile.signing_keys import secret_name
from tests.conftest import fresh_database_url
from tests.dnssec_support import validate_every_rrset
from tests.reconcile_support import apply, condition, objects, wait_until

pytestmark = pytest.mark.cluster
VALIDITY, WINDOW = 60, 45  # seconds: signatures are refreshed every ~15 s by the 1 s drift checks


@dataclass
class World:
    plane: ControlPlane
    namespace: str
    key_namespace: str
    zone_dir: Path
    database: Path
    operator: OperatorProcess


@pytest.fixture(scope="module")
def world(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("dnssec")
    run = uuid.uuid4().hex[:8]
    namespace, key_namespace = f"dnssec-{run}", f"siteplane-keys-{run}"
    for name in (namespace, key_namespace):
        control_plane.kubectl("create", "namespace", name)
    url = fresh_database_url("sqlite", tmp, None)
    operator = OperatorProcess(
        control_plane.kubeconfig,
        url,
        tmp / "zones",
        (namespace,),
        tmp / "operator.log",
        extra_env={
            "SITEPLANE_DNSSEC_KEY_NAMESPACE": key_namespace,
            "SITEPLANE_DNSSEC_SIGNATURE_VALIDITY": str(VALIDITY),
            "SITEPLANE_DNSSEC_RESIGN_WINDOW": str(WINDOW),
            "SITEPLANE_DRIFT_INTERVAL": "1",
            "SITEPLANE_LOG_FORMAT": "text",
        },
    )
    operator.start()
    try:
        yield World(control_plane, namespace, key_namespace, tmp / "zones", tmp / "siteplane.db", operator)
    finally:
        operator.stop()
        print(operator.log()[-5000:])
        for name in (namespace, key_namespace):
            control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _zone_obj(world: World, name: str) -> dict[str, Any]:
    return next(o for o in objects(world.plane, world.namespace, "dnszones") if o["metadata"]["name"] == name)


def _wait_dnssec(
    world: World, name: str, status: str, reason: str | None = None, timeout: float = 90
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done() -> bool:
        nonlocal found
        found = _zone_obj(world, name)
        cond = condition(found, "DNSSECReady")
        return cond.get("status") == status and (reason is None or cond.get("reason") == reason)

    wait_until(done, timeout, f"{name} DNSSECReady={status}", lambda: json.dumps(found.get("status"))[:2000])
    return found


def _served(world: World, zone: str) -> dns.zone.Zone:
    return dns.zone.from_file(str(world.zone_dir / f"{zone}.zone"), origin=zone + ".", relativize=False)


def _signatures(zone: dns.zone.Zone) -> list[RRSIG]:
    return [rd for _, rds in zone.iterate_rdatasets() if rds.rdtype == dns.rdatatype.RRSIG for rd in rds]  # type: ignore[misc]


def _assert_nonexistent_name_denied(zone: dns.zone.Zone, missing: str) -> None:
    """An NSEC3 record of the zone covers the hash of ``missing`` (so its absence is provable),
    and that NSEC3 RRset's signature validates."""
    origin = zone.origin
    assert origin is not None
    chain = {name.labels[0].decode().upper(): (name, rds) for name, rds in zone.iterate_rdatasets(dns.rdatatype.NSEC3)}
    assert chain, "no NSEC3 chain"
    hashed = dns.dnssec.nsec3_hash(dns.name.from_text(missing, origin), None, 0, 1)
    assert hashed not in chain
    covering = [owner for owner, (_, rds) in chain.items() if _covers(owner, rds[0].next, hashed)]
    assert len(covering) == 1, f"{hashed} covered by {covering}"
    name, rds = chain[covering[0]]
    sigs = zone.get_rdataset(name, dns.rdatatype.RRSIG, dns.rdatatype.NSEC3)
    assert sigs is not None
    dns.dnssec.validate((name, rds), (name, sigs), {origin: zone.find_rdataset(origin, dns.rdatatype.DNSKEY)})


def _bind_verifies(world: World, zone: str) -> None:
    """BIND's dnssec-verify finds the operator's zone file fully signed (an independent validator)."""
    done = subprocess.run(
        [DNSSEC_VERIFY, "-z", "-o", zone, str(world.zone_dir / f"{zone}.zone")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "Zone fully signed" in done.stdout + done.stderr, done.stdout + done.stderr


def _covers(owner: str, next_hash: bytes, hashed: str) -> bool:
    """Whether the NSEC3 at hash ``owner`` pointing to ``next_hash`` covers ``hashed`` (the last one
    of the ring wraps around to the first)."""
    nxt = base64.b32hexencode(next_hash).decode()
    if owner < nxt:
        return owner < hashed < nxt
    return hashed > owner or hashed < nxt


def test_enabled_dnssec_signs_the_zone_every_rrset_validates_after_changes_and_refreshes(world: World) -> None:
    zone = f"signed-{uuid.uuid4().hex[:6]}.example"
    apply(
        world.plane,
        world.namespace,
        [
            zone_doc("signed", zone, dnssec={"enabled": True}),
            site_doc("shop", f"shop.{zone}", "192.0.2.10"),
            record_doc("mx", zone, "@", "MX", [{"preference": 10, "host": "mx.example.net"}]),
        ],
    )
    _wait_dnssec(world, "signed", "True", "Signed")
    # The Site and the DNSRecord may land in a later sync than the zone's first, signed, write.
    wait_until(lambda: _zone_obj(world, "signed")["status"].get("recordCount") == 3, 60, "recordCount 3")
    wait_until(lambda: _served(world, zone).get_rdataset(f"shop.{zone}.", "A") is not None, 60, "shop served")
    obj = _wait_dnssec(world, "signed", "True", "Signed")
    served = _served(world, zone)
    origin = served.origin
    assert origin is not None
    # The status carries the DS (SHA-256) of the zone's DNSKEY, and that DNSKEY, for the registrar.
    dnskeys = served.find_rdataset(origin, dns.rdatatype.DNSKEY)
    assert [k.to_text() for k in dnskeys] == obj["status"]["dnssec"]["dnskeys"]
    assert obj["status"]["dnssec"]["ds"] == [dns.dnssec.make_ds(origin, dnskeys[0], "SHA256").to_text()]
    assert dnskeys[0].algorithm == 13 and dnskeys[0].flags == 257
    assert obj["status"]["dnssec"]["signaturesExpire"]
    # Every RRset validates; SOA, NS, MX, DNSKEY, NSEC3PARAM, shop A and the NSEC3 of @, shop.
    assert validate_every_rrset(served) >= 8
    _assert_nonexistent_name_denied(served, "nothere")
    _assert_nonexistent_name_denied(served, "shop2")
    # The zone's records are as before: signing adds nothing planning would see.
    assert _zone_obj(world, "signed")["status"]["recordCount"] == 3

    # A record change: the new record is signed too, everything still validates.
    serial = served.get_soa().serial
    apply(world.plane, world.namespace, [site_doc("blog", f"blog.{zone}", "192.0.2.11")])
    wait_until(lambda: _served(world, zone).get_soa().serial != serial, 60, "the zone rewritten")
    wait_until(
        lambda: _served(world, zone).get_rdataset(f"blog.{zone}.", dns.rdatatype.A) is not None, 60, "blog served"
    )
    changed = _served(world, zone)
    assert changed.get_rdataset(f"blog.{zone}.", dns.rdatatype.RRSIG, dns.rdatatype.A) is not None
    assert validate_every_rrset(changed) >= 10
    _assert_nonexistent_name_denied(changed, "nothere")
    _bind_verifies(world, zone)

    # A refresh: with nothing to change, the periodic sync signs again before signatures lapse.
    earliest = min(s.expiration for s in _signatures(changed))
    wait_until(
        lambda: min(s.expiration for s in _signatures(_served(world, zone))) > earliest,
        VALIDITY,
        "signatures refreshed",
    )
    refreshed = _served(world, zone)
    assert validate_every_rrset(refreshed) >= 10
    _assert_nonexistent_name_denied(refreshed, "nothere")
    _bind_verifies(world, zone)
    # ... and the status follows the new expiry.
    before = obj["status"]["dnssec"]["signaturesExpire"]
    wait_until(
        lambda: _zone_obj(world, "signed")["status"]["dnssec"]["signaturesExpire"] != before,
        30,
        "status.dnssec.signaturesExpire moved",
    )
    assert condition(_zone_obj(world, "signed"), "DNSSECReady")["status"] == "True"


def test_the_private_key_stays_in_its_secret_never_in_database_status_events_or_logs(world: World) -> None:
    zone = f"secret-{uuid.uuid4().hex[:6]}.example"
    apply(world.plane, world.namespace, [zone_doc("keyed", zone, dnssec={"enabled": True, "denial": "NSEC"})])
    obj = _wait_dnssec(world, "keyed", "True", "Signed")
    name = secret_name(zone, obj["metadata"]["uid"])
    assert zone not in name
    secret = json.loads(world.plane.kubectl("get", "secret", name, "-n", world.key_namespace, "-o", "json").stdout)
    assert secret["immutable"] is True
    pem = base64.b64decode(secret["data"]["key.pem"])
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    # The key's body (base64 lines of the PEM), and the Secret's own encoding of it.
    body = "".join(pem.decode().splitlines()[1:-1])
    needles = [body[:40], body[-40:], secret["data"]["key.pem"][:40]]
    haystacks = {
        "database": b"".join(p.read_bytes() for p in world.database.parent.glob(world.database.name + "*")).decode(
            "latin-1"
        ),
        "status": json.dumps(obj["status"]),
        "events": world.plane.kubectl("get", "events", "-A", "-o", "json").stdout,
        "log": world.operator.log(),
        "zone file": (world.zone_dir / f"{zone}.zone").read_text(),
    }
    for where, text in haystacks.items():
        assert not any(n in text for n in needles), f"the private key appears in the {where}"
    # NSEC chosen: an NSEC chain, no NSEC3, and it validates.
    served = _served(world, zone)
    assert list(served.iterate_rdatasets(dns.rdatatype.NSEC)) and not list(
        served.iterate_rdatasets(dns.rdatatype.NSEC3)
    )
    validate_every_rrset(served)


def test_turning_dnssec_off_removes_every_signature_and_the_key_secret(world: World) -> None:
    zone = f"unsigned-{uuid.uuid4().hex[:6]}.example"
    apply(world.plane, world.namespace, [zone_doc("toggled", zone, dnssec={"enabled": True})])
    obj = _wait_dnssec(world, "toggled", "True", "Signed")
    name = secret_name(zone, obj["metadata"]["uid"])
    world.plane.kubectl("get", "secret", name, "-n", world.key_namespace)
    apply(world.plane, world.namespace, [zone_doc("toggled", zone, dnssec={"enabled": False})])
    obj = _wait_dnssec(world, "toggled", "False", "Disabled")
    assert "dnssec" not in obj["status"]
    served = _served(world, zone)
    types = {dns.rdatatype.to_text(rds.rdtype) for _, node in served.nodes.items() for rds in node}
    assert not types & DNSSEC_TYPES
    assert types >= {"SOA", "NS"}
    gone = world.plane.kubectl("get", "secret", name, "-n", world.key_namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    # The apiserver refuses a denial without DNSSEC on.
    refused = world.plane.kubectl(
        "apply",
        "-n",
        world.namespace,
        "-f",
        "-",
        stdin=json.dumps(zone_doc("toggled", zone, dnssec={"enabled": False, "denial": "NSEC"})),
        check=False,
    )
    assert refused.returncode != 0 and "dnssec.denial applies only when dnssec.enabled is true" in refused.stderr


def _ask(bind: BindServer, qname: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype, want_dnssec=True)
    return dns.query.tcp(query, bind.address, port=bind.port, timeout=5)


def _validate_sections(response: dns.message.Message, keys: dns.rrset.RRset, origin: dns.name.Name) -> int:
    """Every RRset of the answer and authority sections validated against ``keys``; how many."""
    checked = 0
    for section in (response.answer, response.authority):
        sigs = {(r.name, r.covers): r for r in section if r.rdtype == dns.rdatatype.RRSIG}
        for rrset in section:
            if rrset.rdtype == dns.rdatatype.RRSIG:
                continue
            sig = sigs.get((rrset.name, rrset.rdtype))
            assert sig is not None, f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} came unsigned"
            dns.dnssec.validate(rrset, sig, {origin: keys})
            checked += 1
    return checked


def test_a_real_dns_server_serving_the_signed_zone_file_gives_answers_and_denials_that_validate(
    world: World, bind_server: BindServer
) -> None:
    """named (no DNSSEC of its own) serves the file the operator wrote; dnspython asks it with the DO
    bit, and every answer, and the NSEC3 proof of a name that does not exist, validates."""
    zone = f"served-{uuid.uuid4().hex[:6]}.example"
    apply(world.plane, world.namespace, [zone_doc("served", zone, dnssec={"enabled": True})])
    apply(world.plane, world.namespace, [site_doc("www-served", f"www.{zone}", "192.0.2.20")])
    _wait_dnssec(world, "served", "True", "Signed")
    wait_until(lambda: _served(world, zone).get_rdataset(f"www.{zone}.", "A") is not None, 60, "www signed in")
    path = world.zone_dir / f"{zone}.zone"
    serial = _served(world, zone).get_soa().serial
    bind_server.serve_zone_file(zone, path)
    wait_until(
        lambda: any(
            r.rdtype == dns.rdatatype.SOA and r[0].serial >= serial for r in _ask(bind_server, zone, "SOA").answer
        ),
        30,
        "named serving the zone file",
    )
    origin = dns.name.from_text(zone)
    keys = next(r for r in _ask(bind_server, zone, "DNSKEY").answer if r.rdtype == dns.rdatatype.DNSKEY)
    assert _validate_sections(_ask(bind_server, zone, "DNSKEY"), keys, origin) == 1
    answer = _ask(bind_server, f"www.{zone}", "A")
    assert next(r.to_text() for r in answer.answer if r.rdtype == dns.rdatatype.A).endswith("192.0.2.20")
    assert _validate_sections(answer, keys, origin) >= 1
    # A name that does not exist: NXDOMAIN, with NSEC3 records that validate and cover its hash.
    denial = _ask(bind_server, f"nothere.{zone}", "A")
    assert denial.rcode() == dns.rcode.NXDOMAIN
    assert _validate_sections(denial, keys, origin) >= 2  # SOA and NSEC3(s)
    hashed = dns.dnssec.nsec3_hash(f"nothere.{zone}", None, 0, 1)
    nsec3 = [r for r in denial.authority if r.rdtype == dns.rdatatype.NSEC3]
    assert any(_covers(r.name.labels[0].decode().upper(), r[0].next, hashed) for r in nsec3)
    # A type that does not exist at a name that does (NODATA): the NSEC3 of that name proves it.
    nodata = _ask(bind_server, f"www.{zone}", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert _validate_sections(nodata, keys, origin) >= 2


def test_after_an_operator_restart_the_same_key_goes_on_signing(world: World) -> None:
    zone = f"restart-{uuid.uuid4().hex[:6]}.example"
    apply(world.plane, world.namespace, [zone_doc("restarted", zone, dnssec={"enabled": True})])
    obj = _wait_dnssec(world, "restarted", "True", "Signed")
    dnskeys = obj["status"]["dnssec"]["dnskeys"]
    started = world.operator.log().count("siteplane started")
    world.operator.stop()
    last = min(s.expiration for s in _signatures(_served(world, zone)))
    world.operator.start()
    wait_until(lambda: world.operator.log().count("siteplane started") > started, 60, "operator restart")
    # Signatures refreshed by the new process, with the key from the Secret: the DS stays valid.
    wait_until(
        lambda: min(s.expiration for s in _signatures(_served(world, zone))) > last, VALIDITY, "signatures refreshed"
    )
    served = _served(world, zone)
    assert [k.to_text() for k in served.find_rdataset(served.origin, dns.rdatatype.DNSKEY)] == dnskeys
    assert validate_every_rrset(served) >= 5
    assert condition(_zone_obj(world, "restarted"), "DNSSECReady")["status"] == "True"
    assert "could not be read" not in world.operator.log()


def test_deleting_a_signed_zone_removes_its_file_and_its_key_secret(world: World) -> None:
    zone = f"deleted-{uuid.uuid4().hex[:6]}.example"
    apply(world.plane, world.namespace, [zone_doc("doomed", zone, dnssec={"enabled": True})])
    obj = _wait_dnssec(world, "doomed", "True", "Signed")
    name = secret_name(zone, obj["metadata"]["uid"])
    world.plane.kubectl("get", "secret", name, "-n", world.key_namespace)
    world.plane.kubectl("delete", "dnszone", "doomed", "-n", world.namespace, "--timeout=60s")
    assert not (world.zone_dir / f"{zone}.zone").exists()
    gone = world.plane.kubectl("get", "secret", name, "-n", world.key_namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


@pytest.mark.parametrize("denial", ["NSEC3", "NSEC"])
def test_bind_dnssec_verify_finds_a_zone_file_with_cuts_wildcards_and_empty_non_terminals_fully_signed(
    tmp_path: Path, denial: str
) -> None:
    """BIND's dnssec-verify, an implementation independent of dnspython, checks every signature and
    the completeness of the denial chain (-z: one combined key signs everything)."""
    key = signing.generate_key(time.time())
    backend = ZoneFileBackend(tmp_path)
    soa = SOASettings(mname="ns1.example.net.", rname="hostmaster.example.com.")
    sets = [
        apex_ns(3600, ["ns1.example.net", "ns2.example.org"]),
        record_set("www", "A", 300, ["192.0.2.1"]),
        record_set("a.b.c", "TXT", 300, ["deep"]),
        record_set("*.dev", "A", 300, ["192.0.2.10"]),
        record_set("sub", "NS", 300, ["ns.sub.example.com"]),
        record_set("ns.sub", "A", 300, ["192.0.2.53"]),
    ]
    settings = DnssecSettings(denial=denial, signing_keys=(key,))  # type: ignore[arg-type]
    backend.create_zone(ZoneConfig("example.com", soa, settings), sets)
    done = subprocess.run(
        [DNSSEC_VERIFY, "-z", "-o", "example.com", str(backend.path("example.com"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "Zone fully signed" in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_lost_key_secret_is_not_silently_replaced_and_a_restored_one_signs_on(world: World) -> None:
    """A new key would not match the DS at the registrar: with the Secret gone, the restarted
    operator says so and keeps the served zone as it is; once the Secret is back it signs on."""
    zone = f"lost-{uuid.uuid4().hex[:6]}.example"
    apply(world.plane, world.namespace, [zone_doc("lost", zone, dnssec={"enabled": True})])
    obj = _wait_dnssec(world, "lost", "True", "Signed")
    name = secret_name(zone, obj["metadata"]["uid"])
    saved = json.loads(world.plane.kubectl("get", "secret", name, "-n", world.key_namespace, "-o", "json").stdout)
    world.operator.stop()
    world.plane.kubectl("delete", "secret", name, "-n", world.key_namespace)
    world.operator.start()

    def says_gone() -> bool:
        ready = condition(_zone_obj(world, "lost"))
        return ready.get("status") == "False" and "is gone; restore it" in ready.get("message", "")

    wait_until(
        says_gone, 60, "Ready=False naming the lost Secret", lambda: json.dumps(_zone_obj(world, "lost")["status"])
    )
    assert world.plane.kubectl("get", "secret", name, "-n", world.key_namespace, check=False).returncode != 0
    served = _served(world, zone)
    assert [k.to_text() for k in served.find_rdataset(served.origin, dns.rdatatype.DNSKEY)] == obj["status"]["dnssec"][
        "dnskeys"
    ]

    restored = {k: saved[k] for k in ("apiVersion", "kind", "type", "immutable", "data")}
    restored["metadata"] = {"name": name, "namespace": world.key_namespace, "labels": saved["metadata"]["labels"]}
    world.plane.kubectl("create", "-f", "-", stdin=json.dumps(restored))
    wait_until(lambda: condition(_zone_obj(world, "lost")).get("status") == "True", 90, "Ready again")
    obj = _wait_dnssec(world, "lost", "True", "Signed")
    served = _served(world, zone)
    assert [k.to_text() for k in served.find_rdataset(served.origin, dns.rdatatype.DNSKEY)] == obj["status"]["dnssec"][
        "dnskeys"
    ]
    validate_every_rrset(served)
