"""What only the zone-file backend does: rendering, serial arithmetic, atomic writes, the reload
command, hostile input, and reading the file by digest. What every backend does alike is in
tests/cluster/test_backend_conformance.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dns.zone
import pytest

from siteplane.dns.backend import BackendError, BackendStats, SOASettings, ZoneConfig
from siteplane.dns.zonefile import SERIAL_MAX, ZoneFileBackend, next_serial
from siteplane.domain.changes import ChangeSet
from siteplane.domain.records import RecordKey, RecordSet, apex_ns, record_set, typed_rdata

ZONE = "example.com"
SOA = SOASettings(mname="ns1.example.net.", rname="hostmaster.example.com.")
CONFIG = ZoneConfig(ZONE, SOA)
NS = apex_ns(3600, ["ns1.example.net", "ns2.example.org"])
HOSTILE_TXT = [
    'say "hi" \\ back; semi',
    "$INCLUDE /etc/passwd",
    "$ORIGIN evil.",
    "\\; ( ) @ $TTL 0",
    "héllo wörld",
]


# Something of every kind the renderer handles: in-zone targets, the null MX, wildcards, long TXT.
SOME_SETS = [
    record_set("www", "A", 300, ["192.0.2.1", "192.0.2.2"]),
    record_set("www", "AAAA", 300, ["2001:db8::1"]),
    record_set("alias", "CNAME", 300, ["www.example.com"]),
    record_set("@", "MX", 300, [SimpleNamespace(preference=10, host="mail.example.com")]),
    record_set("nomail", "MX", 300, [SimpleNamespace(preference=0, host=".")]),
    record_set("_sip._tcp", "SRV", 300, [SimpleNamespace(priority=10, weight=5, port=5060, target="sip.example.com")]),
    record_set("@", "CAA", 300, [SimpleNamespace(flags=0, tag="issue", value="letsencrypt.org")]),
    record_set("@", "TXT", 300, ["v=spf1 -all", "", "x" * 300]),
    record_set("hostile", "TXT", 300, HOSTILE_TXT),
    record_set("sub", "NS", 300, ["ns.example.org"]),
    record_set("*.dev", "A", 300, ["192.0.2.10"]),
]


class Clock:
    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def zone_path(tmp_path: Path) -> Path:
    return tmp_path / f"{ZONE}.zone"


def created(tmp_path: Path, *sets: RecordSet, clock: Clock | None = None, **kwargs: Any) -> ZoneFileBackend:
    backend = ZoneFileBackend(tmp_path, clock=clock or Clock(), **kwargs)
    backend.create_zone(CONFIG, [NS, *sets])
    return backend


# Rendering


def test_in_zone_targets_are_relativised_in_the_file_but_absolute_when_read(tmp_path: Path) -> None:
    backend = created(tmp_path, record_set("alias", "CNAME", 300, ["www.example.com"]))
    assert "alias 300 IN CNAME www\n" in zone_path(tmp_path).read_text()
    content = backend.read_zone(ZONE)
    assert content is not None
    assert content.record_sets[RecordKey("alias", "CNAME")].rdata == (typed_rdata("CNAME", "www.example.com"),)


def test_long_txt_is_split_into_255_byte_strings(tmp_path: Path) -> None:
    created(tmp_path, record_set("@", "TXT", 300, ["x" * 300]))
    assert f'"{"x" * 255}" "{"x" * 45}"' in zone_path(tmp_path).read_text()


def test_file_starts_with_origin_and_loads_with_dnspython(tmp_path: Path) -> None:
    created(tmp_path, *SOME_SETS)
    text = zone_path(tmp_path).read_text()
    assert text.startswith("$ORIGIN example.com.\n")
    zone = dns.zone.from_file(str(zone_path(tmp_path)), origin=ZONE, relativize=True, check_origin=True)
    assert zone.get_rdataset("@", "SOA") is not None


def test_equal_content_gives_identical_bytes_whatever_the_input_order(tmp_path: Path) -> None:
    created(tmp_path / "a", *SOME_SETS)
    created(tmp_path / "b", *reversed(SOME_SETS))
    first, second = (p / f"{ZONE}.zone" for p in (tmp_path / "a", tmp_path / "b"))
    assert first.read_bytes() == second.read_bytes()
    names = [line.split()[0] for line in first.read_text().splitlines()[1:]]
    assert names[0] == "@"


def test_a_missing_directory_holds_no_zone_and_removing_from_it_is_fine(tmp_path: Path) -> None:
    backend = ZoneFileBackend(tmp_path / "absent")
    assert backend.read_zone(ZONE) is None
    backend.remove_zone(ZONE)
    assert not (tmp_path / "absent").exists()


def test_zone_name_is_normalised_to_lowercase_without_trailing_dot(tmp_path: Path) -> None:
    backend = ZoneFileBackend(tmp_path, clock=Clock())
    backend.create_zone(ZoneConfig("Example.COM.", SOA), [NS])
    assert [p.name for p in tmp_path.iterdir()] == ["example.com.zone"]
    assert backend.read_zone("EXAMPLE.com") is not None


def test_hand_written_file_without_ns_reads_without_error(tmp_path: Path) -> None:
    zone_path(tmp_path).write_text(
        "$ORIGIN example.com.\n@ 60 IN SOA ns1 hostmaster 42 1 2 3 4\nwww 60 IN A 192.0.2.1\n"
    )
    content = ZoneFileBackend(tmp_path).read_zone(ZONE)
    assert content is not None
    assert content.serial == 42
    assert content.soa == SOASettings("ns1.example.com.", "hostmaster.example.com.", 1, 2, 3, 4, 60)
    assert content.record_sets == {RecordKey("www", "A"): RecordSet("www", "A", 60, ("192.0.2.1",))}


def test_file_without_soa_reads_as_serial_zero_and_is_repaired_by_apply(tmp_path: Path) -> None:
    zone_path(tmp_path).write_text("$ORIGIN example.com.\n@ 60 IN NS ns1.example.net.\n")
    backend = ZoneFileBackend(tmp_path, clock=Clock(1000))
    content = backend.read_zone(ZONE)
    assert content is not None
    assert (content.serial, content.soa) == (0, None)
    repaired = backend.apply(CONFIG, ChangeSet())
    assert (repaired.serial, repaired.soa) == (1000, SOA)
    assert backend.read_zone(ZONE) == repaired


@pytest.mark.skipif(shutil.which("named-checkzone") is None, reason="named-checkzone (bind9-utils) not installed")
def test_rendered_file_passes_named_checkzone(tmp_path: Path) -> None:
    addresses = [record_set(host, "A", 300, ["192.0.2.50"]) for host in ("mail", "sip")]
    created(tmp_path, *SOME_SETS, *addresses)
    checked = subprocess.run(
        ["named-checkzone", ZONE, str(zone_path(tmp_path))], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "loaded serial 1700000000" in checked.stdout


# Serials


@pytest.mark.parametrize(
    ("old", "now", "expected"),
    [
        (None, 1_700_000_000.9, 1_700_000_000),
        (None, 0, 1),
        (None, 2**32 + 5, 1),
        (5, 1000, 1000),
        (1000, 1000, 1001),
        (2_024_010_101, 1_700_000_000, 2_024_010_102),
        (SERIAL_MAX - 1, 1000, SERIAL_MAX),
        (SERIAL_MAX, 1000, 1),  # wraps past 0, which is never used
        (SERIAL_MAX, 2**32 + 10, 1),
        (10, 2**32 + 10, 11),  # a clock beyond 32 bits cannot be a serial
        (1, 2**31 + 10, 2),  # a jump of 2**31 or more would read as a decrease (RFC 1982)
        (0, 2**31 - 1, 2**31 - 1),
    ],
)
def test_next_serial_follows_clock_and_rfc1982(old: int | None, now: float, expected: int) -> None:
    assert next_serial(old, now) == expected


def test_serial_strictly_increases_across_applies(tmp_path: Path) -> None:
    clock = Clock(5000)
    backend = created(tmp_path, clock=clock)
    serials = [backend.read_zone(ZONE).serial]  # type: ignore[union-attr]
    for i in range(3):
        serials.append(backend.apply(CONFIG, ChangeSet(upserts=(record_set(f"h{i}", "A", 60, ["192.0.2.1"]),))).serial)
    clock.now = 9000
    serials.append(backend.apply(CONFIG, ChangeSet(deletes=(RecordKey("h0", "A"),))).serial)
    assert serials == [5000, 5001, 5002, 5003, 9000]
    assert backend.read_zone(ZONE).serial == 9000  # type: ignore[union-attr]


def test_serial_wraps_in_the_file_and_never_becomes_zero(tmp_path: Path) -> None:
    zone_path(tmp_path).write_text(f"$ORIGIN example.com.\n@ 60 IN SOA ns1 hostmaster {SERIAL_MAX} 1 2 3 4\n")
    backend = ZoneFileBackend(tmp_path, clock=Clock(1000))
    assert backend.apply(CONFIG, ChangeSet(upserts=(NS,))).serial == 1
    assert backend.read_zone(ZONE).serial == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "changes",
    [
        ChangeSet(),
        ChangeSet(upserts=(NS,)),
        ChangeSet(deletes=(RecordKey("absent", "A"),)),
        ChangeSet(upserts=(record_set("www", "AAAA", 300, ["2001:0db8::1"]),)),  # same data, other spelling
    ],
    ids=["empty", "identical-upsert", "delete-absent", "equivalent-spelling"],
)
def test_apply_that_changes_nothing_writes_nothing(tmp_path: Path, changes: ChangeSet) -> None:
    clock = Clock(1000)
    backend = created(tmp_path, record_set("www", "AAAA", 300, ["2001:db8::1"]), clock=clock)
    path = zone_path(tmp_path)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.read_bytes(), path.stat()
    clock.now = 2000
    assert backend.apply(CONFIG, changes).serial == 1000
    after = path.read_bytes(), path.stat()
    assert after[0] == before[0]
    assert (after[1].st_mtime_ns, after[1].st_ino) == (before[1].st_mtime_ns, before[1].st_ino)


# Atomic writes


def test_writes_leave_only_the_zone_file_readable_by_others(tmp_path: Path) -> None:
    backend = created(tmp_path)
    for i in range(3):
        backend.apply(CONFIG, ChangeSet(upserts=(record_set("www", "A", 60, [f"192.0.2.{i}"]),)))
    assert [p.name for p in tmp_path.iterdir()] == ["example.com.zone"]
    assert zone_path(tmp_path).stat().st_mode & 0o777 == 0o644


def test_failed_write_keeps_old_file_and_removes_temp_file_from_same_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = created(tmp_path)
    before = zone_path(tmp_path).read_bytes()
    attempts: list[Path] = []

    def failing_replace(src: str, dst: str) -> None:
        attempts.append(Path(src))
        assert Path(src).read_bytes().startswith(b"$ORIGIN example.com.\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(BackendError, match="No space left") as err:
        backend.apply(CONFIG, ChangeSet(upserts=(record_set("www", "A", 60, ["192.0.2.1"]),)))
    assert err.value.retryable
    assert [p.parent for p in attempts] == [tmp_path]
    assert not attempts[0].exists()
    assert zone_path(tmp_path).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["example.com.zone"]


def test_exception_while_writing_removes_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = created(tmp_path)

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        backend.apply(CONFIG, ChangeSet(upserts=(record_set("www", "A", 60, ["192.0.2.1"]),)))
    assert [p.name for p in tmp_path.iterdir()] == ["example.com.zone"]


# Reload command

RECORDER = """
import json, pathlib, sys, time
out, mode = pathlib.Path(sys.argv[1]), sys.argv[2]
with out.open("a") as f:
    f.write(json.dumps(sys.argv[2:]) + "\\n")
if mode == "sleep":
    time.sleep(10)
if mode == "fail" and not out.with_suffix(".heal").exists():
    sys.stderr.write("x" * 2000 + "rndc: connect failed: connection refused\\n")
    sys.exit(3)
"""


def reload_command(tmp_path: Path, *args: str) -> list[str]:
    script = tmp_path / "reload.py"
    script.write_text(RECORDER)
    return [sys.executable, str(script), str(tmp_path / "calls.log"), *args]


def calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "calls.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_reload_command_runs_with_zone_appended_after_each_real_write_only(tmp_path: Path) -> None:
    zones = tmp_path / "zones"
    backend = created(zones, reload_command=reload_command(tmp_path, "ok", "a;b $(touch pwned)"))
    backend.apply(CONFIG, ChangeSet())
    assert calls(tmp_path) == [["ok", "a;b $(touch pwned)", ZONE]]
    backend.apply(CONFIG, ChangeSet(upserts=(record_set("www", "A", 60, ["192.0.2.1"]),)))
    assert len(calls(tmp_path)) == 2
    backend.remove_zone(ZONE)
    assert len(calls(tmp_path)) == 2
    assert not (tmp_path / "pwned").exists()


def test_failing_reload_is_retryable_reports_exit_code_and_stderr_tail_and_keeps_file(tmp_path: Path) -> None:
    zones = tmp_path / "zones"
    backend = ZoneFileBackend(zones, reload_command=reload_command(tmp_path, "fail"), clock=Clock(1000))
    with pytest.raises(BackendError) as err:
        backend.create_zone(CONFIG, [NS])
    message = str(err.value)
    assert err.value.retryable
    assert "exited with 3" in message
    assert message.endswith("connection refused")
    assert len(message) < 1000
    assert backend.read_zone(ZONE) is not None

    # The retry finds the file already written, yet the server has still to load it.
    with pytest.raises(BackendError):
        backend.create_zone(CONFIG, [NS])
    (tmp_path / "calls.heal").touch()
    assert backend.create_zone(CONFIG, [NS]).serial == 1000
    assert backend.apply(CONFIG, ChangeSet()).serial == 1000
    assert len(calls(tmp_path)) == 3


def test_reload_timeout_is_retryable(tmp_path: Path) -> None:
    backend = ZoneFileBackend(tmp_path / "zones", reload_command=reload_command(tmp_path, "sleep"))
    backend.reload_timeout = 0.5
    with pytest.raises(BackendError, match="timed out") as err:
        backend.create_zone(CONFIG, [NS])
    assert err.value.retryable


def test_missing_reload_binary_is_reported(tmp_path: Path) -> None:
    backend = ZoneFileBackend(tmp_path, reload_command=[str(tmp_path / "no-such-rndc"), "reload"])
    with pytest.raises(BackendError, match="could not run"):
        backend.create_zone(CONFIG, [NS])


# Hostile input

BAD_ZONES = [
    "../x",
    "..",
    "/",
    "a/b",
    "x/../../etc",
    ".",
    "",
    "a..b",
    "-x.com",
    "x-.com",
    "exa mple.com",
    "\\046.com",
    "ex*.com",
    "*.example.com",
    "a" * 64 + ".com",
    "zone\x00.com",
    "example.com/",
]


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_unsafe_zone_name_is_rejected_before_touching_disk(tmp_path: Path, zone: str) -> None:
    backend = ZoneFileBackend(tmp_path / "zones")
    for operation in (
        lambda: backend.read_zone(zone),
        lambda: backend.remove_zone(zone),
        lambda: backend.create_zone(ZoneConfig(zone, SOA), [NS]),
        lambda: backend.apply(ZoneConfig(zone, SOA), ChangeSet()),
    ):
        with pytest.raises(BackendError) as err:
            operation()
        assert not err.value.retryable
    assert list(tmp_path.iterdir()) == []


BAD_OWNERS = [
    "www\n$INCLUDE /etc/passwd",
    "a b",
    "../x",
    "a/b",
    "WWW",
    "www.",
    ".www",
    "a..b",
    "$INCLUDE",
    "\\$INCLUDE",
    "*x",
    "a.*",
    "@.www",
    "",
    "x" * 64,
    "a;b",
    'a"b',
    "(a)",
    "a\\.b",
]


@pytest.mark.parametrize("owner", BAD_OWNERS)
def test_unsafe_owner_name_is_rejected_before_writing(tmp_path: Path, owner: str) -> None:
    bad = RecordSet(owner, "A", 300, ("192.0.2.1",))
    with pytest.raises(BackendError) as err:
        ZoneFileBackend(tmp_path / "fresh").create_zone(CONFIG, [NS, bad])
    assert not err.value.retryable
    assert not (tmp_path / "fresh").exists()

    backend = created(tmp_path)
    before = zone_path(tmp_path).read_bytes()
    with pytest.raises(BackendError):
        backend.apply(CONFIG, ChangeSet(upserts=(bad,)))
    assert zone_path(tmp_path).read_bytes() == before


def test_owner_name_too_long_for_the_zone_is_rejected(tmp_path: Path) -> None:
    owner = ".".join(["a" * 63] * 4)
    with pytest.raises(BackendError, match="too long"):
        ZoneFileBackend(tmp_path).create_zone(CONFIG, [NS, RecordSet(owner, "A", 300, ("192.0.2.1",))])


@pytest.mark.parametrize(
    "rs",
    [
        RecordSet("t", "TXT", 300, ('"x"\n$INCLUDE /etc/passwd',)),
        RecordSet("t", "TXT", 300, ('"x" \r$ORIGIN evil.',)),
        RecordSet("t", "TXT", 300, ('"unterminated',)),
        RecordSet("t", "A", 300, ("192.0.2.1 ; comment",)),
        RecordSet("t", "TXT", 300, ("visible ; cut off",)),
        RecordSet("t", "AAAA", 300, ("2001:0db8::1",)),
        RecordSet("t", "CNAME", 300, (typed_rdata("CNAME", "example.net") + ".",)),  # the other spelling
        RecordSet("t", "A", 300, ("not-an-address",)),
        RecordSet("t", "CNAME", 300, ("a.example.", "b.example.")),
        RecordSet("t", "BOGUS", 300, ("x",)),
        RecordSet("t", "A", 300, ()),
        RecordSet("t", "A", -1, ("192.0.2.1",)),
        RecordSet("t", "A", 2**31, ("192.0.2.1",)),
        RecordSet("@", "SOA", 300, ("ns. host. 1 2 3 4 5",)),
        RecordSet("@", "CNAME", 300, ("elsewhere.example.",)),
    ],
    ids=lambda rs: repr(rs.rdata)[:40] + f" {rs.type} ttl={rs.ttl}",
)
def test_invalid_smuggling_or_non_canonical_rdata_is_rejected(tmp_path: Path, rs: RecordSet) -> None:
    with pytest.raises(BackendError) as err:
        ZoneFileBackend(tmp_path).create_zone(CONFIG, [NS, rs])
    assert not err.value.retryable
    assert list(tmp_path.iterdir()) == []


def test_cname_beside_other_data_is_rejected_not_silently_dropped(tmp_path: Path) -> None:
    backend = created(tmp_path, record_set("www", "A", 300, ["192.0.2.1"]))
    with pytest.raises(BackendError, match="CNAME"):
        backend.apply(CONFIG, ChangeSet(upserts=(record_set("www", "CNAME", 300, ["example.net"]),)))


def test_hostile_txt_round_trips_as_data_and_never_becomes_a_directive(tmp_path: Path) -> None:
    hostile = [record_set(f"t{i}", "TXT", 300, [value]) for i, value in enumerate(HOSTILE_TXT)]
    backend = created(tmp_path, *hostile)
    lines = zone_path(tmp_path).read_text().splitlines()
    assert [line for line in lines if line.startswith("$")] == ["$ORIGIN example.com."]
    assert not any(line.lstrip().startswith(("$INCLUDE", "$ORIGIN", "$TTL")) for line in lines[1:])
    assert len(lines) == 1 + 1 + 2 + len(hostile)  # $ORIGIN, SOA, 2 NS, one line per TXT
    assert backend.read_zone(ZONE).record_sets == {rs.key: rs for rs in [NS, *hostile]}  # type: ignore[union-attr]


def test_hand_edited_include_is_refused_when_reading(tmp_path: Path) -> None:
    zone_path(tmp_path).write_text("$ORIGIN example.com.\n$INCLUDE /etc/passwd\n")
    with pytest.raises(BackendError) as err:
        ZoneFileBackend(tmp_path).read_zone(ZONE)
    assert not err.value.retryable


def test_invalid_soa_settings_are_rejected(tmp_path: Path) -> None:
    bad = ZoneConfig(ZONE, SOASettings(mname="ns1..example.", rname="hostmaster.example.com."))
    with pytest.raises(BackendError) as err:
        ZoneFileBackend(tmp_path).create_zone(bad, [NS])
    assert not err.value.retryable
    assert list(tmp_path.iterdir()) == []


# Reading by digest


def _replace_atomically(path: Path, text: str) -> None:
    other = path.with_suffix(".tmp")
    other.write_text(text)
    other.replace(path)


def _edit_in_place_with_a_clock_tick(path: Path, text: str) -> None:
    stat = path.stat()
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))


def _edit_in_place_keeping_inode_size_and_mtime(path: Path, text: str) -> None:
    stat = path.stat()
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (stat.st_ino, stat.st_size, stat.st_mtime_ns)


@pytest.mark.parametrize(
    "change",
    [_replace_atomically, _edit_in_place_with_a_clock_tick, _edit_in_place_keeping_inode_size_and_mtime],
    ids=["replaced-atomically", "edited-in-place-clock-tick", "edited-in-place-same-inode-size-mtime"],
)
def test_a_file_changed_by_someone_else_is_read_afresh_not_from_the_cache(tmp_path: Path, change: Any) -> None:
    www = record_set("www", "A", 300, ["192.0.2.1"])
    backend = created(tmp_path, www)
    assert backend.read_zone(ZONE) is not None  # remembered now
    path = zone_path(tmp_path)
    change(path, path.read_text().replace("192.0.2.1", "192.0.2.9"))  # same size
    content = backend.read_zone(ZONE)
    assert content is not None
    assert content.record_sets[RecordKey("www", "A")].rdata == ("192.0.2.9",)


def test_unchanged_bytes_are_not_parsed_again_not_even_right_after_writing_them(tmp_path: Path) -> None:
    backend = created(tmp_path)
    before = replace(backend.stats)
    backend.apply(CONFIG, ChangeSet(upserts=(record_set("www", "A", 60, ["192.0.2.1"]),)))
    # One read before the write, one after it: digests both, parses neither.
    assert backend.stats - before == BackendStats(probes=2, writes=1)
    before = replace(backend.stats)
    backend.read_zone(ZONE)
    assert backend.stats - before == BackendStats(probes=1)
