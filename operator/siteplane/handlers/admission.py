"""The admission webhooks: served over TLS (handlers/webhook_server.py), the webhook configurations kept up to
date by kopf (URL and caBundle), four checks and one mutation.

- Sites, DNSRecords, DNSZones are created with siteplane's finalizer (mutating, failurePolicy
  Ignore), so the operator's first write to a new object is its status, not a finalizer PATCH.
  When the webhook was bypassed or down, the operator adds the finalizer itself before it stores
  anything: a deletion finds it either way.

- AccessGrants (failurePolicy Fail): refused when they hand out more than their author holds; an
  admitted generation is recorded with its author, and reconciliation applies nothing else.
- Sites, DNSRecords, DNSZones (failurePolicy Ignore): early feedback for names the namespace may
  not publish, for a second zone of an existing name, and for a zone inside another namespace's
  zone that does not delegate it. Reconciliation decides these anyway.
Only spec changes are checked: metadata updates (finalizers, labels) always pass.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import kopf

from siteplane import metrics
from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.config import Config
from siteplane.domain.access import Author
from siteplane.errors import KubeUnavailable
from siteplane.handlers.memo import config_of, operator_of
from siteplane.handlers.webhook_server import AdmissionServer
from siteplane.kube.webhook_tls import WebhookCertificates, generate
from siteplane.reconcile.observed import FINALIZER
from siteplane.reconcile.operator import Operator

log = logging.getLogger(__name__)


class NoWebhookServer:
    """The webhook is off. kopf refuses to start when admission handlers exist without a server, so
    this stands in for one: it serves nothing, and no webhook configuration is created."""

    async def __call__(self, fn: Any) -> AsyncIterator[Any]:
        await asyncio.Event().wait()  # forever, until the operator stops
        yield  # unreachable: makes this an async generator, as kopf expects


def configure_webhook(settings: kopf.OperatorSettings, config: Config) -> AdmissionServer | None:
    """Serve the webhooks (None when ``SITEPLANE_WEBHOOK_LISTEN`` is unset): the server the
    operator's cleanup drains before it stops the operator."""
    address = config.webhook_address
    if address is None:
        settings.admission.server = NoWebhookServer()
        return None
    addr, port = address
    host = config.webhook_host or addr
    if config.webhook_cert_dir:
        certs = WebhookCertificates.mounted(Path(config.webhook_cert_dir))
    else:
        certs = generate(Path(tempfile.mkdtemp(prefix="siteplane-webhook-")), [host, addr])
    server = AdmissionServer(addr=addr, port=port, host=host, certs=certs, drain_seconds=config.webhook_drain_seconds)
    settings.admission.server = server
    if config.webhook_configuration:
        settings.admission.managed = config.webhook_configuration
        log.info("admission webhook on %s:%d, called at https://%s:%d", addr, port, host, port)
    else:  # an installer (the Helm chart) ships the configuration, with clientConfig.service
        settings.admission.managed = None
        log.info("admission webhook on %s:%d; its configuration is managed by the installer", addr, port)
    return server


def _spec_unchanged(operation: str | None, old: Mapping[str, Any] | None, body: Mapping[str, Any]) -> bool:
    return operation == "UPDATE" and (old or {}).get("spec") == body.get("spec")


async def _check(
    memo: kopf.Memo, kind: str, work: Callable[[Operator], Awaitable[str | None]], what: str, *, fail_closed: bool
) -> None:
    operator = operator_of(memo)
    if operator is None:
        metrics.admission_decided(kind, "error")
        raise kopf.AdmissionError("the siteplane operator is starting; try again in a moment", code=503)
    try:
        refusal = await work(operator)
    except KubeUnavailable as error:
        metrics.admission_decided(kind, "error")
        raise kopf.AdmissionError(f"cannot check {what} now ({error}); try again", code=503) from None
    except Exception as error:
        metrics.admission_decided(kind, "error")
        log.warning("admission check of %s failed: %s", what, type(error).__name__)
        log.debug("admission check failed", exc_info=True)
        if fail_closed:
            raise kopf.AdmissionError(f"cannot check {what} now; try again", code=503) from None
        return  # early feedback only: reconciliation decides
    metrics.admission_decided(kind, "refused" if refusal else "allowed")
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
        metrics.admission_decided("AccessGrant", "allowed")
        return
    meta = body.get("metadata") or {}
    author = Author.from_userinfo(userinfo)
    namespace, uid = meta.get("namespace") or "", meta.get("uid") or ""
    generation, spec = int(meta.get("generation") or 1), body.get("spec") or {}

    async def admit(operator: Operator) -> str | None:
        return await operator.admit_grant(namespace, uid, generation, spec, author, dryrun)

    await _check(memo, "AccessGrant", admit, "the grant's permissions", fail_closed=True)


Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


def _register_change_checks(plural: str, kind: str, what: str) -> None:
    """Early refusal of names the namespace may not use, and the author of every admitted change
    (a new generation of the spec, or the deletion): history shows who, not only what."""

    @kopf.on.validate(
        API_GROUP,
        API_VERSION,
        plural,
        id=f"{plural}-may-publish",
        operations=["CREATE", "UPDATE", "DELETE"],
        ignore_failures=True,
        side_effects=True,
    )
    async def check_change(
        body: kopf.Body,
        memo: kopf.Memo,
        userinfo: Mapping[str, Any],
        dryrun: bool,
        old: Mapping[str, Any] | None = None,
        operation: str | None = None,
        **_: Any,
    ) -> None:
        if _spec_unchanged(operation, old, body):
            metrics.admission_decided(kind, "allowed")
            return
        meta = body.get("metadata") or {}
        namespace, uid, spec = meta.get("namespace") or "", meta.get("uid") or "", body.get("spec") or {}
        generation = int(meta.get("generation") or 1)

        async def refusal(operator: Operator) -> str | None:
            if operation != "DELETE":
                refused = await operator.refusal(kind, namespace, uid, spec)
                if refused:
                    return refused
            if not dryrun and uid:
                operator.record_author(uid, generation, operation or "", str(userinfo.get("username") or ""))
            return None

        await _check(memo, kind, refusal, what, fail_closed=False)


def _register_finalizer(plural: str) -> None:
    @kopf.on.mutate(
        API_GROUP,
        API_VERSION,
        plural,
        id=f"{plural}-finalizer",
        operations=["CREATE"],
        ignore_failures=True,  # the operator adds it itself when this webhook is down
        side_effects=False,
    )
    def add_finalizer(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        meta = body.get("metadata") or {}
        served = config_of(memo).namespaces
        if served and meta.get("namespace") not in served:
            return  # no operator of this installation would ever take it off again
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            patch.metadata["finalizers"] = [*finalizers, FINALIZER]


for _plural in ("sites", "dnsrecords", "dnszones"):
    _register_finalizer(_plural)

_register_change_checks("sites", "Site", "the site's domains")
_register_change_checks("dnsrecords", "DNSRecord", "the record's name")
_register_change_checks("dnszones", "DNSZone", "the zone's name")
