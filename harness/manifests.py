"""siteplane objects as manifests (dicts ready for ``kubectl apply``), for the tests and the benchmark.

Written out by hand rather than from the operator's models: what a user would type is what these
should stay, whatever the models do.
"""

from __future__ import annotations

from typing import Any

GROUP = "siteplane.io/v1alpha1"


def zone_doc(name: str, zone_name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "DNSZone",
        "metadata": {"name": name},
        "spec": {"zoneName": zone_name, "nameServers": ["ns1.hosting.example.net"], **spec},
    }


def site_doc(name: str, domain: str, ipv4: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "Site",
        "metadata": {"name": name},
        "spec": {"primaryDomain": domain, "serving": {"ipv4": [ipv4]}, **spec},
    }


def record_doc(name: str, zone: str, record: str, rtype: str, values: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP,
        "kind": "DNSRecord",
        "metadata": {"name": name},
        "spec": {"zone": zone, "name": record, "type": rtype, rtype.lower(): values},
    }


def backend_doc(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": GROUP, "kind": "DNSBackend", "metadata": {"name": name}, "spec": spec}
