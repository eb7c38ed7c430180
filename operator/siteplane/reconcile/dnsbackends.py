"""DNSBackend reconciliation: remember the backend, read its Secrets, test it, and say whether it works.

Run on every change and periodically (a Secret is read, not watched: the operator may only ``get``
the Secrets it is pointed at). When a backend becomes usable again, or its credentials changed,
the zones it serves that are in error are synced at once instead of waiting for their own retries.
"""

from __future__ import annotations

import asyncio

from pydantic import ValidationError

from siteplane.api.conditions import ConditionChange
from siteplane.api.dnsbackend import DNSBackendSpec
from siteplane.reconcile.backends import BackendResolver
from siteplane.reconcile.common import affected_by, invalid_spec, render, sync_zones
from siteplane.reconcile.inputs import ObjectInput, Outcome, backoff
from siteplane.reconcile.status import READY, StatusReport
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.store.unit_of_work import Store

RECHECK_BASE, RECHECK_CAP = 30.0, 600.0


class DNSBackendService:
    def __init__(self, store: Store, writer: ZoneWriter, backends: BackendResolver) -> None:
        self.store = store
        self.writer = writer
        self.backends = backends

    async def reconcile(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        try:
            spec = DNSBackendSpec.model_validate(dict(obj.spec))
        except ValidationError as error:
            return invalid_spec(obj, error)
        name = obj.ref.name
        self.backends.remember(name, obj.spec)
        changed, problem = await asyncio.to_thread(self.backends.refresh, name)
        zones = await asyncio.to_thread(self._zones, name)
        fields = {"zoneCount": len(zones)}
        if problem:
            report = StatusReport([ConditionChange(READY, "False", "Unusable", problem)], fields)
            # Slow retries: a wrong key or a missing Secret is fixed by a person, and every attempt
            # costs the server a rejected request. A changed spec is handled at once anyway.
            return Outcome(
                render(obj, report), retry_after=backoff(retry, RECHECK_BASE, RECHECK_CAP), retry_reason=problem
            )
        report = StatusReport([ConditionChange(READY, "True", "Usable", f"{spec.type} backend ready")], fields)
        outcome = Outcome(render(obj, report))
        if changed:
            failing = [zone for zone, error in zones.items() if error]
            results = await sync_zones(self.writer, failing)
            outcome.affected = affected_by(results, (), obj.ref)
        return outcome

    def forget(self, name: str) -> None:
        self.backends.forget(name)

    def report_for(self, name: str) -> StatusReport:
        """Only the zone count: whether the backend is usable is for its own handler to say."""
        return StatusReport([], {"zoneCount": len(self._zones(name))})

    def _zones(self, name: str) -> dict[str, str | None]:
        """The zones this backend serves (by name, or as the operator's default), with their errors."""
        with self.store.unit_of_work() as uow:
            return {
                z.zone_name: z.sync_error for z in uow.zones.live_owners() if self.backends.name_for(z.backend) == name
            }
