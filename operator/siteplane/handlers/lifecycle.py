"""The operator's start and end: the configuration, kopf's settings, the probe server, and the one
application object (reconcile/operator.py) every handler reaches through kopf's memo."""

from __future__ import annotations

import logging
from typing import Any, cast

import kopf

from siteplane.config import Config
from siteplane.errors import SiteplaneError
from siteplane.handlers.admission import configure_webhook
from siteplane.handlers.kopf_settings import apply_settings
from siteplane.handlers.memo import CONFIG, IDENTITY, OPERATOR, PROBES, WEBHOOK, config_of, identity_of, operator_of
from siteplane.handlers.probes import ProbeServer
from siteplane.handlers.webhook_server import AdmissionServer
from siteplane.reconcile.operator import build
from siteplane.store.migrate import SchemaOutOfDate

log = logging.getLogger(__name__)


def configure_logging(config: Config, *, verbose: bool = False) -> None:
    """kopf's logging: its text format, or one JSON object a line (message, severity, timestamp,
    logger name, and the object a line is about). The same lines either way: no token or
    credential is ever in one."""
    log_format = kopf.LogFormat.JSON if config.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(verbose=verbose, log_format=log_format)


def run(config: Config, *, verbose: bool = False) -> None:
    """Run the operator until it is stopped (SIGINT, SIGTERM): every handler of this package."""
    configure_logging(config, verbose=verbose)
    memo = kopf.Memo()
    memo[CONFIG] = config
    kopf.run(
        clusterwide=not config.namespaces,
        namespaces=list(config.namespaces),
        memo=memo,
        identity=cast(Any, identity_of(memo)),  # kopf's Identity: a NewType of str it does not export
        liveness_endpoint=config.liveness,
    )


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config = config_of(memo)
    apply_settings(settings, config)
    if WEBHOOK not in memo:  # once: a start-up retried after a TemporaryError keeps the first
        memo[WEBHOOK] = configure_webhook(settings, config)
    if config.peering is not None and memo.get(IDENTITY) is None:
        # siteplane follows kopf's peering verdict knowing kopf's identity; kopf started without
        # one made up its own, so this replica could never tell that it leads.
        raise kopf.PermanentError("with peering, start kopf with identity=identity_of(memo) (handlers/memo.py)")
    await _start_probes(memo, config)
    try:
        operator = build(config, identity=memo.get(IDENTITY))
    except SchemaOutOfDate as error:
        raise kopf.PermanentError(str(error)) from error
    try:
        await operator.start()
    except SiteplaneError as error:
        await operator.stop()
        raise kopf.TemporaryError(f"start-up failed: {error}", delay=5) from error
    memo[OPERATOR] = operator


async def _start_probes(memo: kopf.Memo, config: Config) -> None:
    address = config.probes_address
    if address is None or memo.get(PROBES) is not None:
        return
    probes = ProbeServer(lambda: operator_of(memo))
    await probes.start(*address)
    memo[PROBES] = probes


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    webhook: AdmissionServer | None = memo.get(WEBHOOK)
    if webhook is not None:  # the webhook's answers need the operator: drain them first
        await webhook.stop()
    operator = operator_of(memo)
    if operator is not None:
        await operator.stop()
    probes: ProbeServer | None = memo.get(PROBES)
    if probes is not None:
        await probes.stop()
        memo[PROBES] = None
