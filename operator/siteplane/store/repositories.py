"""Repositories: queries and staged changes over one session. They never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session, joinedload

from siteplane.domain.names import enclosing_zones
from siteplane.store.models import (
    Change,
    ChangeAuthor,
    Grant,
    GrantAdmission,
    History,
    NamespacePolicy,
    ObjectStatus,
    Record,
    RecordSetRow,
    Site,
    SiteDomain,
    Zone,
    utcnow,
)


def _below(column: Any, name: str) -> Any:
    """``column`` names something strictly below ``name`` (LIKE with its wildcards escaped)."""
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%.{escaped}", escape="\\")


def _generations(session: Session, model: type[Site | Record | Zone], uids: Iterable[str]) -> dict[str, int]:
    wanted = list(set(uids))
    if not wanted:
        return {}
    rows = session.execute(select(model.uid, model.generation).where(model.uid.in_(wanted)))
    return {uid: int(generation or 0) for uid, generation in rows}


def _live_generations(session: Session, model: type[Site | Record]) -> dict[str, int]:
    rows = session.execute(select(model.uid, model.generation).where(model.deleted_at.is_(None)))
    return {uid: int(generation or 0) for uid, generation in rows}


class _Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: Any) -> None:
        self.session.add(row)


class SiteRepository(_Repository):
    def by_uid(self, uid: str) -> Site | None:
        return (
            self.session.scalars(select(Site).where(Site.uid == uid).options(joinedload(Site.domains))).unique().first()
        )

    def live_claims(self, domains: Iterable[str]) -> list[SiteDomain]:
        """Every live claim on any of ``domains``, with its live Site."""
        domains = list(set(domains))
        if not domains:
            return []
        stmt = (
            select(SiteDomain)
            .join(Site)
            .where(SiteDomain.domain.in_(domains), SiteDomain.deleted_at.is_(None), Site.deleted_at.is_(None))
            .options(joinedload(SiteDomain.site))
        )
        return list(self.session.scalars(stmt))

    def live_domains_within(self, zone_name: str) -> list[str]:
        """Distinct live claimed domains at or below ``zone_name``."""
        stmt = (
            select(SiteDomain.domain)
            .join(Site)
            .where(
                SiteDomain.deleted_at.is_(None),
                Site.deleted_at.is_(None),
                or_(SiteDomain.domain == zone_name, _below(SiteDomain.domain, zone_name)),
            )
            .distinct()
        )
        return list(self.session.scalars(stmt))

    def owned_in_zone(self, zone_name: str) -> list[SiteDomain]:
        stmt = (
            select(SiteDomain)
            .join(Site)
            .where(
                SiteDomain.zone_name == zone_name,
                SiteDomain.is_owner.is_(True),
                SiteDomain.deleted_at.is_(None),
                Site.deleted_at.is_(None),
            )
            .options(joinedload(SiteDomain.site).joinedload(Site.domains))
        )
        return list(self.session.scalars(stmt).unique())

    def generations(self, uids: Iterable[str]) -> dict[str, int]:
        """uid -> generation for those of ``uids`` that are Sites, in one query."""
        return _generations(self.session, Site, uids)

    def live_generations(self) -> dict[str, int]:
        """uid -> generation stored of every live Site (what a restart resumes from)."""
        return _live_generations(self.session, Site)

    def count_live(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Site).where(Site.deleted_at.is_(None))) or 0)


class ZoneRepository(_Repository):
    def by_id(self, zone_id: int) -> Zone | None:
        return self.session.get(Zone, zone_id)

    def by_uid(self, uid: str) -> Zone | None:
        return self.session.scalars(select(Zone).where(Zone.uid == uid)).first()

    def generations(self, uids: Iterable[str]) -> dict[str, int]:
        """uid -> generation for those of ``uids`` that are DNSZones, in one query."""
        return _generations(self.session, Zone, uids)

    def owner_of(self, zone_name: str) -> Zone | None:
        stmt = select(Zone).where(Zone.zone_name == zone_name, Zone.is_owner.is_(True), Zone.deleted_at.is_(None))
        return self.session.scalars(stmt).first()

    def live_claims(self, zone_name: str) -> list[Zone]:
        return list(self.session.scalars(select(Zone).where(Zone.zone_name == zone_name, Zone.deleted_at.is_(None))))

    def owners_named(self, zone_names: Iterable[str]) -> list[Zone]:
        names = list(set(zone_names))
        if not names:
            return []
        stmt = select(Zone).where(Zone.zone_name.in_(names), Zone.is_owner.is_(True), Zone.deleted_at.is_(None))
        return list(self.session.scalars(stmt))

    def unsynced_named(self, zone_names: Iterable[str]) -> set[str]:
        """Those of ``zone_names`` whose live owner zone failed its last sync or never synced."""
        names = list(set(zone_names))
        if not names:
            return set()
        stmt = select(Zone.zone_name).where(
            Zone.zone_name.in_(names),
            Zone.is_owner.is_(True),
            Zone.deleted_at.is_(None),
            or_(Zone.sync_error.is_not(None), Zone.serial.is_(None)),
        )
        return set(self.session.scalars(stmt))

    def serving_owners_named(self, zone_names: Iterable[str]) -> list[Zone]:
        """Those of ``zone_names`` that have a live owner allowed to serve it (not refused by its parent)."""
        return [z for z in self.owners_named(zone_names) if not z.delegation_refused]

    def owners_around(self, zone_name: str) -> list[Zone]:
        """Every live owner zone at, above or below ``zone_name``: what decides who may serve there."""
        above = enclosing_zones(zone_name)
        stmt = select(Zone).where(
            Zone.is_owner.is_(True),
            Zone.deleted_at.is_(None),
            or_(Zone.zone_name.in_([zone_name, *above]), _below(Zone.zone_name, zone_name)),
        )
        return list(self.session.scalars(stmt))

    def served_named(self, zone_name: str) -> list[Zone]:
        """Every row of ``zone_name`` (live or deleted) whose zone siteplane has on a backend."""
        stmt = select(Zone).where(Zone.zone_name == zone_name, Zone.served.is_(True)).order_by(Zone.id)
        return list(self.session.scalars(stmt))

    def mark_checked(self, zone_ids: Sequence[int], when: datetime) -> None:
        """The zones were compared with their servers at ``when`` (drift probes, in one statement)."""
        if zone_ids:
            self.session.execute(update(Zone).where(Zone.id.in_(zone_ids)).values(checked_at=when))

    def names_to_check(self) -> list[str]:
        """Every zone name siteplane serves or must still remove from a backend: the drift checks' list."""
        serving = (Zone.is_owner.is_(True)) & Zone.deleted_at.is_(None) & Zone.delegation_refused.is_(False)
        stmt = select(Zone.zone_name).where(or_(serving, Zone.served.is_(True))).distinct()
        return sorted(self.session.scalars(stmt))

    def needing_work(self) -> list[str]:
        """Zone names whose last sync failed or never happened, or that must still leave a backend:
        what an operator (re)start syncs at once rather than at its next drift check."""
        live_owner = Zone.is_owner.is_(True) & Zone.deleted_at.is_(None)
        unsynced = (
            live_owner & Zone.delegation_refused.is_(False) & or_(Zone.sync_error.is_not(None), Zone.serial.is_(None))
        )
        leaving = Zone.served.is_(True) & or_(Zone.deleted_at.is_not(None), Zone.delegation_refused.is_(True))
        stmt = select(Zone.zone_name).where(or_(unsynced, leaving)).distinct()
        pending = (
            select(Zone.zone_name)
            .join(RecordSetRow, RecordSetRow.zone_id == Zone.id)
            .where(
                live_owner,
                or_(
                    RecordSetRow.deleted_at.is_(None)
                    & RecordSetRow.applied_serial.is_(None)
                    & RecordSetRow.rejected.is_(None),
                    RecordSetRow.deleted_at.is_not(None) & RecordSetRow.withdrawn_serial.is_(None),
                ),
            )
        )
        # Claims stored but never planned: a crash between a Site's transaction and its zone's sync.
        serving = select(Zone.zone_name).where(live_owner, Zone.delegation_refused.is_(False))
        unplanned_sites = (
            select(SiteDomain.zone_name)
            .join(Site)
            .where(
                SiteDomain.is_owner.is_(True),
                SiteDomain.deleted_at.is_(None),
                SiteDomain.publish_state.is_(None),
                Site.deleted_at.is_(None),
                Site.suspended.is_(False),
                SiteDomain.zone_name.in_(serving),
            )
        )
        unplanned_records = select(Record.zone_name).where(
            Record.deleted_at.is_(None), Record.state == "Pending", Record.zone_name.in_(serving)
        )
        names: set[str] = set()
        for query in (stmt, pending.distinct(), unplanned_sites.distinct(), unplanned_records.distinct()):
            names.update(name for name in self.session.scalars(query) if name)
        return sorted(names)

    def live_owners(self) -> list[Zone]:
        return list(self.session.scalars(select(Zone).where(Zone.is_owner.is_(True), Zone.deleted_at.is_(None))))

    def serving_owners(self) -> list[Zone]:
        """Every live owner zone its parent lets serve its name (``serving_owners_named``, all names)."""
        return [z for z in self.live_owners() if not z.delegation_refused]


class RecordRepository(_Repository):
    def by_uid(self, uid: str) -> Record | None:
        return self.session.scalars(select(Record).where(Record.uid == uid)).first()

    def generations(self, uids: Iterable[str]) -> dict[str, int]:
        """uid -> generation for those of ``uids`` that are DNSRecords, in one query."""
        return _generations(self.session, Record, uids)

    def live_generations(self) -> dict[str, int]:
        """uid -> generation stored of every live DNSRecord (what a restart resumes from)."""
        return _live_generations(self.session, Record)

    def live_in_zone(self, zone_name: str) -> list[Record]:
        stmt = select(Record).where(Record.zone_name == zone_name, Record.deleted_at.is_(None))
        return list(self.session.scalars(stmt))

    def count_live_in_zone(self, zone_name: str) -> int:
        stmt = (
            select(func.count()).select_from(Record).where(Record.zone_name == zone_name, Record.deleted_at.is_(None))
        )
        return int(self.session.scalar(stmt) or 0)


class RecordSetRepository(_Repository):
    def live_in_zone(self, zone_id: int) -> list[RecordSetRow]:
        stmt = select(RecordSetRow).where(RecordSetRow.zone_id == zone_id, RecordSetRow.deleted_at.is_(None))
        return list(self.session.scalars(stmt))

    def live_of_owner(self, owner_uid: str) -> list[RecordSetRow]:
        stmt = select(RecordSetRow).where(RecordSetRow.owner_uid == owner_uid, RecordSetRow.deleted_at.is_(None))
        return list(self.session.scalars(stmt))

    def live_of_owners(self, owner_uids: Iterable[str]) -> list[RecordSetRow]:
        uids = list(set(owner_uids))
        if not uids:
            return []
        stmt = select(RecordSetRow).where(RecordSetRow.owner_uid.in_(uids), RecordSetRow.deleted_at.is_(None))
        return list(self.session.scalars(stmt))

    def unapplied_in_zone(self, zone_id: int) -> list[RecordSetRow]:
        """Live rows of a zone neither applied nor rejected yet: what a sync has to mark."""
        stmt = select(RecordSetRow).where(
            RecordSetRow.zone_id == zone_id,
            RecordSetRow.deleted_at.is_(None),
            RecordSetRow.applied_serial.is_(None),
            RecordSetRow.rejected.is_(None),
        )
        return list(self.session.scalars(stmt))

    def withdrawing_in_zone(self, zone_id: int) -> list[RecordSetRow]:
        """Withdrawn rows of a zone whose removal from the server is not yet confirmed, oldest
        withdrawal first (so the latest wins in a dict)."""
        stmt = select(RecordSetRow).where(
            RecordSetRow.zone_id == zone_id,
            RecordSetRow.deleted_at.is_not(None),
            RecordSetRow.withdrawn_serial.is_(None),
        )
        return list(self.session.scalars(stmt.order_by(RecordSetRow.deleted_at, RecordSetRow.id)))

    def zones_withdrawing_for(self, owner_uid: str) -> set[str]:
        """Live zones from which a record set of ``owner_uid`` is withdrawn but not yet seen removed."""
        stmt = (
            select(Zone.zone_name)
            .join(RecordSetRow, RecordSetRow.zone_id == Zone.id)
            .where(
                RecordSetRow.owner_uid == owner_uid,
                RecordSetRow.deleted_at.is_not(None),
                RecordSetRow.withdrawn_serial.is_(None),
                Zone.deleted_at.is_(None),
            )
        )
        return set(self.session.scalars(stmt))

    def withdraw(self, rows: Sequence[RecordSetRow]) -> None:
        now = utcnow()
        for row in rows:
            row.deleted_at = now


class GrantRepository(_Repository):
    def live(self) -> list[Grant]:
        return list(self.session.scalars(select(Grant).where(Grant.deleted_at.is_(None))))

    def live_for(self, user: str, groups: Iterable[str], resource_type: str) -> list[Grant]:
        """Live grants on ``resource_type`` whose subject is ``user`` or one of ``groups``."""
        stmt = select(Grant).where(
            Grant.deleted_at.is_(None),
            Grant.resource_type == resource_type,
            or_(
                Grant.subject_kind.in_(("User", "ServiceAccount")) & (Grant.subject_name == user),
                (Grant.subject_kind == "Group") & Grant.subject_name.in_(list(groups)),
            ),
        )
        return list(self.session.scalars(stmt))

    def withdraw(self, rows: Sequence[Grant]) -> None:
        now = utcnow()
        for row in rows:
            row.deleted_at = now


class GrantAdmissionRepository(_Repository):
    def find(self, grant_uid: str, generation: int) -> GrantAdmission | None:
        stmt = select(GrantAdmission).where(
            GrantAdmission.grant_uid == grant_uid, GrantAdmission.generation == generation
        )
        return self.session.scalars(stmt).first()

    def record(self, grant_uid: str, generation: int, spec_digest: str, username: str, groups: list[str]) -> None:
        """Remember (or, for a re-admitted generation, replace) who wrote this generation."""
        row = self.find(grant_uid, generation)
        if row is None:
            row = GrantAdmission(grant_uid=grant_uid, generation=generation)
            self.session.add(row)
        row.spec_digest, row.username, row.groups, row.admitted_at = spec_digest, username, groups, utcnow()

    def forget(self, grant_uid: str) -> None:
        for row in self.session.scalars(select(GrantAdmission).where(GrantAdmission.grant_uid == grant_uid)):
            self.session.delete(row)


class HistoryRepository(_Repository):
    def record(self, **fields: Any) -> History:
        entry = History(**fields)
        self.session.add(entry)
        return entry

    def record_object(
        self,
        kind: str,
        row: Site | Record | Zone,
        action: str,
        zone_name: str | None = None,
        detail: dict[str, Any] | None = None,
        serial: int | None = None,
    ) -> History:
        """An entry about ``row``'s object, at the generation the row holds."""
        return self.record(
            object_kind=kind,
            object_namespace=row.namespace,
            object_name=row.name,
            object_uid=row.uid,
            generation=row.generation,
            zone_name=zone_name,
            action=action,
            detail=detail or {},
            serial=serial,
        )

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(History)) or 0)

    def for_object(self, uid: str) -> list[History]:
        return list(self.session.scalars(select(History).where(History.object_uid == uid).order_by(History.id)))


class ChangeAuthorRepository(_Repository):
    def record(self, object_uid: str, generation: int, operation: str, username: str) -> None:
        """Remember (or, for a change admitted again, replace) who made this change."""
        self.record_many([(object_uid, generation, operation, username)])

    def record_many(self, authors: Iterable[tuple[str, int, str, str]]) -> None:
        """``record`` for each (uid, generation, operation, username), the latest of a change
        winning: one query for the rows already there, whatever the batch's size."""
        latest = {(uid, generation, operation): username for uid, generation, operation, username in authors}
        if not latest:
            return
        stmt = select(ChangeAuthor).where(ChangeAuthor.object_uid.in_(sorted({uid for uid, _, _ in latest})))
        rows = {(r.object_uid, r.generation, r.operation): r for r in self.session.scalars(stmt)}
        now = utcnow()
        for (uid, generation, operation), username in latest.items():
            row = rows.get((uid, generation, operation))
            if row is None:
                row = ChangeAuthor(object_uid=uid, generation=generation, operation=operation)
                self.session.add(row)
            row.username, row.at = username, now


class ObjectStatusRepository(_Repository):
    def current(self, keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], ObjectStatus]:
        """The stored Ready of each (kind, namespace, name) among ``keys`` that has one."""
        wanted = set(keys)
        if not wanted:
            return {}
        names = {name for _, _, name in wanted}
        stmt = select(ObjectStatus).where(ObjectStatus.name.in_(names))
        return {
            (row.kind, row.namespace, row.name): row
            for row in self.session.scalars(stmt)
            if (row.kind, row.namespace, row.name) in wanted
        }

    def remove(self, kind: str, namespace: str, name: str) -> ObjectStatus | None:
        stmt = select(ObjectStatus).where(
            ObjectStatus.kind == kind, ObjectStatus.namespace == namespace, ObjectStatus.name == name
        )
        row = self.session.scalars(stmt).first()
        if row is not None:
            self.session.delete(row)
        return row


class ChangeRepository(_Repository):
    CHANNEL = "siteplane_changes"

    def append(self, change: Change) -> None:
        self.session.add(change)

    def after(self, change_id: int, limit: int = 1000) -> list[Change]:
        """Changes newer than ``change_id``, oldest first."""
        stmt = select(Change).where(Change.id > change_id).order_by(Change.id).limit(limit)
        return list(self.session.scalars(stmt))

    def latest_id(self) -> int:
        return int(self.session.scalar(select(func.max(Change.id))) or 0)

    def prune(self, before: datetime) -> int:
        """Forget changes made before ``before``, the newest always kept: ids must keep rising
        (SQLite would hand out the ids of an emptied table again, and a client resuming from an
        old id would then be given other changes than the ones it missed). How many went."""
        newest = self.latest_id()
        result = self.session.execute(delete(Change).where(Change.at < before, Change.id < newest))
        return int(getattr(result, "rowcount", 0) or 0)

    def announce(self) -> None:
        """Tell every listener (PostgreSQL LISTEN) that changes were appended, on commit."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": self.CHANNEL})


class NamespacePolicyRepository(_Repository):
    def set_gitops(self, namespace: str, gitops: bool) -> bool:
        """Store whether Git owns ``namespace``; True when that changed."""
        row = self.session.get(NamespacePolicy, namespace)
        if row is None:
            if not gitops:
                return False
            self.session.add(NamespacePolicy(namespace=namespace, gitops=True))
            return True
        if row.gitops == gitops:
            return False
        row.gitops = gitops
        return True

    def gitops(self, namespace: str) -> bool:
        row = self.session.get(NamespacePolicy, namespace)
        return bool(row and row.gitops)
