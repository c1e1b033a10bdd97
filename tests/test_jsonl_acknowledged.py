"""Acknowledged means kept (issue 26): the JSONL store against the attacks that once broke it.

* A leader cancelled in each window of its offload (before it was taken, while
  its job waits in the executor behind busy workers, while it runs, after its
  answer was scheduled): no caller waits forever, nothing acknowledged is lost.
* Another process appends a whole line between this process's last read of
  a thread and the ``fstat`` that follows it: the line is read, never taken
  for a tail cut short, and no seq is handed out twice.
* A tail after the last newline is cut only if, read again under the file
  lock, it still is an unterminated line.

Each test fails on the code before the fix (issue 26) and is deterministic: a
queued job is made by a default executor whose every worker the test holds,
the other process's append by a real child process run at that very moment.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from runlog.events import JsonlRunEventStore, jsonl
from tests.executors import BusyWorkers, until
from tests.factories import event

CHILD_TIMEOUT = 60  # seconds: a child that starts Python and puts one event takes well under 2


def on_disk(base: Path, thread_id: str = "t1") -> list[dict]:
    out = []
    for line in (base / "threads" / f"{thread_id}.jsonl").read_bytes().splitlines():
        obj = json.loads(line)
        out.extend(obj.get("batch", [obj]))
    return out


@pytest.fixture
async def workers():
    busy = BusyWorkers(asyncio.get_running_loop(), 2)
    try:
        yield busy
    finally:
        await busy.close()


def writing(store: JsonlRunEventStore, thread_id: str = "t1") -> bool:
    queue = store._commit_queues.get(asyncio.get_running_loop())
    return queue is not None and thread_id in queue.writing


def idle(store: JsonlRunEventStore) -> bool:
    queue = store._commit_queues[asyncio.get_running_loop()]
    return (queue.pending, queue.busy, queue.writing, queue.retries) == ({}, set(), set(), set())


async def test_a_leader_cancelled_while_its_offload_waits_for_a_worker_strands_no_one(tmp_path, workers):
    """The job of the leader's offload is queued behind busy workers when the leader is
    cancelled: the callers of its group, and later callers of its thread, still get answers."""
    store = JsonlRunEventStore(tmp_path)
    workers.hold()
    leader = asyncio.ensure_future(store.put(**event(content="leader")))
    follower = asyncio.ensure_future(store.put(**event(content="follower")))
    await until(lambda: writing(store), "the leader took its group")  # and its job is queued
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    later = asyncio.ensure_future(store.put(**event(content="later")))
    await workers.release()
    assert (await asyncio.wait_for(follower, 10))["seq"] == 2
    assert (await asyncio.wait_for(later, 10))["seq"] == 3
    # The leader's line was taken into its group before it was cancelled: it is written, once.
    assert [r["content"] for r in on_disk(tmp_path)] == ["leader", "follower", "later"]
    assert (await asyncio.wait_for(store.put(**event(content="next")), 10))["seq"] == 4
    await until(lambda: idle(store), "the thread went idle")


async def test_leaders_of_several_threads_cancelled_while_queued(tmp_path, workers):
    """One offload holding several threads' groups, given up and made again as one."""
    store = JsonlRunEventStore(tmp_path)
    workers.hold()
    callers = [asyncio.ensure_future(store.put(**event(thread_id=t, content=t))) for t in ("a", "b", "c")]
    await until(lambda: all(writing(store, t) for t in ("a", "b", "c")), "one leader took all three threads")
    callers[0].cancel()  # the leader of the offload; b's and c's leaders wait for its answer
    await workers.release()
    done = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 10)
    assert isinstance(done[0], asyncio.CancelledError)
    assert [(r["thread_id"], r["seq"]) for r in done[1:]] == [("b", 1), ("c", 1)]
    assert [[r["content"] for r in on_disk(tmp_path, t)] for t in ("a", "b", "c")] == [["a"], ["b"], ["c"]]
    await until(lambda: idle(store), "every thread went idle")


async def test_a_given_up_offload_cancelled_again_fails_its_callers_and_frees_the_thread(tmp_path, workers):
    """The task that makes a cancelled leader's offload again is cancelled only when the loop
    ends (asyncio.run cancels every task left). Cancelled while its own job is still queued,
    it fails the callers with an error (nothing was written), and the thread is free again."""
    store = JsonlRunEventStore(tmp_path)
    workers.hold()
    leader = asyncio.ensure_future(store.put(**event(content="leader")))
    follower = asyncio.ensure_future(store.put(**event(content="follower")))
    await until(lambda: writing(store), "the leader took its group")
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    [retry] = store._commit_queues[asyncio.get_running_loop()].retries
    await asyncio.sleep(0)  # the retry's job is queued behind the held workers, too
    retry.cancel()
    with pytest.raises(RuntimeError, match="nothing of it was written"):
        await asyncio.wait_for(follower, 10)
    await workers.release()
    await until(lambda: idle(store), "the thread went idle")
    assert not (tmp_path / "threads" / "t1.jsonl").exists()  # neither job wrote anything
    assert (await asyncio.wait_for(store.put(**event(content="after")), 10))["seq"] == 1


async def test_an_error_escaping_the_offload_answers_every_caller_of_its_group(tmp_path, monkeypatch):
    """Whatever raises before the worker has the groups (a blocking error under the gate, say), none waits."""
    store = JsonlRunEventStore(tmp_path)
    offload = store._offload

    async def fails(*args, **kwargs):
        raise RuntimeError("failed before a worker had it")

    monkeypatch.setattr(store, "_offload", fails)
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(store.put(**event(content=str(i))) for i in range(3)), return_exceptions=True), 5
    )
    assert [str(o) for o in outcomes] == ["failed before a worker had it"] * 3
    assert idle(store)
    monkeypatch.setattr(store, "_offload", offload)
    assert (await store.put(**event()))["seq"] == 1  # the thread goes on; nothing was written
    assert [r["seq"] for r in on_disk(tmp_path)] == [1]


async def test_a_leader_cancelled_after_its_answer_was_scheduled(tmp_path, monkeypatch):
    """The worker has written the group and scheduled its answer, and has not returned yet,
    when the leader is cancelled: every caller keeps its answer, the thread goes on."""
    store = JsonlRunEventStore(tmp_path)
    answered, go = threading.Event(), threading.Event()
    commit = JsonlRunEventStore._sync_commit

    def commit_then_wait(self, *args):
        commit(self, *args)
        answered.set()
        assert go.wait(10), "the test never let the worker return"

    monkeypatch.setattr(JsonlRunEventStore, "_sync_commit", commit_then_wait)
    leader = asyncio.ensure_future(store.put(**event(content="leader")))
    follower = asyncio.ensure_future(store.put(**event(content="follower")))
    assert await asyncio.to_thread(answered.wait, 10)
    assert (await asyncio.wait_for(follower, 10))["seq"] == 2  # answered while the worker still runs
    leader.cancel()
    go.set()
    with pytest.raises(asyncio.CancelledError):
        await leader
    monkeypatch.undo()
    assert (await asyncio.wait_for(store.put(**event(content="next")), 10))["seq"] == 3
    assert [r["content"] for r in on_disk(tmp_path)] == ["leader", "follower", "next"]


CHILD_PUT = """
import asyncio, json, sys
from runlog.events import JsonlRunEventStore

async def main():
    record = await JsonlRunEventStore(sys.argv[1]).put(
        thread_id="t1", run_id="other", event_type="user", category="message", content="from the other process")
    print(json.dumps(record))

asyncio.run(main())
"""


def another_process_puts(base: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD_PUT, str(base)], capture_output=True, timeout=CHILD_TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


@pytest.fixture
def append_after_the_read(monkeypatch):
    """Arm ``os.fstat`` so that the next stat of the thread file, by a descriptor that read it to
    its end, first lets another process put an event: the moment between a refresh's last read
    and the stat after it. The other process's record is appended to the returned list."""
    real_fstat = os.fstat
    acknowledged: list[dict] = []
    armed: list[Path] = []

    def fstat(fd):
        if armed and not isinstance(fd, str):
            base = armed[0]
            read_only = (jsonl.fcntl.fcntl(fd, jsonl.fcntl.F_GETFL) & os.O_ACCMODE) == os.O_RDONLY
            thread_file = os.readlink(f"/proc/self/fd/{fd}") == str(base / "threads" / "t1.jsonl")
            if read_only and thread_file and os.lseek(fd, 0, os.SEEK_CUR) == real_fstat(fd).st_size:
                armed.clear()
                acknowledged.append(another_process_puts(base))
        return real_fstat(fd)

    monkeypatch.setattr(os, "fstat", fstat)
    return armed, acknowledged


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an open descriptor's file via /proc")
async def test_a_line_appended_by_another_process_after_the_last_read_is_kept(
    tmp_path, append_after_the_read
):
    armed, acknowledged = append_after_the_read
    seed = JsonlRunEventStore(tmp_path)  # another writer: the store under test has not read the file yet
    for i in range(3):
        await seed.put(**event(content=f"seed{i}"))
    store = JsonlRunEventStore(tmp_path)
    armed.append(tmp_path)
    assert [m["content"] for m in await store.list_messages("t1")] == ["seed0", "seed1", "seed2"]
    [other] = acknowledged  # the other process put its event between the read and the stat
    assert other["seq"] == 4
    # The next read sees it; the next put follows it.
    assert [m["seq"] for m in await store.list_messages("t1")] == [1, 2, 3, 4]
    mine = await store.put(**event(content="mine"))
    assert mine["seq"] == 5
    fresh = await JsonlRunEventStore(tmp_path).list_messages("t1", limit=100)
    assert [m["seq"] for m in fresh] == [1, 2, 3, 4, 5]
    assert fresh[3] == other and fresh[4] == mine


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an open descriptor's file via /proc")
async def test_a_line_appended_after_the_last_read_is_not_cut_by_the_next_put(
    tmp_path, append_after_the_read
):
    """The same race, with a put next instead of a read: the put must not take the other
    process's line for a tail cut short (it would cut it off and reuse its seq)."""
    armed, acknowledged = append_after_the_read
    await JsonlRunEventStore(tmp_path).put(**event(content="seed"))
    store = JsonlRunEventStore(tmp_path)
    armed.append(tmp_path)
    assert await store.count_messages("t1") == 1
    [other] = acknowledged
    mine = await store.put(**event(content="mine"))
    assert (other["seq"], mine["seq"]) == (2, 3)
    assert on_disk(tmp_path) == [
        *(await JsonlRunEventStore(tmp_path).list_messages("t1"))[:1],
        other,
        mine,
    ]


async def test_a_tail_is_cut_only_if_it_still_is_unterminated_under_the_lock(tmp_path):
    """A reader saw a line without its newline (a write in progress, read without the file
    lock); the line is complete now, and the stat cannot tell (same size, same mtime, as on
    a file system with coarse timestamps). The next append reads the tail again under the
    lock, takes the line, and cuts nothing."""
    writer = JsonlRunEventStore(tmp_path)
    await writer.put(**event(content="first"))
    path = tmp_path / "threads" / "t1.jsonl"
    head = path.read_bytes()
    second = await writer.put(**event(content="second"))
    line = path.read_bytes()[len(head) :]
    path.write_bytes(head + line[:-1] + b" ")  # the same length, no newline yet
    reader = JsonlRunEventStore(tmp_path)
    assert [m["content"] for m in await reader.list_messages("t1")] == ["first"]
    st = path.stat()
    with path.open("r+b") as f:  # the writer completes its line, in place
        f.seek(len(head) + len(line) - 1)
        f.write(b"\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    third = await reader.put(**event(content="third"))
    assert third["seq"] == 3
    assert on_disk(tmp_path) == [
        (await JsonlRunEventStore(tmp_path).list_messages("t1"))[0],
        second,
        third,
    ]


async def test_a_real_tail_cut_short_is_still_cut_off(tmp_path, caplog):
    """The check under the lock keeps the cut of a real torn tail: its bytes go, with a warning."""
    writer = JsonlRunEventStore(tmp_path)
    await writer.put(**event(content="kept"))
    path = tmp_path / "threads" / "t1.jsonl"
    with path.open("ab") as f:
        f.write(b'{"thread_id":"t1","run_id":"r1","seq":2,"event_')  # a writer killed mid-line
    reader = JsonlRunEventStore(tmp_path)
    assert await reader.count_messages("t1") == 1  # read without the lock: the tail is recorded
    assert (await reader.put(**event(content="next")))["seq"] == 2
    assert [r["content"] for r in on_disk(tmp_path)] == ["kept", "next"]
    assert any("a write cut short" in r.getMessage() for r in caplog.records)
