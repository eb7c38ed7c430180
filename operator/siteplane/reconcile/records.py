"""DNSRecord reconciliation: store the record set it asks for, then sync its zone."""

from __future__ import annotations

from pydantic import ValidationError

from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.domain.records import typed_rdata
from siteplane.reconcile.common import (
    ReportingService,
    Touched,
    invalid_spec,
    record_history,
)
from siteplane.reconcile.inputs import ObjectInput, Outcome
from siteplane.reconcile.status import StatusReport, record_status
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.store.models import Record, utcnow
from siteplane.store.unit_of_work import Store, UnitOfWork


class RecordService(ReportingService[Record]):
    def __init__(self, store: Store, writer: ZoneWriter) -> None:
        self.store = store
        self.writer = writer

    async def reconcile(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        try:
            spec = DNSRecordSpec.model_validate(dict(obj.spec))
        except ValidationError as error:
            return invalid_spec(obj, error)
        return await self._store_and_sync(obj, retry, lambda: Touched(self._store(obj, spec)), report=True)

    async def delete(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        return await self._store_and_sync(obj, retry, lambda: Touched(self._delete(obj)), report=False)

    def _store(self, obj: ObjectInput, spec: DNSRecordSpec) -> set[str]:
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
        with self.store.unit_of_work() as uow:
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
            if changed:
                record_history(
                    uow,
                    "DNSRecord",
                    record,
                    "stored",
                    spec.zone,
                    {"name": spec.name, "type": spec.type, "rdata": rdata},
                )
            else:
                zone = uow.zones.owner_of(spec.zone)
                rows = uow.record_sets.live_of_owner(record.uid)
                settled = zone is not None and not zone.sync_error and all(r.applied_serial for r in rows)
                if settled and record.state != "Pending":
                    zones = set()
            uow.commit()
            return zones

    def _delete(self, obj: ObjectInput) -> set[str]:
        with self.store.unit_of_work() as uow:
            record = uow.records.by_uid(obj.ref.uid)
            if record is None or record.deleted_at is not None:
                return set()
            record.deleted_at = utcnow()
            record_history(uow, "DNSRecord", record, "deleted", record.zone_name)
            uow.commit()
            return {record.zone_name}

    def _load(self, uow: UnitOfWork, uid: str) -> Record | None:
        return uow.records.by_uid(uid)

    def _status(self, uow: UnitOfWork, row: Record) -> StatusReport:
        return record_status(uow, row)
