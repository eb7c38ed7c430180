"""The watch events of siteplane's five kinds, handed to the controller as they come.

Event handlers only: kopf writes nothing to these objects (no progress, no diff base, no
finalizer of its own); the controller queues the work and returns at once, so kopf's per-object
workers never wait on a reconcile.
"""

from __future__ import annotations

from typing import Any

import kopf

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.api.kinds import KINDS
from siteplane.handlers.memo import running


def _watch(kind: str, plural: str) -> None:
    @kopf.on.event(API_GROUP, API_VERSION, plural, id="observe")
    async def observe(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
        running(memo).controller.observe(kind, event.get("type"), event["object"])


for _kind in KINDS:
    _watch(_kind.kind, _kind.plural)


@kopf.on.event("", "v1", "namespaces", id="namespace-policy")
async def namespace_changed(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    body = event["object"]
    meta = body.get("metadata") or {}
    gone = event.get("type") == "DELETED"
    running(memo).namespace_changed(meta.get("name") or "", {} if gone else meta.get("annotations") or {})
