"""JSONL run-event store: one append-only file per thread.

Layout under ``base_dir``::

    threads/<thread_id>.jsonl   one JSON object per line
    locks/<thread_id>.lock      inter-process lock for writers of that thread

A line is one of:

* an event record (it has ``seq``);
* ``{"batch": [record, ...]}``: the events of one ``put_batch`` for this
  thread, on one line, so a crash mid-write leaves a torn line that is skipped
  as a whole: a batch is all-or-nothing on disk;
* ``{"last_seq": n}``: written at the head of a file rewritten by
  ``delete_by_run``, so seqs are never reused after a run is deleted.

Every append ends with its newline, which is the commit mark: bytes after the
last newline are a write cut short by a crash, never acknowledged, skipped by
readers and cut off by the next append.

Every filesystem call runs in a worker thread (``asyncio.to_thread``): the
public methods (``base.StorageRunEventStore``) validate their arguments on the
loop and await one storage hook (``_put``, ...), which makes exactly one
offload into the synchronous method of the same name prefixed ``_sync``; the
appends of ``put`` and ``put_batch`` are the exception, committed in groups.

Group commit: ``put`` and ``put_batch`` queue their events on their thread's
write queue (one per thread and event loop). The caller that finds no group of
its thread being written leads it: it lets the loop run once, so that callers
arriving meanwhile join, then takes every line queued for its thread, and
those of up to 63 other threads waiting for their own leader, and makes one
offload (``_sync_commit``): per thread one lock and one ``write``; then, with
``fsync``, one ``fsync`` if the offload holds one thread, or, if it holds
several, an ``fsync`` of each file, all at once from a small pool of threads,
so that they wait for the same journal commits (measured: one fsync after the
other grows with the number of files, all at once cost about what one does;
the threads stay locked until they return). With ``syncfs=True`` an offload of
several threads calls ``syncfs`` once per file system instead, which flushes
everything dirty there, other programs' writes included: measured while
another process streams writes to the same file system, its p99 latency is
many times that of the fsyncs (``python -m tools.bench --only sync``), so it
is an option, not the default. Each caller keeps its own line (a
record, or its batch), in arrival order, and gets its own records back. The
worker thread answers the groups itself, through the loop (``_answer``), so a
leader cancelled while its group is on disk abandons no one; one cancelled
while its job still waits for a worker (which cancels the job) has the same
groups offloaded again by a task no caller holds (``_offload``). Each answer first
hands its thread's turn to the first caller that queued while the group was
on disk, which takes its group at once, and only then wakes the group's
callers: the next group is what queued during the write. A caller cancelled
before its group was taken is dropped from the queue: nothing of it is
written. A failed group is cut back to where it began and every caller of it
gets the error; the other threads of its offload are written all the same,
unless their fsync fails (or, with ``syncfs``, the shared ``syncfs``, which
cuts back and fails every thread of the offload on that file system). Leaders of different threads make their
offloads in parallel. No writer task stands between a caller and its offload:
a lone ``put`` costs one thread hop and one extra turn of the loop.

Reads are incremental: a per-thread cache keeps, per record, its seq, the
fields the queries filter on, and its JSON text (decoded only when a page is
returned, so a page costs what it holds and the cache stays compact), plus the
byte offset it has consumed. A read stats the file; if only appends happened since
(same inode, file grew, the last bytes before the old offset unchanged) it
parses just the new tail; a new inode, a shrink, a same-size file with a new
mtime (appends only grow a file) or changed last bytes reload. Writers hold
a per-thread ``threading.Lock`` (this process) and an exclusive ``flock`` of
``locks/<thread_id>.lock`` (other processes; the lock ``filelock.FileLock``
takes on that file, so both kinds of holder exclude each other), refresh the
cache under them, and assign seqs from it. The lock file and the thread file
stay open between writes: opening a ``filelock.FileLock`` costs about 90 us a
write (most of a single ``put``), ``flock`` on an open descriptor a few.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import ctypes
import errno
import functools
import itertools
import json
import logging
import os
import queue
import re
import stat
import sys
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import filelock

from runlog.events import base

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: every lock is a filelock.FileLock
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_FINGERPRINT = 64
DEFAULT_MAX_OPEN_FILES = (
    32  # descriptors kept open between writes: a thread's lock and thread files, two each
)
_FILE_MODE = 0o600  # thread, lock and rewritten files: the owner's only
_FOLDER_MODE = 0o700  # the data folder and its threads/ and locks/
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # pragma: no branch - POSIX has it
_HELD = frozenset((errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES))  # some file systems say EACCES
_NO_FLOCK = frozenset((errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP))
_THREADS_PER_OFFLOAD = 64  # threads one leader's offload writes, one after the other
_CHUNK = 1 << 20
# The read cache's default bound: the JSON text of the records it holds, plus _ENTRY_BYTES each.
DEFAULT_MAX_CACHE_BYTES = 64 * 1024 * 1024
# What the objects around one cached record's text cost (its tuple, seq, type, category, the
# lists' references), about: counted with the text, so many small records weigh what they hold.
_ENTRY_BYTES = 256
_SEQ_KEY = re.compile(rb'"seq":(\d{1,18})')  # every seq a line may hold, and maybe a few more
_GIVEN_UP = "the event loop ended before a worker thread started this write: nothing of it was written"
_RECORD_KEYS = frozenset(
    ("thread_id", "run_id", "seq", "event_type", "category", "content", "metadata", "created_at")
)


class LinkRefusedError(OSError):
    """A path inside the store's folder is a symbolic link, or not the kind of file the store makes.

    The store never follows a link inside its folder: a link planted there
    would send its reads and appends to the link's target. The configured
    folder itself may be a link (an operator's choice).
    """


def _refuse(path: str, what: str = "a symbolic link") -> LinkRefusedError:
    return LinkRefusedError(
        errno.ELOOP,
        f"{path} is {what}: the JSONL store follows no link inside its folder and uses only the "
        "files and folders it made; remove it",
        path,
    )


def _not_a_file(path: str, st: os.stat_result) -> OSError:
    """The error for ``path``, found where a regular file should be: what opening it would raise,
    except for a link (never followed) and for what opening could wait on (a named pipe)."""
    if stat.S_ISDIR(st.st_mode):
        return IsADirectoryError(errno.EISDIR, "a folder where the store keeps a file", path)
    return _refuse(path, "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file")


def _own_folder(base_dir: str, name: str, *, create: bool = True) -> str:
    """``base_dir/name``, made (0700, with ``base_dir``) if missing and ``create``.

    LinkRefusedError if it is a link or no folder: a file opened through a
    linked folder would be the link target's. Checked where a file is opened
    or removed by name; a folder swapped for a link between this check and
    that call is not seen (only the folder's owner can swap it: it is 0700).
    """
    path = os.path.join(base_dir, name)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise
        os.makedirs(base_dir, _FOLDER_MODE, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, _FOLDER_MODE)
        st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a folder, where the store keeps one", path)
    return path


def _open_own(path: str, flags: int) -> int:
    """Open a file of the store's folder, never through a link at its last component."""
    try:
        return os.open(path, flags | _NOFOLLOW, _FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # FreeBSD says EMLINK for O_NOFOLLOW
            raise _refuse(path) from None
        raise


@functools.lru_cache(maxsize=4096)
def file_stem(thread_id: str) -> str:
    """The name (without suffix) of a thread's files: distinct ids never share one, whatever the case rules.

    A case-insensitive file system (macOS, Windows) takes ``ABC.jsonl`` and
    ``abc.jsonl`` for one file. The stem is the id in lower case, and, when the
    id has capitals, a dot and the hex of a mask of where they are (bit i: the
    i-th character), so that the id can be told from its stem alone and no two
    ids' stems differ only in case. An id with no capital keeps its own name
    (what the store has always called it); ids hold no dot, so the two forms
    never meet. At most 128 + 1 + 32 characters: under every file system's 255.
    """
    lowered = thread_id.lower()
    if lowered == thread_id:
        return thread_id
    mask = 0
    for index, char in enumerate(thread_id):
        if char != lowered[index]:
            mask |= 1 << index
    return f"{lowered}.{mask:x}"


def _load_syncfs() -> Any:
    """Linux's ``syncfs(2)`` from the C library, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None  # pragma: no cover - the project's hosts are Linux
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # pragma: no cover - a C library without syncfs
        return None
    function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
    return function


_SYNCFS = _load_syncfs()


def _syncfs(fd: int) -> None:
    """Flush the whole file system holding ``fd`` to stable storage (in a worker thread).

    A ctypes call releases the interpreter while it waits. Since Linux 5.8 it
    reports write-back errors of that file system since ``fd`` was opened.
    """
    if _SYNCFS(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


_FSYNC_HELPERS = 16  # threads that fsync the files of one offload at the same time


class _FsyncHelpers:
    """Daemon threads that fsync files for the worker thread of an offload, all at once.

    Daemon: idle, they must not keep the interpreter (or a gate run) waiting at
    exit. While one of them runs an fsync, the worker thread that waits for it
    is a non-daemon thread, which the interpreter joins first: an fsync in
    progress is never cut short by a normal exit. Made on first use, per
    process (a forked child makes its own: the parent's threads are not in it).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue[tuple[int, Future[OSError | None]]] = queue.SimpleQueue()
        self.threads = 0
        self.lock = threading.Lock()

    def fsync_all(self, fds: list[int]) -> list[OSError | None]:
        """fsync every descriptor, ``fds[0]`` in this thread and the others in helpers, at once."""
        futures: list[Future[OSError | None]] = []
        with self.lock:
            while self.threads < min(len(fds) - 1, _FSYNC_HELPERS):
                self.threads += 1
                threading.Thread(target=self._work, name=f"runlog-fsync-{self.threads}", daemon=True).start()
        for fd in fds[1:]:
            future: Future[OSError | None] = Future()
            self.jobs.put((fd, future))
            futures.append(future)
        return [_fsync_outcome(fds[0]), *(future.result() for future in futures)]

    def _work(self) -> None:
        while True:
            fd, future = self.jobs.get()
            future.set_result(_fsync_outcome(fd))


_fsync_helpers: _FsyncHelpers | None = None
_fsync_helpers_lock = threading.Lock()


def _helpers() -> _FsyncHelpers:
    global _fsync_helpers
    with _fsync_helpers_lock:
        if _fsync_helpers is None or _fsync_helpers.pid != os.getpid():
            _fsync_helpers = _FsyncHelpers()
        return _fsync_helpers


def _after_fork_in_child() -> None:
    global _fsync_helpers_lock
    _fsync_helpers_lock = threading.Lock()  # a thread of the parent may have held it: it is not here


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _fsync_outcome(fd: int) -> OSError | None:
    try:
        os.fsync(fd)
    except OSError as exc:
        return exc
    return None


@dataclass
class _Unsynced:
    """Appends of one offload that are written but not yet on stable storage.

    Their threads stay held (``held``: each thread's threading and file
    lock) until they were made durable (an fsync of each file, all at once,
    or one ``syncfs`` per file system), or, if that failed, until they were
    cut back off.
    """

    held: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    # Per append: thread, its descriptor, the offset its lines start at, the file's device.
    appends: list[tuple[str, int, int, int]] = field(default_factory=list)


def _line(text: str) -> bytes:
    return text.encode("utf-8") + b"\n"


def _record_json(event: base.NewEvent, seq: int) -> str:
    """The stored JSON of one record, assembled from the already-encoded parts."""
    enc = base.encode_string
    # Ids match [A-Za-z0-9_-]: they need no escaping.
    return (
        f'{{"thread_id":"{event.thread_id}","run_id":"{event.run_id}","seq":{seq},'
        f'"event_type":{enc(event.event_type)},"category":{enc(event.category)},'
        f'"content":{event.content_json},"metadata":{event.metadata_json},"created_at":{enc(event.created_at)}}}'
    )


def _frame_chars(item: dict[str, Any]) -> int:
    """The characters of a record's JSON (as ``_record_json`` writes it) that are not its content or
    metadata: its text less this is what its content and metadata take."""
    enc = base.encode_string
    return (
        len(item["thread_id"])
        + len(item["run_id"])
        + len(str(item["seq"]))
        + len(enc(item["event_type"]))
        + len(enc(item["category"]))
        + len(enc(item["created_at"]))
        + len(
            '{"thread_id":"","run_id":"","seq":,"event_type":,"category":,"content":,"metadata":,"created_at":}'
        )
    )


# One cached record: (seq, run_id, event_type, category, task_id, raw JSON text, size), size
# as base.event_chars counts it (for max_page_bytes). A plain tuple: it is built for every
# event written or read, and a tuple literal costs a fraction of a NamedTuple's constructor.
_Entry = tuple[Any, ...]
SEQ, RUN_ID, EVENT_TYPE, CATEGORY, TASK_ID, RAW, SIZE = range(7)
_seq = itemgetter(SEQ)
_size = itemgetter(SIZE)


def _decode(entries: Iterable[_Entry]) -> list[dict[str, Any]]:
    """Fresh record dicts for a page: one parse of the page's JSON.

    The page's list is one level more than its records: a record that was
    just deep enough to parse on its own (written before the store limited
    nesting) is parsed on its own, as it was when it was read from the file.
    """
    raws = [e[RAW] for e in entries]
    try:
        records: list[dict[str, Any]] = base.DECODER.decode("[" + ",".join(raws) + "]")
    except RecursionError:
        records = [base.DECODER.decode(raw) for raw in raws]
    return records


@dataclass
class _ThreadCache:
    """What this process knows of one thread's file."""

    entries: list[_Entry] = field(default_factory=list)
    messages: list[_Entry] = field(default_factory=list)
    by_run: dict[str, list[_Entry]] = field(default_factory=dict)
    messages_by_run: dict[str, list[_Entry]] = field(default_factory=dict)
    last_seq: int = 0  # the highest seq ever assigned in this thread
    last_record_seq: int = 0  # the highest seq among the records read
    offset: int = 0  # bytes consumed: always just after a b"\n"
    line_no: int = 0  # lines consumed, for log messages
    size: int = 0  # bytes read: offset plus a tail seen after the last newline, if any
    inode: int | None = None
    mtime_ns: int | None = None
    fingerprint: bytes = b""  # the last bytes before offset
    nbytes: int = 0  # what it holds, as max_cache_bytes counts it
    counted: int = 0  # how much of nbytes the store's total holds

    def add(self, entries: Iterable[_Entry]) -> None:
        by_run, messages_by_run, message = self.by_run, self.messages_by_run, base.MESSAGE_CATEGORY
        for entry in entries:
            self.nbytes += len(entry[RAW]) + _ENTRY_BYTES
            self.entries.append(entry)
            run = by_run.get(entry[RUN_ID])
            if run is None:
                run = by_run[entry[RUN_ID]] = []
            run.append(entry)
            if entry[CATEGORY] == message:
                self.messages.append(entry)
                messages_by_run.setdefault(entry[RUN_ID], []).append(entry)
            self.last_record_seq = entry[SEQ]
        self.last_seq = max(self.last_seq, self.last_record_seq)


def _consume(cache: _ThreadCache, consumed: bytes) -> None:
    """Record that ``consumed`` (whole lines) was read."""
    cache.offset += len(consumed)
    cache.fingerprint = (cache.fingerprint + consumed[-_FINGERPRINT:])[-_FINGERPRINT:]


def _identify(cache: _ThreadCache, st: os.stat_result, size: int) -> None:
    """Record which file, in which state, the cache reflects: ``size`` is how far it was read.

    Never the size ``st`` gives: another process may have appended after the
    last read. Counted as read, its line would be missed until the file changed
    again, and taken by the next append for a tail cut short, and cut off.
    """
    cache.inode = st.st_ino
    cache.mtime_ns = st.st_mtime_ns
    cache.size = size


class _ThreadFiles:
    """This process's hold on one thread: its threading lock and its open files.

    Everything but ``lock`` is used only by the worker thread holding
    ``lock``. ``closed`` is set, under ``lock``, when the store stops keeping
    this thread's files open; whoever then acquires ``lock`` must look the
    thread up again.
    """

    def __init__(self, lock_path: Path, timeout: float, base_dir: str) -> None:
        self.lock = threading.Lock()
        self.closed = False
        self.base_dir = base_dir  # the store's folder (a str: no reference to the store itself)
        self.moved_old_files = False  # files under the old names (file_stem) were looked for
        self.lock_path = lock_path
        self.lock_text = str(lock_path)  # os calls take it as is, with no conversion per write
        self.timeout = timeout
        self.pid = os.getpid()  # descriptors inherited by a fork are not this process's
        self.lock_fd = -1
        self.lock_inode = -1
        self.fallback: filelock.FileLock | None = None if fcntl is not None else self._filelock()
        self.append_fd = -1
        self.append_inode = -1

    def _filelock(self) -> filelock.FileLock:
        return filelock.FileLock(self.lock_path, timeout=self.timeout)

    def _forked(self) -> None:
        # A forked child shares the parent's open file descriptions: unlocking
        # one would unlock the parent's. Close the copies, never unlock them.
        self.close()
        self.pid = os.getpid()

    def lock_file(self) -> None:
        """Take the inter-process lock, waiting up to ``timeout`` seconds."""
        if self.pid != os.getpid():
            self._forked()
        if self.fallback is not None:
            self.fallback.acquire()
            return
        deadline, pause = 0.0, 0.0005
        while True:
            if self.lock_fd < 0:
                _own_folder(self.base_dir, "locks")
                self.lock_fd = _open_own(self.lock_text, os.O_RDWR | os.O_CREAT)
                self.lock_inode = os.fstat(self.lock_fd).st_ino
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in _HELD:
                    now = time.monotonic()
                    if not deadline:
                        deadline = now + self.timeout
                    elif now >= deadline:
                        raise filelock.Timeout(str(self.lock_path)) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.01)
                    continue
                if exc.errno not in _NO_FLOCK:
                    raise
                # A file system without flock: filelock knows the fallbacks.
                self._close_lock()
                self.fallback = self._filelock()
                self.fallback.acquire()
                return
            try:
                same = os.stat(self.lock_text, follow_symlinks=False).st_ino == self.lock_inode
            except FileNotFoundError:
                same = False
            if same:
                return
            # The lock file was removed or replaced after we opened it (a
            # delete_by_thread removes it, holding it): our lock excludes no
            # one who opens the path now. Start over.
            self._close_lock()

    def unlock_file(self) -> None:
        if self.fallback is not None:
            self.fallback.release()
        elif self.lock_fd >= 0:  # -1: remove_lock_file closed it, which unlocked it
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    def remove_lock_file(self) -> None:
        """Unlink the lock file while holding it, then close it (which unlocks it).

        Safe against the other holders because every one of them checks, once
        it holds the lock, that the path still names the file it locked, and
        starts over on a new file otherwise (``lock_file``; filelock checks
        that the file it locked still has a link): whoever waited on the
        unlinked file excludes no one with it and knows it. Only the holder
        ever unlinks, so a file that the path names and that someone holds is
        never taken away from under them. With filelock's fallback (no flock
        on this file system, or no fcntl) the file is left: filelock's other
        lock kinds make no such check.
        """
        if self.fallback is not None or self.lock_fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.lock_text)
        self._close_lock()

    def append_to(self, path: str, inode: int | None) -> int:
        """A descriptor appending to ``path``, whose inode the caller just saw (None: no file)."""
        if self.pid != os.getpid():
            self._forked()
        if self.append_fd >= 0 and inode is not None and inode == self.append_inode:
            return self.append_fd
        self._close_append()
        _own_folder(self.base_dir, "threads")
        self.append_fd = _open_own(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self.append_inode = os.fstat(self.append_fd).st_ino
        return self.append_fd

    def _close_lock(self) -> None:
        if self.lock_fd >= 0:
            fd, self.lock_fd = self.lock_fd, -1
            os.close(fd)

    def _close_append(self) -> None:
        if self.append_fd >= 0:
            fd, self.append_fd, self.append_inode = self.append_fd, -1, -1
            os.close(fd)

    def close(self) -> None:
        try:
            self._close_lock()
        finally:
            self._close_append()


def _same_file(a: str, b: str) -> bool:
    """Do the names ``a`` and ``b`` (not followed if links) name one file?"""
    try:
        return os.path.samestat(os.lstat(a), os.lstat(b))
    except FileNotFoundError:
        return False


def _line_bytes(raw: bytes) -> bytes:
    return raw + b"\n"


def _line_thread(raw: bytes) -> str | None:
    """The thread a stored line belongs to; "" for a seq mark (``last_seq``); None if unreadable."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    if set(obj) == {"last_seq"}:
        return ""
    if set(obj) == {"batch"} and isinstance(obj["batch"], list) and obj["batch"]:
        obj = obj["batch"][0]  # a batch line holds one thread's records
        if not isinstance(obj, dict):
            return None
    owner = obj.get("thread_id")
    return owner if isinstance(owner, str) else None


def _close_all(files: OrderedDict[str, _ThreadFiles]) -> None:
    """Close the descriptors a store kept (its finalizer: the store is gone)."""
    for held in files.values():
        held.close()
    files.clear()


@dataclass(eq=False)
class _Waiter:
    """One ``put`` or one thread's part of a ``put_batch``, waiting for its group.

    ``future`` wakes the caller: with its group's outcome set here
    (``answered``), or, not answered, with the turn to lead its thread's next
    group.
    """

    events: list[base.NewEvent]
    future: asyncio.Future[None]
    answered: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None


# What one offload writes: per thread, its callers in arrival order.
_Groups = dict[str, list[_Waiter]]
# Per thread, its records (a list per caller) or the error that failed its group.
_Outcomes = dict[str, "list[list[dict[str, Any]]] | BaseException"]


@dataclass(eq=False)
class _Offload:
    """The groups one leader took, for one attempt at their offload.

    ``claim`` decides, once, between the worker starting the job and the loop
    giving it up: cancelling the await of a job no worker has started yet
    cancels the job too (``run_in_executor``'s future), and the loop cannot
    tell from its side whether a worker is about to start it. Whoever pops
    the token first owns the attempt; the other side leaves it alone. A
    given-up attempt is made again with a new ``_Offload`` of the same groups.
    """

    groups: _Groups
    answered: bool = False
    _token: list[None] = field(default_factory=lambda: [None])

    def claim(self) -> bool:
        """True for the first caller only (a worker thread or the loop): ``list.pop`` is atomic."""
        try:
            self._token.pop()
        except IndexError:
            return False
        return True


class _CommitQueue:
    """The appends waiting in one event loop.

    ``pending`` maps a thread to its callers in arrival order, not taken yet;
    ``busy`` holds the threads that have a leader (a caller that will take
    their group) or a group on disk; ``writing`` the threads with a group on
    disk. A caller of a thread not in ``busy`` leads it. ``retries`` keeps
    the tasks that make again the offloads of cancelled leaders (the loop
    holds tasks only weakly).
    """

    __slots__ = ("busy", "pending", "retries", "writing")

    def __init__(self) -> None:
        self.pending: dict[str, list[_Waiter]] = {}
        self.busy: set[str] = set()
        self.writing: set[str] = set()
        self.retries: set[asyncio.Task[None]] = set()


class JsonlRunEventStore(base.StorageRunEventStore):
    """Run events in JSONL files under ``base_dir``.

    ``fsync``: flush appends and rewrites to stable storage before returning.
    ``syncfs``: with ``fsync``, make an offload of several threads durable with one
    ``syncfs`` of their file system (Linux) instead of an fsync of each thread file
    (all at once). It flushes everything dirty on that file system, other programs'
    writes included: choose it only where the store has the file system to itself.
    ``max_open_files``: how many descriptors (two per thread written: its lock
    and thread files) stay open between writes; the least recently used idle
    threads' are closed past it.

    The folder and its ``threads/`` and ``locks/`` are made 0700, the files in
    them 0600 (the umask can narrow that, not widen it). No link inside the
    folder is followed (``LinkRefusedError``).
    ``max_cache_bytes``: how much of the threads' records the read cache keeps in memory, as
    their JSON text plus a few hundred bytes each (``_ENTRY_BYTES``): past it, the threads read
    longest ago are dropped (and read again from their files when next used). The thread in use
    stays, whatever its size.
    ``max_page_bytes``: see ``base.StorageRunEventStore`` (None: pages bounded by ``limit`` only).
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        *,
        fsync: bool = True,
        syncfs: bool = False,
        max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
        max_page_bytes: int | None = None,
        lock_timeout: float = 30.0,
        max_open_files: int = DEFAULT_MAX_OPEN_FILES,
    ) -> None:
        if isinstance(max_open_files, bool) or not isinstance(max_open_files, int) or max_open_files < 2:
            raise ValueError(
                f"max_open_files must be an integer >= 2 (a thread's two files), got {max_open_files!r}"
            )
        self._open_threads = max_open_files // 2
        if isinstance(max_cache_bytes, bool) or not isinstance(max_cache_bytes, int) or max_cache_bytes < 1:
            raise ValueError(f"max_cache_bytes must be a positive integer, got {max_cache_bytes!r}")
        self.max_page_bytes = base.check_page_bytes(max_page_bytes)
        self.base_dir = Path(base_dir)
        self._fsync = fsync
        self._syncfs = syncfs
        self._max_cache_bytes = max_cache_bytes
        self._cached_bytes = 0  # the caches' counted bytes, all threads
        self._lock_timeout = lock_timeout
        self._caches: OrderedDict[str, _ThreadCache] = OrderedDict()
        self._files: OrderedDict[str, _ThreadFiles] = OrderedDict()
        self._base_text = os.fspath(self.base_dir)
        self._threads_dir = os.path.join(self.base_dir, "threads", "")
        self._locks_dir = os.path.join(self.base_dir, "locks", "")
        self._registry_lock = threading.Lock()
        self._warned: set[tuple[str, int | None, int]] = set()
        # One per event loop: a store used from two loops keeps their futures and tasks apart.
        # Weak keys: a loop that ended (one asyncio.run of many) takes its queue with it.
        self._commit_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _CommitQueue] = (
            weakref.WeakKeyDictionary()
        )
        weakref.finalize(self, _close_all, self._files)

    # -- paths and locks (all used from worker threads) -------------------

    def _path(self, thread_id: str) -> Path:
        return Path(self._path_text(thread_id))

    def _path_text(self, thread_id: str) -> str:
        return f"{self._threads_dir}{file_stem(thread_id)}.jsonl"

    def _old_path_text(self, thread_id: str) -> str | None:
        """Where the old mapping (the id as it is) put the thread's file; None: the same place."""
        return None if file_stem(thread_id) == thread_id else f"{self._threads_dir}{thread_id}.jsonl"

    def _folder(self, name: str, *, create: bool = True) -> str:
        return _own_folder(self._base_text, name, create=create)

    def _locate(self, thread_id: str, *, old_name: bool = True) -> tuple[str, os.stat_result] | None:
        """The thread's file and its ``lstat``: under its name, else (``old_name``) the old one; None: no file.

        A thread written under the old mapping is read where it is; its first
        write or delete moves it (``_move_old_files``), so writers, which
        append only under the new name, never look at the old one.
        """
        path = self._path_text(thread_id)  # a str: no Path built on the way of every write
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            old = self._old_path_text(thread_id) if old_name else None
            if old is None:
                return None
            try:
                st = os.lstat(old)
            except FileNotFoundError:
                return None
            path = old
        if not stat.S_ISREG(st.st_mode):
            raise _not_a_file(path, st)
        return path, st

    def _hold(self, thread_id: str) -> _ThreadFiles:
        """Acquire the thread's threading lock; return what it guards."""
        while True:
            with self._registry_lock:
                held = self._files.get(thread_id)
                if held is None:
                    lock_path = Path(f"{self._locks_dir}{file_stem(thread_id)}.lock")
                    held = self._files[thread_id] = _ThreadFiles(
                        lock_path, self._lock_timeout, self._base_text
                    )
                    self._close_idle()
                else:
                    self._files.move_to_end(thread_id)
            held.lock.acquire()
            if not held.closed:
                return held
            held.lock.release()  # closed while we waited: look it up again

    def _close_idle(self) -> None:
        """Keep at most ``max_open_files // 2`` threads' files open; caller holds the registry lock.

        Only a thread nobody holds is closed: its lock is free, so no worker
        is using its descriptors. Run when a thread is added, and when one is
        let go while the store is over its bound (an offload holds up to
        ``_THREADS_PER_OFFLOAD`` threads at once: they are closed once let go).
        """
        excess = len(self._files) - self._open_threads
        for thread_id in list(itertools.islice(self._files, max(0, excess))):
            held = self._files[thread_id]
            if held.lock.acquire(blocking=False):
                try:
                    held.closed = True
                    del self._files[thread_id]
                    held.close()
                finally:
                    held.lock.release()

    def _writing(self, thread_id: str) -> _Holding:
        """Hold the thread for a write: its threading lock, then its file lock."""
        return _Holding(self, thread_id, file_lock=True)

    def _reading(self, thread_id: str) -> _Holding:
        """Hold the thread for a read: its threading lock only (appends are atomic to readers)."""
        return _Holding(self, thread_id, file_lock=False)

    def _cache(self, thread_id: str) -> _ThreadCache:
        with self._registry_lock:
            cache = self._caches.get(thread_id)
            if cache is None:
                cache = self._caches[thread_id] = _ThreadCache()
            else:
                self._caches.move_to_end(thread_id)
            return cache

    def _reset_cache(self, thread_id: str) -> _ThreadCache:
        with self._registry_lock:
            old = self._caches.get(thread_id)
            if old is not None:
                self._cached_bytes -= old.counted
            cache = self._caches[thread_id] = _ThreadCache()
            return cache

    def _account(self, thread_id: str, cache: _ThreadCache) -> None:
        """Count what ``cache`` grew by, then drop the threads used longest ago while the caches
        hold more than ``max_cache_bytes``; the thread just used stays."""
        with self._registry_lock:
            if self._caches.get(thread_id) is not cache:
                return  # dropped or replaced meanwhile: no longer counted
            self._cached_bytes += cache.nbytes - cache.counted
            cache.counted = cache.nbytes
            while self._cached_bytes > self._max_cache_bytes and len(self._caches) > 1:
                oldest = next(iter(self._caches))
                if oldest == thread_id:
                    self._caches.move_to_end(thread_id)
                    continue
                self._cached_bytes -= self._caches.pop(oldest).counted

    # -- reading -----------------------------------------------------------

    def _release(self, held: _ThreadFiles) -> None:
        """Let go of a thread (its threading lock); close idle threads' files past the bound."""
        held.lock.release()
        if len(self._files) > self._open_threads:
            with self._registry_lock:
                self._close_idle()

    def _drop(self, thread_id: str, held: _ThreadFiles) -> None:
        """Forget a deleted thread: its files (closed) and its cache; the caller holds it."""
        held.close()
        with self._registry_lock:
            held.closed = True  # whoever waits for its lock looks the thread up again
            if self._files.get(thread_id) is held:
                del self._files[thread_id]
            cache = self._caches.pop(thread_id, None)
            if cache is not None:
                self._cached_bytes -= cache.counted  # no longer held: no longer counted

    def _refresh(self, thread_id: str, *, writing: bool = False) -> _ThreadCache:
        """``_read_tail``, then the cache's growth counted against ``max_cache_bytes``."""
        cache = self._read_tail(thread_id, writing=writing)
        self._account(thread_id, cache)
        return cache

    def _read_tail(self, thread_id: str, *, writing: bool = False) -> _ThreadCache:
        """Bring the cache up to date with the file; caller holds the thread lock.

        ``writing``: the caller holds the file lock too (and so the thread's
        files were moved from their old names), and will act on the
        tail after the last newline (cut it off, or rewrite without it). A
        tail recorded by an earlier read may have been read without the file
        lock, while another process was still writing it: it is read again,
        so that what is cut is what is there now, with no writer at work.
        """
        cache = self._cache(thread_id)
        found = self._locate(thread_id, old_name=not writing)
        if found is None:
            if cache.inode is not None or cache.entries:
                cache = self._reset_cache(thread_id)
            return cache
        path, st = found
        unchanged = st.st_ino == cache.inode and st.st_mtime_ns == cache.mtime_ns and st.st_size == cache.size
        if unchanged and not (writing and cache.size > cache.offset):
            return cache
        self._folder("threads", create=False)
        with os.fdopen(_open_own(path, os.O_RDONLY), "rb") as f:
            st = os.fstat(f.fileno())  # the file actually opened (a replace may have raced the stat)
            rewritten_in_place = (
                st.st_ino == cache.inode and st.st_size == cache.size and st.st_mtime_ns != cache.mtime_ns
            )
            if st.st_ino != cache.inode or st.st_size < cache.offset or rewritten_in_place:
                # Another inode, a shrink, or the same size with a new mtime:
                # appends only ever grow a file, so this one was rewritten.
                cache = self._reset_cache(thread_id)
            f.seek(cache.offset - len(cache.fingerprint))
            if cache.fingerprint and f.read(len(cache.fingerprint)) != cache.fingerprint:
                # Same inode and no shrink, yet the old bytes changed: the file
                # was replaced by one that reuses the inode. Read it afresh.
                cache = self._reset_cache(thread_id)
                f.seek(0)
            # Chunks, not one read: a cold read of a long thread never holds
            # the whole file and all its lines in memory at once.
            pending = b""
            while chunk := f.read(_CHUNK):
                data = pending + chunk if pending else chunk
                cut = data.rfind(b"\n") + 1  # a torn last line stays unconsumed
                if cut:
                    self._ingest(cache, thread_id, path, data[:cut], st.st_ino)
                pending = data[cut:]
            # Only what was read counts: a line appended since the last read
            # shows in a stat taken now, not in ``offset``.
            _identify(cache, os.fstat(f.fileno()), cache.offset + len(pending))
        return cache

    def _ingest(self, cache: _ThreadCache, thread_id: str, path: str, complete: bytes, inode: int) -> None:
        """Parse whole lines and mark them consumed."""
        for raw in complete.split(b"\n")[:-1]:
            cache.line_no += 1
            if raw.strip():
                self._parse_line(cache, thread_id, path, raw, inode)
        _consume(cache, complete)

    def _parse_line(self, cache: _ThreadCache, thread_id: str, path: str, raw: bytes, inode: int) -> None:
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            self._warn_malformed(path, cache.line_no, inode, f"not JSON ({exc})")
            return
        except RecursionError:
            # Nested deeper than this Python parses (the store refuses such
            # content now; an older one did not): one line, not the thread.
            # It is a whole line another Python may read: no seq it may hold
            # is handed out again (a number too many only leaves a gap).
            cache.last_seq = max([cache.last_seq, *map(int, _SEQ_KEY.findall(raw))])
            self._warn_malformed(path, cache.line_no, inode, "nested too deeply for this Python to parse")
            return
        if isinstance(obj, dict) and set(obj) == {"last_seq"} and isinstance(obj["last_seq"], int):
            cache.last_seq = max(cache.last_seq, obj["last_seq"])
            return
        if isinstance(obj, dict) and set(obj) == {"batch"} and isinstance(obj["batch"], list):
            items = obj["batch"]
        else:
            items = [obj]
        checked = []
        expected = cache.last_record_seq
        for item in items:
            problem = self._record_problem(item, thread_id, expected)
            if problem:
                self._warn_malformed(path, cache.line_no, inode, problem)
                return
            expected = item["seq"]
            # A line holding one record is its JSON already; a batch's
            # records are re-encoded one by one (C recursion: the line parsed,
            # so each of its records, one level less deep, encodes).
            text = raw.decode("utf-8") if item is obj else base.ENCODER.encode(item)
            task_id = item["metadata"].get("task_id")
            json_chars = len(text) - _frame_chars(item)  # its content and metadata
            size = json_chars + len(item["event_type"]) + len(item["category"]) + len(item["created_at"])
            checked.append(
                (item["seq"], item["run_id"], item["event_type"], item["category"], task_id, text, size)
            )
        cache.add(checked)

    @staticmethod
    def _record_problem(item: object, thread_id: str, last_seq: int) -> str | None:
        if not isinstance(item, dict) or set(item) != _RECORD_KEYS:
            return "not an event record"
        seq = item["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int) or seq <= last_seq:
            return f"seq {seq!r} does not follow {last_seq}"
        if item["thread_id"] != thread_id:
            return f"thread_id {item['thread_id']!r} in the file of {thread_id!r}"
        if not isinstance(item["metadata"], dict):
            return "metadata is not an object"
        for key in ("run_id", "event_type", "category", "created_at"):
            if not isinstance(item[key], str):
                return f"{key} is not a string"
        return None

    def _warn_malformed(self, path: str, line_no: int, inode: int, reason: str) -> None:
        key = (path, inode, line_no)
        if key in self._warned:
            return
        self._warned.add(key)
        logger.warning("skipping malformed line %s:%d: %s", path, line_no, reason)

    # -- writing -----------------------------------------------------------

    def _append_locked(
        self,
        held: _ThreadFiles,
        thread_id: str,
        parts: list[list[base.NewEvent]],
        unsynced: _Unsynced | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Append parts of one thread, a line each, in one write; the caller holds both locks.

        A part of one event is a record line, a longer part a batch line. If
        the write or the fsync fails, the file is cut back to where the
        appended lines began and the error raised: none of them counts.
        With ``unsynced``, the append is recorded there instead of fsynced:
        the caller syncs it with others (``_sync_many``).
        """
        cache = self._refresh(thread_id, writing=True)
        # Everything is built before the write, and kept only once it is on
        # disk: the lines, the cache's entries, and the caller's records. The
        # events' content and metadata are fresh objects the cache does not
        # hold (it keeps JSON text): the records can be returned as they are.
        seq = cache.last_seq + 1
        lines, entries, out = [], [], []
        for events in parts:
            records = []
            texts = []
            for event in events:
                text = _record_json(event, seq)
                texts.append(text)
                size = base.event_chars(
                    event.content_json,
                    event.metadata_json,
                    event.event_type,
                    event.category,
                    event.created_at,
                )
                entries.append(
                    (
                        seq,
                        event.run_id,
                        event.event_type,
                        event.category,
                        event.metadata.get("task_id"),
                        text,
                        size,
                    )
                )
                records.append(base.with_seq(event, seq))
                seq += 1
            lines.append(texts[0] if len(texts) == 1 else '{"batch":[' + ",".join(texts) + "]}")
            out.append(records)
        lines.append("")  # every line ends with its newline
        payload = "\n".join(lines).encode("utf-8")
        path = self._path_text(thread_id)
        fd = held.append_to(path, cache.inode)
        # Bytes after the last newline, read under the file lock: a write cut short.
        torn = cache.size - cache.offset
        if torn:
            # A line counts once its newline is on disk (every append ends
            # with one): what follows the last newline was never
            # acknowledged. Cut it off, or the newline before our payload
            # would complete a cut-short line that happens to be whole JSON,
            # and its seqs would collide with ours.
            os.ftruncate(fd, cache.offset)
            logger.warning(
                "dropping %d bytes after the last complete line of %s (a write cut short)", torn, path
            )
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if self._fsync and unsynced is None:
                os.fsync(fd)
        except BaseException:
            # Part of the payload may be on disk (and, after a failed fsync,
            # all of it in the page cache): none of it was acknowledged.
            os.ftruncate(fd, cache.offset)
            raise
        st = os.fstat(fd)
        if unsynced is not None:
            unsynced.appends.append((thread_id, fd, cache.offset, st.st_dev))
        cache.add(entries)
        cache.line_no += len(parts)
        _consume(cache, payload)
        _identify(cache, st, cache.offset)  # the file as this write left it: up to its last newline
        self._account(thread_id, cache)
        return out

    def _sync_append(
        self, thread_id: str, parts: list[list[base.NewEvent]], unsynced: _Unsynced | None = None
    ) -> list[list[dict[str, Any]]]:
        """Append one thread's group: one lock, one write, one fsync.

        With ``unsynced``, the thread stays held and its append waits there
        to be made durable with the offload's others (``_sync_many``).
        """
        if unsynced is None:
            with self._writing(thread_id) as held:
                return self._append_locked(held, thread_id, parts)
        held = unsynced.held.enter_context(self._writing(thread_id))
        return self._append_locked(held, thread_id, parts, unsynced)

    def _sync_many(self, unsynced: _Unsynced, outcomes: _Outcomes) -> None:
        """Make an offload's appends durable, all at once: by default an fsync of each file, each
        in a thread of its own, so that they wait for the same journal commits (about what one
        fsync costs, and nothing but these files is flushed); with ``syncfs``, one ``syncfs`` per
        file system they are on (which also flushes whatever else is dirty there).

        An append whose fsync fails, or every append on a file system whose ``syncfs`` fails, is
        cut back off (its thread is still held: nothing was appended after it) and its thread's
        callers get the error.
        """
        appends = unsynced.appends
        if not appends:
            return
        failed: list[tuple[tuple[str, int, int, int], OSError]] = []
        if self._syncfs and _SYNCFS is not None:
            by_device: dict[int, list[tuple[str, int, int, int]]] = {}
            for append in appends:
                by_device.setdefault(append[3], []).append(append)
            for on_device in by_device.values():
                try:
                    _syncfs(on_device[0][1])
                except OSError as error:
                    failed += [(append, error) for append in on_device]
        else:
            errors = _helpers().fsync_all([fd for _, fd, _, _ in appends])
            failed = [
                (append, problem)
                for append, problem in zip(appends, errors, strict=True)
                if problem is not None
            ]
        for (thread_id, fd, start, _), problem in failed:
            outcomes[thread_id] = problem
            self._reset_cache(thread_id)  # its cache holds the lines cut off
            try:
                os.ftruncate(fd, start)
            except OSError:
                logger.exception("could not cut a failed append off %s", self._path_text(thread_id))

    def _sync_put_if_absent(self, event: base.NewEvent) -> tuple[dict[str, Any], bool]:
        thread_id = event.thread_id
        with self._writing(thread_id) as held:
            cache = self._refresh(thread_id, writing=True)
            for entry in cache.by_run.get(event.run_id, ()):
                if entry[EVENT_TYPE] == event.event_type:
                    return _decode([entry])[0], False
            return self._append_locked(held, thread_id, [[event]])[0][0], True

    def _replace_file(self, path: str, lines: Iterable[bytes]) -> None:
        """Write ``lines`` to a new file (0600, fsynced with ``fsync``) and put it at ``path`` at once."""
        folder = self._folder("threads")
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.writelines(lines)
                f.flush()
                if self._fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, path)  # a link at ``path`` is replaced, never followed
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _sync_delete_by_run(self, thread_id: str, run_id: str) -> int:
        if self._locate(thread_id) is None:
            return 0  # no file, no events: nothing to lock, nothing made (a lock file would stay)
        with self._writing(thread_id):
            cache = self._refresh(thread_id, writing=True)  # the rewrite drops a tail cut short
            removed = len(cache.by_run.get(run_id, ()))
            if removed == 0:
                return 0
            kept = [e for e in cache.entries if e[RUN_ID] != run_id]
            header = _line(f'{{"last_seq":{cache.last_seq}}}')
            self._replace_file(self._path_text(thread_id), [header, *(_line(entry[RAW]) for entry in kept)])
            self._refresh(thread_id, writing=True)
            return removed

    def _sync_delete_by_thread(self, thread_id: str) -> int:
        """Remove the thread's file and its lock file; a thread with neither is left as it is (absent).

        The lock file is unlinked by its holder (``_ThreadFiles.remove_lock_file``
        says why that is safe for whoever waits on it). A thread with no file
        is not locked at all: a delete that locked it would make a lock file.
        Racing its first write, such a delete comes before it (it saw no file),
        and a lock file with no thread file (that writer's, or one a crash
        left) makes the delete lock and remove it.
        """
        if self._locate(thread_id) is None and not os.path.lexists(
            f"{self._locks_dir}{file_stem(thread_id)}.lock"
        ):
            return 0
        with self._writing(thread_id) as held:
            cache = self._refresh(thread_id, writing=True)
            removed = len(cache.entries)
            with contextlib.suppress(FileNotFoundError):
                self._folder("threads", create=False)
                os.unlink(self._path_text(thread_id))
            held.remove_lock_file()
            self._drop(thread_id, held)
            return removed

    # -- the old names (before file_stem) --------------------------------------

    def _move_old_files(self, thread_id: str) -> None:
        """Move a thread's files from their old names to ``file_stem``'s; the caller holds the thread.

        The old mapping named files after the id as it is: on a
        case-insensitive file system ``ABC`` and ``abc`` shared one file (each
        skipping the other's lines). Where the old name is a file of its own,
        it is renamed. Where it is the file of the id in lower case (one file
        under both names: the file system ignores case), this thread's lines
        are split out of it (``_split_shared``). The old lock file, which no
        process of this version locks, is removed, unless it is that id's.
        """
        old = self._old_path_text(thread_id)
        if old is None:
            return
        lowered = thread_id.lower()
        old_lock = f"{self._locks_dir}{thread_id}.lock"
        lowered_lock = f"{self._locks_dir}{lowered}.lock"
        try:
            old_st = os.lstat(old)
        except FileNotFoundError:
            old_st = None
        if old_st is not None and not os.path.lexists(self._path_text(thread_id)):
            if not stat.S_ISREG(old_st.st_mode):
                raise _not_a_file(old, old_st)
            if _same_file(old, f"{self._threads_dir}{lowered}.jsonl"):
                self._split_shared(thread_id, old)
            else:
                self._folder("threads", create=False)
                os.rename(old, self._path_text(thread_id))
        if os.path.lexists(old_lock) and not _same_file(old_lock, lowered_lock):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(old_lock)

    def _split_shared(self, thread_id: str, old: str) -> None:
        """Give ``thread_id`` its lines of the file it shared with its id in lower case.

        Holds that id too, after this one: capitals sort before lower case,
        so an id sorts before its lower-case form, and every holder takes
        threads in sorted order (no two wait for each other). Its file keeps
        its other lines; a seq mark (``last_seq``) is copied to both, so no seq
        is handed out again. This thread's file is written first: a crash
        between the two leaves its lines in both files, never in neither.
        """
        lowered = thread_id.lower()
        with self._writing(lowered):
            shared = f"{self._threads_dir}{lowered}.jsonl"
            self._folder("threads", create=False)
            with os.fdopen(_open_own(shared, os.O_RDONLY), "rb") as f:
                data = f.read()
            mine: list[bytes] = []
            others: list[bytes] = []
            marks: list[bytes] = []
            for raw in data.split(b"\n")[:-1]:  # a tail cut short was never acknowledged
                owner = _line_thread(raw)
                if owner == "":
                    marks.append(raw)
                (mine if owner == thread_id else others).append(raw)
            if not mine:
                return
            self._replace_file(self._path_text(thread_id), [_line_bytes(r) for r in [*marks, *mine]])
            self._replace_file(shared, [_line_bytes(r) for r in others])
            if not _same_file(old, shared):  # two names of one file that the file system tells apart
                os.unlink(old)
            self._reset_cache(lowered)

    def _sync_list_messages(
        self, thread_id: str, limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]:
        with self._reading(thread_id):
            cache = self._refresh(thread_id)
            found = base.page(cache.messages, limit, before_seq, after_seq, key=_seq)
            return _decode(base.fit_page(found, self.max_page_bytes, _size, newest=after_seq is None))

    def _sync_list_messages_by_run(
        self,
        thread_id: str,
        run_id: str,
        limit: int,
        before_seq: int | None,
        after_seq: int | None,
    ) -> list[dict[str, Any]]:
        with self._reading(thread_id):
            cache = self._refresh(thread_id)
            messages = cache.messages_by_run.get(run_id, [])
            found = base.page(messages, limit, before_seq, after_seq, key=_seq)
            return _decode(base.fit_page(found, self.max_page_bytes, _size, newest=after_seq is None))

    def _sync_list_events(
        self,
        thread_id: str,
        run_id: str,
        event_types: list[str] | None,
        task_id: str | None,
        limit: int,
        after_seq: int | None,
    ) -> list[dict[str, Any]]:
        with self._reading(thread_id):
            cache = self._refresh(thread_id)
            run = cache.by_run.get(run_id, [])
            start = 0 if after_seq is None else bisect.bisect_right(run, after_seq, key=_seq)
            wanted = None if event_types is None else frozenset(event_types)
            found = []
            for entry in itertools.islice(run, start, None):
                if wanted is not None and entry[EVENT_TYPE] not in wanted:
                    continue
                if task_id is not None and entry[TASK_ID] != task_id:
                    continue
                found.append(entry)
                if len(found) == limit:
                    break
            return _decode(base.fit_page(found, self.max_page_bytes, _size, newest=False))

    def _sync_count_messages(self, thread_id: str) -> int:
        with self._reading(thread_id):
            return len(self._refresh(thread_id).messages)

    # -- the storage hooks: one offload each ------------------------------------

    async def _put(self, event: base.NewEvent) -> dict[str, Any]:
        return (await self._commit(event.thread_id, [event]))[0]

    async def _put_batch(self, events: list[base.NewEvent]) -> list[dict[str, Any]]:
        by_thread: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            by_thread.setdefault(event.thread_id, []).append(index)
        if len(by_thread) == 1:
            return await self._commit(events[0].thread_id, events)
        # Each thread's part joins its own thread's group; the parts are
        # written in parallel, each all-or-nothing, as they were one by one.
        # Every part's outcome is awaited: if some fail, the caller must know
        # which were stored, or a retry of the whole batch stores those twice.
        parts = list(by_thread.items())
        outcomes = await asyncio.gather(
            *(self._commit(t, [events[i] for i in idx]) for t, idx in parts), return_exceptions=True
        )
        failed: dict[str, BaseException] = {}
        stored: dict[str, list[dict[str, Any]]] = {}
        for (thread_id, _), outcome in zip(parts, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome  # KeyboardInterrupt and the like: not a storage failure
                failed[thread_id] = outcome
            else:
                stored[thread_id] = outcome
        if failed:
            first = next(iter(failed.values()))
            if not stored:
                raise first  # nothing of the batch was stored: a plain error, as for one thread
            unstored = sorted(i for thread_id in failed for i in by_thread[thread_id])
            raise base.PartialBatchError(stored, failed, unstored) from first
        out: list[dict[str, Any]] = [{}] * len(events)
        for thread_id, indexes in parts:
            for index, record in zip(indexes, stored[thread_id], strict=True):
                out[index] = record
        return out

    # -- group commit: the appends of put and put_batch ------------------------------

    async def _commit(self, thread_id: str, events: list[base.NewEvent]) -> list[dict[str, Any]]:
        """Queue one line for ``thread_id``; return its records once its group is on disk.

        The caller that finds its thread idle leads it: after one turn of the
        loop (callers started with it join), it takes its thread's queued
        lines, and those of other threads waiting for their leader, and makes
        one offload. The worker thread answers the groups itself
        (``_answer``, scheduled on the loop), so a leader cancelled mid-write
        abandons no one (nor one whose job was still queued: ``_offload``); each answer hands its thread's turn to the first
        caller queued meanwhile, which takes its group at once. A leader whose
        thread another leader took waits for that answer like any caller.
        """
        loop = asyncio.get_running_loop()
        queue = self._commit_queues.get(loop)
        if queue is None:
            queue = self._commit_queues[loop] = _CommitQueue()
        waiter = _Waiter(events, loop.create_future())
        waiting = queue.pending.get(thread_id)
        if waiting is None:
            queue.pending[thread_id] = [waiter]
        else:
            waiting.append(waiter)
        lead = thread_id not in queue.busy
        if lead:
            queue.busy.add(thread_id)
            try:
                await asyncio.sleep(0)  # let the callers the loop runs meanwhile join
            except asyncio.CancelledError:
                self._leave(queue, thread_id, waiter, leading=True)
                raise
        while True:
            if lead and not waiter.answered and thread_id not in queue.writing:
                offload = _Offload(self._take(queue, thread_id))
                try:
                    # Cancelled here, the leader leaves; its offload is still made and answered.
                    await self._offload(loop, queue, offload, leader=True)
                except asyncio.CancelledError:
                    raise
                except BaseException as exc:
                    # Whatever escaped the offload (it answers what fails inside it): the
                    # groups it took get this error, so no caller waits for an answer forever.
                    self._answer(queue, offload, exc)
            if not waiter.answered:
                try:
                    await waiter.future
                except asyncio.CancelledError:
                    self._leave(queue, thread_id, waiter, leading=False)
                    raise
            if waiter.answered:
                if waiter.error is not None:
                    raise waiter.error
                return waiter.records
            waiter.future = loop.create_future()  # woken with the turn: lead, at once
            lead = True

    async def _offload(
        self, loop: asyncio.AbstractEventLoop, queue: _CommitQueue, offload: _Offload, *, leader: bool
    ) -> None:
        """Make the one offload of the taken groups; whatever happens, every caller of them is answered.

        The worker answers (``_sync_commit``). Run by the leader (``leader``)
        or, if the leader was cancelled before a worker started its job, by a
        task of its own. Cancelling the await cancels the job as well when it
        is still queued in the executor (all workers busy): then no worker
        ever runs it, and the groups, already out of the queue and marked
        ``writing``, would wait forever. ``claim`` says which side has the
        attempt:

        * a worker started it: it writes and answers, whatever the loop does;
        * the loop gave it up first (the worker, if it comes, returns at once):
          nothing of it was written. The leader's cancellation is its own, not
          its callers': a task no caller holds makes the offload again. That
          task is cancelled only when the loop ends (``asyncio.run`` cancels
          what is left): its callers then get an error, as nothing was written.

        Either way each thread's turn is passed on by the answer.
        """
        try:
            await asyncio.to_thread(self._sync_commit, loop, queue, offload)
        except asyncio.CancelledError:
            if offload.claim():
                if leader:
                    retry = loop.create_task(
                        self._offload(loop, queue, _Offload(offload.groups), leader=False)
                    )
                    queue.retries.add(retry)
                    retry.add_done_callback(queue.retries.discard)
                else:
                    self._answer(queue, offload, RuntimeError(_GIVEN_UP))
            raise
        except BaseException as exc:
            # The offload failed before or around the writes: what the
            # worker did not answer gets this error.
            self._answer(queue, offload, exc)

    @staticmethod
    def _take(queue: _CommitQueue, thread_id: str) -> _Groups:
        """The leader's thread's queued callers, and those of other threads waiting for their leader."""
        threads = [thread_id]
        for other in queue.pending:
            if len(threads) == _THREADS_PER_OFFLOAD:
                break
            if other != thread_id and other not in queue.writing:
                threads.append(other)
        groups = {}
        for taken in threads:
            # Callers cancelled since they queued (their except clause has not
            # run yet) are left out: nothing of theirs is written.
            waiters = [w for w in queue.pending.pop(taken) if not w.future.cancelled()]
            if waiters:
                groups[taken] = waiters
                queue.writing.add(taken)
        return groups

    def _sync_commit(self, loop: asyncio.AbstractEventLoop, queue: _CommitQueue, offload: _Offload) -> None:
        """Write each taken thread's group (in a worker thread); schedule their answer on the loop.

        A thread whose write fails gets its error; the other threads' groups
        are written all the same. An attempt the loop gave up before this
        worker started it (``_offload``) is left alone: it was made again, or
        its callers were answered.
        """
        if not offload.claim():
            return
        outcomes: _Outcomes = {}
        # Several threads with fsync: their appends wait, held, to be made
        # durable together (_sync_many), which costs about what one fsync
        # does where an fsync each, one after the other, grows with their
        # number. Threads are held in one order (sorted) by every offload,
        # so two offloads never wait for each other's threads.
        unsynced = _Unsynced() if self._fsync and len(offload.groups) > 1 else None
        with unsynced.held if unsynced is not None else contextlib.nullcontext():
            for thread_id in sorted(offload.groups):
                try:
                    outcomes[thread_id] = self._sync_append(
                        thread_id, [w.events for w in offload.groups[thread_id]], unsynced
                    )
                except Exception as exc:
                    outcomes[thread_id] = exc
            if unsynced is not None:
                self._sync_many(unsynced, outcomes)
        loop.call_soon_threadsafe(self._answer, queue, offload, outcomes)

    def _answer(self, queue: _CommitQueue, offload: _Offload, outcomes: _Outcomes | BaseException) -> None:
        """Give each caller its records or its group's error; pass each thread's turn on."""
        if offload.answered:
            return  # the worker's answer and its offload's failure can both come
        offload.answered = True
        for thread_id in offload.groups:
            queue.writing.discard(thread_id)
            self._pass_turn(queue, thread_id)
        for thread_id, waiters in offload.groups.items():
            outcome = outcomes if isinstance(outcomes, BaseException) else outcomes[thread_id]
            for index, waiter in enumerate(waiters):
                waiter.answered = True
                if isinstance(outcome, BaseException):
                    waiter.error = outcome
                else:
                    waiter.records = outcome[index]
                if not waiter.future.done():  # done: cancelled, or woken already (it reads the answer)
                    waiter.future.set_result(None)

    @staticmethod
    def _pass_turn(queue: _CommitQueue, thread_id: str) -> None:
        """The thread's leader is gone: the first caller still waiting leads next, or the thread is idle.

        While a group of the thread is on disk, its answer passes the turn.
        """
        if thread_id in queue.writing:
            return
        for waiter in queue.pending.get(thread_id, ()):
            if not waiter.future.done():
                waiter.future.set_result(None)
                return
        queue.busy.discard(thread_id)

    def _leave(self, queue: _CommitQueue, thread_id: str, waiter: _Waiter, *, leading: bool) -> None:
        """A caller cancelled while it waited: drop its line if not taken; hand on a turn it held."""
        waiting = queue.pending.get(thread_id)
        if waiting is not None and waiter in waiting:  # not taken yet: it never reaches the file
            waiting.remove(waiter)
            if not waiting:
                del queue.pending[thread_id]
        woken = waiter.future.done() and not waiter.future.cancelled()
        if (leading or woken) and not waiter.answered:  # answered: the answer passed the turn
            self._pass_turn(queue, thread_id)

    async def _put_if_absent(self, event: base.NewEvent) -> tuple[dict[str, Any], bool]:
        return await asyncio.to_thread(self._sync_put_if_absent, event)

    async def _list_messages(
        self, thread_id: str, limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._sync_list_messages, thread_id, limit, before_seq, after_seq)

    async def _list_messages_by_run(
        self, thread_id: str, run_id: str, limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]:
        return await asyncio.to_thread(
            self._sync_list_messages_by_run, thread_id, run_id, limit, before_seq, after_seq
        )

    async def _list_events(
        self,
        thread_id: str,
        run_id: str,
        event_types: list[str] | None,
        task_id: str | None,
        limit: int,
        after_seq: int | None,
    ) -> list[dict[str, Any]]:
        return await asyncio.to_thread(
            self._sync_list_events, thread_id, run_id, event_types, task_id, limit, after_seq
        )

    async def _count_messages(self, thread_id: str) -> int:
        return await asyncio.to_thread(self._sync_count_messages, thread_id)

    async def _delete_by_run(self, thread_id: str, run_id: str) -> int:
        return await asyncio.to_thread(self._sync_delete_by_run, thread_id, run_id)

    async def _delete_by_thread(self, thread_id: str) -> int:
        return await asyncio.to_thread(self._sync_delete_by_thread, thread_id)


class _Holding:
    """``with``: hold a thread of a store (its threading lock, and its file lock when writing)."""

    __slots__ = ("_file_lock", "_held", "_store", "_thread_id")

    def __init__(self, store: JsonlRunEventStore, thread_id: str, *, file_lock: bool) -> None:
        self._store = store
        self._thread_id = thread_id
        self._file_lock = file_lock

    def __enter__(self) -> _ThreadFiles:
        held = self._held = self._store._hold(self._thread_id)
        if self._file_lock:
            try:
                held.lock_file()
            except BaseException:
                held.lock.release()
                raise
            if not held.moved_old_files:
                try:
                    self._store._move_old_files(self._thread_id)
                except BaseException:
                    self.__exit__()
                    raise
                held.moved_old_files = True
        return held

    def __exit__(self, *exc: object) -> None:
        held = self._held
        try:
            if self._file_lock:
                held.unlock_file()
        finally:
            self._store._release(held)
