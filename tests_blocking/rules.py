"""The project's own blocking rules: what blockbuster's defaults cannot see.

blockbuster patches a fixed list of callables (``os.stat``, buffered
``read``/``write``, ``socket.socket.*``, sqlite cursor methods, ...). Measured
on CPython 3.10-3.13, that list misses ``open()`` itself, line reads,
unbuffered files, ``fsync``, ``lstat``, ``pathlib`` on 3.10 (it binds ``os``
functions at import), ``sqlite3.connect``, file locks, subprocesses, name
resolution and thread/future waits. This table closes those holes.

Two kinds of rule, both applied only on the event-loop thread and only when
the call comes from a scanned module:

* ``Patch``: replace a callable (a module function or a method, also on C
  types through forbiddenfruit) with a checker. Catches every call that looks
  the name up at call time.
* ``Audit``: a ``sys.addaudithook`` event. Raised by CPython itself, so it also
  catches callables bound before the gate was armed (``from os import
  listdir``) and C-level paths such as ``pathlib`` on 3.10.

Each entry names the primitive and says why it blocks. Every rule has a probe
in ``tests_blocking/meta/probes.py`` and meta-tests proving it fires from
scanned code on the loop and stays silent when offloaded; a rule without a
probe fails the suite. Adding a rule: see "Maintaining the gate" in README.md.

This module is data only and imports nothing outside the standard library, so
``gate.py`` can load it from its file path.
"""

import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Exemption = tuple[str, frozenset[str]]


@dataclass(frozen=True)
class Patch:
    """Wrap the callable at dotted path ``target`` (module path, then attributes)."""

    area: str
    target: str
    reason: str
    allow_if: Callable[..., bool] | None = None  # given the call's arguments: True means it cannot block
    allowed_in: tuple[Exemption, ...] = ()
    min_version: tuple[int, int] = (3, 10)
    platform_has_it: bool = True  # False where the OS lacks the primitive (os.fdatasync on macOS)
    # Why the static inventory cannot see this rule's primitive in source, if it cannot:
    # a rule without a static counterpart fails the meta-test unless this says why.
    runtime_only: str = ""

    @property
    def name(self) -> str:
        return self.target

    def applies(self) -> bool:
        return self.platform_has_it and sys.version_info[:2] >= self.min_version


@dataclass(frozen=True)
class Audit:
    """Fail when CPython raises the audit event ``event``."""

    area: str
    event: str
    reason: str
    allow_if: Callable[[tuple[Any, ...]], bool] | None = None  # given the event's args
    allowed_in: tuple[Exemption, ...] = ()
    min_version: tuple[int, int] = (3, 10)
    platform_has_it: bool = True  # False where the OS lacks the primitive (fcntl on Windows)
    # The public callables that raise the event: what the static inventory
    # looks for in source, since an audit event has no name to call.
    raised_by: tuple[str, ...] = ()
    # Why the static inventory cannot see this rule's primitive in source, if it cannot.
    runtime_only: str = ""

    @property
    def name(self) -> str:
        return f"audit:{self.event}"

    def applies(self) -> bool:
        return self.platform_has_it and sys.version_info[:2] >= self.min_version


def _in(filename: str, *functions: str) -> Exemption:
    return (filename, frozenset(functions))


# Frames that may block on the loop thread on behalf of scanned code, for every
# rule (blockbuster's defaults included). A frame listed here, met before any
# scanned frame while walking out from the blocking call, allows it.
GLOBAL_EXEMPTIONS: tuple[Exemption, ...] = (
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
    # Thread start waits for the new thread to signal it runs (microseconds);
    # asyncio.to_thread and aiosqlite start their workers this way.
    _in("threading.py", "start"),
    _in("concurrent/futures/thread.py", "submit", "_adjust_thread_count"),
    # asyncio's own subprocess transport: fork/exec and the pipe setup are
    # part of the non-blocking create_subprocess_* API.
    _in("asyncio/base_events.py", "subprocess_exec", "subprocess_shell", "_make_subprocess_transport"),
    _in("asyncio/unix_events.py", "_make_subprocess_transport"),
    _in("asyncio/base_subprocess.py", "__init__", "_start"),
)


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


def _nonblocking_acquire(_obj: Any, blocking: bool = True, timeout: float | None = None, **__: Any) -> bool:
    return not blocking or timeout == 0


def _thread_not_alive(thread: Any, *_: Any, **__: Any) -> bool:
    return not thread.is_alive()


def _event_is_set(event: Any, timeout: float | None = None, **__: Any) -> bool:
    return event.is_set() or timeout == 0


def _future_done(future: Any, timeout: float | None = None, **__: Any) -> bool:
    return future.done() or timeout == 0


def _queue_get_ready(queue: Any, block: bool = True, timeout: float | None = None, **__: Any) -> bool:
    return not block or timeout == 0 or queue.qsize() > 0


def _queue_put_ready(
    queue: Any, _item: Any, block: bool = True, timeout: float | None = None, **__: Any
) -> bool:
    return not block or timeout == 0 or queue.maxsize <= 0 or queue.qsize() < queue.maxsize


def _socket_nonblocking(args: tuple[Any, ...]) -> bool:
    sock = args[0]
    try:
        return not sock.getblocking()
    except (AttributeError, OSError):
        return False


def _flock_nonblocking(args: tuple[Any, ...]) -> bool:
    import fcntl

    return bool(args[1] & fcntl.LOCK_NB)


def _lockf_nonblocking(args: tuple[Any, ...]) -> bool:
    import fcntl

    return args[1] in (fcntl.LOCK_UN,) or bool(args[1] & fcntl.LOCK_NB)


_HAS_FCNTL = sys.platform != "win32"


def _io_patches(owner: str, methods: tuple[str, ...], reason: str) -> list[Patch]:
    return [Patch("files", f"io.{owner}.{m}", reason, allow_if=_not_a_disk_file) for m in methods]


def _path_patches(area: str, methods: tuple[str, ...], reason: str, **kw: Any) -> list[Patch]:
    return [Patch(area, f"pathlib.Path.{m}", reason, **kw) for m in methods]


RULES: tuple[Patch | Audit, ...] = (
    # -- files: opening, and reading or writing in every buffering mode ----
    Audit(
        "files",
        "open",
        "open()/io.open/os.open reach the disk (and any mode, buffered or not)",
        raised_by=("builtins.open", "io.open", "io.open_code", "io.FileIO", "os.open", "os.fdopen"),
    ),
    *_io_patches(
        "FileIO",
        ("read", "readall", "readinto", "write"),
        "unbuffered file IO (buffering=0) is a raw syscall on a disk file",
    ),
    *_io_patches(
        "BufferedReader",
        ("readline", "readlines", "read1", "readinto", "peek"),
        "a buffered read refills from the disk",
    ),
    *_io_patches(
        "BufferedRandom",
        ("readline", "readlines", "read1", "readinto"),
        "a buffered read refills from the disk",
    ),
    *_io_patches("BufferedWriter", ("flush",), "flushing a buffered writer writes to the disk"),
    *_io_patches(
        "TextIOWrapper", ("readline", "readlines", "flush"), "a text read or flush goes through to the disk"
    ),
    *_path_patches(
        "files",
        ("open", "read_text", "read_bytes", "write_text", "write_bytes"),
        "opens and reads or writes a file",
    ),
    # -- metadata ------------------------------------------------------------
    Patch(
        "metadata", "os.lstat", "a stat syscall: waits on the disk (and on network filesystems, the network)"
    ),
    Patch("metadata", "os.fstat", "a stat syscall on an open file"),
    *_path_patches(
        "metadata",
        (
            "stat",
            "lstat",
            "exists",
            "is_dir",
            "is_file",
            "is_symlink",
            "is_mount",
            "samefile",
            "owner",
            "group",
            "readlink",
        ),
        "pathlib metadata calls stat the disk (on 3.10 via os functions bound at import, which the default rules miss)",
    ),
    *_path_patches(
        "metadata", ("resolve",), "resolving a path reads the current directory and follows links on disk"
    ),
    Patch(
        "metadata",
        "pathlib.Path.absolute",
        "a relative path is joined to the current directory, read from the kernel",
        allow_if=lambda p, *_, **__: p.is_absolute(),
    ),
    *_path_patches("metadata", ("cwd",), "reads the current directory from the kernel"),
    # -- directories: listing, creation, removal, renaming --------------------
    Audit("directories", "os.listdir", "lists a directory on disk", raised_by=("os.listdir",)),
    Audit(
        "directories",
        "os.scandir",
        "lists a directory on disk",
        raised_by=("os.scandir", "os.walk", "os.fwalk"),
    ),
    Audit("directories", "glob.glob", "globbing lists directories", raised_by=("glob.glob", "glob.iglob")),
    Audit("directories", "os.mkdir", "creates a directory entry", raised_by=("os.mkdir", "os.makedirs")),
    Audit("directories", "os.rmdir", "removes a directory entry", raised_by=("os.rmdir", "os.removedirs")),
    Audit(
        "directories",
        "os.remove",
        "unlinks a file (os.remove and os.unlink)",
        raised_by=("os.remove", "os.unlink"),
    ),
    Audit(
        "directories",
        "os.rename",
        "renames a directory entry (os.rename and os.replace)",
        raised_by=("os.rename", "os.replace", "os.renames"),
    ),
    Audit("directories", "shutil.rmtree", "removes a whole tree", raised_by=("shutil.rmtree",)),
    Audit(
        "directories",
        "shutil.copyfile",
        "copies file data",
        raised_by=("shutil.copyfile", "shutil.copy", "shutil.copy2", "shutil.copytree", "shutil.move"),
    ),
    *_path_patches("directories", ("iterdir", "glob", "rglob"), "lists directories on disk"),
    *_path_patches(
        "directories",
        ("mkdir", "rmdir", "unlink", "rename", "replace", "touch", "symlink_to", "hardlink_to"),
        "changes directory entries on disk",
    ),
    # -- durability, size, permissions and times ------------------------------
    Patch("durability", "os.fsync", "waits until the disk has the data: milliseconds to seconds"),
    Patch(
        "durability",
        "os.fdatasync",
        "waits until the disk has the data",
        platform_has_it=hasattr(os, "fdatasync"),
    ),
    Audit(
        "durability",
        "os.truncate",
        "changes a file's size on disk (os.truncate and os.ftruncate)",
        raised_by=("os.truncate", "os.ftruncate"),
    ),
    Audit(
        "permissions",
        "os.chmod",
        "changes file permissions on disk",
        raised_by=("os.chmod", "os.fchmod", "os.lchmod"),
    ),
    Audit("permissions", "os.utime", "changes file times on disk", raised_by=("os.utime",)),
    *_path_patches("permissions", ("chmod",), "changes file permissions on disk"),
    # -- temporary files ----------------------------------------------------------
    Audit(
        "tempfiles",
        "tempfile.mkstemp",
        "creates a file on disk (NamedTemporaryFile too)",
        raised_by=("tempfile.mkstemp", "tempfile.NamedTemporaryFile", "tempfile.TemporaryFile"),
    ),
    Audit(
        "tempfiles",
        "tempfile.mkdtemp",
        "creates a directory on disk (TemporaryDirectory too)",
        raised_by=("tempfile.mkdtemp", "tempfile.TemporaryDirectory"),
    ),
    # -- sleeping -------------------------------------------------------------
    Audit(
        "sleep",
        "time.sleep",
        "stops the whole loop; from 3.13 also catches a sleep bound before arming",
        min_version=(3, 13),
        raised_by=("time.sleep",),
    ),
    # -- subprocesses -----------------------------------------------------------
    Audit(
        "subprocess",
        "subprocess.Popen",
        "fork/exec and, with run/check_output, waiting for the child",
        raised_by=(
            "subprocess.Popen",
            "subprocess.run",
            "subprocess.call",
            "subprocess.check_call",
            "subprocess.check_output",
            "subprocess.getoutput",
            "subprocess.getstatusoutput",
        ),
    ),
    Audit("subprocess", "os.system", "runs a shell and waits for it", raised_by=("os.system",)),
    Patch(
        "subprocess",
        "os.waitpid",
        "waits for a child process to exit",
        allow_if=lambda _pid, options=0, *_, **__: bool(options & getattr(os, "WNOHANG", 0)),
    ),
    Patch(
        "subprocess",
        "subprocess.Popen.wait",
        "waits for a child process to exit",
        allow_if=lambda _p, timeout=None, **__: timeout == 0,
    ),
    Patch("subprocess", "subprocess.Popen.communicate", "waits for a child process and its pipes"),
    # -- sockets and name resolution -----------------------------------------
    Audit(
        "network",
        "socket.getaddrinfo",
        "name resolution: may wait on DNS for seconds",
        raised_by=("socket.getaddrinfo", "socket.create_connection"),
    ),
    Audit(
        "network",
        "socket.gethostbyname",
        "name resolution: may wait on DNS",
        raised_by=("socket.gethostbyname", "socket.gethostbyname_ex"),
    ),
    Audit(
        "network",
        "socket.gethostbyaddr",
        "reverse name resolution: may wait on DNS",
        raised_by=("socket.gethostbyaddr", "socket.getfqdn"),
    ),
    Audit(
        "network",
        "socket.getnameinfo",
        "reverse name resolution: may wait on DNS",
        raised_by=("socket.getnameinfo",),
    ),
    Audit(
        "network",
        "socket.connect",
        "a blocking socket connect waits for the peer",
        allow_if=_socket_nonblocking,
        raised_by=("socket.socket.connect", "socket.socket.connect_ex", "socket.create_connection"),
    ),
    # -- waits on threads and futures ---------------------------------------------
    Patch(
        "waits",
        "threading.Thread.join",
        "waits for another thread (on 3.13 through a C handle the Lock rule misses)",
        allow_if=_thread_not_alive,
    ),
    Patch(
        "waits", "threading.Event.wait", "waits for another thread to set the event", allow_if=_event_is_set
    ),
    Patch("waits", "threading.Condition.wait", "waits for another thread to notify"),
    Patch(
        "waits",
        "threading.Semaphore.acquire",
        "waits for another thread to release",
        allow_if=_nonblocking_acquire,
    ),
    Patch("waits", "threading.Barrier.wait", "waits for other threads to arrive"),
    Patch("waits", "concurrent.futures.Future.result", "waits for a worker to finish", allow_if=_future_done),
    Patch(
        "waits", "concurrent.futures.Future.exception", "waits for a worker to finish", allow_if=_future_done
    ),
    Patch("waits", "concurrent.futures.wait", "waits for workers to finish"),
    Patch("waits", "queue.Queue.get", "waits for a producer thread", allow_if=_queue_get_ready),
    Patch(
        "waits",
        "queue.Queue.put",
        "waits for a consumer thread when the queue is full",
        allow_if=_queue_put_ready,
    ),
    # -- sqlite ---------------------------------------------------------------------
    Audit(
        "sqlite",
        "sqlite3.connect",
        "opens (and may create or lock) a database file",
        raised_by=("sqlite3.connect",),
    ),
    Patch("sqlite", "sqlite3.connect", "opens (and may create or lock) a database file"),
    Patch("sqlite", "sqlite3.Connection.close", "closing may checkpoint and write the database file"),
    # -- file locks ------------------------------------------------------------------
    Audit(
        "locks",
        "fcntl.flock",
        "a blocking flock waits for another process",
        allow_if=_flock_nonblocking,
        platform_has_it=_HAS_FCNTL,
        raised_by=("fcntl.flock",),
    ),
    Audit(
        "locks",
        "fcntl.lockf",
        "a blocking lockf waits for another process",
        allow_if=_lockf_nonblocking,
        platform_has_it=_HAS_FCNTL,
        raised_by=("fcntl.lockf",),
    ),
)
