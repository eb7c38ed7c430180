"""Every metric siteplane exposes, in one place, with a typed helper for each thing it counts.

Two registries, one per process kind: ``OPERATOR`` (``siteplane run``, served at ``/metrics`` on
the probe port) and ``API`` (``siteplane serve``, at its own ``/metrics``). Each also carries the
standard process metrics (CPU, memory, open files) and Python's garbage collector's.

Where controller-runtime has a metric for the same thing, siteplane uses its name, labels and
meaning, so dashboards and alerts written for Go operators work unchanged:

  controller_runtime_reconcile_total{controller,result}   result: success | error | requeue_after
  controller_runtime_reconcile_errors_total{controller}
  controller_runtime_reconcile_time_seconds{controller}   histogram
  controller_runtime_max_concurrent_reconciles{controller}
  controller_runtime_active_workers{controller}           reconciles running now (kopf: handlers in flight)
  workqueue_depth{name,controller}                        keys waiting in the work queue
  workqueue_adds_total{name,controller}, workqueue_retries_total{name,controller}

``controller`` (and the queue's ``name``) is the kind in lower case: ``site``, ``dnszone``, ...

Labels are bounded by construction: a kind, a result, a DNSBackend's name (cluster admins create a
handful), an HTTP route's template; never an object's name, a zone, a user or a namespace. Every
label value of a closed set is created at import, so a scrape shows the same series whether the
operator serves one object or ten thousand.

This module imports nothing of siteplane: it sits beside ``config`` and ``errors`` at the bottom of
the import layers, so every layer can report into it. Only this module imports prometheus_client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

KINDS = ("Site", "DNSZone", "DNSRecord", "AccessGrant", "DNSBackend")
"""siteplane's kinds (a unit test keeps this equal to siteplane.api.kinds)."""
RECONCILE_RESULTS = ("success", "error", "requeue_after")
READY_VALUES = ("True", "False", "Unknown")
ADMISSION_KINDS = ("Site", "DNSZone", "DNSRecord", "AccessGrant")
ADMISSION_RESULTS = ("allowed", "refused", "error")
DATABASE_ERRORS = ("unavailable", "conflict")
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds: from a few milliseconds (a reconcile is one transaction) to minutes (a zone behind a
# slow server, a change waiting for a retry).
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_MESSAGES = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)


# No `_created` series beside each counter and histogram: controller-runtime has none, and they
# would double the series for nothing a rate() needs.
disable_created_metrics()  # type: ignore[no-untyped-call]  # the library leaves it unannotated


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


OPERATOR = _registry()
API = _registry()


def controller_name(kind: str) -> str:
    """controller-runtime's ``controller`` label for a kind."""
    return kind.lower()


# -- the operator: controller-runtime's names ------------------------------------------------------

_RECONCILES = Counter(
    "controller_runtime_reconcile_total",
    "Total number of reconciliations per controller",
    ["controller", "result"],
    registry=OPERATOR,
)
_RECONCILE_ERRORS = Counter(
    "controller_runtime_reconcile_errors_total",
    "Total number of reconciliation errors per controller",
    ["controller"],
    registry=OPERATOR,
)
_RECONCILE_TIME = Histogram(
    "controller_runtime_reconcile_time_seconds",
    "Length of time per reconciliation per controller",
    ["controller"],
    buckets=_SECONDS,
    registry=OPERATOR,
)
_QUEUE_ADDS = Counter(
    "workqueue_adds_total", "Total number of adds handled by workqueue", ["name", "controller"], registry=OPERATOR
)
_QUEUE_RETRIES = Counter(
    "workqueue_retries_total",
    "Total number of retries handled by workqueue",
    ["name", "controller"],
    registry=OPERATOR,
)

# -- the operator: siteplane's own ---------------------------------------------------------------

_BACKEND_WRITES = Counter(
    "siteplane_backend_writes_total",
    "Changes sent to a DNS backend: zone files written, RFC 2136 UPDATE messages, PowerDNS requests",
    ["backend"],
    registry=OPERATOR,
)
_BACKEND_ERRORS = Counter(
    "siteplane_backend_errors_total",
    "Zone syncs that failed at the DNS backend (unreachable, refused as a whole, not serving what was written)",
    ["backend"],
    registry=OPERATOR,
)
_ZONE_SYNCS = Counter(
    "siteplane_zone_syncs_total", "Zone syncs, by backend and result", ["backend", "result"], registry=OPERATOR
)
_ZONE_SYNC_MESSAGES = Histogram(
    "siteplane_zone_sync_messages",
    "Changes (DNS UPDATE messages, PowerDNS requests, zone files) one zone sync sent",
    ["backend"],
    buckets=_MESSAGES,
    registry=OPERATOR,
)
_ZONE_SYNC_TIME = Histogram(
    "siteplane_zone_sync_seconds", "Length of time per zone sync", ["backend"], buckets=_SECONDS, registry=OPERATOR
)
_DRIFT_CHECKS = Counter(
    "siteplane_drift_checks_total",
    "Zones handed to the zone writer to be compared with their server",
    registry=OPERATOR,
)
_DRIFT_PROBES = Counter(
    "siteplane_drift_probes_total",
    "Drift checks answered by comparing the server with the last sync's digest, without a sync",
    registry=OPERATOR,
)
_DRIFT_CORRECTIONS = Counter(
    "siteplane_drift_corrections_total",
    "Record sets found changed on the server behind siteplane's back and put back",
    ["backend"],
    registry=OPERATOR,
)
_REFUSED = Counter(
    "siteplane_records_refused_total",
    "Record sets a DNS server refused (each refusal, as it happens)",
    ["backend"],
    registry=OPERATOR,
)
_CHANGE_SERVED = Histogram(
    "siteplane_change_served_seconds",
    "From a change seen on the watch (new object, new generation) to the DNS server serving it",
    ["kind"],
    buckets=_SECONDS,
    registry=OPERATOR,
)
_STATUS_WRITES = Counter(
    "siteplane_status_writes_total", "Status subresource writes, by kind", ["kind"], registry=OPERATOR
)
_ADMISSIONS = Counter(
    "siteplane_admission_decisions_total",
    "Admission webhook decisions: allowed, refused, or error (could not check)",
    ["kind", "result"],
    registry=OPERATOR,
)
_DATABASE_ERRORS = Counter(
    "siteplane_database_errors_total",
    "Database failures: unavailable (any error) or conflict (a unique index refused a write; retried)",
    ["error"],
    registry=None,  # in both registries: the operator and the API share the store
)
OPERATOR.register(_DATABASE_ERRORS)
API.register(_DATABASE_ERRORS)

for _kind in KINDS:
    _controller = controller_name(_kind)
    for _result in RECONCILE_RESULTS:
        _RECONCILES.labels(_controller, _result)
    _RECONCILE_ERRORS.labels(_controller)
    _RECONCILE_TIME.labels(_controller)
    _QUEUE_ADDS.labels(_controller, _controller)
    _QUEUE_RETRIES.labels(_controller, _controller)
    _STATUS_WRITES.labels(_kind)
_CHANGE_SERVED.labels("Site")
_CHANGE_SERVED.labels("DNSRecord")
_CHANGE_SERVED.labels("DNSZone")
for _kind in ADMISSION_KINDS:
    for _result in ADMISSION_RESULTS:
        _ADMISSIONS.labels(_kind, _result)
for _error in DATABASE_ERRORS:
    _DATABASE_ERRORS.labels(_error)


def reconciled(kind: str, result: str, seconds: float) -> None:
    controller = controller_name(kind)
    _RECONCILES.labels(controller, result).inc()
    if result == "error":
        _RECONCILE_ERRORS.labels(controller).inc()
    _RECONCILE_TIME.labels(controller).observe(seconds)


def failed_unexpectedly(kind: str) -> None:
    """A reconcile that raised what no reconciler should (a bug): an error, its time unknown."""
    controller = controller_name(kind)
    _RECONCILES.labels(controller, "error").inc()
    _RECONCILE_ERRORS.labels(controller).inc()


def queued(kind: str) -> None:
    controller = controller_name(kind)
    _QUEUE_ADDS.labels(controller, controller).inc()


def retried(kind: str) -> None:
    controller = controller_name(kind)
    _QUEUE_RETRIES.labels(controller, controller).inc()


def backend_used(backend: str) -> None:
    """Create a backend's series (at zero) the first time it is used."""
    _BACKEND_WRITES.labels(backend)
    _BACKEND_ERRORS.labels(backend)
    _ZONE_SYNC_MESSAGES.labels(backend)
    _ZONE_SYNC_TIME.labels(backend)
    _DRIFT_CORRECTIONS.labels(backend)
    _REFUSED.labels(backend)
    for result in ("success", "error"):
        _ZONE_SYNCS.labels(backend, result)


def zone_synced(
    backend: str, *, ok: bool, backend_failed: bool, writes: int, seconds: float, refused: int, drift: int
) -> None:
    """One zone sync through ``backend``: ``writes`` changes sent, ``refused`` record sets refused,
    ``drift`` record sets put back; ``backend_failed`` when the failure was the server's."""
    backend_used(backend)
    _ZONE_SYNCS.labels(backend, "success" if ok else "error").inc()
    _BACKEND_WRITES.labels(backend).inc(writes)
    _ZONE_SYNC_MESSAGES.labels(backend).observe(writes)
    _ZONE_SYNC_TIME.labels(backend).observe(seconds)
    if backend_failed:
        _BACKEND_ERRORS.labels(backend).inc()
    if refused:
        _REFUSED.labels(backend).inc(refused)
    if drift:
        _DRIFT_CORRECTIONS.labels(backend).inc(drift)


def drift_checked() -> None:
    _DRIFT_CHECKS.inc()


def drift_probed() -> None:
    _DRIFT_PROBES.inc()


def change_served(kind: str, seconds: float) -> None:
    _CHANGE_SERVED.labels(kind).observe(seconds)


def status_written(kind: str) -> None:
    _STATUS_WRITES.labels(kind).inc()


def admission_decided(kind: str, result: str) -> None:
    _ADMISSIONS.labels(kind, result).inc()


def database_error(error: str) -> None:
    _DATABASE_ERRORS.labels(error).inc()


# -- the operator: what is true now, read at each scrape -------------------------------------------


class OperatorState(Protocol):
    """What the running operator tells a scrape (reconcile/operator.py implements it)."""

    def active(self) -> bool: ...
    def workers(self) -> int: ...
    def queue_depth(self) -> Mapping[str, int]: ...  # kind -> keys waiting
    def in_flight(self) -> Mapping[str, int]: ...  # kind -> reconciles running
    def objects(self) -> Mapping[tuple[str, str], int]: ...  # (kind, Ready) -> objects
    def zones_waiting(self) -> int: ...
    def status_waiting(self) -> int: ...


class _StateCollector(Collector):
    """Gauges computed from the operator when scraped: nothing to keep up to date in between."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: OperatorState | None = None

    def watch(self, state: OperatorState | None) -> None:
        with self._lock:
            self._state = state

    def describe(self) -> Iterable[Metric]:
        return list(self._families(None))

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            state = self._state
        return list(self._families(state))

    def _families(self, state: OperatorState | None) -> Iterator[Metric]:
        active = GaugeMetricFamily(
            "siteplane_active",
            "1 on the replica that reconciles (the peering leader, or a replica without peering), 0 on a standby",
        )
        active.add_metric([], 1.0 if state is not None and state.active() else 0.0)
        yield active
        concurrency = GaugeMetricFamily(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller (siteplane's workers are shared by all kinds)",
            labels=["controller"],
        )
        workers = GaugeMetricFamily(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            labels=["controller"],
        )
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name", "controller"])
        in_flight = state.in_flight() if state is not None else {}
        waiting = state.queue_depth() if state is not None else {}
        for kind in KINDS:
            controller = controller_name(kind)
            concurrency.add_metric([controller], float(state.workers() if state is not None else 0))
            workers.add_metric([controller], float(in_flight.get(kind, 0)))
            depth.add_metric([controller, controller], float(waiting.get(kind, 0)))
        yield concurrency
        yield workers
        yield depth
        objects = GaugeMetricFamily(
            "siteplane_objects", "Objects the operator serves, by kind and Ready condition", labels=["kind", "ready"]
        )
        counts = state.objects() if state is not None else {}
        for kind in KINDS:
            for ready in READY_VALUES:
                objects.add_metric([kind, ready], float(counts.get((kind, ready), 0)))
        yield objects
        zones = GaugeMetricFamily("siteplane_zones_waiting", "Zones with changes waiting for their sync")
        zones.add_metric([], float(state.zones_waiting() if state is not None else 0))
        yield zones
        statuses = GaugeMetricFamily("siteplane_status_waiting", "Objects whose status waits to be written")
        statuses.add_metric([], float(state.status_waiting() if state is not None else 0))
        yield statuses


_STATE = _StateCollector()
OPERATOR.register(_STATE)


def watch_operator(state: OperatorState | None) -> None:
    """The operator whose state the scrapes read (one per process; None when it stops)."""
    _STATE.watch(state)


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus's text format (``CONTENT_TYPE``)."""
    return generate_latest(registry)


# -- the dashboard API ---------------------------------------------------------------------------

_API_REQUESTS = Counter(
    "siteplane_api_requests_total",
    "Dashboard API requests, by route template, method and status code",
    ["route", "method", "status"],
    registry=API,
)
_API_TIME = Histogram(
    "siteplane_api_request_seconds",
    "Length of time per dashboard API request (streams: until the stream ends)",
    ["route", "method"],
    buckets=_SECONDS,
    registry=API,
)
_API_LIVE = Gauge("siteplane_api_live_clients", "Live updates streams open now", registry=API)


def api_request(route: str, method: str, status: int, seconds: float) -> None:
    _API_REQUESTS.labels(route, method, str(status)).inc()
    _API_TIME.labels(route, method).observe(seconds)


def api_live_clients(count: Callable[[], int]) -> None:
    """Where the number of open live updates streams is read from, at each scrape."""
    _API_LIVE.set_function(lambda: float(count()))
