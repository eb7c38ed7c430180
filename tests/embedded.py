"""The reconcile core on the embedded defaults (a SQLite file, zone files), with no cluster: for
tests of what reconcilers and zone syncs do, driven the way the controller drives them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.backends import BackendResolver
from siteplane.reconcile.observed import FINALIZER, Observed
from siteplane.reconcile.outcome import Outcome
from siteplane.reconcile.placement import PlacementLock
from siteplane.reconcile.records import Records
from siteplane.reconcile.sites import Sites
from siteplane.reconcile.status import StatusReport, record_status, site_status, zone_status
from siteplane.reconcile.store_batch import StoreBatcher
from siteplane.reconcile.zone_sync import ZoneSynchronizer
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.reconcile.zones import Zones
from siteplane.store.database import make_engine
from siteplane.store.facts import load_records, load_sites, load_zones
from siteplane.store.migrate import upgrade
from siteplane.store.unit_of_work import Store

CREATED = "2026-01-01T00:00:00Z"


def observed(
    kind: str, name: str, spec: dict[str, Any], generation: int = 1, namespace: str = "team-a", created: str = CREATED
) -> Observed:
    ref = ObjectRef(kind, namespace, name, f"uid-{namespace}-{name}")
    return Observed(ref, created, generation, str(generation), spec, {}, (FINALIZER,))


@dataclass
class Embedded:
    """A store, the embedded zone-file backend and its zone synchronizer. Each ``run`` makes the
    reconcilers and a zone writer afresh, in the event loop of that run."""

    store: Store
    backends: BackendResolver
    synchronizer: ZoneSynchronizer
    placement: PlacementLock = field(default_factory=PlacementLock)
    """One lock for every run, as in the operator: what a cache of zone views watches."""

    @classmethod
    def create(cls, directory: Path, reload_command: tuple[str, ...] = ()) -> Embedded:
        url = f"sqlite:///{directory / 'siteplane.db'}"
        upgrade(url)
        store = Store(make_engine(url))
        backends = BackendResolver(directory / "zones", reload_command)
        synchronizer = ZoneSynchronizer(store, backends)
        return cls(store, backends, synchronizer)

    def close(self) -> None:
        self.store.engine.dispose()

    def run(self, obj: Observed, *, delete: bool = False) -> Outcome:
        """Reconcile (or finalize) ``obj`` as the controller would, then sync the zones it asked for."""

        async def go() -> Outcome:
            writer = ZoneWriter(self.synchronizer.sync, gather_seconds=0)
            placement = self.placement
            batch = StoreBatcher(self.store, placement.shared)
            reconcilers = {
                "Site": Sites(self.store, placement, writer, batch),
                "DNSZone": Zones(self.store, placement, writer, self.backends, set),
                "DNSRecord": Records(self.store, writer, batch),
            }
            reconciler = reconcilers[obj.ref.kind]
            outcome = await (reconciler.finalize(obj) if delete else reconciler.reconcile(obj))
            await asyncio.gather(*(writer.sync(zone, obj.ref) for zone in outcome.effects.zones))
            writer.close()
            return outcome

        return asyncio.run(go())

    def status(self, ref: ObjectRef) -> StatusReport | None:
        """What the status writer would show for ``ref`` now."""

        def read(uow: Any) -> StatusReport | None:
            if ref.kind == "Site":
                found = load_sites(uow, [ref.uid]).get(ref.uid)
                return site_status(found) if found else None
            if ref.kind == "DNSRecord":
                record = load_records(uow, [ref.uid]).get(ref.uid)
                return record_status(record) if record else None
            zone = load_zones(uow, [ref.uid]).get(ref.uid)
            return zone_status(zone) if zone else None

        return self.store.read(read)
