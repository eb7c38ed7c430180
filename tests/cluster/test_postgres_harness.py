"""The PostgreSQL test harness: a real server, private to the tests, that can go down and come back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from harness.postgres import PostgresServer, running_postgres

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


def _alive(pid: int) -> bool:
    """True while ``pid`` is a running process; a zombie counts as dead (PID 1 may never reap it here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_all_dead(pids: list[int], timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port``, from /proc/net/tcp and tcp6 (hex, host order)."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            host, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A = LISTEN
                continue
            if len(host) == 8:
                addresses.add(".".join(str(b) for b in reversed(bytes.fromhex(host))))
            else:
                addresses.add(host)  # any IPv6 listener is already one too many
    return addresses


def test_sqlalchemy_with_psycopg3_creates_inserts_and_selects(postgres: PostgresServer) -> None:
    engine = sa.create_engine(postgres.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE greeting (id serial PRIMARY KEY, text varchar NOT NULL)"))
            conn.execute(sa.text("INSERT INTO greeting (text) VALUES (:t)"), [{"t": "hello"}, {"t": "grüße"}])
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT text FROM greeting ORDER BY id")).scalars().all()
            assert rows == ["hello", "grüße"]
            assert engine.dialect.driver == "psycopg"
            assert conn.execute(sa.text("SELECT current_user, current_database()")).one() == ("siteplane", "siteplane")
    finally:
        engine.dispose()


def test_stop_refuses_connections_and_start_brings_back_the_same_data(postgres: PostgresServer) -> None:
    # pool_pre_ping: the pooled connection dies with the server, and the same engine must converge
    # once it is back, as the operator's will.
    engine = sa.create_engine(postgres.url, pool_pre_ping=True)
    url, port = postgres.url, postgres.port
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE survivor (name text)"))
            conn.execute(sa.text("INSERT INTO survivor VALUES ('still here')"))

        started = time.monotonic()
        postgres.stop()
        stop_seconds = time.monotonic() - started
        assert not postgres.running
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    finally:
        postgres.start()  # the module's other tests need it, whatever happened above

    assert (postgres.url, postgres.port) == (url, port)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM survivor")).scalar_one() == "still here"
    engine.dispose()
    print(f"stop {stop_seconds:.2f}s, restart {postgres.startup_seconds:.2f}s")


def test_create_database_gives_a_fresh_usable_database(postgres: PostgresServer) -> None:
    url = postgres.create_database("fresh_one")
    assert url.endswith(f":{postgres.port}/fresh_one")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar_one() == "fresh_one"
            assert conn.execute(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar_one() == 0
    finally:
        engine.dispose()
    with pytest.raises(psycopg.errors.DuplicateDatabase):
        postgres.create_database("fresh_one")


def test_listens_only_on_loopback(postgres: PostgresServer) -> None:
    with psycopg.connect(postgres.conninfo()) as conn:
        settings: dict[str, str] = dict(conn.execute("SELECT name, setting FROM pg_settings").fetchall())
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["unix_socket_directories"] == str(postgres.workdir)
    assert (settings["fsync"], settings["synchronous_commit"], settings["full_page_writes"]) == ("off", "off", "off")
    assert settings["max_connections"] == "200"
    # What the kernel says, not only what the server was told.
    assert _listening_addresses(postgres.port) == {"127.0.0.1"}


def test_runs_unprivileged(postgres: PostgresServer) -> None:
    postmaster = postgres.pids()[0]
    uid = Path(f"/proc/{postmaster}").stat().st_uid
    assert uid != 0
    if os.geteuid() != 0:
        assert uid == os.geteuid()


def test_context_manager_leaves_no_process_or_directory_behind() -> None:
    with running_postgres() as server:
        pids = server.pids()
        workdir = server.workdir
        # Some children: the checkpointer, the background writer and a backend of our own.
        with psycopg.connect(server.conninfo()):
            pids = server.pids()
            assert len(pids) > 2
    assert _wait_all_dead(pids, timeout=0) == []
    assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.killpg(pids[0], 0)  # the server's whole session is gone, not just the processes we saw


def test_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """Even when the test process is SIGKILLed, no server survives it (PR_SET_PDEATHSIG)."""
    script = textwrap.dedent(
        """
        import sys, tempfile, time
        from pathlib import Path
        from harness.postgres import PostgresServer
        server = PostgresServer(workdir=Path(tempfile.mkdtemp(prefix="siteplane-pg-", dir="/tmp"))).start()
        print(server.workdir, *server.pids(), flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        workdir, *pid_texts = proc.stdout.readline().split()
        pids = [int(pid) for pid in pid_texts]
        assert pids, "the child did not start a server"
        # Only the postmaster: other processes in the snapshot (a backend just disconnecting) may be gone by now.
        assert _alive(pids[0])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert _wait_all_dead(pids) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if "workdir" in locals():
            subprocess.run(["rm", "-rf", workdir], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another account")
def test_unreachable_workdir_is_reported_clearly(tmp_path: Path) -> None:
    # tmp_path is under /tmp/pytest-of-root, mode 0700: the server's account cannot get in.
    server = PostgresServer(workdir=tmp_path / "pg")
    with pytest.raises(RuntimeError, match="cannot traverse"):
        server.start()
    assert not server.running
