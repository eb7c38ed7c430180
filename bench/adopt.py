"""``siteplane adopt`` on many zones: how long a hosting company's migration takes to describe.

Writes N zone files shaped like a small hosting company's (apex and www on the hosting network,
mail, SPF/DMARC/DKIM texts, an SRV, CAA, a few hosts, one SSHFP that is reported), then:

- baseline: dnspython alone parsing the same files (``dns.zone.from_text``), the floor any reader
  of zone files pays;
- adopt: ``siteplane adopt --from-file DIR -o OUT --site-addresses ...`` run as a user runs it (its
  own process, imports included), writing a directory per zone and the report.

With ``--source bind`` the same zones are loaded into a real BIND 9 (rndc addzone) and read by zone
transfer with TSIG instead: the baseline is then dnspython alone transferring them (``dns.query.xfr``
and ``dns.zone.from_xfr``), and adopt runs ``--from-axfr ... --zone-list``.

Run as ``python -m bench.adopt --zones 1000 [--source file|bind] [--repeat 3] [--json FILE]``. It
prints zones/s, wall and CPU times and the ratios to the baseline, best of ``--repeat`` runs each.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dns.query
import dns.tsigkeyring
import dns.zone

from harness.bind import BindServer, running_bind

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


def baseline_axfr(bind: BindServer, zones: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of dnspython transferring every zone (TSIG-signed AXFR) and building it."""
    keyring = dns.tsigkeyring.from_text({bind.tsig_name: (bind.tsig_algorithm, bind.tsig_secret)})
    started, cpu = time.perf_counter(), time.process_time()
    for zone in zones:
        messages = dns.query.xfr(bind.address, zone + ".", port=bind.port, keyring=keyring, timeout=10)
        dns.zone.from_xfr(messages)
    return time.perf_counter() - started, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def adopt(source: list[str], out: Path) -> tuple[float, float, str]:
    """(wall, CPU, stderr) of one ``siteplane adopt`` process reading ``source`` (its flags)."""
    started, cpu = time.perf_counter(), _children_cpu()
    command = [sys.executable, "-m", "siteplane", "adopt", *source, "-o", str(out), "--report", f"{out}.json"]
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
    parser.add_argument("--source", choices=("file", "bind"), default="file", help="zone files, or BIND by AXFR")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="siteplane-bench-adopt-") as work:
        directory = Path(work) / "zones"
        directory.mkdir()
        paths = write_zones(directory, args.zones)
        if args.source == "file":
            figures = _measure(args, Path(work), lambda: baseline(paths), ["--from-file", str(directory)])
        else:
            with running_bind() as bind:
                zones = [p.name.removesuffix(".zone") for p in paths]
                for zone, path in zip(zones, paths, strict=True):
                    bind.add_zone(zone, head=path.read_text())
                (Path(work) / "zones.txt").write_text("\n".join(zones) + "\n")
                (Path(work) / "tsig.secret").write_text(bind.tsig_secret)
                source = ["--from-axfr", f"{bind.address}:{bind.port}", "--zone-list", str(Path(work) / "zones.txt")]
                source += ["--tsig-name", bind.tsig_name, "--tsig-secret-file", str(Path(work) / "tsig.secret")]
                figures = _measure(args, Path(work), lambda: baseline_axfr(bind, zones), source)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _measure(
    args: argparse.Namespace, work: Path, base_run: Callable[[], tuple[float, float]], source: list[str]
) -> dict[str, object]:
    # Alternated, so that both see the same load on a shared machine; the best of each is kept.
    bases, runs = [], []
    for r in range(args.repeat):
        bases.append(base_run())
        runs.append(adopt(source, work / f"out{r}"))
    base, base_cpu = min(b[0] for b in bases), min(b[1] for b in bases)
    wall, cpu, stderr = min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]
    report = json.loads((work / "out0.json").read_text())
    progress = [line for line in stderr.splitlines() if line.startswith("adopted ")]
    what = "parsing the same files" if args.source == "file" else "transferring the same zones (AXFR)"
    print(f"progress lines: {len(progress)} (last: {progress[-1] if progress else '-'})")
    print(stderr.strip().splitlines()[-1])
    print(
        f"siteplane adopt ({args.source}): {args.zones} zones in {wall:.2f} s wall ({args.zones / wall:.0f} zones/s, "
        f"process start and imports included)\ndnspython alone {what}: {base:.2f} s ({args.zones / base:.0f} zones/s)"
        f"\nratio adopt / dnspython: {wall / base:.2f} wall, {cpu / base_cpu:.2f} CPU ({cpu:.2f} s / {base_cpu:.2f} s)"
    )
    return {
        "source": args.source,
        "zones": args.zones,
        "adopt_wall_s": round(wall, 3),
        "adopt_zones_per_s": round(args.zones / wall, 1),
        "dnspython_s": round(base, 3),
        "dnspython_zones_per_s": round(args.zones / base, 1),
        "ratio": round(wall / base, 2),
        "adopt_cpu_s": round(cpu, 3),
        "dnspython_cpu_s": round(base_cpu, 3),
        "cpu_ratio": round(cpu / base_cpu, 2),
        "objects": report["objects"],
        "findings": len(report["findings"]),
    }


if __name__ == "__main__":
    sys.exit(main())
