"""Whether this replica is the one that acts: with peering, a standby is fully passive.

kopf's peering pauses kopf's handlers on a standby, but kopf does not pause what siteplane runs
itself: the reconcile workers, the zone writer, the status writer, the drift checks, the
DNSBackend re-checks and the change feed's pruning. They all wait on ``Leadership`` instead.

kopf keeps its pause to itself (no public flag says "paused"), so siteplane reaches the same
verdict from the same facts: it reads the peering object (kube/peering.py) that kopf keeps alive,
knowing the identity kopf runs under (siteplane starts kopf with it), and applies kopf's rule
(``leads``): a replica is active when no other live peer has the same or a higher priority. Two
live replicas of the same priority both pause, in kopf and here alike: replicas need distinct
priorities (``SITEPLANE_PEERING_PRIORITY=random``). Without peering, the replica is always active.

The admission webhook is not gated: every replica serves it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from siteplane.errors import SiteplaneError

log = logging.getLogger(__name__)
Peers = Mapping[str, Mapping[str, Any]]
DEFAULT_LIFETIME = 60  # kopf's, for a peer that does not say


def _alive(info: Mapping[str, Any], now: datetime) -> bool:
    """kopf's Peer.is_dead, negated: alive until ``lastseen + lifetime``."""
    try:
        lifetime = timedelta(seconds=int(info.get("lifetime", DEFAULT_LIFETIME)))
        lastseen_text = info.get("lastseen")
        lastseen = datetime.fromisoformat(str(lastseen_text)) if lastseen_text else now
    except (TypeError, ValueError):
        return True  # unreadable: assume it is there, as the safe side (no two leaders)
    if lastseen.tzinfo is None:
        lastseen = lastseen.replace(tzinfo=UTC)
    return lastseen + lifetime > now


def leads(peers: Peers | None, identity: str, priority: int, now: datetime) -> bool:
    """kopf's verdict for one peering object: active unless another live peer has the same or a
    higher priority. No peering object at all: paused (kopf waits for it when peering is mandatory)."""
    if peers is None:
        return False
    for other, info in peers.items():
        if other == identity or not _alive(info, now):
            continue
        try:
            theirs = int(info.get("priority", 0))
        except (TypeError, ValueError):
            theirs = priority
        if theirs >= priority:
            return False
    return True


class Leadership:
    """Active or standby; what only the active replica does awaits ``wait_active`` first."""

    def __init__(self, active: bool = True) -> None:
        self._active = asyncio.Event()
        self._standby = asyncio.Event()
        if active:
            self._active.set()
        else:
            self._standby.set()
        self.changes = 0

    def is_active(self) -> bool:
        return self._active.is_set()

    async def wait_active(self) -> None:
        await self._active.wait()

    async def wait_standby(self) -> None:
        await self._standby.wait()

    def set_active(self, active: bool) -> None:
        if active == self.is_active():
            return
        self.changes += 1
        if active:
            self._standby.clear()
            self._active.set()
            log.info("leadership: this replica is now active")
        else:
            self._active.clear()
            self._standby.set()
            log.info("leadership: this replica is now a standby (another peer leads)")


async def follow_peering(
    leadership: Leadership,
    read: Callable[[], Awaitable[Sequence[Peers | None]]],
    identity: str,
    priority: int,
    interval: float,
) -> None:
    """Forever: read the peering object(s) every ``interval`` seconds and set ``leadership``."""
    while True:
        try:
            objects = await read()
        except SiteplaneError as error:  # the API server: keep the verdict until it answers
            log.warning("leadership: cannot read the peering object: %s", error)
        else:
            now = datetime.now(UTC)
            leadership.set_active(all(leads(peers, identity, priority, now) for peers in objects))
        await asyncio.sleep(interval)
