"""Zones created and removed in BIND 9 with ``rndc addzone`` and ``rndc delzone``.

The RFC 2136 backend changes zones through dynamic updates but cannot create or remove them; a
named running with ``allow-new-zones yes`` can, through its control channel. This module is that
backend's ``zone_creator`` and ``zone_remover``.

Why a seed file: named refuses ``rndc addzone`` for a primary zone whose file does not exist
("file not found"), and refuses to load a zone whose in-zone NS has no address records ("bad
zone"). So an empty file will not do, nor one with only the SOA: the provisioner renders the
complete zone (SOA and every record set) into ``<seed_directory>/<zone>.db`` first and only then
adds the zone. From then on named owns the file: it keeps its journal next to it, writes updates
back into it, and ``rndc delzone -clean`` deletes both.

Why two directories: the file is written by the operator and read by named, usually in different
containers sharing a volume. ``seed_directory`` is that directory as the operator sees it,
``server_directory`` the same directory as named sees it (the path named is told in addzone).

DNSSEC: named signs the zones itself (BIND 9.18 signs a dynamically updated zone without
inline-signing), following a ``dnssec-policy`` defined in named.conf. A zone to be signed is added
with ``dnssec-policy "<policy>"``, or gets it later through ``rndc modzone``; ``set_signing`` is the
RFC 2136 backend's ``zone_signer``. The policies are named by denial of existence (``dnssec_policies``,
by default ``siteplane-nsec3`` and ``siteplane-nsec``; docs/dnssec-servers.md has them). Turning
signing off is BIND's documented two steps: ``dnssec-policy insecure`` first, so that named withdraws
the keys and signatures as safely as it knows the DS at the parent allows (at once when it never
learned of a published DS), and ``none`` only once the zone serves no DNSKEY any more; going
straight to ``none`` would leave the old signatures in the zone to expire, a bogus zone for every
validator that has the DS.

The rndc secret never appears on a command line (anyone may read ``ps``), in exception messages or
in logs: each call writes a private rndc configuration (file 0600 in a 0700 temporary directory),
hands it to rndc with ``-c``, and deletes it afterwards.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from siteplane.dns.backend import BackendError, DnssecSettings, ZoneConfig, ZoneMissing
from siteplane.dns.content import render_zone_file, zone_name
from siteplane.dns.files import write_atomically
from siteplane.domain.records import RecordSet

log = logging.getLogger(__name__)

SERIAL_MODULO = 2**32
OUTPUT_TAIL = 500
RNDC_PACKAGE = "bind9-utils"  # Debian's package for the rndc binary
ALGORITHMS = frozenset({"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"})
SECRET_PLACEHOLDER = "[secret]"

# Everything below ends up inside named or rndc configuration text: anything that could close a
# quoted string or a block, or start a comment, is refused rather than escaped.
_KEY_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,253})")
_SERVER = re.compile(r"[A-Za-z0-9_.:-]{1,253}")
_UNSAFE_IN_STRING = re.compile(r'["\\\x00-\x1f\x7f]')

# rndc's and named's own words, as of BIND 9.18. A wrong key makes named drop the connection, which
# rndc reports as "connection to remote host closed" with a list of possible causes; older named
# versions answer "bad auth".
_AUTH_FAILED = ("connection to remote host closed", "bad auth")
_UNREACHABLE = (
    "connection refused",
    "connect failed",
    "timed out",
    "host unreachable",
    "network unreachable",
    "connection reset",
    "shutting down",
)
_ALREADY_EXISTS = "failed: already exists"
_NOT_ADDED = "not added by addzone"  # rndc modzone of a zone from named.conf itself

DEFAULT_DNSSEC_POLICIES: Mapping[str, str] = {"NSEC3": "siteplane-nsec3", "NSEC": "siteplane-nsec"}
DNSSEC_ALGORITHM = 13  # the algorithm siteplane's policies name (ecdsap256sha256)
# BIND's built-in policies: "insecure" withdraws the keys safely, "none" (the default) does no DNSSEC.
INSECURE = "insecure"
NONE = "none"
# All named says of a zone naming a dnssec-policy its configuration does not define.
_POLICY_NOT_FOUND = "configure_zone failed: not found"
_POLICY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
# The dnssec-policy clause as showzone prints it (quoted or not).
_POLICY_CLAUSE = re.compile(r'\s*dnssec-policy\s+"?([^";\s]+)"?\s*;')
_NOT_FOUND = "failed: not found"


@dataclass(frozen=True)
class _Result:
    """What rndc answered: ``ok`` when it exited 0."""

    ok: bool
    output: str  # stdout and stderr, secret scrubbed, stripped


class RndcZoneProvisioner:
    """Adds and deletes primary zones in one named over its control channel (``rndc``)."""

    def __init__(
        self,
        *,
        server: str,
        port: int,
        key_name: str,
        key_secret: str,
        key_algorithm: str = "hmac-sha256",
        seed_directory: Path,
        server_directory: str,
        update_key_name: str,
        rndc_command: str = "rndc",
        timeout: float = 15.0,
        dnssec_policies: Mapping[str, str] = DEFAULT_DNSSEC_POLICIES,
    ) -> None:
        if not _SERVER.fullmatch(server):
            raise BackendError(f"invalid rndc server {server!r}", retryable=False)
        if not 0 < port < 65536:
            raise BackendError(f"invalid rndc port {port}", retryable=False)
        for what, name in (("rndc key", key_name), ("update key", update_key_name)):
            if not _KEY_NAME.fullmatch(name):
                raise BackendError(f"invalid {what} name {name!r}", retryable=False)
        algorithm = key_algorithm.lower()
        if algorithm not in ALGORITHMS:
            raise BackendError(
                f"unknown rndc key algorithm {key_algorithm!r}; one of {', '.join(sorted(ALGORITHMS))}",
                retryable=False,
            )
        try:
            base64.b64decode(key_secret, validate=True)
            valid_secret = bool(key_secret)
        except (binascii.Error, ValueError):
            valid_secret = False
        if not valid_secret:
            # The secret itself stays out of the message, even when it is malformed.
            raise BackendError(f"the secret of rndc key {key_name!r} is not valid base64", retryable=False)
        if not server_directory or _UNSAFE_IN_STRING.search(server_directory):
            raise BackendError(f"invalid server directory {server_directory!r}", retryable=False)
        if timeout <= 0:
            raise BackendError(f"invalid rndc timeout {timeout}", retryable=False)
        for denial in ("NSEC3", "NSEC"):
            policy = dnssec_policies.get(denial, "")
            if not _POLICY_NAME.fullmatch(policy) or policy in (INSECURE, NONE):
                raise BackendError(f"invalid dnssec-policy name {policy!r} for {denial}", retryable=False)
        self.server = server
        self.port = port
        self.key_name = key_name
        self.key_algorithm = algorithm
        self.seed_directory = Path(seed_directory)
        self.server_directory = server_directory
        self.update_key_name = update_key_name
        self.rndc_command = rndc_command
        self.timeout = timeout
        self.dnssec_policies = dict(dnssec_policies)
        self._key_secret = key_secret
        # Per zone, the dnssec-policy named was last seen with or given (this process's own view:
        # a policy changed by hand shows after a restart), so that a sync with nothing to change
        # runs no rndc at all.
        self._policies: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"RndcZoneProvisioner(server={self.server!r}, port={self.port}, key_name={self.key_name!r}, "
            f"key_algorithm={self.key_algorithm!r}, seed_directory={str(self.seed_directory)!r}, "
            f"server_directory={self.server_directory!r}, update_key_name={self.update_key_name!r}, "
            f"dnssec_policies={self.dnssec_policies!r})"
        )

    __str__ = __repr__

    @property
    def where(self) -> str:
        host = f"[{self.server}]" if ":" in self.server else self.server
        return f"{host}:{self.port}"

    def seed_path(self, zone: str) -> Path:
        return self.seed_directory / f"{zone_name(zone)}.db"

    # -- zone_creator / zone_remover ------------------------------------------------------------

    def create(self, zone: ZoneConfig, record_sets: Iterable[RecordSet]) -> None:
        """Seed and add ``zone`` as a primary zone; a zone named already has is left exactly as it is."""
        name = zone_name(zone.name)
        # Rendered first: data the file cannot hold fails here, before anything touches the server.
        data = render_zone_file(name, zone.soa, int(time.time()) % SERIAL_MODULO, record_sets)
        # Checked before writing: named owns the file of a zone it serves (its journal continues
        # from that file's content), so an existing zone's file must never be replaced by a seed.
        shown = self._rndc("showzone", name)
        if shown.ok:
            log.info("zone %s already exists on %s; not seeding it again", name, self.where)
            self._policies[name] = _policy_in(shown.output)  # the backend's set_signing takes it from there
            return
        if _NOT_FOUND not in shown.output:
            raise self._error("showzone", name, shown.output)
        policy = self.policy_for(name, zone.dnssec)
        self._write_seed(name, data)
        server_file = posixpath.join(self.server_directory, f"{name}.db")
        # Signed from the start when asked: named signs the seed as it loads it.
        signing = "" if policy == NONE else f'dnssec-policy "{policy}"; '
        config = (
            f'{{ type primary; file "{server_file}"; '
            f'allow-update {{ key "{self.update_key_name}"; }}; '
            f'allow-transfer {{ key "{self.update_key_name}"; }}; {signing}}};'
        )
        added = self._rndc("addzone", name, config)
        if added.ok:
            log.info("added zone %s on %s (dnssec-policy %s)", name, self.where, policy)
            self._policies[name] = policy
            if policy != NONE:
                self._run_key_manager(name)
            return
        if _ALREADY_EXISTS in added.output:
            log.info("zone %s already exists on %s", name, self.where)
            return
        # The seed stays behind on failure: the next attempt overwrites it, and after a timeout
        # named may well have added the zone and be using the file.
        hint = ""
        if _POLICY_NOT_FOUND in added.output and policy != NONE:
            hint = _policy_hint(policy)
        elif "file not found" in added.output:
            hint = (
                f" (named cannot find {server_file}: server_directory must be the seed directory "
                f"{self.seed_directory} as named sees it)"
            )
        raise self._error("addzone", name, added.output + hint)

    def policy_for(self, zone: str, dnssec: DnssecSettings | None) -> str:
        """The dnssec-policy that signs ``zone`` as ``dnssec`` asks (``none`` for unsigned)."""
        if dnssec is None:
            return NONE
        if dnssec.algorithm != DNSSEC_ALGORITHM:
            raise BackendError(
                f"zone {zone}: BIND's siteplane policies sign with algorithm {DNSSEC_ALGORITHM} "
                f"(ECDSAP256SHA256), not {dnssec.algorithm}",
                retryable=False,
            )
        return self.dnssec_policies[dnssec.denial]

    def set_signing(self, zone: str, dnssec: DnssecSettings | None, serves_dnssec: Callable[[], bool]) -> bool:
        """Bring ``zone``'s dnssec-policy to what ``dnssec`` asks; True when named's configuration
        was changed (``rndc modzone``), False when it already was so.

        Signed: the policy for ``dnssec``. Unsigned: ``insecure`` while the zone has a signing
        policy, then ``none`` once ``serves_dnssec()`` (asked only then) says named serves no DNSSEC
        records for it any more; until then the zone stays ``insecure`` and a later call goes on.
        """
        name = zone_name(zone)
        current = self.current_policy(name)
        if dnssec is not None:
            wanted = self.policy_for(name, dnssec)
        elif current == NONE:
            return False
        elif current != INSECURE:
            wanted = INSECURE
        elif serves_dnssec():
            log.info("zone %s on %s: still withdrawing its DNSSEC records (dnssec-policy insecure)", name, self.where)
            return False
        else:
            wanted = NONE
        if wanted == current:
            return False
        self._modzone(name, wanted)
        return True

    def current_policy(self, zone: str) -> str:
        """The dnssec-policy named has for ``zone`` (``none`` when it has none), as last seen or set."""
        name = zone_name(zone)
        if name not in self._policies:
            self._policies[name] = _policy_in(self._show(name))
        return self._policies[name]

    def _show(self, name: str) -> str:
        shown = self._rndc("showzone", name)
        if not shown.ok:
            if _NOT_FOUND in shown.output:
                raise ZoneMissing(name)  # removed behind our back: the caller's usual answer to that
            raise self._error("showzone", name, shown.output)
        return shown.output

    def _modzone(self, name: str, policy: str) -> None:
        """``rndc modzone`` with the zone's configuration as named has it, the dnssec-policy replaced.

        The configuration is named's own (showzone), not rebuilt here, so whatever else it holds
        stays. The cached policy is dropped first: after a failure, the next call asks named again.
        """
        self._policies.pop(name, None)
        shown = self._show(name)
        start, end = shown.find("{"), shown.rfind("}")
        if start < 0 or end < start:
            raise self._error("showzone", name, shown)
        body = _POLICY_CLAUSE.sub("", shown[start + 1 : end]).rstrip()
        signing = "" if policy == NONE else f' dnssec-policy "{policy}";'
        config = f"{{{body}{signing} }};"
        changed = self._rndc("modzone", name, config)
        if not changed.ok:
            hint = ""
            if _NOT_ADDED in changed.output:
                hint = " (the zone is in named.conf itself: set its dnssec-policy there)"
            elif _POLICY_NOT_FOUND in changed.output and policy not in (INSECURE, NONE):
                hint = _policy_hint(policy)
            raise self._error("modzone", name, changed.output + hint)
        log.info("zone %s on %s: dnssec-policy %s", name, self.where, policy)
        self._policies[name] = policy
        if policy != NONE:
            self._run_key_manager(name)

    def _run_key_manager(self, name: str) -> None:
        """``rndc loadkeys``: named runs its key manager for the zone now.

        named schedules that run itself when ``addzone`` or ``modzone`` gives a zone a policy, but
        BIND 9.18 sometimes does not: about one zone in twenty in this project's tests loaded, made
        no keys and logged nothing more, and stayed unsigned (a BIND 9.18.49 race, seen with
        ``addzone``). A second run finds the keys the first one made and changes nothing, so asking
        every time costs one rndc call. A failure is only logged: the zone is configured, and its
        DNSSEC state (``dnssec_state``) shows whether it got signed.
        """
        ran = self._rndc("loadkeys", name)
        if not ran.ok:
            log.warning("zone %s on %s: rndc loadkeys failed: %s", name, self.where, ran.output)

    def remove(self, zone: str) -> None:
        """Delete ``zone`` and its files from named; a zone named does not have is not an error."""
        name = zone_name(zone)
        self._policies.pop(name, None)
        deleted = self._rndc("delzone", "-clean", name)
        if deleted.ok:
            log.info("deleted zone %s on %s", name, self.where)
        elif _NOT_FOUND not in deleted.output:
            raise self._error("delzone", name, deleted.output)
        # -clean only cleans up a zone named still had; a seed from a failed addzone has no zone.
        self._remove_files(name)

    # -- files -------------------------------------------------------------------------------------

    def _write_seed(self, name: str, data: bytes) -> None:
        target = self.seed_path(name)
        try:
            # A journal left by an earlier zone of this name (delzone without -clean) would be rolled
            # forward onto the seed, and named then refuses the zone ("journal out of sync").
            _journal(target).unlink(missing_ok=True)
            write_atomically(target, data)
        except OSError as exc:
            raise self._file_error(name, exc) from exc

    def _remove_files(self, name: str) -> None:
        target = self.seed_path(name)
        try:
            target.unlink(missing_ok=True)
            _journal(target).unlink(missing_ok=True)
        except OSError as exc:
            # Only a warning: the zone is gone, and create overwrites a stale seed and drops a stale journal.
            log.warning("zone %s removed, but not its files in %s: %s", name, self.seed_directory, exc.strerror)

    def _file_error(self, name: str, exc: OSError) -> BackendError:
        # A missing or unwritable directory is a deployment mistake that waiting does not fix.
        retryable = not isinstance(exc, FileNotFoundError | PermissionError)
        return BackendError(f"zone file for zone {name} in {self.seed_directory}: {exc}", retryable=retryable)

    # -- rndc ----------------------------------------------------------------------------------

    def _rndc(self, *args: str) -> _Result:
        """Run one rndc command; its result, or BackendError when rndc did not get an answer at all."""
        command, zone = args[0], args[-1]
        try:
            config_dir = Path(tempfile.mkdtemp(prefix="siteplane-rndc-"))  # mode 0700
        except OSError as exc:
            raise BackendError(f"rndc {command} for zone {zone}: no temporary directory: {exc}") from exc
        config = config_dir / "rndc.conf"
        try:
            self._write_config(config)
            try:
                done = subprocess.run(
                    [self.rndc_command, "-c", str(config), *args],
                    capture_output=True,
                    timeout=self.timeout,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired:
                raise BackendError(
                    f"rndc {command} for zone {zone}: no answer from {self.where} within {self.timeout}s"
                ) from None
            except FileNotFoundError:
                raise BackendError(
                    f"rndc {command} for zone {zone}: {self.rndc_command!r} not found; rndc is not installed "
                    f"(Debian package {RNDC_PACKAGE})",
                    retryable=False,
                ) from None
            except OSError as exc:
                raise BackendError(
                    f"rndc {command} for zone {zone}: cannot run {self.rndc_command!r}: {exc.strerror}",
                    retryable=not isinstance(exc, PermissionError),
                ) from None
        finally:
            _remove_config(config_dir)
        output = (done.stdout + done.stderr).decode("utf-8", "replace")
        return _Result(done.returncode == 0, self._scrub(output).strip())

    def _write_config(self, path: Path) -> None:
        text = (
            f'key "{self.key_name}" {{\n'
            f"    algorithm {self.key_algorithm};\n"
            f'    secret "{self._key_secret}";\n'
            "};\n"
            "options {\n"
            f'    default-key "{self.key_name}";\n'
            f'    default-server "{self.server}";\n'
            f"    default-port {self.port};\n"
            "};\n"
        )
        # O_EXCL in a fresh private directory: nobody can have put a file or link there first.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key_secret, SECRET_PLACEHOLDER)

    def _error(self, command: str, zone: str, output: str) -> BackendError:
        """BackendError for a command rndc ran and named (or rndc itself) refused."""
        said = _tail(output) or "no output"
        lowered = output.lower()
        if any(marker in lowered for marker in _AUTH_FAILED):
            return BackendError(
                f"rndc {command} for zone {zone}: {self.where} rejected rndc key {self.key_name!r} "
                f"(wrong secret or algorithm, or this host may not use the control channel): {said}",
                retryable=False,
            )
        if any(marker in lowered for marker in _UNREACHABLE):
            return BackendError(f"rndc {command} for zone {zone}: cannot reach {self.where}: {said}")
        # Everything else is named refusing the zone or its configuration, or rndc refusing ours
        # (bad zone, file not found, permission denied, syntax): trying again changes nothing.
        return BackendError(f"rndc {command} for zone {zone} at {self.where} failed: {said}", retryable=False)


def _policy_hint(policy: str) -> str:
    return f" (named.conf must define dnssec-policy {policy!r}: see docs/dnssec-servers.md)"


def _policy_in(showzone: str) -> str:
    """The dnssec-policy in ``rndc showzone``'s output; ``none`` when it names none (named's default)."""
    found = _POLICY_CLAUSE.search(showzone)
    return found.group(1) if found else NONE


def _journal(zone_file: Path) -> Path:
    return zone_file.with_name(zone_file.name + ".jnl")


def _tail(output: str) -> str:
    # rndc reports on several lines ("rndc: 'addzone' failed: ...", then named's detail).
    text = " / ".join(line.strip() for line in output.splitlines() if line.strip())
    return text if len(text) <= OUTPUT_TAIL else "..." + text[-OUTPUT_TAIL:]


def _remove_config(directory: Path) -> None:
    try:
        shutil.rmtree(directory)
    except OSError as exc:
        # The file holds the rndc secret: leaving it behind must not go unnoticed.
        log.warning("could not remove temporary rndc configuration %s: %s", directory, exc.strerror)
