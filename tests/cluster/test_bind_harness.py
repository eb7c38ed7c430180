"""The BIND 9 test harness: a real named that takes rndc addzone/delzone and TSIG-signed RFC 2136 updates."""

from __future__ import annotations

import base64
import os
import pwd
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import dns.xfr
import dns.zone
import pytest

from harness.bind import BindServer, running_bind

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    with running_bind() as server:
        yield server


def _keyring(server: BindServer, secret: str | None = None) -> dict[dns.name.Name, dns.tsig.Key]:
    return dns.tsigkeyring.from_text({server.tsig_name: (server.tsig_algorithm, secret or server.tsig_secret)})


def _query(server: BindServer, name: str, rdtype: str = "SOA") -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, rdtype), server.address, port=server.port, timeout=3)


def _update(zone: str, server: BindServer | None, secret: str | None = None) -> dns.update.UpdateMessage:
    """An update adding www.<zone> A 192.0.2.10; signed with the server's key (or ``secret``) unless server is None."""
    if server is None:
        update = dns.update.UpdateMessage(zone)
    else:
        update = dns.update.UpdateMessage(zone, keyring=_keyring(server, secret), keyalgorithm=server.tsig_algorithm)
    update.add("www", 300, "A", "192.0.2.10")
    return update


def _alive(pid: int) -> bool:
    """True while ``pid`` is a running process; a zombie counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_added_zone_answers_authoritatively(bind: BindServer) -> None:
    bind.add_zone("soa.test", "host A 192.0.2.1")
    response = _query(bind, "soa.test.")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    (soa,) = response.answer
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa[0].mname == dns.name.from_text("ns1.example.net.")
    assert soa[0].serial == 1
    # The extra records given to add_zone are in the zone too.
    assert _query(bind, "host.soa.test.", "A").answer[0][0].address == "192.0.2.1"


def test_signed_update_is_applied_and_unsigned_or_badly_signed_ones_are_not(bind: BindServer) -> None:
    bind.add_zone("update.test")

    response = dns.query.tcp(_update("update.test", bind), bind.address, port=bind.port, timeout=5)
    assert response.rcode() == dns.rcode.NOERROR
    answer = _query(bind, "www.update.test.", "A")
    assert answer.flags & dns.flags.AA
    assert [rdata.address for rdata in answer.answer[0]] == ["192.0.2.10"]
    assert _query(bind, "update.test.").answer[0][0].serial == 2  # named bumps the serial itself

    # allow-update names only the key: without a signature the update is refused outright.
    unsigned = dns.query.tcp(_update("update.test", None), bind.address, port=bind.port, timeout=5)
    assert unsigned.rcode() == dns.rcode.REFUSED

    # A signature with the wrong secret: named answers NOTAUTH carrying a TSIG record with error
    # BADSIG and an empty MAC, and dnspython, checking that reply against our key, raises
    # PeerBadSignature (its exception for a peer-reported BADSIG) rather than returning it.
    wrong_secret = base64.b64encode(b"not the key" * 3).decode()
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.query.tcp(_update("update.test", bind, wrong_secret), bind.address, port=bind.port, timeout=5)
    # Nothing changed by either.
    assert _query(bind, "update.test.").answer[0][0].serial == 2


def test_signed_axfr_returns_the_zone_and_unsigned_is_refused(bind: BindServer) -> None:
    bind.add_zone("xfr.test", "a A 192.0.2.1\nb TXT hello")

    zone = dns.zone.from_xfr(
        dns.query.xfr(
            bind.address,
            "xfr.test.",
            port=bind.port,
            keyring=_keyring(bind),
            keyalgorithm=bind.tsig_algorithm,
            timeout=5,
        )
    )
    names = {name.to_text() for name in zone.nodes}
    assert names == {"@", "a", "b"}
    assert zone.find_rdataset("b", "TXT")[0].strings == (b"hello",)

    # allow-transfer names only the key.
    with pytest.raises(dns.xfr.TransferError) as refused:
        dns.zone.from_xfr(dns.query.xfr(bind.address, "xfr.test.", port=bind.port, timeout=5))
    assert refused.value.rcode == dns.rcode.REFUSED


def test_deleted_zone_stops_answering(bind: BindServer) -> None:
    path = bind.add_zone("gone.test")
    assert _query(bind, "gone.test.").rcode() == dns.rcode.NOERROR
    bind.delete_zone("gone.test")
    # Not authoritative any more and no recursion: named refuses.
    assert _query(bind, "gone.test.").rcode() == dns.rcode.REFUSED
    assert not path.exists()  # -clean removed the zone file
    with pytest.raises(RuntimeError, match="not found"):
        bind.rndc("zonestatus", "gone.test")


def test_restart_keeps_ports_and_dynamically_added_zones(bind: BindServer) -> None:
    bind.add_zone("restart.test")
    response = dns.query.tcp(_update("restart.test", bind), bind.address, port=bind.port, timeout=5)
    assert response.rcode() == dns.rcode.NOERROR
    port, control_port, pid = bind.port, bind.control_port, bind.pids()[0]

    started = time.monotonic()
    bind.stop()
    stop_seconds = time.monotonic() - started
    assert not bind.running and not _alive(pid)
    bind.stop()  # idempotent
    bind.start()

    assert (bind.port, bind.control_port) == (port, control_port)
    assert bind.pids()[0] != pid
    # The rndc addzone survived in the .nzd file, and the update survived in the journal.
    assert list(bind.workdir.glob("*.nzd"))
    answer = _query(bind, "www.restart.test.", "A")
    assert answer.flags & dns.flags.AA
    assert answer.answer[0][0].address == "192.0.2.10"
    print(f"stop {stop_seconds:.2f}s, restart {bind.startup_seconds:.2f}s")


def test_context_manager_leaves_no_process_or_directory_behind() -> None:
    with running_bind() as server:
        (pid,) = server.pids()
        workdir, port = server.workdir, server.port
        assert _alive(pid)
        # Unprivileged: started as the bind account when we are root, as ourselves otherwise.
        expected_uid = pwd.getpwnam("bind").pw_uid if os.geteuid() == 0 else os.geteuid()
        assert Path(f"/proc/{pid}").stat().st_uid == expected_uid
    assert not _alive(pid)
    assert not workdir.exists()
    # Nobody answers on the port any more (an unconnected UDP socket sees no ICMP error: a timeout).
    with pytest.raises((dns.exception.Timeout, OSError)):
        dns.query.udp(dns.message.make_query(".", "SOA"), "127.0.0.1", port=port, timeout=0.5)
