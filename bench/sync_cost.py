"""``python -m bench.sync_cost``: what one zone sync costs in the operator's own CPU, on the
embedded defaults (a SQLite file, zone files), without a cluster.

It builds one zone of ``--sites`` Sites and one DNSRecord, then times, each ``--repeat`` times:

- a quiet whole sync: load the zone's rows, plan, read the server, find nothing to do, note the
  check (what a drift check of an unchanged zone cost before probes, and still costs after a
  restart or once the digest is older than SITEPLANE_DRIFT_FULL_INTERVAL);
- a drift probe: read the server and compare its digest with the last sync's;
- a sync with one change: one Site's address moved, stored, then the zone synced (the burst's
  unit of work, the Site's own store included).

Times are CPU milliseconds of this process per operation (time.process_time: sleeps and other
processes do not count, so a busy machine skews them less). To compare two trees, run it in each,
one after the other, with ``PYTHONPATH=<tree>/operator:<tree>``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.embedded import Embedded, observed

ZONE = "example.com"


def _site(i: int, last_octet: int) -> Any:
    spec = {"primaryDomain": f"s{i}.{ZONE}", "serving": {"ipv4": [f"192.0.2.{last_octet}"]}}
    return observed("Site", f"s{i}", spec, generation=last_octet)


def _per_call_ms(action: Callable[[int], object], repeat: int) -> float:
    started = time.process_time()
    for k in range(repeat):
        action(k)
    return round((time.process_time() - started) * 1000 / repeat, 3)


def measure(sites: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="siteplane-sync-cost-") as directory:
        world = Embedded.create(Path(directory))
        try:
            world.run(observed("DNSZone", "zone", {"zoneName": ZONE, "nameServers": ["ns1.example.net"]}))
            for i in range(sites):
                world.run(_site(i, 1))
            world.run(observed("DNSRecord", "r", {"zone": ZONE, "name": "_b", "type": "TXT", "txt": ["bench"]}))
            synchronizer = world.synchronizer
            assert synchronizer.sync(ZONE).error is None
            whole = _per_call_ms(lambda k: synchronizer.sync(ZONE), repeat)
            assert synchronizer.probe(ZONE) is not None, "the last sync left no digest to probe against"
            probe = _per_call_ms(lambda k: synchronizer.probe(ZONE), repeat)
            # Each change moves Site s0 to another address: a new generation, stored, then synced.
            changed = _per_call_ms(lambda k: world.run(_site(0, 2 + k % 250)), repeat)
        finally:
            world.close()
    return {
        "sites": sites,
        "repeat": repeat,
        "quiet_whole_sync_ms": whole,
        "drift_probe_ms": probe,
        "one_change_store_and_sync_ms": changed,
    }


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=_positive, default=20, help="Sites in the zone (the benchmark's zones hold 20)")
    parser.add_argument("--repeat", type=_positive, default=300)
    args = parser.parse_args()
    print(json.dumps(measure(args.sites, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
