"""Thin handlers for Site, DNSZone, DNSRecord, AccessGrant and DNSBackend: hand the object to its service,
write the status it returns, and tell kopf when to try again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.reconcile.accessgrants import AccessGrantService
from siteplane.reconcile.inputs import ObjectInput, Outcome
from siteplane.reconcile.services import Services

Work = Callable[[Services, ObjectInput, int], Awaitable[Outcome]]


async def _run(kind: str, work: Work, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int) -> None:
    services: Services = memo["services"]
    memo["startup"].seen(body.get("metadata", {}).get("uid", ""))
    outcome = await work(services, ObjectInput.from_body(kind, body), retry)
    for key, value in outcome.status.items():
        patch.status[key] = value
    if outcome.affected:
        await memo["nudger"].nudge(outcome.affected)
    if outcome.retry_after is not None:
        raise kopf.TemporaryError(outcome.retry_reason, delay=outcome.retry_after)


def _grants(services: Services) -> AccessGrantService:
    assert services.accessgrants is not None, "set at start-up, before any handler runs"
    return services.accessgrants


def _register(kind: str, plural: str, changed: Work, deleted: Work | None) -> None:
    @kopf.on.resume(API_GROUP, API_VERSION, plural, id="reconcile")
    @kopf.on.create(API_GROUP, API_VERSION, plural, id="reconcile")
    @kopf.on.update(API_GROUP, API_VERSION, plural, id="reconcile", field="spec")
    async def reconcile(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, **_: Any) -> None:
        await _run(kind, changed, body, patch, memo, retry)

    if deleted is not None:

        @kopf.on.delete(API_GROUP, API_VERSION, plural, id="withdraw")
        async def withdraw(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, **_: Any) -> None:
            await _run(kind, deleted, body, patch, memo, retry)


_register("Site", "sites", lambda s, o, r: s.sites.reconcile(o, r), lambda s, o, r: s.sites.delete(o, r))
_register("DNSZone", "dnszones", lambda s, o, r: s.zones.reconcile(o, r), lambda s, o, r: s.zones.delete(o, r))
_register("DNSRecord", "dnsrecords", lambda s, o, r: s.records.reconcile(o, r), lambda s, o, r: s.records.delete(o, r))
_register("AccessGrant", "accessgrants", lambda s, o, r: _grants(s).reconcile(o, r), None)
_register("DNSBackend", "dnsbackends", lambda s, o, r: s.dnsbackends.reconcile(o, r), None)


@kopf.on.delete(API_GROUP, API_VERSION, "dnsbackends", id="forget", optional=True)
def backend_deleted(name: str, memo: kopf.Memo, **_: Any) -> None:
    memo["services"].dnsbackends.forget(name)
