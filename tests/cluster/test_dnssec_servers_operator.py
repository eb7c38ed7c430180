"""DNSSEC through the whole operator with the servers that sign themselves: the operator process
(``siteplane run``) on the real apiserver, a DNSZone with ``spec.dnssec`` on a DNSBackend of BIND 9
(RFC 2136 + rndc) or PowerDNS. The server signs; the status carries the DS of the key-signing key
the server really serves, DNSSECReady turns True, every RRset asked for validates against the
served DNSKEY set (dnspython, DO bit), a record change is served signed, and turning DNSSEC off
leaves the zone unsigned."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dns.dnssec
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from dns.rdtypes.ANY.DNSKEY import DNSKEY

from harness.controlplane.cluster import ControlPlane
from harness.dns_targets import BindTarget, PowerDNSTarget
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import OperatorProcess
from tests.conftest import fresh_database_url
from tests.reconcile_support import apply, condition, objects, wait_until

pytestmark = pytest.mark.cluster
Target = BindTarget | PowerDNSTarget


@dataclass
class World:
    plane: ControlPlane
    namespace: str
    operator: OperatorProcess


@pytest.fixture(scope="module")
def world(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("dnssec-servers")
    namespace = f"dnssec-srv-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", namespace)
    operator = OperatorProcess(
        control_plane.kubeconfig,
        fresh_database_url("sqlite", tmp, None),
        tmp / "zones",
        (namespace,),
        tmp / "operator.log",
        extra_env={
            "SITEPLANE_DNSSEC_KEY_NAMESPACE": namespace,
            "SITEPLANE_DRIFT_INTERVAL": "1",  # each sync asks the backend for the zone's DNSSEC
            "SITEPLANE_LOG_FORMAT": "text",
        },
    )
    operator.start()
    try:
        yield World(control_plane, namespace, operator)
    finally:
        operator.stop()
        print(operator.log()[-5000:])
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(
    params=[
        "rfc2136",
        "powerdns",
    ]
)
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "rfc2136":
        return BindTarget(request.getfixturevalue("bind_server"))
    return PowerDNSTarget(request.getfixturevalue("powerdns_server"))


def _zone_obj(world: World, name: str) -> dict[str, Any]:
    return next(o for o in objects(world.plane, world.namespace, "dnszones") if o["metadata"]["name"] == name)


def _wait_dnssec(world: World, name: str, status: str, reason: str, timeout: float = 90) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done() -> bool:
        nonlocal found
        found = _zone_obj(world, name)
        cond = condition(found, "DNSSECReady")
        return cond.get("status") == status and cond.get("reason") == reason

    wait_until(done, timeout, f"{name} DNSSECReady={status} ({reason})", lambda: json.dumps(found.get("status"))[:2000])
    return found


def _wait_ready(world: World, plural: str, name: str, timeout: float = 90) -> None:
    """Until ``name`` is Ready (its records served): the namespace keeps the other target's objects,
    which are not."""

    def ready() -> bool:
        found = [o for o in objects(world.plane, world.namespace, plural) if o["metadata"]["name"] == name]
        return bool(found) and condition(found[0]).get("status") == "True"

    wait_until(ready, timeout, f"{plural}/{name} Ready")


def _ask(target: Target, owner: dns.name.Name, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(owner, rdtype, want_dnssec=True)
    return dns.query.tcp(query, target.server.address, port=target.server.port, timeout=5)


def _validated(section: list[dns.rrset.RRset], keys: dns.rrset.RRset, origin: dns.name.Name) -> set[str]:
    """The types of the RRsets in ``section``, each validated by its RRSIG against ``keys``."""
    sigs = {(r.name, r.covers): r for r in section if r.rdtype == dns.rdatatype.RRSIG}
    types = set()
    for rrset in section:
        if rrset.rdtype == dns.rdatatype.RRSIG:
            continue
        sig = sigs.get((rrset.name, rrset.rdtype))
        assert sig is not None, f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} is not signed"
        dns.dnssec.validate(rrset, sig, {origin: keys})
        types.add(dns.rdatatype.to_text(rrset.rdtype))
    return types


def test_a_dnszone_with_dnssec_is_signed_by_its_server_and_its_status_says_what_the_registrar_needs(
    world: World, target: Target
) -> None:
    backend = f"b-{uuid.uuid4().hex[:8]}"
    zone = f"{target.kind}-{uuid.uuid4().hex[:6]}.example"
    name = f"z-{target.kind}"
    apply(world.plane, world.namespace, target.manifests(backend, world.namespace))
    try:
        apply(
            world.plane,
            world.namespace,
            [
                zone_doc(name, zone, backend=backend, nameServers=["ns1.example.net"], dnssec={"enabled": True}),
                site_doc(f"shop-{target.kind}", f"shop.{zone}", "192.0.2.10"),
                record_doc(f"mx-{target.kind}", zone, "@", "MX", [{"preference": 10, "host": "mx.example.net"}]),
            ],
        )
        obj = _wait_dnssec(world, name, "True", "Signed")
        # A signed zone is not yet its records: the Site and the MX record are Ready once served.
        _wait_ready(world, "sites", f"shop-{target.kind}")
        _wait_ready(world, "dnsrecords", f"mx-{target.kind}")
        origin = dns.name.from_text(zone)
        answer = _ask(target, origin, "DNSKEY").answer
        keys = next(r for r in answer if r.rdtype == dns.rdatatype.DNSKEY)
        assert _validated(answer, keys, origin) == {"DNSKEY"}
        ksks = [k for k in keys if isinstance(k, DNSKEY) and k.flags & 1]
        status = obj["status"]["dnssec"]
        assert sorted(status["ds"]) == sorted(dns.dnssec.make_ds(origin, k, "SHA256").to_text() for k in ksks)
        assert sorted(status["dnskeys"]) == sorted(k.to_text() for k in ksks)
        assert status["signaturesExpire"]
        for owner, rdtype in ((origin, "SOA"), (origin, "NS"), (origin, "MX"), (f"shop.{zone}", "A")):
            owner_name = owner if isinstance(owner, dns.name.Name) else dns.name.from_text(owner)
            assert rdtype in _validated(_ask(target, owner_name, rdtype).answer, keys, origin)
        nx = _ask(target, dns.name.from_text(f"nothere.{zone}"), "A")
        assert nx.rcode() == dns.rcode.NXDOMAIN
        assert _validated(nx.authority, keys, origin) == {"SOA", "NSEC3"}

        # A record added through Kubernetes is served signed.
        apply(world.plane, world.namespace, [site_doc(f"blog-{target.kind}", f"blog.{zone}", "192.0.2.11")])
        blog = dns.name.from_text(f"blog.{zone}")
        wait_until(lambda: bool(_ask(target, blog, "A").answer), 60, "blog served")
        assert "A" in _validated(_ask(target, blog, "A").answer, keys, origin)
        assert condition(_zone_obj(world, name), "DNSSECReady")["status"] == "True"

        # Off: the zone ends unsigned (BIND through dnssec-policy insecure, then none).
        off = zone_doc(name, zone, backend=backend, nameServers=["ns1.example.net"], dnssec={"enabled": False})
        apply(world.plane, world.namespace, [off])
        obj = _wait_dnssec(world, name, "False", "Disabled")
        assert "dnssec" not in obj["status"]
        assert not _ask(target, origin, "DNSKEY").answer
        assert not any(r.rdtype == dns.rdatatype.RRSIG for r in _ask(target, blog, "A").answer)
    finally:
        world.plane.kubectl("delete", "dnszone", name, "-n", world.namespace, "--wait=false", check=False)
        world.plane.kubectl("delete", "dnsbackend", backend, "--wait=false", check=False)
