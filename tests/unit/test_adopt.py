"""Adoption's conversion, pure: a zone as served in, manifests and findings out.

The hostile cases are a table: each adds one record set (or changes one zone setting) that the
manifests cannot describe, and must come out as a finding naming it, with everything else of the
zone still adopted. Real servers and the real operator are in tests/cluster/test_adopt.py.
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest

from siteplane.adopt.convert import LEFT_ALONE, NOT_ADOPTED, AdoptOptions, adopt_zone
from siteplane.adopt.names import NameBook, object_name
from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.api.dnszone import DNSZoneSpec
from siteplane.api.site import SiteSpec
from siteplane.dns.backend import SOASettings, ZoneContent
from siteplane.domain.records import RecordSet, canonical_rdata

ZONE = "example.com"
SOA = SOASettings("ns1.example.net.", "hostmaster.example.com.", 7200, 900, 1209600, 300, 3600)
MODELS = {"DNSZone": DNSZoneSpec, "Site": SiteSpec, "DNSRecord": DNSRecordSpec}
SITES = AdoptOptions(site_networks=(ip_network("203.0.113.0/24"), ip_network("2001:db8::/32")))


def rs(name: str, rtype: str, ttl: int, *texts: str) -> RecordSet:
    return RecordSet(name, rtype, ttl, tuple(canonical_rdata(rtype, t) for t in texts))


BASE = [
    rs("@", "NS", 3600, "ns1.example.net.", "ns2.example.net."),
    rs("@", "MX", 3600, "10 mail.example.com."),
    rs("www", "A", 3600, "198.51.100.1"),
]


def content(*extra: RecordSet, soa: SOASettings | None = SOA, base: list[RecordSet] = BASE) -> ZoneContent:
    sets = {r.key: r for r in [*base, *extra]}
    return ZoneContent(2024010101, sets, soa)


def specs(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d["spec"] for d in docs if d["kind"] == kind]


def test_a_plain_zone_is_adopted_whole_and_every_document_passes_its_model() -> None:
    adoption = adopt_zone(ZONE, content(rs("@", "TXT", 300, '"v=spf1 mx -all"')), AdoptOptions(namespace="hosting"))
    assert adoption.findings == []
    zone = specs(adoption.documents, "DNSZone")[0]
    assert zone == {
        "zoneName": ZONE,
        "defaultTTL": 3600,
        "nameServers": ["ns1.example.net", "ns2.example.net"],
        "soa": {
            "primaryNameServer": "ns1.example.net",
            "responsibleMailbox": "hostmaster.example.com",
            "refresh": 7200,
            "retry": 900,
            "expire": 1209600,
            "negativeTTL": 300,
        },
    }
    records = {(s["name"], s["type"]): s for s in specs(adoption.documents, "DNSRecord")}
    assert set(records) == {("@", "MX"), ("www", "A"), ("@", "TXT")}
    assert "ttl" not in records["@", "MX"] and records["@", "TXT"]["ttl"] == 300
    for doc in adoption.documents:
        assert doc["metadata"]["namespace"] == "hosting"
        MODELS[doc["kind"]].model_validate(doc["spec"])


def test_names_at_the_hosting_addresses_become_sites_whose_records_replace_the_dnsrecords() -> None:
    served = content(
        rs("@", "A", 3600, "203.0.113.10"),
        rs("@", "AAAA", 3600, "2001:db8::10"),
        rs("www", "AAAA", 3600, "2001:db8::10"),
        rs("blog", "A", 300, "203.0.113.11"),
        rs("mixed", "A", 3600, "203.0.113.12", "198.51.100.12"),  # one address elsewhere: not a Site
        rs("split", "A", 300, "203.0.113.13"),
        rs("split", "AAAA", 3600, "2001:db8::13"),  # a Site has one TTL: stays DNSRecords
        rs("_acme", "A", 3600, "203.0.113.14"),  # not a site domain: stays a DNSRecord
        rs("*.dev", "A", 3600, "203.0.113.15"),
        rs("shop", "NS", 3600, "ns1.shop.example.com."),
        rs("ns1.shop", "A", 3600, "203.0.113.53"),  # glue of a delegation: stays a DNSRecord
        base=[*BASE[:2], rs("www", "A", 3600, "203.0.113.10")],
    )
    adoption = adopt_zone(ZONE, served, SITES)
    assert adoption.findings == []
    sites = {s["primaryDomain"]: s for s in specs(adoption.documents, "Site")}
    assert sites == {
        "example.com": {
            "primaryDomain": "example.com",
            "aliases": ["www.example.com"],
            "serving": {"ipv4": ["203.0.113.10"], "ipv6": ["2001:db8::10"]},
        },
        "blog.example.com": {"primaryDomain": "blog.example.com", "serving": {"ipv4": ["203.0.113.11"]}, "ttl": 300},
        "*.dev.example.com": {"primaryDomain": "*.dev.example.com", "serving": {"ipv4": ["203.0.113.15"]}},
    }
    records = {(s["name"], s["type"]) for s in specs(adoption.documents, "DNSRecord")}
    assert records == {
        ("@", "MX"),
        ("mixed", "A"),
        ("split", "A"),
        ("split", "AAAA"),
        ("_acme", "A"),
        ("shop", "NS"),
        ("ns1.shop", "A"),
    }
    assert (adoption.sites, adoption.records) == (3, 7)


HOSTILE = [
    # (case, record set, the finding's words)
    ("unsupported type", rs("host", "SSHFP", 3600, "1 1 0123456789abcdef0123456789abcdef01234567"), "SSHFP is not"),
    ("another unsupported type", rs("old", "HINFO", 3600, '"PDP-11" "UNIX"'), "HINFO is not"),
    ("CNAME beside other data", rs("www", "CNAME", 3600, "elsewhere.example.net."), "CNAME beside other data (A)"),
    ("underscore inside a label", rs("odd_name", "A", 3600, "192.0.2.1"), "name 'odd_name'"),
    ("a space in a name", RecordSet("a\\032b", "A", 3600, ("192.0.2.1",)), "does not match"),
    ("wildcard not first", rs("a.*", "A", 3600, "192.0.2.1"), "does not match"),
    ("TTL zero", rs("zero", "A", 0, "192.0.2.1"), "ttl 0"),
    ("TTL over a week", rs("slow", "A", 604801, "192.0.2.1"), "ttl 604801"),
    ("TXT of several strings", rs("multi", "TXT", 3600, '"part one" "part two"'), "cannot say it exactly"),
    ("TXT over the schema's 2048", rs("big", "TXT", 3600, " ".join(['"' + "x" * 250 + '"'] * 9)), "at most 2048"),
    ("TXT with a control character", rs("ctl", "TXT", 3600, '"bell\\007"'), "does not match"),
    ("TXT that is not UTF-8", rs("bin", "TXT", 3600, '"\\255\\254"'), "not UTF-8"),
    ("null MX (RFC 7505)", rs("nomail", "MX", 3600, "0 ."), "does not match"),
    ("CNAME to an underscore name", rs("acme", "CNAME", 3600, "_acme.validation.example.net."), "does not match"),
    ("CAA with an uppercase tag", rs("ca", "CAA", 3600, '0 Issue "letsencrypt.org"'), "does not match"),
    (
        "more values than a DNSRecord takes",
        rs("many", "A", 3600, *(f"10.0.{i // 250}.{i % 250}" for i in range(501))),
        "at most 500",
    ),
    ("SRV without a target", rs("_x._tcp", "SRV", 3600, "0 0 0 ."), "does not match"),
]


@pytest.mark.parametrize(("case", "hostile", "words"), HOSTILE, ids=[c for c, _, _ in HOSTILE])
def test_what_a_dnsrecord_cannot_say_is_a_finding_and_the_rest_is_adopted(
    case: str, hostile: RecordSet, words: str
) -> None:
    adoption = adopt_zone(ZONE, content(hostile), AdoptOptions())
    assert [(f.name, f.type, f.consequence) for f in adoption.findings] == [(hostile.name, hostile.type, LEFT_ALONE)]
    assert words in adoption.findings[0].reason, adoption.findings[0].reason
    records = {(s["name"], s["type"]) for s in specs(adoption.documents, "DNSRecord")}
    assert {("@", "MX"), ("www", "A")} <= records and (hostile.name, hostile.type) not in records


ZONE_LEVEL = [
    ("apex NS TTL unlike the SOA's", content(base=[rs("@", "NS", 86400, "ns1.example.net.")]), "apex NS has TTL 86400"),
    ("no SOA", content(soa=None), "no SOA"),
    ("no apex NS", content(base=BASE[1:]), "no NS"),
    ("SOA minimum 0", content(soa=SOASettings(SOA.mname, SOA.rname, 7200, 900, 1209600, 0, 3600)), "negativeTTL"),
    ("SOA TTL over a week", content(soa=SOASettings(SOA.mname, SOA.rname, ttl=864000)), "defaultTTL"),
    (
        "SOA mailbox with an escaped dot",
        content(soa=SOASettings(SOA.mname, "john\\.doe.example.com.")),
        "responsibleMailbox",
    ),
    ("signed zone", content(rs("@", "DNSKEY", 3600, "257 3 13 " + "A" * 88)), "served signed"),
]


@pytest.mark.parametrize(("case", "served", "words"), ZONE_LEVEL, ids=[c for c, _, _ in ZONE_LEVEL])
def test_a_zone_whose_settings_cannot_be_described_is_not_adopted_and_says_why(
    case: str, served: ZoneContent, words: str
) -> None:
    adoption = adopt_zone(ZONE, served, AdoptOptions())
    assert adoption.documents == []
    assert adoption.findings and {f.consequence for f in adoption.findings} == {NOT_ADOPTED}
    assert any(words in f.reason for f in adoption.findings), adoption.findings


def test_allow_changes_adopts_a_zone_with_an_apex_ns_ttl_it_cannot_keep_and_says_so() -> None:
    served = content(base=[rs("@", "NS", 86400, "ns1.example.net."), *BASE[1:]])
    adoption = adopt_zone(ZONE, served, AdoptOptions(allow_changes=True))
    assert adoption.adopted and len(adoption.findings) == 1
    assert "first sync will change" in adoption.findings[0].consequence


def test_object_names_fit_kubernetes_and_never_clash() -> None:
    assert object_name("www.example.com-a") == "www.example.com-a"
    changed = object_name("_dmarc.example.com-txt")
    assert changed.startswith("dmarc.example.com-txt-") and len(changed) == len("dmarc.example.com-txt-") + 8
    assert object_name("*.dev.example.com").startswith("wildcard.dev.example.com-")
    assert len(object_name("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61 + "-txt")) <= 253
    book = NameBook()
    # '_x' and '-x' both clean up to 'x': the second gets its own digest.
    first, second = book.take("_x.example.com"), book.take("-x.example.com")
    assert first != second
