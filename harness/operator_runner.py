"""Run the siteplane operator in-process (a kopf event loop in a thread) against a control plane."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import kopf

import siteplane.handlers  # noqa: F401 - registers the handlers
from siteplane.config import Config
from siteplane.handlers.memo import identity_of


@contextlib.contextmanager
def operator_running(kubeconfig: Path, config: Config | None = None, timeout: float = 60) -> Iterator[kopf.Memo]:
    """Yields the operator's memo: ``memo["operator"]`` is what its handlers use (backends, counters)."""
    config = config or Config()
    memo = kopf.Memo(config=config)
    # kopf logs in through the kubernetes client, which reads $KUBECONFIG.
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(kubeconfig)
    stop, ready = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(
                kopf.operator(
                    clusterwide=not config.namespaces,
                    namespaces=list(config.namespaces),
                    stop_flag=stop,
                    ready_flag=ready,
                    memo=memo,
                    identity=cast(Any, identity_of(memo)),  # kopf does not export its Identity (a NewType of str)
                )
            )
        except BaseException as error:  # reported to the test below
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=serve, name="siteplane-operator", daemon=True)
    thread.start()
    try:
        if not ready.wait(timeout) or failure:
            raise RuntimeError(f"operator did not start: {failure}")
        yield memo
    finally:
        stop.set()
        thread.join(timeout)
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous


class OperatorProcess:
    """``python -m siteplane run`` as its own process, the way it runs anywhere else; killable."""

    def __init__(
        self,
        kubeconfig: Path,
        database_url: str,
        zone_dir: Path,
        namespaces: tuple[str, ...],
        log_path: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "SITEPLANE_DATABASE_URL": database_url,
            "SITEPLANE_ZONE_DIR": str(zone_dir),
            "SITEPLANE_NAMESPACES": ",".join(namespaces),
            **(extra_env or {}),
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "siteplane", "run"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last status write, as when a node dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
