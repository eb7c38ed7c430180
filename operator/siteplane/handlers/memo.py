"""What kopf's memo holds for siteplane: the configuration, and the one application object."""

from __future__ import annotations

import getpass
import os
import secrets
import socket
from datetime import UTC, datetime

import kopf

from siteplane.config import Config
from siteplane.reconcile.operator import Operator

CONFIG, OPERATOR, IDENTITY, PROBES, WEBHOOK = "config", "operator", "identity", "probes", "webhook"


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


def identity_of(memo: kopf.Memo) -> str:
    """The peering identity to start kopf with (``kopf.run(identity=...)``), made once per memo:
    the pod's name when $POD_ID says it (kopf's own convention), else user@host/time/random.
    siteplane needs to know it to tell whether this replica leads (reconcile/leadership.py)."""
    identity: str | None = memo.get(IDENTITY)
    if identity is None:
        identity = os.environ.get("POD_ID") or "{}@{}/{}/{}".format(
            getpass.getuser(), socket.gethostname(), datetime.now(UTC).strftime("%Y%m%d%H%M%S"), secrets.token_hex(3)
        )
        memo[IDENTITY] = identity
    return identity
