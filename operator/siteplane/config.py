"""siteplane's configuration: command-line flags, falling back to SITEPLANE_* environment variables.

One object holds every setting and tunable; each field says what it is and ``ENVIRONMENT`` names
the variable that sets it, so docs/configuration.md and the code cannot disagree (a test checks).
"""

from __future__ import annotations

import os
import random
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///siteplane.db"


@dataclass(frozen=True)
class Config:
    namespaces: tuple[str, ...] = ()
    """Namespaces to serve; every namespace when empty."""
    peering: str | None = None
    """Name of the kopf peering object; None runs standalone (one operator replica at a time)."""
    priority: int = 0
    """Peering priority of this replica: the live replica with the highest one is active, and
    replicas of equal priority all pause (kopf's rule), so each needs its own: "random" picks one
    in 1..32767 at start."""
    peering_lifetime: int = 60
    """Seconds a replica stays in the peering object after its last keep-alive: how long a standby
    waits before it takes over from a leader that died without a word (kopf's peering lifetime)."""
    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL of the application database (SQLite file by default, or PostgreSQL)."""
    default_backend: str | None = None
    """DNSBackend used by zones that name none; None means the embedded zone-file backend."""
    zone_dir: str = "zones"
    """Directory of the embedded zone-file backend."""
    zone_reload_command: tuple[str, ...] = ()
    """Command run after the embedded backend writes a zone file (the zone name is appended)."""
    drift_interval: float = 300.0
    """Seconds between two comparisons of a zone with what its server serves; 0 turns them off."""
    drift_full_interval: float = 3600.0
    """A drift check of a zone whose rows did not change only reads its server and compares it with
    what the last sync saw served; at least this often (seconds) a check is a whole sync instead.
    0: every check is a whole sync."""
    dnssec_key_namespace: str | None = None
    """Namespace of the Secrets holding the DNSSEC signing keys of zones siteplane signs itself (zone
    files): the operator's own (the chart sets it). Unset: such zones cannot be signed."""
    dnssec_signature_validity: float = 14 * 86400.0
    """Seconds the RRSIGs siteplane makes (zone files) are valid from their signing."""
    dnssec_resign_window: float = 7 * 86400.0
    """Zone files are signed again when their earliest RRSIG expires within this many seconds: the
    periodic sync (drift_interval) finds them, so it must be well below this window."""
    backend_recheck_interval: float = 60.0
    """Seconds between two re-reads of a DNSBackend's Secrets and tests of its server; 0: never."""
    changes_keep_seconds: float = 86400.0
    """Seconds the change feed (what the dashboard's live updates resume from) keeps a change;
    0: forever. A client that was away longer is told to reload. History is never pruned."""
    api_concurrency: int = 32
    """API requests that may wait for their response at once, per HTTP session; 0 leaves kopf's
    own session unbounded (it opens a connection per concurrent request)."""
    kube_timeout: float = 30.0
    """Seconds any single request to the Kubernetes API may take (watches aside, which the server
    ends every 10 minutes); kopf's own requests use the same limit."""
    reconcile_workers: int = 64
    """Objects reconciled at once. Each reconcile is short (its share of a database transaction:
    Sites and DNSRecords stored at once share one, reconcile/store_batch.py); the DNS work is done
    by the zone writer. More workers make bigger shared transactions in a burst: at N=1,000,
    operator CPU 13.9 s with 16, 11.7 s with 64."""
    zone_gather_seconds: float = 0.05
    """How long a zone's writer waits for its requests to pause before it syncs: a burst becomes one sync."""
    zone_gather_max_seconds: float = 1.0
    """The longest a zone's writer waits for its requests to pause: a steady stream of changes is
    served once per this window, and no change waits longer than this to start its sync."""
    zone_sync_concurrency: int = 2
    """Zone syncs running at once (all zones together): the back-pressure that makes syncs fewer
    and bigger as load rises."""
    status_concurrency: int = 8
    """Status writes in flight at once."""
    status_settle_seconds: float = 2.0
    """How long an object must be quiet before a status write that changes only tallies (a zone's
    serial and record count) is made; conditions are never held."""
    status_settle_max_seconds: float = 30.0
    """The longest such a write waits while its object stays busy."""
    api_listen: str = "127.0.0.1:8080"
    """host:port the dashboard API (`siteplane serve`) listens on."""
    api_audiences: tuple[str, ...] = ()
    """Audiences a caller's token must be valid for (TokenReview); the API server's own when empty."""
    api_token_cache_seconds: float = 10.0
    """How long the dashboard API trusts a TokenReview's answer for a token (rejections: a tenth)."""
    api_token_cache_size: int = 4096
    """Tokens whose review the dashboard API keeps at most (the oldest answers go first)."""
    api_cache_seconds: float = 1.0
    """Seconds the dashboard API may give a read's answer again to the same token, unchanged, while
    the change feed has not moved; 0: never (docs/dashboard.md, "Answers kept for a second")."""
    api_cache_entries: int = 512
    """Answers the dashboard API keeps for that, per process (at most 1 MiB each)."""
    live_poll_seconds: float = 0.25
    """SQLite: seconds between two reads of the change feed for the live updates (one cheap indexed
    query per API process, however many clients)."""
    live_notify_timeout_seconds: float = 5.0
    """PostgreSQL: the feed is read on every NOTIFY, and at least this often without one (a safety
    net for a notification lost with its LISTEN connection)."""
    live_keepalive_seconds: float = 15.0
    """Seconds of silence after which a live updates stream gets a keep-alive comment."""
    live_recheck_seconds: float = 5.0
    """Seconds between two re-reads of what each live updates client may see: a revoked
    permission stops its events within this time."""
    live_max_clients: int = 1000
    """Live updates streams one API process serves at once; more are refused (503)."""
    live_backlog: int = 1000
    """How many changes a live updates client may be behind (waiting to be sent, or missed while
    it was away) before it is told to reload instead."""
    webhook_listen: str | None = None
    """host:port the admission webhook listens on (TLS); None serves no webhook."""
    webhook_host: str | None = None
    """Host name or address the apiserver calls the webhook at; the listening address when unset."""
    webhook_cert_dir: str | None = None
    """Directory with tls.crt, tls.key and ca.crt for the webhook; None generates a CA at start."""
    webhook_drain_seconds: float = 5.0
    """A stopping operator keeps answering the webhook (each answer closing its connection) until
    the apiserver's kept-open connections are gone, or this long (handlers/webhook_server.py)."""
    probes_listen: str | None = None
    """host:port of the operator's readiness and metrics server (/readyz, /metrics); None: none.
    Liveness is kopf's endpoint (``liveness``)."""
    log_format: str = "text"
    """The operator's log lines: "text" (kopf's format) or "json" (one JSON object a line)."""
    webhook_configuration: str = "siteplane.io"
    """Name of the ValidatingWebhookConfiguration the operator keeps up to date (URL and caBundle);
    each webhook in it is named <check>.<this name>, so it must contain a dot. Empty: the operator
    leaves the configuration alone (an installer such as the Helm chart ships it)."""
    liveness: str | None = None
    """URL of kopf's liveness endpoint (e.g. http://0.0.0.0:8081/healthz); None serves none."""

    def __post_init__(self) -> None:
        if not 0 <= self.dnssec_resign_window < self.dnssec_signature_validity:
            raise ValueError(
                "SITEPLANE_DNSSEC_RESIGN_WINDOW must be shorter than SITEPLANE_DNSSEC_SIGNATURE_VALIDITY: "
                "signatures are refreshed when they expire within the window"
            )

    @property
    def webhook_address(self) -> tuple[str, int] | None:
        return _address("SITEPLANE_WEBHOOK_LISTEN", self.webhook_listen) if self.webhook_listen else None

    @property
    def probes_address(self) -> tuple[str, int] | None:
        return _address("SITEPLANE_PROBES_LISTEN", self.probes_listen) if self.probes_listen else None

    @property
    def api_address(self) -> tuple[str, int]:
        return _address("SITEPLANE_API_LISTEN", self.api_listen)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, (variable, parse) in ENVIRONMENT.items():
            text = env.get(variable, "")
            if text:
                values[name] = parse(variable, text)
            elif name in _EMPTY_MEANS_OFF and variable in env:
                values[name] = ""  # set to nothing: turned off, not the default
        return cls(**values)


def _address(variable: str, text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{variable} must be host:port, not {text!r}")
    return host or "0.0.0.0", int(port)


def _text(variable: str, text: str) -> str:
    return text


def _names(variable: str, text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _command(variable: str, text: str) -> tuple[str, ...]:
    return tuple(shlex.split(text))


def _seconds(variable: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{variable} must be a number of seconds, not {text!r}") from None
    if value < 0 or value != value:  # NaN compares unequal to itself
        raise ValueError(f"{variable} must not be negative")
    return value


def _interval(variable: str, text: str) -> float:
    value = _seconds(variable, text)
    if value == 0:
        raise ValueError(f"{variable} must be more than 0")
    return value


def _count(variable: str, text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{variable} must be a whole number (0 or more), not {text!r}")
    return int(text)


def _positive(variable: str, text: str) -> int:
    value = _count(variable, text)
    if value < 1:
        raise ValueError(f"{variable} must be at least 1")
    return value


def _priority(variable: str, text: str) -> int:
    if text == "random":
        return random.randint(1, 32767)
    return _integer(variable, text)


def _log_format(variable: str, text: str) -> str:
    if text not in ("text", "json"):
        raise ValueError(f"{variable} must be text or json, not {text!r}")
    return text


def _integer(variable: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number, not {text!r}") from None


Parser = Callable[[str, str], Any]

# field -> (environment variable, parser). Every field of Config is here (a test checks).
ENVIRONMENT: dict[str, tuple[str, Parser]] = {
    "namespaces": ("SITEPLANE_NAMESPACES", _names),
    "peering": ("SITEPLANE_PEERING", _text),
    "priority": ("SITEPLANE_PEERING_PRIORITY", _priority),
    "peering_lifetime": ("SITEPLANE_PEERING_LIFETIME", _positive),
    "database_url": ("SITEPLANE_DATABASE_URL", _text),
    "default_backend": ("SITEPLANE_DEFAULT_BACKEND", _text),
    "zone_dir": ("SITEPLANE_ZONE_DIR", _text),
    "zone_reload_command": ("SITEPLANE_ZONE_RELOAD_COMMAND", _command),
    "drift_interval": ("SITEPLANE_DRIFT_INTERVAL", _seconds),
    "drift_full_interval": ("SITEPLANE_DRIFT_FULL_INTERVAL", _seconds),
    "dnssec_key_namespace": ("SITEPLANE_DNSSEC_KEY_NAMESPACE", _text),
    "dnssec_signature_validity": ("SITEPLANE_DNSSEC_SIGNATURE_VALIDITY", _interval),
    "dnssec_resign_window": ("SITEPLANE_DNSSEC_RESIGN_WINDOW", _seconds),
    "backend_recheck_interval": ("SITEPLANE_BACKEND_RECHECK_INTERVAL", _seconds),
    "changes_keep_seconds": ("SITEPLANE_CHANGES_KEEP_SECONDS", _seconds),
    "api_concurrency": ("SITEPLANE_API_CONCURRENCY", _count),
    "kube_timeout": ("SITEPLANE_KUBE_TIMEOUT", _seconds),
    "reconcile_workers": ("SITEPLANE_RECONCILE_WORKERS", _positive),
    "zone_gather_seconds": ("SITEPLANE_ZONE_GATHER_SECONDS", _seconds),
    "zone_gather_max_seconds": ("SITEPLANE_ZONE_GATHER_MAX_SECONDS", _seconds),
    "zone_sync_concurrency": ("SITEPLANE_ZONE_SYNC_CONCURRENCY", _positive),
    "status_concurrency": ("SITEPLANE_STATUS_CONCURRENCY", _positive),
    "status_settle_seconds": ("SITEPLANE_STATUS_SETTLE_SECONDS", _seconds),
    "status_settle_max_seconds": ("SITEPLANE_STATUS_SETTLE_MAX_SECONDS", _seconds),
    "api_listen": ("SITEPLANE_API_LISTEN", _text),
    "api_audiences": ("SITEPLANE_API_AUDIENCES", _names),
    "api_token_cache_seconds": ("SITEPLANE_API_TOKEN_CACHE_SECONDS", _seconds),
    "api_token_cache_size": ("SITEPLANE_API_TOKEN_CACHE_SIZE", _positive),
    "api_cache_seconds": ("SITEPLANE_API_CACHE_SECONDS", _seconds),
    "api_cache_entries": ("SITEPLANE_API_CACHE_ENTRIES", _positive),
    "live_poll_seconds": ("SITEPLANE_LIVE_POLL_SECONDS", _interval),
    "live_notify_timeout_seconds": ("SITEPLANE_LIVE_NOTIFY_TIMEOUT_SECONDS", _interval),
    "live_keepalive_seconds": ("SITEPLANE_LIVE_KEEPALIVE_SECONDS", _interval),
    "live_recheck_seconds": ("SITEPLANE_LIVE_RECHECK_SECONDS", _interval),
    "live_max_clients": ("SITEPLANE_LIVE_MAX_CLIENTS", _positive),
    "live_backlog": ("SITEPLANE_LIVE_BACKLOG", _positive),
    "webhook_listen": ("SITEPLANE_WEBHOOK_LISTEN", _text),
    "webhook_host": ("SITEPLANE_WEBHOOK_HOST", _text),
    "webhook_cert_dir": ("SITEPLANE_WEBHOOK_CERT_DIR", _text),
    "webhook_drain_seconds": ("SITEPLANE_WEBHOOK_DRAIN_SECONDS", _seconds),
    "probes_listen": ("SITEPLANE_PROBES_LISTEN", _text),
    "log_format": ("SITEPLANE_LOG_FORMAT", _log_format),
    "webhook_configuration": ("SITEPLANE_WEBHOOK_CONFIGURATION", _text),
    "liveness": ("SITEPLANE_LIVENESS", _text),
}

# Settings whose variable, set to the empty string, turns the feature off instead of keeping the default.
_EMPTY_MEANS_OFF = frozenset({"webhook_configuration"})

assert set(ENVIRONMENT) == {f.name for f in fields(Config)}, "every setting has its environment variable"
