"""Which zones may serve their names: a zone inside another namespace's zone needs its consent.

A DNSZone declared below an existing zone of another namespace would take that whole subtree:
placement would send the parent tenant's own domains into it, and on a server holding both zones
it would answer for every name below it. So such a zone is served only if the parent lists its
namespace in ``spec.delegations`` (for that name). Zones of the same namespace need nothing.

First come, first served, as for every other name: only an *older* enclosing zone decides. A
parent declared after a child of another namespace cannot take the child's subtree, nor make its
tenant lose it by withholding consent. A zone refused by its parent does not count as a parent
for the zones below it; the next enclosing zone decides for them.
"""

from __future__ import annotations

from collections.abc import Iterable

from siteplane.domain.names import is_within, relative_to
from siteplane.domain.objects import ObjectRef
from siteplane.planning.placement import ZoneView


def refused_delegations(zones: Iterable[ZoneView]) -> set[ObjectRef]:
    """Of ``zones`` (each owning its name; give every ancestor and descendant of the zones in
    question), those that lie inside an older zone of another namespace that does not delegate them."""
    admitted: list[ZoneView] = []
    refused: set[ObjectRef] = set()
    for zone in sorted(zones, key=lambda z: z.age_key):
        parents = [p for p in admitted if p.zone_name != zone.zone_name and is_within(zone.zone_name, p.zone_name)]
        parent = max(parents, key=lambda p: len(p.zone_name), default=None)
        if parent is not None and not parent.delegates(
            zone.ref.namespace, relative_to(zone.zone_name, parent.zone_name)
        ):
            refused.add(zone.ref)
        else:
            admitted.append(zone)
    return refused
