"""Periodic work: drift checks of every zone, and re-checks of every DNSBackend.

Drift checks run from one task for the whole operator (not a kopf timer per DNSZone): one timer
task per zone would cost thousands of sleeping tasks and as many wake-ups, and a zone check is a
zone-writer sync anyway, which coalesces with whatever else is happening to the zone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import kopf

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.config import OperatorConfig
from siteplane.handlers.nudge import StatusNudger
from siteplane.reconcile.drift import DriftSchedule
from siteplane.reconcile.inputs import ObjectInput
from siteplane.reconcile.services import Services

log = logging.getLogger(__name__)
CONCURRENT_CHECKS = 4
TIMER_SECONDS = 5.0  # how often a DNSBackend's timer wakes; the configured interval decides when it acts


async def check_zones_for_drift(services: Services, nudger: StatusNudger, interval: float) -> None:
    schedule = DriftSchedule(interval)
    limit = asyncio.Semaphore(CONCURRENT_CHECKS)
    running: set[asyncio.Task[None]] = set()
    tick = max(0.5, min(5.0, interval / 100))

    async def check(zone: str) -> None:
        async with limit:
            try:
                result = await services.writer.sync(zone)
                if result.drift:
                    log.warning("zone %s: %d record set(s) changed on the server were put back", zone, result.drift)
                await nudger.nudge(result.affected)
            except Exception as error:  # one zone's trouble must not end the checks of all others
                log.warning("drift check of zone %s failed: %s", zone, type(error).__name__)

    while True:
        try:
            zones = await asyncio.to_thread(services.zones.live_zone_names)
        except Exception as error:
            log.warning("drift checks: cannot list zones: %s", type(error).__name__)
            zones = []
        for zone in schedule.due(zones, time.time()):
            task = asyncio.get_running_loop().create_task(check(zone), name=f"drift:{zone}")
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.sleep(tick)


def start(memo: kopf.Memo, config: OperatorConfig) -> None:
    if config.drift_interval > 0:
        memo["drift_task"] = asyncio.get_running_loop().create_task(
            check_zones_for_drift(memo["services"], memo["nudger"], config.drift_interval), name="drift-checks"
        )


async def stop(memo: kopf.Memo) -> None:
    task = memo.get("drift_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@kopf.timer(API_GROUP, API_VERSION, "dnsbackends", id="recheck", interval=TIMER_SECONDS, initial_delay=TIMER_SECONDS)
async def recheck_backend(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    """Re-read the Secrets and test the server every backend_recheck_interval: rotations and fixes show."""
    config: OperatorConfig = memo["config"]
    if config.backend_recheck_interval <= 0:
        return
    last: dict[str, float] = memo.setdefault("backend_checked", {})
    name = body["metadata"]["name"]
    now = time.monotonic()
    if name not in last:  # its create/resume handler has just checked it
        last[name] = now
        return
    if now - last[name] < config.backend_recheck_interval:
        return
    last[name] = now
    services: Services = memo["services"]
    outcome = await services.dnsbackends.reconcile(ObjectInput.from_body("DNSBackend", body))
    for key, value in outcome.status.items():
        patch.status[key] = value
    if outcome.affected:
        await memo["nudger"].nudge(outcome.affected)
