"""The project's own blocking rules: one entry per primitive, with the probes that prove it.

blockbuster patches a fixed list of callables (``os.stat``, buffered
``read``/``write``, ``socket.socket.*``, sqlite cursor methods, ...). Measured
on CPython 3.10-3.13, that list misses ``open()`` itself, line reads,
unbuffered files, ``fsync``, ``lstat``, ``pathlib`` on 3.10 (it binds ``os``
functions at import), ``sqlite3.connect``, file locks, subprocesses, name
resolution, waits on threads, futures, descriptors and inter-process
connections, account-database lookups and TLS setup that reads certificate
files. This table closes those holes; ``classification.py`` proves that every
public callable of the standard library's IO modules is either caught by one
of these rules (or a blockbuster default), not blocking, or a listed blind spot.

Two kinds of rule, both applied only on the event-loop thread and only when
the call comes from a scanned module:

* ``Patch``: replace a callable (a module function or a method, also on C
  types through forbiddenfruit) with a checker. Catches every call that looks
  the name up at call time.
* ``Audit``: a ``sys.addaudithook`` event. Raised by CPython itself, so it also
  catches callables bound before the gate was armed (``from os import
  listdir``) and C-level paths such as ``pathlib`` on 3.10.

One rule is one entry, and the entry holds everything about its primitive:

* ``area`` and ``reason``: where it belongs and why it blocks;
* ``fires``: its **probe**, a ``Probe(call, prepare)``: ``prepare`` runs off
  the loop and builds what the call needs (a file, a child process, a
  listener); ``call`` makes exactly one blocking call through the primitive.
  The meta-tests (``tests_blocking/meta/test_rules.py``) run it on the loop
  with the rule armed alone (it must fire), offloaded (it must not), under the
  full gate (it must fire) and with no loop (it must not);
* ``nonblocking_if``: given the call's arguments (or the audit event's), True
  when this call cannot block (``LOCK_NB``, ``WNOHANG``, a zero timeout, a
  finished thread); and then ``passes``: its **must-pass probe**, the
  non-blocking form, which must stay silent on the loop. A rule with
  ``nonblocking_if`` and no ``passes`` fails the suite;
* ``exempt_callers``: library frames that may make this call on the loop
  (``EXEMPT_CALLERS`` holds those that may make any blocking call);
* ``classifies``: the public callables it catches besides its own target or
  ``raised_by`` names (``classification.py`` reads them);
* ``min_version``, ``systems``, ``platform_has_it``: where the primitive
  exists: from which Python, on which systems (``sys.platform`` prefixes,
  declared, so the classification can ask about another system), and whether
  this machine has it (``hasattr``: a build or kernel may lack it).

The probes are defined in this module on purpose: the meta-tests scan it, so
a probe's call is "scanned code on the loop". This module imports nothing
outside the standard library, so ``gate.py`` can load it from its file path.
Adding a rule: see "Maintaining the gate" in README.md.
"""

import _socket
import concurrent.futures
import glob
import importlib
import io
import itertools
import os
import queue
import select
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Exemption = tuple[str, frozenset[str]]

_HAS_FCNTL = sys.platform != "win32"
_POSIX = os.name == "posix"
_LINUX = sys.platform.startswith("linux")
# Declared systems (Patch.systems, Audit.systems): sys.platform prefixes.
POSIX_SYSTEMS = ("linux", "darwin")
LINUX_ONLY = ("linux",)


# -- probes -----------------------------------------------------------------------------

_names = itertools.count()


@dataclass
class Scene:
    """What a probe's ``prepare`` built (off the loop); ``cleanup`` undoes it after the probe."""

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

    def keep(self, key: str, value: Any, undo: Callable[[], Any] | None = None) -> Any:
        self.extra[key] = value
        if undo is not None:
            self.cleanups.append(undo)
        return value

    def cleanup(self) -> None:
        for undo in reversed(self.cleanups):
            undo()


@dataclass(frozen=True)
class Probe:
    """One call through a primitive, made from this (scanned) module."""

    call: Callable[[Scene], Any]
    prepare: Callable[[Scene], None] | None = None


# -- the two kinds of rule ---------------------------------------------------------------


@dataclass(frozen=True)
class Patch:
    """Wrap the callable at dotted path ``target`` (module path, then attributes)."""

    area: str
    target: str
    reason: str
    fires: Probe | None = None
    nonblocking_if: Callable[..., bool] | None = None  # given the call's arguments
    passes: Probe | None = None
    exempt_callers: tuple[Exemption, ...] = ()
    classifies: tuple[str, ...] = ()
    min_version: tuple[int, int] = (3, 10)
    platform_has_it: bool = True  # False where the OS lacks the primitive (os.fdatasync on macOS)
    # The systems (sys.platform prefixes) the rule is made for; None: every system. Elsewhere
    # it is not applicable, like a primitive the running system lacks.
    systems: tuple[str, ...] | None = None
    # Why the static inventory cannot see this rule's primitive in source, if it cannot:
    # a rule without a static counterpart fails the meta-test unless this says why.
    runtime_only: str = ""

    @property
    def name(self) -> str:
        return self.target

    @property
    def catches(self) -> tuple[str, ...]:
        """The public callables this rule catches, for the classification."""
        return (self.target, *self.classifies)

    def applies(self) -> bool:
        return self.platform_has_it and self.applies_on(sys.version_info[:2], sys.platform)

    def applies_on(self, version: tuple[int, int], system: str) -> bool:
        """Armed on ``system`` (a ``sys.platform``) with Python ``version``, where the primitive exists."""
        on_system = self.systems is None or any(system.startswith(s) for s in self.systems)
        return on_system and version >= self.min_version


@dataclass(frozen=True)
class Audit:
    """Fail when CPython raises the audit event ``event``."""

    area: str
    event: str
    reason: str
    fires: Probe | None = None
    nonblocking_if: Callable[[tuple[Any, ...]], bool] | None = None  # given the event's args
    passes: Probe | None = None
    exempt_callers: tuple[Exemption, ...] = ()
    classifies: tuple[str, ...] = ()
    min_version: tuple[int, int] = (3, 10)
    platform_has_it: bool = True  # False where the OS lacks the primitive (fcntl on Windows)
    systems: tuple[str, ...] | None = None  # as for Patch
    # The public callables that raise the event: what the static inventory
    # looks for in source, since an audit event has no name to call.
    raised_by: tuple[str, ...] = ()
    # Why the static inventory cannot see this rule's primitive in source, if it cannot.
    runtime_only: str = ""

    @property
    def name(self) -> str:
        return f"audit:{self.event}"

    @property
    def catches(self) -> tuple[str, ...]:
        return (*self.raised_by, *self.classifies)

    def applies(self) -> bool:
        return self.platform_has_it and self.applies_on(sys.version_info[:2], sys.platform)

    def applies_on(self, version: tuple[int, int], system: str) -> bool:
        """Armed on ``system`` (a ``sys.platform``) with Python ``version``, where the primitive exists."""
        on_system = self.systems is None or any(system.startswith(s) for s in self.systems)
        return on_system and version >= self.min_version


def _in(filename: str, *functions: str) -> Exemption:
    return (filename, frozenset(functions))


# Callers that may block on the loop thread on behalf of scanned code, for every
# rule (blockbuster's defaults included). A frame listed here, met before any
# scanned frame while walking out from the blocking call, exempts the call.
EXEMPT_CALLERS: tuple[Exemption, ...] = (
    # A lazy import reads the module's source or bytecode: one-off, and what
    # every Python program does; not the backend's IO.
    _in("<frozen importlib._bootstrap>", "_find_and_load", "_load_unlocked", "_find_spec"),
    _in(
        "<frozen importlib._bootstrap_external>",
        "get_data",
        "get_code",
        "path_stats",
        "find_spec",
        "_path_stat",
    ),
    _in("<frozen zipimport>", "_get_data", "get_code"),
    # Formatting a traceback or a warning reads source lines for display.
    _in("linecache.py", "checkcache", "updatecache", "getlines"),
    _in("<frozen linecache>", "checkcache", "updatecache", "getlines"),
    # From 3.13, formatting a traceback re-parses the source line for its carets.
    _in("traceback.py", "format_frame_summary", "_extract_caret_anchors_from_line_segment"),
    # FastAPI (0.120+) reads an endpoint's source file (stat, then linecache)
    # on its first request, to name it in error messages; cached per endpoint
    # after that. A one-off per route and process, like a lazy import.
    _in("fastapi/routing.py", "_extract_endpoint_context"),
    # Thread start waits for the new thread to signal it runs (microseconds);
    # asyncio.to_thread and aiosqlite start their workers this way.
    _in("threading.py", "start"),
    _in("concurrent/futures/thread.py", "submit", "_adjust_thread_count"),
    # A process pool's submit (loop.run_in_executor with a ProcessPoolExecutor)
    # starts its workers and wakes its manager thread through a pipe: the
    # non-blocking half of an offload.
    _in("concurrent/futures/process.py", "submit"),
    # asyncio's own subprocess transport: fork/exec and the pipe setup are
    # part of the non-blocking create_subprocess_* API.
    _in("asyncio/base_events.py", "subprocess_exec", "subprocess_shell", "_make_subprocess_transport"),
    _in("asyncio/unix_events.py", "_make_subprocess_transport"),
    _in("asyncio/base_subprocess.py", "__init__", "_start"),
)

# The event loop's own wait for IO: the one blocking call a loop must make.
_LOOP_WAIT = (_in("asyncio/base_events.py", "_run_once"),)


# -- nonblocking_if: the argument forms that cannot block --------------------------------


def is_console(file: Any) -> bool:
    """``file`` is sys.stdout/sys.stderr (as now redirected, e.g. by pytest), their buffer or raw
    file, or the null device (pytest's logging writes its file handler there by default)."""
    if getattr(file, "name", None) == os.devnull:
        return True
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        layer = stream
        while layer is not None:
            if layer is file:
                return True
            layer = getattr(layer, "buffer", None) or getattr(layer, "raw", None)
    return False


def _not_a_disk_file(file: Any, *_: Any, **__: Any) -> bool:
    """True for in-memory streams, terminals and the process's stdout/stderr."""
    if is_console(file):
        return True
    try:
        file.fileno()
    except (io.UnsupportedOperation, AttributeError, ValueError):
        return True
    try:
        return bool(file.isatty())
    except (ValueError, OSError):
        return False


def _fd_nonblocking(fd: Any, *_: Any, **__: Any) -> bool:
    try:
        return isinstance(fd, int) and not os.get_blocking(fd)
    except OSError:
        return False


def _nonblocking_acquire(_obj: Any, blocking: bool = True, timeout: float | None = None, **__: Any) -> bool:
    return not blocking or timeout == 0


def _thread_not_alive(thread: Any, *_: Any, **__: Any) -> bool:
    return not thread.is_alive()


def _event_is_set(event: Any, timeout: float | None = None, **__: Any) -> bool:
    return event.is_set() or timeout == 0


def _future_done(future: Any, timeout: float | None = None, **__: Any) -> bool:
    return future.done() or timeout == 0


def _queue_get_ready(q: Any, block: bool = True, timeout: float | None = None, **__: Any) -> bool:
    return not block or timeout == 0 or q.qsize() > 0


def _queue_put_ready(q: Any, _item: Any, block: bool = True, timeout: float | None = None, **__: Any) -> bool:
    return not block or timeout == 0 or q.maxsize <= 0 or q.qsize() < q.maxsize


def _no_unfinished_tasks(q: Any, *_: Any, **__: Any) -> bool:
    return q.unfinished_tasks == 0


def _socket_nonblocking(args: tuple[Any, ...]) -> bool:
    try:
        return not args[0].getblocking()
    except (AttributeError, OSError):
        return False


def _sock_method_nonblocking(sock: Any, *_: Any, **__: Any) -> bool:
    return _socket_nonblocking((sock,))


def _numeric_address(args: tuple[Any, ...]) -> bool:
    """The address names no host to resolve: a numeric IP, any-address, or not an IP address at all."""
    address = args[1]
    if not isinstance(address, tuple) or not address or not isinstance(address[0], str):
        return True
    host = address[0]
    if host in ("", "<broadcast>"):
        return True
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host.split("%")[0])
            return True
        except OSError:
            pass
    return False


def _flock_nonblocking(args: tuple[Any, ...]) -> bool:
    import fcntl

    return args[1] == fcntl.LOCK_UN or bool(args[1] & fcntl.LOCK_NB)


def _lockf_nonblocking(args: tuple[Any, ...]) -> bool:
    import fcntl

    return args[1] == fcntl.LOCK_UN or bool(args[1] & fcntl.LOCK_NB)


def _fcntl_nonblocking(args: tuple[Any, ...]) -> bool:
    import fcntl

    waits = {getattr(fcntl, name) for name in ("F_SETLKW", "F_OFD_SETLKW") if hasattr(fcntl, name)}
    return args[1] not in waits


def _not_following_a_link(entry: Any, *, follow_symlinks: bool = True) -> bool:
    return not follow_symlinks or not entry.is_symlink()


def _msvcrt_locking_nonblocking(args: tuple[Any, ...]) -> bool:
    import msvcrt

    return args[1] in (msvcrt.LK_NBLCK, msvcrt.LK_NBRLCK, msvcrt.LK_UNLCK)


def _os_lockf_nonblocking(args: tuple[Any, ...]) -> bool:
    return args[1] != os.F_LOCK  # F_TLOCK fails at once, F_ULOCK and F_TEST never wait


def _wnohang(options: Any) -> bool:
    return bool(options & getattr(os, "WNOHANG", 0))


def _zero_timeout(timeout: Any) -> bool:
    return timeout is not None and timeout <= 0


def _select_nonblocking(_r: Any, _w: Any, _x: Any, timeout: float | None = None) -> bool:
    return _zero_timeout(timeout)


def _poll_nonblocking(_poller: Any, timeout: float | None = -1, *_: Any, **__: Any) -> bool:
    return timeout is not None and timeout == 0


def _kqueue_nonblocking(_kq: Any, _changes: Any, max_events: int = 0, timeout: float | None = None) -> bool:
    return max_events == 0 or _zero_timeout(timeout)  # max_events 0: only registers changes


def _selector_nonblocking(_selector: Any, timeout: float | None = None) -> bool:
    return _zero_timeout(timeout)


def _connection_poll_nonblocking(_conn: Any, timeout: float | None = 0.0) -> bool:
    return _zero_timeout(timeout)


def _connection_wait_nonblocking(_objects: Any, timeout: float | None = None) -> bool:
    return _zero_timeout(timeout)


def _signals_timeout_zero(_sigset: Any, timeout: float) -> bool:
    return timeout <= 0


def _only_in_memory_ca(_ctx: Any, cafile: Any = None, capath: Any = None, cadata: Any = None) -> bool:
    return cafile is None and capath is None


# -- preparations (run off the loop) ---------------------------------------------------


def _open_file(scene: Scene, mode: str, buffering: int = -1, path: Any = None) -> None:
    kwargs = {} if "b" in mode else {"encoding": "utf-8"}
    f = open(path or scene.file, mode, buffering=buffering, **kwargs)  # noqa: SIM115 - closed by cleanup
    scene.keep("f", f, f.close)


def _opener(mode: str, buffering: int = -1, devnull: bool = False) -> Callable[[Scene], None]:
    def prepare(scene: Scene) -> None:
        path = os.devnull if devnull else None
        if "w" in mode and not devnull:
            path = scene.fresh("w")
        _open_file(scene, mode, buffering, path)
        if "w" in mode and "b" in mode:
            scene.extra["f"].write(b"pending")

    return prepare


def _fd(scene: Scene) -> None:
    fd = os.open(scene.file, os.O_RDWR)
    scene.keep("fd", fd, lambda: os.close(fd))


def _two_fds(scene: Scene) -> None:
    _fd(scene)
    out = os.open(scene.fresh("out"), os.O_RDWR | os.O_CREAT)
    scene.keep("out", out, lambda: os.close(out))


def _pipe(scene: Scene) -> None:
    r, w = os.pipe()
    os.write(w, b"ready")
    scene.keep("r", r, lambda: os.close(r))
    scene.keep("w", w, lambda: os.close(w))


def _nonblocking_pipe(scene: Scene) -> None:
    _pipe(scene)
    os.set_blocking(scene.extra["r"], False)
    os.set_blocking(scene.extra["w"], False)


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


def _dir_entry(scene: Scene) -> None:
    with os.scandir(scene.tmp) as entries:
        scene.extra["entry"] = next(e for e in entries if e.name == scene.file.name)


def _symlink_entry(scene: Scene) -> None:
    _symlink(scene)
    with os.scandir(scene.tmp) as entries:
        scene.extra["entry"] = next(e for e in entries if e.name == scene.extra["link"].name)


def _alive_thread(scene: Scene) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    scene.extra["thread"] = thread

    def finish() -> None:
        stop.set()
        thread.join()

    scene.cleanups.append(finish)


def _finished_thread(scene: Scene) -> None:
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    scene.extra["thread"] = thread


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
    scene.keep("address", server.getsockname(), server.close)


def _listener_and_nonblocking_socket(scene: Scene) -> None:
    _listener(scene)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    scene.keep("sock", sock, sock.close)


def _socket_pair(scene: Scene, blocking: bool) -> None:
    mine, theirs = socket.socketpair()
    theirs.sendall(b"ready")
    mine.setblocking(blocking)
    scene.keep("mine", mine, mine.close)
    scene.keep("theirs", theirs, theirs.close)


def _unbound_socket(scene: Scene) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    scene.keep("sock", sock, sock.close)


def _sqlite(scene: Scene) -> None:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    scene.keep("conn", conn, conn.close)  # when the gate stopped the probe's close


def _sqlite_extensions(scene: Scene) -> None:
    _sqlite(scene)
    scene.extra["conn"].enable_load_extension(True)


def _sqlite_pair(scene: Scene) -> None:
    _sqlite(scene)
    target = sqlite3.connect(":memory:", check_same_thread=False)
    scene.keep("target", target, target.close)


def _sqlite_blob(scene: Scene) -> None:
    _sqlite(scene)
    conn = scene.extra["conn"]
    conn.execute("create table t (b blob)")
    conn.execute("insert into t values (zeroblob(8))")
    blob = conn.blobopen("t", "b", 1)
    scene.keep("blob", blob, blob.close)


def _sqlite_image(scene: Scene) -> None:
    _sqlite_blob(scene)
    scene.extra["blob"].close()
    scene.extra["image"] = scene.extra["conn"].serialize()


def _full_queue(scene: Scene) -> None:
    q: queue.Queue[int] = queue.Queue(maxsize=1)
    q.put(1)
    scene.extra["queue"] = q


def _queue_with_item(scene: Scene) -> None:
    q: queue.Queue[int] = queue.Queue()
    q.put(1)
    scene.extra["queue"] = q


def _unfinished_queue(scene: Scene) -> None:
    """A queue whose one task a consumer thread marks done shortly."""
    q: queue.Queue[int] = queue.Queue()
    q.put(1)
    q.get()
    scene.extra["queue"] = q
    done = threading.Timer(0.1, q.task_done)
    done.start()
    scene.cleanups.append(done.join)


def _simple_queue_with_item(scene: Scene) -> None:
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    q.put(1)
    scene.extra["queue"] = q


def _done_future(scene: Scene) -> None:
    future: concurrent.futures.Future[int] = concurrent.futures.Future()
    future.set_result(1)
    scene.extra["future"] = future


def _set_event(scene: Scene) -> None:
    event = threading.Event()
    event.set()
    scene.extra["event"] = event


def _mp_pipe(scene: Scene) -> None:
    from multiprocessing import Pipe

    mine, theirs = Pipe()
    theirs.send("ready")
    scene.keep("conn", mine, mine.close)
    scene.keep("peer", theirs, theirs.close)


def _mp_listener(scene: Scene) -> None:
    from multiprocessing.connection import Client, Listener

    listener = Listener(("127.0.0.1", 0))
    scene.keep("listener", listener, listener.close)
    client = Client(listener.address)  # queued in the backlog: accept returns at once
    scene.keep("client", client, client.close)


def _epoll(scene: Scene) -> None:
    import select

    ep = select.epoll()
    scene.keep("poller", ep, ep.close)


def _ready_socket(scene: Scene) -> None:
    _socket_pair(scene, blocking=True)  # the peer has sent: readable at once


def _kqueue(scene: Scene) -> None:
    kq = select.kqueue()
    scene.keep("poller", kq, kq.close)


def _selector(kind: str) -> Callable[[Scene], None]:
    def prepare(scene: Scene) -> None:
        import selectors

        sel = getattr(selectors, kind)()
        scene.keep("selector", sel, sel.close)
        _ready_socket(scene)  # a socket: SelectSelector on Windows takes nothing else
        sel.register(scene.extra["mine"], selectors.EVENT_READ)

    return prepare


def _eventfd(scene: Scene) -> None:
    fd = os.eventfd(0)
    os.eventfd_write(fd, 1)
    scene.keep("fd", fd, lambda: os.close(fd))


def _nonblocking_eventfd(scene: Scene) -> None:
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    os.eventfd_write(fd, 1)
    scene.keep("fd", fd, lambda: os.close(fd))


def _mapped(scene: Scene) -> None:
    import mmap

    _fd(scene)
    mapped = mmap.mmap(scene.extra["fd"], 0)
    scene.keep("map", mapped, mapped.close)


def _ssl_context(scene: Scene) -> None:
    import ssl

    scene.extra["ctx"] = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    empty = scene.fresh("empty.pem")
    empty.write_text("")
    scene.extra["pem"] = str(empty)


def _tls_socket_without_peer(scene: Scene, blocking: bool = True) -> None:
    import ssl

    mine, theirs = socket.socketpair()
    mine.setblocking(blocking)
    theirs.close()  # the handshake meets end-of-file at once instead of waiting
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(mine, do_handshake_on_connect=False)
    scene.keep("tls", tls, tls.close)


# -- small call helpers, each making the one blocking call it names ---------------------


def _ignoring(*errors: type[BaseException]) -> Callable[[Callable[[], Any]], None]:
    def run(call: Callable[[], Any]) -> None:
        try:
            call()
        except errors:
            pass  # the primitive ran (and failed on this machine): the blocking call happened

    return run


_ignore_os_error = _ignoring(OSError)


def _lookup(dotted: str) -> Any:
    """Resolve ``module.attr`` at call time, so the probe goes through whatever is installed."""
    module_name, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def _sigwait_pending(which: str) -> Callable[[Scene], Any]:
    """Block SIGUSR1, make it pending on this thread, then wait for it: returns at once."""

    def call(scene: Scene) -> Any:
        import signal

        sig = signal.SIGUSR1
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
        try:
            signal.pthread_kill(threading.get_ident(), sig)
            return getattr(signal, which)({sig}, *(() if which != "sigtimedwait" else (0.5,)))
        finally:
            if sig in signal.sigpending():  # the gate stopped the wait: discard the signal
                # (ignoring a pending signal discards it, POSIX; macOS has no sigtimedwait)
                signal.signal(sig, signal.signal(sig, signal.SIG_IGN))
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    call.__name__ = f"signal_{which}"
    return call


# -- os functions and their posix twins --------------------------------------------------
#
# ``os.fsync`` and ``posix.fsync`` (``nt.fsync`` on Windows) are one C function
# reachable by two names; a patch replaces one name. Each os primitive caught by a
# patch therefore has a twin rule for ``posix`` (and ``nt``, for the rules whose
# probes hold on Windows: a file, a descriptor, a path); audit rules see both
# names (and bound ones) anyway.


def _os_patches(
    area: str,
    name: str,
    reason: str,
    args: Callable[[Scene], tuple[Any, ...]],
    *,
    prepare: Callable[[Scene], None] | None = None,
    run: Callable[[Callable[[], Any]], Any] = lambda call: call(),
    os_too: bool = True,
    windows: bool = False,
    passes_with: tuple[Callable[[Scene], tuple[Any, ...]], Callable[[Scene], None] | None] | None = None,
    **kw: Any,
) -> list[Patch]:
    """The ``os.<name>`` rule (unless blockbuster's defaults patch it) and its ``posix.<name>`` twin;
    with ``windows``, the rule holds on Windows too, and ``nt.<name>`` is the twin there.

    Each probe calls through its rule's own name; ``passes_with`` gives the
    arguments (and preparation) of the non-blocking form, for the must-pass probe.
    """
    rules = []
    platform = kw.pop("platform_has_it", hasattr(os, name))
    natives = {"posix": POSIX_SYSTEMS, **({"nt": ("win32",)} if windows else {})}
    names = {**({"os": None if windows else POSIX_SYSTEMS} if os_too else {}), **natives}
    for module, systems in names.items():
        dotted = f"{module}.{name}"

        def call(scene: Scene, dotted: str = dotted) -> Any:
            return run(lambda: _lookup(dotted)(*args(scene)))

        call.__name__ = f"call_{module}_{name}"
        passes = None
        if passes_with is not None:

            def call_nonblocking(scene: Scene, dotted: str = dotted, pass_args: Any = passes_with[0]) -> Any:
                return run(lambda: _lookup(dotted)(*pass_args(scene)))

            passes = Probe(call_nonblocking, passes_with[1])
        rules.append(
            Patch(
                area,
                dotted,
                reason if module == "os" else f"{reason} (the {module} name of os.{name})",
                fires=Probe(call, prepare),
                passes=passes,
                platform_has_it=platform,
                systems=systems,
                **kw,
            )
        )
    return rules


def _io_patches(
    owner: str, methods: tuple[str, ...], reason: str, mode: str, buffering: int = -1
) -> list[Patch]:
    """A rule per ``io.<owner>.<method>``: fires on a disk file, passes on the null device."""
    arguments = {
        "read": (4,),
        "read1": (4,),
        "peek": (1,),
        "readinto": (bytearray(4),),
        "write": (b"L",),
    }
    rules = []
    for method in methods:

        def call(scene: Scene, method: str = method) -> Any:
            return getattr(scene.extra["f"], method)(*arguments.get(method, ()))

        def call_null(scene: Scene, call: Callable[[Scene], Any] = call) -> Any:
            # The null device refuses a truncate (EINVAL) after the call got through.
            return _ignore_os_error(lambda: call(scene))

        call.__name__ = f"{owner}_{method}"
        rules.append(
            Patch(
                "files",
                f"io.{owner}.{method}",
                reason,
                fires=Probe(call, _opener(mode, buffering)),
                nonblocking_if=_not_a_disk_file,
                passes=Probe(call_null, _opener(mode, buffering, devnull=True)),
            )
        )
    return rules


def _path_patch(area: str, method: str, reason: str, call: Callable[[Scene], Any], **kw: Any) -> Patch:
    return Patch(area, f"pathlib.Path.{method}", reason, fires=Probe(call, kw.pop("prepare", None)), **kw)


_STAT = "a stat syscall: waits on the disk (and on network filesystems, the network)"
_PATHLIB_STAT = "pathlib metadata calls stat the disk (on 3.10 via os functions bound at import)"
_DIR_CHANGE = "changes directory entries on disk"


RULES: tuple[Patch | Audit, ...] = (
    # -- files: opening, and reading or writing in every buffering mode ----
    Audit(
        "files",
        "open",
        "open()/io.open/os.open reach the disk (and any mode, buffered or not)",
        fires=Probe(lambda s: open(s.file, encoding="utf-8").close()),
        raised_by=(
            "builtins.open",
            "io.open",
            "io.open_code",
            "io.FileIO",
            "os.open",
            "os.fdopen",
            "posix.open",
        ),
        # On Linux TemporaryFile opens the directory with O_TMPFILE: os.open raises "open".
        classifies=(
            "tempfile.TemporaryFile",
            "tempfile.SpooledTemporaryFile.rollover",
            "tempfile.SpooledTemporaryFile.fileno",
        ),
    ),
    *_io_patches(
        "FileIO",
        ("read", "readall", "readinto", "write"),
        "unbuffered file IO (buffering=0) is a raw syscall on a disk file",
        "r+b",
        buffering=0,
    ),
    *_io_patches(
        "FileIO", ("truncate",), "changes the file's size on disk (ftruncate, no audit event)", "r+b", 0
    ),
    *_io_patches(
        "BufferedReader",
        ("readline", "readlines", "read1", "readinto", "peek"),
        "a buffered read refills from the disk",
        "rb",
    ),
    *_io_patches(
        "BufferedRandom",
        ("readline", "readlines", "read1", "readinto"),
        "a buffered read refills from the disk",
        "r+b",
    ),
    *_io_patches("BufferedWriter", ("flush",), "flushing a buffered writer writes to the disk", "wb"),
    *_io_patches(
        "TextIOWrapper",
        ("readline", "readlines", "flush"),
        "a text read or flush goes through to the disk",
        "r+",
    ),
    _path_patch("files", "open", "opens a file on disk", lambda s: s.file.open().close()),
    _path_patch("files", "read_text", "opens and reads a file", lambda s: s.file.read_text()),
    _path_patch("files", "read_bytes", "opens and reads a file", lambda s: s.file.read_bytes()),
    _path_patch("files", "write_text", "opens and writes a file", lambda s: s.fresh("wt").write_text("x")),
    _path_patch("files", "write_bytes", "opens and writes a file", lambda s: s.fresh("wb").write_bytes(b"x")),
    *_os_patches(
        "files", "pread", "reads a disk file at an offset", lambda s: (s.extra["fd"], 4, 0), prepare=_fd
    ),
    *_os_patches(
        "files", "pwrite", "writes a disk file at an offset", lambda s: (s.extra["fd"], b"L", 0), prepare=_fd
    ),
    *_os_patches(
        "files",
        "readv",
        "reads a descriptor into buffers: a disk read, or a wait on a pipe or socket",
        lambda s: (s.extra["fd"], [bytearray(4)]),
        prepare=_fd,
        nonblocking_if=_fd_nonblocking,
        passes_with=(lambda s: (s.extra["r"], [bytearray(4)]), _nonblocking_pipe),
    ),
    *_os_patches(
        "files",
        "writev",
        "writes buffers to a descriptor: a disk write, or a wait on a full pipe",
        lambda s: (s.extra["fd"], [b"L"]),
        prepare=_fd,
        nonblocking_if=_fd_nonblocking,
        passes_with=(lambda s: (s.extra["w"], [b"L"]), _nonblocking_pipe),
    ),
    *_os_patches(
        "files",
        "preadv",
        "reads a disk file at an offset",
        lambda s: (s.extra["fd"], [bytearray(4)], 0),
        prepare=_fd,
    ),
    *_os_patches(
        "files",
        "pwritev",
        "writes a disk file at an offset",
        lambda s: (s.extra["fd"], [b"L"], 0),
        prepare=_fd,
    ),
    *_os_patches(
        "files",
        "read",
        "reads a descriptor: a disk read, or a wait on a pipe or socket",
        lambda s: (s.extra["fd"], 4),
        prepare=_fd,
        os_too=False,  # os.read: a blockbuster default
        nonblocking_if=_fd_nonblocking,
        passes_with=(lambda s: (s.extra["r"], 1), _nonblocking_pipe),
    ),
    *_os_patches(
        "files",
        "write",
        "writes a descriptor: a disk write, or a wait on a full pipe",
        lambda s: (s.extra["fd"], b"L"),
        prepare=_fd,
        os_too=False,  # os.write: a blockbuster default
        nonblocking_if=_fd_nonblocking,
        passes_with=(lambda s: (s.extra["w"], b"L"), _nonblocking_pipe),
    ),
    *_os_patches(
        "files",
        "sendfile",
        "copies file data in the kernel",
        lambda s: (s.extra["out"], s.extra["fd"], 0, 4),
        prepare=_two_fds,
        os_too=False,  # os.sendfile: a blockbuster default
    ),
    *_os_patches(
        "files",
        "copy_file_range",
        "copies file data in the kernel",
        lambda s: (s.extra["fd"], s.extra["out"], 4),
        prepare=_two_fds,
    ),
    *_os_patches(
        "files",
        "splice",
        "moves data between a pipe and a file in the kernel",
        lambda s: (s.extra["r"], s.extra["fd"], 1),
        prepare=lambda s: (_pipe(s), _fd(s)),
    ),
    *_os_patches(
        "files",
        "posix_fallocate",
        "allocates disk blocks for a file",
        lambda s: (s.extra["fd"], 0, 16),
        prepare=_fd,
        run=_ignore_os_error,  # some filesystems refuse it, after the call
    ),
    # -- metadata ------------------------------------------------------------
    *_os_patches("metadata", "lstat", _STAT, lambda s: (s.file,), windows=True),
    *_os_patches(
        "metadata",
        "fstat",
        "a stat syscall on an open file",
        lambda s: (s.extra["fd"],),
        prepare=_fd,
        windows=True,
    ),
    *_os_patches(
        "metadata", "stat", _STAT, lambda s: (s.file,), os_too=False, windows=True
    ),  # os.stat: a blockbuster default
    *_os_patches("metadata", "access", _STAT, lambda s: (s.file, os.R_OK), os_too=False, windows=True),
    *_os_patches(
        "metadata", "statvfs", "asks the filesystem for its usage", lambda s: (s.tmp,), os_too=False
    ),
    *_os_patches(
        "metadata", "fstatvfs", "asks the filesystem for its usage", lambda s: (s.extra["fd"],), prepare=_fd
    ),
    *_os_patches(
        "metadata",
        "readlink",
        "reads a link on disk",
        lambda s: (s.extra["link"],),
        prepare=_symlink,
        os_too=False,
        windows=True,  # the pathlib.Path.readlink rule's probe makes the same link everywhere
    ),
    *_os_patches(
        "metadata",
        "getcwd",
        "reads the current directory from the kernel",
        lambda s: (),
        os_too=False,
        windows=True,
    ),
    *_os_patches(
        "metadata", "getcwdb", "reads the current directory from the kernel", lambda s: (), windows=True
    ),
    *_os_patches(
        "metadata",
        "pathconf",
        "looks a path up on disk to ask its filesystem",
        lambda s: (s.file, "PC_NAME_MAX"),
    ),
    Patch(
        "metadata",
        "os.DirEntry.stat",
        "stats the entry on disk the first time (the listing holds only its name and type)",
        fires=Probe(lambda s: s.extra["entry"].stat(), _dir_entry),
        classifies=("posix.DirEntry.stat",),  # one C type, two names
    ),
    *(
        Patch(
            "metadata",
            f"os.DirEntry.{method}",
            "follows a symbolic link with a stat on disk (other entries answer from the listing)",
            fires=Probe(call, _symlink_entry),
            nonblocking_if=_not_following_a_link,
            passes=Probe(call, _dir_entry),
            classifies=(f"posix.DirEntry.{method}",),
        )
        for method, call in (
            ("is_dir", lambda s: s.extra["entry"].is_dir()),
            ("is_file", lambda s: s.extra["entry"].is_file()),
        )
    ),
    # ntpath binds these to C functions of nt that ask the disk themselves, past the os.stat rule
    *(
        Patch(
            "metadata",
            f"os.path.{function}",
            reason,
            fires=Probe(lambda s, function=function: _lookup(f"os.path.{function}")(s.file)),
            systems=("win32",),  # its probe runs there only
            min_version=since,
        )
        for function, since, reason in (
            ("isdir", (3, 10), "on Windows nt._isdir (3.12: _path_isdir) stats the disk from C"),
            ("isfile", (3, 12), "on Windows nt._path_isfile stats the disk from C"),
            ("exists", (3, 12), "on Windows nt._path_exists stats the disk from C"),
            ("lexists", (3, 13), "on Windows nt._path_lexists stats the disk from C"),
            ("isjunction", (3, 12), "on Windows it reads the reparse point (3.13: from C)"),
            ("realpath", (3, 10), "on Windows it opens the file to ask its final path, from C"),
        )
    ),
    _path_patch("metadata", "stat", _PATHLIB_STAT, lambda s: s.file.stat()),
    _path_patch("metadata", "lstat", _PATHLIB_STAT, lambda s: s.file.lstat()),
    _path_patch("metadata", "exists", _PATHLIB_STAT, lambda s: s.file.exists()),
    _path_patch("metadata", "is_dir", _PATHLIB_STAT, lambda s: s.tmp.is_dir()),
    _path_patch("metadata", "is_file", _PATHLIB_STAT, lambda s: s.file.is_file()),
    _path_patch("metadata", "is_symlink", _PATHLIB_STAT, lambda s: s.file.is_symlink()),
    _path_patch("metadata", "is_mount", _PATHLIB_STAT, lambda s: s.tmp.is_mount()),
    _path_patch("metadata", "samefile", _PATHLIB_STAT, lambda s: s.file.samefile(s.file)),
    _path_patch(
        "metadata", "owner", _PATHLIB_STAT + " and reads the account database", lambda s: s.file.owner()
    ),
    _path_patch(
        "metadata", "group", _PATHLIB_STAT + " and reads the group database", lambda s: s.file.group()
    ),
    _path_patch(
        "metadata", "readlink", "reads a link on disk", lambda s: s.extra["link"].readlink(), prepare=_symlink
    ),
    _path_patch(
        "metadata",
        "resolve",
        "resolving a path reads the current directory and follows links on disk",
        lambda s: s.file.resolve(),
    ),
    _path_patch(
        "metadata",
        "absolute",
        "a relative path is joined to the current directory, read from the kernel",
        lambda s: Path("relative.txt").absolute(),
        nonblocking_if=lambda p, *_, **__: p.is_absolute(),
        passes=Probe(lambda s: Path("/srv/absolute.txt").absolute()),
    ),
    _path_patch("metadata", "cwd", "reads the current directory from the kernel", lambda s: Path.cwd()),
    # -- directories: listing, creation, removal, renaming --------------------
    Audit(
        "directories",
        "os.listdir",
        "lists a directory on disk",
        fires=Probe(lambda s: os.listdir(s.tmp)),
        raised_by=("os.listdir", "posix.listdir"),
    ),
    Audit(
        "directories",
        "os.scandir",
        "lists a directory on disk",
        fires=Probe(lambda s: os.scandir(s.tmp).close()),
        raised_by=("os.scandir", "posix.scandir", "os.walk", "os.fwalk"),
    ),
    Audit(
        "directories",
        "glob.glob",
        "globbing lists directories",
        fires=Probe(lambda s: glob.glob(str(s.tmp / "*.txt"))),
        raised_by=("glob.glob", "glob.iglob"),
    ),
    Audit(
        "directories",
        "os.mkdir",
        "creates a directory entry",
        fires=Probe(lambda s: os.mkdir(s.fresh("mkdir"))),
        raised_by=("os.mkdir", "posix.mkdir", "os.makedirs"),
    ),
    Audit(
        "directories",
        "os.rmdir",
        "removes a directory entry",
        fires=Probe(lambda s: os.rmdir(s.extra["empty"]), _empty_dir),
        raised_by=("os.rmdir", "posix.rmdir", "os.removedirs"),
    ),
    Audit(
        "directories",
        "os.remove",
        "unlinks a file (os.remove and os.unlink)",
        fires=Probe(lambda s: os.remove(s.extra["src"]), _source),
        raised_by=("os.remove", "os.unlink", "posix.remove", "posix.unlink"),
    ),
    Audit(
        "directories",
        "os.rename",
        "renames a directory entry (os.rename and os.replace)",
        fires=Probe(lambda s: os.rename(s.extra["src"], s.fresh("renamed")), _source),
        raised_by=("os.rename", "os.replace", "os.renames", "posix.rename", "posix.replace"),
    ),
    Audit(
        "directories",
        "os.link",
        "creates a hard link on disk",
        fires=Probe(lambda s: os.link(s.file, s.fresh("hard")), None),
        raised_by=("os.link", "posix.link"),
    ),
    Audit(
        "directories",
        "os.symlink",
        "creates a symbolic link on disk",
        fires=Probe(lambda s: os.symlink(s.file, s.fresh("sym"))),
        raised_by=("os.symlink", "posix.symlink"),
    ),
    *_os_patches(
        "directories",
        "chroot",
        "looks the new root directory up on disk",
        lambda s: (s.tmp / "missing",),  # never a real chroot: the test process keeps its root
        run=_ignore_os_error,
    ),
    *_os_patches("directories", "mkfifo", _DIR_CHANGE, lambda s: (s.fresh("fifo"),)),
    *_os_patches("directories", "mknod", _DIR_CHANGE, lambda s: (s.fresh("node"), 0o600)),
    Audit(
        "directories",
        "os.chdir",
        "looks the new working directory up on disk",
        fires=Probe(lambda s: os.chdir(s.extra["cwd"]), lambda s: s.keep("cwd", os.getcwd())),
        raised_by=("os.chdir", "os.fchdir", "posix.chdir", "posix.fchdir"),
    ),
    Audit(
        "directories",
        "shutil.rmtree",
        "removes a whole tree",
        fires=Probe(lambda s: shutil.rmtree(s.extra["dir"]), _directory),
        raised_by=("shutil.rmtree",),
    ),
    Audit(
        "directories",
        "shutil.copyfile",
        "copies file data",
        fires=Probe(lambda s: shutil.copyfile(s.file, s.fresh("copy"))),
        raised_by=("shutil.copyfile", "shutil.copy", "shutil.copy2", "shutil.copytree", "shutil.move"),
    ),
    Audit(
        "directories",
        "shutil.copymode",
        "reads and changes file permissions on disk",
        fires=Probe(lambda s: shutil.copymode(s.file, s.file)),
        raised_by=("shutil.copymode",),
    ),
    Audit(
        "directories",
        "shutil.copystat",
        "reads and changes file metadata on disk",
        fires=Probe(lambda s: shutil.copystat(s.file, s.file)),
        raised_by=("shutil.copystat",),
    ),
    Audit(
        "directories",
        "shutil.make_archive",
        "reads a tree and writes an archive",
        fires=Probe(
            lambda s: shutil.make_archive(str(s.fresh("archive")), "tar", s.extra["dir"]), _directory
        ),
        raised_by=("shutil.make_archive",),
    ),
    Audit(
        "directories",
        "shutil.unpack_archive",
        "reads an archive and writes its files",
        fires=Probe(
            lambda s: shutil.unpack_archive(s.extra["archive"], s.fresh("unpacked"), **_DATA_FILTER),
            lambda s: (
                _directory(s),
                s.keep("archive", shutil.make_archive(str(s.fresh("a")), "tar", s.extra["dir"])),
            ),
        ),
        raised_by=("shutil.unpack_archive",),
    ),
    Audit(
        "directories",
        "shutil.chown",
        "changes file ownership on disk",
        fires=Probe(lambda s: shutil.chown(s.file, user=os.getuid())),
        raised_by=("shutil.chown",),
        systems=POSIX_SYSTEMS,
    ),
    _path_patch("directories", "iterdir", "lists directories on disk", lambda s: list(s.tmp.iterdir())),
    _path_patch("directories", "glob", "lists directories on disk", lambda s: list(s.tmp.glob("*.txt"))),
    _path_patch("directories", "rglob", "lists directories on disk", lambda s: list(s.tmp.rglob("*.txt"))),
    _path_patch(
        "directories", "walk", "lists directories on disk", lambda s: list(s.tmp.walk()), min_version=(3, 12)
    ),
    _path_patch("directories", "mkdir", _DIR_CHANGE, lambda s: s.fresh("pmkdir").mkdir()),
    _path_patch("directories", "rmdir", _DIR_CHANGE, lambda s: s.extra["empty"].rmdir(), prepare=_empty_dir),
    _path_patch("directories", "unlink", _DIR_CHANGE, lambda s: s.extra["src"].unlink(), prepare=_source),
    _path_patch(
        "directories",
        "rename",
        _DIR_CHANGE,
        lambda s: s.extra["src"].rename(s.fresh("prenamed")),
        prepare=_source,
    ),
    _path_patch(
        "directories",
        "replace",
        _DIR_CHANGE,
        lambda s: s.extra["src"].replace(s.fresh("preplaced")),
        prepare=_source,
    ),
    _path_patch("directories", "touch", _DIR_CHANGE, lambda s: s.fresh("touched").touch()),
    _path_patch("directories", "symlink_to", _DIR_CHANGE, lambda s: s.fresh("sym").symlink_to(s.file)),
    _path_patch("directories", "hardlink_to", _DIR_CHANGE, lambda s: s.fresh("hard").hardlink_to(s.file)),
    # -- durability, size, permissions, ownership, times ------------------------
    *_os_patches(
        "durability",
        "fsync",
        "waits until the disk has the data: milliseconds to seconds",
        lambda s: (s.extra["fd"],),
        prepare=_fd,
        windows=True,
    ),
    *_os_patches(
        "durability",
        "fdatasync",
        "waits until the disk has the data",
        lambda s: (s.extra["fd"],),
        prepare=_fd,
        platform_has_it=hasattr(os, "fdatasync"),
    ),
    *_os_patches("durability", "sync", "waits until every disk has every dirty page", lambda s: ()),
    Audit(
        "durability",
        "os.truncate",
        "changes a file's size on disk (os.truncate and os.ftruncate)",
        fires=Probe(lambda s: os.truncate(s.file, 4)),
        raised_by=("os.truncate", "os.ftruncate", "posix.truncate", "posix.ftruncate"),
    ),
    Audit(
        "permissions",
        "os.chmod",
        "changes file permissions on disk",
        fires=Probe(lambda s: os.chmod(s.file, 0o644)),
        raised_by=("os.chmod", "os.fchmod", "os.lchmod", "posix.chmod", "posix.fchmod", "posix.lchmod"),
    ),
    Audit(
        "permissions",
        "os.chflags",
        "changes file flags on disk (macOS, BSD: os.chflags and os.lchflags)",
        fires=Probe(lambda s: _lookup("os.chflags")(s.file, 0)),
        raised_by=("os.chflags", "os.lchflags", "posix.chflags", "posix.lchflags"),
        platform_has_it=hasattr(os, "chflags"),  # its probe runs where chflags exists, never on Linux
    ),
    Audit(
        "permissions",
        "os.chown",
        "changes file ownership on disk",
        fires=Probe(lambda s: os.chown(s.file, os.getuid(), -1)),
        raised_by=("os.chown", "os.fchown", "os.lchown", "posix.chown", "posix.fchown", "posix.lchown"),
        systems=POSIX_SYSTEMS,
    ),
    Audit(
        "permissions",
        "os.utime",
        "changes file times on disk",
        fires=Probe(lambda s: os.utime(s.file)),
        raised_by=("os.utime", "posix.utime"),
    ),
    *(
        Audit(
            "permissions",
            f"os.{op}xattr",
            "reads or changes extended attributes on disk",
            fires=Probe(call),
            raised_by=(f"os.{op}xattr", f"posix.{op}xattr"),
            platform_has_it=hasattr(os, "getxattr"),
        )
        for op, call in (
            ("get", lambda s: _ignore_os_error(lambda: os.getxattr(s.file, "user.runlog"))),
            ("set", lambda s: _ignore_os_error(lambda: os.setxattr(s.file, "user.runlog", b"1"))),
            ("list", lambda s: os.listxattr(s.file)),
            ("remove", lambda s: _ignore_os_error(lambda: os.removexattr(s.file, "user.runlog"))),
        )
    ),
    _path_patch("permissions", "chmod", "changes file permissions on disk", lambda s: s.file.chmod(0o644)),
    # -- temporary files ----------------------------------------------------------
    Audit(
        "tempfiles",
        "tempfile.mkstemp",
        "creates a file on disk (NamedTemporaryFile too)",
        fires=Probe(lambda s: os.close(tempfile.mkstemp(dir=s.tmp)[0])),
        raised_by=("tempfile.mkstemp", "tempfile.NamedTemporaryFile", "tempfile.TemporaryFile"),
    ),
    Audit(
        "tempfiles",
        "tempfile.mkdtemp",
        "creates a directory on disk (TemporaryDirectory too)",
        fires=Probe(lambda s: tempfile.mkdtemp(dir=s.tmp)),
        raised_by=("tempfile.mkdtemp", "tempfile.TemporaryDirectory"),
    ),
    # -- sleeping and signals -------------------------------------------------------
    Audit(
        "sleep",
        "time.sleep",
        "stops the whole loop; from 3.13 also catches a sleep bound before arming",
        fires=Probe(lambda s: _prebound_sleep(0)),
        min_version=(3, 13),
        raised_by=("time.sleep",),
    ),
    *(
        Patch(
            "sleep",
            f"signal.{which}",
            "waits for a signal to arrive",
            fires=Probe(_sigwait_pending(which)),
            systems=POSIX_SYSTEMS,
            platform_has_it=hasattr(signal, which),  # macOS has sigwait only
            **(
                {
                    "nonblocking_if": _signals_timeout_zero,
                    "passes": Probe(lambda s: _lookup("signal.sigtimedwait")({_usr1()}, 0)),
                }
                if which == "sigtimedwait"
                else {}
            ),
        )
        for which in ("sigwait", "sigwaitinfo", "sigtimedwait")
    ),
    Patch(
        "metadata",
        "time.tzset",
        "reads the time zone file from disk",
        fires=Probe(lambda s: _lookup("time.tzset")()),
        platform_has_it=hasattr(time, "tzset"),
    ),
    # -- subprocesses -----------------------------------------------------------
    Audit(
        "subprocess",
        "subprocess.Popen",
        "fork/exec and, with run/check_output, waiting for the child",
        fires=Probe(lambda s: subprocess.Popen(["true"]).wait()),
        raised_by=(
            "subprocess.Popen",
            "subprocess.run",
            "subprocess.call",
            "subprocess.check_call",
            "subprocess.check_output",
            "subprocess.getoutput",
            "subprocess.getstatusoutput",
            "os.popen",
        ),
    ),
    Audit(
        "subprocess",
        "_wmi.exec_query",
        "asks the WMI service, another process, and waits for its answer (platform on Windows)",
        fires=Probe(lambda s: _lookup("_wmi.exec_query")("SELECT Name FROM Win32_Processor")),
        # platform's Windows answers come from WMI from 3.12 (uname's first call, then cached)
        raised_by=tuple(
            f"platform.{n}"
            for n in (
                "machine",
                "node",
                "platform",
                "processor",
                "release",
                "system",
                "uname",
                "version",
                "win32_ver",
            )
        ),
        min_version=(3, 12),
        systems=("win32",),  # its probe runs there only
    ),
    Audit(
        "subprocess",
        "os.system",
        "runs a shell and waits for it",
        fires=Probe(lambda s: os.system("true")),
        raised_by=("os.system", "posix.system"),
    ),
    *_os_patches(
        "subprocess",
        "waitpid",
        "waits for a child process to exit",
        lambda s: (s.extra["proc"].pid, 0),
        prepare=_child,
        nonblocking_if=lambda _pid, options=0, *_, **__: _wnohang(options),
        passes_with=(lambda s: (s.extra["proc"].pid, os.WNOHANG), _child),
    ),
    *_os_patches(
        "subprocess",
        "wait",
        "waits for any child process to exit",
        lambda s: (),
        prepare=_child,  # the child exits in 50 ms: wait returns it (or an older zombie)
        run=_ignoring(ChildProcessError),
    ),
    *_os_patches(
        "subprocess",
        "wait3",
        "waits for any child process to exit",
        lambda s: (0,),
        prepare=_child,  # the child exits in 50 ms: wait returns it (or an older zombie)
        run=_ignoring(ChildProcessError),
        nonblocking_if=lambda options, *_, **__: _wnohang(options),
        passes_with=(lambda s: (os.WNOHANG,), None),
    ),
    *_os_patches(
        "subprocess",
        "wait4",
        "waits for a child process to exit",
        lambda s: (s.extra["proc"].pid, 0),
        prepare=_child,
        nonblocking_if=lambda _pid, options, *_, **__: _wnohang(options),
        passes_with=(lambda s: (s.extra["proc"].pid, os.WNOHANG), _child),
    ),
    *_os_patches(
        "subprocess",
        "waitid",
        "waits for a child process to change state",
        lambda s: (os.P_PID, s.extra["proc"].pid, os.WEXITED | os.WNOWAIT),
        prepare=_child,
        nonblocking_if=lambda _idtype, _id, options, *_, **__: _wnohang(options),
        passes_with=(lambda s: (os.P_PID, s.extra["proc"].pid, os.WEXITED | os.WNOHANG | os.WNOWAIT), _child),
    ),
    *_os_patches(
        "subprocess",
        "eventfd_read",
        "waits until another thread or process writes the eventfd",
        lambda s: (s.extra["fd"],),
        prepare=_eventfd,
        nonblocking_if=_fd_nonblocking,
        passes_with=(lambda s: (s.extra["fd"],), _nonblocking_eventfd),
    ),
    Patch(
        "subprocess",
        "subprocess.Popen.wait",
        "waits for a child process to exit",
        fires=Probe(lambda s: s.extra["proc"].wait(), _child),
        nonblocking_if=lambda _p, timeout=None, **__: timeout == 0,
        passes=Probe(
            lambda s: _ignoring(subprocess.TimeoutExpired)(lambda: s.extra["proc"].wait(timeout=0)), _child
        ),
    ),
    Patch(
        "subprocess",
        "subprocess.Popen.communicate",
        "waits for a child process and its pipes",
        fires=Probe(lambda s: s.extra["proc"].communicate(), _child),
    ),
    # -- sockets, name resolution, TLS --------------------------------------------
    Audit(
        "network",
        "socket.getaddrinfo",
        "name resolution: may wait on DNS for seconds",
        fires=Probe(lambda s: socket.getaddrinfo("localhost", 80)),
        raised_by=("socket.getaddrinfo", "socket.create_connection"),
    ),
    Audit(
        "network",
        "socket.gethostbyname",
        "name resolution: may wait on DNS",
        fires=Probe(lambda s: socket.gethostbyname("localhost")),
        raised_by=("socket.gethostbyname", "socket.gethostbyname_ex"),
    ),
    Audit(
        "network",
        "socket.gethostbyaddr",
        "reverse name resolution: may wait on DNS",
        fires=Probe(lambda s: _ignore_os_error(lambda: socket.gethostbyaddr("127.0.0.1"))),
        raised_by=("socket.gethostbyaddr", "socket.getfqdn"),
    ),
    Audit(
        "network",
        "socket.getnameinfo",
        "reverse name resolution: may wait on DNS",
        fires=Probe(lambda s: socket.getnameinfo(("127.0.0.1", 80), 0)),
        raised_by=("socket.getnameinfo",),
    ),
    Audit(
        "network",
        "socket.getservbyname",
        "reads the services database (/etc/services, or NSS)",
        fires=Probe(lambda s: _ignore_os_error(lambda: socket.getservbyname("http"))),
        raised_by=("socket.getservbyname",),
    ),
    Audit(
        "network",
        "socket.getservbyport",
        "reads the services database (/etc/services, or NSS)",
        fires=Probe(lambda s: _ignore_os_error(lambda: socket.getservbyport(80))),
        raised_by=("socket.getservbyport",),
    ),
    Audit(
        "network",
        "socket.connect",
        "a blocking socket connect waits for the peer",
        fires=Probe(lambda s: _c_connect(s.extra["address"]), _listener),
        nonblocking_if=_socket_nonblocking,
        passes=Probe(
            lambda s: s.extra["sock"].connect_ex(s.extra["address"]), _listener_and_nonblocking_socket
        ),
        raised_by=("socket.socket.connect", "socket.socket.connect_ex", "socket.create_connection"),
    ),
    Audit(
        "network",
        "socket.bind",
        "binding to a host name resolves it first (DNS), inside the C call",
        fires=Probe(lambda s: s.extra["sock"].bind(("localhost", 0)), _unbound_socket),
        nonblocking_if=_numeric_address,
        passes=Probe(lambda s: s.extra["sock"].bind(("127.0.0.1", 0)), _unbound_socket),
        raised_by=("socket.socket.bind", "socket.create_server", "ssl.SSLSocket.bind"),
    ),
    Patch(
        "network",
        "socket.getprotobyname",
        "reads the protocols database (/etc/protocols, or NSS)",
        fires=Probe(lambda s: _lookup("socket.getprotobyname")("tcp")),
    ),
    Audit(
        "network",
        "socket.sendmsg",
        "sendmsg on a blocking socket waits while the peer's buffer is full",
        fires=Probe(lambda s: s.extra["mine"].sendmsg([b"x"]), lambda s: _socket_pair(s, blocking=True)),
        nonblocking_if=_socket_nonblocking,
        passes=Probe(lambda s: s.extra["mine"].sendmsg([b"x"]), lambda s: _socket_pair(s, blocking=False)),
        raised_by=("socket.socket.sendmsg", "socket.socket.sendmsg_afalg", "socket.send_fds"),
        platform_has_it=hasattr(socket.socket, "sendmsg"),
    ),
    Patch(
        "network",
        "socket.socket.recvmsg_into",
        "waits for the peer to send",
        fires=Probe(
            lambda s: s.extra["mine"].recvmsg_into([bytearray(8)]), lambda s: _socket_pair(s, blocking=True)
        ),
        nonblocking_if=_sock_method_nonblocking,
        passes=Probe(
            lambda s: s.extra["mine"].recvmsg_into([bytearray(8)]), lambda s: _socket_pair(s, blocking=False)
        ),
        platform_has_it=hasattr(socket.socket, "recvmsg_into"),
    ),
    *(
        Patch(
            "network",
            f"ssl.SSLContext.{method}",
            "reads certificate or parameter files from disk",
            fires=Probe(call, _ssl_context),
            **extra,
        )
        for method, call, extra in (
            (
                "load_cert_chain",
                lambda s: _ignore_os_error(lambda: s.extra["ctx"].load_cert_chain(s.extra["pem"])),
                {},
            ),
            (
                "load_verify_locations",
                lambda s: _ignore_os_error(lambda: s.extra["ctx"].load_verify_locations(s.extra["pem"])),
                {
                    "nonblocking_if": _only_in_memory_ca,
                    "passes": Probe(
                        lambda s: _ignoring(ValueError, OSError)(
                            lambda: s.extra["ctx"].load_verify_locations(cadata="")
                        ),
                        _ssl_context,
                    ),
                },
            ),
            ("load_default_certs", lambda s: s.extra["ctx"].load_default_certs(), {}),
            ("set_default_verify_paths", lambda s: s.extra["ctx"].set_default_verify_paths(), {}),
            (
                "load_dh_params",
                lambda s: _ignore_os_error(lambda: s.extra["ctx"].load_dh_params(s.extra["pem"])),
                {},
            ),
        )
    ),
    *(
        Patch(
            "network",
            f"ssl.{function}",
            "reads the Windows certificate store (the registry, on disk)",
            fires=Probe(lambda s, function=function: _lookup(f"ssl.{function}")("CA")),
            systems=("win32",),  # its probe runs there only
        )
        for function in ("enum_certificates", "enum_crls")
    ),
    Patch(
        "network",
        "ssl.SSLSocket.do_handshake",
        "a TLS handshake on a blocking socket waits for the peer",
        fires=Probe(lambda s: _ignore_os_error(s.extra["tls"].do_handshake), _tls_socket_without_peer),
        nonblocking_if=_sock_method_nonblocking,
        passes=Probe(
            lambda s: _ignore_os_error(s.extra["tls"].do_handshake),
            lambda s: _tls_socket_without_peer(s, blocking=False),
        ),
        classifies=("ssl.SSLContext.wrap_socket",),  # and ssl.wrap_socket up to 3.11: see the classification
    ),
    Patch(
        "network",
        "ssl.SSLSocket.unwrap",
        "the TLS close handshake on a blocking socket waits for the peer",
        fires=Probe(
            lambda s: _ignoring(OSError, ValueError)(s.extra["tls"].unwrap), _tls_socket_without_peer
        ),
    ),
    # -- waits on descriptors -------------------------------------------------------
    Patch(
        "descriptors",
        "select.select",
        "waits until a descriptor is ready or the timeout passes",
        # a socket: Windows' select waits on sockets only
        fires=Probe(lambda s: _lookup("select.select")([s.extra["mine"]], [], [], 0.5), _ready_socket),
        nonblocking_if=_select_nonblocking,
        passes=Probe(lambda s: _lookup("select.select")([s.extra["mine"]], [], [], 0), _ready_socket),
        exempt_callers=_LOOP_WAIT,  # a selector event loop on Windows waits through select.select
    ),
    Patch(
        "descriptors",
        "select.epoll.poll",
        "waits until a registered descriptor is ready",
        fires=Probe(lambda s: s.extra["poller"].poll(0.001), _epoll),
        nonblocking_if=_poll_nonblocking,
        passes=Probe(lambda s: s.extra["poller"].poll(0), _epoll),
        exempt_callers=_LOOP_WAIT,
        systems=LINUX_ONLY,
    ),
    Patch(
        "descriptors",
        "select.kqueue.control",
        "with events to return, waits until one fires or the timeout passes (macOS, BSD)",
        fires=Probe(lambda s: s.extra["poller"].control(None, 1, 0.001), _kqueue),
        nonblocking_if=_kqueue_nonblocking,
        passes=Probe(lambda s: s.extra["poller"].control(None, 1, 0), _kqueue),
        exempt_callers=_LOOP_WAIT,
        # where kqueue exists (macOS, the BSDs): its probe runs there, never on Linux
        platform_has_it=hasattr(select, "kqueue"),
    ),
    *(
        Patch(
            "descriptors",
            f"selectors.{kind}.select",
            "waits until a registered descriptor is ready",
            fires=Probe(lambda s: s.extra["selector"].select(0.5), _selector(kind)),
            nonblocking_if=_selector_nonblocking,
            passes=Probe(lambda s: s.extra["selector"].select(0), _selector(kind)),
            exempt_callers=_LOOP_WAIT,
            systems=systems,
            platform_has_it=hasattr(selectors, kind),
        )
        # selectors.DefaultSelector is one of these classes (the classification says which, per system)
        for kind, systems in (
            ("SelectSelector", None),
            ("PollSelector", POSIX_SYSTEMS),
            ("EpollSelector", LINUX_ONLY),
            ("KqueueSelector", None),  # where kqueue exists: platform_has_it below
        )
    ),
    # -- waits on threads, futures and queues ---------------------------------------
    Patch(
        "waits",
        "threading.Thread.join",
        "waits for another thread (on 3.13 through a C handle the Lock rule misses)",
        fires=Probe(lambda s: s.extra["thread"].join(0.001), _alive_thread),
        nonblocking_if=_thread_not_alive,
        passes=Probe(lambda s: s.extra["thread"].join(), _finished_thread),
    ),
    Patch(
        "waits",
        "threading.Event.wait",
        "waits for another thread to set the event",
        fires=Probe(lambda s: threading.Event().wait(0.001)),
        nonblocking_if=_event_is_set,
        passes=Probe(lambda s: s.extra["event"].wait(), _set_event),
        classifies=("concurrent.futures.as_completed",),
    ),
    Patch(
        "waits",
        "threading.Condition.wait",
        "waits for another thread to notify",
        fires=Probe(lambda s: _condition_wait(threading.Condition())),
        classifies=("threading.Condition.wait_for",),
    ),
    Patch(
        "waits",
        "threading.Semaphore.acquire",
        "waits for another thread to release",
        fires=Probe(lambda s: threading.Semaphore(1).acquire()),
        nonblocking_if=_nonblocking_acquire,
        passes=Probe(lambda s: threading.Semaphore(0).acquire(blocking=False)),
        classifies=("threading.BoundedSemaphore.acquire",),
    ),
    Patch(
        "waits",
        "threading.Semaphore.__enter__",
        "`with semaphore:` waits like acquire (the class binds __enter__ to acquire, past the acquire rule)",
        fires=Probe(lambda s: _enter(threading.Semaphore(1))),
        runtime_only=(
            "astroid does not follow the class-body alias __enter__ = acquire, so the static half "
            "cannot name this call; the gate catches it at run time"
        ),
    ),
    Patch(
        "waits",
        "threading.Barrier.wait",
        "waits for other threads to arrive",
        fires=Probe(lambda s: threading.Barrier(1).wait()),
    ),
    Patch(
        "waits",
        "concurrent.futures.Future.result",
        "waits for a worker to finish",
        fires=Probe(
            lambda s: _ignoring(concurrent.futures.TimeoutError)(
                lambda: concurrent.futures.Future().result(0.001)
            )
        ),
        nonblocking_if=_future_done,
        passes=Probe(lambda s: s.extra["future"].result(), _done_future),
    ),
    Patch(
        "waits",
        "concurrent.futures.Future.exception",
        "waits for a worker to finish",
        fires=Probe(
            lambda s: _ignoring(concurrent.futures.TimeoutError)(
                lambda: concurrent.futures.Future().exception(0.001)
            )
        ),
        nonblocking_if=_future_done,
        passes=Probe(lambda s: s.extra["future"].exception(), _done_future),
    ),
    Patch(
        "waits",
        "concurrent.futures.wait",
        "waits for workers to finish",
        fires=Probe(lambda s: concurrent.futures.wait([concurrent.futures.Future()], timeout=0.001)),
    ),
    Patch(
        "waits",
        "queue.Queue.get",
        "waits for a producer thread",
        fires=Probe(lambda s: _ignoring(queue.Empty)(lambda: queue.Queue().get(timeout=0.001))),
        nonblocking_if=_queue_get_ready,
        passes=Probe(lambda s: s.extra["queue"].get_nowait(), _queue_with_item),
        classifies=("queue.LifoQueue.get", "queue.PriorityQueue.get"),
    ),
    Patch(
        "waits",
        "queue.Queue.put",
        "waits for a consumer thread when the queue is full",
        fires=Probe(
            lambda s: _ignoring(queue.Full)(lambda: s.extra["queue"].put(2, timeout=0.001)), _full_queue
        ),
        nonblocking_if=_queue_put_ready,
        passes=Probe(lambda s: queue.Queue().put(1)),
        classifies=("queue.LifoQueue.put", "queue.PriorityQueue.put"),
    ),
    Patch(
        "waits",
        "queue.Queue.join",
        "waits until consumers mark every item done",
        fires=Probe(lambda s: s.extra["queue"].join(), _unfinished_queue),
        nonblocking_if=_no_unfinished_tasks,
        passes=Probe(lambda s: queue.Queue().join()),
        classifies=("queue.LifoQueue.join", "queue.PriorityQueue.join"),
    ),
    Patch(
        "waits",
        "queue.SimpleQueue.get",
        "waits for a producer thread",
        fires=Probe(lambda s: _ignoring(queue.Empty)(lambda: queue.SimpleQueue().get(timeout=0.001))),
        nonblocking_if=_queue_get_ready,
        passes=Probe(lambda s: s.extra["queue"].get(), _simple_queue_with_item),
    ),
    # -- inter-process connections (multiprocessing) -----------------------------------
    Patch(
        "processes",
        "multiprocessing.connection.wait",
        "waits until a connection, socket or process sentinel is ready",
        fires=Probe(lambda s: _lookup("multiprocessing.connection.wait")([s.extra["conn"]], 0.5), _mp_pipe),
        nonblocking_if=_connection_wait_nonblocking,
        passes=Probe(lambda s: _lookup("multiprocessing.connection.wait")([s.extra["conn"]], 0), _mp_pipe),
    ),
    *(
        Patch(
            "processes",
            f"multiprocessing.connection.Connection.{method}",
            reason,
            fires=Probe(call, _mp_pipe),
            **extra,
        )
        for method, reason, call, extra in (
            ("recv", "waits for the other process to send", lambda s: s.extra["conn"].recv(), {}),
            ("recv_bytes", "waits for the other process to send", lambda s: s.extra["conn"].recv_bytes(), {}),
            (
                "recv_bytes_into",
                "waits for the other process to send",
                lambda s: s.extra["conn"].recv_bytes_into(bytearray(64)),
                {},
            ),
            (
                "poll",
                "with a timeout, waits for the other process to send",
                lambda s: s.extra["conn"].poll(0.5),
                {
                    "nonblocking_if": _connection_poll_nonblocking,
                    "passes": Probe(lambda s: s.extra["conn"].poll(), _mp_pipe),
                },
            ),
            (
                "send",
                "waits for the other process to drain a full pipe",
                lambda s: s.extra["conn"].send(1),
                {},
            ),
            (
                "send_bytes",
                "waits for the other process to drain a full pipe",
                lambda s: s.extra["conn"].send_bytes(b"x"),
                {},
            ),
        )
    ),
    Patch(
        "processes",
        "multiprocessing.connection.Listener.accept",
        "waits for another process to connect",
        fires=Probe(lambda s: s.extra["listener"].accept().close(), _mp_listener),
    ),
    # -- account databases ----------------------------------------------------------------
    *(
        Patch(
            "accounts",
            f"{module}.{function}",
            "reads the account database: /etc files, or NSS (LDAP, SSSD: the network)",
            fires=Probe(call),
            systems=POSIX_SYSTEMS,
        )
        for module, function, call in (
            ("pwd", "getpwuid", lambda s: _lookup("pwd.getpwuid")(os.getuid())),
            ("pwd", "getpwnam", lambda s: _ignoring(KeyError)(lambda: _lookup("pwd.getpwnam")("root"))),
            ("pwd", "getpwall", lambda s: _lookup("pwd.getpwall")()),
            ("grp", "getgrgid", lambda s: _ignoring(KeyError)(lambda: _lookup("grp.getgrgid")(os.getgid()))),
            ("grp", "getgrnam", lambda s: _ignoring(KeyError)(lambda: _lookup("grp.getgrnam")("root"))),
            ("grp", "getgrall", lambda s: _lookup("grp.getgrall")()),
        )
    ),
    *_os_patches(
        "accounts",
        "getgrouplist",
        "reads the group database (NSS: maybe the network)",
        lambda s: ("root", 0),
    ),
    *_os_patches(
        "accounts", "getlogin", "reads the login records (utmp) on disk", lambda s: (), run=_ignore_os_error
    ),
    # -- sqlite ---------------------------------------------------------------------
    Audit(
        "sqlite",
        "sqlite3.connect",
        "opens (and may create or lock) a database file",
        fires=Probe(lambda s: _prebound_connect(":memory:").close()),
        raised_by=("sqlite3.connect",),
    ),
    Patch(
        "sqlite",
        "sqlite3.connect",
        "opens (and may create or lock) a database file",
        fires=Probe(lambda s: sqlite3.connect(":memory:").close()),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.close",
        "closing may checkpoint and write the database file",
        fires=Probe(lambda s: s.extra["conn"].close(), _sqlite),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.load_extension",
        "loads a shared library from disk",
        fires=Probe(
            lambda s: _ignoring(sqlite3.OperationalError)(
                lambda: s.extra["conn"].load_extension(str(s.tmp / "missing-extension"))
            ),
            _sqlite_extensions,
        ),
        # a build option: python.org's macOS and Windows builds have it, this Linux build may not
        platform_has_it=hasattr(sqlite3.Connection, "load_extension"),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.backup",
        "copies a whole database, page by page",
        fires=Probe(lambda s: s.extra["conn"].backup(s.extra["target"]), _sqlite_pair),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.iterdump",
        "reads the whole database",
        fires=Probe(lambda s: list(s.extra["conn"].iterdump()), _sqlite),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.serialize",
        "reads the whole database",
        fires=Probe(lambda s: s.extra["conn"].serialize(), _sqlite_blob),
        min_version=(3, 11),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.deserialize",
        "replaces the whole database",
        fires=Probe(lambda s: s.extra["conn"].deserialize(s.extra["image"]), _sqlite_image),
        min_version=(3, 11),
    ),
    Patch(
        "sqlite",
        "sqlite3.Connection.blobopen",
        "opens a blob: reads the database file",
        fires=Probe(lambda s: s.extra["conn"].blobopen("t", "b", 1).close(), _sqlite_blob),
        min_version=(3, 11),
    ),
    *(
        Patch(
            "sqlite",
            f"sqlite3.Blob.{method}",
            "reads or writes the database file",
            fires=Probe(call, _sqlite_blob),
            min_version=(3, 11),
        )
        for method, call in (
            ("read", lambda s: s.extra["blob"].read(1)),
            ("write", lambda s: s.extra["blob"].write(b"x")),
        )
    ),
    Patch(
        "files",
        "dbm.open",
        "opens (and may create) a database file; with flag 'n' no 'open' event is raised",
        fires=Probe(lambda s: _lookup("dbm.open")(str(s.fresh("db")), "n").close()),
    ),
    # -- file locks ------------------------------------------------------------------
    Audit(
        "locks",
        "fcntl.flock",
        "a blocking flock waits for another process",
        fires=Probe(lambda s: _lookup("fcntl.flock")(s.extra["fd"], _lookup("fcntl.LOCK_EX")), _fd),
        nonblocking_if=_flock_nonblocking,
        passes=Probe(lambda s: _flock_try_and_release(s.extra["fd"], "flock"), _fd),
        systems=POSIX_SYSTEMS,
        raised_by=("fcntl.flock",),
    ),
    Audit(
        "locks",
        "fcntl.lockf",
        "a blocking lockf waits for another process",
        fires=Probe(lambda s: _lookup("fcntl.lockf")(s.extra["fd"], _lookup("fcntl.LOCK_EX")), _fd),
        nonblocking_if=_lockf_nonblocking,
        passes=Probe(lambda s: _flock_try_and_release(s.extra["fd"], "lockf"), _fd),
        systems=POSIX_SYSTEMS,
        raised_by=("fcntl.lockf",),
    ),
    Audit(
        "locks",
        "fcntl.fcntl",
        "F_SETLKW (and F_OFD_SETLKW) waits for another process to release a record lock",
        fires=Probe(
            lambda s: _ignore_os_error(
                lambda: _lookup("fcntl.fcntl")(s.extra["fd"], _lookup("fcntl.F_SETLKW"), _flock_struct())
            ),
            _fd,
        ),
        nonblocking_if=_fcntl_nonblocking,
        passes=Probe(lambda s: _lookup("fcntl.fcntl")(s.extra["fd"], _lookup("fcntl.F_GETFL")), _fd),
        systems=POSIX_SYSTEMS,
        raised_by=("fcntl.fcntl",),
    ),
    Audit(
        "locks",
        "msvcrt.locking",
        "LK_LOCK and LK_RLCK retry a held lock once a second, ten times (Windows)",
        fires=Probe(lambda s: _msvcrt_lock_and_release(s.extra["fd"], "LK_LOCK"), _fd),
        nonblocking_if=_msvcrt_locking_nonblocking,
        passes=Probe(lambda s: _msvcrt_lock_and_release(s.extra["fd"], "LK_NBLCK"), _fd),
        systems=("win32",),  # its probes run there only
        raised_by=("msvcrt.locking",),
    ),
    Audit(
        "locks",
        "os.lockf",
        "F_LOCK waits for another process to release the region",
        fires=Probe(lambda s: os.lockf(s.extra["fd"], os.F_LOCK, 0), _fd),
        nonblocking_if=_os_lockf_nonblocking,
        passes=Probe(
            lambda s: (os.lockf(s.extra["fd"], os.F_TLOCK, 0), os.lockf(s.extra["fd"], os.F_ULOCK, 0)), _fd
        ),
        platform_has_it=hasattr(os, "lockf"),
        raised_by=("os.lockf", "posix.lockf"),
    ),
    # -- memory-mapped files ------------------------------------------------------------
    Patch(
        "files",
        "mmap.mmap.flush",
        "msync: waits until the disk has the mapped pages",
        fires=Probe(lambda s: s.extra["map"].flush(), _mapped),
    ),
    Patch(
        "files",
        "mmap.mmap.resize",
        "resizes the mapped file on disk (ftruncate) and remaps it",
        fires=Probe(lambda s: s.extra["map"].resize(32), _mapped),
        systems=("linux", "win32"),  # macOS has no mremap: resize raises at once there
    ),
    # -- outbound protocols ----------------------------------------------------------------
    Audit(
        "network",
        "urllib.Request",
        "urlopen reads a URL: the network, or a file",
        fires=Probe(lambda s: _lookup("urllib.request.urlopen")(s.file.as_uri()).close()),
        raised_by=("urllib.request.urlopen", "urllib.request.OpenerDirector.open"),
    ),
)


# -- helpers the probes above share --------------------------------------------------------

# Python 3.12+ asks for an extraction filter (3.14 makes "data" the default).
_DATA_FILTER = {"filter": "data"} if sys.version_info >= (3, 12) else {}
_prebound_sleep = time.sleep  # bound before any gate is armed: only the audit event sees it
_prebound_connect = sqlite3.connect  # likewise: only the audit event sees it


def _usr1() -> Any:
    import signal

    return signal.SIGUSR1


def _c_connect(address: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        _socket.socket.connect(sock, address)  # the C method, below blockbuster's patch


def _enter(lock: Any) -> None:
    with lock:
        pass


def _condition_wait(condition: threading.Condition) -> None:
    with condition:
        condition.wait(0.001)


def _flock_struct() -> bytes:
    """A ``struct flock`` asking for a write lock on the whole file (Linux, 64-bit offsets)."""
    import fcntl
    import struct

    return struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)


def _msvcrt_lock_and_release(fd: int, mode: str) -> None:
    """Lock the file's first byte (free: returns at once), then unlock it."""
    import msvcrt

    os.lseek(fd, 0, os.SEEK_SET)
    msvcrt.locking(fd, getattr(msvcrt, mode), 1)
    os.lseek(fd, 0, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _flock_try_and_release(fd: int, which: str) -> None:
    import fcntl

    call = getattr(fcntl, which)
    call(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    call(fd, fcntl.LOCK_UN)
