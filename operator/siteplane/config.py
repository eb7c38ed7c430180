"""Operator configuration: command-line flags, falling back to SITEPLANE_* environment variables."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from siteplane.store.database import DEFAULT_URL


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...] = ()
    """Namespaces to serve; every namespace when empty."""
    peering: str | None = None
    """Name of the kopf peering object; None runs standalone (one operator replica at a time)."""
    priority: int = 0
    """Peering priority of this replica."""
    database_url: str = DEFAULT_URL
    """SQLAlchemy URL of the application database (SQLite file by default, or PostgreSQL)."""
    default_backend: str | None = None
    """DNSBackend used by zones that name none; None means the embedded zone-file backend."""
    zone_dir: str = "zones"
    """Directory of the embedded zone-file backend."""
    zone_reload_command: tuple[str, ...] = ()
    """Command run after the embedded backend writes a zone file (the zone name is appended)."""
    drift_interval: float = 300.0
    """Seconds between two comparisons of a zone with what its server serves; 0 turns them off."""
    backend_recheck_interval: float = 60.0
    """Seconds between two re-reads of a DNSBackend's Secrets and tests of its server."""
    api_concurrency: int = 32
    """API requests that may wait for their response at once; 0 leaves it unbounded, as kopf does,
    which opens a connection per concurrent request (handlers/api_session.py)."""
    webhook_listen: str | None = None
    """host:port the admission webhook listens on (TLS); None serves no webhook."""
    webhook_host: str | None = None
    """Host name or address the apiserver calls the webhook at; the listening address when unset."""
    webhook_cert_dir: str | None = None
    """Directory with tls.crt, tls.key and ca.crt for the webhook; None generates a CA at start."""
    webhook_configuration: str = "siteplane.io"
    """Name of the ValidatingWebhookConfiguration the operator keeps up to date (URL and caBundle);
    each webhook in it is named <check>.<this name>, so it must contain a dot."""

    @property
    def webhook_address(self) -> tuple[str, int] | None:
        if not self.webhook_listen:
            return None
        host, sep, port = self.webhook_listen.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"SITEPLANE_WEBHOOK_LISTEN must be host:port, not {self.webhook_listen!r}")
        return host or "0.0.0.0", int(port)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OperatorConfig:
        env = os.environ if environ is None else environ
        return cls(
            namespaces=tuple(n for n in env.get("SITEPLANE_NAMESPACES", "").split(",") if n),
            peering=env.get("SITEPLANE_PEERING") or None,
            priority=int(env.get("SITEPLANE_PEERING_PRIORITY", "0")),
            database_url=env.get("SITEPLANE_DATABASE_URL", DEFAULT_URL),
            default_backend=env.get("SITEPLANE_DEFAULT_BACKEND") or None,
            zone_dir=env.get("SITEPLANE_ZONE_DIR", "zones"),
            zone_reload_command=tuple(shlex.split(env.get("SITEPLANE_ZONE_RELOAD_COMMAND", ""))),
            drift_interval=_seconds(env, "SITEPLANE_DRIFT_INTERVAL", 300.0),
            backend_recheck_interval=_seconds(env, "SITEPLANE_BACKEND_RECHECK_INTERVAL", 60.0),
            api_concurrency=_count(env, "SITEPLANE_API_CONCURRENCY", 32),
            webhook_listen=env.get("SITEPLANE_WEBHOOK_LISTEN") or None,
            webhook_host=env.get("SITEPLANE_WEBHOOK_HOST") or None,
            webhook_cert_dir=env.get("SITEPLANE_WEBHOOK_CERT_DIR") or None,
            webhook_configuration=env.get("SITEPLANE_WEBHOOK_CONFIGURATION") or "siteplane.io",
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "")
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number (0 or more), not {text!r}")
    return int(text)
