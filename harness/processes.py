"""The processes of the development servers: each in its own session, dying with the process that
started it, its output appended to a log file, run as an unprivileged account when we are root."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Loaded here, in the parent, not in die_with_parent: dlopen in a child forked from a threaded
# process can deadlock on a lock another thread held at fork time.
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
_PR_SET_PDEATHSIG = 1
# How long a SIGKILLed session may take to be reaped before something is badly wrong.
_REAP_TIMEOUT = 30.0


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the thread that started it dies, however it dies.

    So no server outlives a test run, even one that is killed outright. Popen switches user and
    group before it calls preexec_fn, and a change of uid clears PR_SET_PDEATHSIG, so setting it
    here, afterwards, is what makes it stick for servers run as an unprivileged user (a server's
    own --setuid would switch after it and silently drop it).
    """
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def unprivileged_account(names: Sequence[str], *, create: bool = False, hint: str = "") -> pwd.struct_passwd | None:
    """The account a server runs as when we are root; None when we are not (it then runs as us).

    The first of ``names`` that exists; with ``create``, the first name is created as a system
    account when none does. Servers refuse root (PostgreSQL) or need no privilege at all, and one
    that never holds root needs no capabilities, which a container may not grant.
    """
    if os.geteuid() != 0:
        return None
    for name in names:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    if not create:
        raise RuntimeError(f"no {' or '.join(names)} account to run the server as: {hint}")
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
            names[0],
        ],
        capture_output=True,
        text=True,
    )
    try:
        # Looked up again even when useradd failed: a parallel test run may just have created it.
        return pwd.getpwnam(names[0])
    except KeyError:
        raise RuntimeError(f"could not create the system user {names[0]}: {result.stderr.strip()}") from None


def check_traversable(path: Path, account: pwd.struct_passwd) -> None:
    """Fail clearly if ``account`` cannot reach ``path``.

    The servers' own messages for this are obscure, and the usual cause is predictable: pytest's
    tmp_path lies under /tmp/pytest-of-root, which is 0700 for root.
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
                f"{account.pw_name} cannot traverse {parent} (mode {stat.filemode(info.st_mode)}), so the server "
                f"cannot use {path}: put the working directory elsewhere, e.g. tempfile.mkdtemp(dir='/tmp')"
            )


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc."""
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
class ChildProcess:
    """One program a server runs, and how to run it again exactly the same way."""

    name: str
    args: tuple[str, ...]
    log_file: Path
    cwd: Path | None
    account: pwd.struct_passwd | None
    popen: subprocess.Popen[bytes]
    log_offset: int  # where this run's output starts in log_file

    @classmethod
    def spawn(
        cls,
        name: str,
        args: Sequence[str],
        *,
        log_file: Path,
        cwd: Path | None = None,
        account: pwd.struct_passwd | None = None,
    ) -> ChildProcess:
        """Start ``args`` in a session of its own (so one signal reaches all it forks), dying with us,
        stdout and stderr appended to ``log_file``, as ``account`` when given."""
        offset = log_file.stat().st_size if log_file.exists() else 0
        with open(log_file, "ab") as log:  # the child keeps its own copy of the descriptor
            if account is not None:
                # Its own log: a server that opens it by name (BIND's -L) may write it too.
                os.chown(log_file, account.pw_uid, account.pw_gid)
            popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Otherwise the child's cwd is ours, which its account may not be allowed to enter.
                cwd=cwd,
                start_new_session=True,
                preexec_fn=die_with_parent,
                user=None if account is None else account.pw_uid,
                group=None if account is None else account.pw_gid,
                extra_groups=None if account is None else [],  # drop root's supplementary groups
            )
        return cls(name, tuple(args), log_file, cwd, account, popen, offset)

    def respawn(self) -> ChildProcess:
        """The same program started again: same arguments, directory, account and log file."""
        return ChildProcess.spawn(self.name, self.args, log_file=self.log_file, cwd=self.cwd, account=self.account)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def output(self) -> str:
        """What this run has written to the log so far."""
        try:
            return self.log_file.read_bytes()[self.log_offset :].decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait(self, timeout: float) -> bool:
        """Whether it has exited (and been reaped) within ``timeout`` seconds."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self, sig: signal.Signals, timeout: float) -> None:
        """``sig`` to the process, then SIGKILL to its whole session if it has not exited after ``timeout`` s.

        The polite signal goes to the process alone: it stops what it forked itself, in order.
        """
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
        if not self.wait(timeout):
            self.kill()

    def kill(self) -> None:
        """SIGKILL to the whole session, as a crash would end it: nothing is flushed or cleaned up.

        The session, not the process: what it forked (PostgreSQL's backends) would otherwise outlive
        it for a moment. Returns once the process is reaped.
        """
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=_REAP_TIMEOUT)
