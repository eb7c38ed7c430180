"""DNSRecords: parse, store the record set it asks for (one transaction), then its zone is synced.

Whether it may publish there, and whether it collides with an older claim, is the zone plan's
decision (planning/zone_plan.py), made on the zone's next sync.
"""

from __future__ import annotations

from dataclasses import dataclass

from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.domain.objects import ObjectRef
from siteplane.domain.records import typed_rdata
from siteplane.reconcile.effects import Effects
from siteplane.reconcile.observed import Observed
from siteplane.reconcile.outcome import Outcome, parse, stored
from siteplane.reconcile.store_batch import StoreBatcher
from siteplane.reconcile.withdrawal import withdrawn
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.store.models import Record, utcnow
from siteplane.store.unit_of_work import Store, UnitOfWork


def store_record(uow: UnitOfWork, obj: Observed, spec: DNSRecordSpec) -> Effects:
    rdata = sorted({typed_rdata(spec.type, value) for value in spec.values()})
    values = {
        "namespace": obj.ref.namespace,
        "name": obj.ref.name,
        "created": obj.created,
        "generation": obj.generation,
        "zone_name": spec.zone,
        "record_name": spec.name,
        "type": spec.type,
        "ttl": spec.ttl,
        "rdata": rdata,
    }
    record = uow.records.by_uid(obj.ref.uid)
    if record is None:
        record = Record(uid=obj.ref.uid)
        uow.records.add(record)
    zones = {spec.zone}
    if record.zone_name and record.zone_name != spec.zone:
        zones.add(record.zone_name)
    changed = record.deleted_at is not None
    record.deleted_at = None
    for key, value in values.items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    if not changed:
        return Effects()
    detail = {"name": spec.name, "type": spec.type, "rdata": rdata}
    uow.history.record_object("DNSRecord", record, "stored", spec.zone, detail)
    return Effects(zones=zones)


def withdraw_record(uow: UnitOfWork, uid: str) -> Effects:
    record = uow.records.by_uid(uid)
    if record is None or record.deleted_at is not None:
        return Effects()
    record.deleted_at = utcnow()
    uow.history.record_object("DNSRecord", record, "deleted", record.zone_name)
    return Effects(zones={record.zone_name})


@dataclass
class Records:
    store: Store
    writer: ZoneWriter
    batch: StoreBatcher | None = None
    """Shares one transaction among the objects stored at once; None: a transaction each."""
    kind: str = "DNSRecord"
    finalizer: bool = True

    async def reconcile(self, obj: Observed) -> Outcome:
        spec = parse(DNSRecordSpec, obj)
        return Outcome(await stored(self.store, lambda uow: store_record(uow, obj, spec), batch=self.batch))

    async def finalize(self, obj: Observed) -> Outcome:
        return await self._withdraw(obj.ref)

    async def forget(self, ref: ObjectRef) -> None:
        await self._withdraw(ref)

    async def _withdraw(self, ref: ObjectRef) -> Outcome:
        effects = await stored(self.store, lambda uow: withdraw_record(uow, ref.uid), batch=self.batch)
        return await withdrawn(self.store, self.writer, ref, effects)
