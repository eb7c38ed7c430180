"""The operator as one typed object, built in one function: everything the kopf handlers call.

build(config)  the database (schema checked), the API client, the zone writer, the status
               writer, a reconciler per kind and the controller that runs them
start()        knows every DNSBackend, counts the objects to serve, starts the loops, and
               syncs the zones a previous run left with work to do; with peering, every loop
               that writes waits until this replica leads (leadership.py)
stop()         ends the loops and says what was done
readiness()    why the replica should not get the webhook's traffic yet (the probe server asks)

The operator also answers the scrapes' questions (metrics.OperatorState): whether it leads, the
work queue by kind, the objects by their Ready condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from siteplane import metrics
from siteplane.api.kinds import BY_KIND
from siteplane.config import Config
from siteplane.domain.access import Author
from siteplane.domain.objects import ObjectRef
from siteplane.errors import SiteplaneError
from siteplane.kube.access_reviews import SubjectAccessReviews
from siteplane.kube.client import KubeClient, load_credentials
from siteplane.kube.key_secrets import KeySecrets
from siteplane.kube.objects import CustomObjects
from siteplane.kube.peering import PeeringObjects
from siteplane.kube.rbac_objects import RbacObjects
from siteplane.kube.secrets import SecretReader
from siteplane.rbac.mirror import GrantRow
from siteplane.reconcile import admission
from siteplane.reconcile.accessgrants import AccessGrants
from siteplane.reconcile.authors import AuthorLog, Authorship
from siteplane.reconcile.backends import BackendResolver
from siteplane.reconcile.controller import Controller, StartupProgress
from siteplane.reconcile.dnsbackends import DNSBackends
from siteplane.reconcile.drift import check_for_drift
from siteplane.reconcile.leadership import Leadership, Peers, follow_peering
from siteplane.reconcile.observed import Key, ObjectCache
from siteplane.reconcile.outcome import Reconciler
from siteplane.reconcile.placement import PlacementLock
from siteplane.reconcile.rbac_mirror import MirrorLoop, RbacMirror
from siteplane.reconcile.records import Records
from siteplane.reconcile.signing_keys import SigningKeys
from siteplane.reconcile.sites import Sites
from siteplane.reconcile.status import StatusReport, ready_status, record_status, site_status, zone_status
from siteplane.reconcile.status_writer import Reporter, StatusWriter
from siteplane.reconcile.store_batch import StoreBatcher
from siteplane.reconcile.zone_sync import SyncResult, ZoneSynchronizer
from siteplane.reconcile.zone_views import ZoneViews
from siteplane.reconcile.zone_writer import ZoneWriter
from siteplane.reconcile.zones import Zones
from siteplane.store.database import make_engine, redact
from siteplane.store.facts import load_records, load_sites, load_zones
from siteplane.store.migrate import ensure_current
from siteplane.store.unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)
SERVED_KINDS = ("sites", "dnszones", "dnsrecords", "accessgrants")
PEERING_CHECK_SECONDS = 2.0
"""How often a replica reads the peering object to learn whether it leads: the most this adds to a failover."""
DATABASE_CHECK_SECONDS = 5.0
"""How long readiness trusts the database's last answer."""
GITOPS_ANNOTATION = "siteplane.io/managed-by-gitops"
"""On a Namespace, "true": Git owns the objects there, so the dashboard API refuses to change them."""


@dataclass
class Operator:
    config: Config
    store: Store
    kube: KubeClient
    cache: ObjectCache
    backends: BackendResolver
    writer: ZoneWriter
    status: StatusWriter
    controller: Controller
    accessgrants: AccessGrants
    dnsbackends: DNSBackends
    mirror: MirrorLoop
    authors: AuthorLog
    leadership: Leadership
    zone_views: ZoneViews
    identity: str | None = None  # the peering identity kopf runs with (None: no peering)
    started: bool = False
    _database_ok: tuple[float, bool] = (0.0, False)  # (when checked, answered)
    _gitops: dict[str, bool] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)  # the loops, for as long as the operator runs
    _short: set[asyncio.Task[None]] = field(default_factory=set)  # one-off writes in flight

    # -- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        objects = self.controller.objects
        # Know (and check) every DNSBackend before the first zone is synced, so none waits for a retry.
        for body in await objects.list("dnsbackends"):
            name = body["metadata"]["name"]
            with contextlib.suppress(ValueError):  # an invalid spec: its own reconcile says so
                await self.dnsbackends.check(name, body.get("spec") or {})
        self.controller.progress = StartupProgress(await objects.count(SERVED_KINDS, self.config.namespaces))
        try:
            self.controller.resume(await asyncio.to_thread(self.store.read, _stored_generations))
        except SiteplaneError as error:  # then every object is reconciled, as on a first start
            log.warning("start-up: cannot read what the previous run stored: %s", error)
        if self.config.peering is not None and self.identity is not None:
            self._spawn(self._follow_peering(self.config.peering, self.identity), "leadership")
        self._spawn(self.status.run(), "status-writer")
        self.controller.start()
        if self.config.drift_interval > 0:
            names = lambda: self.store.read(lambda uow: uow.zones.names_to_check())  # noqa: E731
            interval, gate = self.config.drift_interval, self.leadership.wait_active
            self._spawn(check_for_drift(names, self.writer.check, interval, gate), "drift-checks")
        if not 0 < self.config.drift_interval < self.config.dnssec_resign_window:
            log.warning(
                "drift checks every %ss: signed zone files are re-signed only by them, so their signatures "
                "may lapse; keep SITEPLANE_DRIFT_INTERVAL well below SITEPLANE_DNSSEC_RESIGN_WINDOW (%ss)",
                self.config.drift_interval or "never",
                self.config.dnssec_resign_window,
            )
        if self.config.backend_recheck_interval > 0:
            self._spawn(self._recheck_backends(self.config.backend_recheck_interval), "backend-rechecks")
        if self.config.changes_keep_seconds > 0:
            self._spawn(self._prune_changes(self.config.changes_keep_seconds), "change-feed-pruning")
        # What a previous run left half done (a crash between a commit and a sync, a failed zone).
        for zone in await asyncio.to_thread(self.store.read, lambda uow: uow.zones.needing_work()):
            self.writer.request(zone)
        self.started = True
        metrics.watch_operator(self)
        log.info(
            "siteplane started: database %s, %d DNSBackend(s) known, drift checks every %ss%s",
            redact(self.config.database_url),
            len(self.backends.known()),
            self.config.drift_interval or "never",
            "" if self.leadership.is_active() else "; standby until the peering says this replica leads",
        )

    async def stop(self) -> None:
        metrics.watch_operator(None)
        await self.controller.stop()
        await self.mirror.stop()
        await self.authors.close()
        self.writer.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # One line each for operators and the benchmark: what this run did.
        log.info("backend writes this run: %s", self.backends.write_counts())
        log.info("zone syncs this run: %d for %d requests", self.writer.stats.syncs, self.writer.stats.requests)
        await self.kube.close()
        self.store.engine.dispose()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        task.add_done_callback(_report_death)
        self._tasks.append(task)

    async def _follow_peering(self, name: str, identity: str) -> None:
        peering = PeeringObjects(self.kube)
        where: tuple[str | None, ...] = self.config.namespaces or (None,)

        async def read() -> list[Peers | None]:
            return [await peering.peers(name, namespace) for namespace in where]

        await follow_peering(self.leadership, read, identity, self.config.priority, PEERING_CHECK_SECONDS)

    async def _recheck_backends(self, interval: float) -> None:
        """Every DNSBackend reconciled again every ``interval``: Secrets re-read, server tested."""
        while True:
            await asyncio.sleep(interval)
            await self.leadership.wait_active()
            for observed in self.cache.of_kind("DNSBackend"):
                self.controller.requeue(observed.ref)

    async def _prune_changes(self, keep: float) -> None:
        """The change feed keeps ``keep`` seconds of changes: it is for resuming, not an archive."""

        def prune(uow: UnitOfWork) -> int:
            return uow.changes.prune(datetime.now(UTC) - timedelta(seconds=keep))

        while True:
            await self.leadership.wait_active()
            try:
                pruned = await asyncio.to_thread(self.store.transaction, prune)
            except SiteplaneError as error:
                log.warning("pruning the change feed failed (tried again later): %s", error)
            else:
                if pruned:
                    log.info("change feed: %d change(s) older than %ss forgotten", pruned, keep)
            await asyncio.sleep(min(3600.0, keep / 4))

    # -- what probes and scrapes ask (metrics.OperatorState) -------------------------------------

    async def readiness(self) -> list[str]:
        """Why this replica should not get traffic yet (the webhook's); empty when it is ready:
        started (every DNSBackend listed and checked, the objects counted), the database answers,
        and the webhook listens. A standby is ready too: it serves the webhook."""
        problems: list[str] = []
        if not self.started:
            problems.append("starting")
        if not await self._database_answers():
            problems.append("the database does not answer")
        address = self.config.webhook_address
        if address is not None and not await _listening(*address):
            problems.append("the admission webhook does not listen yet")
        return problems

    async def _database_answers(self) -> bool:
        checked, answered = self._database_ok
        now = asyncio.get_running_loop().time()
        if now - checked < DATABASE_CHECK_SECONDS and checked:
            return answered
        try:
            await asyncio.to_thread(self.store.read, lambda uow: uow.changes.latest_id())
            answered = True
        except SiteplaneError:
            answered = False
        self._database_ok = (now, answered)
        return answered

    def active(self) -> bool:
        return self.leadership.is_active()

    def workers(self) -> int:
        return self.config.reconcile_workers

    def queue_depth(self) -> Mapping[str, int]:
        return self.controller.queue_depth()

    def in_flight(self) -> Mapping[str, int]:
        return self.controller.in_flight()

    def objects(self) -> Mapping[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for kind in BY_KIND:
            for observed in self.cache.of_kind(kind):
                key = (kind, ready_status(observed.status))
                counts[key] = counts.get(key, 0) + 1
        return counts

    def zones_waiting(self) -> int:
        return self.writer.pending()

    def status_waiting(self) -> int:
        return self.status.pending()

    # -- RBAC mirror ---------------------------------------------------------------------------

    def rbac_changed(self, rows: Callable[[], list[GrantRow]]) -> None:
        """RBAC changed; ``rows`` computes every grant row from what kopf's indices hold now."""
        self.mirror.trigger(rows)

    # -- namespaces ------------------------------------------------------------------------------

    def namespace_changed(self, namespace: str, annotations: Mapping[str, str]) -> None:
        """A namespace's annotations as they are now: whether Git owns its objects goes to the database."""
        gitops = annotations.get(GITOPS_ANNOTATION, "").lower() == "true"
        if self._gitops.get(namespace) == gitops:
            return
        self._gitops[namespace] = gitops

        async def store() -> None:
            try:
                await asyncio.to_thread(
                    self.store.transaction, lambda uow: uow.namespaces.set_gitops(namespace, gitops)
                )
            except SiteplaneError as error:
                self._gitops.pop(namespace, None)  # the next event tries again
                log.warning("recording namespace %s's GitOps annotation failed: %s", namespace, error)

        task = asyncio.get_running_loop().create_task(store(), name=f"namespace-policy:{namespace}")
        self._short.add(task)  # a strong reference until it is done
        task.add_done_callback(self._short.discard)

    # -- admission -----------------------------------------------------------------------------

    async def refusal(self, kind: str, namespace: str, uid: str, spec: Mapping[str, Any]) -> str | None:
        """Why admission should refuse this spec of a Site, DNSRecord or DNSZone; None to admit."""

        if kind == "Site":
            domains = admission.site_domains(spec)
            if domains is None:
                return None
            zones = self.zone_views.cached(domains)
            if zones is None:
                zones = await asyncio.to_thread(self.zone_views.serving, domains)
            return admission.site_refusal(zones, namespace, domains)

        def check(uow: UnitOfWork) -> str | None:
            if kind == "DNSRecord":
                return admission.record_refusal(uow, namespace, spec)
            return admission.zone_refusal(uow, namespace, uid, spec)

        return await asyncio.to_thread(self.store.read, check)

    def record_author(self, uid: str, generation: int, operation: str, username: str) -> None:
        """Who the admission webhook let make this change (history shows it)."""
        self.authors.note(Authorship(uid, generation, operation, username))

    async def admit_grant(
        self, namespace: str, uid: str, generation: int, spec: Mapping[str, Any], author: Author, dry_run: bool
    ) -> str | None:
        return await self.accessgrants.admit(namespace, uid, generation, spec, author, dry_run)


async def _listening(host: str, port: int) -> bool:
    """Whether something accepts connections at ``host:port`` (any address: this host's loopback)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=2)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _report_death(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", task.get_name(), exc_info=task.exception())


def _reporters(dnsbackends: DNSBackends) -> dict[str, Reporter]:
    def by_uid(refs: list[ObjectRef], reports: Mapping[str, StatusReport]) -> dict[Key, StatusReport]:
        return {Key.of(r): reports[r.uid] for r in refs if r.uid in reports}

    def sites(uow: UnitOfWork, refs: list[ObjectRef]) -> Mapping[Key, StatusReport]:
        facts = load_sites(uow, [r.uid for r in refs])
        return by_uid(refs, {uid: site_status(f) for uid, f in facts.items()})

    def records(uow: UnitOfWork, refs: list[ObjectRef]) -> Mapping[Key, StatusReport]:
        facts = load_records(uow, [r.uid for r in refs])
        return by_uid(refs, {uid: record_status(f) for uid, f in facts.items()})

    def zones(uow: UnitOfWork, refs: list[ObjectRef]) -> Mapping[Key, StatusReport]:
        facts = load_zones(uow, [r.uid for r in refs])
        return by_uid(refs, {uid: zone_status(f) for uid, f in facts.items()})

    def backends(uow: UnitOfWork, refs: list[ObjectRef]) -> Mapping[Key, StatusReport]:
        return {Key.of(r): dnsbackends.report(uow, r.name) for r in refs}

    return {"Site": sites, "DNSRecord": records, "DNSZone": zones, "DNSBackend": backends}


def _stored_generations(uow: UnitOfWork) -> dict[str, int]:
    """What the previous run stored of the kinds a restart need not reconcile again (controller.py)."""
    return {**uow.sites.live_generations(), **uow.records.live_generations()}


def build(config: Config, kube: KubeClient | None = None, identity: str | None = None) -> Operator:
    """Everything wired together; must run in the event loop (it makes the HTTP session).

    ``identity``: the peering identity kopf runs with; with peering on, the replica is a standby
    until the peering object says it leads (leadership.py)."""
    engine = make_engine(config.database_url)
    try:
        ensure_current(engine)
    except BaseException:
        engine.dispose()
        raise
    store = Store(engine)
    kube = kube or KubeClient.connect(
        load_credentials(), timeout=config.kube_timeout, concurrency=config.api_concurrency
    )
    objects = CustomObjects(kube)
    cache = ObjectCache()
    backends = BackendResolver(
        Path(config.zone_dir),
        config.zone_reload_command,
        config.default_backend,
        config.dnssec_signature_validity,
        config.dnssec_resign_window,
    )
    keys = SigningKeys(
        KeySecrets(kube, config.dnssec_key_namespace) if config.dnssec_key_namespace else None,
        loop=asyncio.get_running_loop(),
    )
    dnsbackends = DNSBackends(store, backends, SecretReader(kube))
    leadership = Leadership(active=config.peering is None)
    gate = leadership.wait_active
    status = StatusWriter(
        store,
        objects,
        cache,
        _reporters(dnsbackends),
        config.status_concurrency,
        gate,
        settle=config.status_settle_seconds,
        settle_max=config.status_settle_max_seconds,
        busy=lambda zone_name: writer.busy(zone_name),  # the writer is made below: it reports to status
    )
    controller: Controller | None = None

    def synced(result: SyncResult, requesters: set[ObjectRef]) -> None:
        if result.error is None and controller is not None:
            controller.served(requesters)
        status.mark(requesters | result.affected)

    synchronizer = ZoneSynchronizer(
        store, backends, keys.for_sync, config.drift_full_interval, epoch=lambda: leadership.changes
    )
    writer = ZoneWriter(
        synchronizer.sync,
        synced,
        config.zone_gather_seconds,
        config.zone_sync_concurrency,
        config.zone_gather_max_seconds,
        gate,
        probe=synchronizer.probe if config.drift_full_interval > 0 else None,
    )
    placement = PlacementLock()
    # Sites and DNSRecords stored at once share a transaction (and the placement lock's shared side).
    batch = StoreBatcher(store, placement.shared)
    accessgrants = AccessGrants(store, SubjectAccessReviews(kube), RbacObjects(kube))
    reconcilers: dict[str, Reconciler] = {}
    authors = AuthorLog(store)
    controller = Controller(reconcilers, cache, objects, status, writer, config.reconcile_workers, authors.flush, gate)
    reconcilers.update(
        {
            "Site": Sites(store, placement, writer, batch),
            "DNSZone": Zones(store, placement, writer, backends, controller.deleting, keys),
            "DNSRecord": Records(store, writer, batch),
            "AccessGrant": accessgrants,
            "DNSBackend": dnsbackends,
        }
    )
    assert set(reconcilers) == set(BY_KIND), "a reconciler for every kind"
    mirror = MirrorLoop(RbacMirror(store))
    return Operator(
        config,
        store,
        kube,
        cache,
        backends,
        writer,
        status,
        controller,
        accessgrants,
        dnsbackends,
        mirror,
        authors,
        leadership,
        ZoneViews(store, placement),
        identity if config.peering is not None else None,
    )
