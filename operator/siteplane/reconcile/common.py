"""Pieces every reconcile service shares: status rendering, invalid specs, database outages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from siteplane.api.conditions import ConditionChange, describe_validation_error, merge_conditions, status_patch
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.inputs import ObjectInput, Outcome, backoff
from siteplane.reconcile.status import READY, STORED, StatusReport
from siteplane.reconcile.zone_sync import SyncResult
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.store.models import ObjectColumns
from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")
Row = TypeVar("Row", bound=ObjectColumns)
DB_RETRY = 5.0


def render(obj: ObjectInput, report: StatusReport) -> dict[str, Any]:
    """The status patch for ``obj``: only fields that differ from its current status."""
    # The generation the stored state reflects: for an object reported on because another object
    # changed, that may be older than what the API server holds now.
    generation = report.generation if report.generation is not None else obj.generation
    desired: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": merge_conditions(obj.status.get("conditions") or [], report.conditions, generation),
        **report.fields,
    }
    return status_patch(obj.status, desired)


def invalid_spec(obj: ObjectInput, error: ValidationError) -> Outcome:
    """A spec the schema let through but the model refuses: say which field, write nothing."""
    message = describe_validation_error(error)
    report = StatusReport([ConditionChange(READY, "False", "InvalidSpec", message)])
    return Outcome(render(obj, report))


def database_unavailable(obj: ObjectInput, error: Exception) -> Outcome:
    # The message deliberately omits the error text: it may carry the database URL.
    log.warning("database unavailable while reconciling %s: %s", obj.ref, type(error).__name__)
    message = "the application database is unavailable; retrying"
    report = StatusReport(
        [
            ConditionChange(STORED, "False", "DatabaseUnavailable", message),
            ConditionChange(READY, "False", "DatabaseUnavailable", message),
        ]
    )
    return Outcome(render(obj, report), retry_after=DB_RETRY, retry_reason=message)


def in_transaction(work: Callable[[], T], attempts: int = 5) -> T:
    """Run ``work`` (one unit of work), again if a concurrent writer made a unique index refuse it."""
    for attempt in range(attempts):
        try:
            return work()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            log.info("lost a race on a unique index; retrying on fresh data")
    raise AssertionError("unreachable")


async def sync_zones(writer: ZoneWriter, zones: Iterable[str], requester: ObjectRef | None = None) -> list[SyncResult]:
    return list(await asyncio.gather(*(writer.sync(z, requester) for z in sorted(set(zones)))))


def affected_by(results: Iterable[SyncResult], extra: Iterable[ObjectRef], me: ObjectRef) -> set[ObjectRef]:
    affected = set(extra)
    for result in results:
        affected |= result.affected
    return {ref for ref in affected if ref.uid != me.uid}


def sync_errors(results: Iterable[SyncResult]) -> list[str]:
    return [r.error for r in results if r.error]


def concluded(
    obj: ObjectInput,
    report: StatusReport | None,
    results: Iterable[SyncResult],
    extra: Iterable[ObjectRef],
    retry: int,
) -> Outcome:
    """The outcome of a reconcile: the status to write, who else changed, and a retry if a zone failed."""
    results = list(results)
    outcome = Outcome(render(obj, report) if report else {}, affected_by(results, extra, obj.ref))
    if errors := sync_errors(results):
        # An error no retry can fix (a wrong key, a refused zone) is retried slowly: a person, or a
        # change to the DNSBackend (which re-syncs its failing zones at once), has to act first.
        lasting = all(not r.retryable for r in results if r.error)
        delay = backoff(retry, base=30, cap=600) if lasting else backoff(retry)
        outcome.retry_after, outcome.retry_reason = delay, "; ".join(errors)
    return outcome


def record_history(
    uow: UnitOfWork,
    kind: str,
    row: ObjectColumns,
    action: str,
    zone_name: str | None = None,
    detail: dict[str, Any] | None = None,
    serial: int | None = None,
) -> None:
    uow.history.record(
        object_kind=kind,
        object_namespace=row.namespace,
        object_name=row.name,
        object_uid=row.uid,
        generation=row.generation,
        zone_name=zone_name,
        action=action,
        detail=detail or {},
        serial=serial,
    )


class StoredWork(Protocol):
    """What a unit of work changed: zones to sync now, and other objects whose state changed."""

    @property
    def zones(self) -> set[str]: ...

    @property
    def affected(self) -> set[ObjectRef]: ...


@dataclass
class Touched:
    """StoredWork of a change that settles no placement: just the zones it touches."""

    zones: set[str] = field(default_factory=set)
    affected: set[ObjectRef] = field(default_factory=set)


class ReportingService(Generic[Row]):
    """Status of one kind from the database, for its own handler and for objects another change affected."""

    store: Store
    writer: ZoneWriter

    async def _store_and_sync(
        self, obj: ObjectInput, retry: int, work: Callable[[], StoredWork], *, report: bool
    ) -> Outcome:
        """The shape of every reconcile: one transaction, then its zones synced, then (if asked) status."""
        try:
            stored = await asyncio.to_thread(in_transaction, work)
            results = await sync_zones(self.writer, stored.zones, obj.ref)
            status = await asyncio.to_thread(self._report, obj.ref.uid) if report else None
        except SQLAlchemyError as error:
            return database_unavailable(obj, error)
        return concluded(obj, status, results, stored.affected, retry)

    def _load(self, uow: UnitOfWork, uid: str) -> Row | None:
        raise NotImplementedError

    def _status(self, uow: UnitOfWork, row: Row) -> StatusReport:
        raise NotImplementedError

    def _report(self, uid: str) -> StatusReport:
        with self.store.unit_of_work() as uow:
            row = self._load(uow, uid)
            assert row is not None, "reported right after being stored"
            return self._status(uow, row)

    def report_for(self, uid: str) -> StatusReport | None:
        with self.store.unit_of_work() as uow:
            row = self._load(uow, uid)
            return None if row is None or row.deleted_at is not None else self._status(uow, row)


__all__ = [
    "ReportingService",
    "SQLAlchemyError",
    "affected_by",
    "concluded",
    "database_unavailable",
    "in_transaction",
    "invalid_spec",
    "record_history",
    "render",
    "sync_zones",
]
