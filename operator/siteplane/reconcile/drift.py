"""When to compare each zone with its server: every ``interval`` seconds, start times spread.

Each zone gets a fixed offset inside the interval from a hash of its name, so thousands of zones
are checked evenly over the interval rather than all at once after a start, and an operator
restart does not bunch them up again. A zone seen for the first time waits for its next slot: at
start-up every zone was just synced by its own handler.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable

from siteplane import metrics

log = logging.getLogger(__name__)


def offset(zone_name: str, interval: float) -> float:
    digest = hashlib.sha256(zone_name.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * interval


class DriftSchedule:
    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError("the drift check interval must be positive")
        self.interval = interval
        self._last_slot: dict[str, int] = {}

    def _slot(self, zone_name: str, now: float) -> int:
        return math.floor((now - offset(zone_name, self.interval)) / self.interval)

    def due(self, zones: Iterable[str], now: float) -> list[str]:
        """Zones whose slot passed since they were last returned (each zone at most once per interval)."""
        due: list[str] = []
        seen: dict[str, int] = {}
        for zone in zones:
            slot = self._slot(zone, now)
            last = self._last_slot.get(zone)
            if last is not None and slot > last:
                due.append(zone)
            seen[zone] = slot if last is None or slot > last else last
        self._last_slot = seen  # zones gone from the list are forgotten
        return sorted(due)


async def check_for_drift(
    list_zones: Callable[[], list[str]],
    check: Callable[[str], None],
    interval: float,
    gate: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Forever: every zone in ``list_zones()`` handed to ``check`` once per ``interval``, spread.

    One task for the whole operator rather than a timer per zone: thousands of sleeping timers
    cost as many wake-ups, and a check is a zone-writer sync anyway, which coalesces with whatever
    else is happening to the zone.
    """
    schedule = DriftSchedule(interval)
    tick = max(0.5, min(5.0, interval / 100))
    while True:
        if gate is not None:
            await gate()  # a standby checks nothing
        try:
            zones = await asyncio.to_thread(list_zones)
        except Exception as error:  # the database; the next tick tries again
            log.warning("drift checks: cannot list zones: %s", error)
            log.debug("listing zones failed", exc_info=True)
            zones = []
        for zone in schedule.due(zones, time.time()):
            metrics.drift_checked()
            check(zone)
        await asyncio.sleep(tick)
