"""A real PostgreSQL server on loopback, started and stopped by the tests themselves.

The server runs straight from the Debian binaries (``harness/system_deps.sh`` installs them) with its
data directory, log and unix socket in one working directory, listens only on 127.0.0.1 at a free
port, and is tuned for a throwaway database: no fsync, no full-page writes. It never touches the
system cluster the Debian package may have created on port 5432.

``initdb`` runs once per working directory; ``start()`` and ``stop()`` may then alternate freely and
always bring back the same data on the same port, which is what the database-outage tests rely on.

``python -m harness.postgres`` starts one for a developer and keeps it until Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg
from psycopg import sql

from harness.controlplane.cluster import free_port
from harness.processes import die_with_parent

# The OS account the server runs as when the tests run as root: postgres refuses to run as root.
OS_USER = "siteplane-pg"
# The database superuser initdb creates, and the database the tests use by default.
SUPERUSER = "siteplane"
DATABASE = "siteplane"
# Overrides the search for the binaries, for a machine that keeps them elsewhere.
BIN_DIR_ENV = "SITEPLANE_PG_BINDIR"

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

# Settings given on the command line at every start, so a restart cannot drift from the first one.
SETTINGS: dict[str, str] = {
    # Loopback TCP only. The unix socket lives in the working directory, not /var/run/postgresql,
    # which belongs to the system cluster (and may not exist).
    "listen_addresses": "127.0.0.1",
    # A throwaway test database: durability would only cost time.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Operator replicas, pools and concurrent tests all hold connections at once.
    "max_connections": "200",
    # Everything goes to stderr, the log file the harness tails when the server dies early.
    "logging_collector": "off",
}

# Trust, but only over loopback and the private socket: initdb's own file would also add
# replication lines and IPv6, neither of which the tests need.
PG_HBA = """\
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
"""


def find_bin_dir() -> Path:
    """The bin directory of the newest PostgreSQL installed under /usr/lib/postgresql."""
    override = os.environ.get(BIN_DIR_ENV)
    if override:
        return Path(override)

    def version(bin_dir: Path) -> tuple[int, ...]:
        # "15", "16", or old-style "9.6": numeric order, not string order ("9.6" < "15").
        return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))

    candidates = [initdb.parent for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): "
            f"run `bash harness/system_deps.sh`, or point {BIN_DIR_ENV} at a directory with initdb and postgres"
        )
    return max(candidates, key=version)


def _os_account() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, created if missing; None when not root."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(OS_USER)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            OS_USER,
        ],
        capture_output=True,
        text=True,
    )
    try:
        # Looked up again even when useradd failed: a parallel test run may just have created it.
        return pwd.getpwnam(OS_USER)
    except KeyError:
        raise RuntimeError(f"could not create the system user {OS_USER}: {result.stderr.strip()}") from None


def _check_traversable(path: Path, account: pwd.struct_passwd) -> None:
    """Fail clearly if the server's account cannot reach ``path``.

    initdb's own message for this is obscure, and the usual cause is predictable: pytest's tmp_path
    lies under /tmp/pytest-of-root, which is 0700 for root.
    """
    for parent in path.parents:
        info = parent.stat()
        if info.st_uid == account.pw_uid:
            allowed = bool(info.st_mode & stat.S_IXUSR)
        elif info.st_gid == account.pw_gid:
            allowed = bool(info.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(info.st_mode & stat.S_IXOTH)
        if not allowed:
            raise RuntimeError(
                f"{account.pw_name} cannot traverse {parent} (mode {stat.filemode(info.st_mode)}), so PostgreSQL "
                f"cannot use {path}: put the working directory elsewhere, e.g. tempfile.mkdtemp(dir='/tmp')"
            )


def _children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc: postgres forks one process per backend and helper."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in field 2 may itself contain spaces and parentheses: split after it.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


@dataclass
class PostgresServer:
    """One PostgreSQL server whose whole state is in ``workdir``."""

    workdir: Path
    bin_dir: Path = field(default_factory=find_bin_dir)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = 0.0
    _account: pwd.struct_passwd | None = field(default=None, init=False, repr=False)
    _atexit_registered: bool = field(default=False, init=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        return self.workdir / "postgres.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the default database."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = DATABASE) -> str:
        """libpq connection string, for psycopg directly."""
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        """Initialise the data directory if this is the first start, then run the server until it answers.

        A restart reuses the port of the first start: clients configured with ``url`` must find the
        database again exactly where it was.
        """
        if self.running:
            return self
        started = time.monotonic()
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        self._prepare_workdir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self.port:
            self._start_server()
        else:
            self._start_on_free_port()
        self.ensure_database(DATABASE)
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, disconnect clients); SIGKILL after 30 s."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # The whole session: backends outlive a SIGKILLed postmaster for a moment otherwise.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)

    def pids(self) -> list[int]:
        """The postmaster and its current children (backends, checkpointer, ...); empty when stopped."""
        if not self.running:
            return []
        assert self.process is not None
        return [self.process.pid, *_children(self.process.pid)]

    # -- databases ---------------------------------------------------------------------------

    def ensure_database(self, name: str) -> str:
        """Create ``name`` unless it exists; return its SQLAlchemy URL."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def create_database(self, name: str) -> str:
        """Create a fresh database (an error if it exists); return its SQLAlchemy URL."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    # -- processes ---------------------------------------------------------------------------

    def _prepare_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._account = _os_account()
        if self._account is not None:
            _check_traversable(self.workdir, self._account)
            # The server creates its data directory and its socket here.
            os.chown(self.workdir, self._account.pw_uid, self._account.pw_gid)
            self.workdir.chmod(0o700)

    def _spawn(self, args: Sequence[str], stdout: int | IO[bytes]) -> subprocess.Popen[bytes]:
        account = self._account
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            # Otherwise the child's cwd is ours, which its account may not be allowed to enter.
            cwd=self.workdir,
            start_new_session=True,
            preexec_fn=die_with_parent,
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=None if account is None else [],  # drop root's supplementary groups
        )

    def _initdb(self) -> None:
        args = [
            str(self.bin_dir / "initdb"),
            f"--pgdata={self.data_dir}",
            f"--username={SUPERUSER}",
            "--auth=trust",  # replaced by PG_HBA below, which limits it to loopback
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # the test database need not survive a power cut
            "--no-instructions",
        ]
        proc = self._spawn(args, subprocess.PIPE)
        output, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed ({proc.returncode}):\n{output.decode(errors='replace')}")
        (self.data_dir / "pg_hba.conf").write_text(PG_HBA)

    def _server_args(self) -> Sequence[str]:
        settings = {**SETTINGS, "port": str(self.port), "unix_socket_directories": str(self.workdir)}
        return [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            *(arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")),
        ]

    def _start_server(self) -> None:
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = self._spawn(self._server_args(), log)
        finally:
            log.close()
        self._wait_ready()

    def _start_on_free_port(self, attempts: int = 3) -> None:
        """First start: the free port may be taken between choosing it and binding it, so retry."""
        for attempt in range(attempts):
            self.port = free_port()
            offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            try:
                self._start_server()
                return
            except RuntimeError:
                log = self.log_file.read_bytes()[offset:]
                if attempt + 1 == attempts or b"could not bind" not in log:
                    raise

    def _wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{tail}")
            try:
                with psycopg.connect(self.conninfo("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as error:
                last = error
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"postgres not accepting connections after {timeout:.0f}s ({last}); see {self.log_file}"
                )
            time.sleep(0.05)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a PostgreSQL server in a fresh working directory; always stop it and remove the directory."""
    # Under /tmp explicitly: the server's account must be able to reach it, which rules out
    # pytest's 0700 tmp_path and a TMPDIR inside a home directory.
    workdir = Path(tempfile.mkdtemp(prefix="siteplane-pg-", dir="/tmp"))
    server = PostgresServer(workdir=workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    """``python -m harness.postgres``: start a server and keep it until interrupted."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C must reach us even when started in the background (`&`), where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with running_postgres() as server:
        print(f"postgres up in {server.startup_seconds:.1f}s from {server.bin_dir}, data in {server.workdir}")
        print(server.url)
        print(f"psql '{server.conninfo()}'")
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
