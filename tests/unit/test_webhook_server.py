"""The admission webhook's server over real TLS on loopback: it answers reviews through kopf's
function, drains kept-open connections before it stops (an answer, never a dropped request), and
serves a renewed certificate without a restart."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from siteplane.handlers.webhook_server import AdmissionServer
from siteplane.kube.webhook_tls import WebhookCertificates, generate

HOST = "127.0.0.1"
LONG = 30.0  # a drain deadline no passing test reaches: a drain that ends did so because connections went


def review(uid: str = "u-1") -> bytes:
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": uid}}
    ).encode()


class KopfAnswers:
    """Stands in for kopf's answering function (its own behaviour is kopf's to test): records what
    it was given, allows everything, and can be held to keep an answer in flight."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, dict[str, Any], dict[str, str]]] = []
        self.hold: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def __call__(
        self,
        request: dict[str, Any],
        *,
        webhook: str | None = None,
        headers: dict[str, str] | None = None,
        sslpeer: Any = None,
        reason: Any = None,
    ) -> dict[str, Any]:
        self.calls.append((webhook, request, headers or {}))
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        uid = request["request"]["uid"]
        return {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": uid, "allowed": True},
        }


class Connection:
    """One kept-open HTTP/1.1 connection, as the apiserver keeps one to a webhook."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, ca_file: Path) -> Connection:
        context = ssl.create_default_context(cafile=str(ca_file))
        reader, writer = await asyncio.open_connection(HOST, port, ssl=context)
        return cls(reader, writer)

    def send(self, path: str, body: bytes) -> None:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)

    async def answer(self) -> tuple[int, dict[str, str], bytes]:
        status = int((await self.reader.readline()).split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        self.send(path, body)
        return await self.answer()

    async def closed_by_the_server(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), 10) == b""

    def close(self) -> None:
        self.writer.close()


async def draining(server: AdmissionServer) -> None:
    while not server.draining:
        await asyncio.sleep(0)


@dataclass
class Served:
    server: AdmissionServer
    answers: KopfAnswers
    configs: asyncio.Queue[dict[str, Any]]  # the server's later client configurations
    config: dict[str, Any]  # the first one
    certs: WebhookCertificates

    async def connect(self, ca_file: Path | None = None) -> Connection:
        return await Connection.open(self.server.port, ca_file or self.certs.ca_file)


def serve(tmp_path: Path, scenario: Callable[[Served], Awaitable[None]], **options: Any) -> None:
    """Run ``scenario`` against a listening server, driven as kopf drives it: a task iterates its
    client configurations, and is cancelled when the operator stops."""

    async def main() -> None:
        certs = generate(tmp_path / "tls", [HOST])
        options.setdefault("drain_seconds", LONG)
        server = AdmissionServer(addr=HOST, port=0, host=HOST, certs=certs, **options)
        answers = KopfAnswers()
        configs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def kopf_webhook_task() -> None:
            async for config in server(answers):  # type: ignore[arg-type]  # a stand-in for kopf's function
                configs.put_nowait(config)

        task = asyncio.create_task(kopf_webhook_task())
        try:
            await scenario(Served(server, answers, configs, await configs.get(), certs))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(main())


async def stop_with_an_answer_in_flight(served: Served, uid: str) -> tuple[Connection, asyncio.Future[None]]:
    """A request whose answer kopf holds, and the server told to stop meanwhile."""
    served.answers.hold = asyncio.Event()
    connection = await served.connect()
    connection.send("/sites-finalizer", review(uid))
    await served.answers.entered.wait()
    return connection, asyncio.ensure_future(served.server.stop())


def test_a_review_is_answered_by_kopfs_function_for_the_webhook_in_the_path(tmp_path: Path) -> None:
    async def scenario(served: Served) -> None:
        assert served.config["url"] == f"https://{HOST}:{served.server.port}"
        assert base64.b64decode(served.config["caBundle"]) == served.certs.ca_file.read_bytes()
        connection = await served.connect()
        status, headers, body = await connection.post("/accessgrants-no-escalation", review("u-7"))
        assert status == 200, body
        assert json.loads(body)["response"] == {"uid": "u-7", "allowed": True}
        assert headers.get("connection", "keep-alive").lower() != "close"  # kept open between calls
        [(webhook, request, sent)] = served.answers.calls
        assert (webhook, request["request"]["uid"]) == ("accessgrants-no-escalation", "u-7")
        assert sent["Content-Type"] == "application/json"
        connection.close()

    serve(tmp_path, scenario)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe", b"[1, 2]", b'"a string"'],
    ids=["not-json", "not-utf8", "a-list", "a-string"],
)
def test_a_body_that_is_not_an_admission_review_gets_a_400_and_reaches_no_handler(tmp_path: Path, body: bytes) -> None:
    async def scenario(served: Served) -> None:
        connection = await served.connect()
        status, _, text = await connection.post("/sites-finalizer", body)
        assert status == 400 and b"not an AdmissionReview" in text
        assert served.answers.calls == []
        connection.close()

    serve(tmp_path, scenario)


def test_a_stopping_server_answers_on_a_kept_connection_and_closes_it_after_the_answer(tmp_path: Path) -> None:
    async def scenario(served: Served) -> None:
        connection = await served.connect()
        assert (await connection.post("/sites-finalizer", review("before")))[0] == 200
        stopping = asyncio.ensure_future(served.server.stop())
        await draining(served.server)
        # The apiserver writes on the connection it kept: it gets an answer, and is told to close.
        status, headers, body = await connection.post("/sites-finalizer", review("during"))
        assert status == 200 and json.loads(body)["response"]["uid"] == "during"
        assert headers["connection"].lower() == "close"
        assert await connection.closed_by_the_server()
        # No connection is left: the drain ends long before its deadline (LONG).
        await asyncio.wait_for(stopping, 10)

    serve(tmp_path, scenario, quiet_seconds=LONG)


def test_an_answer_in_flight_when_the_drain_begins_is_sent_whole(tmp_path: Path) -> None:
    async def scenario(served: Served) -> None:
        connection, stopping = await stop_with_an_answer_in_flight(served, "slow")
        await draining(served.server)
        served.answers.hold.set()
        status, headers, body = await connection.answer()
        assert status == 200 and json.loads(body)["response"]["uid"] == "slow"
        assert headers["connection"].lower() == "close"
        await asyncio.wait_for(stopping, 10)

    serve(tmp_path, scenario, quiet_seconds=LONG)


def test_a_kept_connection_left_idle_is_closed_once_quiet_and_the_drain_ends(tmp_path: Path) -> None:
    async def scenario(served: Served) -> None:
        connection = await served.connect()
        assert (await connection.post("/sites-finalizer", review()))[0] == 200
        stopping = asyncio.ensure_future(served.server.stop())
        assert await connection.closed_by_the_server()
        await asyncio.wait_for(stopping, 10)

    serve(tmp_path, scenario, quiet_seconds=0.2)


def test_the_drain_ends_at_its_deadline_and_the_close_waits_for_the_answer_in_flight(tmp_path: Path) -> None:
    async def scenario(served: Served) -> None:
        connection, stopping = await stop_with_an_answer_in_flight(served, "held")
        while True:  # past the deadline the server no longer listens
            try:
                (await served.connect()).close()
            except OSError:
                break
            await asyncio.sleep(0.02)
        assert not stopping.done()
        served.answers.hold.set()
        assert (await connection.answer())[0] == 200
        await asyncio.wait_for(stopping, 10)

    serve(tmp_path, scenario, drain_seconds=0.1, quiet_seconds=LONG)


def test_a_renewed_certificate_is_served_to_new_connections_and_its_ca_given_to_kopf(tmp_path: Path) -> None:
    async def scenario(served: Served) -> None:
        old_ca = tmp_path / "old-ca.crt"
        old_ca.write_bytes(served.certs.ca_file.read_bytes())
        kept = await served.connect()
        generate(served.certs.cert_file.parent, [HOST])  # a renewal: a new CA and certificate in place
        renewed = await asyncio.wait_for(served.configs.get(), 10)
        assert base64.b64decode(renewed["caBundle"]) == served.certs.ca_file.read_bytes() != old_ca.read_bytes()
        fresh = await served.connect()
        assert (await fresh.post("/sites-finalizer", review()))[0] == 200
        with pytest.raises(ssl.SSLCertVerificationError):
            await served.connect(old_ca)
        assert (await kept.post("/sites-finalizer", review()))[0] == 200  # an open connection goes on
        kept.close()
        fresh.close()

    serve(tmp_path, scenario, certificate_check_seconds=0.05)


def test_a_renewed_certificate_that_does_not_load_leaves_the_previous_one_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(served: Served) -> None:
        served.certs.key_file.write_bytes(b"-----BEGIN PRIVATE KEY-----\nhalf written")
        while not any("does not load" in record.getMessage() for record in caplog.records):
            await asyncio.sleep(0.02)  # until a check has read the broken set
        connection = await served.connect()
        assert (await connection.post("/sites-finalizer", review()))[0] == 200
        connection.close()

    with caplog.at_level(logging.WARNING, logger="siteplane.handlers.webhook_server"):
        serve(tmp_path, scenario, certificate_check_seconds=0.05)
