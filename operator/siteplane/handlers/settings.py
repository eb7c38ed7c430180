"""Every kopf setting siteplane changes, in one startup handler; each non-default value says why."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf
import kubernetes.client

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.config import OperatorConfig
from siteplane.handlers import periodic
from siteplane.handlers.admission import configure_webhook
from siteplane.handlers.kube_rbac import KubernetesAuthorizer, KubernetesRbacObjects
from siteplane.handlers.nudge import StatusNudger, api_client
from siteplane.handlers.rbac_mirror import MirrorLoop
from siteplane.handlers.secrets import KubernetesSecretReader
from siteplane.handlers.startup import StartupProgress, count_objects
from siteplane.reconcile.accessgrants import AccessGrantService
from siteplane.reconcile.services import build_services
from siteplane.store.database import redact
from siteplane.store.migrate import SchemaOutOfDate

FINALIZER = "siteplane.io/finalizer"


def operator_config(memo: kopf.Memo) -> OperatorConfig:
    """The configuration `siteplane run` put in kopf's memo; from the environment when the operator
    is started otherwise (kopf.operator with a bare memo, as the tests and the benchmark's floor do)."""
    config: OperatorConfig = memo.get("config") or OperatorConfig.from_env()
    memo["config"] = config
    return config


def apply_settings(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    # Our own finalizer name, so `kubectl get -o yaml` tells whose finalizer blocks a deletion.
    settings.persistence.finalizer = FINALIZER
    # Handler progress and the last-handled spec live in status.kopf (the CRDs preserve that
    # field) rather than in annotations: status is written through the status subresource together
    # with our conditions, so a handled change costs one status write and never touches metadata
    # (which would bump resourceVersion for every GitOps tool watching the object).
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(field="status.kopf.last-handled-configuration")
    # Kubernetes Events only for warnings and errors: kopf's default posts one Event per handler
    # success, an API write per object per change that nobody reads.
    settings.posting.level = logging.WARNING
    # Peering is off unless asked for: one operator replica (a Deployment with replicas: 1 and the
    # Recreate strategy) needs no peering objects. With --peering, replicas coordinate through the
    # ClusterKopfPeering in manifests/peering/.
    settings.peering.standalone = config.peering is None
    if config.peering is not None:
        settings.peering.name = config.peering
        settings.peering.priority = config.priority
        settings.peering.clusterwide = not config.namespaces
        settings.peering.mandatory = True  # a misconfigured peering must not silently run two leaders
    # Long-lived watches: the server closes them after 10 minutes (the client gives it one more),
    # instead of kopf's default of no server timeout, so dead connections are noticed and replaced.
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    settings.watching.connect_timeout = 30
    # No single API request may hang a worker forever.
    settings.networking.request_timeout = 60


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: Any, **_: Any) -> None:
    config = operator_config(memo)
    apply_settings(settings, config)
    configure_webhook(settings, config)
    try:
        services = await asyncio.to_thread(build_services, config)
    except SchemaOutOfDate as error:
        raise kopf.PermanentError(str(error)) from error
    client = await asyncio.to_thread(api_client)
    services.backends.secrets = KubernetesSecretReader(client)
    services.accessgrants = AccessGrantService(
        services.store, KubernetesAuthorizer(client), KubernetesRbacObjects(client)
    )
    memo["services"] = services
    memo["nudger"] = StatusNudger(services, client)
    memo["rbac_mirror"] = MirrorLoop(services.rbac_mirror)
    memo["startup"] = StartupProgress(await asyncio.to_thread(count_objects, client, config.namespaces))
    # Know every DNSBackend before the first zone is handled, so no zone waits for a retry.
    backends: Any = await asyncio.to_thread(
        kubernetes.client.CustomObjectsApi(client).list_cluster_custom_object, API_GROUP, API_VERSION, "dnsbackends"
    )
    for item in backends.get("items", []):
        with contextlib.suppress(ValueError):
            services.backends.remember(item["metadata"]["name"], item.get("spec") or {})
    periodic.start(memo, config)
    logger.info(
        "siteplane started: database %s, %d DNSBackend(s) known, drift checks every %ss",
        redact(config.database_url),
        len(backends.get("items", [])),
        config.drift_interval or "never",
    )


@kopf.on.cleanup()
async def close(memo: kopf.Memo, logger: Any, **_: Any) -> None:
    await periodic.stop(memo)
    if "services" in memo:
        # One line for operators and the benchmark: what each backend was sent in this run.
        services = memo["services"]
        logger.info("backend writes this run: %s", services.backends.write_counts())
        stats = services.writer.stats
        logger.info("zone syncs this run: %d for %d requests", stats.syncs, stats.requests)
        services.close()
