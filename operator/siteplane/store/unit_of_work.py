"""The unit of work: the only place that commits. Repositories only stage changes in its session."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from siteplane.store.repositories import (
    GrantAdmissionRepository,
    GrantRepository,
    HistoryRepository,
    RecordRepository,
    RecordSetRepository,
    SiteRepository,
    ZoneRepository,
)


class UnitOfWork:
    """``with uow: ...; uow.commit()``. Leaving the block without commit rolls everything back."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.sites = SiteRepository(self.session)
        self.zones = ZoneRepository(self.session)
        self.records = RecordRepository(self.session)
        self.record_sets = RecordSetRepository(self.session)
        self.grants = GrantRepository(self.session)
        self.grant_admissions = GrantAdmissionRepository(self.session)
        self.history = HistoryRepository(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def flush(self) -> None:
        """Send staged changes (so unique indexes are checked now) without committing."""
        self.session.flush()


class Store:
    """Hands out units of work over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)
