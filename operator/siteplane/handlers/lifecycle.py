"""The operator's start and end: the configuration, kopf's settings, and the one application
object (reconcile/operator.py) every handler reaches through kopf's memo."""

from __future__ import annotations

from typing import Any

import kopf

from siteplane.config import Config
from siteplane.errors import SiteplaneError
from siteplane.handlers.admission import configure_webhook
from siteplane.handlers.kopf_settings import apply_settings
from siteplane.handlers.memo import CONFIG, OPERATOR, config_of, operator_of
from siteplane.reconcile.operator import build
from siteplane.store.migrate import SchemaOutOfDate


def run(config: Config, *, verbose: bool = False) -> None:
    """Run the operator until it is stopped (SIGINT, SIGTERM): every handler of this package."""
    kopf.configure(verbose=verbose, log_format=kopf.LogFormat.FULL)
    memo = kopf.Memo()
    memo[CONFIG] = config
    kopf.run(
        clusterwide=not config.namespaces,
        namespaces=list(config.namespaces),
        memo=memo,
        liveness_endpoint=config.liveness,
    )


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config = config_of(memo)
    apply_settings(settings, config)
    configure_webhook(settings, config)
    try:
        operator = build(config)
    except SchemaOutOfDate as error:
        raise kopf.PermanentError(str(error)) from error
    try:
        await operator.start()
    except SiteplaneError as error:
        await operator.stop()
        raise kopf.TemporaryError(f"start-up failed: {error}", delay=5) from error
    memo[OPERATOR] = operator


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    operator = operator_of(memo)
    if operator is not None:
        await operator.stop()
