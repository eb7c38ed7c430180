"""Change sets between record-set maps, and the domain helpers they rest on: canonical rdata and names."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from siteplane.domain.changes import ChangeSet, apply_to, diff
from siteplane.domain.names import APEX, absolute, enclosing_zones, fqdn, is_within, normalise, relative_to
from siteplane.domain.records import (
    TXT_CHUNK,
    RecordKey,
    RecordSet,
    canonical_rdata,
    record_set,
    txt_rdata,
    typed_rdata,
)

Records = dict[RecordKey, RecordSet]


def records(*sets: RecordSet) -> Records:
    return {rs.key: rs for rs in sets}


NS = RecordSet("@", "NS", 3600, ("ns1.example.net.", "ns2.example.org."))
WWW_A = RecordSet("www", "A", 300, ("192.0.2.1",))
WWW_AAAA = RecordSet("www", "AAAA", 300, ("2001:db8::1",))
WWW_CNAME = RecordSet("www", "CNAME", 300, ("web.hosting.example.net.",))
TXT = RecordSet("@", "TXT", 300, ('"v=spf1 -all"',))
BASE = records(NS, WWW_A, WWW_AAAA, TXT)


def txt_bytes(text: str) -> bytes:
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
    return b"".join(rdata.strings)  # type: ignore[attr-defined]


# --- diff -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "current",
    [pytest.param({}, id="empty"), pytest.param(records(NS), id="ns-only"), pytest.param(BASE, id="several")],
)
def test_diff_of_identical_maps_is_empty(current: Records) -> None:
    changes = diff(current, dict(current))
    assert changes == ChangeSet()
    assert not changes
    assert len(changes) == 0
    assert changes.summary() == {"upserts": [], "deletes": []}


def test_rdata_order_and_duplicates_do_not_make_a_change() -> None:
    shuffled = RecordSet("@", "NS", 3600, ("ns2.example.org.", "ns1.example.net.", "ns2.example.org."))
    assert not diff(records(NS), records(shuffled))


@pytest.mark.parametrize(
    ("changed", "why"),
    [
        pytest.param(RecordSet("www", "A", 60, WWW_A.rdata), "ttl", id="ttl-change"),
        pytest.param(RecordSet("www", "A", 300, ("192.0.2.2",)), "rdata", id="rdata-change"),
        pytest.param(RecordSet("www", "A", 300, ("192.0.2.1", "192.0.2.2")), "rdata", id="rdata-added"),
    ],
)
def test_changed_record_set_is_upserted(changed: RecordSet, why: str) -> None:
    desired = {**BASE, changed.key: changed}
    changes = diff(BASE, desired)
    assert changes == ChangeSet(upserts=(changed,)), why
    assert changes
    assert len(changes) == 1
    assert changes.summary() == {"upserts": ["www/A"], "deletes": []}


def test_new_record_set_is_upserted() -> None:
    mx = RecordSet("@", "MX", 300, ("10 mail.example.com.",))
    assert diff(BASE, {**BASE, mx.key: mx}) == ChangeSet(upserts=(mx,))


def test_removed_key_is_deleted() -> None:
    desired = {k: v for k, v in BASE.items() if k != WWW_AAAA.key}
    changes = diff(BASE, desired)
    assert changes == ChangeSet(deletes=(WWW_AAAA.key,))
    assert len(changes) == 1
    assert changes.summary() == {"upserts": [], "deletes": ["www/AAAA"]}


def test_change_set_is_sorted_by_key() -> None:
    desired = records(
        RecordSet("zzz", "A", 1, ("192.0.2.9",)),
        RecordSet("aaa", "TXT", 1, ('"x"',)),
        RecordSet("@", "A", 1, ("192.0.2.8",)),
    )
    changes = diff(BASE, desired)
    assert [rs.key for rs in changes.upserts] == sorted(desired)
    assert list(changes.deletes) == sorted(BASE)


APPLY_CASES = [
    pytest.param({}, {}, id="empty-to-empty"),
    pytest.param({}, BASE, id="create-everything"),
    pytest.param(BASE, {}, id="delete-everything"),
    pytest.param(BASE, BASE, id="unchanged"),
    pytest.param(BASE, {**BASE, WWW_A.key: RecordSet("www", "A", 60, WWW_A.rdata)}, id="ttl-change"),
    pytest.param(BASE, {**BASE, WWW_A.key: RecordSet("www", "A", 300, ("192.0.2.7",))}, id="rdata-change"),
    pytest.param(records(NS, WWW_A), records(NS, WWW_CNAME), id="type-change-a-to-cname"),
    pytest.param(records(NS, WWW_CNAME), records(NS, WWW_A, WWW_AAAA), id="type-change-cname-to-a-aaaa"),
    pytest.param(
        BASE,
        records(NS, WWW_CNAME, RecordSet("@", "MX", 300, ("10 mail.example.com.",))),
        id="mixed-add-remove-change",
    ),
]


@pytest.mark.parametrize(("current", "desired"), APPLY_CASES)
def test_applying_the_diff_reaches_the_desired_state(current: Records, desired: Records) -> None:
    changes = diff(current, desired)
    assert apply_to(current, changes) == desired
    assert not diff(apply_to(current, changes), desired)


@pytest.mark.parametrize(("current", "desired"), APPLY_CASES)
def test_diff_never_both_upserts_and_deletes_one_key(current: Records, desired: Records) -> None:
    changes = diff(current, desired)
    assert not {rs.key for rs in changes.upserts} & set(changes.deletes)
    assert all(key in current for key in changes.deletes)


def test_type_change_at_a_name_deletes_the_old_type_and_upserts_the_new() -> None:
    changes = diff(records(NS, WWW_A), records(NS, WWW_CNAME))
    assert changes == ChangeSet(upserts=(WWW_CNAME,), deletes=(WWW_A.key,))


def test_apply_to_leaves_its_input_alone() -> None:
    current: Mapping[RecordKey, RecordSet] = dict(BASE)
    apply_to(current, diff(current, {}))
    assert current == BASE


def test_record_set_dict_round_trip() -> None:
    for rs in BASE.values():
        assert RecordSet.from_dict(rs.to_dict()) == rs


# --- canonical rdata --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rdtype", "spellings"),
    [
        pytest.param("AAAA", ("0::1", "::1", "0:0:0:0:0:0:0:1", "0000::0001"), id="aaaa-zero-compression"),
        pytest.param("AAAA", ("2001:DB8::1", "2001:db8:0::1"), id="aaaa-case-and-zeros"),
        pytest.param("CNAME", ("Host.Example.NET.", "host.example.net."), id="cname-case"),
        pytest.param("MX", ("10 Mail.Example.COM.", "10 mail.example.com."), id="mx-case"),
        pytest.param("NS", ("NS1.example.net.", "ns1.example.net."), id="ns-case"),
    ],
)
def test_canonical_rdata_spellings_of_the_same_data_are_identical(rdtype: str, spellings: tuple[str, ...]) -> None:
    assert len({canonical_rdata(rdtype, text) for text in spellings}) == 1


@pytest.mark.parametrize(
    ("rdtype", "text"),
    [
        pytest.param("AAAA", "::1", id="aaaa"),
        pytest.param("MX", "10 mail.example.com.", id="mx"),
        pytest.param("TXT", '"a" "b"', id="txt"),
        pytest.param("CAA", '0 issue "letsencrypt.org"', id="caa"),
        pytest.param("SRV", "1 5 443 sip.example.com.", id="srv"),
    ],
)
def test_canonical_rdata_is_idempotent(rdtype: str, text: str) -> None:
    once = canonical_rdata(rdtype, text)
    assert canonical_rdata(rdtype, once) == once


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param("0::1", "::1", id="compressed"), pytest.param("2001:0DB8:0000::0001", "2001:db8::1", id="padded")],
)
def test_typed_aaaa_is_canonical(value: str, expected: str) -> None:
    assert typed_rdata("AAAA", value) == expected == typed_rdata("AAAA", expected)


@pytest.mark.parametrize(
    ("rdtype", "value", "expected"),
    [
        pytest.param("CNAME", "Host.Example.NET", "host.example.net.", id="cname-mixed-case"),
        pytest.param("CNAME", "host.example.net.", "host.example.net.", id="cname-already-absolute"),
        pytest.param("CNAME", "Host", "host.", id="cname-single-label"),
        pytest.param("NS", "NS1.Example.NET", "ns1.example.net.", id="ns"),
        pytest.param("PTR", "Host.Example.NET", "host.example.net.", id="ptr"),
        pytest.param("MX", SimpleNamespace(preference=10, host="Mail.Example.COM"), "10 mail.example.com.", id="mx"),
        pytest.param("MX", SimpleNamespace(preference=0, host="mail"), "0 mail.", id="mx-single-label"),
        pytest.param(
            "SRV",
            SimpleNamespace(priority=1, weight=5, port=443, target="SIP.Example.COM"),
            "1 5 443 sip.example.com.",
            id="srv",
        ),
        pytest.param(
            "SRV", SimpleNamespace(priority=0, weight=0, port=1, target="host."), "0 0 1 host.", id="srv-absolute"
        ),
    ],
)
def test_host_name_targets_are_lowercase_and_absolute(rdtype: str, value: Any, expected: str) -> None:
    text = typed_rdata(rdtype, value)
    assert text == expected
    assert text.endswith(".")
    assert canonical_rdata(rdtype, text) == text


def test_record_set_canonicalises_every_value() -> None:
    rs = record_set("www", "AAAA", 60, ["0::1", "::1", "2001:DB8::1"])
    assert rs == RecordSet("www", "AAAA", 60, ("2001:db8::1", "::1"))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("v=spf1 -all", id="short"),
        pytest.param("x" * TXT_CHUNK, id="exactly-one-chunk"),
        pytest.param("x" * (TXT_CHUNK + 1), id="one-byte-over"),
        pytest.param("k=rsa; p=" + "A" * 600, id="dkim-sized"),
        pytest.param("é" * 300, id="multibyte-over-chunk"),
    ],
)
def test_txt_is_split_into_character_strings_and_round_trips(value: str) -> None:
    text = txt_rdata(value)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
    strings: tuple[bytes, ...] = rdata.strings  # type: ignore[attr-defined]
    data = value.encode("utf-8")
    assert b"".join(strings) == data
    assert all(len(s) <= TXT_CHUNK for s in strings)
    assert len(strings) == max(1, -(-len(data) // TXT_CHUNK))
    assert text.count('" "') == len(strings) - 1
    assert typed_rdata("TXT", value) == text


def test_txt_over_255_bytes_becomes_several_quoted_strings() -> None:
    text = txt_rdata("a" * 300)
    assert text == '"' + "a" * 255 + '" "' + "a" * 45 + '"'


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('say "hi"', id="quotes"),
        pytest.param("back\\slash", id="backslash"),
        pytest.param("semi; colon", id="semicolon"),
        pytest.param("$INCLUDE /etc/passwd", id="include-directive"),
        pytest.param("$ORIGIN evil.", id="origin-directive"),
        pytest.param("\\; ( ) @ $TTL 0", id="zone-file-syntax"),
        pytest.param('" "', id="fake-string-boundary"),
        pytest.param("héllo wörld", id="non-ascii"),
        pytest.param("x" * 250 + '"\\;' * 5, id="escapes-across-chunk-boundary"),
    ],
)
def test_hostile_txt_stays_data(value: str) -> None:
    text = txt_rdata(value)
    assert text.startswith('"')
    assert text.endswith('"')
    assert txt_bytes(text) == value.encode("utf-8")
    assert canonical_rdata("TXT", text) == text


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "zone", "relative"),
    [
        pytest.param("example.com", "example.com", APEX, id="apex"),
        pytest.param("www.example.com", "example.com", "www", id="one-label"),
        pytest.param("a.b.example.com", "example.com", "a.b", id="two-labels"),
        pytest.param("*.example.com", "example.com", "*", id="wildcard"),
        pytest.param("WWW.Example.COM.", "example.com.", "www", id="spelling"),
        pytest.param("www.shop.example.com", "shop.example.com", "www", id="child-zone"),
    ],
)
def test_relative_to_and_fqdn_round_trip(name: str, zone: str, relative: str) -> None:
    assert relative_to(name, zone) == relative
    assert fqdn(relative, zone) == normalise(name)
    assert relative_to(fqdn(relative, zone), zone) == relative


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        pytest.param("www.example.org", "example.com", id="other-domain"),
        pytest.param("www.badexample.com", "example.com", id="suffix-not-label-boundary"),
        pytest.param("com", "example.com", id="parent"),
    ],
)
def test_relative_to_refuses_names_outside_the_zone(name: str, zone: str) -> None:
    with pytest.raises(ValueError, match="not within"):
        relative_to(name, zone)


@pytest.mark.parametrize(
    ("name", "zone", "expected"),
    [
        pytest.param("example.com", "example.com", True, id="itself"),
        pytest.param("www.example.com", "example.com", True, id="below"),
        pytest.param("a.b.example.com", "example.com", True, id="deep"),
        pytest.param("WWW.EXAMPLE.COM.", "example.com", True, id="spelling"),
        pytest.param("badexample.com", "example.com", False, id="suffix-not-label-boundary"),
        pytest.param("example.com", "www.example.com", False, id="parent"),
        pytest.param("example.org", "example.com", False, id="other"),
    ],
)
def test_is_within(name: str, zone: str, expected: bool) -> None:
    assert is_within(name, zone) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("a.b.example.com", ["a.b.example.com", "b.example.com", "example.com"], id="closest-first"),
        pytest.param("example.com", ["example.com"], id="two-labels"),
        pytest.param("com", [], id="single-label"),
        pytest.param("*.shop.example.com", ["shop.example.com", "example.com"], id="wildcard-skipped"),
        pytest.param("*.example.com", ["example.com"], id="wildcard-two-labels"),
        pytest.param("WWW.Example.com.", ["www.example.com", "example.com"], id="spelling"),
    ],
)
def test_enclosing_zones_order(name: str, expected: list[str]) -> None:
    assert enclosing_zones(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("Host.Example.NET", "host.example.net.", id="mixed-case"),
        pytest.param("host.example.net.", "host.example.net.", id="already-absolute"),
        pytest.param(" host ", "host.", id="whitespace"),
    ],
)
def test_absolute(name: str, expected: str) -> None:
    assert absolute(name) == expected
