"""The change feed keeps a window, not everything: old changes are forgotten, the newest never, so
ids keep rising and a client resuming from a forgotten id is told to reload (a real SQLite store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from siteplane.store.database import make_engine
from siteplane.store.feed import bounds
from siteplane.store.migrate import upgrade
from siteplane.store.models import Change
from siteplane.store.unit_of_work import Store

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(url)
    return Store(make_engine(url))


def append(store: Store, *ages_in_hours: float) -> None:
    def add(uow):  # type: ignore[no-untyped-def]
        for age in ages_in_hours:
            at = NOW - timedelta(hours=age)
            uow.changes.append(Change(at=at, kind="Site", namespace="team", name="www", uid="u1", ready="True"))

    store.transaction(add)


@pytest.mark.parametrize(
    ("ages", "pruned", "left"),
    [
        pytest.param((30, 26, 2, 1), 2, (3, 4), id="what is older than the window goes"),
        pytest.param((30, 26, 25), 2, (3, 3), id="the newest stays even when it is old"),
        pytest.param((3, 2, 1), 0, (1, 3), id="nothing inside the window goes"),
        pytest.param((), 0, (0, 0), id="an empty feed stays empty"),
    ],
)
def test_pruning_forgets_changes_older_than_the_window_but_never_the_newest(
    store: Store, ages: tuple[float, ...], pruned: int, left: tuple[int, int]
) -> None:
    append(store, *ages)
    assert store.transaction(lambda uow: uow.changes.prune(NOW - timedelta(hours=24))) == pruned
    assert store.read(bounds) == left


def test_ids_keep_rising_after_everything_old_is_pruned(store: Store) -> None:
    append(store, 50, 40, 30)
    store.transaction(lambda uow: uow.changes.prune(NOW))
    append(store, 0)
    first, last = store.read(bounds)
    assert (first, last) == (3, 4), "a new change never reuses a forgotten id"
