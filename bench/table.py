"""Print the performance tables of docs/performance.md from benchmark JSON files.

``python -m bench.table FILE...``: the results table; ``python -m bench.table --floors FILE...``:
the kopf floor variants (``make bench BENCH_ARGS=--floor-variants=...``);
``python -m bench.table --memprobe FILE.jsonl...``: what a memory probe saw at its peak
(``make bench BENCH_ARGS=--memprobe``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def nested(result: dict[str, Any], *path: str) -> Any:
    """A nested value, or "-" when this run did not measure it (older result files)."""
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return "-"
        value = value[key]
    return value


def _get(result: dict[str, Any], *path: str) -> Any:
    value = nested(result, *path)
    return f"{value:,}" if isinstance(value, int) and value >= 1000 else value


def held_floor(result: dict[str, Any]) -> dict[str, Any] | None:
    """The 'held' kopf floor of this run, if it ran: kopf alone with all N handlers in flight."""
    return next((f for f in result.get("kopf_floor_variants", []) if f.get("variant") == "held"), None)


WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")


def operator_writes_on(result: dict[str, Any], resource: str) -> int:
    """The operator's writes to one kind (its status included) during the Sites phase: every write
    the phase counted except the benchmark's own creates."""
    requests = nested(result, "siteplane", "requests")
    return sum(
        count
        for request, count in (requests.items() if isinstance(requests, dict) else ())
        if (verb_resource := request.split(" ", 1))[0] in WRITE_VERBS
        and verb_resource[1].split("/")[0] == resource
        and request != f"POST {resource}"
    )


def per(result: dict[str, Any], resource: str, count_path: tuple[str, ...]) -> Any:
    """The operator's writes to ``resource`` per object of it, or "-" for older result files."""
    count = nested(result, *count_path)
    if not isinstance(nested(result, "siteplane", "requests"), dict) or not isinstance(count, int) or not count:
        return "-"
    return round(operator_writes_on(result, resource) / count, 3)


def cpu_ms_per_object(run: Any, objects: Any) -> Any:
    if not isinstance(run, dict) or "operator_cpu_seconds" not in run or not isinstance(objects, int):
        return "-"
    return round(run["operator_cpu_seconds"] * 1000 / objects, 2)


COLUMNS = (
    ("setup", lambda r: r["setup"]),
    ("N sites", lambda r: _get(r, "n")),
    ("zones", lambda r: _get(r, "siteplane", "zones")),
    ("T0 s", lambda r: _get(r, "baseline", "t0_seconds")),
    ("kopf floor s", lambda r: _get(r, "kopf_floor", "t_floor_seconds")),
    ("T1 s", lambda r: _get(r, "siteplane", "t1_seconds")),
    ("floor/T0", lambda r: _get(r, "floor_over_t0")),
    ("T1/T0", lambda r: _get(r, "t1_over_t0")),
    ("API writes/object", lambda r: _get(r, "siteplane", "operator_writes_per_object")),
    ("Site writes/Site", lambda r: per(r, "sites", ("n",))),
    ("zone writes/zone", lambda r: per(r, "dnszones", ("siteplane", "zones"))),
    ("zone syncs", lambda r: _get(r, "siteplane", "zone_syncs")),
    ("backend writes/zone", lambda r: _get(r, "siteplane", "backend_writes_per_zone")),
    ("operator CPU s", lambda r: _get(r, "siteplane", "operator_cpu_seconds")),
    (
        "operator CPU ms/object",
        lambda r: cpu_ms_per_object(r.get("siteplane"), r["n"] + nested(r, "siteplane", "records")),
    ),
    ("kopf floor CPU ms/object", lambda r: cpu_ms_per_object(r.get("kopf_floor"), r["n"])),
    ("apiserver+etcd CPU s", lambda r: _get(r, "siteplane", "control_plane_cpu_seconds")),
    ("peak RSS MB", lambda r: _get(r, "siteplane", "operator_peak_rss_mb")),
    ("kopf, N in flight: peak RSS MB", lambda r: (held_floor(r) or {}).get("operator_peak_rss_mb", "-")),
    ("restart s", lambda r: _get(r, "restart", "seconds_to_all_seen")),
    ("restart API writes", lambda r: _get(r, "restart", "api_writes")),
    ("change p50 s", lambda r: _get(r, "latency", "p50_seconds")),
    ("change p99 s", lambda r: _get(r, "latency", "p99_seconds")),
    ("idle CPU %", lambda r: _get(r, "idle", "cpu_percent_of_one_core")),
    ("idle CPU % after a drift interval", lambda r: _get(r, "idle", "steady", "cpu_percent_of_one_core")),
)


FLOOR_COLUMNS = (
    ("N sites", lambda r, f: _get(r, "n")),
    ("kopf floor", lambda r, f: f.get("variant", "siteplane")),
    ("T0 s", lambda r, f: _get(r, "baseline", "t0_seconds")),
    ("floor s", lambda r, f: f["t_floor_seconds"]),
    ("floor/T0", lambda r, f: round(f["t_floor_seconds"] / r["baseline"]["t0_seconds"], 2)),
    ("API writes/object", lambda r, f: f["operator_writes_per_object"]),
    ("operator CPU s", lambda r, f: f["operator_cpu_seconds"]),
    ("apiserver+etcd CPU s", lambda r, f: f["control_plane_cpu_seconds"]),
    ("peak RSS MB", lambda r, f: f["operator_peak_rss_mb"]),
)


def _rows(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def table(results: list[dict[str, Any]]) -> str:
    return _rows([name for name, _ in COLUMNS], [[value(r) for _, value in COLUMNS] for r in results])


def floor_table(results: list[dict[str, Any]]) -> str:
    """One row per kopf floor variant measured (``--floor-variants``)."""
    rows = [
        [value(r, floor) for _, value in FLOOR_COLUMNS]
        for r in results
        for floor in r.get("kopf_floor_variants") or [r["kopf_floor"]] * ("kopf_floor" in r)
    ]
    return _rows([name for name, _ in FLOOR_COLUMNS], rows)


def memprobe_summary(path: Path, top: int = 12) -> str:
    """What a --memprobe file saw at the operator's largest census: where the memory was, and
    whose code was suspended (how many handlers were in flight, and where they waited)."""
    samples = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    censuses = [s for s in samples if "census" in s]
    if not censuses:
        return f"{path}: no census"
    peak = max(censuses, key=lambda s: s["rss_mb"])
    lines = [
        f"{path.name}: peak RSS {max(s['peak_mb'] for s in samples)} MB; at the largest census (t={peak['t']} s): "
        f"RSS {peak['rss_mb']} MB, Python objects {peak['pymalloc']['in_use_mb']} MB in "
        f"{peak['pymalloc']['arenas_mb']} MB of arenas, malloc {peak['malloc']['in_use_mb']} MB in use "
        f"of {peak['malloc']['heap_mb']} MB",
        "suspended coroutines by function:",
        *(f"  {count:>7}  {where}" for where, count in peak["census"]["suspended"][:top]),
        "live objects by type (count, shallow MB):",
        *(f"  {count:>7}  {size:>6}  {name}" for name, count, size in peak["census"]["by_type"][:top]),
    ]
    return "\n".join(lines)


def main() -> int:
    mode = sys.argv[1] if sys.argv[1:2] in (["--floors"], ["--memprobe"]) else None
    paths = [Path(p) for p in sys.argv[1 + bool(mode) :]]
    if mode == "--memprobe":
        print("\n\n".join(memprobe_summary(path) for path in paths))
        return 0
    results = [r for path in paths for r in json.loads(path.read_text())["results"]]
    print(floor_table(results) if mode else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
