"""``make bench-dashboard``: what the dashboard API costs at 10,000 Sites, on SQLite and PostgreSQL.

One local control plane (the tests' harness) for the whole run; for each database:

1. the world: the real migrations, then 10,000 Sites in 500 zones bulk-loaded with the store's own
   models (bench/dashboard_data.py: their domains, record sets, history, status and changes, in
   the shape the operator writes), and RoleBindings over 50 namespaces that the real operator
   (``siteplane run``, its own process, watching only this database's live namespace) mirrors into
   more than 1,000 grant rows;
2. ``siteplane serve`` in its own process (so the load generator does not share its interpreter),
   asked as ``frank``, who may get a few namespaces whole and some Sites by name elsewhere (a
   permission condition of namespaces and (namespace, name) pairs in every query):

   - latency, one request at a time: ``GET /api/v1/sites?limit=100&ready=True`` walked page by
     page (keyset pages, continue tokens), the same with a domain suffix filter, the zones list,
     a search, and ``/healthz``; p50 and p99;
   - throughput: a few concurrent clients on the Sites list, then on ``/healthz``, alternating in
     short rounds so both see the same machine; requests per second and their ratio;
   - the same Sites pages read straight from the store in this process (the route's SQL and its
     grants lookup, no HTTP): how much of a request is the database;
3. live updates: 100 clients on ``GET /api/v1/events`` (one asyncio loop), then Sites created and
   changed through the Kubernetes API in the live namespace, reconciled by the real operator while
   the database holds the 10,000; latency = arrival at the client minus the change's ``at`` (its
   changes row, written when the status writer commits; harness.dashboard_api.Received.latency);
4. a check that the bulk rows have the shape of the operator's: the rows of an operator-made Site
   (created, then changed once) against those of a bulk Site with the same history.

Every latency is measured on a loaded 2-core machine; the throughput goal is a ratio to
``/healthz`` of the same server in the same run for that reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bench.apiserver import Api
from bench.dashboard_data import Shape, bulk_load, frank_sees, rbac_docs, rows_of
from bench.process import cpu_seconds
from bench.run import quiet
from bench.table import nested
from harness.controlplane.cluster import ControlPlane, running
from harness.dashboard_api import Received
from harness.manifests import site_doc, zone_doc
from harness.operator_runner import OperatorProcess
from harness.server import ADDRESS, free_port
from siteplane.dashboard.auth import Caller
from siteplane.dashboard.context import seen
from siteplane.domain.access import Author
from siteplane.store.database import make_engine
from siteplane.store.listings import Cursor, PageRequest, SiteFilters, list_sites, sort_value
from siteplane.store.migrate import upgrade
from siteplane.store.models import Grant, Site
from siteplane.store.unit_of_work import Store, UnitOfWork

REPO = Path(__file__).resolve().parents[1]
DATABASES = ("sqlite", "postgresql")
USER = "frank"
LIST = "/api/v1/sites?limit=100&ready=True"
WORKLOADS = {
    "sites_ready": LIST,
    "sites_domain_suffix": "/api/v1/sites?limit=100&domain=0.bench.example&domainMatch=suffix",
    "zones": "/api/v1/zones?limit=100",
    "search": "/api/v1/search?domain=s12&match=contains&limit=100",
    "healthz": "/healthz",
}


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds (samples in seconds)."""
    ordered = sorted(samples)
    if not ordered:
        return {}
    return {
        "n": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(1000 * ordered[-1], 2),
    }


# -- the API under test --------------------------------------------------------------------------


@contextlib.contextmanager
def api_process(plane: ControlPlane, url: str, workdir: Path, clients: int) -> Iterator[tuple[str, int]]:
    """``siteplane serve`` on a free loopback port; yields its base URL and process id."""
    port = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(plane.kubeconfig),  # its TokenReviews go out as admin
        "SITEPLANE_DATABASE_URL": url,
        "SITEPLANE_API_LISTEN": f"{ADDRESS}:{port}",
        "SITEPLANE_LIVE_MAX_CLIENTS": str(max(1000, 2 * clients)),
    }
    with (workdir / "api.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "siteplane", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )
    base = f"http://{ADDRESS}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"siteplane serve exited ({process.returncode}); see {workdir / 'api.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("siteplane serve did not answer /healthz in 60 s")
            time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


# -- lists -------------------------------------------------------------------------------------


class Walker:
    """One client walking a list page by page (continue tokens), over and over."""

    def __init__(self, session: aiohttp.ClientSession, base: str, path: str, token: str) -> None:
        self.session, self.base, self.path = session, base, path
        self.headers = {"Authorization": f"Bearer {token}"}
        self.next: str | None = None
        self.items = 0  # items on the pages of the last full walk
        self._walking = 0

    async def request(self) -> float:
        """One page (the next one, or the first after the last); its latency in seconds."""
        sep = "&" if "?" in self.path else "?"
        url = self.base + self.path + (f"{sep}continue={self.next}" if self.next else "")
        begin = time.perf_counter()
        async with self.session.get(url, headers=self.headers) as answer:
            body = await answer.read()
            elapsed = time.perf_counter() - begin
            if answer.status != 200:
                raise RuntimeError(f"GET {url}: {answer.status} {body[:300]!r}")
        page = json.loads(body)
        if "items" in page:
            self._walking += len(page["items"])
            self.next = page.get("continue")
            if self.next is None:
                self.items, self._walking = self._walking, 0
        return elapsed


async def sequential(
    session: aiohttp.ClientSession, base: str, path: str, token: str, n: int, api_pid: int
) -> dict[str, Any]:
    """``n`` requests one at a time: wall-clock latency, and the API process's CPU per request
    (what a request costs the server; wall-clock time on a shared machine also holds the wait for a
    core)."""
    walker = Walker(session, base, path, token)
    for _ in range(5):  # warm: the token's review cached, the pages in the database's cache
        await walker.request()
    walker.next = None
    before = cpu_seconds(api_pid)
    samples = [await walker.request() for _ in range(n)]
    cpu = cpu_seconds(api_pid) - before
    return {
        **percentiles(samples),
        "api_cpu_ms_per_request": round(1000 * cpu / n, 2),
        "items_per_walk": walker.items,
        "load_average": round(os.getloadavg()[0], 1),
    }


async def for_a_while(
    session: aiohttp.ClientSession, base: str, path: str, token: str, clients: int, seconds: float
) -> tuple[int, list[float]]:
    """``clients`` concurrent walkers for ``seconds``: requests done and their latencies."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        walker = Walker(session, base, path, token)
        while time.perf_counter() < deadline:
            samples.append(await walker.request())

    await asyncio.gather(*(one() for _ in range(clients)))
    return len(samples), samples


async def throughput(
    session: aiohttp.ClientSession, base: str, token: str, clients: int, seconds: float, rounds: int, api_pid: int
) -> dict[str, Any]:
    """The Sites list and /healthz in alternating rounds of seconds/rounds each; also the API
    process's CPU per request of each (what a request costs the server, whatever else runs)."""
    done = {"list": 0, "healthz": 0}
    cpu = {"list": 0.0, "healthz": 0.0}
    samples: dict[str, list[float]] = {"list": [], "healthz": []}
    for _ in range(rounds):
        for name, path in (("healthz", "/healthz"), ("list", LIST)):
            before = cpu_seconds(api_pid)
            count, lat = await for_a_while(session, base, path, token, clients, seconds / rounds)
            cpu[name] += cpu_seconds(api_pid) - before
            done[name] += count
            samples[name] += lat
    rps = {name: done[name] / seconds for name in done}
    return {
        "clients": clients,
        "seconds_each": seconds,
        "rounds": rounds,
        "list_rps": round(rps["list"], 1),
        "healthz_rps": round(rps["healthz"], 1),
        "list_over_healthz": round(rps["list"] / rps["healthz"], 3),
        "api_cpu_ms_per_list_request": round(1000 * cpu["list"] / max(1, done["list"]), 2),
        "api_cpu_ms_per_healthz_request": round(1000 * cpu["healthz"] / max(1, done["healthz"]), 3),
        "list_latency": percentiles(samples["list"]),
        "healthz_latency": percentiles(samples["healthz"]),
    }


def store_only(url: str, user: str, groups: tuple[str, ...], n: int) -> dict[str, Any]:
    """The Sites list's pages (ready=True, 100 a page) read straight from the store, as the route
    reads them (grants lookup, then the query), without HTTP, auth or JSON: the database's share."""
    engine = make_engine(url)
    store = Store(engine)
    who = Caller(Author(user, groups), "")
    filters = SiteFilters(ready="True")
    after: Cursor | None = None
    samples: list[float] = []
    cpu = 0.0
    try:
        for k in range(n + 5):

            def read(uow: UnitOfWork, after: Cursor | None = after) -> list[Any]:
                return list_sites(uow, seen(uow, who, "sites"), filters, PageRequest("name", False, 100, after))

            begin, begin_cpu = time.perf_counter(), time.thread_time()
            rows = store.read(read)
            if k >= 5:
                samples.append(time.perf_counter() - begin)
                cpu += time.thread_time() - begin_cpu
            after = Cursor(sort_value(rows[99], "name"), rows[99].id) if len(rows) > 100 else None
    finally:
        engine.dispose()
    return {**percentiles(samples), "cpu_ms_per_page": round(1000 * cpu / n, 2)}


# -- live updates --------------------------------------------------------------------------------


class Listener:
    """One ``GET /api/v1/events`` client; every event with its arrival time (as EventStream keeps them)."""

    def __init__(self) -> None:
        self.items: list[Received] = []
        self.opened = asyncio.Event()
        self.error: BaseException | None = None

    async def run(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        fields: dict[str, str] = {}
        try:
            async with session.get(f"{base}/api/v1/events", headers=headers, timeout=timeout) as stream:
                if stream.status != 200:
                    raise RuntimeError(f"events: {stream.status} {(await stream.read())[:300]!r}")
                async for raw in stream.content:
                    text = raw.decode().rstrip("\r\n")
                    if text.startswith(":"):
                        continue
                    if text:
                        name, _, value = text.partition(":")
                        fields[name] = value.removeprefix(" ")
                        continue
                    if fields:
                        item = Received(
                            time.time(), event=fields.get("event"), id=fields.get("id"), data=fields.get("data")
                        )
                        self.items.append(item)
                        if item.event == "open":
                            self.opened.set()
                        fields = {}
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self.error = error
            self.opened.set()

    def changes(self, namespace: str) -> list[Received]:
        """The Sites' changes in ``namespace`` (every client may see those; the zone's only some)."""
        return [
            i
            for i in self.items
            if i.event == "change" and (i.json["namespace"], i.json["kind"]) == (namespace, "Site")
        ]


async def live_updates(
    api: Api, base: str, tokens: list[str], namespace: str, clients: int, sites: int, rate: float, api_pid: int
) -> dict[str, Any]:
    """``clients`` streams open; ``sites`` Sites created, then each changed once, ``rate`` a second."""
    await api.create_all(namespace, "dnszones", [zone_doc("live", f"{namespace}.bench.example")])
    await api.wait_ready(namespace, "dnszones", 1, 120)
    listeners = [Listener() for _ in range(clients)]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [
            asyncio.ensure_future(listener.run(session, base, tokens[k % len(tokens)]))
            for k, listener in enumerate(listeners)
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(listener.opened.wait() for listener in listeners)), 120)
            failed = [str(listener.error) for listener in listeners if listener.error is not None]
            if failed:
                raise RuntimeError(f"{len(failed)} streams failed to open: {failed[:3]}")
            begin = time.monotonic()
            cpu = {"api": cpu_seconds(api_pid), "clients": cpu_seconds(os.getpid())}
            docs = [
                site_doc(f"l{i}", f"l{i}.{namespace}.bench.example", f"192.0.2.{i % 250 + 1}") for i in range(sites)
            ]
            await paced([functools.partial(api.create_all, namespace, "sites", [doc]) for doc in docs], rate)
            await api.wait_ready(namespace, "sites", sites, 300)
            patches = [
                functools.partial(
                    api.patch,
                    namespace,
                    "sites",
                    f"l{i}",
                    {"spec": {"serving": {"ipv4": [f"198.51.100.{i % 250 + 1}"]}}},
                )
                for i in range(sites)
            ]
            await paced(patches, rate)
            # Until every Site is Ready at generation 2 and the streams have been quiet for 3 s.
            await api.wait_ready(namespace, "sites", sites, 300)
            last, quiet_since = -1, time.monotonic()
            while time.monotonic() - quiet_since < 3 and time.monotonic() - begin < 600:
                now = sum(len(listener.items) for listener in listeners)
                if now != last:
                    last, quiet_since = now, time.monotonic()
                await asyncio.sleep(0.2)
            seconds = time.monotonic() - begin
            # Share of one core each used over the phase: near 1 means it was the one holding things up.
            shares = {
                "api": round((cpu_seconds(api_pid) - cpu["api"]) / seconds, 2),
                "clients": round((cpu_seconds(os.getpid()) - cpu["clients"]) / seconds, 2),
            }
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    received = [listener.changes(namespace) for listener in listeners]
    latencies = [item.latency for got in received for item in got]
    ids = {item.id for got in received for item in got}
    by_change: dict[str | None, list[float]] = {i: [] for i in ids}
    for got in received:
        for item in got:
            by_change[item.id].append(item.latency)
    return {
        "clients": clients,
        "sites_created_then_changed": sites,
        "changes_per_second_applied": rate,
        "seconds": round(seconds, 1),
        "distinct_changes": len(ids),
        "deliveries": len(latencies),
        "missed_deliveries": len(ids) * clients - len(latencies),
        "latency": percentiles(latencies),
        # The first client to get a change: commit, feed read and one write; the rest of a change's
        # spread is the fan-out to 100 streams and this process reading them.
        "first_client_per_change": percentiles([min(v) for v in by_change.values()]),
        "slowest_client_per_change": percentiles([max(v) for v in by_change.values()]),
        "load_average": round(os.getloadavg()[0], 1),
        # The API process, and this one (the 100 clients, and the creates and patches), in cores.
        "cpu_share_api": shares["api"],
        "cpu_share_clients": shares["clients"],
    }


async def paced(calls: Sequence[Callable[[], Awaitable[None]]], rate: float) -> None:
    """Start each call 1/rate seconds after the one before (an operator sees a stream, not a burst)."""
    begin = time.monotonic()
    running: list[asyncio.Task[None]] = []
    for k, call in enumerate(calls):
        await asyncio.sleep(max(0.0, begin + k / rate - time.monotonic()))
        running.append(asyncio.ensure_future(call()))
    await asyncio.gather(*running)


# -- one database ------------------------------------------------------------------------------


def count(url: str, model: Any, *where: Any) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar() or 0)
    finally:
        engine.dispose()


async def wait_for(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.5)


async def run_database(
    name: str,
    url: str,
    plane: ControlPlane,
    shape: Shape,
    grants_expected: int,
    args: argparse.Namespace,
    workdir: Path,
) -> dict[str, Any]:
    result: dict[str, Any] = {"database": name, "sites": shape.sites, "zones": shape.zones}
    upgrade(url)
    begin = time.monotonic()
    result["bulk_rows"] = bulk_load(url, shape)
    result["bulk_load_seconds"] = round(time.monotonic() - begin, 1)
    as_loaded = shape_check(url, None)["bulk"]  # before the operator's start-up adds to it
    live = f"live-{name}"
    # Cluster-wide, as it is deployed: it mirrors the RBAC of every namespace (an operator limited to
    # some namespaces watches RoleBindings only there).
    operator = OperatorProcess(plane.kubeconfig, url, workdir / "zones", (), workdir / f"operator-{name}.log")
    operator.start()
    try:
        await wait_for(lambda: "startup: all" in operator.log(), "the operator never finished its start", 300)
        await wait_for(lambda: "RBAC mirrored" in operator.log(), "the operator never mirrored RBAC", 120)
        await wait_for(
            lambda: count(url, Grant, Grant.deleted_at.is_(None)) >= grants_expected,
            f"fewer than {grants_expected} grant rows",
            120,
        )
        # Its start-up work (it writes every bulk zone's file once) must not run under the lists.
        assert operator.process is not None
        result["waited_for_quiet_operator_seconds"] = await quiet([operator.process.pid], timeout=300)
        result["grant_rows"] = count(url, Grant, Grant.deleted_at.is_(None))
        result["live_sites_after_operator_start"] = count(url, Site, Site.deleted_at.is_(None))
        groups = ("site-team", "dns-team", "system:authenticated")
        with api_process(plane, url, workdir, args.sse_clients) as (base, api_pid):
            token = plane.token(USER)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:
                api_cpu = cpu_seconds(api_pid)
                result["sequential"] = {
                    workload: await sequential(session, base, path, token, args.requests, api_pid)
                    for workload, path in WORKLOADS.items()
                }
                result["throughput"] = await throughput(
                    session, base, token, args.concurrency, args.duration, args.rounds, api_pid
                )
                result["api_cpu_seconds_lists"] = round(cpu_seconds(api_pid) - api_cpu, 1)
            result["store_only_sites_ready"] = await asyncio.to_thread(store_only, url, USER, groups, args.requests)
            async with Api(plane) as kube:
                result["live_updates"] = await live_updates(
                    kube,
                    base,
                    [plane.token("frank"), plane.token("alice")],
                    live,
                    args.sse_clients,
                    args.changes,
                    args.rate,
                    api_pid,
                )
        result["shape_check"] = {**shape_check(url, live), "bulk_as_loaded": as_loaded}
        # The next database's operator must not find this one's live objects: deleted while this
        # operator still runs (it removes their finalizers).
        plane.kubectl("delete", "sites,dnszones", "--all", "-n", live, "--wait=true", timeout=300)
    finally:
        operator.stop()
    return result


def shape_check(url: str, live: str | None) -> dict[str, Any]:
    """Rows of an operator-made Site in ``live`` (created, then changed once) against a bulk one
    with the same past (s00002: one domain, changed once)."""
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            made = c.execute(sa.select(Site.uid).where(Site.namespace == live, Site.name == "l1")).scalar()
            bulk = c.execute(sa.select(Site.namespace, Site.uid).where(Site.name == "s00002")).first()
    finally:
        engine.dispose()
    found: dict[str, Any] = {}
    if bulk is not None:
        found["bulk"] = rows_of(url, "Site", bulk[0], "s00002", str(bulk[1]))
    if made is not None and live is not None:
        found["operator"] = rows_of(url, "Site", live, "l1", str(made))
    return found


# -- the run -----------------------------------------------------------------------------------


@contextlib.contextmanager
def database_url(name: str, workdir: Path) -> Iterator[str]:
    if name == "sqlite":
        yield f"sqlite:///{workdir / 'siteplane.db'}"
        return
    from harness.postgres import running_postgres

    with running_postgres() as postgres:
        yield postgres.create_database(f"dashbench_{os.getpid()}")


async def run(args: argparse.Namespace, databases: list[str]) -> list[dict[str, Any]]:
    shape = Shape(args.sites, args.zones, args.namespaces)
    results = []
    root = Path(tempfile.mkdtemp(prefix="siteplane-dashbench-"))
    try:
        with running(root / "cluster") as plane:
            namespaces = [*shape.tenant_namespaces(), *(f"live-{d}" for d in databases)]
            plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces
            ]}))  # fmt: skip
            plane.kubectl("apply", "--server-side", "-f", str(REPO / "manifests" / "rbac" / "roles.yaml"))
            docs = rbac_docs(shape, [f"live-{d}" for d in databases])
            plane.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
            grants_expected = args.min_grants
            for name in databases:
                workdir = root / name
                workdir.mkdir()
                print(f"== {name}: {shape.sites} Sites, {shape.zones} zones", flush=True)
                with database_url(name, workdir) as url:
                    result = await run_database(name, url, plane, shape, grants_expected, args, workdir)
                result["frank_may_get_sites"] = frank_sees(shape)
                results.append(result)
                print(json.dumps(result, indent=1), flush=True)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return results


SUMMARY: dict[str, tuple[str, ...]] = {
    "database": ("database",),
    "sites": ("sites",),
    "zones": ("zones",),
    "grant_rows": ("grant_rows",),
    "load_avg": ("sequential", "sites_ready", "load_average"),
    "list_p50_ms": ("sequential", "sites_ready", "p50_ms"),
    "list_p99_ms": ("sequential", "sites_ready", "p99_ms"),
    "list_api_cpu_ms": ("sequential", "sites_ready", "api_cpu_ms_per_request"),
    "store_cpu_ms": ("store_only_sites_ready", "cpu_ms_per_page"),
    "healthz_p50_ms": ("sequential", "healthz", "p50_ms"),
    "healthz_p99_ms": ("sequential", "healthz", "p99_ms"),
    "list_rps": ("throughput", "list_rps"),
    "healthz_rps": ("throughput", "healthz_rps"),
    "list_over_healthz": ("throughput", "list_over_healthz"),
    "sse_clients": ("live_updates", "clients"),
    "sse_p50_ms": ("live_updates", "latency", "p50_ms"),
    "sse_p99_ms": ("live_updates", "latency", "p99_ms"),
    "sse_first_client_p99_ms": ("live_updates", "first_client_per_change", "p99_ms"),
    "sse_missed": ("live_updates", "missed_deliveries"),
}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    return {name: nested(result, *path) for name, path in SUMMARY.items()}


def table(results: list[dict[str, Any]]) -> str:
    rows = [summary(r) for r in results]
    header = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in rows]
    return "\n".join(lines)


def git_commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return found.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench-dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default=",".join(DATABASES), help=f"comma-separated, of {', '.join(DATABASES)}")
    parser.add_argument("--sites", type=int, default=10000)
    parser.add_argument("--zones", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=50, help="tenant namespaces the zones are spread over")
    parser.add_argument("--min-grants", type=int, default=1000, help="grant rows the mirror must have written")
    parser.add_argument("--requests", type=int, default=400, help="sequential requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients in the throughput phase")
    parser.add_argument("--duration", type=float, default=12.0, help="seconds of the list and of /healthz each")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds the seconds are cut into")
    parser.add_argument("--sse-clients", type=int, default=100)
    parser.add_argument("--changes", type=int, default=100, help="Sites created, then changed, in the live phase")
    parser.add_argument("--rate", type=float, default=10.0, help="creates (then changes) a second")
    parser.add_argument("--quick", action="store_true", help="1,000 Sites in 50 zones, fewer requests (development)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, databases)")
    parser.add_argument("--table", metavar="FILE", help="print the table of a results file and stop")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "latest-dashboard.json"))
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(Path(args.table).read_text())["results"]))
        return 0
    if args.quick:
        args.sites, args.zones, args.namespaces, args.min_grants = 1000, 50, 10, 200
        args.requests, args.duration, args.changes = 100, 6.0, 30
    databases = [d for d in args.databases.split(",") if d]
    if unknown := set(databases) - set(DATABASES):
        raise SystemExit(f"unknown database(s): {sorted(unknown)}")
    started = time.time()
    results = asyncio.run(run(args, databases))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "dashboard",
        "commit": git_commit(),
        "cpus": os.cpu_count(),
        "seconds": round(time.time() - started),
        "args": {k: v for k, v in vars(args).items() if k not in ("table", "out")},
        "results": results,
    }
    out.write_text(json.dumps(document, indent=1) + "\n")
    print(json.dumps({"dashboard_bench": [summary(r) for r in results]}))
    print(table(results))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
