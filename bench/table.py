"""Print the README's performance tables from benchmark JSON files.

``python -m bench.table FILE...``: the results table; ``python -m bench.table --floors FILE...``:
the kopf floor variants (``make bench BENCH_ARGS=--floor-variants=...``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _get(result: dict[str, Any], *path: str) -> Any:
    """A nested value, or "-" when this run did not measure it (older result files)."""
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return "-"
        value = value[key]
    return f"{value:,}" if isinstance(value, int) and value >= 1000 else value


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
    ("zone syncs", lambda r: _get(r, "siteplane", "zone_syncs")),
    ("backend writes/zone", lambda r: _get(r, "siteplane", "backend_writes_per_zone")),
    ("operator CPU s", lambda r: _get(r, "siteplane", "operator_cpu_seconds")),
    ("apiserver+etcd CPU s", lambda r: _get(r, "siteplane", "control_plane_cpu_seconds")),
    ("peak RSS MB", lambda r: _get(r, "siteplane", "operator_peak_rss_mb")),
    ("restart s", lambda r: _get(r, "restart", "seconds_to_all_seen")),
    ("restart API writes", lambda r: _get(r, "restart", "api_writes")),
    ("change p50 s", lambda r: _get(r, "latency", "p50_seconds")),
    ("change p99 s", lambda r: _get(r, "latency", "p99_seconds")),
    ("idle CPU %", lambda r: _get(r, "idle", "cpu_percent_of_one_core")),
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


def main() -> int:
    floors = sys.argv[1:2] == ["--floors"]
    results = [r for path in sys.argv[1 + floors :] for r in json.loads(Path(path).read_text())["results"]]
    print(floor_table(results) if floors else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
