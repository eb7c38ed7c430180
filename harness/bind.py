"""A real BIND 9 ``named`` on loopback, started and stopped by the tests themselves.

The server runs straight from the Debian binaries with its configuration, zone files, logs and
runtime files in one working directory, answers DNS on 127.0.0.1 at a free port (UDP and TCP) and
takes ``rndc`` commands on another free loopback port. It starts with no zones at all: tests add
them with ``rndc addzone`` (``add_zone``) and change them with TSIG-signed RFC 2136 updates, which is
how the operator will drive a real DNS server.

``start()`` and ``stop()`` may alternate freely and keep the same working directory, ports and keys.
Zones added with ``rndc addzone`` are remembered by named itself (``allow-new-zones`` keeps them in
an LMDB ``.nzd`` file in the directory), so they come back after a restart.

``python -m harness.bind`` starts one for a developer and keeps it until Ctrl-C.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from harness.controlplane.cluster import free_port
from harness.processes import die_with_parent

NAMED = "/usr/sbin/named"
RNDC = "/usr/sbin/rndc"
NAMED_CHECKCONF = "/usr/bin/named-checkconf"
# The account named runs as when the tests run as root. The Debian bind9 package creates it, and
# starting named directly as that user (rather than as root with `-u bind`) means named never holds
# root at all, so it needs no capabilities, which a container may not grant.
OS_USER = "bind"

TSIG_NAME = "siteplane-key"
TSIG_ALGORITHM = "hmac-sha256"
RNDC_KEY_NAME = "siteplane-rndc"
ADDRESS = "127.0.0.1"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
RNDC_TIMEOUT = 15.0

# Every zone starts with this: an out-of-zone NS needs no glue, so named loads the zone with only
# the SOA and NS, and tests decide every other record themselves.
ZONE_TEMPLATE = """\
$TTL 300
@ IN SOA ns1.example.net. hostmaster.example.net. ( 1 3600 600 86400 300 )
@ IN NS ns1.example.net.
"""


def _new_secret() -> str:
    """A random 256-bit key in the base64 form named.conf, rndc.conf and dnspython all take."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _os_account() -> pwd.struct_passwd | None:
    """The unprivileged account to run named as; None when we are not root (named then runs as us)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        raise RuntimeError(f"no {OS_USER} user: install the bind9 package (harness/system_deps.sh)") from None


def _zone_name(zone: str) -> str:
    """``example.com`` and ``example.com.`` are one zone: named and rndc see it without the dot."""
    return zone.rstrip(".")


@dataclass
class BindServer:
    """One named whose whole state is in ``workdir``."""

    workdir: Path
    port: int = 0
    control_port: int = 0
    tsig_secret: str = field(default_factory=_new_secret)
    rndc_secret: str = field(default_factory=_new_secret)
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = 0.0
    _account: pwd.struct_passwd | None = field(default=None, init=False, repr=False)
    _atexit_registered: bool = field(default=False, init=False, repr=False)

    @property
    def address(self) -> str:
        return ADDRESS

    @property
    def tsig_name(self) -> str:
        return TSIG_NAME

    @property
    def tsig_algorithm(self) -> str:
        return TSIG_ALGORITHM

    @property
    def named_conf(self) -> Path:
        return self.workdir / "named.conf"

    @property
    def rndc_conf(self) -> Path:
        return self.workdir / "rndc.conf"

    @property
    def log_file(self) -> Path:
        return self.workdir / "named.log"

    @property
    def zone_dir(self) -> Path:
        return self.workdir / "zones"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def zone_file(self, zone: str) -> Path:
        return self.zone_dir / f"{_zone_name(zone)}.db"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> BindServer:
        """Write the configuration (first start only: ports and keys stay), run named until it answers."""
        if self.running:
            return self
        started = time.monotonic()
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        self._prepare_workdir()
        if self.port:
            self._start_server()
        else:
            self._start_on_free_ports()
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """``rndc stop`` (named writes out dynamic zones and exits cleanly); SIGTERM, then SIGKILL, as fallback."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(self._rndc_args("stop"), capture_output=True, timeout=RNDC_TIMEOUT, check=False)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                proc.wait(timeout=STOP_TIMEOUT)
                return
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
        proc.wait(timeout=STOP_TIMEOUT)

    def pids(self) -> list[int]:
        """named's pid (a single multi-threaded process); empty when stopped."""
        return [self.process.pid] if self.process is not None and self.running else []

    # -- control -----------------------------------------------------------------------------

    def rndc(self, *args: str) -> str:
        """Run ``rndc`` against this server; its output, or RuntimeError with the output on failure."""
        result = subprocess.run(self._rndc_args(*args), capture_output=True, text=True, timeout=RNDC_TIMEOUT)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise RuntimeError(f"rndc {' '.join(args)} failed ({result.returncode}): {output.strip()}")
        return output

    def add_zone(self, zone: str, records: str | None = None) -> Path:
        """Create a primary zone with a fresh zone file and load it with ``rndc addzone``.

        ``records`` is zone-file text appended after the SOA and NS (relative names are relative to
        the zone). Updates and transfers need the TSIG key; everyone may query.
        """
        name = _zone_name(zone)
        path = self.zone_file(name)
        path.write_text(ZONE_TEMPLATE + (records.rstrip("\n") + "\n" if records else ""))
        self._chown(path)
        config = (
            f'{{ type primary; file "{path}"; '
            f"allow-update {{ key {TSIG_NAME}; }}; allow-transfer {{ key {TSIG_NAME}; }}; }};"
        )
        self.rndc("addzone", name, config)
        return path

    def delete_zone(self, zone: str) -> None:
        """``rndc delzone -clean``: named forgets the zone and removes its file and journal."""
        self.rndc("delzone", "-clean", _zone_name(zone))

    # -- processes ---------------------------------------------------------------------------

    def _rndc_args(self, *args: str) -> list[str]:
        return [RNDC, "-c", str(self.rndc_conf), *args]

    def _chown(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def _prepare_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.zone_dir.mkdir(exist_ok=True)
        self._account = _os_account()
        # named writes its pid file, session key, .nzd, journals and dumped zone files here.
        self._chown(self.workdir)
        self._chown(self.zone_dir)
        self.workdir.chmod(0o750)

    def _write_config(self) -> None:
        self.named_conf.write_text(
            f"""\
options {{
    directory "{self.workdir}";
    listen-on port {self.port} {{ {ADDRESS}; }};
    listen-on-v6 {{ none; }};
    pid-file "{self.workdir}/named.pid";
    session-keyfile "{self.workdir}/session.key";
    // rndc addzone / delzone; named keeps such zones in an .nzd file in the directory.
    allow-new-zones yes;
    recursion no;
    notify no;
    dnssec-validation no;
}};

key "{TSIG_NAME}" {{
    algorithm {TSIG_ALGORITHM};
    secret "{self.tsig_secret}";
}};

key "{RNDC_KEY_NAME}" {{
    algorithm hmac-sha256;
    secret "{self.rndc_secret}";
}};

controls {{
    inet {ADDRESS} port {self.control_port} allow {{ {ADDRESS}; }} keys {{ "{RNDC_KEY_NAME}"; }};
}};

// Everything to stderr, which the harness sends to named.log in the working directory.
logging {{
    channel harness {{ stderr; severity info; print-time yes; print-category yes; print-severity yes; }};
    category default {{ harness; }};
    category lame-servers {{ null; }};
}};
"""
        )
        self.rndc_conf.write_text(
            f"""\
key "{RNDC_KEY_NAME}" {{
    algorithm hmac-sha256;
    secret "{self.rndc_secret}";
}};

options {{
    default-key "{RNDC_KEY_NAME}";
    default-server {ADDRESS};
    default-port {self.control_port};
}};
"""
        )
        # Holds both secrets: only root and named's account read them.
        for path in (self.named_conf, self.rndc_conf):
            path.chmod(0o640)
            self._chown(path)
        check = subprocess.run([NAMED_CHECKCONF, str(self.named_conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"named-checkconf rejected {self.named_conf}:\n{check.stdout}{check.stderr}")

    def _spawn(self, args: Sequence[str], stdout: int | IO[bytes]) -> subprocess.Popen[bytes]:
        account = self._account
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
            preexec_fn=die_with_parent,
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=None if account is None else [],  # drop root's supplementary groups
        )

    def _start_server(self) -> None:
        if not self.named_conf.exists():
            self._write_config()
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        try:
            # -f: foreground, so the process we hold is named itself and dies with us; unlike -g it
            # keeps the logging statement. No -u: the process is already unprivileged (see OS_USER).
            self.process = self._spawn([NAMED, "-f", "-c", str(self.named_conf)], log)
        finally:
            log.close()
        self._wait_ready()

    def _start_on_free_ports(self, attempts: int = 3) -> None:
        """First start: a free port may be taken (or free for TCP only) by the time named binds it, so retry."""
        for attempt in range(attempts):
            self.port, self.control_port = free_port(), free_port()
            self.named_conf.unlink(missing_ok=True)
            offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            try:
                self._start_server()
                return
            except (RuntimeError, TimeoutError):
                log = self.log_file.read_text(errors="replace")[offset:]
                if attempt + 1 == attempts or "address in use" not in log:
                    raise

    def _answers_udp(self) -> bool:
        """Any DNS answer counts (REFUSED for the root zone is the usual one): named is serving."""
        query = dns.message.make_query(".", dns.rdatatype.SOA)
        try:
            dns.query.udp(query, ADDRESS, port=self.port, timeout=0.5)
        except (dns.exception.Timeout, OSError):
            return False
        return True

    def _rndc_ok(self) -> bool:
        result = subprocess.run(self._rndc_args("status"), capture_output=True, timeout=RNDC_TIMEOUT, check=False)
        return result.returncode == 0

    def _wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                tail = self.log_file.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"named exited with {code}:\n{tail}")
            if self._rndc_ok() and self._answers_udp():
                return
            if time.monotonic() > deadline:
                self.stop()
                tail = self.log_file.read_text(errors="replace")[-3000:]
                raise TimeoutError(f"named not ready after {timeout:.0f}s; log {self.log_file}:\n{tail}")
            time.sleep(0.05)


@contextlib.contextmanager
def running_bind() -> Iterator[BindServer]:
    """Start named in a fresh working directory; always stop it and remove the directory."""
    # Under /tmp explicitly: named's account must be able to reach it, which rules out pytest's
    # 0700 tmp_path and a TMPDIR inside a home directory.
    workdir = Path(tempfile.mkdtemp(prefix="siteplane-bind-", dir="/tmp"))
    server = BindServer(workdir=workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    """``python -m harness.bind``: start a server and keep it until interrupted."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C must reach us even when started in the background (`&`), where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with running_bind() as server:
        print(f"named up in {server.startup_seconds:.1f}s, state in {server.workdir}")
        print(f"dig @{server.address} -p {server.port} <zone> SOA")
        print(f"rndc -c {server.rndc_conf} status")
        print(f"nsupdate -y {server.tsig_algorithm}:{server.tsig_name}:{server.tsig_secret}")
        print(f"  > server {server.address} {server.port}")
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
