"""Settling site domains in the database: who owns each domain, and in which zone it goes."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from siteplane.domain.objects import ObjectRef
from siteplane.planning.placement import DomainClaim, settle_domain
from siteplane.reconcile.views import site_ref, zone_views_enclosing
from siteplane.store.models import SiteDomain
from siteplane.store.unit_of_work import UnitOfWork


class PlacementLock:
    """Many Site transactions at once, or one DNSZone transaction alone.

    Two Sites claiming one domain at the same moment are caught by the unique index on owners.
    A zone appearing while a Site is stored is not: each transaction would miss the other's
    uncommitted row (the zone placing no domains, the Site finding no zone) and nothing would
    ever settle them. Zones change rarely, so they simply wait for exclusive use.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writer)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writer)
            self._writer = True  # new readers wait from now on
            self._condition.wait_for(lambda: self._readers == 0)
        try:
            yield
        finally:
            with self._condition:
                self._writer = False
                self._condition.notify_all()


@dataclass
class Settled:
    zones: set[str] = field(default_factory=set)  # zones whose content may have changed
    sites: set[ObjectRef] = field(default_factory=set)  # sites whose placement changed

    @property
    def affected(self) -> set[ObjectRef]:
        return self.sites


def settle_domains(uow: UnitOfWork, domains: Iterable[str]) -> Settled:
    """Re-decide every live claim on ``domains`` and stage the result.

    Demotions are flushed before promotions: the partial unique index on live owners would
    otherwise see two owners of one domain for a moment. If another worker raced us, the flush
    or the commit fails on that index and the caller retries on fresh data.
    """
    claims = uow.sites.live_claims(domains)
    by_domain: dict[str, list[SiteDomain]] = defaultdict(list)
    for row in claims:
        by_domain[row.domain].append(row)
    zones = zone_views_enclosing(uow, by_domain)
    result = Settled()
    promotions: list[SiteDomain] = []
    for domain, rows in by_domain.items():
        decided = settle_domain([DomainClaim(site_ref(r.site), r.site.created, domain=domain) for r in rows], zones)
        for row in rows:
            outcome = decided[site_ref(row.site)]
            if (row.state, row.zone_name, row.is_owner) == (outcome.state, outcome.zone_name, outcome.is_owner):
                continue
            result.zones.update(z for z in (row.zone_name, outcome.zone_name) if z)
            result.sites.add(site_ref(row.site))
            row.state, row.zone_name = outcome.state, outcome.zone_name
            if outcome.is_owner and not row.is_owner:
                promotions.append(row)
            else:
                row.is_owner = outcome.is_owner
    uow.flush()
    for row in promotions:
        row.is_owner = True
    uow.flush()
    # A Site publishes all of its domains or none, so a change to one of its domains concerns
    # every zone it publishes in.
    for row in claims:
        if site_ref(row.site) in result.sites:
            result.zones.update(d.zone_name for d in row.site.domains if d.zone_name and d.deleted_at is None)
    return result
