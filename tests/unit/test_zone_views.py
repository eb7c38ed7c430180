"""The admission webhook's zone views: read once for many Site checks, never older than this
replica's own last zone change, and at most ``max_age`` old for changes made elsewhere.

On the embedded defaults (a SQLite file, zone files), with the same placement lock the zone
reconciles take, as in the operator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from siteplane.reconcile import admission
from siteplane.reconcile.zone_views import ZoneViews
from siteplane.store.models import Zone
from tests.embedded import Embedded, observed

ZONE_SPEC: dict[str, Any] = {"zoneName": "example.com", "nameServers": ["ns1.example.net"]}
SHOP = ["shop.example.com"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path: Path) -> Embedded:
    world = Embedded.create(tmp_path)
    world.run(observed("DNSZone", "zone", ZONE_SPEC))  # in team-a
    return world


def refusal(views: ZoneViews, namespace: str, domains: list[str]) -> str | None:
    """The Site check as the operator makes it: memory first, the database when memory cannot say."""
    zones = views.cached(domains)
    if zones is None:
        zones = views.serving(domains)
    return admission.site_refusal(zones, namespace, domains)


def test_many_site_checks_read_the_zones_once(world: Embedded) -> None:
    views = ZoneViews(world.store, world.placement, clock=Clock())
    answers = {refusal(views, "team-b", [f"s{i}.example.com"]) is not None for i in range(200)}
    assert answers == {True}  # team-b may not publish in team-a's zone
    assert refusal(views, "team-a", SHOP) is None
    assert refusal(views, "team-b", ["www.elsewhere.org"]) is None  # no zone there: let through
    assert views.loads == 1


def test_a_zone_change_on_this_replica_is_answered_at_once(world: Embedded) -> None:
    clock = Clock()
    views = ZoneViews(world.store, world.placement, clock=clock)
    assert refusal(views, "team-b", SHOP) is not None
    world.run(observed("DNSZone", "zone", {**ZONE_SPEC, "publishers": [{"namespace": "team-b"}]}, generation=2))
    assert views.cached(SHOP) is None  # memory knows it is behind
    assert refusal(views, "team-b", SHOP) is None  # and the database answers, within the same second
    clock.now += 1
    assert refusal(views, "team-b", SHOP) is None
    assert views.loads == 2 and views.cached(SHOP) is not None  # read again, and current


def test_a_change_another_replica_made_is_seen_within_max_age(world: Embedded) -> None:
    clock = Clock()
    views = ZoneViews(world.store, world.placement, max_age=10, clock=clock)
    assert refusal(views, "team-b", SHOP) is not None

    def other_replica(uow: Any) -> None:  # a change this process's placement lock never saw
        uow.session.execute(update(Zone).values(publishers=[{"namespace": "team-b"}]))

    world.store.transaction(other_replica)
    clock.now += 9
    assert refusal(views, "team-b", SHOP) is not None  # still the views of 9 s ago
    clock.now += 1
    assert refusal(views, "team-b", SHOP) is None
    assert views.loads == 2


def test_a_zone_refused_by_its_parent_serves_nothing_and_permits_nothing(world: Embedded) -> None:
    views = ZoneViews(world.store, world.placement, clock=Clock())

    def refuse(uow: Any) -> None:
        uow.session.execute(update(Zone).values(delegation_refused=True))

    world.store.transaction(refuse)
    assert views.serving(SHOP) == {}
    assert refusal(views, "team-b", SHOP) is None


def test_views_that_took_long_to_read_are_kept_longer_so_reloads_stay_a_small_share_of_a_core(
    world: Embedded,
) -> None:
    clock = Clock()
    views = ZoneViews(world.store, world.placement, max_age=10, clock=clock)
    read = world.store.read

    def slow_read(work: Any) -> Any:  # a read of every zone that takes 2 s, as 100,000 zones would
        clock.now += 2
        return read(work)

    world.store.read = slow_read  # type: ignore[method-assign]
    assert refusal(views, "team-b", SHOP) is not None
    assert views.lifetime == 40  # LOAD_SHARE (20) times the 2 s read, beyond max_age
    clock.now += 30
    assert views.cached(SHOP) is not None and views.loads == 1
    clock.now += 10
    assert views.cached(SHOP) is None  # 40 s old: read again

    world.run(observed("DNSZone", "zone", {**ZONE_SPEC, "publishers": [{"namespace": "team-b"}]}, generation=2))
    assert refusal(views, "team-b", SHOP) is None  # a reload (the views were 40 s old)
    assert views.loads == 2
    world.run(observed("DNSZone", "zone", ZONE_SPEC, generation=3))
    clock.now += 5  # a zone changed here 5 s after a 2 s read: the database answers, no reload yet
    assert refusal(views, "team-b", SHOP) is not None and views.loads == 2
    clock.now += 35
    assert refusal(views, "team-b", SHOP) is not None and views.loads == 3
