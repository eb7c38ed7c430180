"""Every kopf setting siteplane changes, in one function; each non-default value says why."""

from __future__ import annotations

import logging

import kopf

from siteplane.config import Config

# kopf's own finalizer name, left apart from siteplane's (siteplane.io/finalizer, which the
# controller manages itself): kopf removes its finalizer from objects it has no deletion handler
# for, and siteplane registers none.
KOPF_FINALIZER = "kopf.siteplane.io/unused"


def apply_settings(settings: kopf.OperatorSettings, config: Config) -> None:
    settings.persistence.finalizer = KOPF_FINALIZER
    # Kubernetes Events only for warnings and errors: kopf's default posts one Event per handler
    # success, an API write per object per change that nobody reads.
    settings.posting.level = logging.WARNING
    # And no log line per handled watch event either ("Handler 'observe' succeeded."): the
    # controller logs what it does; kopf's object logger keeps its warnings and errors.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    # Nor an access-log line per admission request (two per object created): formatting them cost
    # 4 % of the operator's CPU in a burst. siteplane_admission_decisions_total counts them.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Peering is off unless asked for: one operator replica (a Deployment with replicas: 1 and the
    # Recreate strategy) needs no peering objects. With --peering, replicas coordinate through the
    # ClusterKopfPeering in manifests/peering/.
    settings.peering.standalone = config.peering is None
    if config.peering is not None:
        settings.peering.name = config.peering
        settings.peering.priority = config.priority
        settings.peering.lifetime = config.peering_lifetime
        settings.peering.clusterwide = not config.namespaces
        settings.peering.mandatory = True  # a misconfigured peering must not silently run two leaders
    # Long-lived watches: the server closes them after 10 minutes (the client gives it one more),
    # instead of kopf's default of no server timeout, so dead connections are noticed and replaced.
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    settings.watching.connect_timeout = config.kube_timeout
    # No single API request may hang a worker forever: the same limit as siteplane's own client.
    settings.networking.request_timeout = config.kube_timeout
    settings.networking.connect_timeout = config.kube_timeout
    # Event handlers return at once (the controller queues the work), so a per-object worker has
    # nothing to wait for: let it go soon after its last event instead of after kopf's 5 s.
    settings.queueing.idle_timeout = 1.0
