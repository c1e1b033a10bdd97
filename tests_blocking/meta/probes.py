"""Probes: one small call per project rule, made from this (scanned) module.

The meta-tests scan this module instead of ``runlog``: a probe called on the
loop must trip exactly its rule; the same probe run with
``asyncio.to_thread`` must pass. ``prepare`` runs first, off the loop, and
builds what the probe needs (files, a child process, a listening socket), so
the probe itself makes one blocking call and nothing else.
"""

from __future__ import annotations

import _socket
import asyncio
import concurrent.futures
import glob
import itertools
import os
import queue
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_names = itertools.count()


@dataclass
class Scene:
    """What ``prepare`` built; ``cleanup`` undoes it after the probe."""

    tmp: Path
    file: Path = field(init=False)
    extra: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.file = self.tmp / "data.txt"
        self.file.write_text("line one\nline two\n")

    def fresh(self, stem: str) -> Path:
        return self.tmp / f"{stem}-{next(_names)}"

    def cleanup(self) -> None:
        for undo in reversed(self.cleanups):
            undo()


@dataclass(frozen=True)
class Probe:
    call: Callable[[Scene], Any]
    prepare: Callable[[Scene], None] | None = None


PROBES: dict[str, Probe] = {}


def probe(*names: str, prepare: Callable[[Scene], None] | None = None) -> Callable[..., Any]:
    def register(fn: Callable[[Scene], Any]) -> Callable[[Scene], Any]:
        for name in names:
            if name in PROBES:
                raise ValueError(f"two probes for {name}")
            PROBES[name] = Probe(fn, prepare)
        return fn

    return register


# -- preparations (run off the loop) -----------------------------------------------


def _open_binary(scene: Scene, mode: str = "rb", buffering: int = -1) -> None:
    f = open(scene.file, mode, buffering=buffering)  # noqa: SIM115 - closed by cleanup
    scene.extra["f"] = f
    scene.cleanups.append(f.close)


def _open_text(scene: Scene) -> None:
    f = open(scene.file, "r+", encoding="utf-8")  # noqa: SIM115
    scene.extra["f"] = f
    scene.cleanups.append(f.close)


def _open_raw(scene: Scene) -> None:
    _open_binary(scene, "r+b", buffering=0)


def _open_random(scene: Scene) -> None:
    _open_binary(scene, "r+b")


def _open_writer(scene: Scene) -> None:
    f = open(scene.fresh("w"), "wb")  # noqa: SIM115
    f.write(b"pending")
    scene.extra["f"] = f
    scene.cleanups.append(f.close)


def _fd(scene: Scene) -> None:
    fd = os.open(scene.file, os.O_RDWR)
    scene.extra["fd"] = fd
    scene.cleanups.append(lambda: os.close(fd))


def _source(scene: Scene) -> None:
    src = scene.fresh("src")
    src.write_text("x")
    scene.extra["src"] = src


def _directory(scene: Scene) -> None:
    d = scene.fresh("dir")
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "f").write_text("x")
    scene.extra["dir"] = d


def _empty_dir(scene: Scene) -> None:
    d = scene.fresh("empty")
    d.mkdir()
    scene.extra["empty"] = d


def _symlink(scene: Scene) -> None:
    link = scene.fresh("link")
    link.symlink_to(scene.file)
    scene.extra["link"] = link


def _alive_thread(scene: Scene) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    scene.extra["thread"] = thread

    def finish() -> None:
        stop.set()
        thread.join()

    scene.cleanups.append(finish)


def _child(scene: Scene) -> None:
    proc = subprocess.Popen(["sleep", "0.05"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    scene.extra["proc"] = proc

    def reap() -> None:
        try:
            proc.wait(10)
        finally:
            proc.stdout.close()

    scene.cleanups.append(reap)


def _listener(scene: Scene) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    scene.extra["address"] = server.getsockname()
    scene.cleanups.append(server.close)


def _sqlite(scene: Scene) -> None:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    scene.extra["conn"] = conn
    scene.cleanups.append(conn.close)  # when the gate stopped the probe's close


def _full_queue(scene: Scene) -> None:
    q: queue.Queue[int] = queue.Queue(maxsize=1)
    q.put(1)
    scene.extra["queue"] = q


# -- probes (each makes one blocking call) ----------------------------------------


@probe("audit:open")
def open_file(scene: Scene) -> None:
    with open(scene.file, encoding="utf-8") as f:
        f.read()


@probe("io.FileIO.read", prepare=_open_raw)
def raw_read(scene: Scene) -> None:
    scene.extra["f"].read(4)


@probe("io.FileIO.readall", prepare=_open_raw)
def raw_readall(scene: Scene) -> None:
    scene.extra["f"].readall()


@probe("io.FileIO.readinto", prepare=_open_raw)
def raw_readinto(scene: Scene) -> None:
    scene.extra["f"].readinto(bytearray(4))


@probe("io.FileIO.write", prepare=_open_raw)
def raw_write(scene: Scene) -> None:
    scene.extra["f"].write(b"L")


@probe("io.BufferedReader.readline", prepare=_open_binary)
def buffered_readline(scene: Scene) -> None:
    scene.extra["f"].readline()


@probe("io.BufferedReader.readlines", prepare=_open_binary)
def buffered_readlines(scene: Scene) -> None:
    scene.extra["f"].readlines()


@probe("io.BufferedReader.read1", prepare=_open_binary)
def buffered_read1(scene: Scene) -> None:
    scene.extra["f"].read1(4)


@probe("io.BufferedReader.readinto", prepare=_open_binary)
def buffered_readinto(scene: Scene) -> None:
    scene.extra["f"].readinto(bytearray(4))


@probe("io.BufferedReader.peek", prepare=_open_binary)
def buffered_peek(scene: Scene) -> None:
    scene.extra["f"].peek(1)


@probe("io.BufferedRandom.readline", prepare=_open_random)
def random_readline(scene: Scene) -> None:
    scene.extra["f"].readline()


@probe("io.BufferedRandom.readlines", prepare=_open_random)
def random_readlines(scene: Scene) -> None:
    scene.extra["f"].readlines()


@probe("io.BufferedRandom.read1", prepare=_open_random)
def random_read1(scene: Scene) -> None:
    scene.extra["f"].read1(4)


@probe("io.BufferedRandom.readinto", prepare=_open_random)
def random_readinto(scene: Scene) -> None:
    scene.extra["f"].readinto(bytearray(4))


@probe("io.BufferedWriter.flush", prepare=_open_writer)
def writer_flush(scene: Scene) -> None:
    scene.extra["f"].flush()


@probe("io.TextIOWrapper.readline", prepare=_open_text)
def text_readline(scene: Scene) -> None:
    scene.extra["f"].readline()


@probe("io.TextIOWrapper.readlines", prepare=_open_text)
def text_readlines(scene: Scene) -> None:
    scene.extra["f"].readlines()


@probe("io.TextIOWrapper.flush", prepare=_open_text)
def text_flush(scene: Scene) -> None:
    scene.extra["f"].flush()


@probe("pathlib.Path.open")
def path_open(scene: Scene) -> None:
    scene.file.open().close()


@probe("pathlib.Path.read_text")
def path_read_text(scene: Scene) -> None:
    scene.file.read_text()


@probe("pathlib.Path.read_bytes")
def path_read_bytes(scene: Scene) -> None:
    scene.file.read_bytes()


@probe("pathlib.Path.write_text")
def path_write_text(scene: Scene) -> None:
    scene.fresh("wt").write_text("x")


@probe("pathlib.Path.write_bytes")
def path_write_bytes(scene: Scene) -> None:
    scene.fresh("wb").write_bytes(b"x")


@probe("os.lstat")
def os_lstat(scene: Scene) -> None:
    os.lstat(scene.file)


@probe("os.fstat", prepare=_fd)
def os_fstat(scene: Scene) -> None:
    os.fstat(scene.extra["fd"])


@probe("pathlib.Path.stat")
def path_stat(scene: Scene) -> None:
    scene.file.stat()


@probe("pathlib.Path.lstat")
def path_lstat(scene: Scene) -> None:
    scene.file.lstat()


@probe("pathlib.Path.exists")
def path_exists(scene: Scene) -> None:
    scene.file.exists()


@probe("pathlib.Path.is_dir")
def path_is_dir(scene: Scene) -> None:
    scene.tmp.is_dir()


@probe("pathlib.Path.is_file")
def path_is_file(scene: Scene) -> None:
    scene.file.is_file()


@probe("pathlib.Path.is_symlink")
def path_is_symlink(scene: Scene) -> None:
    scene.file.is_symlink()


@probe("pathlib.Path.is_mount")
def path_is_mount(scene: Scene) -> None:
    scene.tmp.is_mount()


@probe("pathlib.Path.samefile")
def path_samefile(scene: Scene) -> None:
    scene.file.samefile(scene.file)


@probe("pathlib.Path.owner")
def path_owner(scene: Scene) -> None:
    scene.file.owner()


@probe("pathlib.Path.group")
def path_group(scene: Scene) -> None:
    scene.file.group()


@probe("pathlib.Path.readlink", prepare=_symlink)
def path_readlink(scene: Scene) -> None:
    scene.extra["link"].readlink()


@probe("pathlib.Path.resolve")
def path_resolve(scene: Scene) -> None:
    scene.file.resolve()


@probe("pathlib.Path.absolute")
def path_absolute(scene: Scene) -> None:
    Path("relative.txt").absolute()


@probe("pathlib.Path.cwd")
def path_cwd(scene: Scene) -> None:
    Path.cwd()


@probe("audit:os.listdir")
def listdir(scene: Scene) -> None:
    os.listdir(scene.tmp)


@probe("audit:os.scandir")
def scandir(scene: Scene) -> None:
    with os.scandir(scene.tmp):
        pass


@probe("audit:glob.glob")
def globbing(scene: Scene) -> None:
    glob.glob(str(scene.tmp / "*.txt"))


@probe("audit:os.mkdir")
def mkdir(scene: Scene) -> None:
    os.mkdir(scene.fresh("mkdir"))


@probe("audit:os.rmdir", prepare=_empty_dir)
def rmdir(scene: Scene) -> None:
    os.rmdir(scene.extra["empty"])


@probe("audit:os.remove", prepare=_source)
def remove(scene: Scene) -> None:
    os.remove(scene.extra["src"])


@probe("audit:os.rename", prepare=_source)
def rename(scene: Scene) -> None:
    os.rename(scene.extra["src"], scene.fresh("renamed"))


@probe("audit:shutil.rmtree", prepare=_directory)
def rmtree(scene: Scene) -> None:
    shutil.rmtree(scene.extra["dir"])


@probe("audit:shutil.copyfile")
def copyfile(scene: Scene) -> None:
    shutil.copyfile(scene.file, scene.fresh("copy"))


@probe("pathlib.Path.iterdir")
def path_iterdir(scene: Scene) -> None:
    list(scene.tmp.iterdir())


@probe("pathlib.Path.glob")
def path_glob(scene: Scene) -> None:
    list(scene.tmp.glob("*.txt"))


@probe("pathlib.Path.rglob")
def path_rglob(scene: Scene) -> None:
    list(scene.tmp.rglob("*.txt"))


@probe("pathlib.Path.mkdir")
def path_mkdir(scene: Scene) -> None:
    scene.fresh("pmkdir").mkdir()


@probe("pathlib.Path.rmdir", prepare=_empty_dir)
def path_rmdir(scene: Scene) -> None:
    scene.extra["empty"].rmdir()


@probe("pathlib.Path.unlink", prepare=_source)
def path_unlink(scene: Scene) -> None:
    scene.extra["src"].unlink()


@probe("pathlib.Path.rename", prepare=_source)
def path_rename(scene: Scene) -> None:
    scene.extra["src"].rename(scene.fresh("prenamed"))


@probe("pathlib.Path.replace", prepare=_source)
def path_replace(scene: Scene) -> None:
    scene.extra["src"].replace(scene.fresh("preplaced"))


@probe("pathlib.Path.touch")
def path_touch(scene: Scene) -> None:
    scene.fresh("touched").touch()


@probe("pathlib.Path.symlink_to")
def path_symlink_to(scene: Scene) -> None:
    scene.fresh("sym").symlink_to(scene.file)


@probe("pathlib.Path.hardlink_to")
def path_hardlink_to(scene: Scene) -> None:
    scene.fresh("hard").hardlink_to(scene.file)


@probe("os.fsync", prepare=_fd)
def fsync(scene: Scene) -> None:
    os.fsync(scene.extra["fd"])


@probe("os.fdatasync", prepare=_fd)
def fdatasync(scene: Scene) -> None:
    os.fdatasync(scene.extra["fd"])


@probe("audit:os.truncate")
def truncate(scene: Scene) -> None:
    os.truncate(scene.file, 4)


@probe("audit:os.chmod")
def chmod(scene: Scene) -> None:
    os.chmod(scene.file, 0o644)


@probe("audit:os.utime")
def utime(scene: Scene) -> None:
    os.utime(scene.file)


@probe("pathlib.Path.chmod")
def path_chmod(scene: Scene) -> None:
    scene.file.chmod(0o644)


@probe("audit:tempfile.mkstemp")
def mkstemp(scene: Scene) -> None:
    fd, _ = tempfile.mkstemp(dir=scene.tmp)
    os.close(fd)


@probe("audit:tempfile.mkdtemp")
def mkdtemp(scene: Scene) -> None:
    tempfile.mkdtemp(dir=scene.tmp)


_sleep = time.sleep  # bound before any gate is armed: only the audit event sees it


@probe("audit:time.sleep")
def prebound_sleep(scene: Scene) -> None:
    _sleep(0)


@probe("audit:subprocess.Popen")
def popen(scene: Scene) -> None:
    subprocess.Popen(["true"]).wait()


@probe("audit:os.system")
def system(scene: Scene) -> None:
    os.system("true")


@probe("os.waitpid", prepare=_child)
def waitpid(scene: Scene) -> None:
    os.waitpid(scene.extra["proc"].pid, 0)


@probe("subprocess.Popen.wait", prepare=_child)
def popen_wait(scene: Scene) -> None:
    scene.extra["proc"].wait()


@probe("subprocess.Popen.communicate", prepare=_child)
def popen_communicate(scene: Scene) -> None:
    scene.extra["proc"].communicate()


@probe("audit:socket.getaddrinfo")
def getaddrinfo(scene: Scene) -> None:
    socket.getaddrinfo("localhost", 80)


@probe("audit:socket.gethostbyname")
def gethostbyname(scene: Scene) -> None:
    socket.gethostbyname("localhost")


@probe("audit:socket.gethostbyaddr")
def gethostbyaddr(scene: Scene) -> None:
    try:
        socket.gethostbyaddr("127.0.0.1")
    except OSError:
        pass  # no reverse entry on this machine: the lookup still happened


@probe("audit:socket.getnameinfo")
def getnameinfo(scene: Scene) -> None:
    socket.getnameinfo(("127.0.0.1", 80), 0)


@probe("audit:socket.connect", prepare=_listener)
def blocking_connect(scene: Scene) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        _socket.socket.connect(s, scene.extra["address"])  # the C method, below blockbuster's patch


@probe("threading.Thread.join", prepare=_alive_thread)
def thread_join(scene: Scene) -> None:
    scene.extra["thread"].join(0.001)


@probe("threading.Event.wait")
def event_wait(scene: Scene) -> None:
    threading.Event().wait(0.001)


@probe("threading.Condition.wait")
def condition_wait(scene: Scene) -> None:
    condition = threading.Condition()
    with condition:
        condition.wait(0.001)


@probe("threading.Semaphore.acquire")
def semaphore_acquire(scene: Scene) -> None:
    threading.Semaphore(1).acquire()


@probe("threading.Barrier.wait")
def barrier_wait(scene: Scene) -> None:
    threading.Barrier(1).wait()


@probe("concurrent.futures.Future.result")
def future_result(scene: Scene) -> None:
    try:
        concurrent.futures.Future().result(timeout=0.001)
    except concurrent.futures.TimeoutError:
        pass


@probe("concurrent.futures.Future.exception")
def future_exception(scene: Scene) -> None:
    try:
        concurrent.futures.Future().exception(timeout=0.001)
    except concurrent.futures.TimeoutError:
        pass


@probe("concurrent.futures.wait")
def futures_wait(scene: Scene) -> None:
    concurrent.futures.wait([concurrent.futures.Future()], timeout=0.001)


@probe("queue.Queue.get")
def queue_get(scene: Scene) -> None:
    try:
        queue.Queue().get(timeout=0.001)
    except queue.Empty:
        pass


@probe("queue.Queue.put", prepare=_full_queue)
def queue_put(scene: Scene) -> None:
    try:
        scene.extra["queue"].put(2, timeout=0.001)
    except queue.Full:
        pass


_connect = sqlite3.connect  # bound before any gate is armed: only the audit event sees it


@probe("audit:sqlite3.connect")
def prebound_sqlite_connect(scene: Scene) -> None:
    _connect(":memory:").close()


@probe("sqlite3.connect")
def sqlite_connect(scene: Scene) -> None:
    sqlite3.connect(":memory:").close()


@probe("sqlite3.Connection.close", prepare=_sqlite)
def sqlite_close(scene: Scene) -> None:
    scene.extra["conn"].close()


@probe("audit:fcntl.flock", prepare=_fd)
def flock(scene: Scene) -> None:
    import fcntl  # POSIX only: imported where used

    fcntl.flock(scene.extra["fd"], fcntl.LOCK_EX)
    fcntl.flock(scene.extra["fd"], fcntl.LOCK_UN | fcntl.LOCK_NB)


@probe("audit:fcntl.lockf", prepare=_fd)
def lockf(scene: Scene) -> None:
    import fcntl

    fcntl.lockf(scene.extra["fd"], fcntl.LOCK_EX)
    fcntl.lockf(scene.extra["fd"], fcntl.LOCK_UN)


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

    logger = logging.getLogger("runlog.probe")
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
