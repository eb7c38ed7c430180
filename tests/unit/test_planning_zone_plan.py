"""Zone planning: the record sets a zone serves, who owns each, and why a claim publishes nothing."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from types import SimpleNamespace

import pytest

from siteplane.domain.objects import ObjectRef
from siteplane.domain.records import RecordKey, RecordSet, apex_ns, record_set, typed_rdata
from siteplane.planning.placement import Publisher, ZoneView
from siteplane.planning.zone_plan import (
    CNAME_AT_APEX,
    NAME_CONFLICT,
    NOT_PERMITTED,
    PUBLISHED,
    Outcome,
    RecordClaim,
    SiteClaim,
    ZonePlan,
    plan_zone,
    site_record_sets,
)

ZONE_NAME = "example.com"
ZONE_NAMESPACE = "dns"
DEFAULT_TTL = 3600
NAME_SERVERS = ("ns1.example.net", "ns2.example.org")
NS_KEY = RecordKey("@", "NS")
T0 = "2024-01-01T00:00:00Z"
T1 = "2024-01-01T00:00:01Z"
T2 = "2024-01-01T00:00:02Z"
T3 = "2024-01-01T00:00:03Z"


def zone(*publishers: Publisher) -> ZoneView:
    return ZoneView(
        ObjectRef("DNSZone", ZONE_NAMESPACE, "example-com"), ZONE_NAME, DEFAULT_TTL, NAME_SERVERS, tuple(publishers)
    )


ZONE = zone()


def site(
    name: str,
    created: str,
    *domains: str,
    namespace: str = ZONE_NAMESPACE,
    ttl: int | None = None,
    ipv4: tuple[str, ...] = (),
    ipv6: tuple[str, ...] = (),
    cname: str | None = None,
) -> SiteClaim:
    return SiteClaim(
        ObjectRef("Site", namespace, name), created, domains=domains, ttl=ttl, ipv4=ipv4, ipv6=ipv6, cname=cname
    )


def record(
    name: str,
    created: str,
    owner_name: str,
    rdtype: str,
    *values: object,
    namespace: str = ZONE_NAMESPACE,
    ttl: int | None = None,
    incumbent: bool = False,
) -> RecordClaim:
    rdata = tuple(typed_rdata(rdtype, v) for v in values)
    return RecordClaim(
        ObjectRef("DNSRecord", namespace, name),
        created,
        name=owner_name,
        type=rdtype,
        ttl=ttl,
        rdata=rdata,
        incumbent=incumbent,
    )


def _mx(preference: int, host: str) -> SimpleNamespace:
    return SimpleNamespace(preference=preference, host=host)


def keys_owned_by(plan: ZonePlan, ref: ObjectRef) -> set[RecordKey]:
    return {key for key, owner in plan.owners.items() if owner == ref}


def expected_ns() -> RecordSet:
    return apex_ns(DEFAULT_TTL, NAME_SERVERS)


# --- the zone's own apex NS --------------------------------------------------------------------


def test_empty_zone_serves_only_its_apex_ns_owned_by_the_zone() -> None:
    plan = plan_zone(ZONE, [], [])
    assert plan.record_sets == {NS_KEY: expected_ns()}
    assert plan.owners == {NS_KEY: ZONE.ref}
    assert plan.outcomes == {}
    assert plan.record_sets[NS_KEY].rdata == ("ns1.example.net.", "ns2.example.org.")


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(([site("web", T0, "example.com", ipv4=("192.0.2.1",))], []), id="site-at-apex"),
        pytest.param(([], [record("txt", T0, "@", "TXT", "v=spf1 -all")]), id="txt-at-apex"),
        pytest.param(([], [record("ns", "2000-01-01T00:00:00Z", "@", "NS", "evil.example.org")]), id="older-apex-ns"),
    ],
)
def test_apex_ns_is_always_present_and_owned_by_the_zone(
    claims: tuple[list[SiteClaim], list[RecordClaim]],
) -> None:
    plan = plan_zone(ZONE, *claims)
    assert plan.record_sets[NS_KEY] == expected_ns()
    assert plan.owners[NS_KEY] == ZONE.ref


def test_older_apex_ns_record_loses_to_the_zone() -> None:
    intruder = record("ns", "2000-01-01T00:00:00Z", "@", "NS", "evil.example.org")
    plan = plan_zone(ZONE, [], [intruder])
    assert plan.outcomes[intruder.ref] == Outcome(NAME_CONFLICT, winner=ZONE.ref, detail="@/NS")


def test_apex_cname_record_collides_with_the_zone_ns() -> None:
    intruder = record("apex-alias", T0, "@", "CNAME", "elsewhere.example.org")
    plan = plan_zone(ZONE, [], [intruder])
    assert plan.outcomes[intruder.ref].state == NAME_CONFLICT
    assert plan.outcomes[intruder.ref].winner == ZONE.ref
    assert RecordKey("@", "CNAME") not in plan.record_sets


# --- Sites ------------------------------------------------------------------------------------


def test_site_with_ipv4_and_ipv6_gets_a_and_aaaa_at_each_of_its_domains() -> None:
    web = site("web", T0, "example.com", "www.example.com", ipv4=("192.0.2.1", "192.0.2.2"), ipv6=("2001:db8::1",))
    plan = plan_zone(ZONE, [web], [])
    assert plan.outcomes[web.ref] == Outcome(PUBLISHED)
    expected = {RecordKey(name, rdtype) for name in ("@", "www") for rdtype in ("A", "AAAA")}
    assert keys_owned_by(plan, web.ref) == expected
    for name in ("@", "www"):
        assert plan.record_sets[RecordKey(name, "A")] == RecordSet(name, "A", DEFAULT_TTL, ("192.0.2.1", "192.0.2.2"))
        assert plan.record_sets[RecordKey(name, "AAAA")] == RecordSet(name, "AAAA", DEFAULT_TTL, ("2001:db8::1",))


@pytest.mark.parametrize(
    ("ipv4", "ipv6", "types"),
    [
        pytest.param(("192.0.2.1",), (), {"A"}, id="ipv4-only"),
        pytest.param((), ("2001:db8::1",), {"AAAA"}, id="ipv6-only"),
        pytest.param(("192.0.2.1",), ("2001:db8::1",), {"A", "AAAA"}, id="both"),
    ],
)
def test_site_address_families_give_their_record_types(
    ipv4: tuple[str, ...], ipv6: tuple[str, ...], types: set[str]
) -> None:
    sets = site_record_sets(ZONE, site("web", T0, "shop.example.com", ipv4=ipv4, ipv6=ipv6))
    assert isinstance(sets, list)
    assert {(rs.name, rs.type) for rs in sets} == {("shop", t) for t in types}


def test_site_addresses_are_canonical() -> None:
    web = site("web", T0, "www.example.com", ipv6=("2001:0db8:0000::0001",))
    plan = plan_zone(ZONE, [web], [])
    assert plan.record_sets[RecordKey("www", "AAAA")].rdata == ("2001:db8::1",)


@pytest.mark.parametrize(
    ("site_ttl", "expected"),
    [
        pytest.param(60, 60, id="site-ttl"),
        pytest.param(None, DEFAULT_TTL, id="zone-default-ttl"),
        pytest.param(DEFAULT_TTL * 2, DEFAULT_TTL * 2, id="site-ttl-above-default"),
    ],
)
def test_site_ttl_overrides_the_zone_default(site_ttl: int | None, expected: int) -> None:
    web = site("web", T0, "www.example.com", "example.com", ttl=site_ttl, ipv4=("192.0.2.1",))
    plan = plan_zone(ZONE, [web], [])
    assert {plan.record_sets[key].ttl for key in keys_owned_by(plan, web.ref)} == {expected}
    assert plan.record_sets[NS_KEY].ttl == DEFAULT_TTL


@pytest.mark.parametrize(
    ("record_ttl", "expected"),
    [pytest.param(120, 120, id="record-ttl"), pytest.param(None, DEFAULT_TTL, id="zone-default-ttl")],
)
def test_record_ttl_overrides_the_zone_default(record_ttl: int | None, expected: int) -> None:
    txt = record("txt", T0, "www", "TXT", "hello", ttl=record_ttl)
    assert plan_zone(ZONE, [], [txt]).record_sets[RecordKey("www", "TXT")].ttl == expected


@pytest.mark.parametrize(
    "target",
    [pytest.param("web.hosting.example.net", id="lowercase"), pytest.param("Web.Hosting.Example.NET.", id="mixed")],
)
def test_site_cname_at_a_non_apex_name(target: str) -> None:
    web = site("web", T0, "www.example.com", "shop.example.com", cname=target, ipv4=("192.0.2.1",))
    plan = plan_zone(ZONE, [web], [])
    assert plan.outcomes[web.ref] == Outcome(PUBLISHED)
    assert keys_owned_by(plan, web.ref) == {RecordKey("www", "CNAME"), RecordKey("shop", "CNAME")}
    for name in ("www", "shop"):
        assert plan.record_sets[RecordKey(name, "CNAME")] == RecordSet(
            name, "CNAME", DEFAULT_TTL, ("web.hosting.example.net.",)
        )


@pytest.mark.parametrize(
    "domains",
    [
        pytest.param(("example.com",), id="apex-only"),
        pytest.param(("www.example.com", "example.com"), id="apex-last"),
        pytest.param(("example.com", "www.example.com"), id="apex-first"),
    ],
)
def test_site_cname_at_apex_publishes_nothing(domains: tuple[str, ...]) -> None:
    web = site("web", T0, *domains, cname="web.hosting.example.net")
    plan = plan_zone(ZONE, [web], [])
    assert plan.outcomes[web.ref] == Outcome(CNAME_AT_APEX, detail="example.com")
    assert keys_owned_by(plan, web.ref) == set()
    assert plan.record_sets == {NS_KEY: expected_ns()}


def test_site_cname_at_apex_does_not_block_a_younger_claim() -> None:
    web = site("web", T0, "www.example.com", "example.com", cname="web.hosting.example.net")
    younger = record("www", T1, "www", "A", "192.0.2.9")
    plan = plan_zone(ZONE, [web], [younger])
    assert plan.outcomes[web.ref].state == CNAME_AT_APEX
    assert plan.outcomes[younger.ref] == Outcome(PUBLISHED)
    assert plan.owners[RecordKey("www", "A")] == younger.ref


# --- conflicts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True], ids=["older-first", "younger-first"])
@pytest.mark.parametrize(
    ("older_created", "younger_created", "older_name", "younger_name"),
    [
        pytest.param(T0, T1, "zzz", "aaa", id="by-creation-time"),
        pytest.param(T0, T0, "aaa", "zzz", id="tie-by-name"),
    ],
)
def test_two_records_with_same_name_and_type_older_wins(
    reverse: bool, older_created: str, younger_created: str, older_name: str, younger_name: str
) -> None:
    older = record(older_name, older_created, "www", "A", "192.0.2.1")
    younger = record(younger_name, younger_created, "www", "A", "192.0.2.2")
    claims = [younger, older] if reverse else [older, younger]
    plan = plan_zone(ZONE, [], claims)
    assert plan.outcomes[older.ref] == Outcome(PUBLISHED)
    assert plan.outcomes[younger.ref] == Outcome(NAME_CONFLICT, winner=older.ref, detail="www/A")
    assert plan.owners[RecordKey("www", "A")] == older.ref
    assert plan.record_sets[RecordKey("www", "A")].rdata == ("192.0.2.1",)


@pytest.mark.parametrize("reverse", [False, True], ids=["holder-first", "newcomer-first"])
@pytest.mark.parametrize("newcomer_type", ["A", "CNAME"])
def test_in_a_tie_of_creation_seconds_the_holder_keeps_its_name(reverse: bool, newcomer_type: str) -> None:
    holder = record("zzz", T0, "www", "A", "192.0.2.1", incumbent=True)
    value = "192.0.2.2" if newcomer_type == "A" else "target.example.net"
    newcomer = record("aaa", T0, "www", newcomer_type, value)
    plan = plan_zone(ZONE, [], [newcomer, holder] if reverse else [holder, newcomer])
    assert plan.outcomes[holder.ref] == Outcome(PUBLISHED)
    assert plan.outcomes[newcomer.ref].state == NAME_CONFLICT
    assert plan.owners[RecordKey("www", "A")] == holder.ref


@pytest.mark.parametrize("reverse", [False, True], ids=["older-first", "younger-first"])
@pytest.mark.parametrize(
    ("older_type", "younger_type"),
    [pytest.param("CNAME", "TXT", id="cname-older"), pytest.param("TXT", "CNAME", id="txt-older")],
)
def test_cname_and_other_data_at_one_name_older_wins(reverse: bool, older_type: str, younger_type: str) -> None:
    values = {"CNAME": "target.example.net", "TXT": "hello"}
    older = record("first", T0, "www", older_type, values[older_type])
    younger = record("second", T1, "www", younger_type, values[younger_type])
    plan = plan_zone(ZONE, [], [younger, older] if reverse else [older, younger])
    assert plan.outcomes[older.ref] == Outcome(PUBLISHED)
    assert plan.outcomes[younger.ref].state == NAME_CONFLICT
    assert plan.outcomes[younger.ref].winner == older.ref
    assert keys_owned_by(plan, older.ref) == {RecordKey("www", older_type)}
    assert RecordKey("www", younger_type) not in plan.record_sets


def test_site_cname_conflicts_with_older_record_at_the_same_name() -> None:
    txt = record("verify", T0, "www", "TXT", "token")
    web = site("web", T1, "www.example.com", cname="web.hosting.example.net")
    plan = plan_zone(ZONE, [web], [txt])
    assert plan.outcomes[web.ref] == Outcome(NAME_CONFLICT, winner=txt.ref, detail="www/CNAME")
    assert plan.outcomes[txt.ref] == Outcome(PUBLISHED)
    assert RecordKey("www", "CNAME") not in plan.record_sets


@pytest.mark.parametrize("reverse", [False, True], ids=["a-first", "aaaa-first"])
def test_a_and_aaaa_from_different_owners_coexist_at_one_name(reverse: bool) -> None:
    v4 = record("v4", T0, "www", "A", "192.0.2.1")
    v6 = record("v6", T1, "www", "AAAA", "2001:db8::1")
    plan = plan_zone(ZONE, [], [v6, v4] if reverse else [v4, v6])
    assert plan.outcomes == {v4.ref: Outcome(PUBLISHED), v6.ref: Outcome(PUBLISHED)}
    assert plan.owners[RecordKey("www", "A")] == v4.ref
    assert plan.owners[RecordKey("www", "AAAA")] == v6.ref


def test_site_and_record_of_different_types_coexist_at_one_name() -> None:
    web = site("web", T0, "www.example.com", ipv4=("192.0.2.1",))
    txt = record("verify", T1, "www", "TXT", "token")
    mx = record("mail", T2, "www", "MX", _mx(10, "mail.example.com"))
    plan = plan_zone(ZONE, [web], [txt, mx])
    assert {plan.outcomes[ref].state for ref in (web.ref, txt.ref, mx.ref)} == {PUBLISHED}


@pytest.mark.parametrize(
    "blocker",
    [
        pytest.param(record("shop-a", T0, "shop", "A", "198.51.100.1"), id="same-type"),
        pytest.param(record("shop-cname", T0, "shop", "CNAME", "elsewhere.example.net"), id="cname-at-name"),
    ],
)
def test_site_colliding_on_one_name_publishes_nothing_in_the_zone(blocker: RecordClaim) -> None:
    web = site("web", T1, "www.example.com", "shop.example.com", "example.com", ipv4=("192.0.2.1",))
    plan = plan_zone(ZONE, [web], [blocker])
    assert plan.outcomes[web.ref].state == NAME_CONFLICT
    assert plan.outcomes[web.ref].winner == blocker.ref
    assert keys_owned_by(plan, web.ref) == set()
    assert RecordKey("www", "A") not in plan.record_sets
    assert RecordKey("@", "A") not in plan.record_sets
    assert plan.owners[RecordKey("shop", blocker.type)] == blocker.ref


def test_site_that_lost_a_name_does_not_block_a_younger_claim_on_its_other_names() -> None:
    blocker = record("shop-a", T0, "shop", "A", "198.51.100.1")
    web = site("web", T1, "www.example.com", "shop.example.com", ipv4=("192.0.2.1",))
    younger = record("www-a", T2, "www", "A", "203.0.113.1")
    plan = plan_zone(ZONE, [web], [younger, blocker])
    assert plan.outcomes[web.ref].state == NAME_CONFLICT
    assert plan.outcomes[younger.ref] == Outcome(PUBLISHED)
    assert plan.owners[RecordKey("www", "A")] == younger.ref


def test_younger_record_conflicts_with_an_older_site() -> None:
    web = site("web", T0, "www.example.com", ipv4=("192.0.2.1",))
    younger = record("www-a", T1, "www", "A", "203.0.113.1")
    plan = plan_zone(ZONE, [web], [younger])
    assert plan.outcomes[web.ref] == Outcome(PUBLISHED)
    assert plan.outcomes[younger.ref] == Outcome(NAME_CONFLICT, winner=web.ref, detail="www/A")


# --- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("publishers", "namespace", "owner_name", "expected"),
    [
        pytest.param((), ZONE_NAMESPACE, "www", PUBLISHED, id="own-namespace"),
        pytest.param((), "team", "www", NOT_PERMITTED, id="unlisted-namespace"),
        pytest.param((Publisher("team"),), "team", "www", PUBLISHED, id="listed-namespace"),
        pytest.param((Publisher("team", ("*.shop",)),), "team", "a.shop", PUBLISHED, id="listed-name"),
        pytest.param((Publisher("team", ("*.shop",)),), "team", "www", NOT_PERMITTED, id="unlisted-name"),
        pytest.param((Publisher("team", ("*.shop",)),), "team", "shop", NOT_PERMITTED, id="below-not-itself"),
    ],
)
def test_dns_record_needs_the_zone_permission(
    publishers: tuple[Publisher, ...], namespace: str, owner_name: str, expected: str
) -> None:
    txt = record("txt", T0, owner_name, "TXT", "hello", namespace=namespace)
    plan = plan_zone(zone(*publishers), [], [txt])
    assert plan.outcomes[txt.ref] == Outcome(expected)
    assert (RecordKey(owner_name, "TXT") in plan.record_sets) is (expected == PUBLISHED)


def test_non_permitted_older_record_does_not_block_a_younger_one() -> None:
    squatter = record("squat", T0, "www", "A", "198.51.100.1", namespace="stranger")
    legit = record("www", T1, "www", "A", "192.0.2.1")
    plan = plan_zone(ZONE, [], [squatter, legit])
    assert plan.outcomes[squatter.ref] == Outcome(NOT_PERMITTED)
    assert plan.outcomes[legit.ref] == Outcome(PUBLISHED)
    assert plan.owners[RecordKey("www", "A")] == legit.ref


# --- determinism and invariants ----------------------------------------------------------------


MIXED_SITES = [
    site("web", T1, "www.example.com", "example.com", ipv4=("192.0.2.1",), ipv6=("2001:db8::1",)),
    site("shop", T0, "shop.example.com", cname="shops.example.net"),
    site("blog", T2, "blog.example.com", "shop.example.com", ipv4=("192.0.2.3",), namespace="team"),
    site("late", T3, "www.example.com", ipv4=("192.0.2.4",)),
    site("tie", T1, "tie.example.com", ipv4=("192.0.2.5",), namespace="alpha"),
]
MIXED_RECORDS = [
    record("txt-shop", T1, "shop", "TXT", "verify"),
    record("txt-www", T2, "www", "TXT", "hello"),
    record("www-a", T0, "www", "A", "198.51.100.1", namespace="team"),
    record("mail", T1, "@", "MX", _mx(10, "mail.example.com")),
    record("tie", T1, "tie", "A", "192.0.2.6", namespace="alpha"),
    record("tie-b", T1, "tie", "A", "192.0.2.7", namespace="beta"),
    record("stranger", T0, "x", "A", "192.0.2.8", namespace="stranger"),
]
MIXED_ZONE = zone(Publisher("team"), Publisher("alpha"), Publisher("beta"))


def _plan_tuple(plan: ZonePlan) -> tuple[object, ...]:
    return (sorted(plan.record_sets.items()), sorted(plan.owners.items()), sorted(plan.outcomes.items()))


@pytest.mark.parametrize("seed", range(20), ids=lambda seed: f"seed-{seed}")
def test_planning_is_deterministic_whatever_the_input_order(seed: int) -> None:
    rng = random.Random(seed)
    sites, records = list(MIXED_SITES), list(MIXED_RECORDS)
    rng.shuffle(sites)
    rng.shuffle(records)
    reference = plan_zone(MIXED_ZONE, MIXED_SITES, MIXED_RECORDS)
    shuffled = plan_zone(MIXED_ZONE, sites, records)
    assert _plan_tuple(shuffled) == _plan_tuple(reference)
    assert shuffled.record_sets == reference.record_sets
    assert shuffled.owners == reference.owners
    assert shuffled.outcomes == reference.outcomes


def test_mixed_plan_outcomes() -> None:
    plan = plan_zone(MIXED_ZONE, MIXED_SITES, MIXED_RECORDS)
    by_name = {ref.name if ref.kind == "Site" else f"record:{ref.name}": o for ref, o in plan.outcomes.items()}
    assert by_name == {
        "shop": Outcome(PUBLISHED),
        "record:www-a": Outcome(PUBLISHED),
        "record:stranger": Outcome(NOT_PERMITTED),
        "web": Outcome(NAME_CONFLICT, winner=ObjectRef("DNSRecord", "team", "www-a"), detail="www/A"),
        "record:mail": Outcome(PUBLISHED),
        "record:txt-shop": Outcome(NAME_CONFLICT, winner=ObjectRef("Site", ZONE_NAMESPACE, "shop"), detail="shop/TXT"),
        "tie": Outcome(PUBLISHED),
        "record:tie": Outcome(NAME_CONFLICT, winner=ObjectRef("Site", "alpha", "tie"), detail="tie/A"),
        "record:tie-b": Outcome(NAME_CONFLICT, winner=ObjectRef("Site", "alpha", "tie"), detail="tie/A"),
        "blog": Outcome(NAME_CONFLICT, winner=ObjectRef("Site", ZONE_NAMESPACE, "shop"), detail="shop/A"),
        "record:txt-www": Outcome(PUBLISHED),
        "late": Outcome(NAME_CONFLICT, winner=ObjectRef("DNSRecord", "team", "www-a"), detail="www/A"),
    }


def _expected_sets(zone_view: ZoneView, claim: SiteClaim | RecordClaim) -> list[RecordSet]:
    if isinstance(claim, SiteClaim):
        sets = site_record_sets(zone_view, claim)
        assert isinstance(sets, list)
        return sets
    return [RecordSet(claim.name, claim.type, claim.ttl or zone_view.default_ttl, claim.rdata)]


def _assert_plan_invariants(zone_view: ZoneView, plan: ZonePlan, claims: Sequence[SiteClaim | RecordClaim]) -> None:
    # Every record set has exactly one owner, and owners only cover served record sets.
    assert plan.owners.keys() == plan.record_sets.keys()
    assert plan.owners[NS_KEY] == zone_view.ref
    # A CNAME is alone at its name.
    types_at: dict[str, set[str]] = {}
    for key in plan.record_sets:
        types_at.setdefault(key.name, set()).add(key.type)
    for name, types in types_at.items():
        assert "CNAME" not in types or types == {"CNAME"}, f"CNAME with other data at {name}: {types}"
    # Every claim has one outcome; a published claim owns all of its sets, anything else owns none.
    assert {c.ref for c in claims} == plan.outcomes.keys()
    for c in claims:
        outcome = plan.outcomes[c.ref]
        owned = keys_owned_by(plan, c.ref)
        if outcome.state == PUBLISHED:
            expected = _expected_sets(zone_view, c)
            assert owned == {rs.key for rs in expected}, f"{c.ref} published but lost some sets to another owner"
            assert all(plan.record_sets[rs.key] == rs for rs in expected)
        else:
            assert owned == set(), f"{c.ref} is {outcome.state} but owns {owned}"
            if outcome.state == NAME_CONFLICT:
                assert outcome.winner is not None
                assert outcome.winner == zone_view.ref or plan.outcomes[outcome.winner].state == PUBLISHED


def _random_claims(rng: random.Random) -> tuple[list[SiteClaim], list[RecordClaim]]:
    names = ["@", "www", "shop", "a.shop", "mail"]
    namespaces = [ZONE_NAMESPACE, "team", "stranger"]
    times = [T0, T1, T2]
    sites: list[SiteClaim] = []
    for i in range(rng.randint(0, 4)):
        domains = tuple(ZONE_NAME if n == "@" else f"{n}.{ZONE_NAME}" for n in rng.sample(names, rng.randint(1, 3)))
        kind = rng.choice(["v4", "v6", "dual", "cname"])
        sites.append(
            site(
                f"s{i}",
                rng.choice(times),
                *domains,
                namespace=rng.choice(namespaces),
                ipv4=("192.0.2.1",) if kind in ("v4", "dual") else (),
                ipv6=("2001:db8::1",) if kind in ("v6", "dual") else (),
                cname="target.example.net" if kind == "cname" else None,
                ttl=rng.choice([None, 60]),
            )
        )
    values = {"A": "192.0.2.9", "AAAA": "2001:db8::9", "TXT": "hello", "CNAME": "alias.example.net"}
    records = [
        record(
            f"r{i}",
            rng.choice(times),
            rng.choice(names),
            rdtype,
            values[rdtype],
            namespace=rng.choice(namespaces),
        )
        for i in range(rng.randint(0, 6))
        for rdtype in [rng.choice(list(values))]
    ]
    return sites, records


@pytest.mark.parametrize("seed", range(200), ids=lambda seed: f"seed-{seed}")
def test_plan_zone_never_emits_two_owners_for_one_key(seed: int) -> None:
    rng = random.Random(seed)
    view = zone(Publisher("team", ("*.shop", "www")))
    sites, records = _random_claims(rng)
    plan = plan_zone(view, sites, records)
    _assert_plan_invariants(view, plan, [*sites, *records])
    rng.shuffle(sites)
    rng.shuffle(records)
    assert _plan_tuple(plan_zone(view, sites, records)) == _plan_tuple(plan)


def test_every_permutation_of_conflicting_records_gives_one_plan() -> None:
    claims = [
        record("a", T1, "www", "A", "192.0.2.1"),
        record("b", T0, "www", "CNAME", "alias.example.net"),
        record("c", T0, "www", "TXT", "hello", namespace="aaa"),
        record("d", T2, "www", "AAAA", "2001:db8::1"),
    ]
    view = zone(Publisher("aaa"))
    plans = [plan_zone(view, [], list(order)) for order in itertools.permutations(claims)]
    assert all(_plan_tuple(p) == _plan_tuple(plans[0]) for p in plans)
    # (T0, aaa, c) sorts before (T0, dns, b): the TXT wins the name and every other claim loses it.
    assert keys_owned_by(plans[0], claims[2].ref) == {RecordKey("www", "TXT")}
    assert plans[0].outcomes[claims[1].ref] == Outcome(NAME_CONFLICT, winner=claims[2].ref, detail="www/CNAME")


def test_record_set_helper_matches_site_record_sets() -> None:
    web = site("web", T0, "www.example.com", ipv4=("192.0.2.1",))
    assert site_record_sets(ZONE, web) == [record_set("www", "A", DEFAULT_TTL, ["192.0.2.1"])]
