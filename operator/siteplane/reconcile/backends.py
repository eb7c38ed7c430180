"""Which DNS backend serves a zone: a named DNSBackend, or the operator's default.

A backend is built once per DNSBackend, with the credentials read from its Secrets, and reused by
every zone. ``refresh`` (the DNSBackend's reconcile, and its periodic re-check) re-reads the
Secrets, rebuilds the backend only when something changed, and tests it. Zone syncs never read
Secrets: they use what was built, or fail fast with the reason it could not be.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any, Protocol

from siteplane.api.common import SecretKeyRef
from siteplane.api.dnsbackend import DNSBackendSpec, PowerDNSSettings, RFC2136Settings
from siteplane.dns.backend import Backend
from siteplane.dns.powerdns import PowerDNSBackend
from siteplane.dns.rfc2136 import RFC2136Backend
from siteplane.dns.rndc import RndcZoneProvisioner
from siteplane.dns.zonefile import RESIGN_WINDOW, SIGNATURE_VALIDITY, ZoneFileBackend
from siteplane.errors import BackendError, BackendUnavailable, SecretUnavailable

EMBEDDED = ""  # the key of the embedded zone-file backend
DEFAULT_TSIG_ALGORITHM = "hmac-sha256"
DNS_PORT, RNDC_PORT = 53, 953


class SecretReader(Protocol):
    async def read(self, ref: SecretKeyRef) -> str:
        """The value under ``ref.key``, stripped; SecretUnavailable (naming only the reference) otherwise."""
        ...


@dataclass
class _Built:
    backend: Backend
    fingerprint: str  # digest of the spec and the secrets it was built with: a rotation rebuilds


class BackendResolver:
    """Keeps the known DNSBackends (fed by their reconciles) and the backends built for them."""

    def __init__(
        self,
        zone_dir: Path,
        zone_reload_command: tuple[str, ...] = (),
        default: str | None = None,
        signature_validity: float = SIGNATURE_VALIDITY,
        resign_window: float = RESIGN_WINDOW,
    ) -> None:
        self.zone_dir = zone_dir
        self.signature_validity = signature_validity
        self.resign_window = resign_window
        self.zone_reload_command = zone_reload_command
        self.default = default
        self._specs: dict[str, DNSBackendSpec] = {}
        self._built: dict[str, _Built] = {}
        self._problems: dict[str, BackendUnavailable] = {}
        self._lock = Lock()  # zone syncs read from threads while reconciles write

    def remember(self, name: str, spec: Mapping[str, Any]) -> DNSBackendSpec:
        parsed = DNSBackendSpec.model_validate(dict(spec))
        with self._lock:
            if self._specs.get(name) != parsed:
                self._specs[name] = parsed
        return parsed

    def forget(self, name: str) -> None:
        with self._lock:
            self._specs.pop(name, None)
            self._built.pop(name, None)
            self._problems.pop(name, None)

    def known(self) -> list[str]:
        with self._lock:
            return sorted(self._specs)

    def name_for(self, zone_backend: str | None) -> str:
        return zone_backend or self.default or EMBEDDED

    def require_known(self, zone_backend: str | None) -> None:
        """BackendUnavailable unless the backend a zone names exists (whether it works is another matter)."""
        name = self.name_for(zone_backend)
        with self._lock:
            if name == EMBEDDED or name in self._specs:
                return
        raise BackendUnavailable(f"spec.backend: no DNSBackend named {name!r}" + _default(zone_backend))

    def signs_itself(self, zone_backend: str | None) -> bool:
        """Whether zones that name ``zone_backend`` are signed by siteplane (zone files, with keys
        siteplane keeps) rather than by their server (BIND, PowerDNS)."""
        name = self.name_for(zone_backend)
        with self._lock:
            spec = self._specs.get(name)
        return name == EMBEDDED or (spec is not None and spec.zonefile is not None)

    def instance(self, name: str) -> Backend | None:
        """The backend currently built for DNSBackend ``name``, if any (for metrics and tests)."""
        with self._lock:
            built = self._built.get(name)
        return built.backend if built else None

    def write_counts(self) -> dict[str, int]:
        """Writes each built backend has sent (zone files, UPDATE messages, PATCHes), for metrics."""
        with self._lock:
            built = dict(self._built)
        return {name: item.backend.stats.writes for name, item in built.items()}

    def for_zone(self, zone_backend: str | None) -> Backend:
        """The backend serving a zone that names ``zone_backend``; BackendUnavailable when it cannot be used."""
        name = self.name_for(zone_backend)
        with self._lock:
            problem = self._problems.get(name)
            built = self._built.get(name)
            spec = self._specs.get(name)
        if problem is not None:
            raise _unusable(zone_backend, name, problem)
        if built is not None:
            return built.backend
        if name == EMBEDDED or (spec is not None and spec.zonefile is not None):
            # Zone files need no credentials: built here, on first use.
            try:
                return self._tested(name, self._build(name, spec, {})).backend
            except BackendUnavailable as error:
                raise _unusable(zone_backend, name, error) from None
        if spec is None:
            raise BackendUnavailable(f"spec.backend: no DNSBackend named {name!r}" + _default(zone_backend))
        raise BackendUnavailable(f"{_backend(zone_backend, name)} is not checked yet", retryable=True)

    async def refresh(self, name: str, secrets: SecretReader) -> tuple[bool, str | None]:
        """Re-read ``name``'s Secrets, rebuild the backend if anything changed, test it.

        Returns (changed, problem): whether zones may now see another backend than before, and what
        is wrong with it (None when it works).
        """
        with self._lock:
            spec = self._specs.get(name)
            before = self._built.get(name)
            had_problem = self._problems.get(name)
        try:
            if spec is None:
                raise BackendUnavailable(f"no DNSBackend named {name!r}")
            values = await _read_secrets(spec, secrets)
            built = await asyncio.to_thread(lambda: self._tested(name, self._build(name, spec, values)))
        except BackendUnavailable as error:
            with self._lock:
                self._problems[name] = error
                self._built.pop(name, None)
            return had_problem is None or had_problem.detail != error.detail, error.detail
        with self._lock:
            self._problems.pop(name, None)
        changed = had_problem is not None or before is None or before.fingerprint != built.fingerprint
        return changed, None

    def _tested(self, name: str, fresh: _Built) -> _Built:
        """``fresh`` (or the instance already built from the same spec and secrets, keeping its caches
        and counters) once it has passed its check; BackendUnavailable otherwise."""
        with self._lock:
            current = self._built.get(name)
        built = current if current is not None and current.fingerprint == fresh.fingerprint else fresh
        try:
            built.backend.check()
        except BackendError as error:
            problem = BackendUnavailable(str(error), retryable=error.retryable, detail=str(error))
            with self._lock:
                self._problems[name] = problem
                self._built.pop(name, None)
            raise problem from None
        with self._lock:
            self._built[name] = built
            self._problems.pop(name, None)
        return built

    def _build(self, name: str, spec: DNSBackendSpec | None, secrets: Mapping[str, str]) -> _Built:
        if name == EMBEDDED or spec is None:
            backend = ZoneFileBackend(
                self.zone_dir,
                self.zone_reload_command or None,
                signature_validity=self.signature_validity,
                resign_window=self.resign_window,
            )
            return _Built(backend, _digest(str(self.zone_dir), *self.zone_reload_command))
        try:
            if spec.zonefile is not None:
                settings = spec.zonefile
                return _Built(
                    ZoneFileBackend(
                        Path(settings.directory),
                        settings.reload_command,
                        signature_validity=self.signature_validity,
                        resign_window=self.resign_window,
                    ),
                    _digest(spec.model_dump_json()),
                )
            if spec.rfc2136 is not None:
                return _rfc2136(spec, spec.rfc2136, secrets)
            if spec.powerdns is not None:
                return _powerdns(spec, spec.powerdns, secrets)
        except (BackendError, ValueError) as error:
            raise BackendUnavailable(f"spec.{spec.type}: {error}", detail=f"spec.{spec.type}: {error}") from None
        raise BackendUnavailable(f"spec.{spec.type}: settings missing", detail=f"spec.{spec.type}: settings missing")


def _default(zone_backend: str | None) -> str:
    return "" if zone_backend else " (the operator's default backend)"


def _backend(zone_backend: str | None, name: str) -> str:
    """The backend a zone uses, as its status names it: spec.backend is the field that decides it
    (unset: the operator's default), whichever way it was chosen."""
    if name == EMBEDDED:
        return "spec.backend: the embedded zone files"
    return f"spec.backend: DNSBackend {name!r}" + ("" if zone_backend else " (the operator's default)")


def _unusable(zone_backend: str | None, name: str, problem: BackendUnavailable) -> BackendUnavailable:
    """The backend's problem as a zone using it states it: which field, which DNSBackend, and why."""
    return BackendUnavailable(
        f"{_backend(zone_backend, name)} cannot be used: {problem.detail}",
        retryable=problem.retryable,
        detail=problem.detail,
    )


def _secret_fields(spec: DNSBackendSpec) -> dict[str, SecretKeyRef]:
    """Every Secret reference of a spec, by the field that holds it."""
    refs: dict[str, SecretKeyRef] = {}
    if spec.rfc2136 is not None:
        refs["spec.rfc2136.tsig.secretRef"] = spec.rfc2136.tsig.secret_ref
        if spec.rfc2136.rndc is not None:
            refs["spec.rfc2136.rndc.key.secretRef"] = spec.rfc2136.rndc.key.secret_ref
    if spec.powerdns is not None:
        refs["spec.powerdns.apiKeySecretRef"] = spec.powerdns.api_key_secret_ref
    return refs


async def _read_secrets(spec: DNSBackendSpec, secrets: SecretReader) -> dict[str, str]:
    values: dict[str, str] = {}
    for where, ref in _secret_fields(spec).items():
        try:
            values[where] = await secrets.read(ref)
        except SecretUnavailable as error:
            raise BackendUnavailable(
                f"{where}: {error}", retryable=error.retryable, detail=f"{where}: {error}"
            ) from None
    return values


def _rfc2136(spec: DNSBackendSpec, settings: RFC2136Settings, secrets: Mapping[str, str]) -> _Built:
    tsig_secret = secrets["spec.rfc2136.tsig.secretRef"]
    provisioner: RndcZoneProvisioner | None = None
    if (rndc := settings.rndc) is not None:
        provisioner = RndcZoneProvisioner(
            server=rndc.server or settings.server,
            port=rndc.port or RNDC_PORT,
            key_name=rndc.key.name,
            key_secret=secrets["spec.rfc2136.rndc.key.secretRef"],
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
        settings.tsig.algorithm or DEFAULT_TSIG_ALGORITHM,
        zone_creator=provisioner.create if provisioner else None,
        zone_remover=provisioner.remove if provisioner else None,
        zone_signer=provisioner.set_signing if provisioner else None,  # dnssec-policy through rndc
        max_message_bytes=settings.max_message_bytes or 16000,
    )
    return _Built(backend, _digest(spec.model_dump_json(), *sorted(secrets.values())))


def _powerdns(spec: DNSBackendSpec, settings: PowerDNSSettings, secrets: Mapping[str, str]) -> _Built:
    api_key = secrets["spec.powerdns.apiKeySecretRef"]
    backend = PowerDNSBackend(settings.api_url, api_key, settings.server_id or "localhost")
    return _Built(backend, _digest(spec.model_dump_json(), api_key))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
