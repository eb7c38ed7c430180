"""Status from facts, pure: what each kind shows for each state, and messages that leak nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from siteplane.api.conditions import ConditionChange
from siteplane.domain.objects import ObjectRef
from siteplane.errors import DatabaseUnavailable, InvalidSpec
from siteplane.reconcile.status import (
    StatusReport,
    backend_status,
    problem,
    record_status,
    render,
    site_status,
    zone_status,
)
from siteplane.store.facts import DomainFacts, RecordFacts, SetFacts, SiteFacts, ZoneFacts

ZONE = ZoneFacts(ObjectRef("DNSZone", "team", "zone", "uid-zone"), "example.com", 3, True, False, 7, 2, 0, None, None)
SERVED = SetFacts(applied=True, rejected=None)
SITE = SiteFacts(
    ObjectRef("Site", "team", "www", "uid-www"),
    2,
    False,
    (DomainFacts("www.example.com", 0, "Owned", "Published", "example.com"),),
    (ZONE,),
    (SERVED,),
)
RECORD = RecordFacts(
    ObjectRef("DNSRecord", "team", "mx", "uid-mx"), 4, "example.com", "@", "MX", "Published", ZONE, (SERVED,)
)


def ready(report: StatusReport) -> tuple[str, str, str]:
    cond = next(c for c in report.conditions if c.type == "Ready")
    return cond.status, cond.reason, cond.message


def domain(**changes: object) -> DomainFacts:
    return replace(SITE.domains[0], **changes)  # type: ignore[arg-type]


OTHER_SITE = ObjectRef("Site", "tenant-b", "secret-site", "uid-b")
SAME_SITE = ObjectRef("Site", "team", "old", "uid-old")


@pytest.mark.parametrize(
    ("site", "expected_reason", "in_message", "not_in_message"),
    [
        pytest.param(SITE, "Published", "1 domain(s) served in example.com", None, id="published"),
        pytest.param(
            replace(SITE, domains=(domain(state="NotPermitted", zone_name=None, publish_state=None),)),
            "NotPermitted",
            "spec.primaryDomain: no zone that namespace team may publish in holds www.example.com",
            None,
            id="not-permitted",
        ),
        pytest.param(
            replace(SITE, domains=(domain(state="DomainConflict", publish_state=None, holder=OTHER_SITE),)),
            "DomainConflict",
            "an older Site in another namespace",
            "tenant-b",
            id="conflict-other-namespace-named-by-nothing",
        ),
        pytest.param(
            replace(SITE, domains=(domain(state="DomainConflict", publish_state=None, holder=SAME_SITE),)),
            "DomainConflict",
            "Site team/old, which is older",
            None,
            id="conflict-same-namespace-named",
        ),
        pytest.param(
            replace(SITE, domains=(domain(publish_state="NameConflict"),)),
            "NameConflict",
            "spec.primaryDomain: a record at www.example.com belongs to an older object",
            None,
            id="name-conflict",
        ),
        pytest.param(
            replace(SITE, domains=(domain(publish_state="CNAMEAtApex"),)),
            "CNAMEAtApex",
            "spec.serving.cname",
            None,
            id="cname-at-apex",
        ),
        pytest.param(
            replace(SITE, domains=(domain(publish_state=None),)),
            "Pending",
            "waiting for its zone",
            None,
            id="placed-not-yet-planned",
        ),
        pytest.param(
            replace(SITE, sets=(SetFacts(applied=False, rejected=None),)),
            "Pending",
            "1 record set(s) not yet served",
            None,
            id="not-yet-served",
        ),
        pytest.param(
            replace(SITE, zones=(replace(ZONE, sync_error="server down", sync_error_reason="BackendError"),)),
            "BackendError",
            "server down",
            None,
            id="backend-error",
        ),
        pytest.param(
            replace(
                SITE,
                zones=(replace(ZONE, sync_error="spec.backend: no", sync_error_reason="BackendUnavailable"),),
            ),
            "BackendError",
            "spec.backend: no",
            None,
            id="backend-unavailable-is-a-backend-error-for-what-publishes",
        ),
        pytest.param(
            replace(SITE, sets=(SetFacts(applied=False, rejected="the DNS server refused www/A (REFUSED)"),)),
            "RejectedByServer",
            "spec.serving: the DNS server refused www/A (REFUSED). It is not sent again until it changes",
            None,
            id="rejected",
        ),
        pytest.param(replace(SITE, suspended=True), "Suspended", "suspended", None, id="suspended"),
    ],
)
def test_site_status(site: SiteFacts, expected_reason: str, in_message: str, not_in_message: str | None) -> None:
    report = site_status(site)
    status, reason, message = ready(report)
    assert reason == expected_reason
    assert status == ("True" if reason in ("Published", "Suspended") else "False")
    assert in_message in message
    assert not_in_message is None or not_in_message not in message
    assert report.generation == site.generation


@pytest.mark.parametrize(
    ("record", "expected_reason"),
    [
        pytest.param(RECORD, "Published", id="published"),
        pytest.param(replace(RECORD, zone=None, state="Pending"), "NotPermitted", id="no-zone"),
        pytest.param(replace(RECORD, zone=replace(ZONE, refused=True)), "NotPermitted", id="zone-not-served"),
        pytest.param(replace(RECORD, state="NotPermitted"), "NotPermitted", id="refused-by-the-zone"),
        pytest.param(replace(RECORD, state="NameConflict"), "NameConflict", id="name-conflict"),
        pytest.param(replace(RECORD, state="Pending"), "Pending", id="not-yet-planned"),
    ],
)
def test_record_status(record: RecordFacts, expected_reason: str) -> None:
    assert ready(record_status(record))[1] == expected_reason


def test_a_record_refused_says_the_same_whether_the_zone_exists_or_not() -> None:
    missing = ready(record_status(replace(RECORD, zone=None, state="Pending")))[2]
    refused = ready(record_status(replace(RECORD, state="NotPermitted")))[2]
    not_served = ready(record_status(replace(RECORD, zone=replace(ZONE, refused=True))))[2]
    assert missing == refused == not_served


@pytest.mark.parametrize(
    ("zone", "expected_reason", "in_message"),
    [
        pytest.param(ZONE, "Served", "the zone is served by its backend", id="served"),
        pytest.param(replace(ZONE, serial=None), "Pending", "not yet created", id="pending"),
        pytest.param(
            replace(ZONE, is_owner=False, holder=ObjectRef("DNSZone", "tenant-x", "hidden-zone", "u")),
            "NameConflict",
            "spec.zoneName: example.com is already defined by an older DNSZone in another namespace",
            id="name-conflict",
        ),
        pytest.param(
            replace(ZONE, refused=True),
            "DelegationRefused",
            "spec.zoneName: example.com lies inside an older zone of another namespace",
            id="delegation-refused",
        ),
        pytest.param(
            replace(ZONE, sync_error="spec.backend: gone", sync_error_reason="BackendUnavailable"),
            "BackendUnavailable",
            "spec.backend: gone",
            id="backend-unavailable",
        ),
    ],
)
def test_zone_status(zone: ZoneFacts, expected_reason: str, in_message: str) -> None:
    _, reason, message = ready(zone_status(zone))
    assert reason == expected_reason
    assert in_message in message
    assert "tenant-x" not in message and "hidden-zone" not in message


def test_a_problem_names_its_reason_and_a_database_outage_says_nothing_is_stored() -> None:
    invalid = problem(InvalidSpec("spec.serving: bad"), 3)
    assert [(c.type, c.reason) for c in invalid.conditions] == [("Ready", "InvalidSpec")]
    outage = problem(DatabaseUnavailable("the application database is unavailable; retrying"))
    assert [(c.type, c.status, c.reason) for c in outage.conditions] == [
        ("Stored", "False", "DatabaseUnavailable"),
        ("Ready", "False", "DatabaseUnavailable"),
    ]


def test_render_writes_only_what_differs_and_keeps_the_transition_time() -> None:
    first = render({}, 2, site_status(SITE))
    assert first["observedGeneration"] == 2
    assert render(first, 2, site_status(SITE)) == {}, "an unchanged status is not written again"
    moved = render(first, 2, site_status(replace(SITE, generation=3)))
    assert set(moved) == {"observedGeneration", "conditions"}
    times = {c["type"]: c["lastTransitionTime"] for c in first["conditions"]}
    assert {c["type"]: c["lastTransitionTime"] for c in moved["conditions"]} == times


def _by_type(patch: dict[str, object]) -> dict[str, tuple[str, str]]:
    conditions = patch["conditions"]
    assert isinstance(conditions, list)
    return {c["type"]: (c["status"], c["reason"]) for c in conditions}


@pytest.mark.parametrize(
    ("ready", "reconciling", "stalled"),
    [
        (("True", "Published"), "False", "False"),
        (("True", "Served"), "False", "False"),
        (("True", "Granted"), "False", "False"),
        (("True", "Usable"), "False", "False"),
        (("True", "Suspended"), "False", "False"),
        # still working towards Ready: retried without anyone doing anything
        (("False", "Pending"), "True", "False"),
        (("False", "Suspended"), "True", "False"),
        (("False", "BackendError"), "True", "False"),
        (("False", "BackendUnavailable"), "True", "False"),
        (("False", "DatabaseUnavailable"), "True", "False"),
        (("False", "ApiUnavailable"), "True", "False"),
        (("False", "Unusable"), "True", "False"),
        (("False", "DeletionBlocked"), "True", "False"),
        # only a person can move these on
        (("False", "NotPermitted"), "False", "True"),
        (("False", "DomainConflict"), "False", "True"),
        (("False", "NameConflict"), "False", "True"),
        (("False", "RejectedByServer"), "False", "True"),
        (("False", "InvalidSpec"), "False", "True"),
        (("False", "Escalation"), "False", "True"),
        (("False", "NotAdmitted"), "False", "True"),
        (("False", "CNAMEAtApex"), "False", "True"),
        (("False", "DelegationRefused"), "False", "True"),
    ],
)
def test_every_verdict_says_reconciling_or_stalled_as_kstatus_reads_them(
    ready: tuple[str, str], reconciling: str, stalled: str
) -> None:
    status, reason = ready
    report = StatusReport([ConditionChange("Ready", status, reason, f"why: {reason}")])
    patch = render({}, 5, report)
    conditions = {c["type"]: c for c in patch["conditions"]}
    assert _by_type(patch) == {
        "Ready": (status, reason),
        "Reconciling": (reconciling, reason),
        "Stalled": (stalled, reason),
    }
    for cond in conditions.values():
        assert cond["observedGeneration"] == 5
        if cond["status"] == "True" and cond["type"] != "Ready":
            assert cond["message"] == f"why: {reason}", "the True one says why, as Ready does"
    assert patch["observedGeneration"] == 5


def test_a_verdict_that_changes_moves_reconciling_and_stalled_with_it() -> None:
    pending = render({}, 1, StatusReport([ConditionChange("Ready", "False", "Pending", "waiting")]))
    conflict = render(pending, 1, StatusReport([ConditionChange("Ready", "False", "DomainConflict", "older")]))
    assert _by_type({**pending, **conflict})["Stalled"] == ("True", "DomainConflict")
    assert _by_type({**pending, **conflict})["Reconciling"] == ("False", "DomainConflict")
    published = render({**pending, **conflict}, 2, StatusReport([ConditionChange("Ready", "True", "Published")]))
    assert _by_type(published) == {
        "Ready": ("True", "Published"),
        "Reconciling": ("False", "Published"),
        "Stalled": ("False", "Published"),
    }


def test_a_report_without_a_verdict_leaves_observed_generation_and_conditions_alone() -> None:
    """A DNSBackend not yet checked: its zone count is written, and it still reads not yet observed."""
    unchecked = backend_status(3, None, False, "zonefile")
    assert render({"observedGeneration": 0}, 1, unchecked) == {"zoneCount": 3}
    checked = render({"observedGeneration": 0}, 1, backend_status(3, None, True, "zonefile"))
    assert checked["observedGeneration"] == 1
    assert _by_type(checked)["Ready"] == ("True", "Usable")
