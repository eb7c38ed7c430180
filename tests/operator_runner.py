"""Run the siteplane operator in-process (a kopf event loop in a thread) against a control plane."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import kopf

import siteplane.handlers  # noqa: F401 - registers the handlers
from siteplane.config import OperatorConfig


@contextlib.contextmanager
def operator_running(kubeconfig: Path, config: OperatorConfig | None = None, timeout: float = 60) -> Iterator[None]:
    config = config or OperatorConfig()
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
                    memo=kopf.Memo(config=config),
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
        yield
    finally:
        stop.set()
        thread.join(timeout)
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
