"""Status of each kind, pure: from the facts loaded for it (store/facts.py), what it shows.

Messages name the spec field at fault and never reveal objects in namespaces the owner of the
status cannot read: another namespace's claim is "an older Site in another namespace", nothing more.

Beside Ready, every verdict carries the two conditions kstatus reads (Flux, Helm, cli-utils):
``Reconciling`` is True while the operator is still working towards Ready (pending, retrying a
backend or the database), ``Stalled`` is True, with Ready=False and the same reason, when only a
person can move the object on (a conflict, a refusal, an invalid spec). Before the operator has
written a verdict, the CRD's default ``status.observedGeneration: 0`` says the generation is not
yet observed (api/crdgen.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from siteplane.api.conditions import ConditionChange, merge_conditions, status_patch
from siteplane.domain.objects import ObjectRef
from siteplane.errors import DatabaseUnavailable, InvalidSpec, SiteplaneError
from siteplane.planning.placement import DOMAIN_CONFLICT, NOT_PERMITTED
from siteplane.planning.zone_plan import CNAME_AT_APEX, NAME_CONFLICT, PUBLISHED
from siteplane.store.facts import DomainFacts, RecordFacts, SetFacts, SiteFacts, ZoneFacts

READY, STORED, PROGRAMMED = "Ready", "Stored", "DNSProgrammed"
DNSSEC_READY = "DNSSECReady"
RECONCILING, STALLED = "Reconciling", "Stalled"
REJECTED = "RejectedByServer"
DELEGATION_REFUSED = "DelegationRefused"
ESCALATION, NOT_ADMITTED = "Escalation", "NotAdmitted"

NEEDS_A_PERSON = frozenset(
    {
        NOT_PERMITTED,  # no zone the namespace may publish in holds the name: a zone or a delegation must come
        DOMAIN_CONFLICT,  # an older object holds the domain
        NAME_CONFLICT,  # an older object holds the name (zone, record, RoleBinding)
        REJECTED,  # the DNS server refused the record set; it is not sent again until it changes
        InvalidSpec.reason,  # the spec must change
        ESCALATION,  # the grant hands out more than its author holds
        NOT_ADMITTED,  # the grant must be applied again through the admission webhook
        CNAME_AT_APEX,  # the spec must change: a zone apex cannot hold a CNAME
        DELEGATION_REFUSED,  # the enclosing zone's owner must list this namespace
    }
)
"""Ready reasons that no retry can change: the object reads Stalled (kstatus: Failed) instead of
Reconciling (kstatus: InProgress), so a GitOps sync fails at once instead of waiting out its timeout."""


@dataclass
class StatusReport:
    conditions: list[ConditionChange]
    fields: dict[str, Any] = field(default_factory=dict)
    generation: int | None = None
    """The generation the report describes; the object's own when None."""
    settling: frozenset[str] = frozenset()
    """Fields that are tallies (a zone's serial and record count): a patch that changes only these
    may wait until the object has been quiet for a moment, so a zone that a burst of Sites syncs
    twenty times has its status written once, not twenty times. Conditions never wait."""
    settling_zone: str | None = None
    """The zone whose pending syncs keep the tallies waiting: while it has work queued, more
    changes are on their way."""


def progress(ready: ConditionChange) -> list[ConditionChange]:
    """Reconciling and Stalled for a Ready verdict: at most one of them True, never both."""
    if ready.status == "True":
        return [ConditionChange(RECONCILING, "False", ready.reason), ConditionChange(STALLED, "False", ready.reason)]
    if ready.reason in NEEDS_A_PERSON:
        return [
            ConditionChange(RECONCILING, "False", ready.reason),
            ConditionChange(STALLED, "True", ready.reason, ready.message),
        ]
    return [
        ConditionChange(RECONCILING, "True", ready.reason, ready.message),
        ConditionChange(STALLED, "False", ready.reason),
    ]


def ready_status(status: Mapping[str, Any]) -> str:
    """An object's Ready condition as it shows it: "True", "False", or "Unknown" (none, or unreadable)."""
    for condition in status.get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == READY:
            value = condition.get("status")
            return value if value in ("True", "False") else "Unknown"
    return "Unknown"


def render(current: Mapping[str, Any], generation: int, report: StatusReport) -> dict[str, Any]:
    """The status patch for an object whose status is ``current``: only the fields that differ.

    A report without a Ready verdict (a DNSBackend not yet checked) writes its fields only:
    ``observedGeneration`` moves with a verdict, so kstatus and Argo CD go on reading the object as
    in progress instead of taking a generation with no verdict for a current one.
    """
    ready = next((c for c in report.conditions if c.type == READY), None)
    if ready is None:
        return status_patch(current, dict(report.fields))
    observed = report.generation if report.generation is not None else generation
    changes = [*report.conditions, *progress(ready)]
    desired: dict[str, Any] = {
        "observedGeneration": observed,
        "conditions": merge_conditions(current.get("conditions") or [], changes, observed),
        **report.fields,
    }
    return status_patch(current, desired)


def problem(error: SiteplaneError, generation: int | None = None) -> StatusReport:
    """What an object shows when reconciling it failed with ``error`` (nothing else was decided)."""
    conditions = [ConditionChange(READY, "False", error.reason, error.message)]
    if isinstance(error, DatabaseUnavailable):
        conditions.insert(0, ConditionChange(STORED, "False", error.reason, error.message))
    return StatusReport(conditions, generation=generation)


def describe_holder(holder: ObjectRef | None, viewer_namespace: str) -> str:
    if holder is None:
        return "an older claim"
    if holder.namespace == viewer_namespace:
        return f"{holder.kind} {holder.namespace}/{holder.name}, which is older"
    return f"an older {holder.kind} in another namespace"


def _domain_field(position: int) -> str:
    return "spec.primaryDomain" if position == 0 else f"spec.aliases[{position - 1}]"


# The NotPermitted messages, shared with the admission webhook's early refusals so that both say
# exactly the same, and neither tells whether a zone exists or who owns it.
def domain_not_permitted(position: int, namespace: str, domain: str) -> str:
    return f"{_domain_field(position)}: no zone that namespace {namespace} may publish in holds {domain}"


def record_not_permitted(zone: str, namespace: str, name: str) -> str:
    return f"spec.zone: zone {zone} does not exist or does not let namespace {namespace} publish {name!r}"


def zone_not_delegated(zone_name: str) -> str:
    return (
        f"spec.zoneName: {zone_name} lies inside an older zone of another namespace, which does not list "
        "this namespace in its spec.delegations"
    )


def _stored(generation: int) -> ConditionChange:
    return ConditionChange(STORED, "True", "Stored", f"stored at generation {generation}")


def _programmed(zones: Sequence[ZoneFacts], sets: Sequence[SetFacts], field_name: str) -> ConditionChange:
    if errors := sorted({z.sync_error for z in zones if z.sync_error}):
        # The zone itself tells BackendUnavailable from BackendError; for what publishes in it,
        # either way its records are not served because of the backend.
        return ConditionChange(PROGRAMMED, "False", "BackendError", "; ".join(errors))
    if refusals := sorted({s.rejected for s in sets if s.rejected}):
        return ConditionChange(
            PROGRAMMED, "False", REJECTED, f"{field_name}: {'; '.join(refusals)}. It is not sent again until it changes"
        )
    pending = [s for s in sets if not s.applied]
    if pending:
        return ConditionChange(PROGRAMMED, "False", "Pending", f"{len(pending)} record set(s) not yet served")
    return ConditionChange(PROGRAMMED, "True", "Served", f"{len(sets)} record set(s) served")


def _outcome(programmed: ConditionChange) -> ConditionChange:
    """Ready, when nothing but the server's state decides it."""
    served = programmed.status == "True"
    return ConditionChange(READY, programmed.status, "Published" if served else programmed.reason, programmed.message)


def site_status(site: SiteFacts) -> StatusReport:
    report = StatusReport([_stored(site.generation)], {"zone": site.domains[0].zone_name if site.domains else None})
    report.generation = site.generation
    trouble = _site_problem(site)
    if trouble is not None:
        reason, message = trouble
        report.conditions += [
            ConditionChange(PROGRAMMED, "False", reason, message),
            ConditionChange(READY, "False", reason, message),
        ]
        return report
    programmed = _programmed(site.zones, site.sets, "spec.serving")
    if site.suspended:
        note = "suspended: no records published"
        report.conditions += [
            ConditionChange(PROGRAMMED, programmed.status, programmed.reason, note),
            ConditionChange(READY, programmed.status, "Suspended", note),
        ]
        return report
    ready = _outcome(programmed)
    if ready.status == "True":
        zones = ", ".join(sorted(z.zone_name for z in site.zones))
        ready = ConditionChange(READY, "True", "Published", f"{len(site.domains)} domain(s) served in {zones}")
    report.conditions += [programmed, ready]
    return report


def _site_problem(site: SiteFacts) -> tuple[str, str] | None:
    namespace = site.ref.namespace
    for domain in site.domains:
        if domain.state == NOT_PERMITTED:
            return NOT_PERMITTED, domain_not_permitted(domain.position, namespace, domain.domain)
        if domain.state == DOMAIN_CONFLICT:
            return DOMAIN_CONFLICT, (
                f"{_domain_field(domain.position)}: {domain.domain} is already claimed by "
                f"{describe_holder(domain.holder, namespace)}; this Site publishes nothing"
            )
    if site.suspended:
        return None
    for domain in site.domains:
        if (found := _publish_problem(domain)) is not None:
            return found
    return None


def _publish_problem(domain: DomainFacts) -> tuple[str, str] | None:
    where = _domain_field(domain.position)
    if domain.publish_state == NAME_CONFLICT:
        return NAME_CONFLICT, (
            f"{where}: a record at {domain.domain} belongs to an older object; this Site publishes nothing there"
        )
    if domain.publish_state == CNAME_AT_APEX:
        return CNAME_AT_APEX, (
            f"spec.serving.cname: {domain.domain} is a zone apex, where a CNAME cannot be "
            "published; serve it by ipv4/ipv6 addresses"
        )
    if domain.publish_state is None and domain.state != "Owned":
        return "Pending", f"{where}: not yet placed"
    if domain.publish_state is None:
        return "Pending", f"{where}: waiting for its zone to be planned"
    return None


def record_status(record: RecordFacts) -> StatusReport:
    fqdn = record.zone_name if record.record_name == "@" else f"{record.record_name}.{record.zone_name}"
    report = StatusReport([_stored(record.generation)], {"fqdn": fqdn}, record.generation)
    zone = record.zone
    trouble: tuple[str, str] | None = None
    if zone is None or zone.refused or record.state == NOT_PERMITTED:
        trouble = (NOT_PERMITTED, record_not_permitted(record.zone_name, record.ref.namespace, record.record_name))
    elif record.state == NAME_CONFLICT:
        trouble = (
            NAME_CONFLICT,
            f"spec.name: {record.record_name} {record.type} in {record.zone_name} collides with "
            "records of an older object; this DNSRecord publishes nothing",
        )
    elif record.state != PUBLISHED:
        trouble = ("Pending", "waiting for the zone to be planned")
    if trouble is not None:
        report.conditions += [ConditionChange(PROGRAMMED, "False", *trouble), ConditionChange(READY, "False", *trouble)]
        return report
    assert zone is not None
    programmed = _programmed([zone], record.sets, f"spec.{record.type.lower()}")
    report.conditions += [programmed, _outcome(programmed)]
    return report


ZONE_TALLIES = frozenset({"recordCount", "serial", "driftCorrections"})


def zone_status(zone: ZoneFacts) -> StatusReport:
    fields = {"recordCount": zone.record_count, "serial": zone.serial, "driftCorrections": zone.drift_corrections}
    report = StatusReport(
        [_stored(zone.generation)], fields, zone.generation, settling=ZONE_TALLIES, settling_zone=zone.zone_name
    )
    namespace = zone.ref.namespace
    if not zone.is_owner:
        message = f"spec.zoneName: {zone.zone_name} is already defined by {describe_holder(zone.holder, namespace)}"
        report.fields = {}
        report.conditions.append(ConditionChange(READY, "False", NAME_CONFLICT, message))
    elif zone.refused:
        report.fields = {"recordCount": 0, "serial": None, "driftCorrections": zone.drift_corrections}
        message = f"{zone_not_delegated(zone.zone_name)}; the zone is stored but not served"
        report.conditions.append(ConditionChange(READY, "False", DELEGATION_REFUSED, message))
    elif zone.sync_error:
        reason = zone.sync_error_reason or "BackendError"
        report.conditions.append(ConditionChange(READY, "False", reason, zone.sync_error))
    elif zone.serial is None:
        report.conditions.append(ConditionChange(READY, "False", "Pending", "not yet created on the backend"))
    else:
        report.conditions.append(
            # No serial or count in the message: they move with every sync, and a condition that
            # moves is written at once (status.serial and status.recordCount carry them, settling).
            ConditionChange(READY, "True", "Served", "the zone is served by its backend")
        )
    if zone.is_owner and not zone.refused:
        dnssec, status = _dnssec(zone)
        report.fields["dnssec"] = status
        if dnssec is not None:
            report.conditions.append(dnssec)
    return report


def _dnssec(zone: ZoneFacts) -> tuple[ConditionChange | None, dict[str, Any] | None]:
    """DNSSECReady and status.dnssec. A zone that never had DNSSEC shows neither; one that had it
    and has it off now shows DNSSECReady False (Disabled), so no True from earlier stays behind."""
    served = zone.dnssec_served or {}
    if zone.dnssec is None:
        if zone.dnssec_served is None:
            return None, None
        if served.get("signed"):
            return ConditionChange(
                DNSSEC_READY, "False", "Disabling", "spec.dnssec is off; signatures still served"
            ), None
        return ConditionChange(DNSSEC_READY, "False", "Disabled", "spec.dnssec is off: the zone is not signed"), None
    if zone.sync_error:
        return ConditionChange(DNSSEC_READY, "False", zone.sync_error_reason or "BackendError", zone.sync_error), None
    if not served.get("signed"):
        return ConditionChange(DNSSEC_READY, "False", "Pending", "the zone is not signed yet"), None
    status: dict[str, Any] = {
        "ds": list(served.get("ds") or []),
        "dnskeys": list(served.get("dnskeys") or []),
        "signaturesExpire": _rfc3339(served["expires"]) if served.get("expires") else None,
    }
    status = {k: v for k, v in status.items() if v}
    if problem := served.get("problem"):
        return ConditionChange(
            DNSSEC_READY, "False", "ValidationFailed", f"the served zone does not validate: {problem}"
        ), status
    if not served.get("ds"):
        return ConditionChange(
            DNSSEC_READY, "False", "NoKeySigningKey", "the zone is signed but serves no DNSKEY with flags 257"
        ), status
    expires = f"; signatures valid until {status['signaturesExpire']}" if "signaturesExpire" in status else ""
    message = (
        f"signed, every RRset validates against the zone's DNSKEY{expires}; publish status.dnssec.ds at the parent"
    )
    return ConditionChange(DNSSEC_READY, "True", "Signed", message), status


def _rfc3339(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backend_status(zone_count: int, problem_text: str | None, checked: bool, backend_type: str) -> StatusReport:
    """A DNSBackend: how many zones it serves, and whether its last check passed (if it has had one)."""
    report = StatusReport([], {"zoneCount": zone_count})
    if checked:
        report.conditions.append(
            ConditionChange(READY, "False", "Unusable", problem_text)
            if problem_text
            else ConditionChange(READY, "True", "Usable", f"{backend_type} backend ready")
        )
    return report
