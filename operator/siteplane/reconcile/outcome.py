"""What every reconciler is given, what it gives back, and the one way it runs a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from siteplane.api.conditions import describe_validation_error
from siteplane.domain.objects import ObjectRef
from siteplane.errors import InvalidSpec
from siteplane.reconcile.effects import Effects
from siteplane.reconcile.observed import Observed
from siteplane.reconcile.status import StatusReport
from siteplane.reconcile.store_batch import StoreBatcher
from siteplane.store.unit_of_work import Store, UnitOfWork

T = TypeVar("T")
Model = TypeVar("Model", bound=BaseModel)


@dataclass
class Outcome:
    effects: Effects = field(default_factory=Effects)
    """Zones to sync on the object's behalf (its status is written after them), and other objects
    whose status moved."""
    report: StatusReport | None = None
    """Status to show that the database cannot tell (a problem, or a kind kept outside the
    database); None: the status is derived from the database."""
    retry_after: float | None = None
    """Set when the work is not done: try again after this many seconds."""
    finished: bool = True
    """For a deletion: whether the finalizer may go."""


class Reconciler(Protocol):
    kind: str
    finalizer: bool
    """Whether objects of this kind carry siteplane's finalizer (their deletion withdraws something)."""

    async def reconcile(self, obj: Observed) -> Outcome:
        """Bring the world to ``obj``'s spec (or raise a SiteplaneError saying why not)."""
        ...

    async def finalize(self, obj: Observed) -> Outcome:
        """``obj`` is being deleted: withdraw what it published; ``finished`` lets the finalizer go."""
        ...

    async def forget(self, ref: ObjectRef) -> None:
        """``ref`` is gone from the API server: drop whatever is still kept for it."""
        ...


def parse(model: type[Model], obj: Observed) -> Model:
    """The spec as its model; InvalidSpec (naming the fields) when the schema let through what the model refuses."""
    try:
        return model.model_validate(dict(obj.spec))
    except ValidationError as error:
        raise InvalidSpec(describe_validation_error(error)) from None


async def transaction(
    store: Store, work: Callable[[UnitOfWork], T], lock: Callable[[], AbstractContextManager[object]] = nullcontext
) -> T:
    """Run ``work`` in one committed transaction, in a thread, holding ``lock`` around it."""

    def run() -> T:
        with lock():
            return store.transaction(work)

    return await asyncio.to_thread(run)


async def stored(
    store: Store,
    work: Callable[[UnitOfWork], T],
    lock: Callable[[], AbstractContextManager[object]] = nullcontext,
    batch: StoreBatcher | None = None,
) -> T:
    """``work`` in one committed transaction: through ``batch``, shared with the works requested
    beside it (the batch holds its own lock); without, a transaction of its own holding ``lock``."""
    if batch is not None:
        return await batch.run(work)
    return await transaction(store, work, lock)
