"""The PowerDNS test harness: a real authoritative server, driven through its HTTP API, that can restart."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from harness.powerdns import PowerDNSServer, quote_txt, running_powerdns

pytestmark = pytest.mark.cluster

ZONE = "example.test."
ZONES = "/api/v1/servers/localhost/zones"
# Quotes, a semicolon (a comment in zone-file syntax) and a backslash: everything TXT quoting must survive.
TXT_STRINGS = ('v=spf1 a; include:"_spf.example.net" -all', "back\\slash; two")


@pytest.fixture(scope="module")
def pdns() -> Iterator[PowerDNSServer]:
    with running_powerdns() as server:
        yield server


def _create_zone(pdns: PowerDNSServer, name: str = ZONE) -> None:
    status, body = pdns.api("POST", ZONES, {"name": name, "kind": "Native", "nameservers": ["ns1.example.net."]})
    assert status == 201, body


@pytest.fixture
def zone(pdns: PowerDNSServer) -> Iterator[str]:
    """``example.test.`` exists for the test, and not after it (whatever the test did to it)."""
    _create_zone(pdns)
    yield ZONE
    status, body = pdns.api("DELETE", f"{ZONES}/{ZONE}")
    assert status in (204, 404), body


def _answer(response: dns.message.Message, name: str, rdtype: str) -> list[str]:
    rrset = response.get_rrset(
        response.answer, dns.name.from_text(name), dns.rdataclass.IN, dns.rdatatype.from_text(rdtype)
    )
    return [] if rrset is None else sorted(rdata.to_text() for rdata in rrset)


def _port_free(port: int) -> bool:
    """Both UDP and TCP on 127.0.0.1:``port`` can be bound again.

    SO_REUSEADDR for TCP only: it lets a server bind over TIME_WAIT leftovers of our own queries, as
    pdns itself does, but still fails on a listener. For UDP it could share a live socket, so not there.
    """
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _alive(pid: int) -> bool:
    """True while ``pid`` is a running process; a zombie counts as dead (PID 1 may never reap it here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_create_zone_answers_soa_authoritatively_over_udp_and_tcp(pdns: PowerDNSServer) -> None:
    _create_zone(pdns)
    try:
        for tcp in (False, True):
            response = pdns.query(ZONE, "SOA", tcp=tcp)
            assert response.rcode() == dns.rcode.NOERROR
            assert response.flags & dns.flags.AA
            (soa,) = _answer(response, ZONE, "SOA")
            assert soa.startswith("ns1.siteplane.invalid. hostmaster.example.test. ")
        assert _answer(pdns.query(ZONE, "NS"), ZONE, "NS") == ["ns1.example.net."]
        status, body = pdns.api("GET", f"{ZONES}/{ZONE}")
        assert status == 200 and body["kind"] == "Native"
    finally:
        pdns.api("DELETE", f"{ZONES}/{ZONE}")


def test_patch_replaces_two_rrsets_at_once_and_delete_removes_them(pdns: PowerDNSServer, zone: str) -> None:
    www = f"www.{zone}"
    status, body = pdns.api(
        "PATCH",
        f"{ZONES}/{zone}",
        {
            "rrsets": [
                {
                    "name": www,
                    "type": "A",
                    "ttl": 60,
                    "changetype": "REPLACE",
                    "records": [{"content": "192.0.2.10", "disabled": False}, {"content": "192.0.2.11"}],
                },
                {
                    "name": www,
                    "type": "TXT",
                    "ttl": 60,
                    "changetype": "REPLACE",
                    "records": [{"content": quote_txt(*TXT_STRINGS), "disabled": False}],
                },
            ]
        },
    )
    assert status == 204, body

    assert _answer(pdns.query(www, "A"), www, "A") == ["192.0.2.10", "192.0.2.11"]
    response = pdns.query(www, "TXT")
    txt = response.get_rrset(response.answer, dns.name.from_text(www), dns.rdataclass.IN, dns.rdatatype.TXT)
    assert txt is not None
    assert [tuple(s.decode() for s in rdata.strings) for rdata in txt] == [TXT_STRINGS]

    status, body = pdns.api(
        "PATCH",
        f"{ZONES}/{zone}",
        {"rrsets": [{"name": www, "type": t, "changetype": "DELETE"} for t in ("A", "TXT")]},
    )
    assert status == 204, body
    for rdtype in ("A", "TXT"):
        response = pdns.query(www, rdtype)
        assert response.rcode() == dns.rcode.NXDOMAIN  # no other records at www: the name is gone
        assert response.flags & dns.flags.AA


def test_wrong_api_key_gets_401_and_changes_nothing(pdns: PowerDNSServer, zone: str) -> None:
    before = pdns.api("GET", f"{ZONES}/{zone}")
    patch = {"rrsets": [{"name": f"evil.{zone}", "type": "A", "ttl": 60, "changetype": "REPLACE",
                         "records": [{"content": "192.0.2.66"}]}]}  # fmt: skip
    for method, path, body in (
        ("GET", ZONES, None),
        ("PATCH", f"{ZONES}/{zone}", patch),
        ("DELETE", f"{ZONES}/{zone}", None),
        ("POST", ZONES, {"name": "other.test.", "kind": "Native", "nameservers": []}),
    ):
        status, _ = pdns.api(method, path, body, api_key="not-the-key")
        assert status == 401, (method, path)
        status, _ = pdns.api(method, path, body, api_key="")
        assert status == 401, (method, path)
    assert pdns.api("GET", f"{ZONES}/{zone}") == before
    assert pdns.api("GET", f"{ZONES}/other.test.")[0] == 404
    assert pdns.query(f"evil.{zone}", "A").rcode() == dns.rcode.NXDOMAIN


def test_deleted_zone_stops_answering(pdns: PowerDNSServer, zone: str) -> None:
    assert pdns.query(zone, "SOA").rcode() == dns.rcode.NOERROR
    status, body = pdns.api("DELETE", f"{ZONES}/{zone}")
    assert status == 204, body
    response = pdns.query(zone, "SOA")
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.answer
    assert pdns.api("GET", f"{ZONES}/{zone}")[0] == 404


def test_stop_and_start_keep_zones_ports_and_key(pdns: PowerDNSServer, zone: str) -> None:
    www = f"www.{zone}"
    status, body = pdns.api(
        "PATCH",
        f"{ZONES}/{zone}",
        {
            "rrsets": [
                {"name": www, "type": "A", "ttl": 60, "changetype": "REPLACE", "records": [{"content": "192.0.2.7"}]}
            ]
        },
    )
    assert status == 204, body
    api_url, port, key = pdns.api_url, pdns.port, pdns.api_key

    pdns.stop()
    pdns.stop()  # idempotent
    assert not pdns.running
    with pytest.raises(OSError):
        pdns.api("GET", "/api/v1/servers/localhost")

    pdns.start()
    assert (pdns.api_url, pdns.port, pdns.api_key) == (api_url, port, key)
    assert pdns.api("GET", f"{ZONES}/{zone}")[0] == 200
    assert _answer(pdns.query(www, "A"), www, "A") == ["192.0.2.7"]


def test_nothing_left_running_after_the_context_manager() -> None:
    with running_powerdns() as server:
        pids, workdir, ports = server.pids(), server.workdir, (server.port, server.api_port)
        assert pids and all(_alive(pid) for pid in pids)
        assert server.query("nothing.invalid.", "SOA").rcode() == dns.rcode.REFUSED
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)
    assert not workdir.exists()
    assert all(_port_free(port) for port in ports)
