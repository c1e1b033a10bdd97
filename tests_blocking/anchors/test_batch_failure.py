"""Anchor: a put_batch over several threads that fails on one of them, under the gate.

The JSONL store awaits every thread's part and raises ``PartialBatchError``
naming what it stored (``JsonlRunEventStore._put_batch`` on the loop). The
stored records are checked through a new store instance, and the store after a
retry of the unstored events against ``MemoryRunEventStore`` given the same events.
"""

from __future__ import annotations

import asyncio

import pytest

from runlog.events import JsonlRunEventStore, MemoryRunEventStore, PartialBatchError

CREATED_AT = "2026-01-01T00:00:00+00:00"


def ev(thread_id: str, content: str) -> dict[str, str]:
    return {
        "thread_id": thread_id,
        "run_id": "r1",
        "event_type": "assistant",
        "category": "message",
        "content": content,
        "created_at": CREATED_AT,
    }


async def test_a_batch_failing_on_one_thread_names_what_it_stored(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    batch = [ev("a", "a0"), ev("b", "b1"), ev("c", "c2"), ev("a", "a3")]
    # A folder where b's file should be: b's part fails, a's and c's are written.
    await asyncio.to_thread((tmp_path / "threads" / "b.jsonl").mkdir, parents=True)
    with pytest.raises(PartialBatchError) as failure:
        await store.put_batch(batch)
    error = failure.value
    assert (sorted(error.stored), sorted(error.failed), error.unstored) == (["a", "c"], ["b"], [1])
    assert isinstance(error.failed["b"], IsADirectoryError)
    fresh = JsonlRunEventStore(tmp_path)
    for thread_id in ("a", "c"):
        assert await fresh.list_events(thread_id, "r1") == error.stored[thread_id]
    await asyncio.to_thread((tmp_path / "threads" / "b.jsonl").rmdir)
    await store.put_batch([batch[i] for i in error.unstored])
    model = MemoryRunEventStore()
    await model.put_batch([batch[0], batch[3], batch[2]])
    await model.put_batch([batch[1]])
    for thread_id in ("a", "b", "c"):
        assert await JsonlRunEventStore(tmp_path).list_events(thread_id, "r1") == await model.list_events(
            thread_id, "r1"
        )
