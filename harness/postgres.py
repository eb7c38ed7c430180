"""A real PostgreSQL server on loopback, started and stopped by the tests themselves.

The server runs straight from the Debian binaries (``harness/system_deps.sh`` installs them) with its
data directory, log and unix socket in one working directory, listens only on 127.0.0.1 at a free
port, and is tuned for a throwaway database: no fsync, no full-page writes. It never touches the
system cluster the Debian package may have created on port 5432.

``initdb`` runs once per working directory; ``start()`` and ``stop()`` may then alternate freely and
always bring back the same data on the same port, which is what the database-outage tests rely on.
Start, stop, ports, readiness and logs work as for every server here (``harness.server``).

``python -m harness.postgres`` starts one for a developer and keeps it until Ctrl-C.
"""

from __future__ import annotations

import os
import pwd
import re
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from harness.processes import ChildProcess, children_of, unprivileged_account
from harness.server import InWorkdir, Server

# The OS account the server runs as when the tests run as root: postgres refuses to run as root.
OS_USER = "siteplane-pg"
# The database superuser initdb creates, and the database the tests use by default.
SUPERUSER = "siteplane"
DATABASE = "siteplane"
# Overrides the search for the binaries, for a machine that keeps them elsewhere.
BIN_DIR_ENV = "SITEPLANE_PG_BINDIR"

INITDB_TIMEOUT = 120.0

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


@dataclass
class PostgresServer(Server):
    """One PostgreSQL server whose whole state is in ``workdir``."""

    bin_dir: Path = field(default_factory=find_bin_dir)
    port: int = 0

    port_fields = ("port",)
    label = "postgres"
    workdir_prefix = "siteplane-pg-"
    start_timeout = 60.0
    stop_timeout = 30.0
    # Fast shutdown: roll back open transactions, disconnect clients.
    stop_signal = signal.SIGINT

    data_dir = InWorkdir("data")
    log_file = InWorkdir("postgres.log")

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the default database."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = DATABASE) -> str:
        """libpq connection string, for psycopg directly."""
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def pids(self) -> list[int]:
        """The postmaster and its current children (backends, checkpointer, ...); empty when stopped."""
        return [child for postmaster in super().pids() for child in (postmaster, *children_of(postmaster))]

    def how_to_connect(self) -> list[str]:
        return [f"binaries from {self.bin_dir}", self.url, f"psql '{self.conninfo()}'"]

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

    def refuse_connections(self, name: str, refuse: bool = True) -> None:
        """Make database ``name`` refuse new connections (and end those it has), or accept them
        again: an outage of one database while the server, and every other database, runs on."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                    sql.Identifier(name), sql.SQL("false" if refuse else "true")
                )
            )
            if refuse:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    # -- the server --------------------------------------------------------------------------

    def _run_as(self) -> pwd.struct_passwd | None:
        return unprivileged_account([OS_USER], create=True)

    def _prepare(self) -> None:
        """initdb once per working directory; the data directory is what every restart comes back to."""
        super()._prepare()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()

    def _launch(self) -> None:
        self._spawn("postgres", self._server_args())
        self._wait_until(self._accepts_connections)
        self.ensure_database(DATABASE)

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
        initdb = ChildProcess.spawn(
            "initdb", args, log_file=self.log_file_of("initdb"), cwd=self.workdir, account=self._account
        )
        if not initdb.wait(INITDB_TIMEOUT):
            initdb.kill()
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.output()}")
        (self.data_dir / "pg_hba.conf").write_text(PG_HBA)

    def _server_args(self) -> Sequence[str]:
        settings = {**SETTINGS, "port": str(self.port), "unix_socket_directories": str(self.workdir)}
        return [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            *(arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")),
        ]

    def _accepts_connections(self) -> bool:
        with psycopg.connect(self.conninfo("postgres"), connect_timeout=2):
            return True


# Start a PostgreSQL server in a fresh working directory; always stop it and remove the directory.
running_postgres = PostgresServer.in_temporary_workdir


if __name__ == "__main__":
    sys.exit(PostgresServer.main())
