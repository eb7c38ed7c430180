"""Which DNS backend serves a zone: a named DNSBackend, or the operator's default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any

from siteplane.api.dnsbackend import DNSBackendSpec
from siteplane.dns.backend import Backend
from siteplane.dns.zonefile import ZoneFileBackend

EMBEDDED = ""  # the key of the embedded zone-file backend


class BackendUnavailable(Exception):
    """A zone's backend cannot be used. ``field`` names the spec field to blame."""

    def __init__(self, message: str, field: str = "spec.backend") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class BackendResolver:
    """Keeps the known DNSBackends (fed by their handlers) and builds backends for zones."""

    zone_dir: Path
    zone_reload_command: tuple[str, ...] = ()
    default: str | None = None
    _specs: dict[str, DNSBackendSpec] = field(default_factory=dict)
    _instances: dict[str, Backend] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def remember(self, name: str, spec: Mapping[str, Any]) -> DNSBackendSpec:
        parsed = DNSBackendSpec.model_validate(dict(spec))
        with self._lock:
            if self._specs.get(name) != parsed:
                self._specs[name] = parsed
                self._instances.pop(name, None)
        return parsed

    def forget(self, name: str) -> None:
        with self._lock:
            self._specs.pop(name, None)
            self._instances.pop(name, None)

    def name_for(self, zone_backend: str | None) -> str:
        return zone_backend or self.default or EMBEDDED

    def for_zone(self, zone_backend: str | None) -> Backend:
        name = self.name_for(zone_backend)
        with self._lock:
            if name in self._instances:
                return self._instances[name]
            backend = self._build(name, zone_backend)
            self._instances[name] = backend
            return backend

    def _build(self, name: str, zone_backend: str | None) -> Backend:
        if name == EMBEDDED:
            return ZoneFileBackend(self.zone_dir, self.zone_reload_command or None)
        spec = self._specs.get(name)
        where = "spec.backend" if zone_backend else "the operator's default backend"
        if spec is None:
            raise BackendUnavailable(f"{where}: no DNSBackend named {name!r}")
        if spec.type == "zonefile" and spec.zonefile is not None:
            return ZoneFileBackend(Path(spec.zonefile.directory), spec.zonefile.reload_command)
        raise BackendUnavailable(
            f"{where}: DNSBackend {name!r} has type {spec.type}, which this operator version cannot drive yet"
        )
