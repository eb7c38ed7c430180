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
* rectify on API changes stays on (the default), and DNSSEC is enabled in the backend
  (``gsqlite3-dnssec``: the key and metadata tables), so zones are signed when the backend asks
  (tests/cluster/test_dnssec_servers.py); nothing is signed unless asked for;
* the security poll (a DNS lookup on the internet at startup) is disabled.

When the tests run as root the server runs as the unprivileged ``pdns`` account the Debian package
creates, switched to by Popen (``user=``/``group=``) rather than by pdns' own ``--setuid``: a change
of uid clears PR_SET_PDEATHSIG, and Popen switches before our preexec_fn sets it, whereas
``--setuid`` would switch after it and silently drop it. Unprivileged ports need no root anyway.

``start()`` and ``stop()`` may alternate freely: the same database and the same ports come back. Start,
stop, ports, readiness and logs work as for every server here (``harness.server``).
``python -m harness.powerdns`` starts one for a developer and keeps it until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import dns.message
import dns.query
import dns.rdatatype

from harness.processes import unprivileged_account
from harness.server import ADDRESS, InWorkdir, Server

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


@dataclass
class PowerDNSServer(Server):
    """One PowerDNS Authoritative server whose whole state is in ``workdir``."""

    dns_port: int = 0
    api_port: int = 0
    key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    binary: str = field(default_factory=find_pdns_server)

    server_id: ClassVar[str] = SERVER_ID

    port_fields = ("dns_port", "api_port")
    label = "pdns_server"
    workdir_prefix = "siteplane-pdns-"

    database = InWorkdir("pdns.sqlite3")
    config_file = InWorkdir("pdns.conf")
    log_file = InWorkdir("pdns.log")

    @property
    def port(self) -> int:
        """The DNS port, UDP and TCP."""
        return self.dns_port

    @property
    def api_url(self) -> str:
        return f"http://{ADDRESS}:{self.api_port}"

    @property
    def api_key(self) -> str:
        return self.key

    def how_to_connect(self) -> list[str]:
        return [
            pdns_version(self.binary),
            f"API:  {self.api_url}/api/v1/servers/{self.server_id}  (X-API-Key: {self.api_key})",
            f"DNS:  dig @{self.address} -p {self.port} example.test SOA",
        ]

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

    # -- the server --------------------------------------------------------------------------

    def _run_as(self) -> pwd.struct_passwd | None:
        return unprivileged_account([OS_USER, "nobody"], hint="install pdns-server (harness/system_deps.sh)")

    def _prepare(self) -> None:
        super()._prepare()
        if not self.database.exists():
            # Python's sqlite3 rather than the sqlite3 CLI, which the pdns packages do not pull in.
            with contextlib.closing(sqlite3.connect(self.database)) as db:
                db.executescript(find_schema().read_text())
                db.commit()
        # pdns writes the database, SQLite's journal next to it (in the working directory), and its
        # control socket there.
        self._hand_over(self.database)

    def _launch(self) -> None:
        # Rewritten at every start so that a restart cannot drift from what this code says.
        self.config_file.write_text(self._config())
        self.config_file.chmod(0o600)  # holds the API key
        self._hand_over(self.config_file)
        self._spawn("pdns", [self.binary, f"--config-dir={self.workdir}"])
        self._wait_until(self._answers_api_and_dns)

    def _answers_api_and_dns(self) -> bool:
        """The API answers an authenticated GET, and the DNS port a query (REFUSED is an answer too)."""
        status, _ = self.api("GET", f"/api/v1/servers/{SERVER_ID}", timeout=1.0)
        if status != 200:
            return False
        self.query("ready.invalid.", "SOA", timeout=0.5)
        return True

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


# Start a PowerDNS server in a fresh working directory; always stop it and remove the directory.
running_powerdns = PowerDNSServer.in_temporary_workdir


if __name__ == "__main__":
    sys.exit(PowerDNSServer.main())
