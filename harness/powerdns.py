"""A real PowerDNS Authoritative server on loopback, started and stopped by the tests themselves.

The server is the Debian ``pdns_server`` (4.7 on Debian 12) with the gsqlite3 backend. Its whole
state lives in one working directory: ``pdns.conf`` (read through ``--config-dir``, so the system's
/etc/powerdns is never consulted), the SQLite database, the control socket and the log. It listens
only on 127.0.0.1: DNS on one port (UDP and TCP), the HTTP API on another, guarded by a random key.

Zones are managed through the HTTP API, as the operator will: POST/DELETE
``/api/v1/servers/localhost/zones[/<zone>]`` and PATCH rrsets. Settings worth knowing:

* every cache is off (packet, query, negative query and the zone cache), so a DNS query right after
  an API call sees the change, and a zone deleted through the API stops answering at once (REFUSED);
* a zone created without an SOA gets ``DEFAULT_SOA_CONTENT`` (``@`` is the zone name); the API's
  own default ``soa_edit_api`` of ``DEFAULT`` then bumps the serial on every change made through the
  API, as a real deployment would;
* rectify on API changes stays on (the default), and DNSSEC queries are enabled in the backend so
  later tests may sign zones; nothing is signed unless asked for;
* the security poll (a DNS lookup on the internet at startup) is disabled.

When the tests run as root the server runs as the unprivileged ``pdns`` account the Debian package
creates, switched to by Popen (``user=``/``group=``) rather than by pdns' own ``--setuid``: a change
of uid clears PR_SET_PDEATHSIG, and Popen switches before our preexec_fn sets it, whereas
``--setuid`` would switch after it and silently drop it. Unprivileged ports need no root anyway.

``start()`` and ``stop()`` may alternate freely: the same database and the same ports come back.
``python -m harness.powerdns`` starts one for a developer and keeps it until Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from harness.controlplane.cluster import free_port
from harness.processes import die_with_parent

PDNS_SERVER_ENV = "SITEPLANE_PDNS_SERVER"
SCHEMA_ENV = "SITEPLANE_PDNS_SCHEMA"
DEFAULT_PDNS_SERVER = "/usr/sbin/pdns_server"
DEFAULT_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
# The account the server runs as when the tests run as root (created by the pdns-server package).
OS_USER = "pdns"
SERVER_ID = "localhost"  # the only server id the Authoritative API knows

# An SOA that says what it is instead of pdns' own "a.misconfigured.dns.server.invalid"; a short
# negative TTL so resolvers in later tests do not cache NXDOMAIN for an hour.
DEFAULT_SOA_CONTENT = "ns1.siteplane.invalid. hostmaster.@ 0 10800 3600 604800 60"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 10.0


def find_pdns_server() -> str:
    path = os.environ.get(PDNS_SERVER_ENV) or shutil.which("pdns_server") or DEFAULT_PDNS_SERVER
    if not Path(path).exists():
        raise RuntimeError(
            f"pdns_server not found: `apt-get install pdns-server pdns-backend-sqlite3` or set {PDNS_SERVER_ENV}"
        )
    return path


def find_schema() -> Path:
    path = Path(os.environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA)
    if not path.exists():
        raise RuntimeError(f"gsqlite3 schema not found at {path}: install pdns-backend-sqlite3 or set {SCHEMA_ENV}")
    return path


def pdns_version(binary: str | None = None) -> str:
    """The first line of ``pdns_server --version``, e.g. "PowerDNS Authoritative Server 4.7.3 (C) ..."."""
    result = subprocess.run([binary or find_pdns_server(), "--version"], capture_output=True, text=True, timeout=10)
    for line in (result.stdout + result.stderr).splitlines():
        if "PowerDNS Authoritative Server" in line:
            return line[line.index("PowerDNS Authoritative Server") :].strip()  # after the log timestamp
    return (result.stdout + result.stderr).strip().splitlines()[0]


def quote_txt(*strings: str) -> str:
    """TXT content as PowerDNS expects it: each string double-quoted, with backslashes and quotes escaped.

    Unquoted content would be split on spaces and semicolons would be taken for comments.
    """
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)


def _os_account() -> pwd.struct_passwd | None:
    """The unprivileged account to run as when we are root; None when we are not (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in (OS_USER, "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError(f"neither {OS_USER} nor nobody exists to run pdns_server as")


class _BindError(RuntimeError):
    """A port chosen by free_port() was taken before pdns bound it: worth another try elsewhere."""


@dataclass
class PowerDNSServer:
    """One PowerDNS Authoritative server whose whole state is in ``workdir``."""

    workdir: Path
    dns_port: int = 0
    api_port: int = 0
    key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    binary: str = field(default_factory=find_pdns_server)
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = 0.0
    _atexit_registered: bool = field(default=False, init=False, repr=False)

    @property
    def address(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The DNS port, UDP and TCP."""
        return self.dns_port

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def api_key(self) -> str:
        return self.key

    @property
    def server_id(self) -> str:
        return SERVER_ID

    @property
    def database(self) -> Path:
        return self.workdir / "pdns.sqlite3"

    @property
    def config_file(self) -> Path:
        return self.workdir / "pdns.conf"

    @property
    def log_file(self) -> Path:
        return self.workdir / "pdns.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> list[int]:
        """The server's process (pdns is one multi-threaded process with guardian=no); empty when stopped."""
        return [self.process.pid] if self.process is not None and self.running else []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> PowerDNSServer:
        """Create the database on the first start, then run the server until API and DNS both answer.

        A restart reuses the ports and the database of the first start.
        """
        if self.running:
            return self
        started = time.monotonic()
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        account = _os_account()
        self._prepare_workdir(account)
        if self.dns_port and self.api_port:
            self._start_server(account)
        else:
            self._start_on_free_ports(account)
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """SIGTERM (pdns exits cleanly within milliseconds); SIGKILL to the session after 15 s. Idempotent."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT)

    # -- clients -----------------------------------------------------------------------------

    def api(
        self, method: str, path: str, body: Any = None, *, api_key: str | None = None, timeout: float = HTTP_TIMEOUT
    ) -> tuple[int, Any]:
        """One HTTP API call; ``path`` starts with "/api/v1/...". Returns (status, decoded JSON or None).

        Errors come back as a status too (never raised): tests assert on 4xx answers as often as on 2xx.
        ``api_key`` overrides the server's key, to test what a wrong one gets.
        """
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api_url + path, data=data, method=method.upper())
        request.add_header("X-API-Key", self.key if api_key is None else api_key)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        try:
            return status, json.loads(payload) if payload.strip() else None
        except ValueError:
            return status, None  # e.g. a plain-text 401

    def query(
        self, name: str, rdtype: dns.rdatatype.RdataType | str = "SOA", *, tcp: bool = False, timeout: float = 2.0
    ) -> dns.message.Message:
        """One DNS query to this server, over UDP or TCP."""
        message = dns.message.make_query(name, rdtype)
        if tcp:
            return dns.query.tcp(message, self.address, port=self.port, timeout=timeout)
        return dns.query.udp(message, self.address, port=self.port, timeout=timeout)

    # -- processes ---------------------------------------------------------------------------

    def _prepare_workdir(self, account: pwd.struct_passwd | None) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.database.exists():
            # Python's sqlite3 rather than the sqlite3 CLI, which the pdns packages do not pull in.
            with contextlib.closing(sqlite3.connect(self.database)) as db:
                db.executescript(find_schema().read_text())
                db.commit()
        if account is not None:
            # pdns writes the database, SQLite's journal next to it, and its control socket here.
            for path in (self.workdir, self.database):
                os.chown(path, account.pw_uid, account.pw_gid)
            self.workdir.chmod(0o700)

    def _config(self) -> str:
        settings = {
            "launch": "gsqlite3",
            "gsqlite3-database": str(self.database),
            "gsqlite3-dnssec": "yes",
            "gsqlite3-pragma-synchronous": "0",  # a throwaway database: no fsync per change
            "local-address": "127.0.0.1",
            "local-port": str(self.dns_port),
            "api": "yes",
            "api-key": self.key,
            "webserver": "yes",
            "webserver-address": "127.0.0.1",
            "webserver-port": str(self.api_port),
            "webserver-allow-from": "127.0.0.1/32",
            "daemon": "no",
            "guardian": "no",  # one process to signal and wait for, not a guardian and a child
            "disable-syslog": "yes",  # everything to stderr, i.e. the log file
            "socket-dir": str(self.workdir),  # not /run/pdns, which belongs to the system service
            "loglevel": "5",  # notices: startup and errors, no per-query noise
            "security-poll-suffix": "",  # no DNS lookups on the internet at startup
            "default-soa-content": DEFAULT_SOA_CONTENT,
            # Caches off: a query straight after an API call must see the change.
            "cache-ttl": "0",
            "query-cache-ttl": "0",
            "negquery-cache-ttl": "0",
            "zone-cache-refresh-interval": "0",
            # Two threads are plenty for tests and keep the footprint small.
            "receiver-threads": "1",
            "distributor-threads": "1",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _start_server(self, account: pwd.struct_passwd | None) -> None:
        # Rewritten at every start so that a restart cannot drift from what this code says.
        self.config_file.write_text(self._config())
        self.config_file.chmod(0o600)  # holds the API key
        if account is not None:
            os.chown(self.config_file, account.pw_uid, account.pw_gid)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(
                [self.binary, f"--config-dir={self.workdir}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,  # ours may not be enterable by the pdns account
                start_new_session=True,
                preexec_fn=die_with_parent,
                user=None if account is None else account.pw_uid,
                group=None if account is None else account.pw_gid,
                extra_groups=None if account is None else [],  # drop root's supplementary groups
            )
        finally:
            log.close()
        self._wait_ready(offset)

    def _start_on_free_ports(self, account: pwd.struct_passwd | None, attempts: int = 3) -> None:
        """First start: a free port may be taken between choosing and binding it (and free_port() only
        checks TCP, not UDP), so choose again when pdns says the address is in use."""
        for attempt in range(attempts):
            self.dns_port, self.api_port = free_port(), free_port()
            while self.api_port == self.dns_port:
                self.api_port = free_port()
            try:
                self._start_server(account)
                return
            except _BindError:
                if attempt + 1 == attempts:
                    raise

    def _log_since(self, offset: int) -> str:
        try:
            return self.log_file.read_bytes()[offset:].decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _wait_ready(self, log_offset: int, timeout: float = START_TIMEOUT) -> None:
        """Until the API answers an authenticated GET and the DNS port answers a UDP query."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last: object = None
        api_ready = False
        while True:
            if self.process.poll() is not None:
                code, log = self.process.returncode, self._log_since(log_offset)
                self.process = None
                error = _BindError if "in use" in log else RuntimeError
                raise error(f"pdns_server exited with {code}:\n{log[-3000:]}")
            if "Address already in use" in self._log_since(log_offset):
                # The webserver may fail to bind without taking the process down: don't wait it out.
                log = self._log_since(log_offset)
                self.stop()
                raise _BindError(f"pdns_server could not bind:\n{log[-3000:]}")
            try:
                if not api_ready:
                    status, _ = self.api("GET", f"/api/v1/servers/{SERVER_ID}", timeout=1.0)
                    api_ready = status == 200
                    last = f"API answered {status}"
                if api_ready:
                    self.query("ready.invalid.", "SOA", timeout=0.5)  # REFUSED is an answer too
                    return
            except (OSError, dns.exception.DNSException) as error:
                last = error
            if time.monotonic() > deadline:
                log = self._log_since(log_offset)
                self.stop()
                raise TimeoutError(f"pdns_server not ready after {timeout:.0f}s ({last}); log tail:\n{log[-3000:]}")
            time.sleep(0.05)


@contextlib.contextmanager
def running_powerdns() -> Iterator[PowerDNSServer]:
    """Start a PowerDNS server in a fresh working directory; always stop it and remove the directory."""
    # Under /tmp explicitly: the pdns account must reach it, which rules out pytest's 0700 tmp_path.
    workdir = Path(tempfile.mkdtemp(prefix="siteplane-pdns-", dir="/tmp"))
    try:
        server = PowerDNSServer(workdir=workdir)
        try:
            server.start()
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    """``python -m harness.powerdns``: start a server and keep it until interrupted."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C must reach us even when started in the background (`&`), where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with running_powerdns() as server:
        print(f"{pdns_version(server.binary)} up in {server.startup_seconds:.2f}s, state in {server.workdir}")
        print(f"API:  {server.api_url}/api/v1/servers/{server.server_id}  (X-API-Key: {server.api_key})")
        print(f"DNS:  dig @{server.address} -p {server.port} example.test SOA")
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
