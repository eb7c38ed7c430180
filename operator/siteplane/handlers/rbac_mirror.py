"""RBAC → database: kopf indices hold every Role, ClusterRole and binding (reduced to what matters
for siteplane), and one debounced task rewrites the grants table from them after any change.

kopf holds back every other handler until all indices have done their initial listing, so the first
event seen here already has the whole cluster's RBAC: the first mirror run can safely remove rows
of bindings deleted while the operator was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

import kopf

from siteplane.rbac.mirror import Binding, RoleKey, all_grants, role_rules
from siteplane.rbac.rules import Rule
from siteplane.reconcile.rbac_mirror import RbacMirror

RBAC = "rbac.authorization.k8s.io"
DEBOUNCE_SECONDS = 0.3
# kopf hands every handler each index as a keyword argument named after its indexing function.
INDICES = ("rbac_cluster_roles", "rbac_roles", "rbac_cluster_role_bindings", "rbac_role_bindings")
log = logging.getLogger(__name__)


@kopf.index(RBAC, "v1", "clusterroles")
def rbac_cluster_roles(name: str, body: kopf.Body, **_: Any) -> dict[RoleKey, tuple[Rule, ...]]:
    rules = role_rules(body)
    return {RoleKey("ClusterRole", None, name): rules} if rules else {}


@kopf.index(RBAC, "v1", "roles")
def rbac_roles(name: str, namespace: str | None, body: kopf.Body, **_: Any) -> dict[RoleKey, tuple[Rule, ...]]:
    rules = role_rules(body)
    return {RoleKey("Role", namespace, name): rules} if rules else {}


@kopf.index(RBAC, "v1", "clusterrolebindings")
def rbac_cluster_role_bindings(name: str, body: kopf.Body, **_: Any) -> dict[str, Binding]:
    return {name: Binding.from_k8s("ClusterRoleBinding", body)}


@kopf.index(RBAC, "v1", "rolebindings")
def rbac_role_bindings(name: str, namespace: str | None, body: kopf.Body, **_: Any) -> dict[str, Binding]:
    return {f"{namespace}/{name}": Binding.from_k8s("RoleBinding", body)}


def _entries(index: kopf.Index[Any, Any]) -> Iterable[tuple[Any, Any]]:
    """(key, value) for every value kopf keeps under each key of ``index``."""
    for key in index:
        for value in index[key]:
            yield key, value


class MirrorLoop:
    """Recomputes and writes the grants table at most once per debounce interval.

    One per operator, made at start-up and kept in the operator-wide memo (kopf hands every object
    handler a shallow copy of it, so this one object is shared); its task starts with the first
    RBAC event, which is also when the indices it reads are complete.
    """

    def __init__(self, mirror: RbacMirror) -> None:
        self.mirror = mirror
        self.indices: dict[str, kopf.Index[Any, Any]] = {}
        self.dirty = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def trigger(self, indices: dict[str, kopf.Index[Any, Any]]) -> None:
        if self.task is None:
            self.indices = indices
            self.task = asyncio.get_running_loop().create_task(self._run(), name="siteplane rbac mirror")
        self.dirty.set()

    async def _run(self) -> None:
        while True:
            await self.dirty.wait()
            await asyncio.sleep(DEBOUNCE_SECONDS)  # one write for a burst of RBAC events
            self.dirty.clear()
            roles: dict[RoleKey, tuple[Rule, ...]] = {
                key: rules
                for index in ("rbac_cluster_roles", "rbac_roles")
                for key, rules in _entries(self.indices[index])
            }
            bindings = [
                binding
                for index in ("rbac_cluster_role_bindings", "rbac_role_bindings")
                for _, binding in _entries(self.indices[index])
            ]
            rows = all_grants(bindings, roles)
            try:
                result = await asyncio.to_thread(self.mirror.sync, rows)
            except Exception as error:  # the database: retried, never fatal
                log.warning("mirroring RBAC into the database failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(5)
                self.dirty.set()
                continue
            if result.wrote:
                log.info(
                    "RBAC mirrored: %d grant row(s) added, %d changed, %d removed",
                    result.added,
                    result.changed,
                    result.removed,
                )

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@kopf.on.event(RBAC, "v1", "clusterroles", id="mirror")
@kopf.on.event(RBAC, "v1", "roles", id="mirror")
@kopf.on.event(RBAC, "v1", "clusterrolebindings", id="mirror")
@kopf.on.event(RBAC, "v1", "rolebindings", id="mirror")
async def changed(memo: kopf.Memo, **kwargs: Any) -> None:
    loop: MirrorLoop | None = memo.get("rbac_mirror")
    if loop is not None:
        loop.trigger({name: kwargs[name] for name in INDICES})


@kopf.on.cleanup()
async def stop_mirror(memo: kopf.Memo, **_: Any) -> None:
    loop: MirrorLoop | None = memo.get("rbac_mirror")
    if loop is not None:
        await loop.stop()
