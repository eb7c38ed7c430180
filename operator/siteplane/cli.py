"""The ``siteplane`` command."""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from siteplane import __version__
from siteplane.adopt.command import add_parser as add_adopt
from siteplane.config import Config


def _config(args: argparse.Namespace) -> Config:
    try:
        return _configured(args)
    except ValueError as error:  # a setting refused: its one line says which and why, no traceback
        print(f"siteplane: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _configured(args: argparse.Namespace) -> Config:
    config = Config.from_env()
    overrides: dict[str, Any] = {
        "namespaces": tuple(getattr(args, "namespace", None) or ()) or None,
        "peering": getattr(args, "peering", None),
        "priority": getattr(args, "priority", None),
        "database_url": getattr(args, "database_url", None),
        "zone_dir": getattr(args, "zone_dir", None),
        "default_backend": getattr(args, "default_backend", None),
        "api_listen": getattr(args, "listen", None),
    }
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


def _run(args: argparse.Namespace) -> int:
    from siteplane.handlers.lifecycle import run
    from siteplane.store.database import make_engine
    from siteplane.store.migrate import SchemaOutOfDate, ensure_current

    config = _config(args)
    engine = make_engine(config.database_url)
    try:
        ensure_current(engine)  # fail fast, before talking to Kubernetes at all
    except SchemaOutOfDate as error:
        print(f"siteplane: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    run(config, verbose=args.verbose)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from siteplane.dashboard.serve import serve
    from siteplane.store.database import make_engine
    from siteplane.store.migrate import SchemaOutOfDate, ensure_current

    config = _config(args)
    engine = make_engine(config.database_url)
    try:
        ensure_current(engine)
    except SchemaOutOfDate as error:
        print(f"siteplane: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    serve(config)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from siteplane.store.database import redact
    from siteplane.store.migrate import head_revision, upgrade

    config = _config(args)
    upgrade(config.database_url)
    print(f"database {redact(config.database_url)} is at revision {head_revision()}")
    return 0


def _db_summary(args: argparse.Namespace) -> int:
    from siteplane.store.database import make_engine, redact
    from siteplane.store.summary import summarise

    config = _config(args)
    engine = make_engine(config.database_url)
    try:
        print(f"database {redact(config.database_url)}")
        print(summarise(engine))
    finally:
        engine.dispose()
    return 0


def _can(args: argparse.Namespace) -> int:
    from siteplane.rbac.rules import RESOURCE_TYPES
    from siteplane.reconcile.rbac_mirror import PermissionEvaluator
    from siteplane.store.database import make_engine
    from siteplane.store.unit_of_work import Store

    if args.resource not in RESOURCE_TYPES:
        print(f"siteplane: resource must be one of {', '.join(RESOURCE_TYPES)}", file=sys.stderr)
        return 2
    engine = make_engine(_config(args).database_url)
    try:
        allowed = PermissionEvaluator(Store(engine)).can(
            args.user, args.group, args.verb, args.resource, args.in_namespace, args.name
        )
    finally:
        engine.dispose()
    print("yes" if allowed else "no")
    return 0 if allowed else 1


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


def _priority(text: str) -> int:
    return random.randint(1, 32767) if text == "random" else int(text)


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL (default: $SITEPLANE_DATABASE_URL or "
        "sqlite:///siteplane.db); postgresql://... uses psycopg 3",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siteplane", description="hosted sites and DNS zones on Kubernetes")
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
    run.add_argument(
        "--priority",
        type=_priority,
        help="peering priority of this replica; each replica needs its own ('random': one in 1..32767)",
    )
    _database_option(run)
    run.add_argument("--zone-dir", help="directory of the embedded zone-file backend (default: ./zones)")
    run.add_argument("--default-backend", help="DNSBackend for zones that name none (default: embedded zone files)")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run.set_defaults(func=_run)

    serve = commands.add_parser("serve", help="run the dashboard API (and its page)")
    serve.add_argument("--listen", help="host:port to listen on (default: $SITEPLANE_API_LISTEN or 127.0.0.1:8080)")
    _database_option(serve)
    serve.set_defaults(func=_serve)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="migrate the database schema to this version")
    _database_option(db_upgrade)
    db_upgrade.set_defaults(func=_db_upgrade)
    db_summary = db_commands.add_parser("summary", help="what the database holds, as the dashboard sees it")
    _database_option(db_summary)
    db_summary.set_defaults(func=_db_summary)

    can = commands.add_parser(
        "can",
        help="may USER do VERB on RESOURCE? answered from the database's mirror of RBAC (exit 0: yes, 1: no)",
    )
    can.add_argument("user", help="user name (a ServiceAccount is system:serviceaccount:NAMESPACE:NAME)")
    can.add_argument("verb", help="get, list, watch, create, update, patch, delete, deletecollection")
    can.add_argument("resource", help="sites, dnszones, dnsrecords or accessgrants")
    can.add_argument("-n", "--namespace", dest="in_namespace", required=True, help="namespace of the object")
    can.add_argument("--name", help="the object's name (per-name grants apply only to named requests)")
    can.add_argument("-g", "--group", action="append", default=[], help="a group of the user (repeatable)")
    _database_option(can)
    can.set_defaults(func=_can)

    crds = commands.add_parser("crds", help="generate the CRDs from the API models")
    crds.add_argument("--out", default="crds", help="directory to write (default: crds)")
    crds.add_argument("--check", action="store_true", help="only check that the files are current")
    crds.set_defaults(func=_crds)
    add_adopt(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
