"""Placement: which zone a site domain lands in, who may publish there, and which claim owns it."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pytest

from siteplane.domain.objects import ObjectRef
from siteplane.planning.placement import (
    DOMAIN_CONFLICT,
    NOT_PERMITTED,
    OWNED,
    DomainClaim,
    DomainOutcome,
    Publisher,
    ZoneView,
    closest_zone,
    name_matches,
    settle_domain,
)

ZONE_NAMESPACE = "dns"
T0 = "2024-01-01T00:00:00Z"
T1 = "2024-01-01T00:00:01Z"
T2 = "2024-01-01T00:00:02Z"
T3 = "2024-01-02T00:00:00Z"


def zone(zone_name: str, *publishers: Publisher, namespace: str = ZONE_NAMESPACE) -> ZoneView:
    ref = ObjectRef("DNSZone", namespace, zone_name.replace(".", "-"))
    return ZoneView(ref, zone_name, 3600, ("ns1.example.net", "ns2.example.org"), tuple(publishers))


def zones(*views: ZoneView) -> dict[str, ZoneView]:
    return {view.zone_name: view for view in views}


def site(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("Site", namespace, name)


def claim(
    namespace: str, name: str, created: str, domain: str = "www.example.com", incumbent: bool = False
) -> DomainClaim:
    return DomainClaim(site(namespace, name), created, domain=domain, incumbent=incumbent)


def owner_of(outcomes: dict[ObjectRef, DomainOutcome]) -> ObjectRef | None:
    owners = [ref for ref, outcome in outcomes.items() if outcome.is_owner]
    assert len(owners) <= 1, f"more than one owner: {owners}"
    return owners[0] if owners else None


# --- publisher name patterns -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "relative", "expected"),
    [
        ("*", "@", True),
        ("*", "www", True),
        ("*", "a.b.shop", True),
        ("*", "*", True),
        ("*.shop", "a.shop", True),
        ("*.shop", "x.y.shop", True),
        ("*.shop", "*.shop", True),
        ("*.shop", "shop", False),
        ("*.shop", "xshop", False),
        ("*.shop", "a.shopping", False),
        ("*.shop", "shop.a", False),
        ("*.shop", "@", False),
        ("shop", "shop", True),
        ("shop", "www.shop", False),
        ("shop", "shopx", False),
        ("shop", "@", False),
        ("@", "@", True),
        ("@", "www", False),
    ],
    ids=lambda v: repr(v) if isinstance(v, str) else str(v),
)
def test_publisher_name_pattern_matches(pattern: str, relative: str, expected: bool) -> None:
    assert name_matches(pattern, relative) is expected


# --- who may publish in a zone -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("publishers", "namespace", "relative", "expected"),
    [
        pytest.param((), ZONE_NAMESPACE, "www", True, id="own-namespace-without-publishers"),
        pytest.param((), ZONE_NAMESPACE, "@", True, id="own-namespace-at-apex"),
        pytest.param(
            (Publisher(ZONE_NAMESPACE, ("shop",)),), ZONE_NAMESPACE, "www", True, id="own-namespace-never-restricted"
        ),
        pytest.param((Publisher("team", ("shop",)),), ZONE_NAMESPACE, "blog", True, id="own-namespace-others-listed"),
        pytest.param((), "team", "www", False, id="other-namespace-not-listed"),
        pytest.param((Publisher("other"),), "team", "www", False, id="other-namespace-someone-else-listed"),
        pytest.param((Publisher("team"),), "team", "www", True, id="listed-without-names-may-use-any"),
        pytest.param((Publisher("team"),), "team", "@", True, id="listed-without-names-may-use-apex"),
        pytest.param((Publisher("team", ("shop",)),), "team", "shop", True, id="listed-exact-name"),
        pytest.param((Publisher("team", ("shop",)),), "team", "www", False, id="listed-other-name-refused"),
        pytest.param((Publisher("team", ("shop",)),), "team", "a.shop", False, id="listed-exact-not-below"),
        pytest.param((Publisher("team", ("*.shop",)),), "team", "a.shop", True, id="listed-below-name"),
        pytest.param((Publisher("team", ("*.shop",)),), "team", "shop", False, id="listed-below-not-itself"),
        pytest.param((Publisher("team", ("shop", "*.shop")),), "team", "shop", True, id="listed-several-patterns"),
        pytest.param((Publisher("team", ("@",)),), "team", "@", True, id="listed-apex-only"),
        pytest.param((Publisher("team", ("@",)),), "team", "www", False, id="listed-apex-only-refuses-www"),
        pytest.param((Publisher("team", ("*",)),), "team", "x.y", True, id="listed-star"),
    ],
)
def test_zone_permits(publishers: tuple[Publisher, ...], namespace: str, relative: str, expected: bool) -> None:
    assert zone("example.com", *publishers).permits(namespace, relative) is expected


# --- which zone a domain lands in --------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "existing", "expected"),
    [
        pytest.param("www.example.com", ("example.com",), "example.com", id="single-zone"),
        pytest.param("example.com", ("example.com",), "example.com", id="apex"),
        pytest.param("WWW.Example.COM.", ("example.com",), "example.com", id="spelling-normalised"),
        pytest.param("www.shop.example.com", ("example.com", "shop.example.com"), "shop.example.com", id="child-wins"),
        pytest.param("shop.example.com", ("example.com", "shop.example.com"), "shop.example.com", id="child-apex"),
        pytest.param("www.blog.example.com", ("example.com", "shop.example.com"), "example.com", id="sibling-parent"),
        pytest.param("*.example.com", ("example.com",), "example.com", id="wildcard-in-apex-zone"),
        pytest.param(
            "*.shop.example.com", ("example.com", "shop.example.com"), "shop.example.com", id="wildcard-child"
        ),
        pytest.param("*.shop.example.com", ("example.com",), "example.com", id="wildcard-below-parent"),
        pytest.param("www.example.org", ("example.com",), None, id="outside-every-zone"),
        pytest.param("www.badexample.com", ("example.com",), None, id="suffix-not-label-boundary"),
        pytest.param("com", ("example.com",), None, id="tld"),
    ],
)
def test_closest_zone(domain: str, existing: tuple[str, ...], expected: str | None) -> None:
    found = closest_zone(domain, zones(*(zone(name) for name in existing)))
    assert (found.zone_name if found else None) == expected


# --- settling one domain -----------------------------------------------------------------------


def test_single_permitted_claim_owns_the_domain() -> None:
    c = claim(ZONE_NAMESPACE, "web", T0)
    assert settle_domain([c], zones(zone("example.com"))) == {c.ref: DomainOutcome(OWNED, "example.com")}


def test_no_claims_settle_to_nothing() -> None:
    assert settle_domain([], zones(zone("example.com"))) == {}


@pytest.mark.parametrize(
    ("domain", "existing", "expected_zone"),
    [
        pytest.param("www.shop.example.com", ("example.com", "shop.example.com"), "shop.example.com", id="below-child"),
        pytest.param("shop.example.com", ("example.com", "shop.example.com"), "shop.example.com", id="child-apex"),
        pytest.param("www.example.com", ("example.com", "shop.example.com"), "example.com", id="parent-only-name"),
    ],
)
def test_closest_zone_wins_over_the_parent(domain: str, existing: tuple[str, ...], expected_zone: str) -> None:
    c = claim(ZONE_NAMESPACE, "web", T0, domain)
    outcomes = settle_domain([c], zones(*(zone(name) for name in existing)))
    assert outcomes == {c.ref: DomainOutcome(OWNED, expected_zone)}


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param("www.shop.example.com", id="below-child"),
        pytest.param("shop.example.com", id="child-apex"),
        pytest.param("*.shop.example.com", id="wildcard-below-child"),
    ],
)
def test_child_zone_refusal_is_not_bypassed_through_the_parent(domain: str) -> None:
    # The parent lets "team" publish anything; the child does not. The child's cut hides the
    # parent below it, so the domain must not be published in the parent either.
    parent = zone("example.com", Publisher("team"))
    child = zone("shop.example.com", namespace="shop-dns")
    c = claim("team", "web", T0, domain)
    assert settle_domain([c], zones(parent, child)) == {c.ref: DomainOutcome(NOT_PERMITTED)}


def test_child_zone_refusal_leaves_the_domain_to_a_permitted_younger_claim() -> None:
    parent = zone("example.com", Publisher("team"))
    child = zone("shop.example.com", namespace="shop-dns")
    refused = claim("team", "web", T0, "www.shop.example.com")
    allowed = claim("shop-dns", "web", T1, "www.shop.example.com")
    outcomes = settle_domain([refused, allowed], zones(parent, child))
    assert outcomes == {
        refused.ref: DomainOutcome(NOT_PERMITTED),
        allowed.ref: DomainOutcome(OWNED, "shop.example.com"),
    }


@pytest.mark.parametrize(
    ("domain", "publisher", "expected"),
    [
        pytest.param("*.example.com", Publisher("team", ("*",)), OWNED, id="star-allows-wildcard"),
        pytest.param("*.shop.example.com", Publisher("team", ("*.shop",)), OWNED, id="below-shop-allows-wildcard"),
        pytest.param("*.example.com", Publisher("team", ("www",)), NOT_PERMITTED, id="exact-name-refuses-wildcard"),
        pytest.param("*.example.com", Publisher("team"), OWNED, id="unrestricted-publisher"),
    ],
)
def test_wildcard_domain_is_placed_in_the_enclosing_zone(domain: str, publisher: Publisher, expected: str) -> None:
    c = claim("team", "web", T0, domain)
    outcome = settle_domain([c], zones(zone("example.com", publisher)))[c.ref]
    assert outcome.state == expected
    if expected == OWNED:
        assert outcome.zone_name == "example.com"


@pytest.mark.parametrize(
    ("domain", "existing"),
    [
        pytest.param("www.example.org", ("example.com",), id="other-domain"),
        pytest.param("www.badexample.com", ("example.com",), id="suffix-not-label-boundary"),
        pytest.param("www.example.com", (), id="no-zones-at-all"),
        pytest.param("*.example.org", ("example.com",), id="wildcard-elsewhere"),
    ],
)
def test_domain_outside_every_zone_is_not_permitted(domain: str, existing: tuple[str, ...]) -> None:
    c = claim(ZONE_NAMESPACE, "web", T0, domain)
    assert settle_domain([c], zones(*(zone(name) for name in existing))) == {c.ref: DomainOutcome(NOT_PERMITTED)}


OLDEST_FIRST = [
    claim("alpha", "oldest", T0),
    claim("beta", "second", T1),
    claim("alpha", "third", T2),
    claim("gamma", "youngest", T3),
]
PERMISSIVE_ZONES = zones(zone("example.com", Publisher("alpha"), Publisher("beta"), Publisher("gamma")))


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations(range(len(OLDEST_FIRST)))),
    ids=lambda order: "order-" + "".join(map(str, order)),
)
def test_oldest_claim_wins_regardless_of_input_order(order: Sequence[int]) -> None:
    outcomes = settle_domain([OLDEST_FIRST[i] for i in order], PERMISSIVE_ZONES)
    winner = OLDEST_FIRST[0].ref
    assert outcomes[winner] == DomainOutcome(OWNED, "example.com")
    for loser in OLDEST_FIRST[1:]:
        assert outcomes[loser.ref] == DomainOutcome(DOMAIN_CONFLICT, "example.com", winner)
    assert len(outcomes) == len(OLDEST_FIRST)


@pytest.mark.parametrize("seed", range(10), ids=lambda seed: f"seed-{seed}")
def test_settling_shuffled_claims_gives_the_same_outcomes(seed: int) -> None:
    shuffled = list(OLDEST_FIRST)
    random.Random(seed).shuffle(shuffled)
    assert settle_domain(shuffled, PERMISSIVE_ZONES) == settle_domain(OLDEST_FIRST, PERMISSIVE_ZONES)


@pytest.mark.parametrize(
    ("claims", "winner"),
    [
        pytest.param([claim("beta", "a", T0), claim("alpha", "z", T0)], site("alpha", "z"), id="namespace-before-name"),
        pytest.param([claim("alpha", "b", T0), claim("alpha", "a", T0)], site("alpha", "a"), id="then-name"),
        pytest.param(
            [claim("beta", "a", T0), claim("alpha", "b", T0), claim("alpha", "a", T0)],
            site("alpha", "a"),
            id="namespace-then-name",
        ),
        pytest.param(
            [claim("alpha", "a", T1), claim("beta", "z", T0)], site("beta", "z"), id="creation-time-before-namespace"
        ),
    ],
)
def test_creation_time_tie_is_broken_by_namespace_then_name(claims: list[DomainClaim], winner: ObjectRef) -> None:
    for ordering in (claims, list(reversed(claims))):
        outcomes = settle_domain(ordering, PERMISSIVE_ZONES)
        assert owner_of(outcomes) == winner
        losers = [c.ref for c in claims if c.ref != winner]
        assert all(outcomes[ref] == DomainOutcome(DOMAIN_CONFLICT, "example.com", winner) for ref in losers)


@pytest.mark.parametrize(
    ("claims", "winner"),
    [
        pytest.param(
            [claim("alpha", "owner", T0, incumbent=True), claim("alpha", "loser", T0)],
            site("alpha", "owner"),
            id="same-second-newcomer-with-an-earlier-name",
        ),
        pytest.param(
            [claim("beta", "owner", T0, incumbent=True), claim("alpha", "a", T0)],
            site("beta", "owner"),
            id="same-second-newcomer-from-an-earlier-namespace",
        ),
        pytest.param(
            [claim("beta", "holder", T1, incumbent=True), claim("alpha", "older", T0)],
            site("alpha", "older"),
            id="an-older-claim-still-wins",
        ),
    ],
)
def test_in_a_tie_of_creation_seconds_the_holder_keeps_the_domain(claims: list[DomainClaim], winner: ObjectRef) -> None:
    # The API server's timestamps have whole seconds: a Site created in the same second as the
    # published holder must not take the domain because of its name.
    for ordering in (claims, list(reversed(claims))):
        assert owner_of(settle_domain(ordering, PERMISSIVE_ZONES)) == winner


@pytest.mark.parametrize(
    "publisher",
    [
        pytest.param(None, id="namespace-not-listed"),
        pytest.param(Publisher("stranger", ("shop",)), id="namespace-listed-for-other-names"),
    ],
)
def test_non_permitted_older_claim_does_not_block_a_permitted_younger_one(publisher: Publisher | None) -> None:
    view = zone("example.com", *([publisher] if publisher else []))
    older = claim("stranger", "squatter", T0)
    younger = claim(ZONE_NAMESPACE, "web", T1)
    for ordering in ([older, younger], [younger, older]):
        outcomes = settle_domain(ordering, zones(view))
        assert outcomes == {
            older.ref: DomainOutcome(NOT_PERMITTED),
            younger.ref: DomainOutcome(OWNED, "example.com"),
        }


def test_only_non_permitted_claims_leave_the_domain_unowned() -> None:
    claims = [claim("stranger", "a", T0), claim("other", "b", T1)]
    outcomes = settle_domain(claims, zones(zone("example.com")))
    assert owner_of(outcomes) is None
    assert all(outcome == DomainOutcome(NOT_PERMITTED) for outcome in outcomes.values())


@pytest.mark.parametrize(
    ("claims", "winner"),
    [
        pytest.param([claim("alpha", "a", T0), claim("beta", "b", T1)], site("alpha", "a"), id="two-claims"),
        pytest.param(
            [claim("gamma", "c", T2), claim("beta", "b", T1), claim("alpha", "a", T3)],
            site("beta", "b"),
            id="three-claims-winner-in-middle",
        ),
        pytest.param(
            [claim("stranger", "s", T0), claim("beta", "b", T2), claim("gamma", "c", T1)],
            site("gamma", "c"),
            id="older-non-permitted-is-not-the-winner",
        ),
    ],
)
def test_domain_conflict_outcomes_name_the_winner(claims: list[DomainClaim], winner: ObjectRef) -> None:
    outcomes = settle_domain(claims, PERMISSIVE_ZONES)
    assert owner_of(outcomes) == winner
    conflicts = {ref: o for ref, o in outcomes.items() if o.state == DOMAIN_CONFLICT}
    assert conflicts, "expected at least one DomainConflict"
    for outcome in conflicts.values():
        assert outcome.winner == winner
        assert outcome.zone_name == "example.com"
        assert not outcome.is_owner
    assert all(outcomes[c.ref].state in (OWNED, DOMAIN_CONFLICT, NOT_PERMITTED) for c in claims)
    assert len(outcomes) == len(claims)
