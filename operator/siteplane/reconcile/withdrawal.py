"""The end of a Site or a DNSRecord: its records leave every server before its finalizer goes."""

from __future__ import annotations

import asyncio

from siteplane.domain.objects import ObjectRef
from siteplane.errors import BackendError
from siteplane.reconcile.effects import Effects
from siteplane.reconcile.outcome import Outcome
from siteplane.reconcile.status import problem
from siteplane.reconcile.zone_writer import ZoneWriter, backoff
from siteplane.store.unit_of_work import Store


async def withdrawn(store: Store, writer: ZoneWriter, ref: ObjectRef, effects: Effects) -> Outcome:
    """Sync every zone ``ref``'s records are being withdrawn from (those the withdrawal itself
    touched, and any an earlier attempt left unconfirmed); finished once no server may still serve
    one of them. Until then the object shows why, and the withdrawal is tried again."""
    pending = await asyncio.to_thread(store.read, lambda uow: uow.record_sets.zones_withdrawing_for(ref.uid))
    results = await asyncio.gather(*(writer.sync(zone, ref) for zone in sorted(effects.zones | pending)))
    done = Effects(affected=set(effects.affected).union(*(r.affected for r in results)))
    failed = [r for r in results if r.error]
    if failed:
        error = BackendError(
            "withdrawing its records failed: " + "; ".join(sorted({r.error or "" for r in failed})),
            retryable=all(r.retryable for r in failed),
        )
        delay = backoff(0) if error.retryable else backoff(0, base=30, cap=600)
        return Outcome(done, report=problem(error), retry_after=delay, finished=False)
    return Outcome(done)
