"""What only the RFC 2136 backend does, against a real BIND 9: UPDATE batching, prerequisites,
bisecting refused record sets, and the IXFR read-back. What every backend does alike is in
test_backend_conformance.py."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.bind import BindServer
from siteplane.dns.backend import BackendError, BackendStats, SOASettings, ZoneConfig
from siteplane.dns.rfc2136 import DriftDetected, PartiallyApplied, RFC2136Backend
from siteplane.domain.changes import ChangeSet
from siteplane.domain.records import RecordKey, RecordSet, apex_ns, record_set
from tests.backend_targets import BindTarget

pytestmark = pytest.mark.cluster

SOA = SOASettings("ns1.example.net.", "hostmaster.example.net.", 3600, 600, 86400, 300, 300)
NS = apex_ns(300, ["ns1.example.net"])
WWW = record_set("www", "A", 300, ["192.0.2.1"])


@pytest.fixture
def bind(bind_server: BindServer) -> BindTarget:
    return BindTarget(bind_server)


@pytest.fixture
def backend(bind: BindTarget) -> RFC2136Backend:
    made = bind.backend()
    assert isinstance(made, RFC2136Backend)
    return made


@pytest.fixture
def zone(bind: BindTarget) -> Iterator[ZoneConfig]:
    config = ZoneConfig(bind.new_zone(), SOA)
    yield config
    bind.backend().remove_zone(config.name)


def hosts(count: int, first: int = 0) -> list[RecordSet]:
    return [record_set(f"h{i}", "A", 300, [f"10.0.{i // 256}.{i % 256}"]) for i in range(first, first + count)]


def test_an_invalid_secret_is_refused_without_quoting_it() -> None:
    with pytest.raises(BackendError) as caught:
        RFC2136Backend("127.0.0.1", 53, "siteplane-key", "not base64 !!secret!!")
    assert caught.value.retryable is False
    assert "!!secret!!" not in str(caught.value)


def test_without_a_zone_creator_a_missing_zone_must_be_made_on_the_server(bind: BindTarget, zone: ZoneConfig) -> None:
    server = bind.server
    plain = RFC2136Backend(server.address, server.port, server.tsig_name, server.tsig_secret, server.tsig_algorithm)
    with pytest.raises(BackendError, match=f"create {zone.name} on the server") as caught:
        plain.create_zone(zone, [NS])
    assert caught.value.retryable is False


def test_updates_are_cut_at_max_message_bytes_and_all_arrive(bind: BindTarget, zone: ZoneConfig) -> None:
    small = bind.backend()
    assert isinstance(small, RFC2136Backend)
    small.max_message_bytes = 4000
    small.create_zone(zone, [NS])
    sets = hosts(200)
    before = replace(small.stats)
    content = small.apply(zone, ChangeSet(upserts=tuple(sets)))
    messages = (small.stats - before).writes
    assert 2 < messages < 20, messages  # cut by size, not one message per record set
    assert dict(content.record_sets) == {rs.key: rs for rs in [NS, *sets]}
    assert content == bind.served(zone.name)


def test_a_change_behind_our_back_fails_the_prerequisites_and_nothing_is_written(
    bind: BindTarget, backend: RFC2136Backend, zone: ZoneConfig
) -> None:
    backend.create_zone(zone, [NS, WWW])
    changed = record_set("www", "A", 300, ["192.0.2.99"])
    bind.change_behind(zone.name, WWW, changed)
    before = bind.served(zone.name)

    # Planned from the stale view: www still 192.0.2.1. The new name would be fine on its own, but the
    # whole message fails on www's prerequisite.
    stale = ChangeSet(upserts=(record_set("new", "A", 300, ["192.0.2.7"]), record_set("www", "A", 300, ["192.0.2.3"])))
    with pytest.raises(DriftDetected) as caught:
        backend.apply(zone, stale)
    assert caught.value.retryable is True
    assert bind.served(zone.name) == before

    # A record set we believe absent that appeared meanwhile is drift too.
    content = backend.read_zone(zone.name)
    assert content is not None and content.record_sets[WWW.key] == changed
    late = record_set("late", "A", 300, ["192.0.2.51"])
    bind.change_behind(zone.name, late, late)
    with pytest.raises(DriftDetected):
        backend.apply(zone, ChangeSet(upserts=(record_set("late", "A", 300, ["192.0.2.8"]),)))
    assert bind.answer(zone.name, late.key) == late

    # Read again, the same intent goes through.
    backend.read_zone(zone.name)
    content = backend.apply(zone, stale)
    assert content.record_sets[WWW.key] == record_set("www", "A", 300, ["192.0.2.3"])
    assert content == bind.served(zone.name)


def test_a_refused_record_set_is_bisected_out_and_the_rest_applied(
    bind: BindTarget, backend: RFC2136Backend, zone: ZoneConfig
) -> None:
    # BIND's check-names (default "fail" for primary zones) refuses an A record whose owner is not a
    # host name; it answers REFUSED for the whole UPDATE, so the backend bisects to find it.
    backend.create_zone(zone, [NS])
    good = hosts(6)
    bad = record_set("bad_host", "A", 300, ["192.0.2.200"])
    with pytest.raises(PartiallyApplied) as caught:
        backend.apply(zone, ChangeSet(upserts=(*good, bad)))
    assert caught.value.refused == [bad.key]
    assert caught.value.retryable is False
    assert dict(caught.value.served.record_sets) == {rs.key: rs for rs in [NS, *good]}
    assert caught.value.served == bind.served(zone.name)
    assert backend.read_zone(zone.name) == caught.value.served


def test_a_wrong_key_on_the_update_path_writes_nothing_and_is_not_quoted(bind: BindTarget, zone: ZoneConfig) -> None:
    bind.backend().create_zone(zone, [NS])
    served = bind.served(zone.name)
    assert served is not None
    wrong = base64.b64encode(b"w" * 32).decode()
    server = bind.server
    bad = RFC2136Backend(server.address, server.port, server.tsig_name, wrong, server.tsig_algorithm)
    # A view of the zone the bad key could not have read itself, so that the UPDATE is what fails.
    bad._cache[zone.name] = served
    with pytest.raises(BackendError) as caught:
        bad.apply(zone, ChangeSet(upserts=(WWW,)))
    assert caught.value.retryable is False
    assert "BADSIG" in str(caught.value)
    assert bad.stats.writes == 1
    for secret in (wrong, server.tsig_secret):
        assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert bind.served(zone.name) == served


def test_the_read_back_of_a_write_is_an_incremental_transfer_with_everyone_elses_changes(
    bind: BindTarget, backend: RFC2136Backend, zone: ZoneConfig
) -> None:
    # Big enough that BIND sends differences rather than the whole zone (it sends whichever is smaller).
    backend.create_zone(zone, [NS, *hosts(50)])
    assert backend.read_zone(zone.name) is not None
    theirs = record_set("h1", "A", 600, ["192.0.2.77"])
    bind.change_behind(zone.name, theirs, theirs)  # after our last read: only the IXFR can tell us
    ours = record_set("h2", "A", 300, ["192.0.2.78"])
    before = replace(backend.stats)
    content = backend.apply(zone, ChangeSet(upserts=(ours,)))
    assert backend.stats - before == BackendStats(incremental_reads=1, writes=1)
    assert content.record_sets[theirs.key] == theirs and content.record_sets[ours.key] == ours
    assert content == bind.served(zone.name)


def test_a_read_back_that_does_not_chain_from_our_serial_transfers_the_whole_zone(
    bind: BindTarget, backend: RFC2136Backend, zone: ZoneConfig
) -> None:
    backend.create_zone(zone, [NS])  # seeded at the clock's serial
    assert backend.read_zone(zone.name) is not None
    # Made again behind our back, at serial 1: far below the one we know. Deleted without -clean,
    # whose removal of the files runs after rndc returns and would take the new file with it; the
    # journal goes by hand, or named would roll it forward onto the new file.
    bind.server.rndc("delzone", zone.name)
    journal = bind.server.zone_file(zone.name).with_name(f"{zone.name}.db.jnl")
    journal.unlink(missing_ok=True)
    bind.server.add_zone(zone.name, "www A 192.0.2.1\n")
    before = replace(backend.stats)
    content = backend.apply(zone, ChangeSet(upserts=(record_set("new", "A", 300, ["192.0.2.2"]),)))
    assert backend.stats - before == BackendStats(incremental_reads=1, full_reads=1, writes=1)
    assert content == bind.served(zone.name)
    assert set(content.record_sets) == {NS.key, WWW.key, RecordKey("new", "A")}


def test_a_cname_the_server_ignores_beside_other_data_is_not_reported_as_served(
    bind: BindTarget, backend: RFC2136Backend, zone: ZoneConfig
) -> None:
    # RFC 2136 3.4.2.2, the other way round from the conformance suite's case: other data added at
    # a CNAME is ignored too, and the UPDATE still answered NOERROR.
    alias = record_set("alias", "CNAME", 300, ["target.example.net"])
    backend.create_zone(zone, [NS, alias])
    text = record_set("alias", "TXT", 300, ["beside a CNAME"])
    with pytest.raises(PartiallyApplied) as ignored:
        backend.apply(zone, ChangeSet(upserts=(text, WWW)))
    assert set(ignored.value.reasons) == {text.key}, "the ignored set is said so; the rest applied"
    assert "accepted but not served" in ignored.value.reasons[text.key]
    content = ignored.value.served
    seen = backend.read_zone(zone.name)  # one probe: the serial is the one the read-back saw
    assert seen is not None and text.key not in seen.record_sets
    assert seen.record_sets[WWW.key] == WWW
    assert content == seen == bind.served(zone.name)


def test_an_out_of_band_change_costs_one_zone_transfer(
    bind: BindTarget, backend: RFC2136Backend, zone: ZoneConfig
) -> None:
    backend.create_zone(zone, [NS, WWW])
    assert backend.read_zone(zone.name) is not None
    changed = record_set("www", "A", 300, ["192.0.2.2"])
    bind.change_behind(zone.name, WWW, changed)
    before = replace(backend.stats)
    content = backend.read_zone(zone.name)
    # Asked as an IXFR from the serial last read; BIND answers this tiny zone with the whole of it
    # (its differences would be no smaller: max-ixfr-ratio), so it is one full read too.
    assert backend.stats - before == BackendStats(probes=1, incremental_reads=1, full_reads=1)
    assert content is not None and content.record_sets[WWW.key] == changed
