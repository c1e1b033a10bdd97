"""A store that cannot be reached: /ready says so, requests answer 503 with Retry-After, the log says why.

The unreachable store is real: a SQL URL naming a port with nothing behind it,
and a PostgreSQL (when configured) reached through a TCP relay that this test
stops and starts again, as a server restart or a network cut would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import httpx
import pytest
from sqlalchemy.engine import make_url
from tests_blocking.anchors.stores import StoreUnderTest, kind_params

from runlog.gateway import Settings
from runlog.gateway.unavailable import RETRY_AFTER_SECONDS
from tests.test_gateway import running

EVENT = {"event_type": "user", "category": "message", "content": "hi"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"detail"} and "retry" in response.json()["detail"]


@pytest.mark.parametrize(
    "scheme",
    ["postgresql+asyncpg://runlog@127.0.0.1:{port}/runlog", "postgresql+asyncpg://u:pw@127.0.0.1:{port}/x"],
)
async def test_nothing_behind_the_port_gives_503s_and_health_stays_200(tmp_path, caplog, scheme):
    events_url = scheme.format(port=free_port())
    settings = Settings(data_dir=tmp_path, events_url=events_url)
    with caplog.at_level(logging.ERROR, logger="runlog"):
        async with running(settings) as client:
            assert (await client.get("/health")).json() == {"status": "ok"}
            ready = await client.get("/ready")
            assert_unavailable(ready)
            assert "event store" in ready.json()["detail"] and "registry" not in ready.json()["detail"]
            assert_unavailable(await client.post("/threads/t/runs/r/events", json=EVENT))
            assert_unavailable(await client.put("/threads/t/runs/r/events/start", json={"category": "x"}))
            assert_unavailable(await client.get("/threads/t/messages"))
            assert_unavailable(await client.delete("/threads/t"))
            # The registry is a SQLite file: it still answers.
            assert (await client.post("/runs", json={"run_id": "r", "thread_id": "t"})).status_code == 201
    logged = caplog.text
    assert "ConnectionRefusedError" in logged and "POST /threads/t/runs/r/events" in logged
    assert "pw" not in logged


async def test_ready_answers_200_when_both_answer_and_503_without_the_registry(tmp_path, caplog):
    async with running(Settings(data_dir=tmp_path)) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        await client._transport.app.state.runlog.registry.close()  # the registry's database is gone
        with caplog.at_level(logging.ERROR, logger="runlog"):
            ready = await client.get("/ready")
        assert_unavailable(ready)
        assert "run registry" in ready.json()["detail"] and "event store" not in ready.json()["detail"]
        assert "run registry did not answer" in caplog.text


async def test_a_bug_stays_a_500(tmp_path, monkeypatch):
    """Only errors of reaching a store become 503: a store's own bug is not hidden as "retry later"."""
    async with running(Settings(data_dir=tmp_path, events_url="memory:")) as client:
        store = client._transport.app.state.runlog.store

        async def broken(*args, **kwargs):
            raise KeyError("a bug")

        monkeypatch.setattr(store, "count_messages", broken)
        with pytest.raises(KeyError):
            await client.get("/threads/t/messages/count")


class Relay:
    """A TCP relay on a fixed local port to ``target``: ``stop()`` closes it and every connection."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self.target = target
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()
        self.server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.mark.parametrize("kind", [p for p in kind_params() if p.values == ("postgresql",)])
async def test_postgresql_stopped_and_started_again(tmp_path, kind, caplog):
    """The server goes away under a running service and comes back: 503s, then the service recovers."""
    storage = StoreUnderTest(kind, tmp_path)
    await storage.open()  # creates the test's schema
    try:
        url = make_url(storage.url)
        relay = Relay(free_port(), (url.host or "127.0.0.1", url.port or 5432))
        await relay.start()
        through_relay = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        async with running(Settings(data_dir=tmp_path, events_url=through_relay)) as client:
            assert (await client.get("/ready")).status_code == 200
            assert (await client.post("/threads/t/runs/r/events", json=EVENT)).json()["seq"] == 1
            await relay.stop()
            with caplog.at_level(logging.ERROR, logger="runlog"):
                assert_unavailable(await client.get("/ready"))
                assert_unavailable(await client.post("/threads/t/runs/r/events", json=EVENT))
                assert_unavailable(await client.get("/threads/t/messages"))
            assert "a store is unavailable" in caplog.text
            await relay.start()
            assert (await client.get("/ready")).status_code == 200
            written = await client.post("/threads/t/runs/r/events", json=EVENT)
            assert written.status_code == 201, written.text
            seqs = [m["seq"] for m in (await client.get("/threads/t/messages")).json()]
            assert seqs[0] == 1 and seqs[-1] == written.json()["seq"] and len(seqs) == len(set(seqs))
        await relay.stop()
    finally:
        await storage.close()
