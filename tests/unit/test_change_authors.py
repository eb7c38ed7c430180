"""Who made each change: a batch of authors is one query for the rows already there, and the
latest author of a change wins, whether it was stored before or arrives twice in one batch."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from siteplane.store.database import make_engine
from siteplane.store.migrate import upgrade
from siteplane.store.models import ChangeAuthor
from siteplane.store.unit_of_work import Store
from tests.statements import statement_kinds


@pytest.fixture
def store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'authors.db'}"
    upgrade(url)
    return Store(make_engine(url))


def authors(store: Store) -> dict[tuple[str, int, str], str]:
    columns = select(ChangeAuthor.object_uid, ChangeAuthor.generation, ChangeAuthor.operation, ChangeAuthor.username)
    rows = store.read(lambda uow: list(uow.session.execute(columns)))
    return {(uid, generation, operation): username for uid, generation, operation, username in rows}


def test_a_batch_of_authors_is_one_lookup_and_the_latest_author_of_a_change_wins(store: Store) -> None:
    store.transaction(lambda uow: uow.authors.record("site-1", 1, "CREATE", "alice"))
    batch = [
        ("site-1", 1, "CREATE", "bob"),  # admitted again: replaces alice
        ("site-1", 2, "UPDATE", "carol"),  # another change of the same object: its own row
        *((f"site-{i}", 1, "CREATE", "dave") for i in range(2, 52)),
        ("site-2", 1, "CREATE", "erin"),  # twice in one batch: the later one counts
    ]
    with statement_kinds(store) as seen:
        store.transaction(lambda uow: uow.authors.record_many(batch))
    assert seen.count("SELECT") == 1
    stored = authors(store)
    assert stored[("site-1", 1, "CREATE")] == "bob"
    assert stored[("site-1", 2, "UPDATE")] == "carol"
    assert stored[("site-2", 1, "CREATE")] == "erin"
    assert stored[("site-51", 1, "CREATE")] == "dave"
    assert len(stored) == 52


def test_an_empty_batch_asks_the_database_nothing(store: Store) -> None:
    with statement_kinds(store) as seen:
        store.transaction(lambda uow: uow.authors.record_many([]))
    assert "SELECT" not in seen
