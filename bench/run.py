"""``make bench``: what converging N Sites costs, against what this machine can do at all.

For each size N and each setup (SQLite + zone files, PostgreSQL + BIND), on a fresh local control
plane (the tests' harness):

1. baseline T0: N Sites created through the API and one status patch each, from a trivial asyncio
   loop, no operator: the machine's own limit for "N objects created and reported on";
   then the kopf floor: N Sites handled by a kopf operator that only writes Ready (bench/floor.py),
   what kopf itself costs when a mutating webhook adds the finalizer (one write per object);
   other variants on request, such as the "held" floor, which keeps all N handlers in flight at
   once, as siteplane's burst does: what kopf itself holds in memory;
2. siteplane T1: M = N/20 zones first, then N Sites and M DNSRecords with the operator running,
   until all are Ready; API requests per object by verb (apiserver_request_total before/after),
   operator CPU seconds and peak RSS, backend writes per zone and zone syncs (read from the
   operator's own /metrics, as Prometheus would), database rows;
3. a restart with nothing to do: time until the operator logs that it has seen every object, and
   the API writes it made;
4. single-change latency: one Site's address changed, time until the DNS answer has the new one;
5. idle cost: operator CPU over a quiet minute (its drift checks included); from N=10,000
   (--steady-idle-from) a second minute once a drift interval has passed since the restart (the
   first check of each zone after a restart is a whole sync, the later ones of unchanged zones
   only probes).

Figures go to a JSON file and a PNG chart (T1/T0, API writes per Site, peak RSS against N).
With --memprobe the operators also sample where their memory goes (bench/memprobe), read with
``python -m bench.table --memprobe``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bench.apiserver import Api, by_verb, delta, writes
from bench.floor import webhook_configuration
from bench.process import cpu_seconds, peak_rss_mb
from harness.controlplane.cluster import ControlPlane, running
from harness.dns_targets import Answer, BindTarget, ZoneFileTarget
from harness.manifests import record_doc, site_doc, zone_doc
from harness.operator_runner import OperatorProcess
from harness.server import free_port
from siteplane.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
MEMPROBE = REPO / "bench" / "memprobe"
SETUPS = ("sqlite+zonefile", "postgresql+bind")
_STARTUP_DONE = re.compile(r"startup: all (\d+) objects seen")


@dataclass
class Setup:
    """Where the operator keeps state and publishes zones in one benchmark run."""

    name: str
    database_url: str
    env: dict[str, str]
    answer: Callable[[str, str], Answer]  # (zone, name) -> the A records served
    manifests: list[dict[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def setup_for(name: str, workdir: Path) -> Iterator[Setup]:
    zone_dir = workdir / "zones"
    if name == "sqlite+zonefile":
        url = f"sqlite:///{workdir / 'siteplane.db'}"
        upgrade(url)
        target = ZoneFileTarget(zone_dir)
        yield Setup(name, url, {}, lambda zone, host: target.answer(zone, host, "A"))
        return
    from harness.bind import running_bind
    from harness.postgres import running_postgres

    with running_postgres() as postgres, running_bind() as bind:
        url = postgres.create_database(f"bench_{os.getpid()}_{int(time.time())}")
        upgrade(url)
        server = BindTarget(bind)
        manifests = server.manifests("bench-bind", "siteplane-system")
        yield Setup(
            name,
            url,
            {"SITEPLANE_DEFAULT_BACKEND": "bench-bind"},
            lambda zone, host: server.answer(zone, host, "A"),
            manifests,
        )


def fleet(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """M = N/20 zones; N Sites spread over them; one TXT DNSRecord per zone."""
    m = max(1, n // 20)
    zones = [zone_doc(f"z{i}", f"z{i}.bench.example", nameServers=["ns1.hosting.example.net"]) for i in range(m)]
    sites = [
        site_doc(f"s{i}", f"s{i}.z{i % m}.bench.example", f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}")
        for i in range(n)
    ]
    records = [record_doc(f"r{i}", f"z{i}.bench.example", "_bench", "TXT", [f"zone {i}"]) for i in range(m)]
    return zones, sites, records


def _control_plane_pids(plane: ControlPlane) -> list[int]:
    return [plane.pid(name) for name in ("etcd", "kube-apiserver")]


def control_plane_cpu(plane: ControlPlane) -> float:
    """CPU seconds of etcd and kube-apiserver so far: the other half of the machine's work."""
    return sum(cpu_seconds(pid) for pid in _control_plane_pids(plane))


def operator_samples(port: int) -> list[Sample]:
    """Every sample of the operator's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def operator_counters(port: int) -> tuple[dict[str, int], int]:
    """(backend writes by DNSBackend, zone syncs) so far, from the operator's /metrics."""
    writes: dict[str, int] = {}
    syncs = 0
    for sample in operator_samples(port):
        if sample.name == "siteplane_backend_writes_total":
            writes[sample.labels["backend"]] = int(sample.value)
        elif sample.name == "siteplane_zone_syncs_total":
            syncs += int(sample.value)
    return writes, syncs


async def _wait_log(operator: OperatorProcess, pattern: re.Pattern[str], after: int, timeout: float) -> float:
    begin = time.monotonic()
    while time.monotonic() - begin < timeout:
        if len(pattern.findall(operator.log())) > after:
            return time.monotonic() - begin
        await asyncio.sleep(0.05)
    raise TimeoutError(f"operator log never matched {pattern.pattern!r}")


async def baseline(api: Api, plane: ControlPlane, n: int) -> dict[str, Any]:
    namespace = "baseline"
    plane.kubectl("create", "namespace", namespace)
    _, sites, _ = fleet(n)
    settled = await quiet_control_plane(plane)
    before, plane_cpu = await api.requests(), control_plane_cpu(plane)
    begin = time.monotonic()
    await api.create_and_patch_status(namespace, "sites", sites)
    t0 = time.monotonic() - begin
    requests = delta(await api.requests(), before)
    # The baseline's Sites stay: deleting them would load the apiserver during siteplane's run.
    return {
        "t0_seconds": round(t0, 2),
        "waited_for_quiet_control_plane_seconds": settled,
        "requests": by_verb(requests, "sites"),
        "control_plane_cpu_seconds": round(control_plane_cpu(plane) - plane_cpu, 2),
    }


async def kopf_floor(
    api: Api,
    plane: ControlPlane,
    n: int,
    workdir: Path,
    timeout: float,
    variant: str = "siteplane",
    env: dict[str, str] | None = None,
    run: int = 0,
) -> dict[str, Any]:
    namespace = f"floor-{variant}" + (f"-{run}" if run else "")  # a variant may run twice, to show the noise
    plane.kubectl("create", "namespace", namespace)
    _, sites, _ = fleet(n)
    with (workdir / f"{namespace}.log").open("wb") as log:
        floor = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", namespace, variant, str(n)],
            env={**os.environ, "KUBECONFIG": str(plane.kubeconfig), **(env or {})},
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            await asyncio.sleep(5)  # its watch is open (objects created earlier would be listed anyway)
            if variant == "admission":  # its webhook is registered: without it the floor PATCHes finalizers
                await _wait_for(
                    lambda: (
                        plane.kubectl(
                            "get", "mutatingwebhookconfiguration", webhook_configuration(namespace), check=False
                        ).returncode
                        == 0
                    ),
                    60,
                    "the floor's webhook configuration",
                )
            await quiet_control_plane(plane)
            creating: list[asyncio.Task[None]] = []
            before, plane_cpu = await api.requests(), control_plane_cpu(plane)
            begin = time.monotonic()
            waiting = asyncio.ensure_future(
                api.wait_ready(
                    namespace,
                    "sites",
                    n,
                    timeout,
                    started=lambda: creating.append(asyncio.ensure_future(api.create_all(namespace, "sites", sites))),
                )
            )
            while not waiting.done():
                if floor.poll() is not None:
                    waiting.cancel()
                    raise RuntimeError(f"the kopf floor operator exited ({floor.returncode}); see {log.name}")
                await asyncio.sleep(0.02)  # the floor is timed when this loop sees it done
            waiting.result()
            seconds = time.monotonic() - begin
            await asyncio.gather(*creating)
            await asyncio.sleep(2)
            requests = delta(await api.requests(), before)
            return {
                "variant": variant,
                "t_floor_seconds": round(seconds, 2),
                "requests": by_verb(requests),
                "operator_cpu_seconds": round(cpu_seconds(floor.pid), 2),
                "operator_peak_rss_mb": round(peak_rss_mb(floor.pid), 1),
                "control_plane_cpu_seconds": round(control_plane_cpu(plane) - plane_cpu, 2),
                "operator_writes_per_object": round(writes(requests, operator_only=True) / n, 3),
            }
        finally:
            floor.terminate()
            floor.wait(30)
            if variant == "admission":  # left behind, it would be called for every later Site
                for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
                    plane.kubectl("delete", kind, webhook_configuration(namespace), "--ignore-not-found", check=False)


async def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


def operator_gauges(port: int) -> dict[str, float]:
    """The operator's gauges that say whether work waits: zone syncs and status writes."""
    wanted = {"siteplane_zones_waiting", "siteplane_status_waiting"}
    return {sample.name: sample.value for sample in operator_samples(port) if sample.name in wanted}


async def settled(operator: OperatorProcess, port: int, timeout: float, calm: int = 3) -> float:
    """Until the operator has nothing waiting (no zone sync, no status write: a zone's tallies
    settle a few seconds after its last change) for ``calm`` scrapes in a row and its CPU is quiet;
    the seconds waited. Writes made while settling belong to the phase that caused them."""
    assert operator.process is not None
    started, calm_scrapes = time.monotonic(), 0
    while calm_scrapes < calm:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the operator still had work waiting after {timeout:.0f} s")
        gauges = await asyncio.to_thread(operator_gauges, port)
        calm_scrapes = calm_scrapes + 1 if gauges and not any(gauges.values()) else 0
        await asyncio.sleep(0.5)
    await quiet([operator.process.pid])
    return round(time.monotonic() - started, 2)


async def converge(
    api: Api, plane: ControlPlane, operator: OperatorProcess, n: int, namespace: str, timeout: float, probes: int
) -> dict[str, Any]:
    zones, sites, records = fleet(n)
    await api.create_all(namespace, "dnszones", zones)
    await api.wait_ready(namespace, "dnszones", len(zones), timeout)
    assert operator.process is not None
    pid = operator.process.pid
    await quiet([pid])
    await quiet_control_plane(plane)
    before, plane_cpu, operator_cpu = await api.requests(), control_plane_cpu(plane), cpu_seconds(pid)
    begin = time.monotonic()
    creating: list[asyncio.Task[None]] = []

    def create() -> None:
        creating.append(asyncio.ensure_future(api.create_all(namespace, "dnsrecords", records)))
        creating.append(asyncio.ensure_future(api.create_all(namespace, "sites", sites)))

    await asyncio.gather(
        api.wait_ready(namespace, "sites", n, timeout, started=create),
        api.wait_ready(namespace, "dnsrecords", len(records), timeout),
    )
    t1 = time.monotonic() - begin
    await asyncio.gather(*creating)
    settling = await settled(operator, probes, timeout)  # status writes still waiting count too
    requests = delta(await api.requests(), before)
    return {
        "t1_seconds": round(t1, 2),
        "settled_after_seconds": settling,
        "zones": len(zones),
        "records": len(records),
        "requests": by_verb(requests),
        # The benchmark itself only creates siteplane objects; everything else written is the operator's.
        "operator_writes_per_object": round(writes(requests, operator_only=True) / (n + len(records)), 3),
        # From the first Site created until every Site is Ready and the operator has settled.
        "operator_cpu_seconds": round(cpu_seconds(pid) - operator_cpu, 2),
        "control_plane_cpu_seconds": round(control_plane_cpu(plane) - plane_cpu, 2),
        "operator_peak_rss_mb": round(peak_rss_mb(pid), 1),
    }


async def quiet(pids: list[int], share: float = 0.05, window: float = 1.0, timeout: float = 180.0) -> float:
    """Wait until the processes together use under ``share`` of a core over ``window`` seconds:
    they have finished catching up (a restarted operator its resume work, a new control plane
    its start-up work), so what is timed next is not queued behind it."""
    begin = time.monotonic()
    while time.monotonic() - begin < timeout:
        start = sum(cpu_seconds(pid) for pid in pids)
        await asyncio.sleep(window)
        if sum(cpu_seconds(pid) for pid in pids) - start < share * window:
            break
    return round(time.monotonic() - begin, 1)


async def quiet_control_plane(plane: ControlPlane) -> float:
    # An idle apiserver still renews leases and runs its controllers: a tenth of a core is quiet.
    return await quiet(_control_plane_pids(plane), share=0.1, window=2.0)


async def restart(api: Api, operator: OperatorProcess, n_objects: int, timeout: float) -> dict[str, Any]:
    before = await api.requests()
    seen = len(_STARTUP_DONE.findall(operator.log()))
    begin = time.monotonic()
    operator.start()
    await _wait_log(operator, _STARTUP_DONE, seen, timeout)
    seconds = time.monotonic() - begin
    await asyncio.sleep(5)  # anything it still writes after "seen" counts against it
    requests = delta(await api.requests(), before)
    assert operator.process is not None
    return {
        "seconds_to_all_seen": round(seconds, 2),
        "objects": n_objects,
        "api_writes": writes(requests),
        "requests": by_verb(requests),
        "cpu_seconds": round(cpu_seconds(operator.process.pid), 2),
    }


async def latency(
    api: Api, operator: OperatorProcess, setup: Setup, namespace: str, n: int, changes: int
) -> dict[str, Any]:
    assert operator.process is not None
    waited = await quiet([operator.process.pid])  # after a restart, resume work first finishes
    m = max(1, n // 20)
    samples: list[float] = []
    for k in range(changes):
        index = (k * 7919) % n
        zone, host = f"z{index % m}.bench.example", f"s{index}"
        address = f"198.51.{100 + k // 250}.{k % 250 + 1}"
        begin = time.monotonic()
        await api.patch(namespace, "sites", f"s{index}", {"spec": {"serving": {"ipv4": [address]}}})
        while setup.answer(zone, host) != {address}:
            if time.monotonic() - begin > 60:
                raise TimeoutError(f"{host}.{zone} never answered {address}")
            await asyncio.sleep(0.005)
        samples.append(time.monotonic() - begin)
    ordered = sorted(samples)
    return {
        "waited_for_quiet_seconds": waited,
        "changes": changes,
        "p50_seconds": round(statistics.median(ordered), 3),
        "p99_seconds": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "max_seconds": round(ordered[-1], 3),
        "samples_seconds": [round(x, 3) for x in samples],  # in order: a slow start shows as such
    }


async def _cpu_over(pid: int, seconds: float) -> dict[str, Any]:
    start = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    used = cpu_seconds(pid) - start
    return {"cpu_seconds": round(used, 2), "cpu_percent_of_one_core": round(100 * used / seconds, 2)}


async def idle(
    operator: OperatorProcess, seconds: float, restarted_at: float, steady_after: float | None = None
) -> dict[str, Any]:
    """Operator CPU over ``seconds`` of quiet; with ``steady_after`` (the drift interval, counted
    from the restart) a second window once every zone has had its first check since the restart:
    that first check is a whole sync, the later ones of unchanged zones only probes."""
    assert operator.process is not None
    pid = operator.process.pid
    await asyncio.sleep(5)
    result: dict[str, Any] = {"seconds": seconds, **await _cpu_over(pid, seconds)}
    if steady_after is not None:
        await asyncio.sleep(max(0.0, restarted_at + steady_after + 5 - time.monotonic()))
        after = round(time.monotonic() - restarted_at, 1)
        result["steady"] = {"after_restart_seconds": after, **await _cpu_over(pid, seconds)}
    return result


def database_rows(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
            return {
                t: int(connection.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar() or 0)
                for t in sorted(tables)
                if t != "alembic_version"
            }
    finally:
        engine.dispose()


async def run_one(setup_name: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"siteplane-bench-{n}-"))
    try:
        with running(workdir / "cluster") as plane, setup_for(setup_name, workdir) as setup:
            result: dict[str, Any] = {"setup": setup_name, "n": n}
            async with Api(plane) as api:
                result["baseline"] = await baseline(api, plane, n)
                variants = [v for v in args.floor_variants.split(",") if v and v != "none"]
                floors = [
                    await kopf_floor(
                        api,
                        plane,
                        n,
                        workdir,
                        args.timeout,
                        v,
                        {**args.extra_env, **memprobe_env(args, f"floor-{v}-{k}", n)},
                        variants[:k].count(v),
                    )
                    for k, v in enumerate(variants)
                ]
                if floors:
                    result["kopf_floor"] = floors[0]
                if len(floors) > 1:
                    result["kopf_floor_variants"] = floors
                namespace = "bench"
                plane.kubectl("create", "namespace", namespace)
                plane.kubectl("create", "namespace", "siteplane-system")
                if setup.manifests:
                    plane.kubectl(
                        "apply",
                        "-f",
                        "-",
                        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": setup.manifests}),
                    )
                probes = free_port()
                env = {
                    **setup.env,
                    "SITEPLANE_PROBES_LISTEN": f"127.0.0.1:{probes}",
                    "SITEPLANE_DRIFT_INTERVAL": str(args.drift_interval),
                    # As installed: the admission webhook adds the finalizer at create and checks names.
                    **(
                        {}
                        if args.no_webhook
                        else {
                            "SITEPLANE_WEBHOOK_LISTEN": f"127.0.0.1:{free_port()}",
                            "SITEPLANE_WEBHOOK_CONFIGURATION": "bench.siteplane.io",
                        }
                    ),
                    **args.extra_env,
                    **memprobe_env(args, setup_name, n),
                }
                operator = OperatorProcess(
                    plane.kubeconfig, setup.database_url, workdir / "zones", (namespace,), workdir / "operator.log", env
                )
                operator.start()
                try:
                    await _wait_log(operator, _STARTUP_DONE, 0, 120)
                    result["siteplane"] = await converge(api, plane, operator, n, namespace, args.timeout, probes)
                    counts, syncs = await asyncio.to_thread(operator_counters, probes)
                    operator.stop()
                    result["siteplane"]["backend_writes"] = counts
                    result["siteplane"]["zone_syncs"] = syncs
                    result["siteplane"]["backend_writes_per_zone"] = round(
                        sum(counts.values()) / result["siteplane"]["zones"], 2
                    )
                    if not args.converge_only:
                        objects = n + 2 * result["siteplane"]["zones"]
                        restarted_at = time.monotonic()
                        result["restart"] = await restart(api, operator, objects, args.timeout)
                        result["latency"] = await latency(api, operator, setup, namespace, n, args.changes)
                        steady = args.drift_interval if n >= args.steady_idle_from else None
                        result["idle"] = await idle(operator, args.idle, restarted_at, steady)
                finally:
                    operator.stop()
                result["database_rows"] = database_rows(setup.database_url)
            b, s = result["baseline"], result["siteplane"]
            result["t1_over_t0"] = round(s["t1_seconds"] / b["t0_seconds"], 2)
            if "kopf_floor" in result:
                result["floor_over_t0"] = round(result["kopf_floor"]["t_floor_seconds"] / b["t0_seconds"], 2)
            return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def operator_env(args: argparse.Namespace) -> dict[str, str]:
    pairs = [item.partition("=") for item in args.operator_env]
    if bad := [name for name, sep, _ in pairs if not sep or not name]:
        raise SystemExit(f"--operator-env wants NAME=VALUE, got {bad}")
    return {name: value for name, _, value in pairs}


def memprobe_env(args: argparse.Namespace, label: str, n: int) -> dict[str, str]:
    """With --memprobe: the environment that makes a Python process sample its memory (bench/memprobe)
    into ``<out>-memprobe-<label>-<n>.jsonl``."""
    if not args.memprobe:
        return {}
    probe = Path(args.out).with_name(f"{Path(args.out).stem}-memprobe-{label}-{n}.jsonl")
    probe.unlink(missing_ok=True)
    path = os.pathsep.join(filter(None, [str(MEMPROBE), str(REPO), os.environ.get("PYTHONPATH")]))
    return {"SITEPLANE_BENCH_MEMPROBE": str(probe), "PYTHONPATH": path}


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000,50000", help="comma-separated N (Sites); M = N/20 zones")
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"comma-separated, of {', '.join(SETUPS)}")
    parser.add_argument(
        "--floor-variants",
        default="admission",
        help="comma-separated kopf floors, the first in the main table: admission (the finalizer added by a "
        "mutating webhook: one write per object, the default), siteplane, kopf-defaults, no-finalizer, "
        "held (all N handlers in flight at once: kopf's memory for a burst); none for no floor",
    )
    parser.add_argument(
        "--no-webhook",
        action="store_true",
        help="run the operator without its admission webhook (it then adds the finalizer with a PATCH)",
    )
    parser.add_argument("--changes", type=int, default=50, help="single-change latency samples")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    parser.add_argument(
        "--steady-idle-from",
        type=int,
        default=10000,
        metavar="N",
        help="from this size up, measure idle a second time once a drift interval has passed since the "
        "restart (every zone then had its first check, a whole sync, since the restart); 0 for every size",
    )
    parser.add_argument("--drift-interval", type=float, default=300.0, help="the operator's drift interval")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for convergence")
    parser.add_argument(
        "--converge-only",
        action="store_true",
        help="stop after T1: no restart, latency or idle phase (with --floor-variants none, T0 and T1 only)",
    )
    parser.add_argument(
        "--memprobe",
        action="store_true",
        help="sample the operator's memory (bench/memprobe) into a JSON-lines file beside --out",
    )
    parser.add_argument(
        "--operator-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra environment variable for the operator and the kopf floors (repeatable), "
        "e.g. SITEPLANE_API_CONCURRENCY=0 for kopf's unbounded API session",
    )
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "latest.json"))
    args = parser.parse_args()
    args.extra_env = operator_env(args)  # a bad NAME=VALUE stops here, before any control plane starts
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for setup_name in args.setups.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            print(f"== {setup_name}, N={n}", flush=True)
            result = asyncio.run(run_one(setup_name, n, args))
            results.append(result)
            print(json.dumps(result, indent=1), flush=True)
            out.write_text(json.dumps({"results": results}, indent=1) + "\n")
    from bench.chart import draw

    chart = out.with_suffix(".png")
    draw(results, chart)
    print(f"wrote {out} and {chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
