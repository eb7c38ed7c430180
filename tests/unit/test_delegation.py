"""Which zones may serve their names: a zone inside another namespace's zone needs its consent."""

from __future__ import annotations

import pytest

from siteplane.domain.objects import ObjectRef
from siteplane.planning.delegation import refused_delegations
from siteplane.planning.placement import Publisher, ZoneView


def zone(name: str, namespace: str, created: str, *delegations: Publisher, object_name: str | None = None) -> ZoneView:
    ref = ObjectRef("DNSZone", namespace, object_name or name.replace(".", "-"), f"uid-{namespace}-{name}")
    return ZoneView(ref, name, 3600, ("ns1.example.net",), (), created, tuple(delegations))


EARLY, LATER, LATEST = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"


@pytest.mark.parametrize(
    ("zones", "refused"),
    [
        pytest.param([zone("example.com", "a", EARLY)], set(), id="alone"),
        pytest.param(
            [zone("example.com", "a", EARLY), zone("shop.example.com", "a", LATER)], set(), id="same-namespace"
        ),
        pytest.param(
            [zone("example.com", "a", EARLY), zone("shop.example.com", "b", LATER)],
            {"shop.example.com"},
            id="other-namespace-without-consent",
        ),
        pytest.param(
            [zone("example.com", "a", EARLY, Publisher("b", ("shop",))), zone("shop.example.com", "b", LATER)],
            set(),
            id="delegated-by-name",
        ),
        pytest.param(
            [zone("example.com", "a", EARLY, Publisher("b")), zone("x.shop.example.com", "b", LATER)],
            set(),
            id="delegated-every-name",
        ),
        pytest.param(
            [zone("example.com", "a", EARLY, Publisher("b", ("shop",))), zone("x.shop.example.com", "b", LATER)],
            {"x.shop.example.com"},
            id="exact-name-is-not-below-it",
        ),
        pytest.param(
            [zone("example.com", "a", EARLY, Publisher("b", ("*.shop",))), zone("x.shop.example.com", "b", LATER)],
            set(),
            id="below-name",
        ),
        pytest.param(
            [zone("example.com", "a", EARLY, Publisher("c", ("shop",))), zone("shop.example.com", "b", LATER)],
            {"shop.example.com"},
            id="delegated-to-someone-else",
        ),
        pytest.param(
            [zone("shop.example.com", "b", EARLY), zone("example.com", "a", LATER)],
            set(),
            id="a-younger-parent-cannot-refuse-an-older-child",
        ),
        pytest.param(
            [
                zone("example.com", "a", EARLY, Publisher("b", ("shop",))),
                zone("shop.example.com", "b", LATER),
                zone("x.shop.example.com", "c", LATEST),
            ],
            {"x.shop.example.com"},
            id="the-closest-parent-decides",
        ),
        pytest.param(
            [
                zone("example.com", "a", EARLY, Publisher("b", ("shop",))),
                zone("shop.example.com", "b", LATER, Publisher("c")),
                zone("x.shop.example.com", "c", LATEST),
            ],
            set(),
            id="consent-given-down-the-chain",
        ),
        pytest.param(
            [
                zone("example.com", "a", EARLY, Publisher("c", ("*.shop",))),
                zone("shop.example.com", "b", LATER),
                zone("x.shop.example.com", "c", LATEST),
            ],
            {"shop.example.com"},
            id="a-refused-zone-is-no-parent",
        ),
        pytest.param([zone("example.com", "a", EARLY), zone("example.org", "b", LATER)], set(), id="unrelated-names"),
        pytest.param(
            [zone("example.com", "a", EARLY), zone("badexample.com", "b", LATER)], set(), id="suffix-is-not-a-parent"
        ),
    ],
)
def test_refused_delegations(zones: list[ZoneView], refused: set[str]) -> None:
    assert {ref.uid for ref in refused_delegations(zones)} == {z.ref.uid for z in zones if z.zone_name in refused}


def test_claims_of_the_same_age_are_ordered_by_namespace_and_name() -> None:
    # Same creation second: the namespace decides who is older, the same way for every worker.
    parent, child = zone("example.com", "a", EARLY), zone("shop.example.com", "b", EARLY)
    assert refused_delegations([child, parent]) == {child.ref}
