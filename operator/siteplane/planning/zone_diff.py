"""What to change on a server, and which of it is drift: pure, from what is served and what is wanted.

Not everything a server holds is siteplane's. In a Shared zone (the default) siteplane touches only
the record sets it wants now and those it is still withdrawing; anything else (added by hand at a
name nobody claims) is left alone. An Exclusive zone holds exactly what siteplane publishes.

A record set the server refused is held back until its content changes: sending it again
unchanged would only be refused again. Whatever the server holds under that key stays as it is.

Drift is what differs from what siteplane had already seen applied: a served set changed or
deleted by hand, or (Exclusive) a set added by hand. Pending changes are not drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from siteplane.domain.changes import ChangeSet, diff
from siteplane.domain.records import RecordKey, RecordSet


@dataclass(frozen=True)
class ZoneBook:
    """What the database knows about a zone beyond the desired record sets."""

    applied: frozenset[RecordKey] = frozenset()
    """Desired keys the server was seen serving with exactly the desired content."""
    withdrawing: frozenset[RecordKey] = frozenset()
    """Keys withdrawn since the last successful sync: still to be deleted from the server."""
    rejected: frozenset[RecordKey] = frozenset()
    """Desired keys the server refused with their current content."""
    exclusive: bool = False


@dataclass(frozen=True)
class ZoneDiff:
    changes: ChangeSet
    drift: tuple[RecordKey, ...] = ()
    target: Mapping[RecordKey, RecordSet] = field(default_factory=dict)
    """What the in-scope part of the zone must equal afterwards."""


def in_scope(
    served: Mapping[RecordKey, RecordSet], desired: Mapping[RecordKey, RecordSet], book: ZoneBook
) -> dict[RecordKey, RecordSet]:
    """The part of what is served that siteplane manages."""
    return {
        key: rs
        for key, rs in served.items()
        if key not in book.rejected and (book.exclusive or key in desired or key in book.withdrawing)
    }


def zone_diff(
    served: Mapping[RecordKey, RecordSet], desired: Mapping[RecordKey, RecordSet], book: ZoneBook
) -> ZoneDiff:
    target = {key: rs for key, rs in desired.items() if key not in book.rejected}
    changes = diff(in_scope(served, desired, book), target)
    drift = [rs.key for rs in changes.upserts if rs.key in book.applied]
    drift += [key for key in changes.deletes if key not in book.withdrawing and key not in desired]
    return ZoneDiff(changes, tuple(sorted(drift)), target)
