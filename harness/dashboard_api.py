"""The dashboard API served for real (uvicorn on a loopback port, in a thread), and a reader of its
live updates stream, for tests and the benchmark.

``EventStream`` reads ``GET /api/v1/events`` as a client would, in a thread of its own, and keeps
every event and comment with the moment it arrived; tests wait on what they expect, never on time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from harness.server import ADDRESS, free_port
from siteplane.config import Config
from siteplane.dashboard.app import create_app


@dataclass
class ServedApi:
    app: FastAPI
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.contextmanager
def api_serving(config: Config, kubeconfig: Path, timeout: float = 60) -> Iterator[ServedApi]:
    """``siteplane serve`` with ``config``, in this process, on a free loopback port."""
    os.environ["KUBECONFIG"] = str(kubeconfig)  # the API's own client reads it (its TokenReviews)
    app = create_app(config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=ADDRESS, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"dashboard-api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the dashboard API did not start (see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard API did not start in {timeout} s")
        time.sleep(0.02)
    try:
        yield ServedApi(app, ADDRESS, port)
    finally:
        live = getattr(app.state, "live", None)
        if live is not None:
            live.close_streams_threadsafe()  # as ``siteplane serve`` does on SIGTERM
        server.should_exit = True
        thread.join(timeout)


@dataclass(frozen=True)
class Received:
    """One event or comment, and when it arrived (time.time())."""

    arrived: float
    event: str | None = None  # None: a comment
    id: str | None = None
    data: str | None = None
    comment: str | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.data or "null")

    @property
    def latency(self) -> float:
        """For a change: seconds from its recording in the database to its arrival here."""
        recorded = datetime.fromisoformat(self.json["at"])
        return self.arrived - recorded.timestamp()


class EventStream:
    """``GET /api/v1/events`` as ``token``'s holder, read in a thread."""

    def __init__(
        self, api: ServedApi, token: str, last_event_id: str | None = None, query: str = "", timeout: float = 60
    ) -> None:
        self._conn = http.client.HTTPConnection(api.host, api.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self._conn.request("GET", "/api/v1/events" + query, headers=headers)
        self.response = self._conn.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())
        self.items: list[Received] = []
        self.raw = bytearray()
        self.ended = False
        self._changed = threading.Condition()
        if self.status == 200:
            self._reader = threading.Thread(target=self._read, name="event-stream", daemon=True)
            self._reader.start()
        else:
            self.raw += self.response.read()
            self.ended = True

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                self.raw += line
                text = line.decode().rstrip("\r\n")
                if text.startswith(":"):
                    self._add(Received(time.time(), comment=text[1:].strip()))
                elif text:
                    name, _, value = text.partition(":")
                    fields[name] = value.removeprefix(" ")
                elif fields:
                    self._add(
                        Received(time.time(), event=fields.get("event"), id=fields.get("id"), data=fields.get("data"))
                    )
                    fields = {}
        except (OSError, http.client.HTTPException, ValueError, AttributeError):  # closed under us
            pass
        finally:
            with self._changed:
                self.ended = True
                self._changed.notify_all()

    def _add(self, item: Received) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(
        self, check: Callable[[Received], bool], what: str, timeout: float = 60, after: int = 0
    ) -> tuple[int, Received]:
        """The first item from index ``after`` on that passes ``check`` (and its index), waiting for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(after, len(self.items)):
                    if check(self.items[index]):
                        return index, self.items[index]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.ended and not remaining > 0):
                    raise AssertionError(f"timed out waiting for {what}; received: {self.items[-10:]}")
                if self.ended:
                    raise AssertionError(f"the stream ended before {what}; received: {self.items[-10:]}")
                self._changed.wait(remaining)

    def wait_ended(self, timeout: float = 30) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.ended, timeout):
                raise AssertionError("the stream did not end")

    def changes(self) -> list[Received]:
        with self._changed:
            return [item for item in self.items if item.event == "change"]

    def close(self) -> None:
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()
