"""``siteplane adopt``: the command's options, credentials and exit status; the work is in run.py."""

from __future__ import annotations

import argparse
import os
import sys
from ipaddress import ip_network
from pathlib import Path

from siteplane.adopt.convert import AdoptOptions
from siteplane.adopt.output import report, write_report
from siteplane.adopt.run import adopt_all
from siteplane.adopt.sites import Network
from siteplane.adopt.sources import FileSource, Source, SourceError, axfr_source, powerdns_source

TSIG_SECRET_ENV = "SITEPLANE_TSIG_SECRET"
POWERDNS_KEY_ENV = "SITEPLANE_POWERDNS_API_KEY"
REPORT_FILE = "adopt-report.json"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    adopt = commands.add_parser(
        "adopt",
        help="write the manifests (DNSZone, Sites, DNSRecords) describing existing zones exactly",
        description="Read existing zones and write the manifests that describe them, so that applying them "
        "changes nothing on the server. What cannot be described is reported on stderr and in the report file. "
        "Exit status: 0 every zone adopted, 1 some zone not adopted, 2 bad usage.",
    )
    source = adopt.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-file", type=Path, metavar="PATH", help="a zone file, or a directory of them")
    source.add_argument("--from-axfr", metavar="HOST[:PORT]", help="a primary server, read by zone transfer")
    source.add_argument("--from-powerdns", metavar="URL", help="a PowerDNS API, e.g. http://127.0.0.1:8081")
    adopt.add_argument(
        "--zone", action="append", default=[], help="a zone to read (repeatable); for one file, its zone"
    )
    adopt.add_argument("--zone-list", type=Path, help="a file of zone names to read, one a line")
    adopt.add_argument("--tsig-name", help="TSIG key name for --from-axfr")
    adopt.add_argument("--tsig-algorithm", default="hmac-sha256", help="TSIG algorithm (default hmac-sha256)")
    adopt.add_argument("--tsig-secret-file", type=Path, help=f"file holding the TSIG secret (or ${TSIG_SECRET_ENV})")
    adopt.add_argument("--api-key-file", type=Path, help=f"file holding the PowerDNS API key (or ${POWERDNS_KEY_ENV})")
    adopt.add_argument("--server-id", default="localhost", help="PowerDNS server id (default localhost)")
    adopt.add_argument("-n", "--namespace", help="metadata.namespace of every object (default: none written)")
    adopt.add_argument("--backend", help="spec.backend of the DNSZones (default: the operator's default backend)")
    adopt.add_argument(
        "--site-addresses",
        metavar="CIDR,...",
        help="the hosting company's networks: names whose A/AAAA all point there become Sites",
    )
    adopt.add_argument(
        "--allow-changes",
        action="store_true",
        help="adopt zones whose settings cannot be described exactly too (the first sync will change them)",
    )
    adopt.add_argument("-o", "--out", type=Path, help="write a directory per zone here (default: one stream on stdout)")
    # Not inside --out by default: `kubectl apply -R -f OUT` reads every .json there as a manifest.
    adopt.add_argument(
        "--report", type=Path, default=Path(REPORT_FILE), help=f"the findings as JSON (default: {REPORT_FILE})"
    )
    adopt.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        source = _source(args)
        options = AdoptOptions(
            namespace=args.namespace,
            backend=args.backend,
            site_networks=_networks(args.site_addresses),
            allow_changes=args.allow_changes,
        )
    except (SourceError, ValueError, OSError) as error:
        print(f"siteplane adopt: {error}", file=sys.stderr)
        return 2
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    result = adopt_all(source, options, args.out, None if args.out else sys.stdout)
    for finding in result.findings:
        print(f"siteplane adopt: {finding}", file=sys.stderr)
    data = report(result.adoptions, result.failures)
    path = args.report
    write_report(data, path)
    zones, objects = data["zones"], data["objects"]
    print(
        f"siteplane adopt: {zones['adopted']}/{zones['read']} zones adopted ({objects['sites']} Sites, "
        f"{objects['dnsrecords']} DNSRecords) in {result.seconds:.2f} s; {len(data['findings'])} findings in {path}",
        file=sys.stderr,
    )
    return 0 if zones["notAdopted"] == 0 else 1


def _source(args: argparse.Namespace) -> Source:
    names = [z.strip().rstrip(".").lower() for z in args.zone]
    if args.zone_list is not None:
        names += [line.strip().rstrip(".").lower() for line in args.zone_list.read_text().splitlines()]
    names = [n for n in dict.fromkeys(names) if n and not n.startswith("#")]
    if args.from_file is not None:
        if args.zone_list is not None or len(names) > 1:
            raise SourceError("--from-file takes at most one --zone (the zone of a single file)")
        return FileSource.at(args.from_file, names[0] if names else None)
    if not names:
        raise SourceError("name the zones to read from the server with --zone or --zone-list")
    if args.from_axfr is not None:
        host, _, port = args.from_axfr.rpartition(":") if args.from_axfr.count(":") == 1 else (args.from_axfr, "", "")
        if not args.tsig_name:
            raise SourceError(
                f"--from-axfr needs --tsig-name and the secret (--tsig-secret-file or ${TSIG_SECRET_ENV})"
            )
        secret = _secret(args.tsig_secret_file, TSIG_SECRET_ENV, "TSIG secret")
        return axfr_source(host, int(port or 53), args.tsig_name, secret, args.tsig_algorithm, names)
    key = _secret(args.api_key_file, POWERDNS_KEY_ENV, "PowerDNS API key")
    return powerdns_source(args.from_powerdns, key, args.server_id, names)


def _secret(path: Path | None, env: str, what: str) -> str:
    """From a file or the environment, never the command line (where ps would show it)."""
    value = path.read_text().strip() if path is not None else os.environ.get(env, "").strip()
    if not value:
        raise SourceError(f"no {what}: give a file or set ${env}")
    return value


def _networks(text: str | None) -> tuple[Network, ...]:
    return tuple(ip_network(part.strip()) for part in (text or "").split(",") if part.strip())
