"""Where a site domain is published, and which of several claims on one domain owns it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from siteplane.domain.names import APEX, enclosing_zones, relative_to
from siteplane.domain.objects import AgeKey, Claim, ObjectRef, age_key

OWNED = "Owned"
DOMAIN_CONFLICT = "DomainConflict"
NOT_PERMITTED = "NotPermitted"


@dataclass(frozen=True)
class Publisher:
    """A namespace allowed something in a zone (publishing names, or declaring zones below it),
    optionally only at some relative names."""

    namespace: str
    names: tuple[str, ...] | None = None


def _allows(grantees: tuple[Publisher, ...], namespace: str, relative: str) -> bool:
    for grantee in grantees:
        if grantee.namespace == namespace:
            return grantee.names is None or any(name_matches(p, relative) for p in grantee.names)
    return False


@dataclass(frozen=True)
class ZoneView:
    """What planning needs to know about a zone that owns its name."""

    ref: ObjectRef
    zone_name: str
    default_ttl: int
    name_servers: tuple[str, ...]
    publishers: tuple[Publisher, ...] = ()
    created: str = ""  # metadata.creationTimestamp: whose claim is older
    delegations: tuple[Publisher, ...] = ()

    @property
    def age_key(self) -> AgeKey:
        return age_key(self.created, False, self.ref)

    def permits(self, namespace: str, relative: str) -> bool:
        """May objects in ``namespace`` publish at ``relative`` in this zone?"""
        return namespace == self.ref.namespace or _allows(self.publishers, namespace, relative)

    def delegates(self, namespace: str, relative: str) -> bool:
        """May ``namespace`` declare a zone at ``relative`` (below this zone)?"""
        return namespace == self.ref.namespace or _allows(self.delegations, namespace, relative)


def name_matches(pattern: str, relative: str) -> bool:
    """'*' matches every name, '*.x' every name strictly below x, anything else exactly itself."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        suffix = pattern[2:]
        return relative != APEX and relative.endswith("." + suffix)
    return pattern == relative


def closest_zone(domain: str, zones: Mapping[str, ZoneView]) -> ZoneView | None:
    """The closest existing zone enclosing ``domain``.

    Only the closest one: a parent zone cannot publish names below a child zone's cut, so if the
    closest zone refuses a namespace, falling back to the parent would publish a record nobody
    can resolve.
    """
    for candidate in enclosing_zones(domain):
        if candidate in zones:
            return zones[candidate]
    return None


@dataclass(frozen=True)
class DomainClaim(Claim):
    domain: str = ""

    @property
    def namespace(self) -> str:
        return self.ref.namespace


@dataclass(frozen=True)
class DomainOutcome:
    state: str  # OWNED | DOMAIN_CONFLICT | NOT_PERMITTED
    zone_name: str | None = None
    winner: ObjectRef | None = None  # for DOMAIN_CONFLICT: who owns the domain

    @property
    def is_owner(self) -> bool:
        return self.state == OWNED


def settle_domain(claims: Sequence[DomainClaim], zones: Mapping[str, ZoneView]) -> dict[ObjectRef, DomainOutcome]:
    """Decide every claim on one domain: the oldest claim allowed to publish it owns it."""
    outcomes: dict[ObjectRef, DomainOutcome] = {}
    eligible: list[tuple[DomainClaim, ZoneView]] = []
    for claim in claims:
        zone = closest_zone(claim.domain, zones)
        if zone is None or not zone.permits(claim.namespace, relative_to(claim.domain, zone.zone_name)):
            outcomes[claim.ref] = DomainOutcome(NOT_PERMITTED)
        else:
            eligible.append((claim, zone))
    if eligible:
        eligible.sort(key=lambda pair: pair[0].age_key)
        winner, winner_zone = eligible[0]
        outcomes[winner.ref] = DomainOutcome(OWNED, winner_zone.zone_name)
        for claim, zone in eligible[1:]:
            outcomes[claim.ref] = DomainOutcome(DOMAIN_CONFLICT, zone.zone_name, winner.ref)
    return outcomes
