"""Telling when a (re)started operator has seen every object once: the moment a restart is done.

At start-up the operator asks the apiserver only how many objects of each kind exist (a list with
limit=1 reports the remaining count), then counts the objects its reconcile handlers have seen.
When all are seen it logs one line, which operators (and the benchmark) can wait for.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import kubernetes.client

from siteplane.api.common import API_GROUP, API_VERSION

log = logging.getLogger(__name__)
KINDS = ("sites", "dnszones", "dnsrecords", "accessgrants")


def count_objects(client: kubernetes.client.ApiClient, namespaces: tuple[str, ...]) -> int:
    """How many objects the operator serves (in ``namespaces``, or everywhere when empty)."""
    api = kubernetes.client.CustomObjectsApi(client)
    total = 0
    for plural in KINDS:
        pages: list[Any] = (
            [
                api.list_namespaced_custom_object(API_GROUP, API_VERSION, ns, plural, limit=1, _request_timeout=60)
                for ns in namespaces
            ]
            if namespaces
            else [api.list_cluster_custom_object(API_GROUP, API_VERSION, plural, limit=1, _request_timeout=60)]
        )
        for page in pages:
            total += len(page.get("items") or []) + int((page.get("metadata") or {}).get("remainingItemCount") or 0)
    return total


class StartupProgress:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.started = time.monotonic()
        self._seen: set[str] = set()
        self.done = expected == 0
        if self.done:
            log.info("startup: all 0 objects seen")

    def seen(self, uid: str) -> None:
        if self.done:
            return
        self._seen.add(uid)
        if len(self._seen) >= self.expected:
            self.done = True
            self._seen.clear()
            log.info("startup: all %d objects seen in %.1fs", self.expected, time.monotonic() - self.started)
