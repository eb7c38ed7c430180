"""DNSBackend reconciliation: remember the backend for the zones that use it; say whether it works."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import ValidationError

from siteplane.api.conditions import ConditionChange
from siteplane.api.dnsbackend import DNSBackendSpec
from siteplane.reconcile.backends import BackendResolver
from siteplane.reconcile.common import invalid_spec, render
from siteplane.reconcile.inputs import ObjectInput, Outcome, backoff
from siteplane.reconcile.status import READY, StatusReport
from siteplane.store.unit_of_work import Store


def _check_directory(directory: Path) -> str | None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"spec.zonefile.directory: cannot create {directory}: {error.strerror}"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"spec.zonefile.directory: {directory} is not writable by the operator"
    return None


class DNSBackendService:
    def __init__(self, store: Store, backends: BackendResolver) -> None:
        self.store = store
        self.backends = backends

    async def reconcile(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        try:
            spec = DNSBackendSpec.model_validate(dict(obj.spec))
        except ValidationError as error:
            return invalid_spec(obj, error)
        self.backends.remember(obj.ref.name, obj.spec)
        problem: str | None = None
        if spec.zonefile is not None:
            problem = await asyncio.to_thread(_check_directory, Path(spec.zonefile.directory))
        elif spec.type in ("rfc2136", "powerdns"):
            problem = f"spec.type: {spec.type} backends are not supported by this operator version yet"
        zones = await asyncio.to_thread(self._zone_count, obj.ref.name)
        if problem:
            report = StatusReport([ConditionChange(READY, "False", "Unusable", problem)], {"zoneCount": zones})
            return Outcome(render(obj, report), retry_after=backoff(retry, base=30, cap=600), retry_reason=problem)
        report = StatusReport(
            [ConditionChange(READY, "True", "Usable", f"{spec.type} backend ready")], {"zoneCount": zones}
        )
        return Outcome(render(obj, report))

    def forget(self, name: str) -> None:
        self.backends.forget(name)

    def report_for(self, name: str) -> StatusReport:
        """Only the zone count: whether the backend is usable is for its own handler to say."""
        return StatusReport([], {"zoneCount": self._zone_count(name)})

    def _zone_count(self, name: str) -> int:
        with self.store.unit_of_work() as uow:
            return sum(1 for z in uow.zones.live_owners() if z.backend == name)
