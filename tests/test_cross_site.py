"""Cross-site requests: a body that does not say it is JSON is refused (422) and stores nothing.

A web page can make a browser POST to any address without asking first (no
CORS preflight) only with a "simple" request: a form's
``application/x-www-form-urlencoded``, ``multipart/form-data`` or
``text/plain``, or a body with no Content-Type at all. FastAPI before 0.132
parsed a body with no Content-Type as JSON, so such a request could post an
event; runlog requires a FastAPI that does not, and says so explicitly
(``strict_content_type``). Sent over HTTP to a real ``python -m runlog serve``.
"""

from __future__ import annotations

import json
from importlib.metadata import requires, version

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.test_cli import Server, wait_for_health

EVENT = json.dumps({"event_type": "user", "category": "message", "content": "posted by a form"}).encode()
SIMPLE_TYPES = [
    None,
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    server = Server(["--data-dir", "d"], tmp_path_factory.mktemp("cross-site"))
    try:
        port = int(server.line("serving on").split("127.0.0.1:")[1].split(" ")[0])
        assert wait_for_health(port).status_code == 200
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.mark.parametrize("content_type", SIMPLE_TYPES)
def test_a_body_a_form_can_send_is_refused(base, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    with httpx.Client(base_url=base, timeout=10) as client:
        for url, body in [
            ("/threads/form/runs/r/events", EVENT),
            (
                "/events/batch",
                json.dumps([{**json.loads(EVENT), "thread_id": "form", "run_id": "r"}]).encode(),
            ),
            ("/runs", json.dumps({"run_id": "form-run", "thread_id": "form"}).encode()),
        ]:
            request = client.build_request("POST", url, content=body, headers=headers)
            assert request.headers.get("content-type") == content_type  # nothing added on the way
            r = client.send(request)
            assert r.status_code == 422, (url, r.text)
            assert list(r.json()) == ["detail"]
        assert client.get("/threads/form/messages/count").json() == {"count": 0}
        assert client.get("/runs/form-run").status_code == 404


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_a_json_body_is_accepted(base, content_type):
    with httpx.Client(base_url=base, timeout=10) as client:
        r = client.post("/threads/json/runs/r/events", content=EVENT, headers={"content-type": content_type})
        assert r.status_code == 201, r.text


def test_the_required_fastapi_refuses_it():
    fastapi = next(Requirement(r) for r in requires("runlog") or () if Requirement(r).name == "fastapi")
    assert not fastapi.specifier.contains("0.131.0") and fastapi.specifier.contains("0.132.0")
    assert Version(version("fastapi")) >= Version("0.132")
