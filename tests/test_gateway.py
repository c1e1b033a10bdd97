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
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
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
        r = await client.put("/threads/t1/runs/r2/events/start", json={"category": "lifecycle"})
        assert r.status_code == 201 and r.json()["created"] is True
        r = await client.put("/threads/t1/runs/r2/events/start", json={"category": "lifecycle"})
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
        ("put", "/threads/t1/runs/r1/events/a", {"json": {"event_type": "b", "category": "m"}}, "event_type"),
        ("put", "/threads/t1/runs/r1/events/a%20b", {"json": {"category": "m"}}, "event_type"),
        (
            "post",
            "/threads/t1/runs/r1/events",
            {"json": {"event_type": "u", "category": "m", "extra": 1}},
            "extra",
        ),
        ("post", "/runs", {"json": {"run_id": "r1", "thread_id": "t1", "status": "done"}}, "status"),
        ("get", "/threads/t1/messages", {"params": {"limit": 1001}}, "limit"),
        ("get", "/threads/t1/runs/r1/events", {"params": {"limit": 5000}}, "limit"),
        ("get", "/threads/t1/messages", {"params": {"after_seq": -1}}, "after_seq"),
        ("get", "/threads/t1/runs/r1/events", {"params": {"event_types": ""}}, "event_types"),
        ("get", "/threads/t1/messages", {"params": {"limit": 0}}, "limit"),
        ("get", "/threads/t1/messages", {"params": {"limit": "many"}}, "limit"),
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
    assert list(r.json()) == ["detail"] and isinstance(r.json()["detail"], str), r.text
    assert needle in r.json()["detail"]


@pytest.mark.parametrize(
    ("method", "url", "body", "needle"),
    [
        (
            "post",
            "/threads/t1/runs/r1/events",
            '{"event_type": "u", "category": "message", "content": NaN}',
            "content",
        ),
        (
            "put",
            "/threads/t1/runs/r1/events/u",
            '{"category": "message", "metadata": {"x": Infinity}}',
            "metadata",
        ),
        (
            "post",
            "/events/batch",
            '[{"thread_id": "t1", "run_id": "r1", "event_type": "u", "category": "m", "content": [NaN]}]',
            "events[0]",
        ),
    ],
)
async def test_values_json_cannot_hold_give_422_and_store_nothing(settings, method, url, body, needle):
    async with running(settings) as client:
        r = await client.request(method, url, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert list(r.json()) == ["detail"] and needle in r.json()["detail"]
        assert (await client.get("/threads/t1/messages/count")).json() == {"count": 0}


async def test_every_4xx_has_the_same_error_shape(settings):
    async with running(settings) as client:
        answers = [
            await client.get("/skills/nope"),  # 404 from a route
            await client.get("/no/such/route"),  # 404 from the router
            await client.delete("/health"),  # 405
            await client.post("/runs", json={"run_id": "r1", "thread_id": "t1"}),
            await client.post("/runs", json={"run_id": "r1", "thread_id": "t1"}),  # 409
            await client.post("/runs", json={"thread_id": "t1"}),  # 422 from pydantic
            await client.post(
                "/events/batch", content="not json", headers={"content-type": "application/json"}
            ),
        ]
    assert [r.status_code for r in answers] == [404, 404, 405, 201, 409, 422, 422]
    for r in answers[:3] + answers[4:]:
        assert list(r.json()) == ["detail"] and isinstance(r.json()["detail"], str) and r.json()["detail"], (
            r.text
        )
    assert "run_id" in answers[5].json()["detail"] and "r1" in answers[4].json()["detail"]


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


async def test_body_and_event_limits(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", max_body_bytes=2000, max_event_bytes=500)
    async with running(settings) as client:
        big = {"event_type": "u", "category": "message", "content": "x" * 3000}
        r = await client.post("/threads/t1/runs/r1/events", json=big)
        assert (r.status_code, r.json()) == (413, {"detail": "request body larger than 2000 bytes"})

        async def chunks():  # no Content-Length: counted as it arrives
            yield b'{"event_type": "u", "category": "message", "content": "'
            for _ in range(30):
                yield b"y" * 100
            yield b'"}'

        r = await client.post(
            "/threads/t1/runs/r1/events", content=chunks(), headers={"content-type": "application/json"}
        )
        assert (r.status_code, r.json()) == (413, {"detail": "request body larger than 2000 bytes"})

        r = await client.post("/threads/t1/runs/r1/events", json={**big, "content": "z" * 600})
        assert r.status_code == 422 and "the limit is 500" in r.json()["detail"]
        r = await client.post(
            "/events/batch",
            json=[
                {"thread_id": "t1", "run_id": "r1", "event_type": "u", "category": "m"},
                {
                    "thread_id": "t1",
                    "run_id": "r1",
                    "event_type": "u",
                    "category": "m",
                    "metadata": {"k": "v" * 600},
                },
            ],
        )
        assert r.status_code == 422 and r.json()["detail"].startswith("events[1]: ")
        r = await client.post("/threads/t1/runs/r1/events", json={**big, "content": "ok"})
        assert r.status_code == 201 and r.json()["seq"] == 1  # nothing refused was stored
        assert (await client.get("/threads/t1/messages/count")).json() == {"count": 1}


async def test_unsupported_method_names_every_allowed_one(settings):
    async with running(settings) as client:
        r = await client.request("PATCH", "/threads/t1/runs/r1/events")
        assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}
        assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}
        r = await client.request("OPTIONS", "/runs/r1")
        assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "PATCH"}


def test_openapi_schema_describes_ids_bounds_and_errors(settings):
    spec = create_app(settings).openapi()
    op = spec["paths"]["/threads/{thread_id}/messages"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["thread_id"]["schema"]["pattern"] == "^[A-Za-z0-9_-]{1,128}$"
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 1000)
    assert "after_seq < seq < before_seq" in params["after_seq"]["description"]
    error_ref = {"$ref": "#/components/schemas/ErrorOut"}
    assert op["responses"]["422"]["content"]["application/json"]["schema"] == error_ref
    batch = spec["paths"]["/events/batch"]["post"]["responses"]
    assert set(batch) == {"201", "400", "413", "422", "503"}
    assert set(spec["paths"]["/runs"]["post"]["responses"]) == {"201", "400", "409", "413", "422", "503"}
    assert set(spec["paths"]["/runs/{run_id}"]["get"]["responses"]) == {"200", "404", "422", "503"}
    assert set(spec["paths"]["/ready"]["get"]["responses"]) == {"200", "503"}
    assert set(spec["paths"]["/health"]["get"]["responses"]) == {"200"}
    assert spec["components"]["schemas"]["EventIn"]["additionalProperties"] is False
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_settings_from_env(tmp_path):
    env = {"RUNLOG_DATA_DIR": str(tmp_path), "RUNLOG_SKILLS_DIR": str(tmp_path / "s")}
    s = Settings.from_env(env)
    assert s.data_dir == tmp_path and s.resolved_skills_dir == tmp_path / "s"
    assert s.resolved_sqlite_url == f"sqlite:///{tmp_path / 'runlog.db'}"
    assert s.events_dir == tmp_path / "events"
    assert (s.max_body_bytes, s.max_event_bytes) == (4 * 1024 * 1024, 256 * 1024)
    limited = Settings.from_env({"RUNLOG_MAX_BODY_BYTES": "1000", "RUNLOG_MAX_EVENT_BYTES": "10"})
    assert (limited.max_body_bytes, limited.max_event_bytes) == (1000, 10)
    with pytest.raises(ValueError, match="RUNLOG_MAX_BODY_BYTES"):
        Settings.from_env({"RUNLOG_MAX_BODY_BYTES": "lots"})
    with pytest.raises(ValueError, match="max_event_bytes"):
        Settings.from_env({"RUNLOG_MAX_EVENT_BYTES": "0"})
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
