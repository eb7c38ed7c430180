"""Schemathesis over the dashboard API's whole OpenAPI document, in-process (the ASGI app under
starlette's TestClient), against a PostgreSQL database the real operator filled, as a namespace
viewer (alice: ``view`` in one namespace) and as a DNS-only editor (bob: ``siteplane:dns-editor``
there, no Site anywhere).

For every operation: data that fits the document, data that does not, and the real objects (the
caller's, and the other tenant's) as path parameters. Every answer must be no 5xx, documented
(status, media type, headers, body schema), and a refusal for data that does not fit; and no
object outside what a SubjectAccessReview lets the caller ``get`` may appear in it, on its first
page or the next. Deterministic (derandomized, a bounded number of examples per operation).

Writes are probed too, every one as a dry run (a ``dryRun`` the data left out or made false is
set to true; one the negative data made invalid stays invalid, to be refused): the API server
judges them exactly as real ones and stores nothing, so the world this test judges by stays as it
was, which the test checks at the end, object by object and row by row. The one operation left
out is the event stream, which never ends by itself (tests/cluster/test_dashboard_live.py holds
it to the same rule of what is shown).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness.controlplane.cluster import ControlPlane
from harness.postgres import PostgresServer
from tests.conftest import fresh_database_url
from tests.dashboard_support import DashboardWorld, Key, dashboard_world
from tests.reconcile_support import objects

pytestmark = pytest.mark.cluster

IDENTITIES = {"namespace viewer": "alice", "DNS-only editor": "bob"}
EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 20}
KNOWN_OBJECT_EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
KIND_OF_PATH = {"sites": "Site", "zones": "DNSZone", "records": "DNSRecord"}
STREAMS = {"/api/v1/events"}
FALSE_WORDS = {"false", "0", "off", "f", "n", "no"}  # what FastAPI reads as false


def as_dry_run(method: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
    """A write's query made a dry run, unless its dryRun is already one or is not a boolean at all."""
    if method.upper() == "GET":
        return params
    params = dict(params or {})
    if str(params.get("dryRun", "false")).lower() in FALSE_WORDS:
        params["dryRun"] = "true"
    return params


def cluster_objects(world: DashboardWorld) -> dict[Key, str]:
    """Every Site, DNSZone and DNSRecord of the world's namespaces, with its resourceVersion."""
    found: dict[Key, str] = {}
    for ns in (world.v, world.o):
        for plural, kind in (("sites", "Site"), ("dnszones", "DNSZone"), ("dnsrecords", "DNSRecord")):
            for item in objects(world.plane, ns, plural):
                found[(kind, ns, item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    return found


@pytest.fixture(scope="module")
def world(
    control_plane: ControlPlane, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardWorld]:
    workdir = tmp_path_factory.mktemp("dashboard-fuzz")
    with dashboard_world(control_plane, fresh_database_url("postgresql", workdir, postgres), workdir) as world:
        yield world


def shown(path: str, body: Any) -> set[Key]:
    """Every object a 200 answer names: list items, search hits, history entries, record set owners,
    and the object a detail (or a zone's record sets) is about."""
    parts = path.strip("/").split("/")  # api, v1, <subject>, [namespace, name, [record-sets | history]]
    if len(parts) < 3 or not isinstance(body, dict):
        return set()
    subject, rest = parts[2], parts[3:]
    kind = KIND_OF_PATH.get(subject)
    found: set[Key] = set()
    if kind and (len(rest) == 2 or rest[2:] == ["record-sets"]):
        found.add((kind, rest[0], rest[1]))
    sets = body.get("items", []) if rest[2:] == ["record-sets"] else body.get("recordSets", []) if kind else []
    for record_set in sets if isinstance(sets, list) else []:
        owner = record_set["owner"]
        if not owner["hidden"]:
            found.add((owner["kind"], owner["namespace"], owner["name"]))
    if rest[2:] != ["record-sets"]:
        for item in body.get("items", []):
            item_kind = item.get("kind") or kind  # search hits and history entries carry theirs
            found.add((item_kind, item["namespace"], item["name"]))
    return found


@pytest.mark.parametrize("identity", list(IDENTITIES))
def test_the_whole_api_answers_as_documented_and_shows_nothing_outside_the_callers_grants(
    world: DashboardWorld, identity: str
) -> None:
    user = IDENTITIES[identity]
    allowed = world.visible_to(user)  # by SubjectAccessReview, object by object
    assert allowed and allowed != world.keys
    headers = world.headers(user)
    rows_before, objects_before = world.snapshot(), cluster_objects(world)
    statuses: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    with world.client() as client:
        schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())

        def check_answer(path: str, answer: Any) -> None:
            if answer.status_code != 200:
                return
            body = answer.json()
            outside = shown(path, body) - allowed
            assert not outside, f"{path} shows {sorted(outside)}, which {user} may not get"
            assert world.secret not in answer.text, f"{path} reveals the other tenant's names"

        def make_probe(operation: str, strategy: Any, count: int, negative: bool) -> Any:
            @settings(
                max_examples=count,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def probe(case: Any) -> None:
                sent = case.as_transport_kwargs(headers=headers)
                params = as_dry_run(sent["method"], sent.get("params"))
                answer = client.request(
                    sent["method"], sent["url"], headers=sent["headers"], params=params,
                    content=sent.get("content"), json=sent.get("json"),
                )  # fmt: skip
                statuses[(operation, answer.status_code)] += 1
                checks = [*CHECKS, *([negative_data_rejection] if negative else [])]
                case.validate_response(answer, checks=checks, headers=headers)
                check_answer(case.formatted_path, answer)
                token = answer.json().get("continue") if answer.status_code == 200 else None
                if token:  # the next page is held to the same rule
                    params = {**(params or {}), "continue": token}
                    following = client.request("GET", sent["url"], headers=sent["headers"], params=params)
                    assert following.status_code == 200, following.text
                    check_answer(case.formatted_path, following)

            return probe

        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path in STREAMS:
                continue
            strategies: list[tuple[str, Any, int]] = [
                (mode.value, operation.as_strategy(generation_mode=mode), count) for mode, count in EXAMPLES.items()
            ]
            kind = KIND_OF_PATH.get(operation.path.split("/")[3] if operation.path.count("/") >= 3 else "")
            if kind and "{name}" in operation.path:
                objects = sorted((ns, name) for k, ns, name in world.keys if k == kind)
                known = st.sampled_from(objects).flatmap(
                    lambda o, op=operation: op.as_strategy(path_parameters={"namespace": o[0], "name": o[1]})
                )
                strategies.append(("known objects", known, KNOWN_OBJECT_EXAMPLES))
            for label, strategy, count in strategies:
                probe = make_probe(operation.label, strategy, count, label == GenerationMode.NEGATIVE.value)
                try:
                    probe()
                except Unsatisfiable:
                    # An operation without parameters has nothing to get wrong.
                    assert label == GenerationMode.NEGATIVE.value, f"{operation.label}: no {label} data"
                except Exception as error:
                    failures.append(f"{operation.label} ({label}): {type(error).__name__}: {error}"[:3000])
    elapsed = time.monotonic() - started
    summary = json.dumps({f"{op} {status}": n for (op, status), n in sorted(statuses.items())}, indent=1)
    print(f"{identity}: {sum(statuses.values())} requests in {elapsed:.0f} s\n{summary}")
    assert not failures, "\n\n".join(failures)
    assert cluster_objects(world) == objects_before, "a dry run changed an object"
    assert world.snapshot() == rows_before, "the API wrote its database"
    assert not any(status >= 500 for _, status in statuses)
    # The run reached real answers, not only refusals.
    assert sum(n for (op, status), n in statuses.items() if status == 200 and "{name}" in op) > 10
