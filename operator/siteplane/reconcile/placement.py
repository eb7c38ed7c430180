"""Who owns which name, and where it is served, settled in the database inside the caller's
transaction: zone names, zones' consent to their children, and site domains.

Each function re-decides a set of claims with the pure planners and stages only the differences;
it returns the Effects: zones whose content may change and objects whose status may change.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from siteplane.domain.objects import age_key
from siteplane.planning.delegation import refused_delegations
from siteplane.planning.placement import DomainClaim, settle_domain
from siteplane.reconcile.effects import Effects
from siteplane.reconcile.rows import owner_ref, serving_zone_views, site_ref, zone_ref, zone_view
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
        self.zone_changes = 0
        """Exclusive sections ended so far, each after its transaction: a cache of which zone serves
        which name (ZoneViews) is current while this has not moved since it was read."""

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
                self.zone_changes += 1
                self._condition.notify_all()


def claim_zone_name(uow: UnitOfWork, zone_name: str) -> Effects:
    """The oldest live DNSZone for a name owns it (in one second, the one owning it now keeps it);
    enforced by the partial unique index."""
    effects = Effects()
    claims = uow.zones.live_claims(zone_name)
    if not claims:
        return effects
    winner = min(claims, key=lambda z: age_key(z.created, z.is_owner, zone_ref(z)))
    for zone in claims:
        if zone is not winner and zone.is_owner:
            zone.is_owner = False
            effects.affected.add(zone_ref(zone))
    uow.flush()  # demote before promoting: the unique index must never see two owners
    if not winner.is_owner:
        winner.is_owner = True
        effects.affected.add(zone_ref(winner))
        effects.zones.add(zone_name)
        uow.flush()
    return effects


def settle_delegations(uow: UnitOfWork, zone_name: str) -> Effects:
    """Re-decide which zones at, above and below ``zone_name`` may be served (planning/delegation.py).

    A zone that loses its parent's consent keeps its rows but is taken off its backend by its next
    sync, and its record sets are withdrawn; domains below it fall back to the next enclosing zone.
    """
    effects = Effects()
    zones = uow.zones.owners_around(zone_name)
    refused = {ref.uid for ref in refused_delegations(zone_view(z) for z in zones)}
    for zone in zones:
        now_refused = zone.uid in refused
        if zone.delegation_refused == now_refused:
            continue
        zone.delegation_refused = now_refused
        effects.affected.add(zone_ref(zone))
        effects.zones.add(zone.zone_name)
        if now_refused:
            rows = uow.record_sets.live_in_zone(zone.id)
            effects.affected |= {owner_ref(r) for r in rows}
            uow.record_sets.withdraw(rows)
    uow.flush()
    for zone in zones:
        if zone_ref(zone) in effects.affected:
            effects.add(resettle_below(uow, zone.zone_name))
    return effects


def resettle_below(uow: UnitOfWork, zone_name: str) -> Effects:
    """Re-place every claimed domain at or below ``zone_name``."""
    return settle_domains(uow, uow.sites.live_domains_within(zone_name))


def settle_domains(uow: UnitOfWork, domains: Iterable[str]) -> Effects:
    """Re-decide every live claim on ``domains`` and stage the result.

    Demotions are flushed before promotions: the partial unique index on live owners would
    otherwise see two owners of one domain for a moment. If another worker raced us, the flush
    or the commit fails on that index and the caller retries on fresh data.
    """
    claims = uow.sites.live_claims(domains)
    by_domain: dict[str, list[SiteDomain]] = defaultdict(list)
    for row in claims:
        by_domain[row.domain].append(row)
    zones = serving_zone_views(uow, by_domain)
    effects = Effects()
    promotions: list[SiteDomain] = []
    for domain, rows in by_domain.items():
        decided = settle_domain(
            [DomainClaim(site_ref(r.site), r.site.created, domain=domain, incumbent=r.is_owner) for r in rows], zones
        )
        for row in rows:
            outcome = decided[site_ref(row.site)]
            if (row.state, row.zone_name, row.is_owner) == (outcome.state, outcome.zone_name, outcome.is_owner):
                continue
            effects.zones.update(z for z in (row.zone_name, outcome.zone_name) if z)
            effects.affected.add(site_ref(row.site))
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
        if site_ref(row.site) in effects.affected:
            effects.zones.update(d.zone_name for d in row.site.domains if d.zone_name and d.deleted_at is None)
    return effects
