"""Reading an IXFR answer onto the zone content known at the serial it was asked from (pure)."""

from __future__ import annotations

from dataclasses import replace

import dns.name
import dns.rrset
import pytest

from siteplane.dns.backend import SOASettings, ZoneContent
from siteplane.dns.ixfr import NotIncremental, Transferred, content_after
from siteplane.domain.records import RecordSet

ORIGIN = dns.name.from_text("example.test.")
SETTINGS = SOASettings("ns1.example.net.", "hostmaster.example.net.", 3600, 600, 86400, 300, 300)
NS = RecordSet("@", "NS", 300, ("ns1.example.net.",))


def soa(serial: int, refresh: int = 3600) -> dns.rrset.RRset:
    text = f"ns1.example.net. hostmaster.example.net. {serial} {refresh} 600 86400 300"
    return dns.rrset.from_text(dns.name.empty, 300, "IN", "SOA", text)


def rr(name: str, ttl: int, rdtype: str, text: str) -> dns.rrset.RRset:
    """One record as an IXFR answer holds it: owner relative to the zone, one record per RRset."""
    owner = dns.name.empty if name == "@" else dns.name.from_text(name, origin=None)
    return dns.rrset.from_text(owner, ttl, "IN", rdtype, text)


def zone(serial: int, *sets: RecordSet, settings: SOASettings = SETTINGS) -> ZoneContent:
    return ZoneContent(serial, {rs.key: rs for rs in sets}, settings)


BASE = zone(1, NS, RecordSet("h1", "A", 300, ("192.0.2.1", "192.0.2.2")), RecordSet("gone", "TXT", 300, ('"x"',)))


def test_an_answer_of_the_soa_alone_means_nothing_changed() -> None:
    assert content_after(ORIGIN, BASE, [soa(1)]) == Transferred(BASE, whole_zone=False)


def test_a_chain_of_differences_is_applied_in_order() -> None:
    answer = [
        soa(3),
        soa(1),  # 1 -> 2: h1 loses .1, its TTL goes to 600; gone's only record goes
        rr("h1", 300, "A", "192.0.2.1"),
        rr("h1", 300, "A", "192.0.2.2"),
        rr("gone", 300, "TXT", '"x"'),
        soa(2),
        rr("h1", 600, "A", "192.0.2.2"),
        soa(2),  # 2 -> 3: a new name, and new SOA settings
        soa(3, refresh=7200),
        rr("new", 60, "AAAA", "2001:db8::1"),
        rr("mail", 300, "MX", "10 mx"),  # an in-zone host, relative as in a parsed answer
        soa(3),
    ]
    result = content_after(ORIGIN, BASE, answer)
    assert result == Transferred(
        zone(
            3,
            NS,
            RecordSet("h1", "A", 600, ("192.0.2.2",)),
            RecordSet("new", "AAAA", 60, ("2001:db8::1",)),
            RecordSet("mail", "MX", 300, ("10 mx.example.test.",)),
        ),
        whole_zone=False,
    )


def test_the_last_soa_gives_serial_and_settings() -> None:
    answer = [soa(2, refresh=7200), soa(1), soa(2, refresh=7200), soa(2, refresh=7200)]
    result = content_after(ORIGIN, BASE, answer).content
    assert (result.serial, result.soa) == (2, replace(SETTINGS, refresh=7200))
    assert result.record_sets == BASE.record_sets


def test_a_whole_zone_answer_replaces_what_was_known() -> None:
    answer = [soa(7), rr("@", 300, "NS", "ns1.example.net."), rr("www", 300, "A", "192.0.2.8"), soa(7)]
    result = content_after(ORIGIN, BASE, answer)
    assert result == Transferred(zone(7, NS, RecordSet("www", "A", 300, ("192.0.2.8",))), whole_zone=True)


def test_differences_that_delete_what_was_not_known_do_not_apply() -> None:
    answer = [soa(2), soa(1), rr("h1", 300, "A", "192.0.2.99"), soa(2), soa(2)]
    with pytest.raises(NotIncremental):
        content_after(ORIGIN, BASE, answer)
