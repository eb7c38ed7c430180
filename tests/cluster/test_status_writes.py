"""Status has one writer, bounded and never stale, on the real control plane (SQLite and PostgreSQL).

- The takeover race, 200 times: two Sites claim one domain, the owner is deleted while the loser
  is being reconciled; every time the loser ends Ready with the domain, served.
- A status write that never gets an answer (a silent network) costs a timeout, and holds up no
  other object's reconcile: the owner's deletion completes, the loser shows Ready once a write
  gets through.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness.apiproxy import proxied
from harness.controlplane.cluster import ControlPlane
from harness.manifests import site_doc, zone_doc
from harness.operator_runner import operator_running
from siteplane.config import Config
from siteplane.store.migrate import upgrade
from tests.reconcile_support import apply, condition, serial, served, wait_until

pytestmark = pytest.mark.cluster
PAIRS, ROUNDS = 40, 5  # 200 races


def _sites(plane: ControlPlane, namespace: str) -> dict[str, dict[str, Any]]:
    out = plane.kubectl("get", "sites", "-n", namespace, "-o", "json").stdout
    return {o["metadata"]["name"]: o for o in json.loads(out)["items"]}


def _settled(site: dict[str, Any], reason: str) -> bool:
    status = site.get("status") or {}
    return (
        condition(site).get("reason") == reason and status.get("observedGeneration") == site["metadata"]["generation"]
    )


@pytest.fixture
def zone(control_plane: ControlPlane, namespace: str, database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    config = Config(database_url=database_url, zone_dir=str(tmp_path / "zones"), namespaces=(namespace,))
    zone_name = f"race-{uuid.uuid4().hex[:6]}.example"
    with operator_running(control_plane.kubeconfig, config):
        apply(control_plane, namespace, [zone_doc("zone", zone_name)])
        yield zone_name, tmp_path / "zones"


def _race(plane: ControlPlane, namespace: str, zone_name: str, round_: int, pool: ThreadPoolExecutor) -> None:
    """PAIRS takeover races at once, each on a domain of its own."""
    domains = [f"d{i}.r{round_}.{zone_name}" for i in range(PAIRS)]
    owners, losers = [f"owner-{round_}-{i}" for i in range(PAIRS)], [f"loser-{round_}-{i}" for i in range(PAIRS)]

    def count(names: list[str], reason: str) -> int:
        sites = _sites(plane, namespace)
        return sum(name in sites and _settled(sites[name], reason) for name in names)

    addresses = [f"198.51.100.{i + 1}" for i in range(PAIRS)]
    apply(plane, namespace, [site_doc(o, d, "192.0.2.1") for o, d in zip(owners, domains, strict=True)])
    wait_until(lambda: count(owners, "Published") == PAIRS, 120, f"round {round_}: the owners Published")
    apply(
        plane,
        namespace,
        [site_doc(n, d, f"198.51.100.{i + 1}") for i, (n, d) in enumerate(zip(losers, domains, strict=True))],
    )
    wait_until(lambda: count(losers, "DomainConflict") == PAIRS, 120, f"round {round_}: the losers in conflict")
    # The race: each owner deleted while its loser is being reconciled (a new generation).
    for owner, loser, domain, address in zip(owners, losers, domains, addresses, strict=True):
        changed = site_doc(loser, domain, address, customer=f"c{round_}")
        pool.submit(apply, plane, namespace, [changed])
        pool.submit(plane.kubectl, "delete", "site", owner, "-n", namespace, "--wait=false")

    def losers_won() -> bool:
        sites = _sites(plane, namespace)
        return count(losers, "Published") == PAIRS and not set(owners) & set(sites)

    def unsettled() -> str:
        sites = _sites(plane, namespace)
        return str({n: condition(sites.get(n, {})) for n in losers if not _settled(sites.get(n, {}), "Published")})

    wait_until(losers_won, 180, f"round {round_}: every loser Ready with its domain", lambda: unsettled()[:3000])


def test_the_loser_of_a_domain_ends_ready_with_it_after_200_takeover_races(
    control_plane: ControlPlane, namespace: str, zone: tuple[str, Path]
) -> None:
    zone_name, zone_dir = zone
    with ThreadPoolExecutor(8) as pool:
        for round_ in range(ROUNDS):
            _race(control_plane, namespace, zone_name, round_, pool)
            records = served(zone_dir, zone_name)
            for i in range(PAIRS):
                assert (f"d{i}.r{round_}", "A", f"198.51.100.{i + 1}") in records


def test_a_status_write_that_never_gets_an_answer_holds_up_no_other_object(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    plane = control_plane
    zone_name = f"silent-{uuid.uuid4().hex[:6]}.example"
    with proxied(plane) as proxy:
        config = Config(
            database_url=f"sqlite:///{tmp_path / 'siteplane.db'}",
            zone_dir=str(tmp_path / "zones"),
            namespaces=(namespace,),
            kube_timeout=2.0,
        )
        upgrade(config.database_url)
        with operator_running(proxy.kubeconfig(), config):
            apply(plane, namespace, [zone_doc("zone", zone_name), site_doc("owner", f"www.{zone_name}", "192.0.2.1")])
            wait_until(lambda: _settled(_sites(plane, namespace).get("owner", {}), "Published"), 60, "owner Ready")
            apply(plane, namespace, [site_doc("loser", f"www.{zone_name}", "198.51.100.7")])
            wait_until(
                lambda: _settled(_sites(plane, namespace).get("loser", {}), "DomainConflict"),
                60,
                "loser in conflict",
                lambda: f"loser: {_sites(plane, namespace).get('loser', {}).get('status')}",
            )
            # From now on the next requests about the loser (other than watches) are never answered.
            hung = proxy.hang(
                lambda method, path: "/sites/loser" in path and "watch=" not in path and method != "DELETE", times=3
            )
            plane.kubectl("delete", "site", "owner", "-n", namespace, "--wait=false")
            wait_until(lambda: "owner" not in _sites(plane, namespace), 60, "the owner's deletion done")
            wait_until(
                lambda: _settled(_sites(plane, namespace).get("loser", {}), "Published"),
                90,
                "the loser Ready once a status write got through",
                lambda: f"hung: {hung}; loser: {_sites(plane, namespace).get('loser', {}).get('status')}",
            )
            assert hung, "a request about the loser was made to hang"
            assert ("www", "A", "198.51.100.7") in served(tmp_path / "zones", zone_name)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_burst_of_sites_writes_its_zones_tallies_once_the_zone_settles(
    control_plane: ControlPlane, namespace: str, database_url: str, tmp_path: Path
) -> None:
    """Five batches of Sites, each published (a zone sync, a new serial) before the next: the Sites'
    Ready is written at once, the zone's serial and record count once the zone has been quiet."""
    zone_dir, zone_name = tmp_path / "zones", f"burst-{uuid.uuid4().hex[:6]}.example"
    config = Config(
        database_url=database_url, zone_dir=str(zone_dir), namespaces=(namespace,), status_settle_seconds=10
    )
    with operator_running(control_plane.kubeconfig, config):
        apply(control_plane, namespace, [zone_doc("zone", zone_name)])
        wait_until(lambda: condition(_zone(control_plane, namespace)).get("status") == "True", 60, "the zone Ready")
        watch = subprocess.Popen(
            [
                "kubectl",
                f"--kubeconfig={control_plane.kubeconfig}",
                "--context=admin",
                "get",
                "dnszone",
                "zone",
                "-n",
                namespace,
                "--watch-only",
                "-o",
                "jsonpath={.status.serial} {.status.recordCount}{'\\n'}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        serials = []
        try:
            for batch in range(5):
                names = [f"b{batch}-s{i}" for i in range(8)]
                apply(control_plane, namespace, [site_doc(n, f"{n}.{zone_name}", "192.0.2.1") for n in names])
                wait_until(
                    lambda names=names: (
                        all(  # type: ignore[misc]
                            _settled(s, "Published") for n, s in _sites(control_plane, namespace).items() if n in names
                        )
                        and set(names) <= set(_sites(control_plane, namespace))
                    ),
                    60,
                    f"batch {batch} Published",
                )
                serials.append(serial(zone_dir, zone_name))
            wait_until(
                lambda: (
                    (_zone(control_plane, namespace).get("status") or {}).get("serial") == serial(zone_dir, zone_name)
                ),
                60,
                "the zone's status to show the served serial",
            )
        finally:
            watch.terminate()
            seen = watch.communicate(timeout=10)[0].split("\n")
    assert len(set(serials)) == 5, f"each batch was its own sync, with its own serial: {serials}"
    written = [line.split() for line in seen if line.strip()]
    assert len(written) == 1, f"the zone's tallies were written once, after the burst: {written}"
    assert written[0][0] == str(serial(zone_dir, zone_name)), (
        f"written: {written}, served: {serial(zone_dir, zone_name)}"
    )


def _zone(plane: ControlPlane, namespace: str) -> dict[str, Any]:
    return dict(json.loads(plane.kubectl("get", "dnszone", "zone", "-n", namespace, "-o", "json").stdout))
