"""Everything the operator's handlers call, wired together once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from siteplane.config import OperatorConfig
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.accessgrants import AccessGrantService
from siteplane.reconcile.backends import BackendResolver
from siteplane.reconcile.dnsbackends import DNSBackendService
from siteplane.reconcile.placement import PlacementLock
from siteplane.reconcile.publishing_guard import PublishingGuard
from siteplane.reconcile.rbac_mirror import PermissionEvaluator, RbacMirror
from siteplane.reconcile.records import RecordService
from siteplane.reconcile.sites import SiteService
from siteplane.reconcile.status import StatusReport
from siteplane.reconcile.zone_sync import ZoneSynchronizer
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.reconcile.zones import ZoneService
from siteplane.store.database import make_engine
from siteplane.store.migrate import ensure_current
from siteplane.store.unit_of_work import Store


@dataclass
class Services:
    store: Store
    backends: BackendResolver
    writer: ZoneWriter
    sites: SiteService
    zones: ZoneService
    records: RecordService
    dnsbackends: DNSBackendService
    rbac_mirror: RbacMirror
    permissions: PermissionEvaluator
    guard: PublishingGuard
    accessgrants: AccessGrantService | None = None
    """Needs the API server (SubjectAccessReviews, Roles): the handlers add it at start-up."""

    def report_for(self, ref: ObjectRef) -> StatusReport | None:
        """The current status of any object, from the database (for objects a change affected)."""
        if ref.kind == "Site":
            return self.sites.report_for(ref.uid)
        if ref.kind == "DNSZone":
            return self.zones.report_for(ref.uid)
        if ref.kind == "DNSRecord":
            return self.records.report_for(ref.uid)
        if ref.kind == "DNSBackend":
            return self.dnsbackends.report_for(ref.name)
        return None

    def close(self) -> None:
        self.store.engine.dispose()


def build_services(config: OperatorConfig, check_schema: bool = True) -> Services:
    engine = make_engine(config.database_url)
    if check_schema:
        ensure_current(engine)
    store = Store(engine)
    backends = BackendResolver(Path(config.zone_dir), config.zone_reload_command, config.default_backend)
    writer = ZoneWriter(ZoneSynchronizer(store, backends).sync)
    placement = PlacementLock()
    return Services(
        store=store,
        backends=backends,
        writer=writer,
        sites=SiteService(store, writer, placement),
        zones=ZoneService(store, writer, backends, placement),
        records=RecordService(store, writer),
        dnsbackends=DNSBackendService(store, writer, backends),
        rbac_mirror=RbacMirror(store),
        permissions=PermissionEvaluator(store),
        guard=PublishingGuard(store),
    )
