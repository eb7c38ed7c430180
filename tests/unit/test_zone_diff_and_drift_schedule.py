"""What a sync changes on a server and what counts as drift (pure), and when zones are checked."""

from __future__ import annotations

import pytest

from siteplane.domain.records import RecordKey, RecordSet
from siteplane.planning.zone_diff import ZoneBook, zone_diff
from siteplane.reconcile.drift import DriftSchedule, offset

NS = RecordSet("@", "NS", 3600, ("ns1.example.net.",))
WWW = RecordSet("www", "A", 300, ("192.0.2.1",))
WWW_BY_HAND = RecordSet("www", "A", 300, ("198.51.100.66",))
SHOP = RecordSet("shop", "A", 300, ("192.0.2.2",))
HAND_MADE = RecordSet("by-hand", "TXT", 300, ('"put here by a person"',))
BIG = RecordSet("big", "A", 300, tuple(f"192.0.2.{i}" for i in range(1, 102)))


def sets(*record_sets: RecordSet) -> dict[RecordKey, RecordSet]:
    return {rs.key: rs for rs in record_sets}


APPLIED = frozenset({NS.key, WWW.key})


@pytest.mark.parametrize(
    ("case", "served", "desired", "book", "upserts", "deletes", "drift"),
    [
        ("in sync", sets(NS, WWW), sets(NS, WWW), ZoneBook(APPLIED), [], [], []),
        ("a pending new set is no drift", sets(NS, WWW), sets(NS, WWW, SHOP), ZoneBook(APPLIED), [SHOP], [], []),
        (
            "a set changed by hand is put back",
            sets(NS, WWW_BY_HAND),
            sets(NS, WWW),
            ZoneBook(APPLIED),
            [WWW],
            [],
            [WWW.key],
        ),
        ("a set deleted by hand is put back", sets(NS), sets(NS, WWW), ZoneBook(APPLIED), [WWW], [], [WWW.key]),
        (
            "a set added by hand is left alone when shared",
            sets(NS, WWW, HAND_MADE),
            sets(NS, WWW),
            ZoneBook(APPLIED),
            [],
            [],
            [],
        ),
        (
            "a set added by hand is removed when exclusive",
            sets(NS, WWW, HAND_MADE),
            sets(NS, WWW),
            ZoneBook(APPLIED, exclusive=True),
            [],
            [HAND_MADE.key],
            [HAND_MADE.key],
        ),
        (
            "a withdrawal is deleted and is no drift",
            sets(NS, WWW, SHOP),
            sets(NS, WWW),
            ZoneBook(APPLIED, withdrawing=frozenset({SHOP.key})),
            [],
            [SHOP.key],
            [],
        ),
        (
            "a refused set is not sent again, and what the server has there stays",
            sets(NS, WWW),
            sets(NS, WWW, BIG),
            ZoneBook(APPLIED, rejected=frozenset({BIG.key})),
            [],
            [],
            [],
        ),
    ],
)
def test_zone_diff(
    case: str,
    served: dict[RecordKey, RecordSet],
    desired: dict[RecordKey, RecordSet],
    book: ZoneBook,
    upserts: list[RecordSet],
    deletes: list[RecordKey],
    drift: list[RecordKey],
) -> None:
    planned = zone_diff(served, desired, book)
    assert list(planned.changes.upserts) == upserts, case
    assert list(planned.changes.deletes) == deletes, case
    assert list(planned.drift) == drift, case


def test_drift_checks_are_spread_over_the_interval() -> None:
    zones = [f"zone{i}.example" for i in range(2000)]
    offsets = sorted(offset(z, 300) for z in zones)
    assert all(0 <= o < 300 for o in offsets)
    # Evenly spread: every tenth of the interval holds roughly a tenth of the zones.
    per_bucket = [sum(1 for o in offsets if b * 30 <= o < (b + 1) * 30) for b in range(10)]
    assert min(per_bucket) > 150 and max(per_bucket) < 250, per_bucket


def test_a_zone_is_due_once_per_interval_and_never_right_after_it_is_first_seen() -> None:
    schedule = DriftSchedule(60)
    zones = [f"z{i}.example" for i in range(50)]
    assert schedule.due(zones, 1000.0) == []
    seen: dict[str, int] = {}
    for step in range(1, 121):  # two intervals, one second at a time
        for zone in schedule.due(zones, 1000.0 + step):
            seen[zone] = seen.get(zone, 0) + 1
    assert set(seen) == set(zones)
    assert set(seen.values()) == {2}


def test_zones_that_disappear_are_forgotten() -> None:
    schedule = DriftSchedule(10)
    schedule.due(["a.example", "b.example"], 0.0)
    schedule.due(["a.example"], 1.0)
    assert "b.example" not in schedule._last_slot
