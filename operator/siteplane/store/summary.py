"""A plain-text summary of the application database: what the dashboard would show."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from siteplane.store.models import History, Record, RecordSetRow, Site, SiteDomain, Zone


def summarise(engine: Engine) -> str:
    lines: list[str] = []
    with Session(engine) as session:

        def count(model: type, *where: object) -> int:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]

        lines.append(
            f"sites: {count(Site, Site.deleted_at.is_(None))} live, {count(Site, Site.deleted_at.is_not(None))} deleted"
            f"; dns records: {count(Record, Record.deleted_at.is_(None))} live"
            f"; history entries: {count(History)}"
        )
        lines.append(f"{'ZONE':<32} {'NAMESPACE':<16} {'SERIAL':>12} {'RECORD SETS':>12}  STATE")
        for zone in session.scalars(select(Zone).where(Zone.deleted_at.is_(None)).order_by(Zone.zone_name)):
            state = (
                "serving"
                if zone.is_owner and not zone.sync_error
                else ("conflict" if not zone.is_owner else f"error: {zone.sync_error}")
            )
            sets = count(RecordSetRow, RecordSetRow.zone_id == zone.id, RecordSetRow.deleted_at.is_(None))
            lines.append(f"{zone.zone_name:<32} {zone.namespace:<16} {zone.serial or 0:>12} {sets:>12}  {state}")
        lines.append(f"{'DOMAIN':<32} {'SITE':<28} {'ZONE':<24} STATE")
        rows = session.execute(
            select(
                SiteDomain.domain,
                Site.namespace,
                Site.name,
                SiteDomain.zone_name,
                SiteDomain.state,
                SiteDomain.publish_state,
                Site.suspended,
            )
            .join(Site)
            .where(SiteDomain.deleted_at.is_(None), Site.deleted_at.is_(None))
            .order_by(SiteDomain.domain, Site.namespace, Site.name)
        )
        for domain, namespace, name, zone_name, state, published, suspended in rows:
            shown = "Suspended" if suspended and state == "Owned" else (published or state)
            lines.append(f"{domain:<32} {namespace + '/' + name:<28} {zone_name or '-':<24} {shown}")
    return "\n".join(lines)
