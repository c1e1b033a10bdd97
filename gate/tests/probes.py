"""Calls that must not trip the gate, made on the loop from this (scanned) module.

The rule table's own probes (one firing probe per rule, one must-pass probe
per non-blocking form) live in ``blockgate.rules``, in each rule's
entry. This module holds what belongs to no single rule: whole-library paths
that must pass under the full gate (pure path arithmetic, in-memory IO,
``print`` and logging under pytest's capture, a lazy import, asyncio's
subprocesses, streams and resolver), and ``NOT_BLOCKING_SAMPLE``: one call for
each of a sample of the classification's ``not blocking`` entries.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blockgate.rules import Scene

# -- calls that must NOT trip the gate, made on the loop from this module --------------

SILENT: dict[str, Callable[[Scene], Any]] = {}


def silent(name: str) -> Callable[..., Any]:
    def register(fn: Callable[[Scene], Any]) -> Callable[[Scene], Any]:
        SILENT[name] = fn
        return fn

    return register


@silent("pure path arithmetic")
async def path_arithmetic(scene: Scene) -> None:
    p = Path("/srv/data") / "threads" / "t1.jsonl"
    assert (p.name, p.suffix, p.stem, p.parent.name) == ("t1.jsonl", ".jsonl", "t1", "threads")
    assert p.with_suffix(".lock").name == "t1.lock"
    assert p.is_absolute() and p.relative_to("/srv").parts[0] == "data"
    assert os.path.join("a", "b") == f"a{os.sep}b" and os.path.splitext("x.py")[1] == ".py"
    assert os.path.normpath("a/./b") == os.path.join("a", "b")  # noqa: ASYNC240 - string arithmetic, no IO
    assert os.path.basename("/x/y") == "y"


@silent("in-memory IO")
async def in_memory_io(scene: Scene) -> None:
    import io

    text = io.StringIO("one\ntwo\n")
    assert text.readline() == "one\n" and [line for line in text] == ["two\n"]
    data = io.BytesIO()
    data.write(b"abc")
    data.seek(0)
    assert data.read() == b"abc" and data.getvalue() == b"abc"


@silent("print under capture")
async def printing(scene: Scene) -> None:
    import sys

    print("to stdout")
    print("to stderr", file=sys.stderr, flush=True)


@silent("logging under capture")
async def logging_calls(scene: Scene) -> None:
    import logging

    logger = logging.getLogger("blockgate.probe")
    logger.warning("a warning with %s", "args")
    try:
        raise ValueError("logged with its traceback")
    except ValueError:
        logger.exception("formatting the traceback reads source lines")


def _write_module(scene: Scene) -> None:
    import sys

    folder = scene.fresh("lazy")
    folder.mkdir()
    name = f"lazy_probe_{folder.name.replace('-', '_')}"
    (folder / f"{name}.py").write_text("VALUE = 42\n")
    sys.path.insert(0, str(folder))
    scene.extra["module"] = name
    scene.cleanups.append(lambda: sys.path.remove(str(folder)))


@silent("lazy import")
async def lazy_import(scene: Scene) -> None:
    import importlib

    await asyncio.to_thread(_write_module, scene)
    module = importlib.import_module(scene.extra["module"])  # reads source, writes bytecode: on the loop
    assert module.VALUE == 42


@silent("asyncio.create_subprocess_exec")
async def child_process(scene: Scene) -> None:
    proc = await asyncio.create_subprocess_exec("echo", "hi", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert out == b"hi\n" and proc.returncode == 0


@silent("asyncio streams and resolver")
async def streams(scene: Scene) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    infos = await asyncio.get_running_loop().getaddrinfo("localhost", port)
    assert infos
    reader, writer = await asyncio.open_connection("localhost", port)  # resolved in the executor
    writer.write(b"ping\n")
    await writer.drain()
    assert await reader.readline() == b"ping\n"
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


@silent("run_in_executor on a process pool")
async def process_pool(scene: Scene) -> None:
    import concurrent.futures
    import multiprocessing

    # spawn: a fork of this threaded test process would warn (3.12+) and may deadlock
    context = multiprocessing.get_context("spawn")
    pool = await asyncio.to_thread(concurrent.futures.ProcessPoolExecutor, 1, context)
    try:
        assert await asyncio.get_running_loop().run_in_executor(pool, abs, -3) == 3
    finally:
        await asyncio.to_thread(pool.shutdown)


@silent("asyncio.sleep and to_thread")
async def cooperative(scene: Scene) -> None:
    await asyncio.sleep(0.001)
    assert await asyncio.to_thread(os.path.exists, scene.file)
    assert (
        await asyncio.get_running_loop().run_in_executor(None, scene.file.read_text) == "line one\nline two\n"
    )


def write_text_file(f: Any) -> None:
    f.write("on the loop")


def write_console_layers() -> None:
    import sys

    sys.stdout.buffer.write(b"")
    sys.stderr.write("")


# -- a sample of the classification's "not blocking" verdicts, each called on the loop ------
#
# Keyed by the classified name; the meta-test checks that the name's verdict is
# "not blocking" and that the call passes under the full gate.


def _sample() -> dict[str, Callable[[Scene], Any]]:
    import bz2
    import concurrent.futures
    import gzip
    import http.client
    import io
    import lzma
    import mmap
    import platform
    import queue
    import select
    import selectors
    import shutil
    import signal
    import socket
    import sqlite3
    import ssl
    import tarfile
    import threading
    import time
    import urllib.request
    import uuid
    import zipfile

    def pipe_round_trip(scene: Scene) -> None:
        r, w = os.pipe()
        os.close(r)
        os.close(w)

    def socket_pair(scene: Scene) -> None:
        a, b = socket.socketpair()
        a.setblocking(False)
        assert a.getsockname() is not None
        a.close()
        b.close()

    def selector(scene: Scene) -> None:
        with selectors.DefaultSelector() as sel:
            r, w = os.pipe()
            try:
                sel.register(r, selectors.EVENT_READ)
                sel.unregister(r)
            finally:
                os.close(r)
                os.close(w)

    def future(scene: Scene) -> None:
        f: concurrent.futures.Future[int] = concurrent.futures.Future()
        f.set_result(1)
        assert f.done()

    def queue_nowait(scene: Scene) -> None:
        q: queue.Queue[int] = queue.Queue()
        q.put_nowait(1)
        assert q.qsize() == 1 and q.get_nowait() == 1

    def anonymous_map(scene: Scene) -> None:
        with mmap.mmap(-1, 16) as m:
            assert len(m) == 16

    sample = {
        "os.path.join": lambda s: os.path.join("a", "b"),
        "os.fspath": lambda s: os.fspath(Path("a")),
        "os.getpid": lambda s: os.getpid(),
        "os.cpu_count": lambda s: os.cpu_count(),
        "os.uname": lambda s: os.uname(),
        "os.urandom": lambda s: os.urandom(8),
        "os.pipe": pipe_round_trip,
        "os.kill": lambda s: os.kill(os.getpid(), 0),
        "os.strerror": lambda s: os.strerror(2),
        "time.time": lambda s: time.time(),
        "time.strftime": lambda s: time.strftime("%Y", time.gmtime(0)),
        "time.monotonic": lambda s: time.monotonic(),
        "socket.htons": lambda s: socket.htons(80),
        "socket.inet_aton": lambda s: socket.inet_aton("127.0.0.1"),
        "socket.gethostname": lambda s: socket.gethostname(),
        "socket.socketpair": socket_pair,
        "ssl.SSLContext": lambda s: ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
        "ssl.MemoryBIO": lambda s: ssl.MemoryBIO().write(b"x"),
        "selectors.DefaultSelector": selector,
        "select.epoll": lambda s: select.epoll().close(),
        "threading.Event.set": lambda s: threading.Event().set(),
        "threading.Semaphore.release": lambda s: threading.Semaphore(0).release(),
        "threading.current_thread": lambda s: threading.current_thread(),
        "queue.Queue.get_nowait": queue_nowait,
        "concurrent.futures.Future.set_result": future,
        "pathlib.PurePath.with_suffix": lambda s: Path("/a/b.txt").with_suffix(".json"),
        "pathlib.Path.relative_to": lambda s: Path("/a/b").relative_to("/a"),
        "zipfile.ZipInfo": lambda s: zipfile.ZipInfo("member"),
        "tarfile.TarInfo.tobuf": lambda s: tarfile.TarInfo("member").tobuf(),
        "gzip.compress": lambda s: gzip.decompress(gzip.compress(b"x")),
        "bz2.compress": lambda s: bz2.compress(b"x"),
        "lzma.compress": lambda s: lzma.compress(b"x"),
        "uuid.uuid4": lambda s: uuid.uuid4(),
        "platform.python_version": lambda s: platform.python_version(),
        "sqlite3.complete_statement": lambda s: sqlite3.complete_statement("select 1;"),
        "io.BytesIO": lambda s: io.BytesIO(b"abc").read(),
        "shutil.get_terminal_size": lambda s: shutil.get_terminal_size(),
        "signal.getsignal": lambda s: signal.getsignal(signal.SIGINT),
        "mmap.mmap": anonymous_map,
        "http.client.HTTPConnection": lambda s: http.client.HTTPConnection("example.invalid", 80),
        "urllib.request.Request": lambda s: urllib.request.Request("http://example.invalid/"),
    }
    # Where the system lacks the primitive, or (socketpair on Windows: a localhost
    # connection, caught) where the classification's verdict differs.
    absent = {
        "select.epoll": not hasattr(select, "epoll"),
        "os.uname": not hasattr(os, "uname"),
        "socket.socketpair": sys.platform == "win32",
    }
    return {name: call for name, call in sample.items() if not absent.get(name)}


NOT_BLOCKING_SAMPLE = _sample()
