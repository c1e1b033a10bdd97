"""Bearer-token access: a missing, a wrong and the right token; /health open; no start without one off loopback."""

from __future__ import annotations

import httpx
import pytest

from runlog.gateway import Settings, create_app
from tests.test_cli import Server, one_line_error, run, wait_for_health
from tests.test_gateway import running

TOKEN = "0123456789abcdef-token"
EVENT = {"event_type": "user", "category": "message", "content": "hi"}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(params=["variable", "file"])
def settings(request, tmp_path):
    if request.param == "variable":
        return Settings.from_env({"RUNLOG_DATA_DIR": str(tmp_path), "RUNLOG_TOKEN": TOKEN})
    (tmp_path / "token").write_text(f"{TOKEN}\n")
    return Settings.from_env({"RUNLOG_DATA_DIR": str(tmp_path), "RUNLOG_TOKEN_FILE": str(tmp_path / "token")})


async def test_missing_wrong_and_right_token(settings):
    async with running(settings) as client:
        missing = await client.post("/threads/t/runs/r/events", json=EVENT)
        assert missing.status_code == 401
        assert missing.json() == {"detail": "send the service's token: Authorization: Bearer <token>"}
        assert missing.headers["www-authenticate"] == 'Bearer realm="runlog"'
        for wrong in (TOKEN + "x", TOKEN[:-1], "x"):
            refused = await client.get("/threads/t/messages", headers=bearer(wrong))
            assert (
                refused.status_code == 401
                and refused.json()["detail"] == "the bearer token is not the service's"
            )
            assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert (await client.get("/ready", headers={"authorization": f"Basic {TOKEN}"})).status_code == 401
        right = await client.post("/threads/t/runs/r/events", json=EVENT, headers=bearer(TOKEN))
        assert right.status_code == 201 and right.json()["seq"] == 1
        lower = await client.get("/threads/t/messages", headers={"authorization": f"bearer {TOKEN}"})
        assert [m["seq"] for m in lower.json()] == [1]
        assert (await client.get("/health")).json() == {"status": "ok"}  # liveness stays open
        assert (await client.get("/ready")).status_code == 401
        assert (await client.get("/openapi.json")).status_code == 401


async def test_a_refused_request_stores_nothing(settings):
    async with running(settings) as client:
        assert (
            await client.post("/threads/t/runs/r/events", json=EVENT, headers=bearer("no"))
        ).status_code == 401
        count = await client.get("/threads/t/messages/count", headers=bearer(TOKEN))
        assert count.json() == {"count": 0}


async def test_no_token_configured_leaves_the_service_open(tmp_path):
    async with running(Settings(data_dir=tmp_path)) as client:
        assert (await client.post("/threads/t/runs/r/events", json=EVENT)).status_code == 201


def test_settings_refuse_two_sources_and_unsendable_tokens(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        Settings.from_env({"RUNLOG_TOKEN": TOKEN, "RUNLOG_TOKEN_FILE": "f"})
    with pytest.raises(ValueError, match="printable ASCII"):
        Settings(token="has space")
    assert TOKEN not in repr(Settings(token=TOKEN))


async def test_an_empty_token_file_fails_the_startup(tmp_path):
    (tmp_path / "token").write_text("\n")
    app = create_app(Settings(data_dir=tmp_path, token_file=tmp_path / "token"))
    with pytest.raises(ValueError, match="empty"):
        async with app.router.lifespan_context(app):
            pass


def test_a_non_loopback_bind_refuses_to_start_without_a_token(tmp_path):
    for host in ("0.0.0.0", "::", "example.com"):
        done = run(["--host", host, "--data-dir", "d"], tmp_path)
        one_line_error(done, 2, f"--host {host}", "RUNLOG_TOKEN", "RUNLOG_TOKEN_FILE")
    (tmp_path / "empty").write_text("")
    one_line_error(run(["--host", "0.0.0.0", "--token-file", "empty"], tmp_path), 1, "empty")
    one_line_error(run(["--token-file", "absent"], tmp_path), 1, "absent")


def test_a_non_loopback_bind_with_a_token_serves_with_it(tmp_path):
    (tmp_path / "token").write_text(TOKEN)
    named = ["--allowed-host", "runlog.example"]
    server = Server(["--host", "0.0.0.0", "--token-file", "token", "--data-dir", "d", *named], tmp_path)
    try:
        line = server.line("serving on")
        assert "(bearer token)" in line and TOKEN not in line
        port = int(line.split("serving on http://0.0.0.0:")[1].split(" ")[0])
        assert wait_for_health(port).status_code == 200
        url = f"http://127.0.0.1:{port}/threads/t/messages"
        assert httpx.get(url, timeout=10).status_code == 401
        assert httpx.get(url, headers=bearer(TOKEN), timeout=10).json() == []
        named = bearer(TOKEN) | {"host": "runlog.example"}
        assert httpx.get(url, headers=named, timeout=10).json() == []
    finally:
        server.stop()


async def test_the_openapi_document_declares_the_token_and_every_401(settings):
    async with running(settings) as client:
        spec = (await client.get("/openapi.json", headers=bearer(TOKEN))).json()
    assert spec["components"]["securitySchemes"] == {
        "bearerToken": {"type": "http", "scheme": "bearer", "description": spec_description(spec)}
    }
    assert spec["security"] == [{"bearerToken": []}]
    error_ref = {"$ref": "#/components/schemas/ErrorOut"}
    operations = [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]
    assert len(operations) > 10
    for path, method, op in operations:
        if path == "/health":
            assert op["security"] == [] and "401" not in op["responses"]
        else:
            unauthorized = op["responses"]["401"]
            assert unauthorized["content"]["application/json"]["schema"] == error_ref, (path, method)
            assert "WWW-Authenticate" in unauthorized["headers"]
            assert "security" not in op  # the document's own


def spec_description(spec: dict) -> str:
    description = spec["components"]["securitySchemes"]["bearerToken"]["description"]
    assert "RUNLOG_TOKEN" in description
    return description


def test_without_a_token_the_document_asks_for_none(tmp_path):
    spec = create_app(Settings(data_dir=tmp_path)).openapi()
    assert "securitySchemes" not in spec.get("components", {}) and "security" not in spec
    assert not any("401" in op["responses"] for ops in spec["paths"].values() for op in ops.values())
