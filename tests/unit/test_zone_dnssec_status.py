"""DNSSECReady and status.dnssec of a DNSZone, from the facts alone; and spec.dnssec's rule."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from siteplane.api.dnszone import DNSSEC, DNSZoneSpec
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.status import DNSSEC_READY, READY, zone_status
from siteplane.store.facts import ZoneFacts

ZONE = ZoneFacts(ObjectRef("DNSZone", "team", "zone", "uid-zone"), "example.com", 3, True, False, 7, 2, 0, None, None)
ON = {"denial": "NSEC3"}
SIGNED = {
    "signed": True,
    "ds": ["12345 13 2 abcd"],
    "dnskeys": ["257 3 13 AAAA"],
    "expires": 1_800_000_000,
    "problem": None,
}


def _dnssec(facts: ZoneFacts) -> tuple[dict[str, Any] | None, Any]:
    report = zone_status(facts)
    found = [c for c in report.conditions if c.type == DNSSEC_READY]
    return (found[0].__dict__ if found else None), report.fields.get("dnssec")


def test_a_zone_that_never_had_dnssec_shows_no_condition_and_no_field() -> None:
    condition, field = _dnssec(ZONE)
    assert condition is None and field is None


def test_a_signed_zone_that_validates_is_dnssec_ready_with_what_the_registrar_needs() -> None:
    condition, field = _dnssec(replace(ZONE, dnssec=ON, dnssec_served=SIGNED))
    assert condition is not None and (condition["status"], condition["reason"]) == ("True", "Signed")
    assert field == {
        "ds": ["12345 13 2 abcd"],
        "dnskeys": ["257 3 13 AAAA"],
        "signaturesExpire": "2027-01-15T08:00:00Z",
    }


@pytest.mark.parametrize(
    ("served", "error", "reason"),
    [
        (None, None, "Pending"),
        ({**SIGNED, "problem": "signatures expired at 1"}, None, "ValidationFailed"),
        (SIGNED, "cannot write zone file", "BackendError"),
    ],
)
def test_a_zone_with_dnssec_on_but_not_validly_signed_is_not_dnssec_ready(
    served: dict[str, Any] | None, error: str | None, reason: str
) -> None:
    facts = replace(ZONE, dnssec=ON, dnssec_served=served, sync_error=error)
    condition, _ = _dnssec(facts)
    assert condition is not None and (condition["status"], condition["reason"]) == ("False", reason)
    # Ready is about the records being served, not about DNSSEC.
    if error is None:
        assert next(c for c in zone_status(facts).conditions if c.type == READY).status == "True"


def test_turned_off_dnssec_says_disabling_then_disabled_and_drops_the_field() -> None:
    condition, field = _dnssec(replace(ZONE, dnssec=None, dnssec_served=SIGNED))
    assert condition is not None and condition["reason"] == "Disabling" and field is None
    condition, field = _dnssec(replace(ZONE, dnssec=None, dnssec_served={**SIGNED, "signed": False}))
    assert condition is not None and (condition["status"], condition["reason"]) == ("False", "Disabled")


def test_denial_without_dnssec_enabled_is_refused_and_nsec3_is_the_default() -> None:
    with pytest.raises(ValidationError, match=r"dnssec\.denial applies only when dnssec\.enabled is true"):
        DNSSEC.model_validate({"enabled": False, "denial": "NSEC"})
    with pytest.raises(ValidationError):
        DNSSEC.model_validate({"enabled": True, "denial": "NSEC5"})
    spec = DNSZoneSpec.model_validate(
        {"zoneName": "example.com", "nameServers": ["ns1.example.net"], "dnssec": {"enabled": True}}
    )
    assert spec.dnssec is not None and spec.dnssec.denial is None  # stored as NSEC3 (reconcile/zones.py)
