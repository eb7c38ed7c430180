"""The pydantic models accept what the CRDs accept and reject what they reject."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from siteplane.api.conditions import describe_validation_error
from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.api.kinds import BY_KIND
from siteplane.api.site import SiteSpec
from tests.corpus import example_documents, invalid_cases

SITEPLANE_EXAMPLES = [(f, d) for f, d in example_documents() if d["apiVersion"].startswith("siteplane.io/")]


@pytest.mark.parametrize(
    ("filename", "doc"), SITEPLANE_EXAMPLES, ids=[f"{f}:{d['metadata']['name']}" for f, d in SITEPLANE_EXAMPLES]
)
def test_every_example_validates_against_its_model(filename: str, doc: dict[str, Any]) -> None:
    BY_KIND[doc["kind"]].spec.model_validate(doc["spec"])


STANDALONE_INVALID = [c for c in invalid_cases() if not c.is_update]


@pytest.mark.parametrize("case", STANDALONE_INVALID, ids=[c.name for c in STANDALONE_INVALID])
def test_every_invalid_manifest_is_rejected_by_its_model_too(case: Any) -> None:
    with pytest.raises(ValidationError):
        BY_KIND[case.manifest["kind"]].spec.model_validate(case.manifest.get("spec"))


def test_models_round_trip_to_the_same_wire_form() -> None:
    for _, doc in SITEPLANE_EXAMPLES:
        model = BY_KIND[doc["kind"]].spec.model_validate(doc["spec"])
        assert BY_KIND[doc["kind"]].spec.model_validate(model.model_dump(by_alias=True, exclude_none=True)) == model


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"primaryDomain": "www.example.com", "serving": {"ipv4": ["192.0.2.300"]}}, "spec.serving.ipv4[0]:"),
        ({"primaryDomain": "www.example.com"}, "spec.serving: Field required"),
        (
            {"primaryDomain": "x.example.com", "serving": {"cname": "a.b", "ipv4": ["192.0.2.1"]}},
            "spec.serving: serving needs either a cname target or ipv4/ipv6 addresses, not both",
        ),
    ],
)
def test_validation_errors_name_the_offending_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        SiteSpec.model_validate(spec)
    assert message in describe_validation_error(error.value)


def test_record_values_come_back_typed() -> None:
    spec = DNSRecordSpec.model_validate({"zone": "example.com", "name": "docs", "type": "CNAME", "cname": "x.y."})
    assert spec.values() == ["x.y."]
    mx = DNSRecordSpec.model_validate(
        {"zone": "example.com", "name": "@", "type": "MX", "mx": [{"preference": 10, "host": "mx.example.net"}]}
    )
    assert mx.values()[0].preference == 10


def test_site_domains_lists_primary_first() -> None:
    spec = SiteSpec.model_validate(
        {"primaryDomain": "www.example.com", "aliases": ["example.com"], "serving": {"ipv4": ["192.0.2.1"]}}
    )
    assert spec.domains == ["www.example.com", "example.com"]


SITE = {"primaryDomain": "www.example.com", "serving": {"ipv4": ["192.0.2.1"]}}
RECORD = {"zone": "example.com", "name": "www", "type": "A", "a": ["192.0.2.1"]}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # What the apiserver's lenient `format: ipv4` takes and the IPv4 pattern refuses.
        ({**SITE, "serving": {"ipv4": ["192.0.2.010"]}}, "spec.serving.ipv4[0]: Input should be an IPv4 address"),
        ({**RECORD, "a": ["::ffff:192.0.2.1"]}, "spec.a[0]: Input should be an IPv4 address"),
        ({**RECORD, "a": [3221225985]}, "spec.a[0]: Input should be an IPv4 address"),
        # What Python's ipaddress takes and `format: ipv6` refuses.
        ({**SITE, "serving": {"ipv6": ["fe80::1%eth0"]}}, "spec.serving.ipv6[0]: Input should be an IPv6 address"),
        # JSON types, as `type: integer` and `type: boolean` have them.
        ({**SITE, "ttl": "300"}, "spec.ttl: Input should be an integer"),
        ({**SITE, "ttl": True}, "spec.ttl: Input should be an integer"),
        ({**SITE, "suspended": "true"}, "spec.suspended: Input should be a valid boolean"),
        # x-kubernetes-list-type set and map.
        ({**RECORD, "a": ["192.0.2.1", "192.0.2.1"]}, 'spec.a: Duplicate value at [1]: "192.0.2.1"'),
        ({**SITE, "aliases": ["a.example.com", "a.example.com"]}, "spec.aliases: Duplicate value at [1]"),
    ],
)
def test_models_refuse_what_the_apiserver_refuses_by_type_set_and_address_rules(
    spec: dict[str, Any], message: str
) -> None:
    kind = "Site" if "primaryDomain" in spec else "DNSRecord"
    with pytest.raises(ValidationError) as error:
        BY_KIND[kind].spec.model_validate(spec)
    assert message in describe_validation_error(error.value)


@pytest.mark.parametrize(
    "spec",
    [
        {**SITE, "ttl": 300.0},  # the apiserver takes a whole float for an integer (and stores 300)
        {**SITE, "serving": {"ipv6": ["::1", "0::1"]}},  # two spellings are two set items, as on the apiserver
        {**SITE, "serving": {"ipv6": ["::ffff:192.0.2.1", "2001:DB8::1"]}},
        {**RECORD, "a": ["0.0.0.0", "255.255.255.255"]},
    ],
)
def test_models_accept_what_the_apiserver_accepts_at_those_edges(spec: dict[str, Any]) -> None:
    BY_KIND["Site" if "primaryDomain" in spec else "DNSRecord"].spec.model_validate(spec)
