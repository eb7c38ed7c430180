"""The unit of work: the only place that commits. Repositories only stage changes in its session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from siteplane import metrics
from siteplane.errors import DatabaseUnavailable
from siteplane.store.repositories import (
    ChangeAuthorRepository,
    ChangeRepository,
    GrantAdmissionRepository,
    GrantRepository,
    HistoryRepository,
    NamespacePolicyRepository,
    ObjectStatusRepository,
    RecordRepository,
    RecordSetRepository,
    SiteRepository,
    ZoneRepository,
)

T = TypeVar("T")
log = logging.getLogger(__name__)
UNAVAILABLE = "the application database is unavailable; retrying"


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
        self.authors = ChangeAuthorRepository(self.session)
        self.statuses = ObjectStatusRepository(self.session)
        self.changes = ChangeRepository(self.session)
        self.namespaces = NamespacePolicyRepository(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, SQLAlchemyError):
            metrics.database_error("conflict" if isinstance(exc, IntegrityError) else "unavailable")
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

    def transaction(self, work: Callable[[UnitOfWork], T], attempts: int = 5) -> T:
        """``work`` in one unit of work, committed. Run again on fresh data when a concurrent writer
        made a unique index refuse it; any other database failure is DatabaseUnavailable, whose
        message never carries the driver's text (it may quote the URL and its password)."""
        for attempt in range(attempts):
            try:
                with self.unit_of_work() as uow:
                    result = work(uow)
                    uow.commit()
                    return result
            except IntegrityError:
                if attempt == attempts - 1:
                    log.warning("still losing a race on a unique index after %d attempts", attempts, exc_info=True)
                    raise DatabaseUnavailable(UNAVAILABLE) from None
                log.info("lost a race on a unique index; retrying on fresh data")
            except SQLAlchemyError as error:
                log.warning("database unavailable: %s", type(error).__name__)
                log.debug("database error", exc_info=True)
                raise DatabaseUnavailable(UNAVAILABLE) from None
        raise AssertionError("unreachable")

    def read(self, work: Callable[[UnitOfWork], T]) -> T:
        """``work`` in one unit of work that writes nothing; DatabaseUnavailable as for ``transaction``."""
        try:
            with self.unit_of_work() as uow:
                return work(uow)
        except SQLAlchemyError as error:
            log.warning("database unavailable: %s", type(error).__name__)
            log.debug("database error", exc_info=True)
            raise DatabaseUnavailable(UNAVAILABLE) from None
