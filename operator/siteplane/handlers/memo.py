"""What kopf's memo holds for siteplane: the configuration, and the one application object."""

from __future__ import annotations

import kopf

from siteplane.config import Config
from siteplane.reconcile.operator import Operator

CONFIG, OPERATOR = "config", "operator"


def config_of(memo: kopf.Memo) -> Config:
    """The configuration `siteplane run` put in kopf's memo; from the environment when the operator
    is started otherwise (kopf.operator with a bare memo, as the benchmark's floor does)."""
    config: Config = memo.get(CONFIG) or Config.from_env()
    memo[CONFIG] = config
    return config


def operator_of(memo: kopf.Memo) -> Operator | None:
    """The running operator; None until start-up has built it."""
    operator: Operator | None = memo.get(OPERATOR)
    return operator


def running(memo: kopf.Memo) -> Operator:
    """The running operator, in a handler that kopf runs only after start-up."""
    operator = operator_of(memo)
    if operator is None:
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return operator
