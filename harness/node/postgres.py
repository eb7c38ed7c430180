"""A PostgreSQL the node's pods can reach: the test server (harness.postgres) listening on the
host's address as well, where pods on the node come from, with a password for them.

Loopback stays as it was (trust, for the tests' own connections); pods must log in as
``siteplane`` with a password, the way the chart's Secret says.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from harness.node.configs import POD_CIDR
from harness.postgres import PostgresServer

ROLE = "siteplane"


@dataclass
class PodReachablePostgres(PostgresServer):
    host_ip: str = ""
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    workdir_prefix = "siteplane-node-pg-"

    def _initdb(self) -> None:
        super()._initdb()
        with (self.data_dir / "pg_hba.conf").open("a") as hba:
            # Pods on the node, and the host itself when a pod's connection is masqueraded.
            hba.write(f"host    all       {ROLE}  {POD_CIDR}  scram-sha-256\n")
            hba.write(f"host    all       {ROLE}  {self.host_ip}/32  scram-sha-256\n")

    def _server_args(self) -> Sequence[str]:
        args = list(super()._server_args())
        index = args.index("listen_addresses=127.0.0.1")
        args[index] = f"listen_addresses=127.0.0.1,{self.host_ip}"
        return args

    def database_for_pods(self, name: str) -> str:
        """A fresh database owned by the password role; the URL a pod connects with."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone()
            statement = "ALTER ROLE {} LOGIN PASSWORD {}" if exists else "CREATE ROLE {} LOGIN PASSWORD {}"
            conn.execute(sql.SQL(statement).format(sql.Identifier(ROLE), sql.Literal(self.password)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(ROLE)))
        return f"postgresql+psycopg://{ROLE}:{self.password}@{self.host_ip}:{self.port}/{name}"
