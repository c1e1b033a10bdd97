"""Slow and idle clients against a real ``python -m runlog serve`` on 127.0.0.1: each is cut off in time.

One server for the module, with one-second timeouts (set through the
environment, as an operator would): an idle socket, a request head or a body
sent a byte at a time, an idle or trickling kept-alive connection are closed
(the body with a 408). Another, set by options, has a limit of three
connections: past it, 503 until others go. Every test uses a few sockets for a few
seconds, and closes them.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator

import pytest

from tests.test_cli import Server, one_line_error, run, wait_for_health

TIMEOUT = 1.0  # header, body and keep-alive timeouts of the server under test
LIMIT = 8  # its connection limit: more than any test here opens at once
CUT_WITHIN = 4.0  # seconds: the timeout, plus room for a busy machine; the defaults are 5 to 30 s
ENV = {
    "RUNLOG_HEADER_TIMEOUT": str(TIMEOUT),
    "RUNLOG_BODY_TIMEOUT": str(TIMEOUT),
    "RUNLOG_KEEP_ALIVE_TIMEOUT": str(TIMEOUT),
    "RUNLOG_MAX_CONNECTIONS": str(LIMIT),
    "RUNLOG_MAX_HEADER_BYTES": "8192",
}


@pytest.fixture(scope="module")
def port(tmp_path_factory) -> Iterator[int]:
    server = Server(["--data-dir", "d"], tmp_path_factory.mktemp("slow"), env=ENV)
    try:
        bound = int(server.line("serving on").split("127.0.0.1:")[1].split(" ")[0])
        assert wait_for_health(bound).status_code == 200
        yield bound
    finally:
        server.stop()


@contextlib.contextmanager
def connection(port: int) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        yield sock
    finally:
        sock.close()


def closed_by_server(sock: socket.socket, within: float, trickle: bytes = b"") -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds; meanwhile, every 0.2 s, ``trickle``
    is sent (a byte at a time keeps a slow client going). What the server answers is read and dropped."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if trickle:
            try:
                sock.send(trickle)
            except OSError:  # reset or broken pipe: the server closed it
                return True
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            try:
                if sock.recv(65536) == b"":
                    return True
            except OSError:
                return True
    return False


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length: status, headers (lower-case names), body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a full response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, v in (line.split(":", 1) for line in lines[1:]))
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "closed before the full body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def get(port: int, path: str) -> int:
    with connection(port) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        return read_response(sock)[0]


def test_connections_that_send_nothing_are_closed(port):
    with contextlib.ExitStack() as stack:
        idle = [stack.enter_context(connection(port)) for _ in range(3)]
        started = time.monotonic()
        assert all(closed_by_server(sock, CUT_WITHIN) for sock in idle)
        assert time.monotonic() - started < CUT_WITHIN + 0.5


def test_a_head_sent_a_byte_at_a_time_is_cut(port):
    with contextlib.ExitStack() as stack:
        slow = [stack.enter_context(connection(port)) for _ in range(3)]
        for sock in slow:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        assert all(closed_by_server(sock, CUT_WITHIN, trickle=b"X") for sock in slow)


def test_a_body_sent_a_byte_at_a_time_gets_408_and_stores_nothing(port):
    with connection(port) as sock:
        sock.sendall(
            b"POST /threads/slow/runs/r/events HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        started = time.monotonic()
        answered = b""
        while b"\r\n\r\n" not in answered and time.monotonic() - started < CUT_WITHIN:
            sock.send(b" ")
            if select.select([sock], [], [], 0.2)[0]:
                answered += sock.recv(65536)
        assert answered.startswith(b"HTTP/1.1 408 "), answered
        head, _, body = answered.partition(b"\r\n\r\n")
        assert b"connection: close" in head.lower()
        while not body.endswith(b"}"):
            body += sock.recv(65536)
        assert json.loads(body) == {"detail": f"request body not received within {TIMEOUT:g} s"}
        assert closed_by_server(sock, CUT_WITHIN)
    with connection(port) as sock:
        sock.sendall(b"GET /threads/slow/messages/count HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert json.loads(read_response(sock)[2]) == {"count": 0}


def test_an_idle_kept_alive_connection_is_closed(port):
    with connection(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert read_response(sock)[0] == 200
        assert closed_by_server(sock, CUT_WITHIN)


def test_a_next_request_sent_a_byte_at_a_time_is_cut(port):
    with connection(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert read_response(sock)[0] == 200
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        assert closed_by_server(sock, CUT_WITHIN + TIMEOUT, trickle=b"X")


def test_an_unfinished_request_head_over_the_limit_gets_400(port):
    """h11 buffers at most RUNLOG_MAX_HEADER_BYTES of a head it cannot parse yet (a slow head's memory)."""
    with connection(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 10_000)
        assert read_response(sock)[0] == 400
        assert closed_by_server(sock, CUT_WITHIN)


def eventually(port: int, status: int, within: float = 5.0) -> bool:
    """Whether GET /health answers ``status`` within ``within`` seconds (the server notices sockets
    opening and closing asynchronously)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if get(port, "/health") == status:
            return True
        time.sleep(0.1)
    return False


def test_the_options_set_the_limits_and_past_the_connection_limit_is_503(tmp_path):
    """Set by options this time; three idle connections (kept 5 s) fill a limit of three."""
    args = ["--data-dir", "d", "--header-timeout", "5", "--body-timeout", "2", "--keep-alive-timeout", "1"]
    server = Server([*args, "--max-connections", "3"], tmp_path)
    try:
        line = server.line("serving on")
        for shown in (
            "header_timeout 5.0",
            "body_timeout 2.0",
            "keep_alive_timeout 1.0",
            "max_connections 3",
        ):
            assert shown in line, line
        bound = int(line.split("127.0.0.1:")[1].split(" ")[0])
        assert wait_for_health(bound).status_code == 200
        with contextlib.ExitStack() as stack:
            idle = [stack.enter_context(connection(bound)) for _ in range(3)]
            assert eventually(bound, 503, within=3)  # a fourth connection, well before the 5 s are up
            assert all(closed_by_server(sock, 5 + CUT_WITHIN) for sock in idle)
        assert eventually(bound, 200)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--header-timeout", "0"], {}, "header_timeout"),
        (["--body-timeout", "-1"], {}, "body_timeout"),
        (["--keep-alive-timeout", "nan"], {}, "keep_alive_timeout"),
        (["--header-timeout", "inf"], {}, "header_timeout"),
        (["--max-connections", "0"], {}, "max_connections"),
        ([], {"RUNLOG_BODY_TIMEOUT": "soon"}, "RUNLOG_BODY_TIMEOUT"),
        ([], {"RUNLOG_MAX_CONNECTIONS": "many"}, "RUNLOG_MAX_CONNECTIONS"),
        ([], {"RUNLOG_MAX_HEADER_BYTES": "0"}, "max_header_bytes"),
    ],
)
def test_a_limit_that_is_not_a_positive_number_stops_the_start(tmp_path, args, env, needle):
    one_line_error(run(args, tmp_path, env=env), 2, needle)
