"""Which DNS backend serves a zone: a named DNSBackend, or the operator's default.

Backends are built once per DNSBackend (with the credentials read from its Secrets) and reused by
every zone; ``refresh`` (the DNSBackend's handler and its periodic re-check) re-reads the spec's
Secrets, rebuilds the backend only when something changed, and tests it. A backend that cannot be
built is remembered as a problem, so zones fail fast with the reason instead of re-reading Secrets
on every sync; the next refresh tries again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any

from siteplane.api.common import SecretKeyRef
from siteplane.api.dnsbackend import DNSBackendSpec, PowerDNSSettings, RFC2136Settings
from siteplane.dns.backend import Backend, BackendError
from siteplane.dns.powerdns import PowerDNSBackend
from siteplane.dns.rfc2136 import RFC2136Backend
from siteplane.dns.rndc import RndcZoneProvisioner
from siteplane.dns.zonefile import ZoneFileBackend
from siteplane.reconcile.credentials import SecretReader, SecretUnavailable

EMBEDDED = ""  # the key of the embedded zone-file backend
DEFAULT_TSIG_ALGORITHM = "hmac-sha256"
DNS_PORT, RNDC_PORT = 53, 953


class BackendUnavailable(Exception):
    """A zone's backend cannot be used. ``field`` names the spec field to blame."""

    def __init__(
        self, message: str, field: str = "spec.backend", *, retryable: bool = False, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.retryable = retryable
        self.detail = detail or message  # the problem as the DNSBackend itself should state it


class _NoSecrets:
    def read(self, ref: SecretKeyRef) -> str:
        raise SecretUnavailable("this operator was started without access to Secrets")


@dataclass
class _Built:
    backend: Backend
    fingerprint: str  # digest of the spec and the secrets it was built with: a rotation rebuilds


@dataclass
class BackendResolver:
    """Keeps the known DNSBackends (fed by their handlers) and builds backends for zones."""

    zone_dir: Path
    zone_reload_command: tuple[str, ...] = ()
    default: str | None = None
    secrets: SecretReader = field(default_factory=_NoSecrets)
    _specs: dict[str, DNSBackendSpec] = field(default_factory=dict)
    _built: dict[str, _Built] = field(default_factory=dict)
    _problems: dict[str, BackendUnavailable] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def remember(self, name: str, spec: Mapping[str, Any]) -> DNSBackendSpec:
        parsed = DNSBackendSpec.model_validate(dict(spec))
        with self._lock:
            if self._specs.get(name) != parsed:
                self._specs[name] = parsed
                self._problems.pop(name, None)
        return parsed

    def forget(self, name: str) -> None:
        with self._lock:
            self._specs.pop(name, None)
            self._built.pop(name, None)
            self._problems.pop(name, None)

    def name_for(self, zone_backend: str | None) -> str:
        return zone_backend or self.default or EMBEDDED

    def require_known(self, zone_backend: str | None) -> None:
        """BackendUnavailable unless the backend a zone names exists (whether it works is another matter)."""
        name = self.name_for(zone_backend)
        with self._lock:
            if name == EMBEDDED or name in self._specs:
                return
        where = "spec.backend" if zone_backend else "the operator's default backend"
        raise BackendUnavailable(f"{where}: no DNSBackend named {name!r}")

    def instance(self, name: str) -> Backend | None:
        """The backend currently built for DNSBackend ``name``, if any (for metrics and tests)."""
        built = self._built.get(name)
        return built.backend if built else None

    def write_counts(self) -> dict[str, int]:
        """Writes each built backend has sent (zone files, UPDATE messages, PATCHes), for metrics."""
        with self._lock:
            built = dict(self._built)
        return {name: item.backend.stats.writes for name, item in built.items()}

    def for_zone(self, zone_backend: str | None) -> Backend:
        name = self.name_for(zone_backend)
        with self._lock:
            if name in self._problems:
                raise self._problems[name]
            if (built := self._built.get(name)) is not None:
                return built.backend
        where = "spec.backend" if zone_backend else "the operator's default backend"
        return self._tested(name, where).backend

    def refresh(self, name: str) -> tuple[bool, str | None]:
        """Re-read ``name``'s Secrets, rebuild if anything changed, test the backend.

        Returns (changed, problem): whether zones may now see another backend than before, and what
        is wrong with it (None when it works).
        """
        with self._lock:
            before = self._built.get(name)
            had_problem = self._problems.pop(name, None)
        try:
            built = self._tested(name, "spec.backend")
        except BackendUnavailable as error:
            return had_problem is None or str(had_problem) != str(error), error.detail
        changed = had_problem is not None or before is None or before.fingerprint != built.fingerprint
        return changed, None

    def _tested(self, name: str, where: str) -> _Built:
        """The backend built (or kept, if nothing changed) and shown to work; BackendUnavailable if not."""
        built = self._rebuild(name, where)
        try:
            built.backend.check()
        except BackendError as error:
            problem = _unusable(where, name, str(error), error.retryable)
            with self._lock:
                self._problems[name] = problem
                self._built.pop(name, None)
            raise problem from None
        return built

    def _rebuild(self, name: str, where: str) -> _Built:
        try:
            fresh = self._build(name, where)
        except BackendUnavailable as error:
            with self._lock:
                self._problems[name] = error
                self._built.pop(name, None)
            raise
        with self._lock:
            current = self._built.get(name)
            if current is not None and current.fingerprint == fresh.fingerprint:
                return current  # keep the instance (its caches and counters) when nothing changed
            self._built[name] = fresh
            return fresh

    def _build(self, name: str, where: str) -> _Built:
        if name == EMBEDDED:
            backend = ZoneFileBackend(self.zone_dir, self.zone_reload_command or None)
            return _Built(backend, _digest(str(self.zone_dir), *self.zone_reload_command))
        with self._lock:
            spec = self._specs.get(name)
        if spec is None:
            raise BackendUnavailable(f"{where}: no DNSBackend named {name!r}")
        try:
            if spec.zonefile is not None:
                settings = spec.zonefile
                return _Built(
                    ZoneFileBackend(Path(settings.directory), settings.reload_command),
                    _digest(spec.model_dump_json()),
                )
            if spec.rfc2136 is not None:
                return self._rfc2136(spec, spec.rfc2136)
            if spec.powerdns is not None:
                return self._powerdns(spec, spec.powerdns)
        except SecretUnavailable as error:
            raise _unusable(where, name, str(error), error.retryable) from None
        except (BackendError, ValueError) as error:
            raise _unusable(where, name, f"spec.{spec.type}: {error}", False) from None
        raise _unusable(where, name, f"spec.{spec.type}: settings missing", False)

    def _rfc2136(self, spec: DNSBackendSpec, settings: RFC2136Settings) -> _Built:
        tsig_secret = self._secret(settings.tsig.secret_ref, "spec.rfc2136.tsig.secretRef")
        tsig_algorithm = settings.tsig.algorithm or DEFAULT_TSIG_ALGORITHM
        secrets = [tsig_secret]
        provisioner: RndcZoneProvisioner | None = None
        if (rndc := settings.rndc) is not None:
            rndc_secret = self._secret(rndc.key.secret_ref, "spec.rfc2136.rndc.key.secretRef")
            secrets.append(rndc_secret)
            provisioner = RndcZoneProvisioner(
                server=rndc.server or settings.server,
                port=rndc.port or RNDC_PORT,
                key_name=rndc.key.name,
                key_secret=rndc_secret,
                key_algorithm=rndc.key.algorithm or DEFAULT_TSIG_ALGORITHM,
                seed_directory=Path(rndc.seed_directory),
                server_directory=rndc.server_directory or rndc.seed_directory,
                update_key_name=settings.tsig.name,
            )
        backend = RFC2136Backend(
            settings.server,
            settings.port or DNS_PORT,
            settings.tsig.name,
            tsig_secret,
            tsig_algorithm,
            zone_creator=provisioner.create if provisioner else None,
            zone_remover=provisioner.remove if provisioner else None,
            max_message_bytes=settings.max_message_bytes or 16000,
        )
        return _Built(backend, _digest(spec.model_dump_json(), *secrets))

    def _powerdns(self, spec: DNSBackendSpec, settings: PowerDNSSettings) -> _Built:
        api_key = self._secret(settings.api_key_secret_ref, "spec.powerdns.apiKeySecretRef")
        backend = PowerDNSBackend(settings.api_url, api_key, settings.server_id or "localhost")
        return _Built(backend, _digest(spec.model_dump_json(), api_key))

    def _secret(self, ref: SecretKeyRef, where: str) -> str:
        try:
            return self.secrets.read(ref)
        except SecretUnavailable as error:
            raise SecretUnavailable(f"{where}: {error}", retryable=error.retryable) from None


def _unusable(where: str, name: str, detail: str, retryable: bool) -> BackendUnavailable:
    return BackendUnavailable(
        f"{where}: DNSBackend {name!r} cannot be used: {detail}", retryable=retryable, detail=detail
    )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
