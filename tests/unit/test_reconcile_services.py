"""Reconcile services on the embedded defaults (a real SQLite file and real zone files), no cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from siteplane.config import Config
from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.inputs import ObjectInput
from siteplane.reconcile.services import Services, build_services
from siteplane.store.migrate import upgrade


def _services(tmp_path: Path) -> Services:
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(url)
    return build_services(Config(database_url=url, zone_dir=str(tmp_path / "zones")))


def _obj(
    kind: str,
    name: str,
    spec: dict[str, Any],
    generation: int = 1,
    created: str = "2026-01-01T00:00:00Z",
    status: dict[str, Any] | None = None,
) -> ObjectInput:
    return ObjectInput(ObjectRef(kind, "team-a", name, f"uid-{name}"), created, generation, spec, status or {})


ZONE = {"zoneName": "example.com", "nameServers": ["ns1.example.net"]}
SITE = {"primaryDomain": "www.example.com", "serving": {"ipv4": ["192.0.2.1"]}}


def test_handling_the_same_generation_twice_writes_nothing_new(tmp_path: Path) -> None:
    services = _services(tmp_path)

    async def run() -> tuple[int, bytes, int, bytes, dict[str, Any]]:
        await services.zones.reconcile(_obj("DNSZone", "zone", ZONE))
        first = await services.sites.reconcile(_obj("Site", "www", SITE))
        with services.store.unit_of_work() as uow:
            history = uow.history.count()
        zone_file = (tmp_path / "zones" / "example.com.zone").read_bytes()
        second = await services.sites.reconcile(_obj("Site", "www", SITE, status=first.status))
        with services.store.unit_of_work() as uow:
            again = uow.history.count()
        return history, zone_file, again, (tmp_path / "zones" / "example.com.zone").read_bytes(), second.status

    history, zone_file, again, zone_file_again, second_status = asyncio.run(run())
    assert again == history
    assert zone_file_again == zone_file
    assert second_status == {}, "an unchanged object gets no status write"
    services.close()


def test_a_spec_the_model_refuses_gets_a_condition_naming_the_field_and_nothing_is_written(tmp_path: Path) -> None:
    services = _services(tmp_path)
    bad = {"primaryDomain": "www.example.com", "serving": {"ipv4": ["192.0.2.1"], "cname": "x.example.net"}}
    outcome = asyncio.run(services.sites.reconcile(_obj("Site", "bad", bad)))
    ready = next(c for c in outcome.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert ready["message"].startswith("spec.serving:")
    with services.store.unit_of_work() as uow:
        assert uow.sites.by_uid("uid-bad") is None
        assert uow.history.count() == 0
    services.close()


def test_a_zone_on_an_unknown_backend_is_not_stored_and_says_which_field(tmp_path: Path) -> None:
    services = _services(tmp_path)
    outcome = asyncio.run(services.zones.reconcile(_obj("DNSZone", "zone", {**ZONE, "backend": "missing"})))
    ready = next(c for c in outcome.status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "BackendUnavailable" and "spec.backend" in ready["message"]
    assert outcome.retry_after is not None and outcome.retry_after > 0
    with services.store.unit_of_work() as uow:
        assert uow.zones.by_uid("uid-zone") is None
    assert not (tmp_path / "zones" / "example.com.zone").exists()
    services.close()
