"""``siteplane adopt --from-file`` on a directory of zone files, in-process: the manifests written per
zone, the progress and findings on stderr, the report, and the exit status.

One directory holds good zones and hostile ones: a zone with records no manifest can describe (adopted,
those records reported), files that cannot be read at all (CNAME beside other data, which dnspython
refuses as BIND does; an $INCLUDE), and a zone whose settings cannot be described (no apex NS).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from siteplane.cli import main

HEAD = """\
$TTL 3600
@ IN SOA ns1.example.net. hostmaster.example.net. ( 7 3600 600 1209600 300 )
@ IN NS ns1.example.net.
"""
GOOD = HEAD + "www IN A 203.0.113.5\n@ IN MX 10 mail.example.net.\n"
HOSTILE = (
    HEAD
    + """\
ok IN A 192.0.2.1
host IN SSHFP 1 1 0123456789abcdef0123456789abcdef01234567
odd_name IN A 192.0.2.2
zero 0 IN A 192.0.2.3
multi IN TXT "one" "two"
acme IN CNAME _acme.validation.example.net.
"""
)
FILES = {
    "good1.example.zone": GOOD,
    "db.good2.example": GOOD,
    "hostile.example.zone": HOSTILE,
    "cname.example.zone": HEAD + "x IN A 192.0.2.1\nx IN CNAME y.example.net.\n",
    "include.example.zone": HEAD + "$INCLUDE /etc/passwd\n",
    "nons.example.zone": "$TTL 3600\n@ IN SOA ns1.example.net. h.example.net. 1 2 3 4 5\nwww IN A 192.0.2.1\n",
}


@pytest.fixture
def zones(tmp_path: Path) -> Path:
    directory = tmp_path / "zones"
    directory.mkdir()
    for name, text in FILES.items():
        (directory / name).write_text(text)
    return directory


def test_a_directory_is_adopted_zone_by_zone_and_every_refusal_is_reported(
    zones: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    status = main(["adopt", "--from-file", str(zones), "-o", str(out), "--site-addresses", "203.0.113.0/24"])
    captured = capsys.readouterr()
    assert status == 1  # some zones were not adopted
    assert captured.out == ""
    assert "adopted 3/6 zones (6 read)" in captured.err
    # Nothing but the zones' directories: `kubectl apply -R -f out` would take any .json for a manifest.
    assert sorted(p.name for p in out.iterdir()) == ["good1.example", "good2.example", "hostile.example"]
    assert sorted(p.name for p in (out / "good1.example").iterdir()) == [
        "dnsrecords.yaml",
        "dnszone.yaml",
        "sites.yaml",
    ]
    assert sorted(p.name for p in (out / "hostile.example").iterdir()) == ["dnsrecords.yaml", "dnszone.yaml"]

    report = json.loads((tmp_path / "adopt-report.json").read_text())
    assert report["zones"] == {"read": 6, "adopted": 3, "notAdopted": 3}
    assert report["objects"] == {"dnszones": 3, "sites": 2, "dnsrecords": 3}
    found = {(f["zone"], f["name"], f["type"]) for f in report["findings"]}
    assert found == {
        ("hostile.example", "host", "SSHFP"),
        ("hostile.example", "odd_name", "A"),
        ("hostile.example", "zero", "A"),
        ("hostile.example", "multi", "TXT"),
        ("hostile.example", "acme", "CNAME"),
        ("cname.example", "", ""),
        ("include.example", "", ""),
        ("nons.example", "@", "NS"),
    }
    reasons = {f["zone"]: f["reason"] for f in report["findings"] if f["name"] in ("", "@")}
    assert "CNAME" in reasons["cname.example"] and "$INCLUDE" in reasons["include.example"]
    for f in report["findings"]:  # each is on stderr too
        assert f["reason"] in captured.err
    records = list(yaml.safe_load_all((out / "hostile.example" / "dnsrecords.yaml").read_text()))
    assert [(d["spec"]["name"], d["spec"]["type"]) for d in records] == [("ok", "A")]


def test_one_zone_file_streams_manifests_for_kubectl_and_exits_0(
    zones: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status = main(["adopt", "--from-file", str(zones / "db.good2.example"), "-n", "hosting"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    docs = [d for d in yaml.safe_load_all(captured.out) if d]
    assert [d["kind"] for d in docs] == ["DNSZone", "DNSRecord", "DNSRecord"]
    assert {d["metadata"]["namespace"] for d in docs} == {"hosting"}
    assert json.loads((tmp_path / "adopt-report.json").read_text())["findings"] == []


def test_usage_errors_exit_2_and_say_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adopt", "--from-axfr", "127.0.0.1:53", "--zone", "example.com"]) == 2
    assert "--tsig-name" in capsys.readouterr().err
    assert main(["adopt", "--from-powerdns", "http://127.0.0.1:8081"]) == 2
    assert "--zone" in capsys.readouterr().err
    assert main(["adopt", "--from-file", str(tmp_path / "missing")]) == 2
    assert "no zone file" in capsys.readouterr().err
