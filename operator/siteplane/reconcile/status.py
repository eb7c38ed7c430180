"""Status of each kind, derived from the database: what is stored, what is really served.

Messages name the spec field at fault and never reveal objects in namespaces the owner of the
status cannot read: another namespace's claim is "an older Site in another namespace", nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from siteplane.api.conditions import ConditionChange
from siteplane.domain.objects import ObjectRef
from siteplane.planning.placement import DOMAIN_CONFLICT, NOT_PERMITTED
from siteplane.planning.zone_plan import CNAME_AT_APEX, NAME_CONFLICT, PUBLISHED
from siteplane.store.models import Record, Site, Zone
from siteplane.store.unit_of_work import UnitOfWork

READY, STORED, PROGRAMMED = "Ready", "Stored", "DNSProgrammed"
REJECTED = "RejectedByServer"


@dataclass
class StatusReport:
    conditions: list[ConditionChange]
    fields: dict[str, Any] = field(default_factory=dict)
    generation: int | None = None


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


def _programmed(uow: UnitOfWork, uid: str, zones: list[Zone], field: str) -> ConditionChange:
    errors = [z.sync_error for z in zones if z.sync_error]
    if errors:
        return ConditionChange(PROGRAMMED, "False", "BackendError", "; ".join(sorted(set(errors))))
    rows = uow.record_sets.live_of_owner(uid)
    if refusals := sorted({r.rejected for r in rows if r.rejected}):
        return ConditionChange(
            PROGRAMMED,
            "False",
            REJECTED,
            f"{field}: {'; '.join(refusals)}. It is not sent again until it changes",
        )
    pending = [r for r in rows if r.applied_serial is None]
    if pending:
        return ConditionChange(PROGRAMMED, "False", "Pending", f"{len(pending)} record set(s) not yet served")
    return ConditionChange(PROGRAMMED, "True", "Served", f"{len(rows)} record set(s) served")


def site_status(uow: UnitOfWork, site: Site) -> StatusReport:
    domains = sorted((d for d in site.domains if d.deleted_at is None), key=lambda d: d.position)
    stored = ConditionChange(STORED, "True", "Stored", f"stored at generation {site.generation}")
    primary_zone = domains[0].zone_name if domains else None
    report = StatusReport([stored], {"zone": primary_zone}, site.generation)
    problem = _site_problem(uow, site, domains)
    zones = uow.zones.owners_named({d.zone_name for d in domains if d.zone_name})
    if problem is not None:
        reason, message = problem
        report.conditions += [
            ConditionChange(PROGRAMMED, "False", reason, message),
            ConditionChange(READY, "False", reason, message),
        ]
        return report
    programmed = _programmed(uow, site.uid, zones, "spec.serving")
    if site.suspended:
        note = "suspended: no records published"
        report.conditions += [
            ConditionChange(PROGRAMMED, programmed.status, programmed.reason, note),
            ConditionChange(READY, programmed.status, "Suspended", note),
        ]
        return report
    ready = ConditionChange(
        READY,
        programmed.status,
        "Published" if programmed.status == "True" else programmed.reason,
        programmed.message
        if programmed.status != "True"
        else f"{len(domains)} domain(s) served in {', '.join(sorted(z.zone_name for z in zones))}",
    )
    report.conditions += [programmed, ready]
    return report


def _site_problem(uow: UnitOfWork, site: Site, domains: list[Any]) -> tuple[str, str] | None:
    for domain in domains:
        where = _domain_field(domain.position)
        if domain.state == NOT_PERMITTED:
            return NOT_PERMITTED, domain_not_permitted(domain.position, site.namespace, domain.domain)
        if domain.state == DOMAIN_CONFLICT:
            owner = next((c for c in uow.sites.live_claims([domain.domain]) if c.is_owner), None)
            holder = ObjectRef("Site", owner.site.namespace, owner.site.name) if owner else None
            return DOMAIN_CONFLICT, (
                f"{where}: {domain.domain} is already claimed by "
                f"{describe_holder(holder, site.namespace)}; this Site publishes nothing"
            )
    if site.suspended:
        return None
    for domain in domains:
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
    return None


def record_status(uow: UnitOfWork, record: Record) -> StatusReport:
    stored = ConditionChange(STORED, "True", "Stored", f"stored at generation {record.generation}")
    fqdn = record.zone_name if record.record_name == "@" else f"{record.record_name}.{record.zone_name}"
    report = StatusReport([stored], {"fqdn": fqdn}, record.generation)
    zone = uow.zones.owner_of(record.zone_name)
    problem: tuple[str, str] | None = None
    if zone is None or record.state == NOT_PERMITTED:
        problem = (NOT_PERMITTED, record_not_permitted(record.zone_name, record.namespace, record.record_name))
    elif record.state == NAME_CONFLICT:
        problem = (
            NAME_CONFLICT,
            f"spec.name: {record.record_name} {record.type} in {record.zone_name} collides with "
            "records of an older object; this DNSRecord publishes nothing",
        )
    elif record.state != PUBLISHED:
        problem = ("Pending", "waiting for the zone to be planned")
    if problem is not None:
        report.conditions += [ConditionChange(PROGRAMMED, "False", *problem), ConditionChange(READY, "False", *problem)]
        return report
    assert zone is not None
    programmed = _programmed(uow, record.uid, [zone], f"spec.{record.type.lower()}")
    report.conditions += [
        programmed,
        ConditionChange(
            READY,
            programmed.status,
            "Published" if programmed.status == "True" else programmed.reason,
            programmed.message,
        ),
    ]
    return report


def zone_status(uow: UnitOfWork, zone: Zone) -> StatusReport:
    stored = ConditionChange(STORED, "True", "Stored", f"stored at generation {zone.generation}")
    fields = {
        "recordCount": zone.record_count,
        "serial": zone.serial,
        "driftCorrections": zone.drift_corrections,
    }
    report = StatusReport([stored], fields, zone.generation)
    if not zone.is_owner:
        holder = uow.zones.owner_of(zone.zone_name)
        ref = ObjectRef("DNSZone", holder.namespace, holder.name) if holder else None
        message = f"spec.zoneName: {zone.zone_name} is already defined by {describe_holder(ref, zone.namespace)}"
        report.fields = {}
        report.conditions.append(ConditionChange(READY, "False", NAME_CONFLICT, message))
        return report
    if zone.sync_error:
        unusable = zone.sync_error.startswith(("spec.backend:", "the operator's default backend:"))
        reason = "BackendUnavailable" if unusable else "BackendError"
        report.conditions.append(ConditionChange(READY, "False", reason, zone.sync_error))
    elif zone.serial is None:
        report.conditions.append(ConditionChange(READY, "False", "Pending", "not yet created on the backend"))
    else:
        report.conditions.append(
            ConditionChange(READY, "True", "Served", f"serial {zone.serial}, {zone.record_count} record set(s)")
        )
    return report
