"""The kopf floor: what kopf alone costs per Site, with siteplane's kopf settings or kopf's own.

A kopf operator whose only handler writes Ready and nothing else (no database, no DNS), shaped
like siteplane's: one reconcile handler for create, update and resume, and a deletion handler, so
kopf adds a finalizer. The benchmark times it like siteplane: what siteplane spends above this
floor is its own work; the floor above T0 is kopf's.

Variants, for the before/after table of kopf settings:
- ``siteplane``: siteplane's settings (``handlers/kopf_settings.py``), with handler progress and
  diff base in status, Kubernetes Events only for warnings;
- ``kopf-defaults``: kopf's defaults: progress and diff base in annotations, an Event per handler,
  and kopf's own API session (a connection per concurrent request);
- ``no-finalizer``: siteplane's settings, with the deletion handler optional (no finalizer);
- ``admission``: siteplane's settings, and a mutating admission webhook served by the floor itself
  (TLS on loopback, its configuration managed by kopf as siteplane's is) that adds the finalizer
  as each Site is created: one write per object, the status. The floor siteplane has to beat;
  its webhook configuration is named ``<namespace>.floor.siteplane.io``, for the benchmark to
  remove afterwards;
- ``held``: siteplane's settings and an async handler that returns only once all N Sites are in
  flight at once, as siteplane's handlers wait for their zone's coalesced sync during a burst. It
  is not a floor for time: its peak RSS is what kopf itself holds for N handlers in flight.

Run as ``python -m bench.floor NAMESPACE [VARIANT [N]]`` with $KUBECONFIG set. It uses its own
registry, so importing siteplane's modules (which register siteplane's handlers) adds nothing else.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import kopf

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.config import Config
from siteplane.handlers.admission import configure_webhook
from siteplane.handlers.kopf_settings import KOPF_FINALIZER, apply_settings
from siteplane.handlers.login import login

VARIANTS = ("siteplane", "kopf-defaults", "no-finalizer", "held", "admission")


def reconcile(meta: kopf.Meta, patch: kopf.Patch, **_: Any) -> None:
    ready = {"type": "Ready", "status": "True", "reason": "Floor", "message": ""}
    patch.status["observedGeneration"] = meta.get("generation")
    patch.status["conditions"] = [{**ready, "lastTransitionTime": "2026-01-01T00:00:00Z"}]


def all_in_flight(expected: int) -> Callable[..., Awaitable[None]]:
    """A handler that holds every call until ``expected`` of them are waiting at once."""
    arrived = 0
    everyone: asyncio.Event | None = None

    async def held(meta: kopf.Meta, patch: kopf.Patch, **_: Any) -> None:
        nonlocal arrived, everyone
        everyone = everyone or asyncio.Event()
        arrived += 1
        if arrived >= expected:
            everyone.set()
        await everyone.wait()
        reconcile(meta=meta, patch=patch)

    return held


def withdraw(**_: Any) -> None:
    pass


def add_finalizer(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    finalizers = list((body.get("metadata") or {}).get("finalizers") or [])
    if KOPF_FINALIZER not in finalizers:
        patch.metadata["finalizers"] = [*finalizers, KOPF_FINALIZER]


def webhook_configuration(namespace: str) -> str:
    return f"{namespace}.floor.siteplane.io"


def floor_registry(variant: str, expected: int = 0, config: Config | None = None) -> kopf.OperatorRegistry:
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(login)

    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        if variant == "kopf-defaults":
            settings.peering.standalone = True
            return
        apply_settings(settings, Config())
        if variant == "admission":
            assert config is not None
            configure_webhook(settings, config)
        # The floor's handlers are kopf change handlers (siteplane's are event handlers, which kopf
        # persists nothing for): their progress and diff base go into status, one write with it.
        settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
        settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
            field="status.kopf.last-handled-configuration"
        )

    kopf.on.startup(registry=registry)(configure)
    handler = all_in_flight(expected) if variant == "held" else reconcile
    for on in (kopf.on.resume, kopf.on.create):
        on(API_GROUP, API_VERSION, "sites", id="reconcile", registry=registry)(handler)
    kopf.on.update(API_GROUP, API_VERSION, "sites", id="reconcile", field="spec", registry=registry)(handler)
    if variant == "admission":
        kopf.on.mutate(
            API_GROUP,
            API_VERSION,
            "sites",
            id="finalizer",
            operations=["CREATE"],
            ignore_failures=True,
            side_effects=False,
            registry=registry,
        )(add_finalizer)
    optional = variant == "no-finalizer"
    kopf.on.delete(API_GROUP, API_VERSION, "sites", id="withdraw", optional=optional, registry=registry)(withdraw)
    return registry


def main() -> int:
    namespace, variant = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "siteplane"
    expected = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    # Logging as `siteplane run` (and `kopf run`) configures it: INFO. With kopf's default posting
    # level, that is also what makes kopf post an Event per handler success.
    kopf.configure(log_format=kopf.LogFormat.FULL)
    # siteplane's login, and so its bounded API session (SITEPLANE_API_CONCURRENCY, as the operator
    # reads it); kopf's defaults have none.
    config = Config.from_env()
    if variant == "kopf-defaults":
        config = replace(config, api_concurrency=0)
    if variant == "admission":
        with socket.socket() as probe:  # a free loopback port for the webhook
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = replace(
            config, webhook_listen=f"127.0.0.1:{port}", webhook_configuration=webhook_configuration(namespace)
        )
    memo = kopf.Memo(config=config)
    registry = floor_registry(variant, expected, config)
    asyncio.run(kopf.operator(registry=registry, namespaces=[namespace], standalone=True, memo=memo))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
