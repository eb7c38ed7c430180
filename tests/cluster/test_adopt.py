"""Adopting a live zone changes nothing: on BIND, on PowerDNS and in a zone file.

Each case loads the same zone onto a real server the way a hosting company has it (named loads a
hand-written file through rndc addzone; PowerDNS imports it with pdnsutil load-zone; the zone-file
backend's directory holds it), runs ``siteplane adopt`` as a separate process against the server
(AXFR with TSIG, the PowerDNS API, the file), applies its output with kubectl, and runs the real
operator with that server as its default backend until every object is Ready. Then:

- the operator sent nothing to the server: the backend's write counter (BackendStats.writes:
  UPDATE messages, PATCH/PUT/POST requests, zone files written) is 0;
- the zone as served, read by dnspython alone (AXFR from the servers, the file parsed), is the
  same text before and after: every record of every record set, TTLs, and the SOA with its serial;
  for the zone file, the file's bytes too;
- and the counter is live: one TTL changed through a DNSRecord afterwards is exactly one write.

The zone holds what tends to go wrong in a conversion: TXT with quotes, a backslash and a semicolon,
a 300-byte TXT served as the 255 + 45 strings a DNSRecord would split it into, a CAA set mixing flags
0 and 128, a wildcard and an uncompressed IPv6 address on the hosting network (Sites), one outside it
in capitals, an SRV set of two. What the manifests cannot describe (an SSHFP, a TXT of two strings
split elsewhere) is in the report, and stays served as it was.

A hostile zone (a table of what a DNSRecord cannot say, each row loaded where the server takes it)
is adopted around those rows on each server: each is one finding, the rest is adopted, and the
operator leaves them served untouched. A list of zones from BIND and a directory of zone files (a
parent and its child) are adopted in one run each.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import dns.query
import dns.tsigkeyring
import dns.zone
import pytest

from harness.bind import BindServer
from harness.controlplane.cluster import ControlPlane
from harness.dns_targets import BindTarget, PowerDNSTarget, Target, ZoneFileTarget
from harness.operator_runner import operator_running
from harness.powerdns import PowerDNSServer
from siteplane.config import Config
from siteplane.dns.backend import Backend
from siteplane.store.migrate import upgrade
from tests.backend_targets import PowerDNSTarget as PowerDNSTool
from tests.reconcile_support import apply, objects, wait_all, wait_until

pytestmark = pytest.mark.cluster
KINDS = ["zonefile", "rfc2136", "powerdns"]
SITE_ADDRESSES = "203.0.113.0/24,2001:db8::/32"

HEAD = """\
$TTL 3600
@ IN SOA ns1.hosting.example.net. hostmaster.hosting.example.net. ( 2024010101 7200 900 1209600 300 )
@ IN NS ns1.hosting.example.net.
@ IN NS ns2.hosting.example.net.
"""
RECORDS = f"""\
@ IN A 203.0.113.10
@ IN AAAA 2001:db8::10
www IN A 203.0.113.10
www IN AAAA 2001:db8::10
blog 300 IN A 203.0.113.11
mail IN A 198.51.100.25
@ IN MX 10 mail
@ IN TXT "v=spf1 mx -all"
_dmarc IN TXT "v=DMARC1; p=reject"
_sip._tcp IN SRV 10 5 5060 sip.example.net.
@ IN CAA 0 issue "letsencrypt.org"
shop IN NS ns1.shop-dns.example.net.
docs IN CNAME pages.example.net.
10 IN PTR host10.example.net.
host IN SSHFP 1 1 0123456789abcdef0123456789abcdef01234567
multi IN TXT "part one" "part two"
*.dev IN A 203.0.113.20
v6 IN AAAA 2001:0db8:0000:0000:0000:0000:0000:0042
ext IN AAAA 2001:0DB9::1
@ IN CAA 128 iodef "mailto:security@example.com"
quote IN TXT "say \\"hi\\"; back\\\\slash"
long IN TXT "{"a" * 255}" "{"b" * 45}"
_xmpp._tcp IN SRV 5 0 5269 xmpp1.example.net.
_xmpp._tcp IN SRV 10 0 5269 xmpp2.example.net.
"""
NOT_DESCRIBED = {("host", "SSHFP"), ("multi", "TXT")}
# Sites: example.com (www an alias), blog, *.dev, v6; they publish 7 A/AAAA sets. Every other record
# set is a DNSRecord (the two CAA records are one set); the zone serves those and its apex NS.
SITES, SITE_SETS, DNSRECORDS = 4, 7, 13
RECORD_SETS = 1 + SITE_SETS + DNSRECORDS


@dataclass
class Served:
    """How to read the zone as served without siteplane's code, and how the adopt command reaches it."""

    target: Target
    text: Callable[[], str]  # the whole zone, SOA and serial included, as dnspython renders it sorted
    adopt_args: list[str]
    raw: Callable[[], bytes] | None = None


def _rendered(zone: dns.zone.Zone) -> str:
    return str(zone.to_text(sorted=True, relativize=False))


def _preload(kind: str, zone: str, request: pytest.FixtureRequest, tmp_path: Path, records: str = RECORDS) -> Served:
    text = HEAD + records
    if kind == "zonefile":
        directory = tmp_path / "zones"
        directory.mkdir()
        path = directory / f"{zone}.zone"
        path.write_text(text)
        return Served(
            ZoneFileTarget(directory),
            lambda: _rendered(dns.zone.from_file(str(path), origin=zone, relativize=False)),
            ["--from-file", str(path)],
            raw=path.read_bytes,
        )
    if kind == "rfc2136":
        bind: BindServer = request.getfixturevalue("bind_server")
        bind.add_zone(zone, records, head=HEAD)
        keyring = dns.tsigkeyring.from_text({bind.tsig_name: (bind.tsig_algorithm, bind.tsig_secret)})
        secret = tmp_path / "tsig.secret"
        secret.write_text(bind.tsig_secret)

        def axfr() -> str:
            messages = dns.query.xfr(
                bind.address, zone + ".", port=bind.port, keyring=keyring, timeout=5, relativize=False
            )
            return _rendered(dns.zone.from_xfr(messages, relativize=False))

        args = ["--from-axfr", f"{bind.address}:{bind.port}", "--zone", zone, "--tsig-name", bind.tsig_name]
        return Served(BindTarget(bind), axfr, [*args, "--tsig-secret-file", str(secret)])
    pdns: PowerDNSServer = request.getfixturevalue("powerdns_server")
    # pdnsutil runs as the server's account: the file must be readable by it.
    with tempfile.TemporaryDirectory() as shared:
        os.chmod(shared, 0o755)
        path = Path(shared) / f"{zone}.zone"
        path.write_text(f"$ORIGIN {zone}.\n" + text)
        path.chmod(0o644)
        PowerDNSTool(pdns).pdnsutil("load-zone", zone, str(path))
    key = tmp_path / "pdns.key"
    key.write_text(pdns.api_key)

    def pdns_axfr() -> str:
        messages = dns.query.xfr(pdns.address, zone + ".", port=pdns.port, timeout=5, relativize=False)
        return _rendered(dns.zone.from_xfr(messages, relativize=False))

    args = ["--from-powerdns", pdns.api_url, "--server-id", pdns.server_id, "--zone", zone]
    return Served(PowerDNSTarget(pdns), pdns_axfr, [*args, "--api-key-file", str(key)])


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Served]]:
    zone = f"adopt-{request.param}-{uuid.uuid4().hex[:6]}.example"
    yield zone, _preload(request.param, zone, request, tmp_path)


def _adopt(args: list[str], out: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    report = out.parent / "adopt-report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "siteplane",
            "adopt",
            *args,
            "--site-addresses",
            SITE_ADDRESSES,
            "-o",
            str(out),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, json.loads(report.read_text())


def _zone_status(plane: ControlPlane, namespace: str) -> dict[str, object]:
    return dict(objects(plane, namespace, "dnszones")[0].get("status", {}))


@pytest.mark.parametrize("served", KINDS, indirect=True)
def test_adopted_manifests_applied_onto_the_live_zone_change_nothing(
    served: tuple[str, Served], control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    zone, server = served
    before, raw_before = server.text(), server.raw() if server.raw else None

    out = tmp_path / "adopted"
    done, report = _adopt([*server.adopt_args, "--namespace", namespace], out)
    assert done.returncode == 0, done.stderr
    assert {(f["name"], f["type"]) for f in report["findings"]} == NOT_DESCRIBED  # type: ignore[index, union-attr]
    assert report["objects"] == {"dnszones": 1, "sites": SITES, "dnsrecords": DNSRECORDS}, report
    for name, rtype in NOT_DESCRIBED:
        assert f"{name}/{rtype}" in done.stderr

    with _operator(control_plane, namespace, tmp_path, server.target) as backend:
        control_plane.kubectl("apply", "-R", "-f", str(out / zone))
        for plural in ("dnszones", "sites", "dnsrecords"):
            wait_all(control_plane, namespace, plural, timeout=120)
        # The zone's status follows the sync that made the last object Ready within moments.
        wait_until(
            lambda: _zone_status(control_plane, namespace).get("recordCount") == RECORD_SETS,
            30,
            "the zone counting every record set",
            lambda: str(_zone_status(control_plane, namespace)),
        )
        assert _zone_status(control_plane, namespace)["serial"] == 2024010101
        stats = backend().stats
        assert stats.writes == 0 and stats.full_reads >= 1, stats  # it did read the zone, and wrote nothing
        assert server.text() == before
        if server.raw is not None:
            assert server.raw() == raw_before

        # The counter is live: one real change through the manifests is one write.
        control_plane.kubectl(
            "patch", "dnsrecord", f"mail.{zone}-a", "-n", namespace, "--type=merge", "-p", '{"spec":{"ttl":600}}'
        )
        wait_until(lambda: stats.writes == 1, 60, "the TTL change written", lambda: str(stats))
        assert server.text() != before


@contextlib.contextmanager
def _operator(plane: ControlPlane, namespace: str, tmp_path: Path, target: Target) -> Iterator[Callable[[], Backend]]:
    """The real operator (in-process, SQLite) serving ``namespace``, ``target`` its default DNSBackend;
    yields how to get the backend it built for it (its counters are the operator's)."""
    name = f"b-{uuid.uuid4().hex[:8]}"
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(url)
    config = Config(
        database_url=url,
        namespaces=(namespace,),
        zone_dir=str(tmp_path / "embedded-zones"),
        default_backend=name,
        backend_recheck_interval=2.0,
    )
    apply(plane, namespace, target.manifests(name, namespace))
    try:
        with operator_running(plane.kubeconfig, config) as memo:

            def backend() -> Backend:
                instance = memo["operator"].backends.instance(name)
                assert instance is not None, f"the operator has not built DNSBackend {name}"
                return cast(Backend, instance)

            yield backend
    finally:
        plane.kubectl("delete", "dnsbackend", name, "--wait=false", check=False)


def test_a_list_of_zones_is_adopted_from_bind_with_progress_and_a_zone_it_does_not_serve_is_reported(
    bind_server: BindServer, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:6]
    zones = [f"list{i}-{prefix}.example" for i in range(25)]
    for zone in zones:
        bind_server.add_zone(zone, "www IN A 203.0.113.7\n@ IN MX 10 mail.example.net.\n")
    missing = f"missing-{prefix}.example"
    (tmp_path / "zones.txt").write_text("\n".join([*zones, missing]) + "\n")
    (tmp_path / "tsig.secret").write_text(bind_server.tsig_secret)
    args = ["--from-axfr", f"{bind_server.address}:{bind_server.port}", "--zone-list", str(tmp_path / "zones.txt")]
    args += ["--tsig-name", bind_server.tsig_name, "--tsig-secret-file", str(tmp_path / "tsig.secret")]
    out = tmp_path / "adopted"
    done, report = _adopt(args, out)
    assert done.returncode == 1, done.stderr  # one zone was not adopted
    assert "adopted 25/26 zones (26 read)" in done.stderr
    assert report["zones"] == {"read": 26, "adopted": 25, "notAdopted": 1}
    assert report["objects"] == {"dnszones": 25, "sites": 25, "dnsrecords": 25}
    [finding] = report["findings"]  # type: ignore[index]
    assert finding["zone"] == missing and "does not serve" in finding["reason"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(zones)
    for zone in zones:
        bind_server.delete_zone(zone)


def test_a_directory_of_zone_files_with_a_parent_and_its_child_is_adopted_and_applied_without_a_write(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    parent = f"adopt-dir-{uuid.uuid4().hex[:6]}.example"
    child = f"shop.{parent}"
    directory = tmp_path / "zones"
    directory.mkdir()
    files = {
        parent: HEAD + RECORDS.replace("shop IN NS ns1.shop-dns.example.net.", "shop IN NS ns1.hosting.example.net."),
        child: HEAD + "@ IN A 203.0.113.30\nwww IN A 203.0.113.30\n@ IN MX 10 mail.example.net.\n",
    }
    for zone, text in files.items():
        (directory / f"{zone}.zone").write_text(text)
    before = {zone: (directory / f"{zone}.zone").read_bytes() for zone in files}

    out = tmp_path / "adopted"
    done, report = _adopt(["--from-file", str(directory), "--namespace", namespace], out)
    assert done.returncode == 0, done.stderr
    assert "adopted 2/2 zones (2 read)" in done.stderr
    assert report["objects"] == {"dnszones": 2, "sites": SITES + 1, "dnsrecords": DNSRECORDS + 1}

    with _operator(control_plane, namespace, tmp_path, ZoneFileTarget(directory)) as backend:
        control_plane.kubectl("apply", "-R", "-f", str(out))
        for plural in ("dnszones", "sites", "dnsrecords"):
            wait_all(control_plane, namespace, plural, timeout=120)
        assert backend().stats.writes == 0, backend().stats
    assert {zone: (directory / f"{zone}.zone").read_bytes() for zone in files} == before


# A hostile zone, one line per case: what a DNSRecord cannot say. (name, type, zone-file line, the
# servers that refuse to load such a line at all, so that it is left out of their zone.)
HOSTILE: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("host", "SSHFP", "host IN SSHFP 1 1 0123456789abcdef0123456789abcdef01234567", ()),
    ("old", "HINFO", 'old IN HINFO "PDP-11" "UNIX"', ()),
    ("moved", "DNAME", "moved IN DNAME elsewhere.example.net.", ()),
    ("odd_name", "A", "odd_name IN A 192.0.2.1", ("rfc2136",)),  # named's check-names refuses the zone
    ("zero", "A", "zero 0 IN A 192.0.2.3", ()),
    ("slow", "A", "slow 604801 IN A 192.0.2.4", ()),
    ("multi", "TXT", 'multi IN TXT "one" "two"', ()),
    ("big", "TXT", "big IN TXT " + " ".join(['"' + "x" * 250 + '"'] * 9), ()),
    ("ctl", "TXT", 'ctl IN TXT "bell\\007"', ()),
    ("nomail", "MX", "nomail IN MX 0 .", ()),
    ("acme", "CNAME", "acme IN CNAME _acme.validation.example.net.", ()),
    ("ca", "CAA", 'ca IN CAA 0 Issue "letsencrypt.org"', ()),
    ("_x._tcp", "SRV", "_x._tcp IN SRV 0 0 0 .", ()),
    # Over the schema's 500 values; named refuses it too (max-records-per-type, 100 by default).
    ("many", "A", "\n".join(f"many IN A 10.0.{i // 250}.{i % 250}" for i in range(501)), ("rfc2136",)),
]


@pytest.mark.parametrize("kind", KINDS)
def test_a_hostile_zone_is_adopted_around_what_cannot_be_described_which_stays_served_untouched(
    kind: str, request: pytest.FixtureRequest, control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    rows = [(name, rtype, line) for name, rtype, line, refused_by in HOSTILE if kind not in refused_by]
    zone = f"hostile-{kind}-{uuid.uuid4().hex[:6]}.example"
    server = _preload(kind, zone, request, tmp_path, "ok IN A 192.0.2.10\n" + "\n".join(line for _, _, line in rows))
    before = server.text()

    out = tmp_path / "adopted"
    done, report = _adopt([*server.adopt_args, "--namespace", namespace], out)
    assert done.returncode == 0, done.stderr
    found = {(f["name"], f["type"]): f["reason"] for f in report["findings"]}  # type: ignore[union-attr]
    assert set(found) == {(name, rtype) for name, rtype, _ in rows}, found
    assert report["objects"] == {"dnszones": 1, "sites": 0, "dnsrecords": 1}

    with _operator(control_plane, namespace, tmp_path, server.target) as backend:
        control_plane.kubectl("apply", "-R", "-f", str(out))
        for plural in ("dnszones", "dnsrecords"):
            wait_all(control_plane, namespace, plural, timeout=120)
        assert backend().stats.writes == 0, backend().stats
        assert server.text() == before  # every hostile record set still served as it was


def test_allow_changes_adopts_a_zone_whose_apex_ns_ttl_it_cannot_keep_and_the_first_sync_changes_just_that(
    request: pytest.FixtureRequest, control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    zone = f"ns-ttl-{uuid.uuid4().hex[:6]}.example"
    server = _preload("zonefile", zone, request, tmp_path, RECORDS)
    path = Path(server.adopt_args[1])
    path.write_text(path.read_text().replace("@ IN NS ", "@ 86400 IN NS "))  # both records of the set
    before = server.text()

    refused, report = _adopt([*server.adopt_args, "--namespace", namespace], tmp_path / "refused")
    assert refused.returncode == 1 and report["zones"] == {"read": 1, "adopted": 0, "notAdopted": 1}
    assert "apex NS has TTL 86400 and the SOA TTL 3600" in refused.stderr

    out = tmp_path / "adopted"
    done, report = _adopt([*server.adopt_args, "--namespace", namespace, "--allow-changes"], out)
    assert done.returncode == 0, done.stderr
    assert "the operator's first sync will change this" in done.stderr
    with _operator(control_plane, namespace, tmp_path, server.target) as backend:
        control_plane.kubectl("apply", "-R", "-f", str(out))
        for plural in ("dnszones", "sites", "dnsrecords"):
            wait_all(control_plane, namespace, plural, timeout=120)
        assert backend().stats.writes == 1, backend().stats
    after = server.text()
    changed = set(after.splitlines()) ^ set(before.splitlines())
    # The NS set at TTL 3600 now, and the serial raised: nothing else.
    assert {line.split()[3] for line in changed} == {"NS", "SOA"}, changed
