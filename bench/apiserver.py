"""Talking to the benchmark's apiserver directly (aiohttp, admin token): bulk creates and status
patches, a watch that counts Ready objects, and the apiserver's own request counters."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp

from harness.controlplane.cluster import ControlPlane

GROUP_PATH = "/apis/siteplane.io/v1alpha1"
_REQUESTS = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")

Requests = Counter[tuple[str, str, str]]  # (verb, resource, subresource) -> count


class Api:
    def __init__(self, plane: ControlPlane, concurrency: int = 16) -> None:
        self.base = plane.server
        self.ssl = ssl.create_default_context(cafile=str(plane.ca_file))
        self.headers = {"Authorization": f"Bearer {plane.token('admin')}"}
        self.limit = asyncio.Semaphore(concurrency)
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Api:
        connector = aiohttp.TCPConnector(ssl=self.ssl, limit=64)
        self.session = aiohttp.ClientSession(headers=self.headers, connector=connector)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.session is not None:
            await self.session.close()

    async def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        assert self.session is not None
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if body is not None else {}
        for attempt in range(8):
            async with self.limit, self.session.request(method, self.base + path, data=data, headers=headers) as r:
                if r.status == 429 or r.status >= 500:
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                text = await r.text()
                if r.status >= 400:
                    raise RuntimeError(f"{method} {path}: {r.status} {text[:300]}")
                return json.loads(text) if text else None
        raise RuntimeError(f"{method} {path}: still failing after retries")

    async def create_all(self, namespace: str, plural: str, docs: Iterable[dict[str, Any]]) -> None:
        path = f"{GROUP_PATH}/namespaces/{namespace}/{plural}"
        await asyncio.gather(*(self.request("POST", path, doc) for doc in docs))

    async def create_and_patch_status(self, namespace: str, plural: str, docs: Iterable[dict[str, Any]]) -> None:
        """The baseline's whole job: per object one create and one status patch, nothing else."""
        path = f"{GROUP_PATH}/namespaces/{namespace}/{plural}"

        async def one(doc: dict[str, Any]) -> None:
            created = await self.request("POST", path, doc)
            status = {
                "status": {
                    "observedGeneration": created["metadata"]["generation"],
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "Baseline",
                            "message": "",
                            "lastTransitionTime": "2026-01-01T00:00:00Z",
                        }
                    ],
                }
            }
            name = created["metadata"]["name"]
            await self.request("PATCH", f"{path}/{name}/status", status, "application/merge-patch+json")

        await asyncio.gather(*(one(doc) for doc in docs))

    async def patch(self, namespace: str, plural: str, name: str, patch: dict[str, Any]) -> None:
        path = f"{GROUP_PATH}/namespaces/{namespace}/{plural}/{name}"
        await self.request("PATCH", path, patch, "application/merge-patch+json")

    async def requests(self) -> Requests:
        """apiserver_request_total for siteplane.io and Events, summed by verb, resource and subresource."""
        assert self.session is not None
        async with self.session.get(self.base + "/metrics") as r:
            text = await r.text()
        counts: Requests = Counter()
        for line in text.splitlines():
            match = _REQUESTS.match(line)
            if not match:
                continue
            labels = dict(_LABEL.findall(match["labels"]))
            # Ours, and Kubernetes Events (kopf posts them; they are API writes too).
            if labels.get("group") == "siteplane.io" or labels.get("resource") == "events":
                key = (labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", ""))
                counts[key] += int(float(match["value"]))
        return counts

    async def wait_ready(
        self, namespace: str, plural: str, expected: int, timeout: float, started: Callable[[], None] | None = None
    ) -> float:
        """Seconds until ``expected`` objects are Ready for their generation, the way an informer sees it.

        List, then watch from the list's version, so objects Ready before the watch opened count too;
        when the apiserver ends the watch (it closes slow and expired ones, with or without an ERROR
        event), list and watch again until ``timeout``. ``started`` runs once, when the first watch
        is open (the caller starts creating objects then).
        """
        assert self.session is not None
        path = f"{GROUP_PATH}/namespaces/{namespace}/{plural}"
        begin = time.monotonic()
        ready: set[str] = set()
        while (left := timeout - (time.monotonic() - begin)) > 0:
            listing = await self.request("GET", path)
            ready = {obj["metadata"]["uid"] for obj in listing["items"] if _is_ready(obj)}
            if len(ready) >= expected:
                return time.monotonic() - begin
            version = listing["metadata"]["resourceVersion"]
            url = f"{self.base}{path}?watch=1&resourceVersion={version}&timeoutSeconds={max(1, int(left))}"
            timer = aiohttp.ClientTimeout(total=left + 30, sock_read=left + 30)
            async with self.session.get(url, timeout=timer) as stream:
                if started is not None:
                    started()
                    started = None
                async for line in stream.content:
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        break  # e.g. 410 Gone: list again
                    obj = event.get("object") or {}
                    uid = (obj.get("metadata") or {}).get("uid", "")
                    if _is_ready(obj) and event.get("type") != "DELETED":
                        ready.add(uid)
                    else:
                        ready.discard(uid)
                    if len(ready) >= expected:
                        return time.monotonic() - begin
        raise TimeoutError(f"{len(ready)} of {expected} {plural} Ready after {timeout:.0f}s")


def _is_ready(obj: dict[str, Any]) -> bool:
    """Ready=True for the object's current generation."""
    status = obj.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return ready and status.get("observedGeneration") == (obj.get("metadata") or {}).get("generation")


def delta(after: Requests, before: Requests) -> Requests:
    return Counter({key: after[key] - before[key] for key in after if after[key] - before[key]})


def by_verb(requests: Requests, resource: str | None = None) -> dict[str, int]:
    out: Counter[str] = Counter()
    for (verb, res, sub), count in requests.items():
        if resource is None or res == resource:
            out[f"{verb} {res}/{sub}" if sub else f"{verb} {res}"] += count
    return dict(sorted(out.items()))


def writes(requests: Requests, operator_only: bool = False) -> int:
    """API writes; with ``operator_only``, without the creates of siteplane objects (the benchmark's)."""
    return sum(
        count
        for (verb, resource, _), count in requests.items()
        if verb in WRITE_VERBS and not (operator_only and verb == "POST" and resource != "events")
    )
