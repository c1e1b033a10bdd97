"""JSONL store edges the mutation run (``tox -e mutation``) found untested: locks, the log of
malformed lines, failed rewrites and what the read cache re-reads.

The cache tests edit a thread file behind the store's back without changing
what ``stat`` reports (same inode, size and mtime). The design says a read
whose stat is unchanged, or that only sees appends, parses nothing but the
new tail; such an edit is therefore invisible to a store that kept its
cache, and visible to one that re-read the file. That is how these tests see
a cache that is thrown away or never kept, which answers stay right but
costs a full parse per call (the naive column of the README's scaling table).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import gc
import logging
import os
import re
import select
import stat
import sys
import threading
import time
import types
from pathlib import Path

import filelock
import pytest

from runlog.events import JsonlRunEventStore, jsonl
from tests.factories import event

try:
    import fcntl
except ImportError:  # not POSIX: the store takes filelock's lock, the tests that need flock skip
    fcntl = None

LOGGER = "runlog.events.jsonl"


def thread_file(base, thread_id="t1"):
    return base / "threads" / f"{thread_id}.jsonl"


def stealth_edit(path, old: str, new: str) -> None:
    """Overwrite ``old`` with ``new`` (same length) in place and restore the mtime: stat sees nothing."""
    assert len(old) == len(new)
    before = os.stat(path)
    data = path.read_bytes()
    assert data.count(old.encode()) == 1
    with path.open("r+b") as f:
        f.seek(data.index(old.encode()))
        f.write(new.encode())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


async def stamps(store):
    """The created_at of the last message of t1."""
    return [m["created_at"] for m in await store.list_messages("t1", limit=1)]


async def contents(store, thread_id="t1"):
    return [m["content"] for m in await store.list_messages(thread_id, limit=100)]


# -- locks ---------------------------------------------------------------------

WRITERS = {
    "put": lambda s: s.put(**event()),
    "put_batch": lambda s: s.put_batch([event(), event()]),
    "put_if_absent": lambda s: s.put_if_absent(**event()),
    "delete_by_run": lambda s: s.delete_by_run("t1", "r1"),
    "delete_by_thread": lambda s: s.delete_by_thread("t1"),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
async def test_a_writer_waits_for_the_threads_lock_file_then_times_out(tmp_path, writer):
    store = JsonlRunEventStore(tmp_path, lock_timeout=0.2)
    await store.put(**event(content="kept"))
    lock_path = tmp_path / "locks" / "t1.lock"
    other_process = filelock.FileLock(lock_path)  # the documented lock file
    with other_process.acquire(timeout=5):
        with pytest.raises(TimeoutError, match=re.escape(str(lock_path))):  # the error names the lock file
            await WRITERS[writer](store)
        # Readers take no file lock: they answer while a writer of another process holds it.
        assert await contents(store) == ["kept"]
    assert await contents(JsonlRunEventStore(tmp_path)) == ["kept"]


async def test_each_thread_has_its_own_lock_file(tmp_path):
    store = JsonlRunEventStore(tmp_path, lock_timeout=0.2)
    with filelock.FileLock(tmp_path / "locks" / "t1.lock").acquire(timeout=5):
        assert (await store.put(**event(thread_id="t2")))["seq"] == 1
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == ["t1.lock", "t2.lock"]


def hold_lock_file(path):
    """Lock ``path`` as another process would (its own descriptor); closing the descriptor unlocks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@pytest.mark.skipif(fcntl is None, reason="flock is POSIX")
async def test_a_writer_gets_a_lock_released_before_its_timeout(tmp_path, monkeypatch):
    """It waits for the release, not the whole timeout (which would raise), polling at short
    intervals: the pauses are checked, not the wall time, which a loaded machine stretches."""
    store = JsonlRunEventStore(tmp_path, lock_timeout=60)
    holder = hold_lock_file(tmp_path / "locks" / "t1.lock")
    pauses: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(jsonl.time, "sleep", sleep)
    started = time.monotonic()  # before the timer: its 0.1 s count from its start
    threading.Timer(0.1, os.close, [holder]).start()
    assert (await store.put(**event()))["seq"] == 1
    assert time.monotonic() - started >= 0.1
    assert pauses and max(pauses) <= 0.01


@pytest.mark.skipif(fcntl is None, reason="flock is POSIX")
async def test_the_lock_file_stays_open_between_writes(tmp_path, monkeypatch):
    """The design's cost model: a write reuses the thread's open lock file and thread file."""
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event())
    opened = []
    real_open = os.open

    def spy(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    for _ in range(3):
        await store.put(**event())
    await store.put_batch([event(), event()])
    await store.put_if_absent(**event(event_type="start"))
    monkeypatch.undo()
    assert opened == []
    assert [m["seq"] for m in await JsonlRunEventStore(tmp_path).list_messages("t1")] == list(range(1, 8))


@pytest.mark.skipif(fcntl is None, reason="flock is POSIX")
async def test_files_are_created_readable_and_writable_by_the_owner_only(tmp_path):
    old_umask = os.umask(0o022)
    try:
        await JsonlRunEventStore(tmp_path).put(**event())
    finally:
        os.umask(old_umask)
    for path in (tmp_path / "locks" / "t1.lock", thread_file(tmp_path)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.skipif(fcntl is None, reason="flock is POSIX")
async def test_a_deleted_lock_file_is_made_again_before_the_write(tmp_path, monkeypatch):
    """A lock on a file nobody can open any more excludes no one: the store locks the path anew."""
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event())
    lock_path = tmp_path / "locks" / "t1.lock"
    lock_path.unlink()
    others = []
    original = JsonlRunEventStore._append_locked

    def while_writing(self, held, thread_id, parts, *rest):
        # Another process opening the path now must find it locked.
        try:
            filelock.FileLock(lock_path, timeout=0).acquire()
        except filelock.Timeout:
            others.append("excluded")
        else:
            others.append("got the lock")
        return original(self, held, thread_id, parts, *rest)

    monkeypatch.setattr(JsonlRunEventStore, "_append_locked", while_writing)
    assert (await store.put(**event()))["seq"] == 2
    assert others == ["excluded"]


class _NoFlock:
    """fcntl on a file system without flock (some network and FUSE mounts): every flock fails."""

    LOCK_EX, LOCK_NB, LOCK_UN = (fcntl.LOCK_EX, fcntl.LOCK_NB, fcntl.LOCK_UN) if fcntl else (0, 0, 0)

    def __init__(self, err):
        self.err = err

    def flock(self, fd, operation):
        raise OSError(self.err, os.strerror(self.err))


@pytest.mark.skipif(fcntl is None, reason="flock is POSIX")
async def test_without_flock_the_store_falls_back_to_filelock_and_still_excludes(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "fcntl", _NoFlock(errno.ENOLCK))
    store = JsonlRunEventStore(tmp_path, lock_timeout=0.2)
    assert (await store.put(**event(content="one")))["seq"] == 1
    with filelock.FileLock(tmp_path / "locks" / "t1.lock").acquire(timeout=5):
        with pytest.raises(filelock.Timeout):  # the fallback's own timeout, not a hang
            await asyncio.wait_for(store.put(**event()), 5)
    assert (await store.put(**event(content="two")))["seq"] == 2
    assert await contents(JsonlRunEventStore(tmp_path)) == ["one", "two"]


@pytest.mark.skipif(fcntl is None, reason="flock is POSIX")
async def test_any_other_flock_error_is_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "fcntl", _NoFlock(errno.EIO))
    store = JsonlRunEventStore(tmp_path)
    with pytest.raises(OSError) as failed:
        await store.put(**event())
    assert failed.value.errno == errno.EIO
    monkeypatch.undo()
    assert await contents(JsonlRunEventStore(tmp_path)) == []


def _child_writes_then_holds(store, held, release):
    """In a forked child: write through the inherited store, then hold the thread's write lock."""
    code = 1
    try:
        asyncio.run(store.put(**event(content="child")))
        if store._files["t1"].pid != os.getpid():  # the clean-up ran once; the next write keeps its files
            code = 2
            return
        with store._writing("t1"):
            os.write(held, b"h")
            os.read(release, 1)
        code = 0
    finally:
        os._exit(code)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_neither_shares_nor_breaks_the_parents_lock(tmp_path):
    """A child inherits the store's open lock file; a flock on that shared file would be the
    parent's own lock. The child opens its own, so the two processes exclude each other."""
    store = JsonlRunEventStore(tmp_path, lock_timeout=0.2)
    asyncio.run(store.put(**event(content="parent")))  # the lock and thread files are open now
    held_r, held_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child_writes_then_holds(store, held_w, release_r)
    try:
        ready, _, _ = select.select([held_r], [], [], 10)
        assert ready and os.read(held_r, 1) == b"h", "the child did not get to hold the lock"
        with pytest.raises(TimeoutError):
            asyncio.run(store.put(**event(content="while the child holds it")))
    finally:
        os.write(release_w, b"r")
        _, status = os.waitpid(pid, 0)
        for fd in (held_r, held_w, release_r, release_w):
            os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    asyncio.run(store.put(**event(content="after")))
    assert asyncio.run(contents(JsonlRunEventStore(tmp_path))) == ["parent", "child", "after"]


# -- what another store did -----------------------------------------------------


async def test_a_thread_deleted_by_another_store_starts_over_even_after_a_deleted_run(tmp_path):
    writer, reader = JsonlRunEventStore(tmp_path), JsonlRunEventStore(tmp_path)
    await writer.put(**event(run_id="a"))
    await writer.delete_by_run("t1", "a")  # the file now holds only the last seq handed out
    assert await reader.list_messages("t1") == []
    assert await writer.delete_by_thread("t1") == 0
    assert (await reader.put(**event()))["seq"] == 1


async def test_task_ids_are_read_back_from_disk(tmp_path):
    writer = JsonlRunEventStore(tmp_path)
    await writer.put(**event(metadata={"task_id": "k"}))
    await writer.put_batch([event(metadata={"task_id": "k"}), event(metadata={"task_id": "other"})])
    await writer.put(**event(metadata={"task_id": "other"}))
    fresh = JsonlRunEventStore(tmp_path)
    assert [e["seq"] for e in await fresh.list_events("t1", "r1", task_id="k")] == [1, 2]
    assert [e["seq"] for e in await fresh.list_events("t1", "r1", task_id="other")] == [3, 4]


async def test_a_failed_rewrite_leaves_the_thread_and_no_temporary_file(tmp_path, monkeypatch):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(run_id="a", content="one"))
    await store.put(**event(run_id="b", content="two"))
    before = thread_file(tmp_path).read_bytes()

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)  # the rewrite fails at its last step
    with pytest.raises(OSError, match=r"^disk full$"):
        await store.delete_by_run("t1", "a")
    monkeypatch.undo()
    assert sorted(p.name for p in thread_file(tmp_path).parent.iterdir()) == ["t1.jsonl"]
    assert thread_file(tmp_path).read_bytes() == before
    assert await contents(store) == ["one", "two"]


async def test_a_rewrite_is_staged_beside_the_thread_file(tmp_path, monkeypatch):
    """The temporary file sits in the thread's folder (same filesystem: the replace is atomic),
    named so that a crash's leftover is recognizably one and never taken for a thread file."""
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(run_id="a"))
    await store.put(**event(run_id="b", content="kept"))
    staged = []
    real_replace = os.replace

    def spy(src, dst):
        staged.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    assert await store.delete_by_run("t1", "a") == 1
    [(src, dst)] = staged
    assert dst == thread_file(tmp_path)
    assert src.parent == dst.parent
    assert re.fullmatch(r"\.t1\..+\.tmp", src.name), src.name
    assert await contents(JsonlRunEventStore(tmp_path)) == ["kept"]


@pytest.mark.parametrize("fsync", [True, False, None])
async def test_writes_reach_stable_storage_unless_told_not_to(tmp_path, fsyncs, fsync):
    synced = fsyncs
    store = JsonlRunEventStore(tmp_path) if fsync is None else JsonlRunEventStore(tmp_path, fsync=fsync)
    await store.put(**event(run_id="a"))
    await store.put_batch([event(run_id="b"), event(run_id="b")])
    await store.put_if_absent(**event(run_id="c"))
    await store.delete_by_run("t1", "b")
    # fsync is the default: one per append and one per rewrite.
    assert len(synced) == (0 if fsync is False else 4)
    assert await contents(JsonlRunEventStore(tmp_path)) == ["", ""]


@pytest.mark.parametrize("bad", [0, -1, None, True, 1.5])
def test_a_cache_of_no_bytes_is_refused(tmp_path, bad):
    with pytest.raises(ValueError, match=r"^max_cache_bytes must be a positive integer, got "):
        JsonlRunEventStore(tmp_path, max_cache_bytes=bad)


# -- malformed lines --------------------------------------------------------------


def record_line(seq="1", **fields) -> str:
    values = {
        "thread_id": '"t1"',
        "run_id": '"r1"',
        "event_type": '"user"',
        "category": '"message"',
        "content": '"x"',
        "metadata": "{}",
        "created_at": '"2026-01-01T00:00:00+00:00"',
        **fields,
    }
    return '{"seq":' + seq + "," + ",".join(f'"{k}":{v}' for k, v in values.items()) + "}\n"


async def test_each_malformed_line_is_logged_with_its_reason(tmp_path, caplog):
    path = thread_file(tmp_path)
    path.parent.mkdir(parents=True)
    lines = [
        record_line("1", content='"first"'),
        "{not json\n",
        '{"seq": 5}\n',
        "[1, 2]\n",
        record_line("true"),
        record_line('"2"'),
        record_line("1"),
        record_line("2", thread_id='"other"'),
        record_line("2", metadata="[]"),
        record_line("2", run_id="5"),
        record_line("2", created_at="null"),
        record_line("2", content='"second"'),
    ]
    path.write_text("".join(lines))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert await contents(JsonlRunEventStore(tmp_path)) == ["first", "second"]
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    prefix = f"skipping malformed line {path}:"
    assert messages[0].startswith(f"{prefix}2: not JSON (")
    assert messages[1:] == [
        f"{prefix}3: not an event record",
        f"{prefix}4: not an event record",
        f"{prefix}5: seq True does not follow 1",
        f"{prefix}6: seq '2' does not follow 1",
        f"{prefix}7: seq 1 does not follow 1",
        f"{prefix}8: thread_id 'other' in the file of 't1'",
        f"{prefix}9: metadata is not an object",
        f"{prefix}10: run_id is not a string",
        f"{prefix}11: created_at is not a string",
    ]


async def test_line_numbers_count_the_stores_own_appends(tmp_path, caplog):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="one"))
    await store.put_batch([event(content="two"), event(content="three")])  # one line
    with thread_file(tmp_path).open("a") as f:
        f.write("{not json\n")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await store.put(**event(content="four"))
    assert await contents(store) == ["one", "two", "three", "four"]
    [message] = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert message.startswith(f"skipping malformed line {thread_file(tmp_path)}:3: not JSON")


async def test_a_malformed_line_is_logged_once_per_file_not_once_per_parse(tmp_path, caplog):
    store = JsonlRunEventStore(tmp_path, max_cache_bytes=1)  # one thread at a time: the one in use
    await store.put(**event(content="one"))
    path = thread_file(tmp_path)
    with path.open("a") as f:
        f.write('{not json\n{"seq": 5}\n')  # not JSON, then not an event record
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(2):
            assert await contents(store) == ["one"]
            assert await contents(store, "t2") == []  # evicts t1: the next read parses it again
        assert len(caplog.records) == 2
        replacement = path.with_suffix(".new")
        replacement.write_text(path.read_text().replace("{not json", "{still no").replace("5}", "6}"))
        os.replace(replacement, path)  # a new file: its malformed lines are news
        assert await contents(store) == ["one"]
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert [line.split(": ", 1)[0] for line in lines] == [
        f"skipping malformed line {path}:{n}" for n in (2, 3, 2, 3)
    ]


# -- what the cache re-reads ---------------------------------------------------------


async def test_an_unchanged_stat_is_answered_from_the_cache(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="one"))
    await store.put(**event(content="two", created_at="2026-01-01T00:00:00+00:00"))
    assert await stamps(store) == ["2026-01-01T00:00:00+00:00"]
    # created_at ends the line: the edit lands in the last 64 bytes, the ones the
    # store compares before trusting its offset, so only a kept cache misses it.
    stealth_edit(thread_file(tmp_path), "T00:00:00+00:00", "T11:11:11+00:00")
    assert await stamps(store) == ["2026-01-01T00:00:00+00:00"]
    assert await stamps(JsonlRunEventStore(tmp_path)) == ["2026-01-01T11:11:11+00:00"]


async def test_each_thread_keeps_its_own_cache(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="t1-original"))
    await store.put(**event(thread_id="t2", content="t2"))
    assert await contents(store) == ["t1-original"]
    assert await contents(store, "t2") == ["t2"]
    stealth_edit(thread_file(tmp_path), "t1-original", "t1-EDITED!!")
    assert await contents(store) == ["t1-original"]
    assert await contents(store, "t2") == ["t2"]


async def test_after_another_writer_appends_only_the_tail_is_parsed(tmp_path):
    reader, writer = JsonlRunEventStore(tmp_path), JsonlRunEventStore(tmp_path)
    await writer.put(**event(content="early-original"))
    await writer.put(**event(content="padding " * 20))  # puts the early record far from the end
    assert len(await contents(reader)) == 2
    # A short line (under 128 bytes): the fingerprint must still hold its last 64 bytes.
    await writer.put(thread_id="t1", run_id="r", event_type="u", category="c", created_at="2026-01-01")
    assert len(thread_file(tmp_path).read_text().splitlines()[-1]) < 128
    assert [e["seq"] for e in await reader.list_events("t1", "r")] == [3]
    stealth_edit(thread_file(tmp_path), "early-original", "early-EDITED!!")
    await writer.put(**event(content="appended"))
    assert await contents(reader) == ["early-original", "padding " * 20, "appended"]
    assert (await contents(JsonlRunEventStore(tmp_path)))[0] == "early-EDITED!!"


async def test_the_least_recently_read_thread_is_evicted(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    for thread_id in ("t0", "t1", "t2"):
        await store.put(**event(thread_id=thread_id, content=f"{thread_id}-original"))
    # Room for two of the three threads (one record each, of the same length).
    line = thread_file(tmp_path, "t0").read_text().strip()
    fresh = JsonlRunEventStore(tmp_path, max_cache_bytes=2 * (len(line) + jsonl._ENTRY_BYTES))
    for thread_id in ("t0", "t1", "t0", "t2"):  # t1 is now the least recently read: evicted
        assert await contents(fresh, thread_id) == [f"{thread_id}-original"]
    for thread_id in ("t0", "t1", "t2"):
        stealth_edit(thread_file(tmp_path, thread_id), f"{thread_id}-original", f"{thread_id}-EDITED!!")
    assert await contents(fresh, "t0") == ["t0-original"]
    assert await contents(fresh, "t2") == ["t2-original"]
    assert await contents(fresh, "t1") == ["t1-EDITED!!"]


async def test_the_cache_follows_the_stores_own_rewrite(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(run_id="a", content="kept-original"))
    await store.put(**event(run_id="b", content="deleted"))
    assert await store.delete_by_run("t1", "b") == 1
    stealth_edit(thread_file(tmp_path), "kept-original", "kept-EDITED!!")
    assert await contents(store) == ["kept-original"]


async def test_the_cache_is_kept_after_a_reload(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="one-original"))
    await store.put(**event(content="two-original"))
    assert len(await contents(store)) == 2
    path = thread_file(tmp_path)
    # Same inode, grown, old last bytes changed: the store must reload, then keep what it read.
    path.write_text(path.read_text().replace("two-original", "two-REWRITTEN"))
    assert await contents(store) == ["one-original", "two-REWRITTEN"]
    stealth_edit(path, "one-original", "one-EDITED!!")
    assert await contents(store) == ["one-original", "two-REWRITTEN"]
    # A new inode reloads too, and is kept as well.
    replacement = path.with_suffix(".new")
    replacement.write_text(path.read_text().replace("one-EDITED!!", "one-REPLACED"))
    os.replace(replacement, path)
    assert await contents(store) == ["one-REPLACED", "two-REWRITTEN"]
    stealth_edit(path, "one-REPLACED", "one-STEALTHY")
    assert await contents(store) == ["one-REPLACED", "two-REWRITTEN"]


async def test_a_torn_last_line_is_cut_off_by_the_next_append_and_logged(tmp_path, caplog):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="kept"))
    path = thread_file(tmp_path)
    torn = b'{"seq": 2, "thread_id": "t1"'  # a write cut short: no newline
    with path.open("ab") as f:
        f.write(torn)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert (await store.put(**event(content="next")))["seq"] == 2
    assert [r.getMessage() for r in caplog.records if r.name == LOGGER] == [
        f"dropping {len(torn)} bytes after the last complete line of {path} (a write cut short)"
    ]
    assert await contents(JsonlRunEventStore(tmp_path)) == ["kept", "next"]


def test_closed_thread_files_forget_their_descriptors_and_reopen_without_touching_others(tmp_path):
    """After close, no number is kept: a kept number would be closed again at the next
    append, and by then it may be another file of the process (stdout, a socket)."""
    from runlog.events.jsonl import _ThreadFiles

    files = _ThreadFiles(tmp_path / "locks" / "t.lock", timeout=1.0, base_dir=str(tmp_path))
    path = str(tmp_path / "threads" / "t.jsonl")
    files.lock_file()
    first = files.append_to(path, None)
    files.unlock_file()
    files.close()
    assert (files.lock_fd, files.append_fd) == (-1, -1)
    stranger = os.open(os.devnull, os.O_RDONLY)  # likely the number just freed
    try:
        files.lock_file()
        again = files.append_to(path, os.stat(path).st_ino)
        files.unlock_file()
        os.fstat(stranger)  # still open: the store closed nothing of anyone else's
        assert again >= 0 and first >= 0
    finally:
        files.close()
        os.close(stranger)


def test_a_dropped_store_closes_the_files_it_kept(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    asyncio.run(store.put(**event()))
    files = store._files
    held = files["t1"]
    assert held.lock_fd >= 0 and held.append_fd >= 0  # kept open between writes
    del store
    gc.collect()
    assert (held.lock_fd, held.append_fd, dict(files)) == (-1, -1, {})


def test_syncfs_is_loaded_from_the_c_library_on_linux(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("syncfs is Linux's")
    function = jsonl._load_syncfs()
    assert function.argtypes == [ctypes.c_int] and function.restype is ctypes.c_int
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    try:
        assert function(fd) == 0
        jsonl._syncfs(fd)  # no error
    finally:
        os.close(fd)


def test_without_syncfs_the_store_has_none(monkeypatch):
    monkeypatch.setattr(jsonl.sys, "platform", "darwin")
    assert jsonl._load_syncfs() is None
    monkeypatch.undo()

    def no_library(name, **kwargs):
        raise OSError("no C library")

    monkeypatch.setattr(jsonl.ctypes, "CDLL", no_library)
    assert jsonl._load_syncfs() is None
    monkeypatch.setattr(jsonl.ctypes, "CDLL", lambda name, **kwargs: types.SimpleNamespace())
    assert jsonl._load_syncfs() is None


def test_a_failed_syncfs_raises_the_errno_and_its_message(tmp_path):
    if jsonl._SYNCFS is None:
        pytest.skip("no syncfs here")
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    os.close(fd)  # a descriptor that is no longer open
    with pytest.raises(OSError) as failed:
        jsonl._syncfs(fd)
    assert failed.value.errno == errno.EBADF and failed.value.strerror == os.strerror(errno.EBADF)
