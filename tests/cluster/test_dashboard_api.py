"""The dashboard API's reads on the real control plane, over a database the real operator filled
(SQLite and PostgreSQL): what each view shows, that hidden and missing are answered alike, and that
bad input of every kind gets a clear 4xx problem that echoes nothing and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from harness.controlplane.cluster import ControlPlane
from siteplane.dashboard.pages import encode, fingerprint
from siteplane.store.listings import Cursor
from tests.conftest import DATABASES, fresh_database_url
from tests.dashboard_support import DashboardWorld, dashboard_world

pytestmark = pytest.mark.cluster
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module", params=DATABASES)
def world(
    request: pytest.FixtureRequest, control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardWorld]:
    workdir = tmp_path_factory.mktemp(f"dashboard-{request.param}")
    url = fresh_database_url(str(request.param), workdir, request)
    with dashboard_world(control_plane, url, workdir) as world:
        yield world


@pytest.fixture(scope="module")
def api(world: DashboardWorld) -> Iterator[TestClient]:
    with world.client() as client:
        yield client


def get(api: TestClient, world: DashboardWorld, who: str, path: str, **params: Any) -> Any:
    answer = api.get(path, params=params, headers=world.headers(who))
    assert answer.status_code == 200, answer.text
    return answer.json()


def every_item(api: TestClient, world: DashboardWorld, who: str, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, one page of one item at a time, following the continue tokens."""
    items: list[dict[str, Any]] = []
    token = None
    for _ in range(200):
        page = get(api, world, who, path, limit=1, **params, **({"continue": token} if token else {}))
        items += page["items"]
        token = page.get("continue")
        if not token:
            return items
    raise AssertionError("more than 200 pages")


# -- what each view shows -----------------------------------------------------------------------


def test_a_namespace_viewer_sees_its_namespace_and_nothing_of_the_other_tenant(
    api: TestClient, world: DashboardWorld
) -> None:
    v = world.v
    sites = every_item(api, world, "alice", "/api/v1/sites")
    assert {(s["namespace"], s["name"]) for s in sites} == {(v, "www"), (v, "blog")}
    zones = every_item(api, world, "alice", "/api/v1/zones")
    assert [(z["namespace"], z["zoneName"], z["owner"]) for z in zones] == [(v, f"{v}.example", True)]
    records = every_item(api, world, "alice", "/api/v1/records", sort="fqdn")
    assert {(r["fqdn"], r["type"]) for r in records} == {(f"_dmarc.{v}.example", "TXT"), (f"{v}.example", "MX")}
    hits = every_item(api, world, "alice", "/api/v1/search", domain=f"{v}.example", match="suffix")
    assert {(h["kind"], h["name"], h["domain"]) for h in hits} == {
        ("DNSZone", "zone", f"{v}.example"),
        ("DNSRecord", "mail", f"{v}.example"),
        ("DNSRecord", "dmarc", f"_dmarc.{v}.example"),
        ("Site", "www", f"www.{v}.example"),
        ("Site", "www", f"shop.{v}.example"),
        ("Site", "blog", f"blog.{v}.example"),
    }  # not x.<v>.example: it is the other tenant's Site, in alice's zone


def test_a_dns_editor_sees_zones_and_records_but_no_site(api: TestClient, world: DashboardWorld) -> None:
    assert every_item(api, world, "bob", "/api/v1/sites") == []
    assert {z["name"] for z in every_item(api, world, "bob", "/api/v1/zones")} == {"zone"}
    assert {r["name"] for r in every_item(api, world, "bob", "/api/v1/records")} == {"mail", "dmarc"}
    hits = every_item(api, world, "bob", "/api/v1/search", domain="example")
    assert {h["kind"] for h in hits} == {"DNSZone", "DNSRecord"}
    history = every_item(api, world, "bob", "/api/v1/history")
    assert history and {h["kind"] for h in history} == {"DNSZone", "DNSRecord"}


def test_a_zone_shows_its_record_sets_and_names_only_the_owners_the_caller_may_get(
    api: TestClient, world: DashboardWorld
) -> None:
    v = world.v
    zone = get(api, world, "alice", f"/api/v1/zones/{v}/zone")
    assert zone["serial"] and zone["lastSync"] and zone["recordSets"]["total"] == zone["recordSets"]["applied"]
    assert zone["backendHealth"] == {"name": None, "embedded": True, "ready": None}
    assert [c["type"] for c in zone["conditions"]] == ["Stored", "Ready"]
    assert zone["conditions"][1]["reason"] == "Served" and zone["ready"]["status"] == "True"

    def owners(who: str) -> dict[tuple[str, str], dict[str, Any]]:
        rows = every_item(api, world, who, f"/api/v1/zones/{v}/zone/record-sets")
        return {(r["name"], r["type"]): r["owner"] for r in rows}

    hidden = {"kind": "Site", "namespace": None, "name": None, "hidden": True}
    seen_by_alice = owners("alice")
    assert seen_by_alice[("www", "A")] == {"kind": "Site", "namespace": v, "name": "www", "hidden": False}
    assert seen_by_alice[("x", "A")] == hidden  # the other tenant's Site publishing in alice's zone
    assert seen_by_alice[("@", "MX")]["name"] == "mail"
    seen_by_bob = owners("bob")
    assert seen_by_bob[("www", "A")] == hidden  # bob may not get Sites at all
    assert seen_by_bob[("@", "NS")] == {"kind": "DNSZone", "namespace": v, "name": "zone", "hidden": False}
    assert all(r["state"] == "applied" for r in every_item(api, world, "bob", f"/api/v1/zones/{v}/zone/record-sets"))


def test_a_site_shows_where_each_domain_is_served_and_its_conditions(api: TestClient, world: DashboardWorld) -> None:
    site = get(api, world, "alice", f"/api/v1/sites/{world.v}/www")
    assert [(d["domain"], d["zone"], d["served"], d["whyNot"]) for d in site["domains"]] == [
        (f"www.{world.v}.example", f"{world.v}.example", True, None),
        (f"shop.{world.v}.example", f"{world.v}.example", True, None),
    ]
    assert [(c["type"], c["status"]) for c in site["conditions"]] == [
        ("Stored", "True"),
        ("DNSProgrammed", "True"),
        ("Ready", "True"),
    ]
    assert site["ready"]["message"]
    record = get(api, world, "bob", f"/api/v1/records/{world.v}/dmarc")
    assert record["fqdn"] == f"_dmarc.{world.v}.example" and record["zoneSerial"]
    assert [(s["name"], s["type"], s["state"]) for s in record["recordSets"]] == [("_dmarc", "TXT", "applied")]
    assert [c["type"] for c in record["conditions"]] == ["Stored", "DNSProgrammed", "Ready"]


def test_history_keeps_a_deleted_object_for_whoever_may_get_its_name(api: TestClient, world: DashboardWorld) -> None:
    entries = get(api, world, "alice", f"/api/v1/sites/{world.v}/gone/history", order="asc")["items"]
    assert next(e["action"] for e in entries) == "stored" and "deleted" in [e["action"] for e in entries]
    # No admission webhook ran here: nobody is named, and nobody is guessed.
    assert {e["author"] for e in entries if e["action"] in ("stored", "deleted")} == {"unknown"}
    assert api.get(f"/api/v1/sites/{world.v}/gone", headers=world.headers("alice")).status_code == 404
    assert api.get(f"/api/v1/sites/{world.v}/gone/history", headers=world.headers("bob")).status_code == 404


HIDDEN_AND_MISSING = [
    "/api/v1/sites/{o}/www",
    "/api/v1/zones/{o}/zone",
    "/api/v1/zones/{o}/zone/record-sets",
    "/api/v1/records/{o}/txt-{secret}",
    "/api/v1/sites/{o}/www/history",
    "/api/v1/zones/{o}/zone/history",
]


@pytest.mark.parametrize("path", HIDDEN_AND_MISSING)
@pytest.mark.parametrize("who", ["alice", "bob", "erin"])
def test_what_the_caller_may_not_see_is_answered_as_what_does_not_exist(
    api: TestClient, world: DashboardWorld, who: str, path: str
) -> None:
    hidden = api.get(path.format(o=world.o, secret=world.secret), headers=world.headers(who))
    missing = api.get(path.format(o="no-such-namespace", secret="nothing"), headers=world.headers(who))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json() and hidden.headers["content-type"] == PROBLEM
    assert api.get(path.format(o=world.o, secret=world.secret), headers=world.headers("admin")).status_code == 200


# -- bad input ----------------------------------------------------------------------------------

# Values refused by every text filter: SQL and LIKE metacharacters, control characters, blanks.
HOSTILE = ["'", "' OR '1'='1", "%", "%%", "\\", '"', ";--", "a b", "\x00", "\n", "\u202e"]
OVERSIZED = "a" * 300
TEXT_FILTERS: dict[str, list[str]] = {
    "/api/v1/sites": ["namespace", "name", "domain", "customer", "plan", "reason", "zone", "backend"],
    "/api/v1/zones": ["namespace", "name", "zone", "reason", "backend"],
    "/api/v1/zones/{v}/zone/record-sets": ["name"],
    "/api/v1/records": ["namespace", "name", "fqdn", "zone", "reason", "backend"],
    "/api/v1/search": ["domain", "namespace"],
    "/api/v1/history": ["namespace", "name", "author", "zone"],
    "/api/v1/sites/{v}/www/history": ["author"],
}
FILTER_CASES = [(path, param) for path, params in TEXT_FILTERS.items() for param in params]


def _refused(answer: Any, *secrets: str) -> dict[str, Any]:
    """A clear 4xx problem that does not echo what was sent."""
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:500])
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert body["status"] == answer.status_code and body["detail"]
    for secret in secrets:
        if len(secret) >= 4:
            assert secret not in answer.text, f"the answer echoes {secret[:20]!r}"
    assert len(answer.text) < 4000
    return dict(body)


@pytest.mark.parametrize(("path", "param"), FILTER_CASES)
def test_sql_and_like_metacharacters_and_oversized_values_in_every_text_filter_are_refused(
    api: TestClient, world: DashboardWorld, path: str, param: str
) -> None:
    before = world.snapshot()
    url = path.format(v=world.v)
    extra = {"domain": "example"} if path == "/api/v1/search" and param != "domain" else {}
    for value in [*HOSTILE, OVERSIZED]:
        answer = api.get(url, params={**extra, param: value}, headers=world.headers("admin"))
        body = _refused(answer, value)
        assert answer.status_code == 400
        assert any(param in e["location"] for e in body.get("errors", [])), body
    assert world.snapshot() == before


def test_the_like_wildcard_a_field_may_hold_is_matched_literally(api: TestClient, world: DashboardWorld) -> None:
    """'_' may be in a customer or a DNS name; it must not stand for any character."""
    sites = every_item(api, world, "admin", "/api/v1/sites", customer="_", customerMatch="contains")
    assert [s["name"] for s in sites] == ["blog"]  # customer a_c, not acme
    records = every_item(api, world, "admin", "/api/v1/records", fqdn="_", fqdnMatch="contains")
    assert [r["name"] for r in records] == ["dmarc"]
    assert every_item(api, world, "admin", "/api/v1/sites", customer="a_", customerMatch="prefix") == sites


BAD_HEADERS: dict[str, dict[str, str | bytes]] = {
    "none": {},
    "empty": {"Authorization": ""},
    "scheme only": {"Authorization": "Bearer"},
    "blank token": {"Authorization": "Bearer    "},
    "basic": {"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="},
    "two tokens": {"Authorization": "Bearer abc def"},
    "SQL": {"Authorization": "Bearer ' OR '1'='1"},
    "huge": {"Authorization": "Bearer " + "x" * 20000},
    "control characters": {"Authorization": "Bearer abc\x7fdef"},
    "latin-1": {"Authorization": "Bearer \u00e9t\u00e9-token".encode("latin-1")},
    "not UTF-8": {"Authorization": b"Bearer \xff\xfe\xfd"},
    "unknown token": {"Authorization": "Bearer not-a-token-the-cluster-knows"},
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_malformed_hostile_and_unknown_tokens_get_401_without_an_echo(
    api: TestClient, world: DashboardWorld, case: str
) -> None:
    before = world.snapshot()
    headers = BAD_HEADERS[case]
    for path in ("/api/v1/sites", f"/api/v1/zones/{world.v}/zone", "/api/v1/history", "/api/v1/me"):
        answer = api.get(path, headers=headers)
        sent = headers.get("Authorization", "")
        token = (sent.decode("latin-1") if isinstance(sent, bytes) else sent)[7:].strip()
        _refused(answer, token)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert world.snapshot() == before


def test_a_real_token_tampered_with_is_refused_and_not_echoed(api: TestClient, world: DashboardWorld) -> None:
    token = world.plane.token("alice")
    for tampered in (token[:-1], token + "x", token[::-1], token.upper()):
        answer = api.get("/api/v1/sites", headers={"Authorization": f"Bearer {tampered}"})
        _refused(answer, tampered, token)
        assert answer.status_code == 401


def _first_token(api: TestClient, world: DashboardWorld, path: str, **params: Any) -> str:
    page = get(api, world, "admin", path, limit=1, **params)
    assert page["continue"], page
    return str(page["continue"])


def test_continue_tokens_that_are_garbage_tampered_or_from_another_query_are_refused(
    api: TestClient, world: DashboardWorld
) -> None:
    before = world.snapshot()
    sites = _first_token(api, world, "/api/v1/sites")
    records = _first_token(api, world, "/api/v1/records")
    by_created = _first_token(api, world, "/api/v1/sites", sort="created")
    flipped = sites[:-3] + ("A" if sites[-3] != "A" else "B") + sites[-2:]
    cases: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/sites", {"continue": "garbage"}),
        ("/api/v1/sites", {"continue": "!!!"}),
        ("/api/v1/sites", {"continue": "=" * 8}),
        ("/api/v1/sites", {"continue": "x" * 3000}),
        ("/api/v1/sites", {"continue": flipped}),
        ("/api/v1/sites", {"continue": sites[:-5]}),
        ("/api/v1/sites", {"continue": sites + "AA"}),
        # Made for another list, another sort, other filters, another endpoint:
        ("/api/v1/zones", {"continue": sites}),
        ("/api/v1/records", {"continue": sites}),
        ("/api/v1/sites", {"continue": records}),
        ("/api/v1/sites", {"continue": by_created}),
        ("/api/v1/sites", {"continue": sites, "sort": "created"}),
        ("/api/v1/sites", {"continue": sites, "namespace": world.v}),
        ("/api/v1/sites", {"continue": sites, "order": "desc"}),
        ("/api/v1/history", {"continue": sites}),
        ("/api/v1/search", {"continue": sites, "domain": "example"}),
        (f"/api/v1/zones/{world.v}/zone/record-sets", {"continue": sites}),
    ]
    for path, params in cases:
        answer = api.get(path, params={"limit": 1, **params}, headers=world.headers("admin"))
        _refused(answer, params["continue"])
        assert answer.status_code == 400, (path, params)
    assert world.snapshot() == before


def test_a_forged_continue_token_grants_nothing(api: TestClient, world: DashboardWorld) -> None:
    """The token is opaque, not secret: one made by hand still pages only what the caller may see."""
    query = fingerprint("sites", "name:asc", {})
    forged = encode(query, Cursor("", 0))
    page = get(api, world, "alice", "/api/v1/sites", **{"continue": forged})
    assert {(s["namespace"], s["name"]) for s in page["items"]} == {(world.v, "www"), (world.v, "blog")}


UNKNOWN_OR_REPEATED: list[tuple[str, str]] = [
    ("/api/v1/sites", "nmae=www"),
    ("/api/v1/sites", "namespace=a&namespace=b"),
    ("/api/v1/sites", "limit=1&limit=500"),
    ("/api/v1/zones", "zoneName=a.example"),
    ("/api/v1/records", "name=mail&deleted=true"),
    ("/api/v1/search", "domain=example&q=x"),
    ("/api/v1/history", "author=alice&user=bob"),
    ("/api/v1/sites/{v}/www", "watch=true"),
    ("/api/v1/zones/{v}/zone", "name=x"),
    ("/api/v1/me", "verbose=1"),
    ("/api/v1/sites", "&".join(f"p{i}=1" for i in range(5000))),
    ("/api/v1/sites", "limit=0"),
    ("/api/v1/sites", "limit=501"),
    ("/api/v1/sites", "limit=1e3"),
    ("/api/v1/sites", "sort=password"),
    ("/api/v1/sites", "order=random()"),
    ("/api/v1/records", "type=ANY"),
    ("/api/v1/history", "since=yesterday"),
    ("/api/v1/history", "since=0001-01-01T00:00:00%2B01:00"),
    ("/api/v1/search", ""),
]


@pytest.mark.parametrize(("path", "query"), UNKNOWN_OR_REPEATED)
def test_unknown_repeated_and_out_of_range_parameters_are_refused(
    api: TestClient, world: DashboardWorld, path: str, query: str
) -> None:
    before = world.snapshot()
    answer = api.get(f"{path.format(v=world.v)}?{query}", headers=world.headers("admin"))
    _refused(answer)
    assert answer.status_code == 400
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sites/{v}/Www",
        "/api/v1/sites/{v}/www'--",
        "/api/v1/sites/{v}/%25",
        "/api/v1/zones/{v}/" + "z" * 300,
        "/api/v1/records/UPPER/mail",
        "/api/v1/records/{v}/mail%00",
        "/api/v1/sites/{v}/www/history/extra",
    ],
)
def test_malformed_object_names_in_paths_are_refused(api: TestClient, world: DashboardWorld, path: str) -> None:
    answer = api.get(path.format(v=world.v), headers=world.headers("admin"))
    _refused(answer)
    assert answer.status_code in (400, 404)
