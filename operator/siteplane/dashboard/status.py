"""An object's full conditions for a detail view: the operator's own pure status functions over
facts loaded from the database now, so the dashboard says what ``kubectl get`` will say once the
status writer has caught up, in the same words."""

from __future__ import annotations

from siteplane.dashboard.models import Condition
from siteplane.reconcile.status import StatusReport, record_status, site_status, zone_status
from siteplane.store.facts import load_records, load_sites, load_zones
from siteplane.store.unit_of_work import UnitOfWork


def _conditions(report: StatusReport) -> list[Condition]:
    return [Condition(type=c.type, status=c.status, reason=c.reason, message=c.message) for c in report.conditions]


def site_conditions(uow: UnitOfWork, uid: str) -> list[Condition]:
    facts = load_sites(uow, [uid]).get(uid)
    return [] if facts is None else _conditions(site_status(facts))


def zone_conditions(uow: UnitOfWork, uid: str) -> list[Condition]:
    facts = load_zones(uow, [uid]).get(uid)
    return [] if facts is None else _conditions(zone_status(facts))


def record_conditions(uow: UnitOfWork, uid: str) -> list[Condition]:
    facts = load_records(uow, [uid]).get(uid)
    return [] if facts is None else _conditions(record_status(facts))
