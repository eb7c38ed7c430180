"""What a stored change sets in motion, beyond the object itself: zones to bring to their new
desired state, and other objects whose status the change moved."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from siteplane.domain.objects import ObjectRef


@dataclass
class Effects:
    zones: set[str] = field(default_factory=set)
    """Zones whose desired content (or whose existence on a backend) may have changed."""
    affected: set[ObjectRef] = field(default_factory=set)
    """Objects, other than the one changed, whose status may read differently now."""

    def add(self, other: Effects) -> Effects:
        self.zones |= other.zones
        self.affected |= other.affected
        return self

    def without(self, refs: Iterable[ObjectRef]) -> set[ObjectRef]:
        """The affected objects but ``refs``."""
        skip = {ref.uid for ref in refs}
        return {ref for ref in self.affected if ref.uid not in skip}
