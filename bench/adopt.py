"""``siteplane adopt`` on many zones: how long a hosting company's migration takes to describe.

Writes N zone files shaped like a small hosting company's (apex and www on the hosting network,
mail, SPF/DMARC/DKIM texts, an SRV, CAA, a few hosts, one SSHFP that is reported), then:

- baseline: dnspython alone parsing the same files (``dns.zone.from_text``), the floor any reader
  of zone files pays;
- adopt: ``siteplane adopt --from-file DIR -o OUT --site-addresses ...`` run as a user runs it (its
  own process, imports included), writing a directory per zone and the report.

Run as ``python -m bench.adopt --zones 1000 [--repeat 3] [--json FILE]``. It prints zones/s, wall
times and the ratio to the baseline, best of ``--repeat`` runs each.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.zone

SITE_ADDRESSES = "203.0.113.0/24,2001:db8::/32"


def zone_text(i: int) -> str:
    host = i % 250 + 1
    return f"""\
$TTL 3600
@ IN SOA ns1.hosting.example.net. hostmaster.hosting.example.net. ( 2024010101 7200 900 1209600 300 )
@ IN NS ns1.hosting.example.net.
@ IN NS ns2.hosting.example.net.
@ IN A 203.0.113.{host}
@ IN AAAA 2001:db8::{i:x}
www IN A 203.0.113.{host}
www IN AAAA 2001:db8::{i:x}
shop 300 IN A 203.0.113.{(host + 1) % 250 + 1}
mail IN A 198.51.100.{host}
vpn IN A 192.0.2.{host}
@ IN MX 10 mail
@ IN MX 20 mx2.hosting.example.net.
@ IN TXT "v=spf1 mx include:_spf.hosting.example.net -all"
_dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@customer{i}.example"
s1._domainkey IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC{i:08d}"
_sip._tcp IN SRV 10 5 5060 sip.hosting.example.net.
@ IN CAA 0 issue "letsencrypt.org"
docs IN CNAME pages.hosting.example.net.
ftp IN CNAME www
host IN SSHFP 1 1 0123456789abcdef0123456789abcdef01234567
"""


def write_zones(directory: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = directory / f"customer{i}.example.zone"
        path.write_text(zone_text(i))
        paths.append(path)
    return paths


def baseline(paths: list[Path]) -> tuple[float, float]:
    """(wall, CPU) seconds of dnspython parsing every file."""
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        zone = path.name.removesuffix(".zone")
        dns.zone.from_text(path.read_text(), origin=zone + ".", relativize=True)
    return time.perf_counter() - started, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def adopt(directory: Path, out: Path) -> tuple[float, float, str]:
    """(wall, CPU, stderr) of one ``siteplane adopt`` process."""
    started, cpu = time.perf_counter(), _children_cpu()
    command = [sys.executable, "-m", "siteplane", "adopt", "--from-file", str(directory), "-o", str(out)]
    done = subprocess.run(
        [*command, "--site-addresses", SITE_ADDRESSES],
        capture_output=True,
        text=True,
        check=False,
    )
    wall, used = time.perf_counter() - started, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"siteplane adopt failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, used, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.adopt")
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="siteplane-bench-adopt-") as work:
        directory = Path(work) / "zones"
        directory.mkdir()
        paths = write_zones(directory, args.zones)
        # Alternated, so that both see the same load on a shared machine; the best of each is kept.
        bases, runs = [], []
        for r in range(args.repeat):
            bases.append(baseline(paths))
            runs.append(adopt(directory, Path(work) / f"out{r}"))
        base, base_cpu = min(b[0] for b in bases), min(b[1] for b in bases)
        wall, cpu, stderr = min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]
        report = json.loads((Path(work) / "out0" / "adopt-report.json").read_text())
    progress = [line for line in stderr.splitlines() if line.startswith("adopted ")]
    summary = stderr.strip().splitlines()[-1]
    figures = {
        "zones": args.zones,
        "adopt_wall_s": round(wall, 3),
        "adopt_zones_per_s": round(args.zones / wall, 1),
        "dnspython_parse_s": round(base, 3),
        "dnspython_zones_per_s": round(args.zones / base, 1),
        "ratio": round(wall / base, 2),
        "adopt_cpu_s": round(cpu, 3),
        "dnspython_parse_cpu_s": round(base_cpu, 3),
        "cpu_ratio": round(cpu / base_cpu, 2),
        "objects": report["objects"],
        "findings": len(report["findings"]),
    }
    print(f"progress lines: {len(progress)} (last: {progress[-1] if progress else '-'})")
    print(summary)
    print(
        f"siteplane adopt: {args.zones} zones in {wall:.2f} s wall ({args.zones / wall:.0f} zones/s, process start "
        f"and imports included)\ndnspython alone parsing the same files: {base:.2f} s ({args.zones / base:.0f} zones/s)"
        f"\nratio adopt / parse: {wall / base:.2f} wall, {cpu / base_cpu:.2f} CPU ({cpu:.2f} s / {base_cpu:.2f} s)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
