"""Helpers for end-to-end reconcile tests: manifests, waiting on conditions, reading zone files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dns.rdatatype
import dns.zone
import yaml
from sqlalchemy import func, select

from harness.controlplane.cluster import ControlPlane
from siteplane.store.database import make_engine
from siteplane.store.models import History, RecordSetRow, Site


def apply(plane: ControlPlane, namespace: str, docs: Iterable[dict[str, Any]]) -> None:
    plane.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(list(docs)))


def remove_webhook_configurations(plane: ControlPlane, name: str) -> None:
    """What kopf's managed mode created under ``name``: the checks and the finalizer mutation. Left
    behind, they would call a webhook that is gone for every later test's objects."""
    for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
        plane.kubectl("delete", kind, name, "--ignore-not-found", check=False)


def objects(plane: ControlPlane, namespace: str, plural: str) -> list[dict[str, Any]]:
    return list(json.loads(plane.kubectl("get", plural, "-n", namespace, "-o", "json").stdout)["items"])


def condition(obj: dict[str, Any], ctype: str = "Ready") -> dict[str, Any]:
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == ctype:
            return dict(cond)
    return {}


def wait_until(
    check: Callable[[], bool], timeout: float = 120, what: str = "condition", describe: Callable[[], str] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f": {describe()}" if describe else ""))
        time.sleep(0.5)


def wait_past_creation(plane: ControlPlane, namespace: str, resource: str) -> None:
    """Until the clock is a second past ``resource``'s creationTimestamp: an object created next is
    strictly younger (the timestamps have one-second resolution, and the oldest claim wins)."""
    created = plane.kubectl(
        "get", resource, "-n", namespace, "-o", "jsonpath={.metadata.creationTimestamp}"
    ).stdout.strip()
    moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    wait_until(lambda: datetime.now(UTC) - moment >= timedelta(seconds=1), 10, f"a second after {resource}")


def wait_all(
    plane: ControlPlane,
    namespace: str,
    plural: str,
    status: str = "True",
    reason: str | None = None,
    timeout: float = 180,
) -> list[dict[str, Any]]:
    """Wait until every object of ``plural`` has Ready=status for its current generation."""
    found: list[dict[str, Any]] = []

    def done() -> bool:
        nonlocal found
        found = objects(plane, namespace, plural)
        return bool(found) and all(
            condition(o).get("status") == status
            and (reason is None or condition(o).get("reason") == reason)
            and o.get("status", {}).get("observedGeneration") == o["metadata"]["generation"]
            for o in found
        )

    def describe() -> str:
        return "; ".join(
            f"{o['metadata']['name']}: {condition(o)}" for o in found if condition(o).get("status") != status
        )[:3000]

    wait_until(done, timeout, f"{plural} Ready={status}", describe)
    return found


def served(zone_dir: Path, zone_name: str) -> set[tuple[str, str, str]]:
    """(name, type, rdata) of every record in a zone file, parsed with dnspython; SOA left out."""
    zone = dns.zone.from_file(str(zone_dir / f"{zone_name}.zone"), origin=zone_name, relativize=True)
    found = set()
    for name, node in zone.nodes.items():
        for rdataset in node:
            if rdataset.rdtype == dns.rdatatype.SOA:
                continue
            for rdata in rdataset:
                found.add(
                    (
                        name.to_text(),
                        dns.rdatatype.to_text(rdataset.rdtype),
                        rdata.to_text(origin=zone.origin, relativize=False),
                    )
                )
    return found


def serial(zone_dir: Path, zone_name: str) -> int:
    zone = dns.zone.from_file(str(zone_dir / f"{zone_name}.zone"), origin=zone_name, relativize=True)
    return int(zone.get_soa().serial)


class Database:
    """Read-only looks into the application database, as the dashboard would."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def scalar(self, stmt: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar() or 0)

    def history_count(self) -> int:
        return self.scalar(select(func.count()).select_from(History))

    def live_sites(self) -> int:
        return self.scalar(select(func.count()).select_from(Site).where(Site.deleted_at.is_(None)))

    def deleted_sites(self) -> int:
        return self.scalar(select(func.count()).select_from(Site).where(Site.deleted_at.is_not(None)))

    def live_record_sets(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    RecordSetRow.zone_id,
                    RecordSetRow.name,
                    RecordSetRow.type,
                    RecordSetRow.rdata,
                    RecordSetRow.owner_name,
                ).where(RecordSetRow.deleted_at.is_(None))
            )
            return sorted((str(r.zone_id), r.name, r.type, tuple(r.rdata)) for r in rows)

    def close(self) -> None:
        self.engine.dispose()
