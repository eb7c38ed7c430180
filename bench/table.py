"""Print the README's performance table from benchmark JSON files: ``python -m bench.table FILE...``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = (
    ("setup", lambda r: r["setup"]),
    ("N sites", lambda r: f"{r['n']:,}"),
    ("zones", lambda r: r["siteplane"]["zones"]),
    ("T0 s", lambda r: r["baseline"]["t0_seconds"]),
    ("T1 s", lambda r: r["siteplane"]["t1_seconds"]),
    ("T1/T0", lambda r: r["t1_over_t0"]),
    ("API writes/object", lambda r: r["siteplane"]["operator_writes_per_object"]),
    ("backend writes/zone", lambda r: r["siteplane"]["backend_writes_per_zone"]),
    ("operator CPU s", lambda r: r["siteplane"]["operator_cpu_seconds"]),
    ("peak RSS MB", lambda r: r["siteplane"]["operator_peak_rss_mb"]),
    ("restart s", lambda r: r["restart"]["seconds_to_all_seen"]),
    ("restart API writes", lambda r: r["restart"]["api_writes"]),
    ("change p50 s", lambda r: r["latency"]["p50_seconds"]),
    ("change p99 s", lambda r: r["latency"]["p99_seconds"]),
    ("idle CPU %", lambda r: r["idle"]["cpu_percent_of_one_core"]),
)


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(name for name, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for result in results:
        lines.append("| " + " | ".join(str(value(result)) for _, value in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> int:
    results = [r for path in sys.argv[1:] for r in json.loads(Path(path).read_text())["results"]]
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
