"""The kopf floor: what kopf alone costs per Site, with siteplane's own kopf settings.

A kopf operator whose only handler writes Ready and nothing else (no database, no DNS), shaped
like siteplane's (one reconcile handler for create, update and resume; a deletion handler, so kopf
adds the finalizer; progress and diff base in status). The benchmark times it like siteplane: what
siteplane spends above this floor is its own work; the floor above T0 is kopf's.

Run as ``python -m bench.floor NAMESPACE`` with $KUBECONFIG set. It uses its own registry, so
importing siteplane's settings module (which registers siteplane's handlers) adds nothing else.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import kopf

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.config import OperatorConfig
from siteplane.handlers.login import login
from siteplane.handlers.settings import apply_settings

registry = kopf.OperatorRegistry()
kopf.on.login(registry=registry)(login)


@kopf.on.startup(registry=registry)
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    apply_settings(settings, OperatorConfig())


@kopf.on.resume(API_GROUP, API_VERSION, "sites", id="reconcile", registry=registry)
@kopf.on.create(API_GROUP, API_VERSION, "sites", id="reconcile", registry=registry)
@kopf.on.update(API_GROUP, API_VERSION, "sites", id="reconcile", field="spec", registry=registry)
def reconcile(meta: kopf.Meta, patch: kopf.Patch, **_: Any) -> None:
    patch.status["observedGeneration"] = meta.get("generation")
    patch.status["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Floor",
            "message": "",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
    ]


@kopf.on.delete(API_GROUP, API_VERSION, "sites", id="withdraw", registry=registry)
def withdraw(**_: Any) -> None:
    pass


def main() -> int:
    asyncio.run(kopf.operator(registry=registry, namespaces=[sys.argv[1]], standalone=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
