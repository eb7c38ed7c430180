"""What SQL a piece of code sends: for tests that bound the statements of an operation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from siteplane.store.unit_of_work import Store


@contextmanager
def statement_kinds(store: Store) -> Iterator[list[str]]:
    """The first keyword (SELECT, UPDATE, ...) of every statement ``store`` sends inside the block."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", note)
