"""Group commit of the JSONL store: concurrent puts and put_batches of a thread share one
offload, one write and one fsync, in arrival order, each caller with its own records.

Arrival order is the order in which callers reach the store: tasks started by
``asyncio.gather`` arrive in the order they were given. A worker is held still
by making ``_sync_append`` wait on a ``threading.Event`` (the offload itself
is real), so a test can act while a group is on its way to disk.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import os
import stat
import threading
import types

import pytest

from runlog.events import JsonlRunEventStore, jsonl
from tests.factories import event


def lines(base, thread_id="t1"):
    return (base / "threads" / f"{thread_id}.jsonl").read_bytes().splitlines(keepends=True)


def seqs_on_disk(base, thread_id="t1"):
    out = []
    for line in lines(base, thread_id):
        obj = json.loads(line)
        out.extend(r["seq"] for r in obj.get("batch", [obj]))
    return out


@pytest.fixture
def offloads(monkeypatch):
    """Every call of the group write (one per offload): its thread and the length of each line."""
    calls = []
    original = JsonlRunEventStore._sync_append

    def spy(self, thread_id, parts, *rest):
        calls.append({thread_id: [len(p) for p in parts]})
        return original(self, thread_id, parts, *rest)

    monkeypatch.setattr(JsonlRunEventStore, "_sync_append", spy)
    return calls


@pytest.fixture
def threads_per_offload(monkeypatch):
    """How many threads each offload (one call of ``_sync_commit``) wrote, in order."""
    counts = []
    original = JsonlRunEventStore._sync_commit

    def spy(self, loop, queue, offload):
        counts.append(len(offload.groups))
        return original(self, loop, queue, offload)

    monkeypatch.setattr(JsonlRunEventStore, "_sync_commit", spy)
    return counts


class Gate:
    """Holds the group write in its worker thread until opened."""

    def __init__(self, monkeypatch, hold=lambda thread_id: True):
        self.entered = threading.Event()
        self.opened = threading.Event()
        original = JsonlRunEventStore._sync_append
        gate = self

        def held(store, thread_id, parts, *rest):
            if hold(thread_id):
                gate.entered.set()
                assert gate.opened.wait(10), "the test never opened the gate"
            return original(store, thread_id, parts, *rest)

        monkeypatch.setattr(JsonlRunEventStore, "_sync_append", held)

    async def wait_entered(self):
        assert await asyncio.to_thread(self.entered.wait, 10), "no group write started"


async def test_concurrent_callers_share_one_offload_one_write_one_fsync(tmp_path, offloads, fsyncs):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="first"))
    offloads.clear(), fsyncs.clear()
    calls = [store.put(**event(content=f"p{i}")) for i in range(10)]
    calls.insert(4, store.put_batch([event(content="b0"), event(content="b1", category="trace")]))
    results = await asyncio.gather(*calls)
    assert offloads == [{"t1": [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1]}]
    assert len(fsyncs) == 1
    # Arrival order, each caller with its own records and seqs.
    flat = [r for result in results for r in (result if isinstance(result, list) else [result])]
    assert [r["seq"] for r in flat] == list(range(2, 14))
    assert [r["content"] for r in flat] == [f"p{i}" for i in range(4)] + ["b0", "b1"] + [
        f"p{i}" for i in range(4, 10)
    ]
    assert results[4][1]["category"] == "trace"
    # A line per caller (the batch stays one line: all-or-nothing on disk).
    assert len(lines(tmp_path)) == 12
    assert seqs_on_disk(tmp_path) == list(range(1, 14))
    reopened = JsonlRunEventStore(tmp_path)
    assert (
        await reopened.list_events("t1", "r1", limit=100)
        == [await store.list_events("t1", "r1", limit=100)][0]
    )


async def test_callers_arriving_during_a_write_form_the_next_group(tmp_path, monkeypatch, fsyncs):
    gate = Gate(monkeypatch)
    store = JsonlRunEventStore(tmp_path)
    first = asyncio.ensure_future(store.put(**event(content="alone")))
    await gate.wait_entered()
    later = [asyncio.ensure_future(store.put(**event(content=f"n{i}"))) for i in range(5)]
    await asyncio.sleep(0.05)
    assert not any(t.done() for t in later)  # they wait for the group on disk
    gate.opened.set()
    assert (await first)["seq"] == 1
    assert [(await t)["seq"] for t in later] == [2, 3, 4, 5, 6]
    assert len(fsyncs) == 2  # one per group


async def test_the_next_group_is_what_queued_during_the_write(tmp_path, monkeypatch, offloads):
    """The answer hands the turn on before it wakes its callers: the next group holds the
    callers that queued while the write was on disk, not those the answer lets put again."""
    gate = Gate(monkeypatch)
    store = JsonlRunEventStore(tmp_path)

    async def put_twice(tag):
        await store.put(**event(content=f"{tag}1"))
        await store.put(**event(content=f"{tag}2"))

    first = asyncio.ensure_future(put_twice("a"))
    await gate.wait_entered()
    behind = [asyncio.ensure_future(store.put(**event(content=f"b{i}"))) for i in range(3)]
    await asyncio.sleep(0.05)
    gate.opened.set()
    await asyncio.gather(first, *behind)
    assert offloads == [{"t1": [1]}, {"t1": [1, 1, 1]}, {"t1": [1]}]
    assert [m["content"] for m in await store.list_messages("t1")] == ["a1", "b0", "b1", "b2", "a2"]


async def test_a_failed_fsync_fails_the_whole_group_and_leaves_nothing(tmp_path, monkeypatch):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="kept"))
    before = lines(tmp_path)
    failure = OSError(errno.EIO, "disk said no")

    def broken(fd):
        raise failure

    monkeypatch.setattr(os, "fsync", broken)
    outcomes = await asyncio.gather(
        store.put(**event(content="a")),
        store.put_batch([event(content="b"), event(content="c")]),
        store.put(**event(content="d")),
        return_exceptions=True,
    )
    assert all(o is failure for o in outcomes)
    assert lines(tmp_path) == before  # cut back: none of the group's lines is on disk
    monkeypatch.undo()
    assert (await store.put(**event(content="after")))["seq"] == 2
    fresh = JsonlRunEventStore(tmp_path)
    assert [m["content"] for m in await fresh.list_messages("t1")] == ["kept", "after"]


async def test_a_write_cut_short_is_cut_back(tmp_path, monkeypatch):
    store = JsonlRunEventStore(tmp_path, fsync=False)
    await store.put(**event(content="kept"))
    real_write = os.write

    def half_then_full_disk(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "no space left")

    monkeypatch.setattr(os, "write", half_then_full_disk)
    outcomes = await asyncio.gather(
        store.put(**event(content="a")), store.put(**event(content="b")), return_exceptions=True
    )
    monkeypatch.undo()
    assert [type(o) for o in outcomes] == [OSError, OSError]
    assert all(o.errno == errno.ENOSPC for o in outcomes)
    assert seqs_on_disk(tmp_path) == [1]
    assert lines(tmp_path)[-1].endswith(b"\n")
    assert (await store.put(**event(content="after")))["seq"] == 2


async def test_a_caller_cancelled_before_its_group_was_taken_is_never_written(tmp_path, monkeypatch):
    gate = Gate(monkeypatch)
    store = JsonlRunEventStore(tmp_path)
    first = asyncio.ensure_future(store.put(**event(content="first")))
    await gate.wait_entered()
    waiting = [asyncio.ensure_future(store.put(**event(content=f"w{i}"))) for i in range(3)]
    await asyncio.sleep(0)  # all three are queued behind the group on disk
    waiting[1].cancel()
    gate.opened.set()
    assert (await first)["seq"] == 1
    with pytest.raises(asyncio.CancelledError):
        await waiting[1]
    assert [(await waiting[0])["seq"], (await waiting[2])["seq"]] == [2, 3]
    assert [m["content"] for m in await JsonlRunEventStore(tmp_path).list_messages("t1")] == [
        "first",
        "w0",
        "w2",
    ]


async def test_cancelling_the_caller_who_started_the_write_orphans_no_one(tmp_path, monkeypatch):
    gate = Gate(monkeypatch)
    store = JsonlRunEventStore(tmp_path)
    # The first caller leads; the others join its group.
    callers = [asyncio.ensure_future(store.put(**event(content=f"c{i}"))) for i in range(4)]
    await gate.wait_entered()
    callers[0].cancel()
    await asyncio.sleep(0)
    gate.opened.set()
    with pytest.raises(asyncio.CancelledError):
        await callers[0]
    assert [(await c)["seq"] for c in callers[1:]] == [2, 3, 4]
    # The starter's line was taken into the group: it is on disk, whole, as every line is.
    assert seqs_on_disk(tmp_path) == [1, 2, 3, 4]
    assert all(line.endswith(b"\n") for line in lines(tmp_path))
    assert (await store.put(**event(content="next")))["seq"] == 5


async def test_a_cancelled_starter_before_the_write_leaves_the_queue_working(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    callers = [asyncio.ensure_future(store.put(**event(content=f"c{i}"))) for i in range(3)]
    await asyncio.sleep(0)  # each has queued its line; the first leads, and has not taken the group yet
    callers[0].cancel()
    done = await asyncio.gather(*callers, return_exceptions=True)
    assert isinstance(done[0], asyncio.CancelledError)
    assert [r["seq"] for r in done[1:]] == [1, 2]
    assert not (tmp_path / "threads" / "t1.jsonl").read_text().count('"c0"')
    assert [m["content"] for m in await store.list_messages("t1")] == ["c1", "c2"]


async def test_a_thread_being_written_does_not_hold_up_another(tmp_path, monkeypatch):
    gate = Gate(monkeypatch, hold=lambda thread_id: thread_id == "slow")
    store = JsonlRunEventStore(tmp_path)
    slow = asyncio.ensure_future(store.put(**event(thread_id="slow")))
    await gate.wait_entered()
    # "slow" is on its way to disk and stays there: another thread still commits.
    other = await asyncio.wait_for(store.put(**event(thread_id="fast")), 10)
    batch = await asyncio.wait_for(store.put_batch([event(thread_id="fast"), event(thread_id="fast2")]), 10)
    assert other["seq"] == 1 and [r["seq"] for r in batch] == [2, 1]
    assert not slow.done()
    gate.opened.set()
    assert (await slow)["seq"] == 1


@pytest.mark.parametrize("syncfs", [False, True], ids=["fsync_each", "syncfs"])
async def test_many_threads_at_once_each_get_their_seqs(
    tmp_path, offloads, threads_per_offload, fsyncs, syncfs_calls, syncfs
):
    store = JsonlRunEventStore(tmp_path, syncfs=syncfs)
    calls = [store.put(**event(thread_id=f"t{i % 20}", content=f"{i}")) for i in range(60)]
    results = await asyncio.gather(*calls)
    for i, record in enumerate(results):
        assert (record["thread_id"], record["seq"]) == (f"t{i % 20}", i // 20 + 1)
    # Every thread's callers went out together, in the first leader's offload
    # (it takes up to 64 threads): one write per thread, and for all of them
    # an fsync of each file (all at once), or with syncfs=True one syncfs.
    assert threads_per_offload == [20]
    if syncfs:
        assert fsyncs == [] and len(syncfs_calls) == 1
    else:
        assert len(fsyncs) == 20 and len(set(fsyncs)) == 20 and syncfs_calls == []
    assert sorted(offloads, key=lambda call: int(next(iter(call))[1:])) == [
        {f"t{i}": [1, 1, 1]} for i in range(20)
    ]
    for i in range(20):
        assert seqs_on_disk(tmp_path, f"t{i}") == [1, 2, 3]


async def test_an_offload_holds_its_threads_in_sorted_order_until_its_syncfs_returns(tmp_path, monkeypatch):
    """Every offload locks its threads in one order (sorted), so two never wait on each other;
    a reader of one of them in this process waits until the syncfs made its lines durable."""
    store = JsonlRunEventStore(tmp_path, syncfs=True)
    await store.put_batch([event(thread_id=t, content="before") for t in ("b", "a", "c")])
    held_in_order = []
    hold = JsonlRunEventStore._hold

    def spy(self, thread_id):
        held_in_order.append(thread_id)
        return hold(self, thread_id)

    monkeypatch.setattr(JsonlRunEventStore, "_hold", spy)
    entered, released = threading.Event(), threading.Event()
    real = jsonl._syncfs

    def held_syncfs(fd):
        entered.set()
        assert released.wait(10), "the test never let the syncfs return"
        real(fd)

    monkeypatch.setattr(jsonl, "_syncfs", held_syncfs)
    writes = asyncio.gather(*(store.put(**event(thread_id=t, content="new")) for t in ("c", "a", "b")))
    try:
        assert await asyncio.to_thread(entered.wait, 10)
        assert held_in_order == ["a", "b", "c"]
        reader = asyncio.ensure_future(store.list_messages("b"))
        await asyncio.sleep(0.05)
        assert not reader.done()  # b is still held: its new line is not durable yet
    finally:
        released.set()
    assert [r["seq"] for r in await writes] == [2, 2, 2]
    assert [m["content"] for m in await reader] == ["before", "new"]


async def test_a_failed_syncfs_cuts_every_thread_of_its_offload_back(tmp_path, monkeypatch, syncfs_calls):
    store = JsonlRunEventStore(tmp_path, syncfs=True)
    await store.put_batch([event(thread_id=t, content="kept") for t in ("a", "b", "c")])
    before = {t: lines(tmp_path, t) for t in ("a", "b", "c")}
    failure = OSError(errno.EIO, "write-back failed")
    failed = []

    def broken(fd):
        failed.append(fd)
        raise failure

    monkeypatch.setattr(jsonl, "_syncfs", broken)
    outcomes = await asyncio.gather(
        store.put(**event(thread_id="a", content="x")),
        store.put_batch([event(thread_id="b", content="y"), event(thread_id="b", content="z")]),
        store.put(**event(thread_id="c", content="w")),
        return_exceptions=True,
    )
    assert all(o is failure for o in outcomes)
    assert len(failed) == 1  # one offload, one syncfs for its three threads
    assert {t: lines(tmp_path, t) for t in ("a", "b", "c")} == before  # nothing of the offload stays
    # The store's own view was reset with the files: the next puts continue each thread's seqs.
    monkeypatch.undo()
    after = await store.put_batch([event(thread_id=t, content="after") for t in ("a", "b", "c")])
    assert [r["seq"] for r in after] == [2, 2, 2]
    for t in ("a", "b", "c"):
        assert [m["content"] for m in await JsonlRunEventStore(tmp_path).list_messages(t)] == [
            "kept",
            "after",
        ]


async def test_a_failed_syncfs_whose_cut_fails_too_is_logged_and_still_fails_its_callers(
    tmp_path, monkeypatch, caplog, syncfs_calls
):
    store = JsonlRunEventStore(tmp_path, syncfs=True)
    failure = OSError(errno.EIO, "write-back failed")

    def broken(fd):
        raise failure

    def no_cut(fd, length):
        raise OSError(errno.EROFS, "read-only now")

    monkeypatch.setattr(jsonl, "_syncfs", broken)
    monkeypatch.setattr(os, "ftruncate", no_cut)
    outcomes = await asyncio.gather(
        *(store.put(**event(thread_id=t)) for t in ("a", "b")), return_exceptions=True
    )
    assert outcomes == [failure, failure]
    cut = [r for r in caplog.records if r.getMessage().startswith("could not cut a failed append off")]
    assert sorted(r.getMessage().rsplit("/", 1)[1] for r in cut) == ["a.jsonl", "b.jsonl"]


async def test_an_offload_of_two_threads_syncs_once_with_syncfs(tmp_path, fsyncs, syncfs_calls):
    store = JsonlRunEventStore(tmp_path, syncfs=True)
    await asyncio.gather(store.put(**event(thread_id="a")), store.put(**event(thread_id="b")))
    assert fsyncs == [] and len(syncfs_calls) == 1


async def test_by_default_an_offload_of_several_threads_fsyncs_each_file_at_once(
    tmp_path, monkeypatch, syncfs_calls
):
    """No syncfs unless asked for: each thread file is fsynced, the fsyncs running at the
    same time (each in a thread of its own), and the threads stay held until all returned."""
    store = JsonlRunEventStore(tmp_path)
    await store.put_batch([event(thread_id=t, content="before") for t in ("a", "b", "c")])
    inside, lock = [], threading.Lock()
    all_in = threading.Barrier(3, timeout=10)  # breaks (and fails the writes) unless 3 run at once
    real = os.fsync

    def concurrent_fsync(fd):
        with lock:
            inside.append(threading.get_ident())
        all_in.wait()
        real(fd)

    monkeypatch.setattr(os, "fsync", concurrent_fsync)
    records = await asyncio.gather(*(store.put(**event(thread_id=t, content="new")) for t in ("a", "b", "c")))
    assert [r["seq"] for r in records] == [2, 2, 2]
    assert len(inside) == 3 and len(set(inside)) == 3 and syncfs_calls == []
    for t in ("a", "b", "c"):
        assert seqs_on_disk(tmp_path, t) == [1, 2]


async def test_a_failed_fsync_cuts_back_its_own_thread_only(tmp_path, monkeypatch):
    """Per file, a failure is that file's: its append is cut back and its callers get the
    error; the other threads of the offload are stored and answered."""
    store = JsonlRunEventStore(tmp_path)
    await store.put_batch([event(thread_id=t, content="kept") for t in ("a", "b", "c")])
    before_b = lines(tmp_path, "b")
    b_inode = (tmp_path / "threads" / "b.jsonl").stat().st_ino
    failure = OSError(errno.EIO, "write-back failed")
    real = os.fsync

    def fail_for_b(fd):
        if os.fstat(fd).st_ino == b_inode:
            raise failure
        real(fd)

    monkeypatch.setattr(os, "fsync", fail_for_b)
    outcomes = await asyncio.gather(
        store.put(**event(thread_id="a", content="x")),
        store.put_batch([event(thread_id="b", content="y"), event(thread_id="b", content="z")]),
        store.put(**event(thread_id="c", content="w")),
        return_exceptions=True,
    )
    assert outcomes[1] is failure
    assert [outcomes[0]["seq"], outcomes[2]["seq"]] == [2, 2]
    assert lines(tmp_path, "b") == before_b  # b's append is gone
    monkeypatch.undo()
    fresh = JsonlRunEventStore(tmp_path)
    assert [m["content"] for m in await fresh.list_messages("a")] == ["kept", "x"]
    assert [m["content"] for m in await fresh.list_messages("c")] == ["kept", "w"]
    assert (await store.put(**event(thread_id="b", content="after")))["seq"] == 2  # b's cache was reset
    assert [m["content"] for m in await fresh.list_messages("b")] == ["kept", "after"]


async def test_threads_beyond_what_one_offload_takes_go_in_the_next(tmp_path, threads_per_offload):
    store = JsonlRunEventStore(tmp_path, fsync=False)
    records = await asyncio.gather(*(store.put(**event(thread_id=f"t{i}")) for i in range(70)))
    assert [r["seq"] for r in records] == [1] * 70
    assert threads_per_offload == [jsonl._THREADS_PER_OFFLOAD, 70 - jsonl._THREADS_PER_OFFLOAD]


async def test_threads_on_two_file_systems_get_a_syncfs_each(tmp_path, monkeypatch, syncfs_calls):
    """A thread file may live on another file system (a mount inside the folder: the store
    follows no link there): each file system is synced once. Mounting needs privileges, so
    the thread file of ``b`` reports another device here."""
    real_fstat = os.fstat

    def fstat(fd):
        st = real_fstat(fd)
        if os.readlink(f"/proc/self/fd/{fd}").endswith("/threads/b.jsonl"):
            fields = list(st)
            fields[stat.ST_DEV] = st.st_dev + 1
            return os.stat_result(fields)
        return st

    store = JsonlRunEventStore(tmp_path, syncfs=True)
    monkeypatch.setattr(jsonl.os, "fstat", fstat)
    await asyncio.gather(*(store.put(**event(thread_id=t)) for t in ("a", "b", "c")))
    monkeypatch.undo()
    assert len(syncfs_calls) == 2
    assert [m["content"] for m in await store.list_messages("b")] == [""]


async def test_syncfs_asked_for_where_there_is_none_fsyncs_each_thread(tmp_path, monkeypatch, fsyncs):
    monkeypatch.setattr(jsonl, "_SYNCFS", None)
    store = JsonlRunEventStore(tmp_path, syncfs=True)
    await asyncio.gather(*(store.put(**event(thread_id=f"t{i}")) for i in range(5)))
    assert len(fsyncs) == 5


async def test_an_offload_of_several_threads_without_fsync_syncs_nothing(tmp_path, fsyncs, syncfs_calls):
    store = JsonlRunEventStore(tmp_path, fsync=False)
    records = await asyncio.gather(*(store.put(**event(thread_id=f"t{i}")) for i in range(5)))
    assert [r["seq"] for r in records] == [1] * 5
    assert fsyncs == [] and syncfs_calls == []


async def test_one_failing_thread_does_not_fail_the_others_in_its_offload(tmp_path, monkeypatch):
    store = JsonlRunEventStore(tmp_path)
    original = JsonlRunEventStore._append_locked

    def fail_on_bad(self, held, thread_id, parts, *rest):
        if thread_id == "bad":
            raise OSError(errno.EIO, "bad thread")
        return original(self, held, thread_id, parts, *rest)

    monkeypatch.setattr(JsonlRunEventStore, "_append_locked", fail_on_bad)
    good, bad = await asyncio.gather(
        store.put(**event(thread_id="good")), store.put(**event(thread_id="bad")), return_exceptions=True
    )
    assert good["seq"] == 1
    assert isinstance(bad, OSError) and bad.errno == errno.EIO


async def test_a_store_used_from_two_event_loops(tmp_path):
    store = JsonlRunEventStore(tmp_path)

    async def burst(tag):
        return await asyncio.gather(*(store.put(**event(content=f"{tag}{i}")) for i in range(5)))

    first = await asyncio.to_thread(asyncio.run, burst("x"))
    second = await burst("y")
    assert [r["seq"] for r in first + second] == list(range(1, 11))
    gc.collect()
    # The other loop's queue went with its loop; this loop's is idle.
    assert list(store._commit_queues) == [asyncio.get_running_loop()]
    queue = store._commit_queues[asyncio.get_running_loop()]
    assert (queue.pending, queue.busy, queue.writing) == ({}, set(), set())


async def test_a_lock_file_removed_between_writes_is_opened_again(tmp_path):
    import filelock

    store = JsonlRunEventStore(tmp_path, lock_timeout=0.2)
    await store.put(**event())
    lock_path = tmp_path / "locks" / "t1.lock"
    lock_path.unlink()  # the store's open descriptor now names a file no one else can find
    with filelock.FileLock(lock_path).acquire(timeout=5):  # another process locks the path anew
        with pytest.raises(TimeoutError):
            await store.put(**event())
    assert (await store.put(**event()))["seq"] == 2


async def test_a_thread_file_replaced_between_writes_gets_the_appends(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="a"))
    path = tmp_path / "threads" / "t1.jsonl"
    copy = path.with_suffix(".copy")
    copy.write_bytes(path.read_bytes())
    os.replace(copy, path)  # the store's open descriptor names the old inode
    await store.put(**event(content="b"))
    assert [m["content"] for m in await JsonlRunEventStore(tmp_path).list_messages("t1")] == ["a", "b"]


async def test_open_files_are_bounded_and_closed_when_idle(tmp_path):
    store = JsonlRunEventStore(tmp_path, max_open_files=6)  # three threads' files
    for i in range(6):
        await store.put(**event(thread_id=f"t{i}"))
    assert list(store._files) == ["t3", "t4", "t5"]
    assert (await store.put(**event(thread_id="t0")))["seq"] == 2  # reopened on demand


async def test_a_caller_handed_the_turn_but_cancelled_passes_it_on(tmp_path, monkeypatch):
    """The first caller queued behind a group is handed the turn to write the next one when
    that group is answered; cancelled before it could take it, it hands the turn on, and the
    callers behind it are written (none waits forever)."""
    gate = Gate(monkeypatch)
    store = JsonlRunEventStore(tmp_path)
    first = asyncio.ensure_future(store.put(**event(content="first")))
    await gate.wait_entered()
    handed = asyncio.ensure_future(store.put(**event(content="handed")))
    behind = asyncio.ensure_future(store.put(**event(content="behind")))
    await asyncio.sleep(0)  # both queued for the next group
    original = JsonlRunEventStore._answer

    def answer_then_cancel(self, queue, offload, outcomes):
        original(self, queue, offload, outcomes)
        handed.cancel()  # its future holds the turn; its task has not run yet

    monkeypatch.setattr(JsonlRunEventStore, "_answer", answer_then_cancel)
    gate.opened.set()
    assert (await first)["seq"] == 1
    with pytest.raises(asyncio.CancelledError):
        await handed
    monkeypatch.setattr(JsonlRunEventStore, "_answer", original)
    assert (await asyncio.wait_for(behind, 10))["seq"] == 2
    assert [m["content"] for m in await JsonlRunEventStore(tmp_path).list_messages("t1")] == [
        "first",
        "behind",
    ]


async def test_an_offload_that_raises_after_the_answer_changes_no_answer(tmp_path, monkeypatch):
    """The worker answers the group before its offload ends: an error of the offload after
    that (the leader's ``except``) finds the group answered and leaves each caller its records."""
    store = JsonlRunEventStore(tmp_path, fsync=False)
    original = JsonlRunEventStore._sync_commit

    def answer_then_raise(self, *args):
        original(self, *args)
        raise RuntimeError("the offload failed after the write")

    monkeypatch.setattr(JsonlRunEventStore, "_sync_commit", answer_then_raise)
    outcomes = await asyncio.gather(
        *(store.put(**event("t1", "r1")) for _ in range(3)), return_exceptions=True
    )
    assert [o["seq"] for o in outcomes] == [1, 2, 3]
    monkeypatch.undo()
    assert (await store.put(**event("t1", "r1")))["seq"] == 4  # the turn was passed on: the thread is idle


async def test_an_offload_that_raises_fails_its_callers_with_that_error_not_a_cancellation(
    tmp_path, monkeypatch
):
    store = JsonlRunEventStore(tmp_path, fsync=False)

    def no_worker(self, *args):
        raise RuntimeError("cannot schedule new futures after shutdown")

    monkeypatch.setattr(JsonlRunEventStore, "_sync_commit", no_worker)
    outcomes = await asyncio.gather(
        *(store.put(**event("t1", "r1")) for _ in range(3)), return_exceptions=True
    )
    assert [str(o) for o in outcomes] == ["cannot schedule new futures after shutdown"] * 3
    monkeypatch.undo()
    assert (await store.put(**event("t1", "r1")))["seq"] == 1  # nothing was written; the thread is idle again


async def test_a_caller_cancelled_while_its_group_is_written_gets_only_the_cancellation(
    tmp_path, monkeypatch
):
    gate = Gate(monkeypatch)
    store = JsonlRunEventStore(tmp_path)
    first = asyncio.ensure_future(store.put(**event(content="first")))
    await gate.wait_entered()  # first's line was taken: its group is on its way to disk
    behind = asyncio.ensure_future(store.put(**event(content="behind")))
    await asyncio.sleep(0)  # queued for the next group, on the same thread
    first.cancel()
    gate.opened.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (await behind)["seq"] == 2
    # The cancelled caller's line had been taken: it is on disk, whole.
    assert [m["content"] for m in await JsonlRunEventStore(tmp_path).list_messages("t1")] == [
        "first",
        "behind",
    ]


async def test_a_leader_cancelled_before_taking_its_group_leaves_other_threads_alone(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    callers = [asyncio.ensure_future(store.put(**event(thread_id=t))) for t in ("t0", "t1")]
    await asyncio.sleep(0)  # both lead their thread; neither has taken its group yet
    callers[0].cancel()  # t0's leader leaves with nobody behind it
    done = await asyncio.gather(*callers, return_exceptions=True)
    assert isinstance(done[0], asyncio.CancelledError)
    assert done[1]["seq"] == 1
    assert seqs_on_disk(tmp_path, "t1") == [1]
    assert not (tmp_path / "threads" / "t0.jsonl").exists()


async def test_the_open_files_bound_never_waits_for_a_thread_being_written(tmp_path, monkeypatch):
    store = JsonlRunEventStore(tmp_path, max_open_files=2)  # one thread's files
    entered, release = threading.Event(), threading.Event()
    original = JsonlRunEventStore._append_locked

    def slow_write(self, held, thread_id, parts, *rest):
        if thread_id == "slow":
            entered.set()
            assert release.wait(10), "the test never released the slow write"
        return original(self, held, thread_id, parts, *rest)

    monkeypatch.setattr(JsonlRunEventStore, "_append_locked", slow_write)
    slow = asyncio.ensure_future(store.put(**event(thread_id="slow")))
    assert await asyncio.to_thread(entered.wait, 10)
    try:
        # A write of another thread goes over the bound: the thread being written keeps
        # its files (only an idle thread is closed) and nobody waits for it.
        assert (await asyncio.wait_for(store.put(**event(thread_id="fast")), 5))["seq"] == 1
        assert "slow" in store._files
    finally:
        release.set()
    assert (await slow)["seq"] == 1


async def test_a_leader_cancelled_after_another_took_its_thread_leaves_the_turn_to_that_answer(
    tmp_path, monkeypatch
):
    """Two threads' leaders start together; the first takes both threads into its offload.
    The second, cancelled before it runs again, finds its thread being written: its line is
    written (it was taken), and the thread's turn is passed by that write's answer."""
    store = JsonlRunEventStore(tmp_path)
    first = asyncio.ensure_future(store.put(**event(thread_id="t0")))
    second = asyncio.ensure_future(store.put(**event(thread_id="t1")))
    original = JsonlRunEventStore._take

    def take_then_cancel(queue, thread_id):
        groups = original(queue, thread_id)
        second.cancel()
        return groups

    monkeypatch.setattr(JsonlRunEventStore, "_take", staticmethod(take_then_cancel))
    assert (await first)["seq"] == 1
    with pytest.raises(asyncio.CancelledError):
        await second
    monkeypatch.undo()
    assert seqs_on_disk(tmp_path, "t1") == [1]  # taken before the cancellation reached it
    assert (await asyncio.wait_for(store.put(**event(thread_id="t1")), 10))["seq"] == 2


async def test_the_only_caller_queued_behind_a_write_cancelled_leaves_the_thread_idle(tmp_path, monkeypatch):
    gate = Gate(monkeypatch)
    store = JsonlRunEventStore(tmp_path)
    first = asyncio.ensure_future(store.put(**event(content="first")))
    await gate.wait_entered()
    behind = asyncio.ensure_future(store.put(**event(content="behind")))
    await asyncio.sleep(0)  # queued, alone, behind the write
    behind.cancel()
    with pytest.raises(asyncio.CancelledError):
        await behind
    gate.opened.set()
    assert (await first)["seq"] == 1
    queue = next(iter(store._commit_queues.values()))
    assert (queue.pending, queue.busy, queue.writing) == ({}, set(), set())
    assert (await store.put(**event(content="next")))["seq"] == 2
    assert [m["content"] for m in await store.list_messages("t1")] == ["first", "next"]


async def test_callers_waiting_behind_a_write_sleep_until_answered(tmp_path, monkeypatch):
    """A caller queued behind a group on disk awaits its answer: it does not poll the loop.
    Only a leader of an idle thread lets the loop run once before it takes its group."""
    gate = Gate(monkeypatch)
    store = JsonlRunEventStore(tmp_path)
    turns = []

    async def counted_sleep(delay, result=None):
        turns.append(delay)
        return await real_sleep(delay, result)

    real_sleep = asyncio.sleep
    monkeypatch.setattr(jsonl, "asyncio", types.SimpleNamespace(**{**vars(asyncio), "sleep": counted_sleep}))
    first = asyncio.ensure_future(store.put(**event(content="first")))
    await gate.wait_entered()
    assert turns == [0]  # the leader's one turn
    behind = [asyncio.ensure_future(store.put(**event(content=f"b{i}"))) for i in range(3)]
    await real_sleep(0.05)  # the write is held: the loop runs many times meanwhile
    assert turns == [0]
    gate.opened.set()
    assert [(await t)["seq"] for t in (first, *behind)] == [1, 2, 3, 4]
    assert turns == [0]  # the next group's leader, woken by the answer, takes its group at once


async def test_the_fsyncs_of_an_offload_run_in_daemon_helpers_made_once(tmp_path):
    """The helpers that fsync an offload's other files are daemon threads (idle, they keep no
    interpreter waiting at exit), made on first use, at most _FSYNC_HELPERS of them."""
    store = JsonlRunEventStore(tmp_path)
    for _ in range(3):
        records = await asyncio.gather(*(store.put(**event(thread_id=f"t{i}")) for i in range(20)))
        assert len({r["seq"] for r in records}) == 1
    helpers = [t for t in threading.enumerate() if t.name.startswith("runlog-fsync-")]
    assert 1 <= len(helpers) <= jsonl._FSYNC_HELPERS
    assert all(t.daemon for t in helpers)
    assert jsonl._helpers() is jsonl._helpers()
