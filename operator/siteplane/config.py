"""Operator configuration: command-line flags, falling back to SITEPLANE_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...] = ()
    """Namespaces to serve; every namespace when empty."""
    peering: str | None = None
    """Name of the kopf peering object; None runs standalone (one operator replica at a time)."""
    priority: int = 0
    """Peering priority of this replica."""
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> OperatorConfig:
        env = dict(os.environ if environ is None else environ)
        namespaces = tuple(n for n in env.get("SITEPLANE_NAMESPACES", "").split(",") if n)
        return cls(
            namespaces=namespaces,
            peering=env.get("SITEPLANE_PEERING") or None,
            priority=int(env.get("SITEPLANE_PEERING_PRIORITY", "0")),
            log_level=env.get("SITEPLANE_LOG_LEVEL", "INFO").upper(),
        )
