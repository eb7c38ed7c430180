"""Status updates for objects other than the one being handled.

A change to one object can change another's state: when the oldest claimant of a domain is
deleted, the next one takes over "without anyone touching it". kopf only calls a handler for the
object that changed, so the operator writes the others' status itself, from the database, and
only when it differs from what the object shows.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import kubernetes.client
import kubernetes.config
from kubernetes.client.exceptions import ApiException

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.api.kinds import BY_KIND
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.common import render
from siteplane.reconcile.inputs import ObjectInput
from siteplane.reconcile.services import Services

log = logging.getLogger(__name__)


def api_client() -> kubernetes.client.ApiClient:
    """A client with the operator's own identity: its ServiceAccount in a pod, else $KUBECONFIG."""
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=os.environ.get("KUBECONFIG"), client_configuration=configuration
        )
    return kubernetes.client.ApiClient(configuration)


class StatusNudger:
    """Writes, from the database, the status of objects whose state another object's change moved.

    Such an object's own handler may be running at the same moment with a report computed a
    little earlier; kopf writes that report after its handler returns, possibly after our update.
    So every nudge is checked once more a moment later: the database, not the order of the two
    writes, decides what the object finally shows. The second look writes only if it differs.
    """

    def __init__(
        self,
        services: Services,
        client: kubernetes.client.ApiClient,
        concurrency: int = 8,
        recheck_seconds: float = 3.0,
    ) -> None:
        self.services = services
        self.api = kubernetes.client.CustomObjectsApi(client)
        self._limit = asyncio.Semaphore(concurrency)
        self._recheck_seconds = recheck_seconds
        self._rechecks: set[asyncio.Task[None]] = set()

    async def nudge(self, refs: set[ObjectRef]) -> None:
        await asyncio.gather(*(self._one(ref) for ref in refs))
        if refs:
            task = asyncio.get_running_loop().create_task(self._recheck(refs))
            self._rechecks.add(task)  # a strong reference until it is done
            task.add_done_callback(self._rechecks.discard)

    async def _recheck(self, refs: set[ObjectRef]) -> None:
        await asyncio.sleep(self._recheck_seconds)
        await asyncio.gather(*(self._one(ref) for ref in refs))

    async def _one(self, ref: ObjectRef) -> None:
        async with self._limit:
            try:
                await asyncio.to_thread(self._update, ref)
            except ApiException as error:
                if error.status not in (404, 409):
                    log.warning("could not update the status of %s: %s", ref, error.reason)
            except Exception as error:  # a status nudge must never break the handler that caused it
                log.warning("could not update the status of %s: %s", ref, type(error).__name__)

    def _update(self, ref: ObjectRef) -> None:
        report = self.services.report_for(ref)
        if report is None:
            return
        plural = BY_KIND[ref.kind].plural
        body: Any
        if ref.namespace:
            body = self.api.get_namespaced_custom_object(API_GROUP, API_VERSION, ref.namespace, plural, ref.name)
        else:  # cluster-scoped (DNSBackend), named without a uid by the zones that use it
            body = self.api.get_cluster_custom_object(API_GROUP, API_VERSION, plural, ref.name)
        uid = body["metadata"].get("uid")
        if (ref.uid and uid != ref.uid) or body["metadata"].get("deletionTimestamp"):
            return
        patch = render(ObjectInput.from_body(ref.kind, body), report)
        if not patch:
            return
        if ref.namespace:
            self.api.patch_namespaced_custom_object_status(
                API_GROUP, API_VERSION, ref.namespace, plural, ref.name, {"status": patch}
            )
        else:
            self.api.patch_cluster_custom_object_status(API_GROUP, API_VERSION, plural, ref.name, {"status": patch})
