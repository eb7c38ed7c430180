"""The validating admission webhook: kopf's webhook server over TLS, the webhook configuration
kept up to date by kopf (URL and caBundle), and four checks.

- AccessGrants (failurePolicy Fail): refused when they hand out more than their author holds; an
  admitted generation is recorded with its author, and reconciliation applies nothing else.
- Sites, DNSRecords, DNSZones (failurePolicy Ignore): early feedback for names the namespace may
  not publish, and for a second zone of an existing name. Reconciliation decides these anyway.
Only spec changes are checked: metadata updates (finalizers, labels) always pass.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import kopf

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.config import OperatorConfig
from siteplane.handlers.webhook_tls import WebhookCertificates, generate
from siteplane.reconcile.authorization import Author, AuthorizationUnavailable
from siteplane.reconcile.services import Services

log = logging.getLogger(__name__)


class NoWebhookServer:
    """The webhook is off. kopf refuses to start when admission handlers exist without a server, so
    this stands in for one: it serves nothing, and no webhook configuration is created."""

    async def __call__(self, fn: Any) -> AsyncIterator[Any]:
        await asyncio.Event().wait()  # forever, until the operator stops
        yield  # unreachable: makes this an async generator, as kopf expects


def configure_webhook(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    address = config.webhook_address
    if address is None:
        settings.admission.server = NoWebhookServer()
        return
    addr, port = address
    host = config.webhook_host or addr
    if config.webhook_cert_dir:
        certs = WebhookCertificates.mounted(Path(config.webhook_cert_dir))
    else:
        certs = generate(Path(tempfile.mkdtemp(prefix="siteplane-webhook-")), [host, addr])
    settings.admission.server = kopf.WebhookServer(
        addr=addr,
        port=port,
        host=host,
        certfile=str(certs.cert_file),
        pkeyfile=str(certs.key_file),
        cafile=str(certs.ca_file),
    )
    settings.admission.managed = config.webhook_configuration
    log.info("admission webhook on %s:%d, called at https://%s:%d", addr, port, host, port)


def _spec_unchanged(operation: str | None, old: Mapping[str, Any] | None, body: Mapping[str, Any]) -> bool:
    return operation == "UPDATE" and (old or {}).get("spec") == body.get("spec")


async def _check(memo: kopf.Memo, work: Callable[[Services], str | None], what: str, *, fail_closed: bool) -> None:
    services: Services | None = memo.get("services")
    if services is None:
        raise kopf.AdmissionError("the siteplane operator is starting; try again in a moment", code=503)
    try:
        refusal = await asyncio.to_thread(work, services)
    except AuthorizationUnavailable as error:
        raise kopf.AdmissionError(f"cannot check {what} now ({error}); try again", code=503) from None
    except Exception as error:
        log.warning("admission check of %s failed: %s", what, type(error).__name__)
        if fail_closed:
            raise kopf.AdmissionError(f"cannot check {what} now; try again", code=503) from None
        return  # early feedback only: reconciliation decides
    if refusal:
        raise kopf.AdmissionError(refusal, code=403)


@kopf.on.validate(
    API_GROUP,
    API_VERSION,
    "accessgrants",
    id="accessgrants-no-escalation",
    operations=["CREATE", "UPDATE"],
    side_effects=True,
)
async def no_escalation(
    body: kopf.Body,
    userinfo: Mapping[str, Any],
    dryrun: bool,
    memo: kopf.Memo,
    old: Mapping[str, Any] | None = None,
    operation: str | None = None,
    **_: Any,
) -> None:
    if _spec_unchanged(operation, old, body):
        return
    meta = body.get("metadata") or {}
    author = Author.from_userinfo(userinfo)

    def admit(services: Services) -> str | None:
        assert services.accessgrants is not None
        return services.accessgrants.admit(
            meta.get("namespace") or "",
            meta.get("uid") or "",
            int(meta.get("generation") or 1),
            body.get("spec") or {},
            author,
            dryrun,
        )

    await _check(memo, admit, "the grant's permissions", fail_closed=True)


Refusal = Callable[[Services, str, Mapping[str, Any]], str | None]


def _register_may_publish(plural: str, refusal: Refusal, what: str) -> None:
    @kopf.on.validate(
        API_GROUP,
        API_VERSION,
        plural,
        id=f"{plural}-may-publish",
        operations=["CREATE", "UPDATE"],
        ignore_failures=True,
    )
    async def may_publish(
        body: kopf.Body,
        memo: kopf.Memo,
        old: Mapping[str, Any] | None = None,
        operation: str | None = None,
        **_: Any,
    ) -> None:
        if not _spec_unchanged(operation, old, body):
            namespace = (body.get("metadata") or {}).get("namespace") or ""
            spec = body.get("spec") or {}
            await _check(memo, lambda s: refusal(s, namespace, spec), what, fail_closed=False)


_register_may_publish("sites", lambda s, ns, spec: s.guard.site_refusal(ns, spec), "the site's domains")
_register_may_publish("dnsrecords", lambda s, ns, spec: s.guard.record_refusal(ns, spec), "the record's name")


@kopf.on.validate(
    API_GROUP, API_VERSION, "dnszones", id="dnszones-unique-name", operations=["CREATE"], ignore_failures=True
)
async def zone_is_unique(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    uid = (body.get("metadata") or {}).get("uid") or ""
    spec = body.get("spec") or {}
    await _check(memo, lambda s: s.guard.zone_refusal(uid, spec), "the zone's name", fail_closed=False)
