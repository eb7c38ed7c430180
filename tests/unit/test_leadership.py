"""Leadership: kopf's peering rule, read from the peering object; and what a standby holds back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from siteplane.reconcile.leadership import Leadership, Peers, follow_peering, leads
from siteplane.reconcile.zone_sync import SyncResult
from siteplane.reconcile.zone_writer import ZoneWriter

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
ME = "me@host/1"


def peer(priority: int, seen_ago: float = 1, lifetime: int = 60) -> dict[str, object]:
    return {"priority": priority, "lifetime": lifetime, "lastseen": (NOW - timedelta(seconds=seen_ago)).isoformat()}


@pytest.mark.parametrize(
    ("peers", "my_priority", "expected"),
    [
        pytest.param({}, 10, True, id="alone-in-an-empty-peering"),
        pytest.param({ME: peer(10)}, 10, True, id="only-itself"),
        pytest.param({ME: peer(10), "other": peer(5)}, 10, True, id="the-other-has-a-lower-priority"),
        pytest.param({ME: peer(5), "other": peer(10)}, 5, False, id="the-other-has-a-higher-priority"),
        pytest.param({ME: peer(10), "other": peer(10)}, 10, False, id="same-priority-both-pause-as-in-kopf"),
        pytest.param(
            {ME: peer(5), "other": peer(10, seen_ago=61)}, 5, True, id="a-higher-peer-past-its-lifetime-is-dead"
        ),
        pytest.param(
            {ME: peer(5), "other": peer(10, seen_ago=1, lifetime=0)}, 5, True, id="a-peer-that-left-lifetime-0"
        ),
        pytest.param({ME: peer(5), "other": {"priority": 10}}, 5, False, id="no-lastseen-counts-as-alive"),
        pytest.param(None, 10, False, id="no-peering-object-pauses-as-in-kopf"),
    ],
)
def test_a_replica_leads_by_kopfs_rule(peers: Peers | None, my_priority: int, expected: bool) -> None:
    assert leads(peers, ME, my_priority, NOW) is expected


def test_leadership_follows_the_peering_object_as_it_changes() -> None:
    """Standby while a higher peer is alive, active once it left, standby again when it returns."""

    async def scenario() -> list[bool]:
        leadership = Leadership(active=False)
        states: list[Peers] = [{ME: peer(5), "other": peer(10)}, {ME: peer(5)}, {ME: peer(5), "other": peer(10)}]
        verdicts: list[bool] = []  # the verdict each read left behind, as seen by the next read
        done = asyncio.Event()

        async def read() -> list[Peers | None]:
            if reads[0] > 0:
                verdicts.append(leadership.is_active())
            if reads[0] == len(states):
                done.set()
                await asyncio.Event().wait()
            current = states[reads[0]]
            reads[0] += 1
            fresh = datetime.now(UTC).isoformat()
            return [{name: {**info, "lastseen": fresh} for name, info in current.items()}]

        reads = [0]
        task = asyncio.create_task(follow_peering(leadership, read, ME, 5, 0))
        await done.wait()
        task.cancel()
        return verdicts

    assert asyncio.run(scenario()) == [False, True, False]


def test_a_standby_zone_writer_syncs_nothing_until_it_leads() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        leadership = Leadership(active=False)
        synced: list[str] = []

        def sync(zone: str) -> SyncResult:
            synced.append(zone)
            return SyncResult(zone)

        writer = ZoneWriter(sync, gather_seconds=0, gate=leadership.wait_active)
        writer.request("a.example")
        for _ in range(50):  # every step the writer can take without leading
            await asyncio.sleep(0)
        before = list(synced)
        leadership.set_active(True)
        await writer.sync("a.example")
        return before, synced

    before, after = asyncio.run(scenario())
    assert before == []
    assert after and set(after) == {"a.example"}
