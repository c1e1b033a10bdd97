"""Anchors: the gateway's lifespan and every route, through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import httpx
import pytest

from runlog.gateway import Settings, create_app
from tests_blocking.anchors.stores import StoreUnderTest, kind_params


def _skills(root):
    (root / "hello").mkdir(parents=True)
    (root / "hello" / "SKILL.md").write_text("---\nname: hello\ndescription: greets\n---\nHi\n")


@pytest.fixture(params=kind_params())
async def client(request, tmp_path):
    """The app over each event store (RUNLOG_EVENTS_URL); JSONL is the default, in the data dir."""
    await asyncio.to_thread(_skills, tmp_path / "skills")
    storage = StoreUnderTest(request.param, tmp_path)
    events_url = None if request.param == "jsonl" else storage.url
    if request.param == "postgresql":
        await storage.open()  # creates the test's schema; the app's store is its own
    app = create_app(
        Settings(data_dir=tmp_path / "data", skills_dir=tmp_path / "skills", events_url=events_url)
    )
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(storage.close)
        await stack.enter_async_context(app.router.lifespan_context(app))  # startup and, on exit, shutdown
        transport = httpx.ASGITransport(app=app)
        yield await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://localhost")
        )


async def test_every_route(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ready"}
    r = await client.post(
        "/threads/t1/runs/r1/events", json={"event_type": "user", "category": "message", "content": "hi"}
    )
    assert r.status_code == 201 and r.json()["seq"] == 1
    r = await client.post(
        "/events/batch",
        json=[
            {
                "thread_id": "t1",
                "run_id": "r2",
                "event_type": "tool",
                "category": "trace",
                "metadata": {"task_id": "k"},
            },
            {"thread_id": "t1", "run_id": "r2", "event_type": "ai", "category": "message"},
        ],
    )
    assert [e["seq"] for e in r.json()] == [2, 3]
    r = await client.put("/threads/t1/runs/r2/events/start", json={"category": "lifecycle"})
    assert r.status_code == 201 and r.json()["created"] is True
    r = await client.put("/threads/t1/runs/r2/events/start", json={"category": "lifecycle"})
    assert r.status_code == 200 and r.json()["event"]["seq"] == 4
    assert [m["seq"] for m in (await client.get("/threads/t1/messages", params={"limit": 1})).json()] == [3]
    assert [
        m["seq"] for m in (await client.get("/threads/t1/messages", params={"before_seq": 3})).json()
    ] == [1]
    assert (await client.get("/threads/t1/messages/count")).json() == {"count": 2}
    got = await client.get("/threads/t1/runs/r2/events", params={"event_types": "tool", "task_id": "k"})
    assert [e["seq"] for e in got.json()] == [2]
    assert [m["seq"] for m in (await client.get("/threads/t1/runs/r2/messages")).json()] == [3]
    assert (await client.delete("/threads/t1/runs/r2")).json() == {"deleted": 3}
    assert (await client.delete("/threads/t1")).json() == {"deleted": 1}
    assert [s["name"] for s in (await client.get("/skills")).json()] == ["hello"]
    assert (await client.get("/skills/hello")).json()["body"] == "Hi\n"
    r = await client.get("/skills/nope")
    assert (r.status_code, r.json()) == (404, {"detail": "unknown skill 'nope'"})
    r = await client.post("/runs", json={"run_id": "r1", "thread_id": "t1"})
    assert r.status_code == 201 and (r.json()["run_id"], r.json()["status"]) == ("r1", "pending")
    r = await client.post("/runs", json={"run_id": "r1", "thread_id": "t1"})
    assert (r.status_code, r.json()) == (409, {"detail": "run 'r1' already exists"})
    assert (await client.patch("/runs/r1", json={"status": "running"})).json()["status"] == "running"
    assert (await client.get("/runs/r1")).json()["status"] == "running"
    r = await client.patch("/runs/ghost", json={"status": "running"})
    assert (r.status_code, r.json()) == (404, {"detail": "unknown run 'ghost'"})
    r = await client.get("/runs/ghost")
    assert (r.status_code, r.json()) == (404, {"detail": "unknown run 'ghost'"})
    assert [r["run_id"] for r in (await client.get("/threads/t1/runs")).json()] == ["r1"]


async def test_bad_input_is_422(client):
    r = await client.get("/threads/bad%20id/messages")
    assert r.status_code == 422 and "thread_id" in r.json()["detail"]
    r = await client.get("/threads/t1/messages", params={"before_seq": -1, "after_seq": 2})
    assert r.status_code == 422 and "before_seq" in r.json()["detail"]
    r = await client.post(
        "/threads/t1/runs/r1/events",
        content='{"event_type": "u", "category": "message", "content": NaN}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and "content" in r.json()["detail"]
    assert (await client.get("/threads/t1/messages/count")).json() == {"count": 0}


async def test_unknown_path_and_wrong_method_answer_through_the_http_error_handler(client):
    r = await client.get("/no/such/route")
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})
    r = await client.delete("/health")
    assert (r.status_code, r.json()) == (405, {"detail": "Method Not Allowed"})
    assert r.headers["allow"] == "GET"


async def test_limits_refuse_on_the_loop_without_blocking(tmp_path):
    """413 for a body over the limit (declared and chunked), 422 for an event over its limit."""
    app = create_app(Settings(data_dir=tmp_path / "data", max_body_bytes=1000, max_event_bytes=200))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            r = await client.post(
                "/threads/t1/runs/r1/events", json={"event_type": "u", "category": "m", "content": "x" * 2000}
            )
            assert (r.status_code, r.json()) == (413, {"detail": "request body larger than 1000 bytes"})

            async def chunks():
                for _ in range(20):
                    yield b"y" * 100

            r = await client.post(
                "/events/batch", content=chunks(), headers={"content-type": "application/json"}
            )
            assert r.status_code == 413
            r = await client.post(
                "/threads/t1/runs/r1/events", json={"event_type": "u", "category": "m", "content": "z" * 300}
            )
            assert r.status_code == 422 and "the limit is 200" in r.json()["detail"]
            assert (await client.get("/threads/t1/messages/count")).json() == {"count": 0}


@pytest.mark.parametrize("kind", kind_params())
async def test_pages_bounded_in_bytes_on_the_loop_without_blocking(kind, tmp_path):
    """max_page_bytes on every store: the JSONL cut in its worker thread, the SQL one in the query."""
    storage = StoreUnderTest(kind, tmp_path)
    if kind == "postgresql":
        await storage.open()  # creates the test's schema; the app's store is its own
    events_url = None if kind == "jsonl" else storage.url
    app = create_app(Settings(data_dir=tmp_path / "data", events_url=events_url, max_page_bytes=300))
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(storage.close)
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://localhost")
        )
        batch = [
            {
                "thread_id": "t1",
                "run_id": "r1",
                "event_type": "u",
                "category": "message",
                "content": "x" * 100,
            }
            for _ in range(5)
        ]
        assert (await client.post("/events/batch", json=batch)).status_code == 201
        newest = await client.get("/threads/t1/messages", params={"limit": 10})
        assert [e["seq"] for e in newest.json()] == [4, 5]
        older = await client.get("/threads/t1/runs/r1/messages", params={"before_seq": 4})
        assert [e["seq"] for e in older.json()] == [2, 3]
        first = await client.get("/threads/t1/runs/r1/events", params={"after_seq": 0})
        assert [e["seq"] for e in first.json()] == [1, 2]


def _plant_unreturnable_record(thread_file):
    """A record with a lone surrogate, as a store written before the stores refused one left it."""
    with thread_file.open("a") as f:
        f.write(
            '{"thread_id":"t1","run_id":"r1","seq":2,"event_type":"u","category":"message",'
            '"content":"\\ud800","metadata":{},"created_at":"2026-12-06T10:00:00+00:00"}\n'
        )


async def test_a_page_the_answer_cannot_carry_is_a_plain_500_on_the_loop_without_blocking(tmp_path):
    """Writes refused by the content rule (422), then a page holding an old unreturnable record:
    the serialization handler answers 500 in words."""
    app = create_app(Settings(data_dir=tmp_path / "data", max_page_bytes=10_000))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            r = await client.post(
                "/threads/t1/runs/r1/events",
                content='{"event_type": "u", "category": "message", "content": "\\ud800"}',
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 422 and "lone surrogate" in r.json()["detail"]
            r = await client.get("/threads/t1/messages", params={"after_seq": 2**63})
            assert r.status_code == 422 and "after_seq" in r.json()["detail"]
            r = await client.post(
                "/threads/t1/runs/r1/events", json={"event_type": "u", "category": "message"}
            )
            assert r.status_code == 201
            thread_file = tmp_path / "data" / "events" / "threads" / "t1.jsonl"
            await asyncio.to_thread(_plant_unreturnable_record, thread_file)
            r = await client.get("/threads/t1/messages")
            assert (r.status_code, r.json()) == (
                500,
                {"detail": "the answer could not be written as JSON (the server's log says why)"},
            )


async def test_an_unreachable_store_answers_503_on_the_loop_without_blocking(tmp_path):
    """/ready and a write with nothing behind the store's port: the 503 path (handler, log) runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(
        Settings(
            data_dir=tmp_path / "data", events_url=f"postgresql+asyncpg://runlog@127.0.0.1:{port}/runlog"
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            r = await client.get("/ready")
            assert r.status_code == 503 and "event store" in r.json()["detail"]
            r = await client.post("/threads/t1/runs/r1/events", json={"event_type": "u", "category": "m"})
            assert r.status_code == 503 and r.headers["retry-after"] == "5"


async def test_bearer_token_from_a_file_on_the_loop_without_blocking(tmp_path):
    """The token file read at startup (offloaded) and the middleware's refusals and passes."""
    await asyncio.to_thread((tmp_path / "token").write_text, "s3cret-token\n")
    app = create_app(Settings(data_dir=tmp_path / "data", token_file=tmp_path / "token"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            assert (await client.get("/health")).status_code == 200
            r = await client.get("/threads/t1/messages")
            assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="runlog"'
            r = await client.get("/threads/t1/messages", headers={"authorization": "Bearer wrong"})
            assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]
            r = await client.get("/threads/t1/messages", headers={"authorization": "Bearer s3cret-token"})
            assert (r.status_code, r.json()) == (200, [])
