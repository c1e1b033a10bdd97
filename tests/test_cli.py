"""``python -m runlog serve`` as an operator meets it: errors are one line, startup says what it serves.

Every case runs the command in a subprocess, as a shell would.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

SERVE = [sys.executable, "-m", "runlog", "serve"]


def run(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOG_")} | (env or {})
    return subprocess.run(
        [*SERVE, *args], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60
    )


def one_line_error(done: subprocess.CompletedProcess[str], status: int, *needles: str) -> None:
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m runlog"), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_url_no_store_serves_is_a_usage_error(tmp_path):
    done = run(["--events-url", "sqlite:///x.db"], tmp_path)
    one_line_error(done, 2, "sqlite:///x.db", "sqlite+aiosqlite:///file.db")
    one_line_error(run(["--sqlite-url", "mysql://h/db"], tmp_path), 2, "mysql", "accepted forms")


def test_usage_errors_exit_2_in_one_line(tmp_path):
    one_line_error(run(["--colour", "red"], tmp_path), 2, "--colour", "--help")
    one_line_error(run(["--port", "eighty"], tmp_path), 2, "--port", "--help")
    one_line_error(run(["--port", "70000"], tmp_path), 2, "--port")
    one_line_error(run([], tmp_path, env={"RUNLOG_MAX_BODY_BYTES": "lots"}), 2, "RUNLOG_MAX_BODY_BYTES")
    bare = subprocess.run([sys.executable, "-m", "runlog"], capture_output=True, text=True, timeout=60)
    one_line_error(bare, 2, "serve")


def test_missing_or_unusable_folders(tmp_path):
    one_line_error(run(["--skills-dir", "nowhere"], tmp_path), 1, "nowhere", "--skills-dir")
    (tmp_path / "afile").write_text("")
    one_line_error(run(["--data-dir", "afile"], tmp_path), 1, "afile", "--data-dir")
    one_line_error(run(["--data-dir", "afile/data"], tmp_path), 1, "afile", "--data-dir")


def test_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(["--port", str(port), "--data-dir", "d"], tmp_path)
    one_line_error(done, 1, f"port {port}", "--port")


class Server:
    """A running ``serve``: its stderr lines as they come, and the port it bound."""

    def __init__(self, args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOG_")} | (env or {})
        self.proc = subprocess.Popen(
            [*SERVE, "--port", "0", *args], cwd=tmp_path, env=environ, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def line(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if needle in line:
                return line

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.reader.join(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def wait_for_health(port: int) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the server did not answer within 30 s"
            time.sleep(0.1)


def test_startup_logs_one_json_line_with_what_it_serves(tmp_path):
    url = "postgresql+asyncpg://runlog:s3cret@127.0.0.1:1/runlog"
    server = Server(["--log-format", "json", "--data-dir", "d", "--events-url", url], tmp_path)
    try:
        start = json.loads(server.line("serving on"))
        assert start["level"] == "INFO" and start["logger"] == "runlog.serve"
        assert start["store"] == "postgresql"
        assert start["location"] == "postgresql+asyncpg://runlog:***@127.0.0.1:1/runlog"
        assert start["registry"] == str(tmp_path.resolve() / "d" / "runlog.db")
        assert start["skills"] == str(tmp_path.resolve() / "d" / "skills")
        assert start["limits"] == {
            "max_body_bytes": 4194304,
            "max_event_bytes": 262144,
            "max_page_bytes": 4194304,
            "max_skill_file_bytes": 262144,
            "max_skill_expanded_size": 1048576,
            "max_threads_per_request": 100,
            "max_open_files": 32,
            "header_timeout": 10.0,
            "body_timeout": 30.0,
            "keep_alive_timeout": 5.0,
            "max_connections": 100,
            "max_header_bytes": 16384,
        }
        assert start["hosts"] == ["localhost", "127.0.0.1", "::1"]
        host, port = start["bind"].rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        assert wait_for_health(int(port)).json() == {"status": "ok"}
        json.loads(server.line("Application startup complete"))  # uvicorn's lines are JSON too
    finally:
        server.stop()
    rest = [server.lines.get() for _ in range(server.lines.qsize())]
    assert all(json.loads(line) for line in rest)
    assert not any("s3cret" in line for line in rest)


def test_startup_logs_the_data_folder_as_text(tmp_path):
    server = Server(["--data-dir", "d"], tmp_path, env={"RUNLOG_MAX_EVENT_BYTES": "1000"})
    try:
        line = server.line("serving on")
        assert f"events in jsonl {tmp_path.resolve() / 'd' / 'events'}" in line
        assert "max_event_bytes 1000" in line and " INFO runlog.serve: " in line
    finally:
        server.stop()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_help_names_every_option(log_format):
    out = subprocess.run([*SERVE, "--help"], capture_output=True, text=True, check=True, timeout=60).stdout
    for option in ("--host", "--port", "--data-dir", "--events-url", "--log-format", log_format):
        assert option in out
