"""The status writer's retries: each object backs off by its own failures in a row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from siteplane.api.conditions import ConditionChange
from siteplane.domain.objects import ObjectRef
from siteplane.errors import KubeUnavailable
from siteplane.reconcile import status_writer
from siteplane.reconcile.observed import ObjectCache
from siteplane.reconcile.status import StatusReport
from siteplane.reconcile.status_writer import StatusWriter
from tests.embedded import Embedded, observed

READY = StatusReport([ConditionChange("Ready", "True", "Published")])


class FlakyObjects:
    """Status patches fail for the names in ``failing``; every other patch is answered."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.patched: list[str] = []

    async def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        return None

    async def patch_status(self, ref: ObjectRef, patch: dict[str, Any], resource_version: str) -> dict[str, Any]:
        if ref.name in self.failing:
            raise KubeUnavailable("the API server did not answer")
        self.patched.append(ref.name)
        return {
            "metadata": {
                "name": ref.name,
                "namespace": ref.namespace,
                "uid": ref.uid,
                "resourceVersion": "9",
                "generation": 1,
            },
            "spec": {},
            "status": patch,
        }


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def test_an_object_that_keeps_failing_does_not_slow_the_retry_of_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded = Embedded.create(tmp_path)
    delays: dict[str, list[float]] = {}
    # The delay before each retry, made plain: the failures in a row it was computed from.
    monkeypatch.setattr(status_writer, "backoff", lambda failures: float(failures))

    async def scenario() -> None:
        objects = FlakyObjects({"stuck", "blip"})
        cache = ObjectCache()
        writer = StatusWriter(embedded.store, objects, cache, {})  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        real_call_later = loop.call_later

        def call_later(delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
            if callback != writer.mark:
                return real_call_later(delay, callback, *args)
            (refs,) = args
            delays.setdefault(refs[0].name, []).append(delay)
            return real_call_later(0.01, callback, refs)

        monkeypatch.setattr(loop, "call_later", call_later)
        stuck, blip = (observed("Site", name, {}) for name in ("stuck", "blip"))
        for obj in (stuck, blip):
            cache.put(obj)
            writer.set_report(obj.ref, READY)
        task = asyncio.create_task(writer.run())
        writer.mark([stuck.ref])
        await until(lambda: len(delays.get("stuck", [])) >= 7)
        writer.mark([blip.ref])
        await until(lambda: bool(delays.get("blip")))
        objects.failing.discard("blip")
        await until(lambda: "blip" in objects.patched)
        objects.failing.discard("stuck")
        await until(lambda: "stuck" in objects.patched)
        # A write that went through starts the object's count afresh.
        objects.failing.add("stuck")
        writer.set_report(stuck.ref, StatusReport([ConditionChange("Ready", "False", "Suspended")]))
        failed_before = len(delays["stuck"])
        writer.mark([stuck.ref])
        await until(lambda: len(delays["stuck"]) > failed_before)
        assert delays["stuck"][failed_before] == 0.0
        task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        embedded.close()
    assert delays["stuck"][:7] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0]
    assert delays["blip"][0] == 0.0, "the second object's first failure waits as a first failure"


@pytest.mark.parametrize(
    ("case", "busy", "written_at"),
    [
        (
            "a zone busy all along: 30 s, then twice as long each time, up to 16 x 30 s",
            True,
            [30, 90, 210, 450, 930, 1410],
        ),
        ("a zone that goes quiet: written once it has been quiet for 2 s", False, [2]),
    ],
)
def test_a_zones_tallies_wait_while_it_is_busy_and_each_write_in_a_stream_waits_twice_as_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, busy: bool, written_at: list[int]
) -> None:
    """A tally-only patch of a zone whose syncs keep coming (a long import) is written at
    doubling intervals from settle_max, not every settle_max: progress for a few writes."""
    embedded = Embedded.create(tmp_path)
    clock = [0.0]
    monkeypatch.setattr(status_writer, "time", type("Clock", (), {"monotonic": staticmethod(lambda: clock[0])}))
    report = StatusReport([], settling=frozenset({"recordCount"}), settling_zone="example.com")
    zone = observed("DNSZone", "zone", {})
    writes: list[int] = []

    async def scenario() -> None:
        writer = StatusWriter(
            embedded.store, FlakyObjects(set()), ObjectCache(), {}, settle=2, settle_max=30, busy=lambda _: busy
        )  # type: ignore[arg-type]
        writer.mark([zone.ref])
        for second in range(0, 1500):
            clock[0] = float(second)
            if not busy and writes:
                break
            if not writer._waits_to_settle(zone.ref, ["recordCount"], report):
                writes.append(second)
                writer._settling.pop(zone.key, None)  # as a write that went through does
                writer._waits_to_settle(zone.ref, ["recordCount"], report)  # the next tally begins to wait
        for timer in writer._settle_timers.values():
            timer.cancel()

    try:
        asyncio.run(scenario())
    finally:
        embedded.close()
    assert writes == written_at, case
