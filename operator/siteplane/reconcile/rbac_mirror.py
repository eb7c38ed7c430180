"""Keep the grants table equal to what RBAC grants on siteplane resources.

kopf keeps an in-memory picture of every Role, ClusterRole and binding (handlers/rbac.py); after
any change the whole desired set of rows is recomputed from it (cheap: pure code over memory) and
only the difference is written, in one unit of work. Rows that disappear are soft-deleted, so the
dashboard can show who had access until when.

One task does the writing, at most once per debounce interval. It must never die quietly: a pass
that fails, for whatever reason, is logged with its traceback and tried again with backoff, and
``failing_since`` says so for as long as it lasts (the grants table is then behind RBAC).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from siteplane.rbac.evaluator import can
from siteplane.rbac.mirror import GrantRow, row_key
from siteplane.reconcile.workqueue import backoff
from siteplane.store.models import Grant
from siteplane.store.unit_of_work import Store


@dataclass(frozen=True)
class MirrorResult:
    added: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def wrote(self) -> bool:
        return bool(self.added or self.changed or self.removed)


log = logging.getLogger(__name__)
DEBOUNCE_SECONDS = 0.3


class RbacMirror:
    def __init__(self, store: Store) -> None:
        self.store = store

    def sync(self, desired: Iterable[GrantRow]) -> MirrorResult:
        wanted = {row.key: row for row in desired}
        added = changed = 0
        with self.store.unit_of_work() as uow:
            stale: list[Grant] = []
            for row in uow.grants.live():
                want = wanted.pop(row_key(row), None)
                if want is None:
                    stale.append(row)
                elif tuple(row.verbs or ()) != want.verbs or row.namespace != want.namespace:
                    row.verbs, row.access, row.namespace = list(want.verbs), want.access, want.namespace
                    changed += 1
            for want in wanted.values():
                uow.grants.add(
                    Grant(
                        subject_kind=want.subject_kind,
                        subject_name=want.subject_name,
                        namespace=want.namespace,
                        resource_type=want.resource_type,
                        access=want.access,
                        verbs=list(want.verbs),
                        resource_names=list(want.resource_names),
                        source_kind=want.source_kind,
                        source_namespace=want.source_namespace,
                        source_name=want.source_name,
                    )
                )
                added += 1
            uow.grants.withdraw(stale)
            uow.commit()
        return MirrorResult(added, changed, len(stale))


class MirrorLoop:
    """Rewrites the grants table after every ``trigger(desired)``, debounced.

    ``desired`` computes every grant row from kopf's RBAC indices. kopf sends the first trigger
    only once the indices hold the whole cluster's RBAC, so the first pass may safely remove rows
    of bindings deleted while the operator was down.
    """

    def __init__(self, mirror: RbacMirror, debounce: float = DEBOUNCE_SECONDS) -> None:
        self.mirror = mirror
        self.desired: Callable[[], list[GrantRow]] = list
        self.debounce = debounce
        self.dirty = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.failing_since: float | None = None
        self.passes = 0

    def trigger(self, desired: Callable[[], list[GrantRow]]) -> None:
        self.desired = desired
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="siteplane rbac mirror")
        self.dirty.set()

    async def _run(self) -> None:
        failures = 0
        while True:
            await self.dirty.wait()
            await asyncio.sleep(self.debounce)  # one write for a burst of RBAC events
            self.dirty.clear()
            try:
                result = await asyncio.to_thread(self.mirror.sync, self.desired())
            except Exception:
                failures += 1
                self.failing_since = self.failing_since or time.time()
                delay = backoff(failures, base=1, cap=60)
                log.error("mirroring RBAC into the database failed; trying again in %.0fs", delay, exc_info=True)
                await asyncio.sleep(delay)
                self.dirty.set()
                continue
            failures, self.failing_since = 0, None
            self.passes += 1
            if result.wrote:
                log.info(
                    "RBAC mirrored: %d grant row(s) added, %d changed, %d removed",
                    result.added,
                    result.changed,
                    result.removed,
                )

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class PermissionEvaluator:
    """The dashboard's question, answered from the database: may this person do this?"""

    def __init__(self, store: Store) -> None:
        self.store = store

    def can(
        self,
        user: str,
        groups: Iterable[str],
        verb: str,
        resource_type: str,
        namespace: str,
        name: str | None = None,
    ) -> bool:
        groups = list(groups)
        with self.store.unit_of_work() as uow:
            grants = uow.grants.live_for(user, groups, resource_type)
            return can(grants, user, groups, verb, resource_type, namespace, name)
