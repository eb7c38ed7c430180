"""The configuration: every setting from its SITEPLANE_* variable, bad values refused by name."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import kopf
import pytest

from siteplane.config import ENVIRONMENT, Config
from siteplane.handlers.kopf_settings import apply_settings
from siteplane.handlers.login import in_cluster_server


def test_defaults_need_no_environment() -> None:
    assert Config.from_env({}) == Config()


@pytest.mark.parametrize(
    ("variable", "text", "field", "value"),
    [
        ("SITEPLANE_NAMESPACES", "team-a, team-b,", "namespaces", ("team-a", "team-b")),
        ("SITEPLANE_PEERING", "siteplane", "peering", "siteplane"),
        ("SITEPLANE_PEERING_PRIORITY", "-5", "priority", -5),
        ("SITEPLANE_PEERING_LIFETIME", "20", "peering_lifetime", 20),
        (
            "SITEPLANE_ZONE_RELOAD_COMMAND",
            "rndc -s 'ns 1' reload",
            "zone_reload_command",
            ("rndc", "-s", "ns 1", "reload"),
        ),
        ("SITEPLANE_DRIFT_INTERVAL", "0", "drift_interval", 0.0),
        ("SITEPLANE_KUBE_TIMEOUT", "2.5", "kube_timeout", 2.5),
        ("SITEPLANE_API_CONCURRENCY", "0", "api_concurrency", 0),
        ("SITEPLANE_RECONCILE_WORKERS", "4", "reconcile_workers", 4),
        ("SITEPLANE_ZONE_GATHER_SECONDS", "0.2", "zone_gather_seconds", 0.2),
        ("SITEPLANE_ZONE_SYNC_CONCURRENCY", "3", "zone_sync_concurrency", 3),
        ("SITEPLANE_STATUS_CONCURRENCY", "16", "status_concurrency", 16),
        ("SITEPLANE_PROBES_LISTEN", ":8081", "probes_address", ("0.0.0.0", 8081)),
        ("SITEPLANE_LOG_FORMAT", "json", "log_format", "json"),
    ],
)
def test_each_variable_sets_its_field(variable: str, text: str, field: str, value: object) -> None:
    assert getattr(Config.from_env({variable: text}), field) == value


@pytest.mark.parametrize(
    ("variable", "text", "says"),
    [
        ("SITEPLANE_DRIFT_INTERVAL", "soon", "must be a number of seconds"),
        ("SITEPLANE_KUBE_TIMEOUT", "-1", "must not be negative"),
        ("SITEPLANE_KUBE_TIMEOUT", "nan", "must not be negative"),
        ("SITEPLANE_API_CONCURRENCY", "-1", "must be a whole number"),
        ("SITEPLANE_RECONCILE_WORKERS", "0", "must be at least 1"),
        ("SITEPLANE_STATUS_CONCURRENCY", "x", "must be a whole number"),
        ("SITEPLANE_PEERING_PRIORITY", "high", "must be a whole number"),
        ("SITEPLANE_PEERING_LIFETIME", "0", "must be at least 1"),
        ("SITEPLANE_LOG_FORMAT", "yaml", "must be text or json"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(variable: str, text: str, says: str) -> None:
    with pytest.raises(ValueError, match=f"{variable} {says}"):
        Config.from_env({variable: text})


def test_a_random_priority_is_one_of_kopfs_usual_range_and_differs_between_replicas() -> None:
    priorities = {Config.from_env({"SITEPLANE_PEERING_PRIORITY": "random"}).priority for _ in range(20)}
    assert all(1 <= p <= 32767 for p in priorities) and len(priorities) > 1


def test_every_setting_has_a_variable_and_a_description() -> None:
    assert set(ENVIRONMENT) == {f.name for f in fields(Config)}
    assert len({variable for variable, _ in ENVIRONMENT.values()}) == len(ENVIRONMENT)


def test_every_variable_is_documented_in_the_configuration_reference() -> None:
    reference = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    missing = [variable for variable, _ in ENVIRONMENT.values() if f"`{variable}`" not in reference]
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_an_empty_webhook_configuration_turns_its_management_off() -> None:
    assert Config.from_env({}).webhook_configuration == "siteplane.io"
    assert Config.from_env({"SITEPLANE_WEBHOOK_CONFIGURATION": ""}).webhook_configuration == ""
    assert Config.from_env({"SITEPLANE_LIVENESS": "http://0.0.0.0:8081/healthz"}).liveness == (
        "http://0.0.0.0:8081/healthz"
    )


def test_in_a_pod_the_operator_finds_the_apiserver_by_the_service_environment_not_by_dns() -> None:
    default = "https://kubernetes.default.svc"
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster_server(env, default) == "https://10.96.0.1:443"
    assert in_cluster_server({**env, "KUBERNETES_SERVICE_HOST": "fd00::1"}, default) == "https://[fd00::1]:443"
    assert in_cluster_server({}, default) == default


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        pytest.param({}, (True, 60), id="standalone"),
        pytest.param({"SITEPLANE_PEERING": "siteplane"}, (False, 60), id="peering-default-lifetime"),
        pytest.param(
            {"SITEPLANE_PEERING": "siteplane", "SITEPLANE_PEERING_LIFETIME": "15"}, (False, 15), id="peering-lifetime"
        ),
    ],
)
def test_the_peering_lifetime_reaches_kopf(environment: dict[str, str], expected: tuple[bool, int]) -> None:
    settings = kopf.OperatorSettings()
    apply_settings(settings, Config.from_env(environment))
    assert (settings.peering.standalone, settings.peering.lifetime) == expected


def test_a_resign_window_not_shorter_than_the_signature_validity_is_refused() -> None:
    with pytest.raises(ValueError, match="SITEPLANE_DNSSEC_RESIGN_WINDOW"):
        Config.from_env({"SITEPLANE_DNSSEC_SIGNATURE_VALIDITY": "60", "SITEPLANE_DNSSEC_RESIGN_WINDOW": "60"})
    config = Config.from_env({"SITEPLANE_DNSSEC_SIGNATURE_VALIDITY": "60", "SITEPLANE_DNSSEC_RESIGN_WINDOW": "45"})
    assert (config.dnssec_signature_validity, config.dnssec_resign_window) == (60, 45)
