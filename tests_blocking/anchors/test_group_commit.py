"""Anchors: the JSONL store's group commit, driven by concurrent callers under the gate.

Concurrent ``put``s and ``put_batch``es on one thread, on many threads, and
callers cancelled before and after their group was taken: every path of the
commit queue (``JsonlRunEventStore._commit`` and the answers it schedules:
``_answer``, ``_pass_turn``, ``_leave``) runs on the loop here while the gate
watches, and the one offload of ``_commit`` carries the writes. Each anchor checks what reached the files through a new
store instance, which re-reads them.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from runlog.events import JsonlRunEventStore


def ev(thread_id: str, content: str, category: str = "message") -> dict[str, str]:
    return {
        "thread_id": thread_id,
        "run_id": "r1",
        "event_type": "assistant",
        "category": category,
        "content": content,
    }


async def contents(base, thread_id: str) -> list[str]:
    return [e["content"] for e in await JsonlRunEventStore(base).list_events(thread_id, "r1", limit=1000)]


class HeldWrites:
    """Every group write waits in its worker thread until ``release()``."""

    def __init__(self, monkeypatch) -> None:
        self.entered, self.released = threading.Event(), threading.Event()
        append = JsonlRunEventStore._sync_append

        def held(store, thread_id, parts, *rest):
            self.entered.set()
            assert self.released.wait(10), "the test never let the write go on"
            return append(store, thread_id, parts, *rest)

        monkeypatch.setattr(JsonlRunEventStore, "_sync_append", held)

    async def start(self, call) -> asyncio.Future:
        """Start ``call`` (a put); return its task once its write is held."""
        task = asyncio.ensure_future(call)
        assert await asyncio.to_thread(self.entered.wait, 10), "no group write started"
        return task

    def release(self) -> None:
        self.released.set()


async def test_concurrent_puts_and_batches_on_one_thread(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**ev("t1", "seed"))
    calls = [store.put(**ev("t1", f"p{i}")) for i in range(24)]
    calls.insert(10, store.put_batch([ev("t1", "b0"), ev("t1", "b1", "trace")]))
    results = await asyncio.gather(*calls)
    flat = [r for result in results for r in (result if isinstance(result, list) else [result])]
    assert [r["seq"] for r in flat] == list(range(2, 28))  # arrival order, no gap, no repeat
    assert await contents(tmp_path, "t1") == ["seed"] + [r["content"] for r in flat]
    assert await store.count_messages("t1") == 26


async def test_concurrent_puts_on_many_threads(tmp_path):
    store = JsonlRunEventStore(tmp_path, fsync=False)
    calls = [store.put(**ev(f"t{i % 12}", f"{i}")) for i in range(48)]
    calls.append(store.put_batch([ev(f"t{i}", "batch") for i in range(12)]))
    *singles, batch = await asyncio.gather(*calls)
    for i, record in enumerate(singles):
        assert (record["thread_id"], record["seq"]) == (f"t{i % 12}", i // 12 + 1)
    assert [r["seq"] for r in batch] == [5] * 12
    for i in range(12):
        assert await contents(tmp_path, f"t{i}") == [f"{n}" for n in range(i, 48, 12)] + ["batch"]


@pytest.mark.parametrize("taken", [False, True], ids=["before_taken", "after_taken"])
async def test_a_cancelled_first_caller(tmp_path, taken):
    store = JsonlRunEventStore(tmp_path)
    callers = [asyncio.ensure_future(store.put(**ev("t1", f"c{i}"))) for i in range(4)]
    await asyncio.sleep(0)  # every caller has queued; the first leads and lets the loop run once
    if taken:
        await asyncio.sleep(0)  # the leader took the group and is in its offload
    callers[0].cancel()
    done = await asyncio.gather(*callers, return_exceptions=True)
    assert isinstance(done[0], asyncio.CancelledError)
    written = ["c0", "c1", "c2", "c3"] if taken else ["c1", "c2", "c3"]
    assert [r["seq"] for r in done[1:]] == list(range(len(written) - 2, len(written) + 1))
    assert await contents(tmp_path, "t1") == written
    assert (await store.put(**ev("t1", "next")))["seq"] == len(written) + 1


async def test_a_caller_cancelled_while_queued_behind_a_write(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    first = asyncio.ensure_future(store.put(**ev("t1", "first")))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # "first" leads, took its group and is in its offload
    queued = [asyncio.ensure_future(store.put(**ev("t1", f"q{i}"))) for i in range(3)]
    await asyncio.sleep(0)  # queued behind the write on disk
    queued[1].cancel()
    done = await asyncio.gather(first, *queued, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    assert [done[0]["seq"], done[1]["seq"], done[3]["seq"]] == [1, 2, 3]
    assert await contents(tmp_path, "t1") == ["first", "q0", "q2"]


async def test_a_failing_thread_fails_its_whole_group_and_no_other(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    # A folder where the thread's file should be: every write to it fails.
    await asyncio.to_thread((tmp_path / "threads" / "bad.jsonl").mkdir, parents=True)
    outcomes = await asyncio.gather(
        store.put(**ev("bad", "a")),
        store.put(**ev("good", "b")),
        store.put_batch([ev("bad", "c"), ev("bad", "d")]),
        store.put(**ev("good", "e")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], IsADirectoryError) and outcomes[2] is outcomes[0]
    assert [outcomes[1]["seq"], outcomes[3]["seq"]] == [1, 2]
    assert await contents(tmp_path, "good") == ["b", "e"]


async def test_a_caller_handed_the_turn_and_cancelled_passes_it_on(tmp_path, monkeypatch):
    """The first caller queued behind a write gets the turn to lead when that write is
    answered; cancelled before it could take it, it hands the turn to the next caller."""
    store = JsonlRunEventStore(tmp_path)
    answer = JsonlRunEventStore._answer
    writes = HeldWrites(monkeypatch)
    first = await writes.start(store.put(**ev("t1", "first")))
    handed = asyncio.ensure_future(store.put(**ev("t1", "handed")))
    behind = asyncio.ensure_future(store.put(**ev("t1", "behind")))
    await asyncio.sleep(0)  # both queued behind the write

    def answer_then_cancel(self, queue, offload, outcomes):
        answer(self, queue, offload, outcomes)
        handed.cancel()  # its future holds the turn; its task has not run yet

    monkeypatch.setattr(JsonlRunEventStore, "_answer", answer_then_cancel)
    writes.release()
    assert (await first)["seq"] == 1
    with pytest.raises(asyncio.CancelledError):
        await handed
    monkeypatch.setattr(JsonlRunEventStore, "_answer", answer)
    assert (await asyncio.wait_for(behind, 10))["seq"] == 2
    assert await contents(tmp_path, "t1") == ["first", "behind"]


@pytest.mark.parametrize("answered", [False, True], ids=["before_the_answer", "after_the_answer"])
async def test_an_offload_that_raises(tmp_path, monkeypatch, answered):
    """An offload that fails without answering fails its group with its error; one that
    fails after the worker answered leaves each caller its records. Either way the
    thread's turn is passed on."""
    store = JsonlRunEventStore(tmp_path)
    commit = JsonlRunEventStore._sync_commit

    def failing(self, *args):
        if answered:
            commit(self, *args)
        raise RuntimeError("the offload failed")

    monkeypatch.setattr(JsonlRunEventStore, "_sync_commit", failing)
    outcomes = await asyncio.gather(
        *(store.put(**ev("t1", f"c{i}")) for i in range(3)), return_exceptions=True
    )
    monkeypatch.undo()
    if answered:
        assert [o["seq"] for o in outcomes] == [1, 2, 3]
    else:
        assert [str(o) for o in outcomes] == ["the offload failed"] * 3
    assert (await store.put(**ev("t1", "next")))["seq"] == (4 if answered else 1)


async def test_a_leader_cancelled_after_another_took_its_thread(tmp_path, monkeypatch):
    """The second thread's leader is cancelled after the first leader took its thread: its
    taken line is written, and that write's answer passes the thread's turn."""
    store = JsonlRunEventStore(tmp_path)
    first = asyncio.ensure_future(store.put(**ev("t0", "first")))
    second = asyncio.ensure_future(store.put(**ev("t1", "second")))
    take = JsonlRunEventStore._take

    def take_then_cancel(queue, thread_id):
        groups = take(queue, thread_id)
        second.cancel()
        return groups

    monkeypatch.setattr(JsonlRunEventStore, "_take", staticmethod(take_then_cancel))
    assert (await first)["seq"] == 1
    with pytest.raises(asyncio.CancelledError):
        await second
    monkeypatch.undo()
    assert (await asyncio.wait_for(store.put(**ev("t1", "next")), 10))["seq"] == 2
    assert await contents(tmp_path, "t1") == ["second", "next"]


async def test_the_only_caller_behind_a_write_cancelled(tmp_path, monkeypatch):
    store = JsonlRunEventStore(tmp_path)
    writes = HeldWrites(monkeypatch)
    first = await writes.start(store.put(**ev("t1", "first")))
    behind = asyncio.ensure_future(store.put(**ev("t1", "behind")))
    await asyncio.sleep(0)  # queued, alone, behind the write
    behind.cancel()
    with pytest.raises(asyncio.CancelledError):
        await behind
    writes.release()
    assert (await first)["seq"] == 1
    assert (await store.put(**ev("t1", "next")))["seq"] == 2
    assert await contents(tmp_path, "t1") == ["first", "next"]
