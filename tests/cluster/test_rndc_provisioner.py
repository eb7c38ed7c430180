"""The rndc zone provisioner against a real BIND 9: seeded addzone, delzone -clean, and its secret."""

from __future__ import annotations

import base64
import os
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import pytest

from harness.bind import RNDC, RNDC_KEY_NAME, BindServer, running_bind
from harness.server import free_port
from siteplane.dns import rndc
from siteplane.dns.backend import BackendError, SOASettings, ZoneConfig
from siteplane.dns.rfc2136 import RFC2136Backend
from siteplane.dns.rndc import RndcZoneProvisioner
from siteplane.domain.changes import ChangeSet
from siteplane.domain.records import RecordKey, RecordSet, canonical_rdata, record_set

pytestmark = pytest.mark.cluster

WRONG_SECRET = base64.b64encode(b"w" * 32).decode()


@pytest.fixture(scope="module")
def bind() -> Iterator[BindServer]:
    with running_bind() as server:
        yield server


def _provisioner(bind: BindServer, **overrides: Any) -> RndcZoneProvisioner:
    settings: dict[str, Any] = {
        "server": bind.address,
        "port": bind.control_port,
        "key_name": RNDC_KEY_NAME,
        "key_secret": bind.rndc_secret,
        "seed_directory": bind.zone_dir,
        "server_directory": str(bind.zone_dir),
        "update_key_name": bind.tsig_name,
        "rndc_command": RNDC,
    }
    settings.update(overrides)
    return RndcZoneProvisioner(**settings)


def _soa(zone: str) -> SOASettings:
    return SOASettings(f"ns1.{zone}.", f"hostmaster.{zone}.", 3600, 600, 86400, 300, 600)


def _record_sets(zone: str) -> list[RecordSet]:
    """An in-zone name server with its glue (named refuses the zone without it), mail and text."""
    return [
        record_set("@", "NS", 3600, [f"ns1.{zone}"]),
        record_set("ns1", "A", 3600, ["192.0.2.53"]),
        record_set("@", "MX", 300, [SimpleNamespace(preference=10, host="mail.example.net")]),
        record_set("@", "TXT", 300, ["v=spf1 -all", 'say "hi"; ok']),
        record_set("www", "A", 300, ["192.0.2.1", "192.0.2.2"]),
    ]


def _query(bind: BindServer, zone: str, name: str, rdtype: str) -> dns.message.Message:
    fqdn = zone + "." if name == "@" else f"{name}.{zone}."
    return dns.query.tcp(dns.message.make_query(fqdn, rdtype), bind.address, port=bind.port, timeout=3)


def _served(bind: BindServer, zone: str, key: RecordKey) -> RecordSet | None:
    """The record set as a plain (unsigned) query sees it."""
    response = _query(bind, zone, key.name, key.type)
    fqdn = dns.name.from_text(zone + "." if key.name == "@" else f"{key.name}.{zone}.")
    rdtype = dns.rdatatype.from_text(key.type)
    for rrset in response.answer:
        if rrset.name == fqdn and rrset.rdtype == rdtype:
            texts = tuple(canonical_rdata(rdtype, rd.to_text()) for rd in rrset)
            return RecordSet(key.name, key.type, rrset.ttl, texts)
    return None


def _soa_rcode(bind: BindServer, zone: str) -> dns.rcode.Rcode:
    return _query(bind, zone, "@", "SOA").rcode()


def _update(bind: BindServer, zone: str, name: str, *addresses: str) -> None:
    keyring = dns.tsigkeyring.from_text({bind.tsig_name: (bind.tsig_algorithm, bind.tsig_secret)})
    update = dns.update.UpdateMessage(zone + ".", keyring=keyring, keyalgorithm=bind.tsig_algorithm)
    update.replace(dns.name.from_text(f"{name}.{zone}."), 300, "A", *addresses)
    assert dns.query.tcp(update, bind.address, port=bind.port, timeout=3).rcode() == dns.rcode.NOERROR


def test_create_seeds_a_zone_named_serves_with_every_record_set(bind: BindServer) -> None:
    zone = "seeded.test"
    record_sets = _record_sets(zone)
    before = int(time.time())
    _provisioner(bind).create(ZoneConfig(zone, _soa(zone)), record_sets)
    after = int(time.time())

    response = _query(bind, zone, "@", "SOA")
    assert response.rcode() == dns.rcode.NOERROR
    soa = response.answer[0]
    assert soa.ttl == 600
    rdata = soa[0]
    assert (rdata.mname.to_text(), rdata.rname.to_text()) == (f"ns1.{zone}.", f"hostmaster.{zone}.")
    assert (rdata.refresh, rdata.retry, rdata.expire, rdata.minimum) == (3600, 600, 86400, 300)
    assert before <= rdata.serial <= after
    for rs in record_sets:
        assert _served(bind, zone, rs.key) == rs, rs.key

    seed = bind.zone_dir / f"{zone}.db"
    assert stat.S_IMODE(seed.stat().st_mode) == 0o644
    assert not [p for p in bind.zone_dir.iterdir() if p.name.endswith(".tmp")]
    # The zone takes TSIG-signed updates with the key addzone allowed.
    _update(bind, zone, "new", "192.0.2.9")
    assert _served(bind, zone, RecordKey("new", "A")) == record_set("new", "A", 300, ["192.0.2.9"])


def test_rfc2136_backend_creates_updates_and_removes_zones_through_the_provisioner(bind: BindServer) -> None:
    zone = "endtoend.test"
    provisioner = _provisioner(bind)
    backend = RFC2136Backend(
        bind.address,
        bind.port,
        bind.tsig_name,
        bind.tsig_secret,
        bind.tsig_algorithm,
        timeout=3.0,
        zone_creator=provisioner.create,
        zone_remover=provisioner.remove,
    )
    config = ZoneConfig(zone, _soa(zone))
    record_sets = _record_sets(zone)
    assert backend.read_zone(zone) is None

    serial = backend.create_zone(config, record_sets).serial
    # Everything came from the seed: no UPDATE was needed to reach the desired content.
    assert backend.stats.writes == 0
    content = backend.read_zone(zone)
    assert content is not None and content.serial == serial
    assert dict(content.record_sets) == {rs.key: rs for rs in record_sets}
    assert content.soa == _soa(zone)

    www = record_set("www", "A", 600, ["192.0.2.80"])
    api = record_set("api", "AAAA", 300, ["2001:db8::80"])
    new_serial = backend.apply(config, ChangeSet(upserts=(www, api))).serial
    assert new_serial == serial + 1
    assert _served(bind, zone, www.key) == www
    assert _served(bind, zone, api.key) == api

    backend.remove_zone(zone)
    assert backend.read_zone(zone) is None
    assert _soa_rcode(bind, zone) == dns.rcode.REFUSED
    assert not (bind.zone_dir / f"{zone}.db").exists()


def test_create_on_an_existing_zone_changes_nothing(bind: BindServer) -> None:
    zone = "again.test"
    provisioner = _provisioner(bind)
    provisioner.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    _update(bind, zone, "www", "192.0.2.99")  # named's content now differs from the seed
    seed = bind.zone_dir / f"{zone}.db"
    seed_before = (seed.read_bytes(), seed.stat().st_ino, seed.stat().st_mtime_ns)
    serial = _query(bind, zone, "@", "SOA").answer[0][0].serial

    other = [*_record_sets(zone), record_set("other", "A", 300, ["192.0.2.7"])]
    provisioner.create(ZoneConfig(zone, _soa(zone)), other)

    assert (seed.read_bytes(), seed.stat().st_ino, seed.stat().st_mtime_ns) == seed_before
    assert _query(bind, zone, "@", "SOA").answer[0][0].serial == serial
    assert _served(bind, zone, RecordKey("www", "A")) == record_set("www", "A", 300, ["192.0.2.99"])
    assert _served(bind, zone, RecordKey("other", "A")) is None
    assert (bind.zone_dir / f"{zone}.db.jnl").exists()  # named's journal still continues the file


def test_addzone_answering_already_exists_counts_as_created(bind: BindServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # The zone appearing between the existence check and addzone: named's "already exists" is success.
    zone = "race.test"
    provisioner = _provisioner(bind)
    provisioner.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    real = provisioner._rndc
    answers: list[str] = []

    def pretend_missing(*args: str) -> Any:
        result = real(*args)
        answers.append(result.output)
        if args[0] == "showzone":
            return rndc._Result(False, f"rndc: 'showzone' failed: not found\nno matching zone '{zone}' in any view")
        return result

    monkeypatch.setattr(provisioner, "_rndc", pretend_missing)
    provisioner.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    assert answers[-1] == "rndc: 'addzone' failed: already exists"
    assert _soa_rcode(bind, zone) == dns.rcode.NOERROR


def test_remove_stops_the_zone_and_deletes_its_files_and_a_missing_zone_is_fine(bind: BindServer) -> None:
    zone = "removed.test"
    provisioner = _provisioner(bind)
    provisioner.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    _update(bind, zone, "www", "192.0.2.99")  # gives the zone a journal
    seed = bind.zone_dir / f"{zone}.db"
    journal = bind.zone_dir / f"{zone}.db.jnl"
    assert seed.exists() and journal.exists()
    assert _soa_rcode(bind, zone) == dns.rcode.NOERROR

    provisioner.remove(zone)
    assert _soa_rcode(bind, zone) == dns.rcode.REFUSED
    assert not seed.exists() and not journal.exists()

    provisioner.remove(zone)  # gone already: not an error
    provisioner.remove("never-created.test")
    # A seed left by a failed addzone has no zone in named, and goes too.
    leftover = bind.zone_dir / "leftover.test.db"
    leftover.write_text("junk")
    provisioner.remove("leftover.test")
    assert not leftover.exists()


def test_stale_journal_of_an_earlier_zone_does_not_block_creation(bind: BindServer) -> None:
    # delzone without -clean leaves file and journal; named would roll that journal forward onto a new
    # seed and refuse the zone ("journal out of sync with zone"), so the provisioner drops it.
    zone = "stale.test"
    provisioner = _provisioner(bind)
    provisioner.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    _update(bind, zone, "www", "192.0.2.99")
    bind.rndc("delzone", zone)
    assert (bind.zone_dir / f"{zone}.db.jnl").exists()

    provisioner.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    assert _served(bind, zone, RecordKey("www", "A")) == record_set("www", "A", 300, ["192.0.2.1", "192.0.2.2"])
    _update(bind, zone, "www", "192.0.2.100")


def test_wrong_secret_is_not_retryable_creates_nothing_and_is_not_quoted(bind: BindServer) -> None:
    zone = "badkey.test"
    bad = _provisioner(bind, key_secret=WRONG_SECRET)

    with pytest.raises(BackendError) as caught:
        bad.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    error = caught.value
    assert error.retryable is False
    message = str(error)
    assert "rejected rndc key" in message and RNDC_KEY_NAME in message and zone in message
    assert f"{bind.address}:{bind.control_port}" in message
    for secret in (WRONG_SECRET, bind.rndc_secret):
        assert secret not in message and secret not in repr(error)
        assert secret not in repr(bad) and secret not in str(bad)
    assert _soa_rcode(bind, zone) == dns.rcode.REFUSED
    assert not (bind.zone_dir / f"{zone}.db").exists()

    with pytest.raises(BackendError) as caught:
        bad.remove(zone)
    assert caught.value.retryable is False
    assert WRONG_SECRET not in str(caught.value)


def test_configuration_is_private_temporary_and_never_on_the_command_line(
    bind: BindServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    real_run = subprocess.run
    seen: list[tuple[list[str], int, int, str]] = []

    def inspecting_run(argv: list[str], **kwargs: Any) -> Any:
        config = Path(argv[argv.index("-c") + 1])
        seen.append(
            (argv, stat.S_IMODE(config.parent.stat().st_mode), stat.S_IMODE(config.stat().st_mode), config.read_text())
        )
        return real_run(argv, **kwargs)

    monkeypatch.setattr(rndc.subprocess, "run", inspecting_run)
    zone = "private.test"
    good = _provisioner(bind)
    good.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    assert os.listdir(temp_root) == []
    good.remove(zone)
    assert os.listdir(temp_root) == []
    with pytest.raises(BackendError):
        _provisioner(bind, key_secret=WRONG_SECRET).create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    assert os.listdir(temp_root) == []
    with pytest.raises(BackendError):
        _provisioner(bind, rndc_command=str(tmp_path / "no-rndc")).remove(zone)
    assert os.listdir(temp_root) == []

    assert len(seen) == 5  # showzone + addzone, delzone, showzone, and the attempt without a binary
    for argv, dir_mode, file_mode, text in seen:
        assert dir_mode == 0o700 and file_mode == 0o600
        assert Path(argv[argv.index("-c") + 1]).parent.parent == temp_root
        assert not any(bind.rndc_secret in arg or WRONG_SECRET in arg for arg in argv)
        assert bind.rndc_secret in text or WRONG_SECRET in text


def test_unreachable_control_channel_is_retryable(bind: BindServer) -> None:
    zone = "unreachable.test"
    closed = _provisioner(bind, port=free_port())
    with pytest.raises(BackendError) as caught:
        closed.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    assert caught.value.retryable is True
    assert "cannot reach" in str(caught.value) and "connection refused" in str(caught.value)
    assert bind.rndc_secret not in str(caught.value)


def test_silent_control_channel_times_out_retryably(
    bind: BindServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind((bind.address, 0))
        silent.listen()
        hanging = _provisioner(bind, port=silent.getsockname()[1], timeout=1.0)
        started = time.monotonic()
        with pytest.raises(BackendError) as caught:
            hanging.remove("silent.test")
    assert time.monotonic() - started < 10  # our timeout, not rndc's own 60 seconds
    assert caught.value.retryable is True
    assert "no answer" in str(caught.value)
    assert os.listdir(temp_root) == []


def test_missing_rndc_binary_is_not_retryable(bind: BindServer, tmp_path: Path) -> None:
    missing = _provisioner(bind, rndc_command=str(tmp_path / "rndc"))
    with pytest.raises(BackendError) as caught:
        missing.create(ZoneConfig("nobinary.test", _soa("nobinary.test")), _record_sets("nobinary.test"))
    assert caught.value.retryable is False
    assert "rndc is not installed" in str(caught.value) and "bind9-utils" in str(caught.value)


def test_server_directory_named_cannot_see_is_reported_and_not_retryable(bind: BindServer) -> None:
    zone = "elsewhere.test"
    wrong = _provisioner(bind, server_directory="/nonexistent/zones")
    with pytest.raises(BackendError) as caught:
        wrong.create(ZoneConfig(zone, _soa(zone)), _record_sets(zone))
    assert caught.value.retryable is False
    assert "file not found" in str(caught.value) and "server_directory" in str(caught.value)
    assert _soa_rcode(bind, zone) == dns.rcode.REFUSED


def test_zone_named_refuses_to_load_is_not_retryable(bind: BindServer) -> None:
    zone = "noglue.test"
    without_glue = [record_set("@", "NS", 3600, [f"ns1.{zone}"])]
    with pytest.raises(BackendError) as caught:
        _provisioner(bind).create(ZoneConfig(zone, _soa(zone)), without_glue)
    assert caught.value.retryable is False
    assert "bad zone" in str(caught.value)
    assert _soa_rcode(bind, zone) == dns.rcode.REFUSED


def test_invalid_settings_are_refused_without_quoting_the_secret(bind: BindServer) -> None:
    with pytest.raises(BackendError) as caught:
        _provisioner(bind, key_secret="not base64 !!secret!!")
    assert caught.value.retryable is False and "!!secret!!" not in str(caught.value)
    for overrides in (
        {"key_name": 'evil"; };'},
        {"update_key_name": "a b"},
        {"server_directory": '/zones"; allow-update { any; }; file "x'},
        {"server": "127.0.0.1; x"},
        {"port": 0},
        {"key_algorithm": "rot13"},
    ):
        with pytest.raises(BackendError) as caught:
            _provisioner(bind, **overrides)
        assert caught.value.retryable is False
