"""The dashboard benchmark's world: N Sites in M zones bulk-loaded into the application database,
and real RBAC objects on the control plane whose grants the operator mirrors.

Filling 10,000 Sites through the operator takes many minutes, so the rows are written directly,
with the store's own models (SQLAlchemy bulk inserts of ``siteplane.store.models``), after the
real migrations. Their shape copies what the operator writes for a Site, a DNSZone and a DNSRecord
(checked against operator-made rows by ``shape_check``): per Site, its ``site_domains`` (every
fourth Site has a www alias), one ``record_sets`` row per domain, a ``stored`` and a
``dns-applied`` history entry per generation, its ``object_status`` and one ``changes`` row per
generation; a fifth of the Sites were updated once (generation 2: the old record set withdrawn, as
the operator leaves it). One Site in 50 lost its domain to an older claim (DomainConflict: Ready
False, nothing published). Per zone: its NS record set, one TXT DNSRecord, their history, status
and changes.

The grants are not bulk-loaded: ``rbac_docs`` makes RoleBindings (and per-name Roles) on the
control plane, many subjects over many namespaces, and the operator's RBAC mirror turns them into
grant rows as it would in any cluster. The benchmark's callers are test users whose tokens the
apiserver accepts: ``frank`` (groups site-team, dns-team) sees a few namespaces whole and some
Sites by name elsewhere; ``alice`` (site-team) the same namespaces.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from siteplane.store.database import make_engine
from siteplane.store.models import (
    Base,
    Change,
    History,
    ObjectStatus,
    Record,
    RecordSetRow,
    Site,
    SiteDomain,
    Zone,
)

RBAC_API = "rbac.authorization.k8s.io/v1"
NAME_SERVERS = ["ns1.hosting.example.net"]
PLANS = ("basic", "pro", "business")
CHUNK = 2000


@dataclass(frozen=True)
class Shape:
    """How the bulk world is laid out."""

    sites: int
    zones: int
    namespaces: int

    @property
    def sites_per_zone(self) -> int:
        return self.sites // self.zones

    @property
    def zones_per_namespace(self) -> int:
        return self.zones // self.namespaces

    def namespace_of_zone(self, zone: int) -> str:
        return f"t{zone // self.zones_per_namespace:02d}"

    def zone_of_site(self, site: int) -> int:
        return site // self.sites_per_zone

    def namespace_of_site(self, site: int) -> str:
        return self.namespace_of_zone(self.zone_of_site(site))

    def site_name(self, site: int) -> str:
        return f"s{site:05d}"

    def zone_name(self, zone: int) -> str:
        return f"z{zone}.bench.example"

    def tenant_namespaces(self) -> list[str]:
        return [f"t{k:02d}" for k in range(self.namespaces)]

    # What the benchmark's user sees: namespaces whole, and Sites by name elsewhere.
    def frank_namespaces(self) -> list[str]:
        return self.tenant_namespaces()[: max(1, self.namespaces // 10)]

    def frank_named(self) -> dict[str, list[str]]:
        """Per namespace, the Sites frank may get by name (5 each in the next tenth of the namespaces)."""
        spaces = self.tenant_namespaces()
        start = len(self.frank_namespaces())
        chosen: dict[str, list[str]] = {}
        for namespace in spaces[start : start + max(1, self.namespaces // 5)]:
            sites = [i for i in range(self.sites) if self.namespace_of_site(i) == namespace]
            chosen[namespace] = [self.site_name(i) for i in sites[:: max(1, len(sites) // 5)][:5]]
        return chosen


def _binding(namespace: str, name: str, role_kind: str, role: str, subjects: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API,
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": who} for kind, who in subjects],
    }


def _named_role(namespace: str, name: str, sites: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API,
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": [{"apiGroups": ["siteplane.io"], "resources": ["sites"], "resourceNames": sites, "verbs": ["get"]}],
    }


def rbac_docs(shape: Shape, live: list[str]) -> list[dict[str, Any]]:
    """RoleBindings and Roles over every tenant namespace (about 21 grant rows per namespace: staff,
    support people and an ops group namespace-wide, six customers each limited to four Sites by
    name), frank's and alice's slice, and the ``live`` namespaces the stream phase writes into."""
    docs: list[dict[str, Any]] = []
    for k, namespace in enumerate(shape.tenant_namespaces()):
        staff = [("Group", f"tenant-{k}-staff"), ("User", f"tenant-{k}-owner")]
        staff += [("User", f"tenant-{k}-support-{j}") for j in range(6)]
        docs.append(_binding(namespace, "site-viewers", "ClusterRole", "siteplane:site-viewer", staff))
        dns = [("Group", f"tenant-{k}-dns"), ("User", f"tenant-{k}-owner"), ("User", f"tenant-{k}-hostmaster")]
        docs.append(_binding(namespace, "dns-viewers", "ClusterRole", "siteplane:dns-viewer", dns))
        docs.append(_binding(namespace, "ops", "ClusterRole", "siteplane:site-editor", [("Group", "ops")]))
        sites = [shape.site_name(i) for i in range(shape.sites) if shape.namespace_of_site(i) == namespace]
        for c in range(6):
            mine = sites[c * 4 : c * 4 + 4]
            if mine:
                docs.append(_named_role(namespace, f"customer-{c}", mine))
                docs.append(_binding(namespace, f"customer-{c}", "Role", f"customer-{c}", [("User", f"cust-{k}-{c}")]))
    for namespace in [*shape.frank_namespaces(), *live]:
        docs.append(_binding(namespace, "site-team", "ClusterRole", "siteplane:site-viewer", [("Group", "site-team")]))
        docs.append(_binding(namespace, "dns-team", "ClusterRole", "siteplane:dns-viewer", [("Group", "dns-team")]))
    for namespace, names in shape.frank_named().items():
        docs.append(_named_role(namespace, "frank-sites", names))
        docs.append(_binding(namespace, "frank-sites", "Role", "frank-sites", [("User", "frank")]))
    return docs


def frank_sees(shape: Shape) -> int:
    """How many Sites frank may get, by construction."""
    whole = set(shape.frank_namespaces())
    return sum(shape.namespace_of_site(i) in whole for i in range(shape.sites)) + sum(
        len(v) for v in shape.frank_named().values()
    )


class _Ids:
    def __init__(self) -> None:
        self.last: Counter[str] = Counter()

    def next(self, table: str) -> int:
        self.last[table] += 1
        return self.last[table]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_rows(shape: Shape, now: datetime | None = None) -> dict[type[Base], list[dict[str, Any]]]:
    """Every row of the bulk world, by model, ids assigned (so rows can refer to each other)."""
    now = now or datetime.now(UTC)
    begin = now - timedelta(days=30)
    step = timedelta(days=29) / max(1, shape.sites + shape.zones)
    ids = _Ids()
    rows: dict[type[Base], list[dict[str, Any]]] = {
        m: [] for m in (Zone, Record, Site, SiteDomain, RecordSetRow, History, ObjectStatus, Change)
    }
    # Changes are appended in time order, as the one status writer does: collected, then sorted.
    changes: list[dict[str, Any]] = []
    moment = begin
    zone_ids: list[int] = []
    for j in range(shape.zones):
        moment += step
        namespace, name, zone_name = shape.namespace_of_zone(j), f"z{j}", shape.zone_name(j)
        zid, zuid, serial = ids.next("zones"), str(uuid.uuid4()), int(moment.timestamp())
        zone_ids.append(zid)
        aliases = (shape.sites_per_zone + 3) // 4
        rows[Zone].append(
            dict(
                id=zid,
                uid=zuid,
                namespace=namespace,
                name=name,
                created=_stamp(moment),
                generation=1,
                updated_at=moment,
                deleted_at=None,
                zone_name=zone_name,
                is_owner=True,
                backend=None,
                default_ttl=3600,
                soa={},
                name_servers=NAME_SERVERS,
                publishers=[],
                deletion_policy="Delete",
                serial=serial,
                record_count=2 + shape.sites_per_zone + aliases,
                synced_at=moment,
                sync_error=None,
                management="Shared",
                drift_corrections=0,
                checked_at=now,
                sync_error_reason=None,
                delegations=[],
                delegation_refused=False,
                served=True,
                served_backend=None,
            )
        )
        ruid = str(uuid.uuid4())
        rows[Record].append(
            dict(
                id=ids.next("dns_records"),
                uid=ruid,
                namespace=namespace,
                name=f"r{j}",
                created=_stamp(moment),
                generation=1,
                updated_at=moment,
                deleted_at=None,
                zone_name=zone_name,
                record_name="_bench",
                type="TXT",
                ttl=None,
                rdata=[f'"zone {j}"'],
                state="Published",
            )
        )
        for kind, oname, ouid, rs_name, rs_type, rdata in (
            ("DNSZone", name, zuid, "@", "NS", [f"{ns}." for ns in NAME_SERVERS]),
            ("DNSRecord", f"r{j}", ruid, "_bench", "TXT", [f'"zone {j}"']),
        ):
            rows[RecordSetRow].append(
                dict(
                    id=ids.next("record_sets"),
                    zone_id=zid,
                    name=rs_name,
                    type=rs_type,
                    ttl=3600,
                    rdata=rdata,
                    owner_kind=kind,
                    owner_namespace=namespace,
                    owner_name=oname,
                    owner_uid=ouid,
                    owner_generation=1,
                    applied_serial=serial,
                    rejected=None,
                    withdrawn_serial=None,
                    updated_at=moment,
                    deleted_at=None,
                )
            )
            stored = {"owner": True} if kind == "DNSZone" else {"name": rs_name, "type": rs_type, "rdata": rdata}
            published = [f"{rs_name}/{rs_type} 3600 {' '.join(rdata)}"]
            _history(rows, ids, moment, kind, namespace, oname, ouid, 1, zone_name, "stored", stored, None)
            _history(
                rows,
                ids,
                moment,
                kind,
                namespace,
                oname,
                ouid,
                1,
                zone_name,
                "dns-applied",
                {"published": published},
                serial,
            )
            reason = "Served" if kind == "DNSZone" else "Published"
            message = f"serial {serial}" if kind == "DNSZone" else "1 record set(s) served"
            _status(rows, ids, moment, kind, namespace, oname, ouid, "True", reason, message, 1)
            changes.append(_change(moment, kind, namespace, oname, ouid, "True", reason, 1))
    for i in range(shape.sites):
        moment += step
        j = shape.zone_of_site(i)
        namespace, name, zone_name = shape.namespace_of_site(i), shape.site_name(i), shape.zone_name(j)
        sid, suid = ids.next("sites"), str(uuid.uuid4())
        conflict = i % 50 == 49  # claims the domain of the Site before it, which is older: refused
        primary = f"s{i - 1 if conflict else i}.{zone_name}"
        domains = [primary] + ([f"www.s{i}.{zone_name}"] if i % 4 == 0 and not conflict else [])
        updated = i % 5 == 2 and not conflict
        generation = 2 if updated else 1
        address = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        rows[Site].append(
            dict(
                id=sid,
                uid=suid,
                namespace=namespace,
                name=name,
                created=_stamp(moment),
                generation=generation,
                updated_at=moment,
                deleted_at=None,
                primary_domain=primary,
                customer=f"customer-{i % 997}",
                plan=PLANS[i % len(PLANS)],
                suspended=False,
                ttl=None,
                ipv4=[address],
                ipv6=[],
                cname=None,
            )
        )
        for position, domain in enumerate(domains):
            rows[SiteDomain].append(
                dict(
                    id=ids.next("site_domains"),
                    site_id=sid,
                    domain=domain,
                    position=position,
                    zone_name=zone_name,
                    is_owner=not conflict,
                    state="DomainConflict" if conflict else "Owned",
                    publish_state=None if conflict else "Published",
                    deleted_at=None,
                )
            )
        history_domains = {"domains": domains, "suspended": False}
        serial = int(moment.timestamp())
        for gen in range(1, generation + 1):
            _history(rows, ids, moment, "Site", namespace, name, suid, gen, None, "stored", history_domains, None)
            if conflict:
                continue
            value = address if gen == generation else f"10.255.{i // 256 % 256}.{i % 256}"
            published = []
            for domain in domains:
                label = domain[: -len(zone_name) - 1]
                withdrawn = gen < generation
                rows[RecordSetRow].append(
                    dict(
                        id=ids.next("record_sets"),
                        zone_id=zone_ids[j],
                        name=label,
                        type="A",
                        ttl=3600,
                        rdata=[value],
                        owner_kind="Site",
                        owner_namespace=namespace,
                        owner_name=name,
                        owner_uid=suid,
                        owner_generation=gen,
                        applied_serial=serial + gen - 1,
                        rejected=None,
                        withdrawn_serial=serial + gen if withdrawn else None,
                        updated_at=moment,
                        deleted_at=moment if withdrawn else None,
                    )
                )
                published.append(f"{label}/A 3600 {value}")
            _history(
                rows,
                ids,
                moment,
                "Site",
                namespace,
                name,
                suid,
                gen,
                zone_name,
                "dns-applied",
                {"published": published},
                serial + gen - 1,
            )
            changes.append(
                _change(moment + timedelta(seconds=gen), "Site", namespace, name, suid, "True", "Published", gen)
            )
        if conflict:
            message = f"{primary} is claimed by an older Site"
            _status(rows, ids, moment, "Site", namespace, name, suid, "False", "DomainConflict", message, 1)
            changes.append(_change(moment, "Site", namespace, name, suid, "False", "DomainConflict", 1))
        else:
            message = f"{len(domains)} domain(s) served in {zone_name}"
            _status(rows, ids, moment, "Site", namespace, name, suid, "True", "Published", message, generation)
    changes.sort(key=lambda c: c["at"])
    rows[Change] = [{**c, "id": k} for k, c in enumerate(changes, start=1)]
    return rows


def _history(
    rows: dict[type[Base], list[dict[str, Any]]],
    ids: _Ids,
    at: datetime,
    kind: str,
    namespace: str,
    name: str,
    uid: str,
    generation: int,
    zone: str | None,
    action: str,
    detail: dict[str, Any],
    serial: int | None,
) -> None:
    rows[History].append(
        dict(
            id=ids.next("history"),
            at=at,
            object_kind=kind,
            object_namespace=namespace,
            object_name=name,
            object_uid=uid,
            generation=generation,
            zone_name=zone,
            action=action,
            detail=detail,
            serial=serial,
        )
    )


def _status(
    rows: dict[type[Base], list[dict[str, Any]]],
    ids: _Ids,
    at: datetime,
    kind: str,
    namespace: str,
    name: str,
    uid: str,
    ready: str,
    reason: str,
    message: str,
    generation: int,
) -> None:
    rows[ObjectStatus].append(
        dict(
            id=ids.next("object_status"),
            kind=kind,
            namespace=namespace,
            name=name,
            uid=uid,
            ready=ready,
            reason=reason,
            message=message,
            observed_generation=generation,
            updated_at=at,
        )
    )


def _change(
    at: datetime, kind: str, namespace: str, name: str, uid: str, ready: str, reason: str, generation: int
) -> dict[str, Any]:
    return dict(
        at=at,
        kind=kind,
        namespace=namespace,
        name=name,
        uid=uid,
        ready=ready,
        reason=reason,
        observed_generation=generation,
    )


def bulk_load(url: str, shape: Shape) -> dict[str, int]:
    """Insert the bulk world into the (migrated, empty) database at ``url``; rows per table."""
    rows = build_rows(shape)
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            for model, batch in rows.items():
                for start in range(0, len(batch), CHUNK):
                    session.execute(sa.insert(model), batch[start : start + CHUNK])
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # Explicit ids leave the sequences behind: the operator's own inserts must come after.
                for model, batch in rows.items():
                    table = model.__table__.name  # type: ignore[attr-defined]
                    connection.execute(
                        sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"), {"n": len(batch)}
                    )
                # Autovacuum would analyze the new rows within a minute; the benchmark does not wait.
                connection.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()
    return {model.__table__.name: len(batch) for model, batch in rows.items()}  # type: ignore[attr-defined]


def rows_of(url: str, kind: str, namespace: str, name: str, uid: str) -> dict[str, int]:
    """How many rows of each table belong to one object: what ``shape_check`` compares."""
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            count: dict[str, Any] = {
                "site_domains": sa.select(sa.func.count())
                .select_from(SiteDomain)
                .join(Site, Site.id == SiteDomain.site_id)
                .where(Site.uid == uid),
                "record_sets": sa.select(sa.func.count()).where(RecordSetRow.owner_uid == uid),
                "live_record_sets": sa.select(sa.func.count()).where(
                    RecordSetRow.owner_uid == uid, RecordSetRow.deleted_at.is_(None)
                ),
                "history": sa.select(sa.func.count()).where(History.object_uid == uid),
                "object_status": sa.select(sa.func.count()).where(ObjectStatus.uid == uid),
                "changes": sa.select(sa.func.count()).where(Change.uid == uid),
            }
            found = {table: int(c.execute(stmt).scalar() or 0) for table, stmt in count.items()}
            actions = c.execute(
                sa.select(History.action, sa.func.count()).where(History.object_uid == uid).group_by(History.action)
            ).all()
            found.update({f"history:{action}": int(n) for action, n in actions})
            return found
    finally:
        engine.dispose()
