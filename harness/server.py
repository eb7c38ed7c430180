"""One base for the development servers: the control plane, PostgreSQL, BIND and PowerDNS.

Each server says how to prepare its working directory, which ports it needs, how to launch its
processes and how to tell that it answers; ``Server`` runs everything else the same way for all:

* start on free 127.0.0.1 ports, choosing again when another process takes one between our choice
  and the server's bind (the server's log says so: ``port_taken``);
* readiness by polling what the server answers (a connection, a query, an HTTP status), never a
  fixed sleep, failing early with the log's tail when a process exits;
* stop: a polite signal, then SIGKILL to the process's whole session after a timeout; also at
  interpreter exit, and (PR_SET_PDEATHSIG) when the process that started the server is killed;
* every process in the server's own session, logging to ``<name>.log`` in the working directory,
  run as an unprivileged account when we are root;
* a context manager, one in a temporary working directory, and ``main()`` for ``python -m``.

``start()`` and ``stop()`` may alternate freely: a restart keeps the ports, keys and data of the
first start, so clients configured once find the server again where it was.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import pwd
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from harness.processes import ChildProcess, check_traversable

ADDRESS = "127.0.0.1"
# How long one readiness probe may wait for an answer. A server answers its own probe in
# milliseconds; a probe that hangs may be talking to whoever else holds the port, which the log
# then says, so the poll must get back to reading it.
PROBE_TIMEOUT = 2.0
_LOG_TAIL = 3000


class PortTaken(RuntimeError):
    """A port chosen free was taken before the server bound it: worth another try elsewhere."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now (held together while chosen, so none repeats)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((ADDRESS, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port() -> int:
    return free_ports(1)[0]


@contextlib.contextmanager
def temporary_workdir(prefix: str) -> Iterator[Path]:
    """A fresh directory, removed afterwards with everything in it.

    Under /tmp explicitly: a server's unprivileged account must be able to reach it, which rules
    out pytest's 0700 tmp_path and a TMPDIR inside a home directory.
    """
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class InWorkdir:
    """A path in a server's working directory, declared once: ``named_conf = InWorkdir("named.conf")``."""

    def __init__(self, relative: str) -> None:
        self.relative = relative

    def __get__(self, server: Server, owner: type[Server] | None = None) -> Path:
        return server.workdir / self.relative


@dataclass
class Server(abc.ABC):
    """A real server on loopback whose whole state (configuration, data, logs) is in ``workdir``."""

    workdir: Path
    startup_seconds: float = field(default=0.0, init=False)
    _children: dict[str, ChildProcess] = field(default_factory=dict, init=False, repr=False)
    _account: pwd.struct_passwd | None = field(default=None, init=False, repr=False)
    _atexit_registered: bool = field(default=False, init=False, repr=False)

    address: ClassVar[str] = ADDRESS  # every port of every server is on loopback
    port_fields: ClassVar[tuple[str, ...]]  # the int fields holding its ports, 0 until chosen
    label: ClassVar[str]  # what messages call it
    workdir_prefix: ClassVar[str]  # of a temporary working directory
    workdir_mode: ClassVar[int] = 0o700
    start_timeout: ClassVar[float] = 30.0
    stop_timeout: ClassVar[float] = 15.0
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    poll_interval: ClassVar[float] = 0.05
    port_attempts: ClassVar[int] = 3
    # What the server logs when a port it was given is taken (strerror(EADDRINUSE), for most).
    port_taken: ClassVar[re.Pattern[str]] = re.compile(r"address already in use", re.IGNORECASE)

    # -- what each server defines ------------------------------------------------------------

    @abc.abstractmethod
    def _launch(self) -> None:
        """Start the processes (``_spawn``) and return once the server answers (``_wait_until``)."""

    @abc.abstractmethod
    def how_to_connect(self) -> list[str]:
        """What ``main()`` prints for a developer: addresses, credentials, commands to try."""

    @property
    def ports(self) -> tuple[int, ...]:
        """The ports it listens on; zeros until the first start chooses them."""
        return tuple(int(getattr(self, name)) for name in self.port_fields)

    def _choose_ports(self) -> None:
        """Set every port field to a free port; called before each attempt of a first start."""
        for name, port in zip(self.port_fields, free_ports(len(self.port_fields)), strict=True):
            setattr(self, name, port)

    def _run_as(self) -> pwd.struct_passwd | None:
        """The account the processes run as (``processes.unprivileged_account``); None: as us."""
        return None

    def _prepare(self) -> None:
        """Get the working directory ready before every start; subclasses add their own files."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._account = self._run_as()
        if self._account is not None:
            check_traversable(self.workdir, self._account)
            self._hand_over(self.workdir)
            self.workdir.chmod(self.workdir_mode)

    def _stop_child(self, child: ChildProcess) -> None:
        """Stop one running process; a server with a better way than a signal says so here."""
        child.stop(self.stop_signal, self.stop_timeout)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Every process of the server is running."""
        return bool(self._children) and all(child.running for child in self._children.values())

    def pids(self) -> list[int]:
        """The running processes the server was started as; empty when stopped."""
        return [child.pid for child in self._children.values() if child.running]

    def start(self) -> Self:
        """Prepare the working directory, launch, and return once the server answers.

        Only the first start chooses ports, and chooses again (``port_attempts`` times in all) when
        another process takes one first; a restart reuses them.
        """
        if self.running:
            return self
        started = time.monotonic()
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        self._stop_processes(self._children.values())  # what is left of a server that half died
        self._prepare()
        if all(self.ports):
            self._launch()
        else:
            self._launch_on_free_ports()
        self.startup_seconds = time.monotonic() - started
        return self

    def _launch_on_free_ports(self) -> None:
        for attempt in range(1, self.port_attempts + 1):
            self._choose_ports()
            try:
                self._launch()
                return
            except PortTaken:
                if attempt == self.port_attempts:
                    raise

    def stop(self) -> None:
        """Stop every process, the last started first. Idempotent."""
        while self._children:
            _, child = self._children.popitem()
            self._stop_processes([child])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @classmethod
    @contextlib.contextmanager
    def in_temporary_workdir(cls) -> Iterator[Self]:
        """Start one in a fresh working directory; always stop it and remove the directory."""
        with temporary_workdir(cls.workdir_prefix) as workdir, cls(workdir=workdir) as server:
            yield server

    @classmethod
    def for_developer(cls) -> contextlib.AbstractContextManager[Self]:
        """The server ``main()`` keeps running: by default one in a temporary working directory."""
        return cls.in_temporary_workdir()

    @classmethod
    def main(cls) -> int:
        """``python -m harness.<server>``: start one, say how to reach it, keep it until Ctrl-C or SIGTERM."""
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        # Ctrl-C must reach us even when started in the background (`&`), where SIGINT arrives ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with contextlib.suppress(KeyboardInterrupt), cls.for_developer() as server:
            print(f"{server.label} up in {server.startup_seconds:.1f}s, state in {server.workdir}")
            for line in server.how_to_connect():
                print(line)
            print("Ctrl-C stops it.", flush=True)
            while True:
                signal.pause()
        return 0

    # -- for subclasses ----------------------------------------------------------------------

    def _spawn(self, name: str, args: Sequence[str]) -> ChildProcess:
        """Start one process of the server, logging to ``<name>.log`` in the working directory."""
        child = ChildProcess.spawn(name, args, log_file=self.log_file_of(name), cwd=self.workdir, account=self._account)
        self._children[name] = child
        return child

    def log_file_of(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def _hand_over(self, path: Path) -> None:
        """Make ``path`` the server account's, so the server may write it."""
        if self._account is not None:
            shutil.chown(path, self._account.pw_uid, self._account.pw_gid)

    def _wait_until(
        self, ready: Callable[[], bool], watch: Iterable[ChildProcess] | None = None, timeout: float | None = None
    ) -> None:
        """Poll ``ready`` until it says yes; an exception it raises means "not yet" (and why, if never).

        Meanwhile, if one of the watched processes (by default all) says a port is taken, exits, or
        ``timeout`` passes, kill the watched processes (a server that failed to start has nothing to
        shut down cleanly, and a polite stop may itself hang on the port someone else holds) and
        raise PortTaken, RuntimeError or TimeoutError with the tail of the log.
        """
        watched = list(self._children.values() if watch is None else watch)
        timeout = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        why = "no answer yet"
        while True:
            for child in watched:
                exited = not child.running  # before reading the log, so the log is complete if it exited
                output = child.output()
                if self.port_taken.search(output):
                    self._kill(watched)
                    raise PortTaken(f"{child.name} could not bind its port:\n{output[-_LOG_TAIL:]}")
                if exited:
                    self._kill(watched)
                    raise RuntimeError(f"{child.name} exited with {child.returncode}:\n{output[-_LOG_TAIL:]}")
            try:
                if ready():
                    return
            except Exception as error:  # a probe of a server still starting fails in all kinds of ways
                why = f"{type(error).__name__}: {error}"
            if time.monotonic() > deadline:
                tails = "\n".join(f"{child.log_file}:\n{child.output()[-_LOG_TAIL:]}" for child in watched)
                self._kill(watched)
                raise TimeoutError(f"{self.label} not ready after {timeout:.0f}s ({why}); logs:\n{tails}")
            time.sleep(self.poll_interval)

    def _stop_processes(self, children: Iterable[ChildProcess]) -> None:
        for child in list(children):
            if child.running:
                self._stop_child(child)

    @staticmethod
    def _kill(children: Iterable[ChildProcess]) -> None:
        for child in children:
            child.kill()
