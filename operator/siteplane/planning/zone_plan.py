"""What one zone should serve: record sets from the zone itself, its Sites and its DNSRecords.

Conflicts inside a zone are decided here, deterministically, so that any worker planning the same
database state reaches the same answer: the zone owns its apex NS; then claims are taken oldest
first, and a claim is published only if none of its record sets collides with one already taken
(same name and type, or a CNAME and anything else at one name). A claim that collides publishes
nothing in this zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from siteplane.domain.names import APEX, relative_to
from siteplane.domain.objects import AgeKey, Claim, ObjectRef
from siteplane.domain.records import RecordKey, RecordSet, apex_ns, record_set
from siteplane.planning.placement import ZoneView

PUBLISHED = "Published"
NAME_CONFLICT = "NameConflict"
NOT_PERMITTED = "NotPermitted"
CNAME_AT_APEX = "CNAMEAtApex"


@dataclass(frozen=True)
class SiteClaim(Claim):
    """A publishing Site's domains that it owns in this zone, and where it is served."""

    domains: tuple[str, ...] = ()
    ttl: int | None = None
    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()
    cname: str | None = None


@dataclass(frozen=True)
class RecordClaim(Claim):
    """A DNSRecord aimed at this zone."""

    name: str = APEX
    type: str = "A"
    ttl: int | None = None
    rdata: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    state: str
    winner: ObjectRef | None = None  # for NAME_CONFLICT
    detail: str = ""  # for CNAME_AT_APEX: the domain


@dataclass
class ZonePlan:
    record_sets: dict[RecordKey, RecordSet] = field(default_factory=dict)
    owners: dict[RecordKey, ObjectRef] = field(default_factory=dict)
    outcomes: dict[ObjectRef, Outcome] = field(default_factory=dict)


def site_record_sets(zone: ZoneView, site: SiteClaim) -> list[RecordSet] | Outcome:
    """A Site's record sets in ``zone``, or the outcome explaining why it can have none."""
    ttl = site.ttl or zone.default_ttl
    sets: list[RecordSet] = []
    for domain in site.domains:
        name = relative_to(domain, zone.zone_name)
        if site.cname is not None:
            if name == APEX:
                return Outcome(CNAME_AT_APEX, detail=domain)
            sets.append(record_set(name, "CNAME", ttl, [site.cname]))
            continue
        if site.ipv4:
            sets.append(record_set(name, "A", ttl, site.ipv4))
        if site.ipv6:
            sets.append(record_set(name, "AAAA", ttl, site.ipv6))
    return sets


def _collides(candidate: RecordSet, taken: dict[RecordKey, RecordSet], names: dict[str, set[str]]) -> bool:
    types_at_name = names.get(candidate.name, set())
    if candidate.key in taken:
        return True
    return bool(types_at_name) and (candidate.type == "CNAME" or "CNAME" in types_at_name)


def plan_zone(zone: ZoneView, sites: Sequence[SiteClaim], records: Sequence[RecordClaim]) -> ZonePlan:
    plan = ZonePlan()
    names: dict[str, set[str]] = {}

    def take(owner: ObjectRef, sets: list[RecordSet]) -> None:
        for rs in sets:
            plan.record_sets[rs.key] = rs
            plan.owners[rs.key] = owner
            names.setdefault(rs.name, set()).add(rs.type)

    take(zone.ref, [apex_ns(zone.default_ttl, zone.name_servers)])

    candidates: list[tuple[AgeKey, ObjectRef, list[RecordSet] | Outcome]] = []
    for site in sites:
        candidates.append((site.age_key, site.ref, site_record_sets(zone, site)))
    for record in records:
        if not zone.permits(record.ref.namespace, record.name):
            candidates.append((record.age_key, record.ref, Outcome(NOT_PERMITTED)))
            continue
        ttl = record.ttl or zone.default_ttl
        candidates.append((record.age_key, record.ref, [RecordSet(record.name, record.type, ttl, record.rdata)]))

    for _, ref, sets in sorted(candidates, key=lambda c: c[0]):
        if isinstance(sets, Outcome):
            plan.outcomes[ref] = sets
            continue
        clash = next((rs for rs in sets if _collides(rs, plan.record_sets, names)), None)
        if clash is not None:
            holder = plan.owners.get(clash.key) or next(plan.owners[k] for k in plan.owners if k.name == clash.name)
            plan.outcomes[ref] = Outcome(NAME_CONFLICT, winner=holder, detail=str(clash.key))
            continue
        take(ref, sets)
        plan.outcomes[ref] = Outcome(PUBLISHED)
    return plan
