"""What every test server harness needs from its child processes."""

from __future__ import annotations

import ctypes
import signal


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the process that started it dies, however it dies.

    So no server outlives a test run, even one that is killed outright. Popen switches user and
    group before it calls preexec_fn, and a change of uid clears PR_SET_PDEATHSIG, so setting it
    here, afterwards, is what makes it stick for servers run as an unprivileged user.
    """
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
