"""Change sets: what must happen to a zone's record sets to reach the desired state.

Pure values and functions, shared by the planner (which computes them) and the backends (which
apply them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from siteplane.domain.records import RecordKey, RecordSet


@dataclass(frozen=True)
class ChangeSet:
    """Whole-RRset replacements and removals for one zone. Empty means nothing to do."""

    upserts: tuple[RecordSet, ...] = ()
    deletes: tuple[RecordKey, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes)

    def __len__(self) -> int:
        return len(self.upserts) + len(self.deletes)

    def summary(self) -> dict[str, list[str]]:
        return {"upserts": [str(r.key) for r in self.upserts], "deletes": [str(k) for k in self.deletes]}


def diff(current: Mapping[RecordKey, RecordSet], desired: Mapping[RecordKey, RecordSet]) -> ChangeSet:
    """The change set turning ``current`` into ``desired`` (both keyed by name/type)."""
    upserts = tuple(sorted((rs for key, rs in desired.items() if current.get(key) != rs), key=lambda r: r.key))
    deletes = tuple(sorted(key for key in current if key not in desired))
    return ChangeSet(upserts, deletes)


def apply_to(current: Mapping[RecordKey, RecordSet], changes: ChangeSet) -> dict[RecordKey, RecordSet]:
    """``current`` with ``changes`` applied (what a backend ends up holding)."""
    result = {k: v for k, v in current.items() if k not in set(changes.deletes)}
    result.update({rs.key: rs for rs in changes.upserts})
    return result
