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
offload into the synchronous method of the same name prefixed ``_sync``.

Reads are incremental: a per-thread cache keeps, per record, its seq, the
fields the queries filter on, and its JSON text (decoded only when a page is
returned, so a page costs what it holds and the cache stays compact), plus the
byte offset it has consumed. A read stats the file; if only appends happened since
(same inode, file grew, the last bytes before the old offset unchanged) it
parses just the new tail; a new inode, a shrink, a same-size file with a new
mtime (appends only grow a file) or changed last bytes reload. Writers hold a per-thread
``threading.Lock`` (this process) and a ``filelock.FileLock`` (other
processes), refresh the cache under them, and assign seqs from it.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import filelock

from runlog.events import base

logger = logging.getLogger(__name__)

_FINGERPRINT = 64
_CHUNK = 1 << 20
_RECORD_KEYS = frozenset(
    ("thread_id", "run_id", "seq", "event_type", "category", "content", "metadata", "created_at")
)


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


# One cached record: (seq, run_id, event_type, category, task_id, raw JSON text).
# A plain tuple: it is built for every event written or read, and a tuple
# literal costs a fraction of a NamedTuple's constructor.
_Entry = tuple[Any, ...]
SEQ, RUN_ID, EVENT_TYPE, CATEGORY, TASK_ID, RAW = range(6)
_seq = itemgetter(SEQ)


def _decode(entries: Iterable[_Entry]) -> list[dict[str, Any]]:
    """Fresh record dicts for a page: one parse of the page's JSON."""
    records: list[dict[str, Any]] = base.DECODER.decode("[" + ",".join(e[RAW] for e in entries) + "]")
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
    size: int = 0  # file size at the last stat (> offset while a line is torn)
    inode: int | None = None
    mtime_ns: int | None = None
    fingerprint: bytes = b""  # the last bytes before offset

    def add(self, entries: Iterable[_Entry]) -> None:
        by_run, messages_by_run, message = self.by_run, self.messages_by_run, base.MESSAGE_CATEGORY
        for entry in entries:
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


def _identify(cache: _ThreadCache, st: os.stat_result) -> None:
    """Record which file, in which state, the cache reflects."""
    cache.inode = st.st_ino
    cache.mtime_ns = st.st_mtime_ns
    cache.size = st.st_size


class JsonlRunEventStore(base.StorageRunEventStore):
    """Run events in JSONL files under ``base_dir``.

    ``fsync``: flush appends and rewrites to stable storage before returning.
    ``max_cached_threads``: how many threads' parsed records stay in memory.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        *,
        fsync: bool = True,
        max_cached_threads: int = 256,
        lock_timeout: float = 30.0,
    ) -> None:
        if max_cached_threads < 1:
            raise ValueError("max_cached_threads must be >= 1")
        self.base_dir = Path(base_dir)
        self._fsync = fsync
        self._max_cached = max_cached_threads
        self._lock_timeout = lock_timeout
        self._caches: OrderedDict[str, _ThreadCache] = OrderedDict()
        self._thread_locks: dict[str, threading.Lock] = {}
        self._file_locks: dict[str, filelock.FileLock] = {}
        self._registry_lock = threading.Lock()
        self._warned: set[tuple[str, int | None, int]] = set()

    # -- paths and locks (all used from worker threads) -------------------

    def _path(self, thread_id: str) -> Path:
        return self.base_dir / "threads" / f"{thread_id}.jsonl"

    def _thread_lock(self, thread_id: str) -> threading.Lock:
        with self._registry_lock:
            lock = self._thread_locks.get(thread_id)
            if lock is None:
                lock = self._thread_locks[thread_id] = threading.Lock()
            return lock

    def _locked(self, thread_id: str) -> _Locked:
        with self._registry_lock:
            file_lock = self._file_locks.get(thread_id)
            if file_lock is None:
                lock_path = self.base_dir / "locks" / f"{thread_id}.lock"
                file_lock = filelock.FileLock(lock_path, timeout=self._lock_timeout)
                self._file_locks[thread_id] = file_lock
        # FileLock creates the lock file's folder itself when it acquires.
        return _Locked(self._thread_lock(thread_id), file_lock)

    def _cache(self, thread_id: str) -> _ThreadCache:
        with self._registry_lock:
            cache = self._caches.get(thread_id)
            if cache is None:
                cache = self._caches[thread_id] = _ThreadCache()
                while len(self._caches) > self._max_cached:
                    self._caches.popitem(last=False)
            else:
                self._caches.move_to_end(thread_id)
            return cache

    def _reset_cache(self, thread_id: str) -> _ThreadCache:
        with self._registry_lock:
            cache = self._caches[thread_id] = _ThreadCache()
            return cache

    # -- reading -----------------------------------------------------------

    def _refresh(self, thread_id: str) -> _ThreadCache:
        """Bring the cache up to date with the file; caller holds the thread lock."""
        cache = self._cache(thread_id)
        path = self._path(thread_id)
        try:
            st = path.stat()
        except FileNotFoundError:
            if cache.inode is not None or cache.entries:
                cache = self._reset_cache(thread_id)
            return cache
        unchanged = st.st_ino == cache.inode and st.st_mtime_ns == cache.mtime_ns and st.st_size == cache.size
        if unchanged:
            return cache
        with path.open("rb") as f:
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
                    self._ingest(cache, path, data[:cut], st.st_ino)
                pending = data[cut:]
            _identify(cache, os.fstat(f.fileno()))
        return cache

    def _ingest(self, cache: _ThreadCache, path: Path, complete: bytes, inode: int) -> None:
        """Parse whole lines and mark them consumed."""
        for raw in complete.split(b"\n")[:-1]:
            cache.line_no += 1
            if raw.strip():
                self._parse_line(cache, path, raw, inode)
        _consume(cache, complete)

    def _parse_line(self, cache: _ThreadCache, path: Path, raw: bytes, inode: int) -> None:
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            self._warn_malformed(path, cache.line_no, inode, f"not JSON ({exc})")
            return
        if isinstance(obj, dict) and set(obj) == {"last_seq"} and isinstance(obj["last_seq"], int):
            cache.last_seq = max(cache.last_seq, obj["last_seq"])
            return
        if isinstance(obj, dict) and set(obj) == {"batch"} and isinstance(obj["batch"], list):
            items = obj["batch"]
        else:
            items = [obj]
        thread_id = path.stem
        checked = []
        expected = cache.last_record_seq
        for item in items:
            problem = self._record_problem(item, thread_id, expected)
            if problem:
                self._warn_malformed(path, cache.line_no, inode, problem)
                return
            expected = item["seq"]
            # A line holding one record is its JSON already; a batch's
            # records are re-encoded one by one.
            text = raw.decode("utf-8") if item is obj else base.ENCODER.encode(item)
            task_id = item["metadata"].get("task_id")
            checked.append((item["seq"], item["run_id"], item["event_type"], item["category"], task_id, text))
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

    def _warn_malformed(self, path: Path, line_no: int, inode: int, reason: str) -> None:
        key = (str(path), inode, line_no)
        if key in self._warned:
            return
        self._warned.add(key)
        logger.warning("skipping malformed line %s:%d: %s", path, line_no, reason)

    # -- writing -----------------------------------------------------------

    def _append_locked(self, thread_id: str, events: list[base.NewEvent]) -> list[dict[str, Any]]:
        """Append events of one thread; the caller holds both locks."""
        cache = self._refresh(thread_id)
        seqs = range(cache.last_seq + 1, cache.last_seq + 1 + len(events))
        texts = [_record_json(event, seq) for event, seq in zip(events, seqs, strict=True)]
        payload = _line(texts[0]) if len(texts) == 1 else _line('{"batch":[' + ",".join(texts) + "]}")
        torn = cache.size - cache.offset  # bytes after the last newline: a write cut short
        path = self._path(thread_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as f:
            if torn:
                # A line counts once its newline is on disk (every append
                # ends with one): what follows the last newline was never
                # acknowledged. Cut it off, or the newline before our payload
                # would complete a cut-short line that happens to be whole
                # JSON, and its seqs would collide with ours.
                f.truncate(cache.offset)
                logger.warning(
                    "dropping %d bytes after the last complete line of %s (a write cut short)", torn, path
                )
            f.write(payload)
            f.flush()
            if self._fsync:
                os.fsync(f.fileno())
            st = os.fstat(f.fileno())
        cache.add(
            (seq, e.run_id, e.event_type, e.category, e.metadata.get("task_id"), text)
            for e, seq, text in zip(events, seqs, texts, strict=True)
        )
        cache.line_no += 1
        _consume(cache, payload)
        _identify(cache, st)
        # The events' content and metadata are fresh objects the cache does
        # not hold (it keeps JSON text): the records can be returned as they are.
        return [base.with_seq(event, seq) for event, seq in zip(events, seqs, strict=True)]

    def _sync_put(self, event: base.NewEvent) -> dict[str, Any]:
        with self._locked(event.thread_id):
            return self._append_locked(event.thread_id, [event])[0]

    def _sync_put_batch(self, events: list[base.NewEvent]) -> list[dict[str, Any]]:
        by_thread: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            by_thread.setdefault(event.thread_id, []).append(index)
        out: list[dict[str, Any]] = [{}] * len(events)
        for thread_id, indexes in by_thread.items():
            with self._locked(thread_id):
                stored = self._append_locked(thread_id, [events[i] for i in indexes])
            for index, record in zip(indexes, stored, strict=True):
                out[index] = record
        return out

    def _sync_put_if_absent(self, event: base.NewEvent) -> tuple[dict[str, Any], bool]:
        thread_id = event.thread_id
        with self._locked(thread_id):
            cache = self._refresh(thread_id)
            for entry in cache.by_run.get(event.run_id, ()):
                if entry[EVENT_TYPE] == event.event_type:
                    return _decode([entry])[0], False
            return self._append_locked(thread_id, [event])[0], True

    def _sync_delete_by_run(self, thread_id: str, run_id: str) -> int:
        with self._locked(thread_id):
            cache = self._refresh(thread_id)
            removed = len(cache.by_run.get(run_id, ()))
            if removed == 0:
                return 0
            kept = [e for e in cache.entries if e[RUN_ID] != run_id]
            path = self._path(thread_id)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{thread_id}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(_line(f'{{"last_seq":{cache.last_seq}}}'))
                    f.write(b"".join(_line(entry[RAW]) for entry in kept))
                    f.flush()
                    if self._fsync:
                        os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._refresh(thread_id)
            return removed

    def _sync_delete_by_thread(self, thread_id: str) -> int:
        with self._locked(thread_id):
            cache = self._refresh(thread_id)
            removed = len(cache.entries)
            self._path(thread_id).unlink(missing_ok=True)
            self._reset_cache(thread_id)
            return removed

    def _sync_list_messages(
        self, thread_id: str, limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]:
        with self._thread_lock(thread_id):
            cache = self._refresh(thread_id)
            return _decode(base.page(cache.messages, limit, before_seq, after_seq, key=_seq))

    def _sync_list_messages_by_run(
        self,
        thread_id: str,
        run_id: str,
        limit: int,
        before_seq: int | None,
        after_seq: int | None,
    ) -> list[dict[str, Any]]:
        with self._thread_lock(thread_id):
            cache = self._refresh(thread_id)
            messages = cache.messages_by_run.get(run_id, [])
            return _decode(base.page(messages, limit, before_seq, after_seq, key=_seq))

    def _sync_list_events(
        self,
        thread_id: str,
        run_id: str,
        event_types: list[str] | None,
        task_id: str | None,
        limit: int,
        after_seq: int | None,
    ) -> list[dict[str, Any]]:
        with self._thread_lock(thread_id):
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
            return _decode(found)

    def _sync_count_messages(self, thread_id: str) -> int:
        with self._thread_lock(thread_id):
            return len(self._refresh(thread_id).messages)

    # -- the storage hooks: one offload each ------------------------------------

    async def _put(self, event: base.NewEvent) -> dict[str, Any]:
        return await asyncio.to_thread(self._sync_put, event)

    async def _put_batch(self, events: list[base.NewEvent]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._sync_put_batch, events)

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


class _Locked:
    """Hold the in-process lock, then the inter-process file lock."""

    def __init__(self, thread_lock: threading.Lock, file_lock: filelock.FileLock) -> None:
        self._thread_lock = thread_lock
        self._file_lock = file_lock

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            self._file_lock.acquire()
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            self._file_lock.release()
        finally:
            self._thread_lock.release()
