"""Store requests made together share one transaction, and each still gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from siteplane.reconcile.store_batch import StoreBatcher
from siteplane.store.database import make_engine
from siteplane.store.migrate import upgrade
from siteplane.store.models import ChangeAuthor
from siteplane.store.unit_of_work import Store, UnitOfWork


class Refused(Exception):
    pass


@pytest.fixture
def store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'batch.db'}"
    upgrade(url)
    return Store(make_engine(url))


def author(uid: str) -> Callable[[UnitOfWork], str]:
    def work(uow: UnitOfWork) -> str:
        uow.authors.record(uid, 1, "CREATE", "alice")
        uow.flush()
        return uid

    return work


def refused(uow: UnitOfWork) -> str:
    uow.authors.record("refused", 1, "CREATE", "mallory")
    uow.flush()
    raise Refused("this object's own error")


def stored_uids(store: Store) -> set[str]:
    return store.read(lambda uow: set(uow.session.scalars(select(ChangeAuthor.object_uid))))


async def _all(batch: StoreBatcher, works: list[Callable[[UnitOfWork], str]]) -> list[str | BaseException]:
    return list(await asyncio.gather(*(batch.run(w) for w in works), return_exceptions=True))


def test_requests_made_together_share_transactions_and_each_gets_its_own_result(store: Store) -> None:
    batch = StoreBatcher(store)
    uids = [f"u{i}" for i in range(100)]
    results = asyncio.run(_all(batch, [author(u) for u in uids]))
    assert results == uids
    assert stored_uids(store) == set(uids)
    # The first request runs alone; the other 99 arrive while it runs and share the next.
    assert batch.stats.works == 100 and batch.stats.transactions <= 2


def test_one_failing_request_fails_alone_and_the_rest_of_its_batch_is_stored(store: Store) -> None:
    batch = StoreBatcher(store)
    works = [author("first"), author("a"), refused, author("b")]
    results = asyncio.run(_all(batch, works))
    assert results[0] == "first" and results[1] == "a" and results[3] == "b"
    assert isinstance(results[2], Refused)
    assert stored_uids(store) == {"first", "a", "b"}  # nothing of the refused work
    assert batch.stats.split == 1


def test_a_cancelled_request_leaves_the_others_answered(store: Store) -> None:
    async def scenario() -> list[str]:
        batch = StoreBatcher(store)
        first = asyncio.ensure_future(batch.run(author("first")))
        await asyncio.sleep(0)
        doomed = asyncio.ensure_future(batch.run(author("doomed")))
        kept = asyncio.ensure_future(batch.run(author("kept")))
        await asyncio.sleep(0)
        doomed.cancel()
        return list(await asyncio.gather(first, kept))

    assert asyncio.run(scenario()) == ["first", "kept"]
    assert {"first", "kept"} <= stored_uids(store)
