"""Every gateway route through httpx's ASGI transport, with the real lifespan."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import httpx
import pytest

from runlog.gateway import Settings, create_app


@pytest.fixture
def settings(tmp_path):
    skills = tmp_path / "skills"
    (skills / "hello").mkdir(parents=True)
    (skills / "hello" / "SKILL.md").write_text("---\nname: hello\ndescription: greets\n---\nHi\n")
    return Settings(data_dir=tmp_path / "data", skills_dir=skills)


@contextlib.asynccontextmanager
async def running(settings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://runlog") as client:
            yield client


async def test_health_and_lifespan_files(settings):
    async with running(settings) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
    assert (settings.data_dir / "runlog.db").exists()


async def test_events_routes(settings):
    async with running(settings) as client:
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
                {
                    "thread_id": "t1",
                    "run_id": "r2",
                    "event_type": "ai",
                    "category": "message",
                    "content": "yo",
                },
            ],
        )
        assert r.status_code == 201 and [e["seq"] for e in r.json()] == [2, 3]
        r = await client.put(
            "/threads/t1/runs/r2/events/start", json={"event_type": "start", "category": "lifecycle"}
        )
        assert r.status_code == 201 and r.json()["created"] is True
        r = await client.put(
            "/threads/t1/runs/r2/events/start", json={"event_type": "start", "category": "lifecycle"}
        )
        assert r.status_code == 200 and r.json()["created"] is False and r.json()["event"]["seq"] == 4

        assert [m["seq"] for m in (await client.get("/threads/t1/messages")).json()] == [1, 3]
        assert [m["seq"] for m in (await client.get("/threads/t1/messages", params={"limit": 1})).json()] == [
            3
        ]
        assert [
            m["seq"] for m in (await client.get("/threads/t1/messages", params={"before_seq": 3})).json()
        ] == [1]
        assert [
            m["seq"] for m in (await client.get("/threads/t1/messages", params={"after_seq": 1})).json()
        ] == [3]
        assert (await client.get("/threads/t1/messages/count")).json() == {"count": 2}
        assert [e["seq"] for e in (await client.get("/threads/t1/runs/r2/events")).json()] == [2, 3, 4]
        got = await client.get(
            "/threads/t1/runs/r2/events", params=[("event_types", "tool"), ("event_types", "start")]
        )
        assert [e["seq"] for e in got.json()] == [2, 4]
        assert [
            e["seq"] for e in (await client.get("/threads/t1/runs/r2/events", params={"task_id": "k"})).json()
        ] == [2]
        assert [
            e["seq"]
            for e in (
                await client.get("/threads/t1/runs/r2/events", params={"after_seq": 2, "limit": 1})
            ).json()
        ] == [3]
        assert [m["seq"] for m in (await client.get("/threads/t1/runs/r2/messages")).json()] == [3]
        assert (await client.delete("/threads/t1/runs/r2")).json() == {"deleted": 3}
        assert (await client.delete("/threads/t1")).json() == {"deleted": 1}
        assert (await client.get("/threads/t1/messages")).json() == []


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "needle"),
    [
        (
            "post",
            "/threads/bad%20id/runs/r1/events",
            {"json": {"event_type": "u", "category": "message"}},
            "thread_id",
        ),
        (
            "post",
            "/threads/t1/runs/r.1/events",
            {"json": {"event_type": "u", "category": "message"}},
            "run_id",
        ),
        (
            "post",
            "/threads/t1/runs/r1/events",
            {"json": {"event_type": "", "category": "message"}},
            "event_type",
        ),
        ("post", "/threads/t1/runs/r1/events", {"json": {"category": "message"}}, "event_type"),
        (
            "post",
            "/events/batch",
            {"json": [{"thread_id": "t1", "run_id": "bad id", "event_type": "u", "category": "m"}]},
            "run_id",
        ),
        ("put", "/threads/t1/runs/r1/events/a", {"json": {"event_type": "b", "category": "m"}}, "differs"),
        ("get", "/threads/t1/messages", {"params": {"limit": 0}}, "limit"),
        ("get", "/threads/t1/messages", {"params": {"limit": "many"}}, "limit"),
        ("get", "/threads/t1/messages", {"params": {"before_seq": 2, "after_seq": 1}}, "not both"),
        ("get", "/threads/bad%20id/messages/count", {}, "thread_id"),
        ("get", "/threads/t1/runs/r1/events", {"params": {"limit": 0}}, "limit"),
        ("get", "/threads/t1/runs/r1/messages", {"params": {"limit": -3}}, "limit"),
        ("delete", "/threads/t1/runs/bad%20id", {}, "run_id"),
        ("delete", "/threads/bad%20id", {}, "thread_id"),
        ("post", "/runs", {"json": {"run_id": "r1", "thread_id": "t1", "status": "weird"}}, "status"),
        ("post", "/runs", {"json": {"run_id": "bad id", "thread_id": "t1"}}, "run_id"),
        ("get", "/runs/bad%20id", {}, "run_id"),
        ("get", "/threads/bad%20id/runs", {}, "thread_id"),
    ],
)
async def test_bad_input_gives_422_with_message(settings, method, url, kwargs, needle):
    async with running(settings) as client:
        r = await getattr(client, method)(url, **kwargs)
    assert r.status_code == 422, r.text
    assert needle in r.text


async def test_skills_routes(settings):
    async with running(settings) as client:
        listed = (await client.get("/skills")).json()
        assert [s["name"] for s in listed] == ["hello"] and listed[0]["body"] == "Hi\n"
        assert (await client.get("/skills/hello")).json()["description"] == "greets"
        r = await client.get("/skills/nope")
        assert r.status_code == 404 and "nope" in r.json()["detail"]


async def test_runs_routes(settings):
    async with running(settings) as client:
        r = await client.post("/runs", json={"run_id": "r1", "thread_id": "t1"})
        assert r.status_code == 201 and r.json()["status"] == "pending"
        assert (await client.post("/runs", json={"run_id": "r1", "thread_id": "t1"})).status_code == 409
        assert (await client.get("/runs/r1")).json()["thread_id"] == "t1"
        assert (await client.patch("/runs/r1", json={"status": "success"})).json()["status"] == "success"
        assert (await client.get("/threads/t1/runs")).json()[0]["status"] == "success"
        assert (await client.get("/runs/zzz")).status_code == 404
        assert (await client.patch("/runs/zzz", json={"status": "error"})).status_code == 404


def test_settings_from_env(tmp_path):
    env = {"RUNLOG_DATA_DIR": str(tmp_path), "RUNLOG_SKILLS_DIR": str(tmp_path / "s")}
    s = Settings.from_env(env)
    assert s.data_dir == tmp_path and s.resolved_skills_dir == tmp_path / "s"
    assert s.resolved_sqlite_url == f"sqlite:///{tmp_path / 'runlog.db'}"
    assert s.events_dir == tmp_path / "events"
    s = Settings.from_env({}, sqlite_url="sqlite:///x.db")
    assert str(s.data_dir) == ".runlog" and s.resolved_sqlite_url == "sqlite:///x.db"
    assert s.resolved_skills_dir == s.data_dir / "skills"


def test_events_url_from_env_or_argument(tmp_path):
    assert Settings.from_env({"RUNLOG_DATA_DIR": str(tmp_path)}).resolved_events_url == str(
        tmp_path / "events"
    )
    env = {"RUNLOG_EVENTS_URL": "sqlite+aiosqlite:///e.db"}
    assert Settings.from_env(env).resolved_events_url == "sqlite+aiosqlite:///e.db"
    assert Settings.from_env(env, events_url="memory:").resolved_events_url == "memory:"


def test_cli_help_lists_serve():
    out = subprocess.run(
        [sys.executable, "-m", "runlog", "serve", "--help"], capture_output=True, text=True, check=True
    )
    assert "--data-dir" in out.stdout and "127.0.0.1" in out.stdout and "--events-url" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "runlog"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_serve_answers_health(tmp_path):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "runlog", "serve", "--port", str(port), "--data-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not answer within 30 s"
                time.sleep(0.2)
        assert r.json() == {"status": "ok"}
        assert (tmp_path / "runlog.db").exists()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
