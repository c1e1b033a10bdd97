"""The Host header: the loopback names and the configured ones are served, any other is refused (400).

A page using DNS rebinding sends its own name in Host; these tests send such
names, in-process and to a real ``python -m runlog serve``, and check that
nothing they ask for happens.
"""

from __future__ import annotations

import http.client
import json

import pytest

from runlog.gateway import Settings, create_app
from runlog.gateway.hosts import host_name, requested_host
from tests.test_cli import Server, one_line_error, run, wait_for_health
from tests.test_gateway import running

EVENT = {"event_type": "user", "category": "message", "content": "hi"}

SERVED = [
    "localhost",
    "localhost:8000",
    "LocalHost",
    "localhost.",
    "127.0.0.1",
    "127.0.0.1:8000",
    "[::1]",
    "[::1]:8000",
]
REFUSED = [
    "evil.example",
    "evil.example:8000",
    "localhost.evil.example",
    "127.0.0.1.evil.example",
    "127.0.0.2",
    "0.0.0.0",
    "[::2]",
    "localhost:80:80",
    "localhost:http",
    "[::1]x",
    "[::1",
    "",
    "loc alhost",
]


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "data")


@pytest.mark.parametrize("host", SERVED)
async def test_loopback_names_are_served(settings, host):
    async with running(settings) as client:
        r = await client.post("/threads/t/runs/r/events", json=EVENT, headers={"host": host})
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("host", REFUSED)
async def test_other_hosts_are_refused_and_change_nothing(settings, host):
    async with running(settings) as client:
        for method, url, body in [
            ("POST", "/threads/t/runs/r/events", EVENT),
            ("DELETE", "/threads/t", None),
            ("GET", "/threads/t/messages", None),
            ("GET", "/openapi.json", None),
        ]:
            r = await client.request(method, url, json=body, headers={"host": host})
            assert r.status_code == 400, (method, url, r.text)
            detail = r.json()["detail"]
            assert list(r.json()) == ["detail"] and "RUNLOG_ALLOWED_HOSTS" in detail
        assert (await client.get("/threads/t/messages/count")).json() == {"count": 0}


async def call(app, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict]:
    """One GET /health straight through the ASGI interface, with exactly these headers."""
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/health",
        "raw_path": b"/health",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


async def test_a_missing_or_repeated_host_is_refused(settings):
    app = create_app(settings)
    assert await call(app, [(b"host", b"localhost")]) == (200, {"status": "ok"})
    assert await call(app, []) == (400, {"detail": "a Host header is required"})
    twice = [(b"host", b"localhost"), (b"host", b"evil.example")]
    assert await call(app, twice) == (400, {"detail": "send one Host header"})
    status, body = await call(app, [(b"host", "bücher.example".encode("latin-1"))])
    assert status == 400 and "RUNLOG_ALLOWED_HOSTS" in body["detail"]


async def test_configured_names_are_served_too(tmp_path):
    settings = Settings.from_env(
        {"RUNLOG_DATA_DIR": str(tmp_path), "RUNLOG_ALLOWED_HOSTS": "runlog.example, [2001:DB8::7],192.0.2.7"}
    )
    assert settings.allowed_hosts == ("runlog.example", "2001:db8::7", "192.0.2.7")
    async with running(settings) as client:
        for host in ("runlog.example", "RUNLOG.example:443", "[2001:db8::7]:8000", "192.0.2.7", "localhost"):
            assert (await client.get("/health", headers={"host": host})).status_code == 200, host
        assert (await client.get("/health", headers={"host": "other.example"})).status_code == 400


@pytest.mark.parametrize(
    "name", ["*", "*.example", "runlog.example:8000", "http://runlog.example", "a/b", "", "-x.example", "a b"]
)
def test_a_configured_name_must_be_a_name(name, tmp_path):
    with pytest.raises(ValueError, match="not a host name or IP address"):
        Settings(data_dir=tmp_path, allowed_hosts=(name,))
    with pytest.raises(ValueError, match="not a host name or IP address"):
        host_name(name)


def test_host_header_parsing():
    assert requested_host(b"Example.ORG.:8080") == "example.org"
    assert requested_host(b"[::1]:1") == "::1"
    assert requested_host(b"::1") is None  # an IPv6 Host is bracketed
    assert requested_host(b"\xff") is None


def request(port: int, method: str, path: str, host: str, body: bytes | None = None) -> tuple[int, dict]:
    """A request to a real server with a Host header of our choosing (http.client sends it as given)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        if body is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_a_rebinding_page_gets_nothing_from_a_real_server(tmp_path):
    server = Server(["--data-dir", "d"], tmp_path)
    try:
        port = int(server.line("serving on").split("127.0.0.1:")[1].split(" ")[0])
        assert wait_for_health(port).status_code == 200
        body = json.dumps(EVENT).encode()
        assert request(port, "POST", "/threads/t/runs/r/events", "localhost:1", body)[0] == 201
        for method, path, payload in [
            ("POST", "/threads/t/runs/r/events", body),
            ("DELETE", "/threads/t", None),
            ("GET", "/threads/t/messages", None),
        ]:
            status, answer = request(port, method, path, f"evil.example:{port}", payload)
            assert status == 400 and "evil.example" in answer["detail"], answer
        assert request(port, "GET", "/threads/t/messages/count", f"127.0.0.1:{port}") == (200, {"count": 1})
    finally:
        server.stop()


def test_the_allowed_host_option_and_a_wildcard_bind(tmp_path):
    one_line_error(run(["--allowed-host", "runlog.example:80"], tmp_path), 2, "runlog.example:80")
    one_line_error(run([], tmp_path, env={"RUNLOG_ALLOWED_HOSTS": "*"}), 2, "'*'")
    token = {"RUNLOG_TOKEN": "0123456789abcdef-token"}
    one_line_error(
        run(["--host", "0.0.0.0"], tmp_path, env=token), 2, "--allowed-host", "RUNLOG_ALLOWED_HOSTS"
    )
    one_line_error(run(["--host", "::"], tmp_path, env=token), 2, "--allowed-host")
    server = Server(["--data-dir", "d", "--allowed-host", "runlog.example"], tmp_path)
    try:
        port = int(server.line("serving on").split("127.0.0.1:")[1].split(" ")[0])
        assert wait_for_health(port).status_code == 200
        assert request(port, "GET", "/threads/t/messages/count", "runlog.example") == (200, {"count": 0})
        assert request(port, "GET", "/threads/t/messages/count", "other.example")[0] == 400
    finally:
        server.stop()
