"""The ``siteplane`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from siteplane import __version__
from siteplane.config import OperatorConfig


def _run(args: argparse.Namespace) -> int:
    import kopf

    import siteplane.handlers  # noqa: F401 - registers the handlers

    base = OperatorConfig.from_env()
    config = OperatorConfig(
        namespaces=tuple(args.namespace) or base.namespaces,
        peering=args.peering or base.peering,
        priority=args.priority if args.priority is not None else base.priority,
        log_level="DEBUG" if args.verbose else base.log_level,
    )
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.FULL)
    kopf.run(
        clusterwide=not config.namespaces,
        namespaces=list(config.namespaces),
        memo=kopf.Memo(config=config),
    )
    return 0


def _crds(args: argparse.Namespace) -> int:
    from siteplane.api import crdgen

    out = Path(args.out)
    if args.check:
        stale = crdgen.stale(out)
        for path in stale:
            print(f"out of date: {path} (run `siteplane crds`)", file=sys.stderr)
        return 1 if stale else 0
    for path in crdgen.write_all(out):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siteplane", description=__doc__)
    parser.add_argument("--version", action="version", version=f"siteplane {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator")
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="serve only this namespace (repeatable); all namespaces by default",
    )
    run.add_argument("--peering", help="coordinate replicas through this kopf peering object (off by default)")
    run.add_argument("--priority", type=int, help="peering priority of this replica")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run.set_defaults(func=_run)

    crds = commands.add_parser("crds", help="generate the CRDs from the API models")
    crds.add_argument("--out", default="crds", help="directory to write (default: crds)")
    crds.add_argument("--check", action="store_true", help="only check that the files are current")
    crds.set_defaults(func=_crds)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
