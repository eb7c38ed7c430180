"""Which zone serves which name, remembered for the admission webhook's answer on Sites.

Every Site created or changed is checked at admission against the zones that could hold its
domains (may its namespace publish there?). Asking the database each time cost a tenth of the
operator's CPU in a burst of 50,000 Sites, for an answer that changes only when a zone does. So the
views of every serving zone are read at once and kept:

- while no DNSZone transaction has ended in this process since they were read (PlacementLock's
  ``zone_changes``: every change to who owns a zone name, whom it lets publish, or whether its
  parent lets it be served, is one); after one, the database is asked directly until the next
  reload, so this replica never answers from views older than its own last zone change;
- and for ``max_age`` seconds at most, for changes another replica made (it shares the database).
  A read of every zone takes time in proportion to their number (63 ms for 2,500 zones here,
  about 2.5 s for 100,000): while Sites keep arriving, reloads every ``max_age`` would grow into a
  core's work. So the views are kept ``LOAD_SHARE`` times as long as the last read took, when
  that is longer, and reloads after a zone change here are spaced as far apart (the database
  answers meanwhile): reloads stay at most 1/``LOAD_SHARE`` of a core however many zones there
  are, and changes made elsewhere take that long to be seen at admission.

Admission is the early answer; the Site's reconcile decides, from the database, under the
placement lock. A refusal from views up to ``max_age`` old on another replica is what a user could
meet anyway while that replica had not yet stored the zone change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

from siteplane.domain.names import enclosing_zones
from siteplane.planning.placement import ZoneView
from siteplane.reconcile.placement import PlacementLock
from siteplane.reconcile.rows import serving_zone_views, zone_view
from siteplane.store.unit_of_work import Store

MAX_AGE_SECONDS = 10.0
LOAD_SHARE = 20  # the views live at least 20 times as long as their read took: reloads <= 5 % of a core
MIN_RELOAD_SECONDS = 1.0  # after a zone change, the database answers until the next reload


class ZoneViews:
    def __init__(
        self,
        store: Store,
        placement: PlacementLock,
        max_age: float = MAX_AGE_SECONDS,
        min_reload: float = MIN_RELOAD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.placement = store, placement
        self.max_age, self.min_reload, self.clock = max_age, min_reload, clock
        self._views: Mapping[str, ZoneView] | None = None
        self._loaded_at = 0.0
        self._load_seconds = 0.0  # how long the last whole read took
        self._zone_changes = -1  # placement.zone_changes when the views were read
        self._loading = threading.Lock()
        self.loads = 0  # whole reads of the zones (what the tests count)

    def cached(self, domains: Iterable[str]) -> dict[str, ZoneView] | None:
        """The serving zones that could hold any of ``domains``, from memory; None when memory
        cannot answer (never read, too old, or a zone changed since): call ``serving``."""
        views = self._views
        if views is None or not self._current():
            return None
        return _around(views, domains)

    def serving(self, domains: Iterable[str]) -> dict[str, ZoneView]:
        """The same, reading the database (blocking: from a worker thread)."""
        with self._loading:
            now = self.clock()
            changed = self._zone_changes != self.placement.zone_changes
            spacing = max(self.min_reload, LOAD_SHARE * self._load_seconds)
            if not self._current() and (not changed or now - self._loaded_at >= spacing):
                changes = self.placement.zone_changes  # read before the zones: a change during the read reloads
                loaded = self.store.read(lambda uow: {z.zone_name: zone_view(z) for z in uow.zones.serving_owners()})
                self._views, self._loaded_at, self._zone_changes = loaded, now, changes
                self._load_seconds = self.clock() - now
                self.loads += 1
            views = self._views
            if views is not None and self._current():
                return _around(views, domains)
        names = list(domains)
        return self.store.read(lambda uow: serving_zone_views(uow, names))

    @property
    def lifetime(self) -> float:
        """Seconds the views answer for changes made elsewhere: ``max_age``, or longer when a read
        of every zone takes more than 1/``LOAD_SHARE`` of that."""
        return max(self.max_age, LOAD_SHARE * self._load_seconds)

    def _current(self) -> bool:
        return self._zone_changes == self.placement.zone_changes and self.clock() - self._loaded_at < self.lifetime


def _around(views: Mapping[str, ZoneView], domains: Iterable[str]) -> dict[str, ZoneView]:
    return {zone: views[zone] for domain in domains for zone in enclosing_zones(domain) if zone in views}
