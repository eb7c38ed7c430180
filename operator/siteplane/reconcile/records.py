"""DNSRecord reconciliation: store the record set it asks for, then sync its zone."""

from __future__ import annotations

import asyncio

from pydantic import ValidationError

from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.domain.records import typed_rdata
from siteplane.reconcile.common import (
    SQLAlchemyError,
    affected_by,
    database_unavailable,
    in_transaction,
    invalid_spec,
    render,
    sync_errors,
    sync_zones,
)
from siteplane.reconcile.inputs import ObjectInput, Outcome, backoff
from siteplane.reconcile.status import StatusReport, record_status
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.store.models import Record, utcnow
from siteplane.store.unit_of_work import Store


class RecordService:
    def __init__(self, store: Store, writer: ZoneWriter) -> None:
        self.store = store
        self.writer = writer

    async def reconcile(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        try:
            spec = DNSRecordSpec.model_validate(dict(obj.spec))
        except ValidationError as error:
            return invalid_spec(obj, error)
        try:
            zones = await asyncio.to_thread(in_transaction, lambda: self._store(obj, spec))
            results = await sync_zones(self.writer, zones)
            report = await asyncio.to_thread(self._report, obj.ref.uid)
        except SQLAlchemyError as error:
            return database_unavailable(obj, error)
        outcome = Outcome(render(obj, report), affected_by(results, (), obj.ref))
        if errors := sync_errors(results):
            outcome.retry_after, outcome.retry_reason = backoff(retry), "; ".join(errors)
        return outcome

    async def delete(self, obj: ObjectInput, retry: int = 0) -> Outcome:
        try:
            zones = await asyncio.to_thread(in_transaction, lambda: self._delete(obj))
            results = await sync_zones(self.writer, zones)
        except SQLAlchemyError as error:
            return database_unavailable(obj, error)
        outcome = Outcome({}, affected_by(results, (), obj.ref))
        if errors := sync_errors(results):
            outcome.retry_after, outcome.retry_reason = backoff(retry), "; ".join(errors)
        return outcome

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
                uow.history.record(
                    object_kind="DNSRecord",
                    object_namespace=record.namespace,
                    object_name=record.name,
                    object_uid=record.uid,
                    generation=record.generation,
                    zone_name=spec.zone,
                    action="stored",
                    detail={"name": spec.name, "type": spec.type, "rdata": rdata},
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
            uow.history.record(
                object_kind="DNSRecord",
                object_namespace=record.namespace,
                object_name=record.name,
                object_uid=record.uid,
                generation=record.generation,
                zone_name=record.zone_name,
                action="deleted",
                detail={},
            )
            uow.commit()
            return {record.zone_name}

    def _report(self, uid: str) -> StatusReport:
        with self.store.unit_of_work() as uow:
            record = uow.records.by_uid(uid)
            assert record is not None
            return record_status(uow, record)

    def report_for(self, uid: str) -> StatusReport | None:
        with self.store.unit_of_work() as uow:
            record = uow.records.by_uid(uid)
            return None if record is None or record.deleted_at is not None else record_status(uow, record)
