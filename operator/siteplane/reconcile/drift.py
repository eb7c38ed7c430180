"""When to compare each zone with its server: every ``interval`` seconds, start times spread.

Each zone gets a fixed offset inside the interval from a hash of its name, so thousands of zones
are checked evenly over the interval rather than all at once after a start, and an operator
restart does not bunch them up again. A zone seen for the first time waits for its next slot: at
start-up every zone was just synced by its own handler.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable


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
