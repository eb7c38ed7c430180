"""DNSBackends: remember the backend, read its Secrets, test it, and say whether it works.

Run on every change and periodically (a Secret is read, not watched: the operator may only ``get``
the Secrets it is pointed at). When a backend becomes usable again, or its credentials changed,
the zones it serves that are in error are synced at once instead of waiting for their retries.
Its status: whether the last check passed (kept here), and how many zones it serves (the database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from siteplane.api.dnsbackend import DNSBackendSpec
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.backends import BackendResolver, SecretReader
from siteplane.reconcile.effects import Effects
from siteplane.reconcile.observed import Observed
from siteplane.reconcile.outcome import Outcome, parse
from siteplane.reconcile.status import StatusReport, backend_status
from siteplane.reconcile.zone_writer import backoff
from siteplane.store.facts import zone_counts
from siteplane.store.unit_of_work import Store, UnitOfWork

RECHECK_BASE, RECHECK_CAP = 30.0, 600.0


@dataclass
class DNSBackends:
    store: Store
    backends: BackendResolver
    secrets: SecretReader
    kind: str = "DNSBackend"
    finalizer: bool = False
    _checks: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name -> (type, problem)

    async def reconcile(self, obj: Observed) -> Outcome:
        parse(DNSBackendSpec, obj)
        name = obj.ref.name
        changed, trouble = await self.check(name, obj.spec)
        if trouble:
            # Slow retries: a wrong key or a missing Secret is fixed by a person, and every attempt
            # costs the server a rejected request. A changed spec is handled at once anyway.
            return Outcome(retry_after=backoff(0, RECHECK_BASE, RECHECK_CAP))
        effects = Effects()
        if changed:
            effects.zones = await asyncio.to_thread(self.store.read, lambda uow: self._failing_zones(uow, name))
        return Outcome(effects)

    async def check(self, name: str, spec: Mapping[str, Any]) -> tuple[bool, str | None]:
        """Remember ``spec``, read its Secrets, build and test the backend: (changed, problem)."""
        parsed = self.backends.remember(name, spec)
        changed, trouble = await self.backends.refresh(name, self.secrets)
        self._checks[name] = (parsed.type, trouble)
        return changed, trouble

    async def finalize(self, obj: Observed) -> Outcome:
        return Outcome()

    async def forget(self, ref: ObjectRef) -> None:
        self.backends.forget(ref.name)
        self._checks.pop(ref.name, None)

    def report(self, uow: UnitOfWork, name: str) -> StatusReport:
        """The DNSBackend's status: its zone count now, and its last check, if it has had one."""
        served = sum(count for setting, count in zone_counts(uow).items() if self.backends.name_for(setting) == name)
        backend_type, trouble = self._checks.get(name, ("", None))
        return backend_status(served, trouble, name in self._checks, backend_type)

    def _failing_zones(self, uow: UnitOfWork, name: str) -> set[str]:
        return {
            z.zone_name for z in uow.zones.live_owners() if z.sync_error and self.backends.name_for(z.backend) == name
        }
