"""The metrics: controller-runtime's names where they apply, bounded labels, and what a zone sync counts."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from siteplane import metrics
from siteplane.api.kinds import KINDS
from siteplane.reconcile.zone_sync import EMBEDDED_LABEL as EMBEDDED
from tests.embedded import Embedded, observed


def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition(metrics.OPERATOR).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(name: str, **labels: str) -> float:
    return samples().get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_metrics_module_knows_every_kind() -> None:
    assert set(metrics.KINDS) == {kind.kind for kind in KINDS}


def test_controller_runtime_series_exist_for_every_kind_before_any_reconcile() -> None:
    """Dashboards built for controller-runtime find their series at once, at zero, per controller."""
    found = samples()
    for kind in metrics.KINDS:
        controller = kind.lower()
        for result in ("success", "error", "requeue_after"):
            assert ("controller_runtime_reconcile_total", (("controller", controller), ("result", result))) in found
        assert ("controller_runtime_reconcile_errors_total", (("controller", controller),)) in found
        assert ("controller_runtime_reconcile_time_seconds_count", (("controller", controller),)) in found
        assert ("workqueue_depth", (("controller", controller), ("name", controller))) in found
        assert ("controller_runtime_active_workers", (("controller", controller),)) in found


def test_a_reconcile_counts_under_its_controller_and_result() -> None:
    before = value("controller_runtime_reconcile_total", controller="dnsrecord", result="error")
    errors = value("controller_runtime_reconcile_errors_total", controller="dnsrecord")
    metrics.reconciled("DNSRecord", "error", 0.01)
    assert value("controller_runtime_reconcile_total", controller="dnsrecord", result="error") == before + 1
    assert value("controller_runtime_reconcile_errors_total", controller="dnsrecord") == errors + 1


def test_a_zone_sync_counts_its_backend_writes_messages_and_result(tmp_path: Path) -> None:
    world = Embedded.create(tmp_path)
    world.run(observed("DNSZone", "zone", {"zoneName": "example.com", "nameServers": ["ns1.example.net"]}))
    writes = value("siteplane_backend_writes_total", backend=EMBEDDED)
    syncs = value("siteplane_zone_syncs_total", backend=EMBEDDED, result="success")
    messages = value("siteplane_zone_sync_messages_count", backend=EMBEDDED)
    stats_before = world.backends.for_zone(None).stats.writes

    world.run(observed("Site", "www", {"primaryDomain": "www.example.com", "serving": {"ipv4": ["192.0.2.1"]}}))
    quiet = world.synchronizer.sync("example.com")  # nothing changed: a probe, no write

    sent = world.backends.for_zone(None).stats.writes - stats_before
    assert quiet.changes == 0 and sent == 1
    assert value("siteplane_backend_writes_total", backend=EMBEDDED) == writes + sent
    assert value("siteplane_zone_syncs_total", backend=EMBEDDED, result="success") == syncs + 2
    assert value("siteplane_zone_sync_messages_count", backend=EMBEDDED) == messages + 2
    world.close()


def test_no_label_carries_an_object_zone_or_user_name() -> None:
    """Every label is one of the bounded ones: a kind or controller, a result, a backend, a route."""
    allowed = {"controller", "name", "result", "kind", "ready", "backend", "error", "route", "method", "status"}
    # process and platform collectors' own labels
    allowed |= {"generation", "implementation", "major", "minor", "patchlevel", "version"}
    for (name, labels), _ in samples().items():
        extra = {label for label, _ in labels} - allowed - {"le"}
        assert not extra, f"{name} has labels {extra}"
        if ("name", "") in labels or any(label == "name" for label, _ in labels):
            assert dict(labels)["name"] in {kind.lower() for kind in metrics.KINDS}, name


def test_every_metric_is_documented() -> None:
    reference = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    names = {
        family.name
        for family in text_string_to_metric_families(metrics.exposition(metrics.OPERATOR).decode())
        if re.match(r"(controller_runtime|workqueue|siteplane)_", family.name)
    }
    names |= {
        family.name
        for family in text_string_to_metric_families(metrics.exposition(metrics.API).decode())
        if family.name.startswith("siteplane_")
    }
    missing = sorted(name for name in names if f"`{name}" not in reference)
    assert not missing, f"not in docs/operations.md: {missing}"


def test_the_dashboard_api_counts_requests_by_route_template_never_by_the_names_in_the_path() -> None:
    from fastapi.testclient import TestClient

    from siteplane.config import Config
    from siteplane.dashboard.app import create_app

    client = TestClient(create_app(Config(database_url="sqlite://")))  # not entered: no database needed
    for name in ("alpha", "beta", "gamma"):
        client.get(f"/no/such/{name}")
        client.get(f"/static/{name}.css")
    client.request("BREW", "/")
    client.get("/")
    scraped = client.get("/metrics")

    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    requests = {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
        if s.name == "siteplane_api_requests_total"
    }
    assert requests[(("method", "GET"), ("route", "other"), ("status", "404"))] >= 3
    assert requests[(("method", "GET"), ("route", "/static"), ("status", "404"))] >= 3
    assert requests[(("method", "GET"), ("route", "/"), ("status", "200"))] >= 1
    assert any(dict(labels)["method"] == "other" for labels in requests)
    assert not any(name in scraped.text for name in ("alpha", "beta", "gamma", "BREW"))
