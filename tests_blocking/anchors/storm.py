"""A cancellation storm on a store's group commit (JSONL, SQLite, PostgreSQL), and its verdict
against the reference model.

Many producers put (and put_batch, some batches over two threads) on a few
threads, each call a task of its own; one call in four is cancelled at a
random moment (before its group is taken, while its job waits for a worker,
while it runs, after its answer), the others never, so that a call left
waiting shows as stranded rather than ends cancelled; the loop's default executor has two
workers, which hog tasks keep busy, so jobs queue behind them. No call may
wait forever: one not done after ``STRANDED_AFTER`` seconds is recorded as
stranded (and the storm goes on), and the verdict fails on it.

The SQL stores' groups are written by a task of their own (not by a caller) and their
SQLite jobs by a thread of their own, so the busy default executor holds up only their
first call's engine creation; the cancellations still land before a caller's group is
taken, while it is written, and after its answer.

The verdict reads the store back through a new instance: every acknowledged
record is there, unchanged; every stored event comes from a call that was
acknowledged or cancelled (a cancelled call's line may have been taken into
its group before the cancellation reached it), none twice; and replaying the
stored events in seq order into ``MemoryRunEventStore`` gives the same answers
to every query, seqs included (so they run 1, 2, ... with no gap and no
repeat). Used by ``tests/test_cancellation_storm.py`` and the gate anchor
``test_cancellation_storm.py``.
"""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from runlog.events import MemoryRunEventStore, RunEventStore

# A call still waiting after this long waits forever: its group's job takes milliseconds,
# and the busiest wait ahead of it (the hogs' and the other groups' jobs) a fraction of a second.
STRANDED_AFTER = 30.0
WORKERS = 2
# How long each hog job holds a worker: a job of the store queued behind two of them waits up
# to this long, the window in which cancelling its leader once wedged the thread (issue 26).
HOG_SECONDS = 0.01
CREATED_AT = "2026-01-01T00:00:00+00:00"  # given, so that the model stores the same records


@dataclass
class Storm:
    threads: list[str]
    calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # tag -> the events it gave
    acknowledged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # tag -> its records
    cancelled: set[str] = field(default_factory=set)
    failed: dict[str, BaseException] = field(default_factory=dict)
    stranded: list[str] = field(default_factory=list)


def _events(rng: random.Random, tag: str, threads: list[str]) -> list[dict[str, Any]]:
    if rng.random() < 0.25:  # a batch: 2 or 3 events, on one thread or two
        chosen = rng.sample(threads, rng.choice((1, 2)))
        targets = [chosen[k % len(chosen)] for k in range(rng.choice((2, 3)))]
    else:
        targets = [rng.choice(threads)]
    return [
        {
            "thread_id": thread_id,
            "run_id": "r1",
            "event_type": "storm",
            "category": "message" if rng.random() < 0.8 else "trace",
            "content": f"{tag}.{k}",
            "metadata": {"tag": tag},
            "created_at": CREATED_AT,
        }
        for k, thread_id in enumerate(targets)
    ]


async def run_storm(
    store: RunEventStore, *, seed: int, producers: int, threads: int, calls_each: int
) -> Storm:
    """Run the storm on the running loop (its default executor is replaced, then shut down)."""
    rng = random.Random(seed)
    storm = Storm([f"s{i}" for i in range(threads)])
    loop = asyncio.get_running_loop()
    workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="storm-worker")
    loop.set_default_executor(workers)
    stop = asyncio.Event()

    async def hog() -> None:
        while not stop.is_set():
            await loop.run_in_executor(None, time.sleep, HOG_SECONDS)

    async def producer(p: int) -> None:
        for n in range(calls_each):
            tag = f"p{p}n{n}"
            events = storm.calls[tag] = _events(rng, tag, storm.threads)
            call = store.put_batch(events) if len(events) > 1 else store.put(**events[0])
            task = asyncio.ensure_future(call)
            if rng.random() < 1 / 4:
                # Now and then at the next turn (the leader's one turn before it takes its
                # group), else a little later (its job queued behind the hogs, running, answered).
                loop.call_later(0 if rng.random() < 0.3 else rng.random() * 2 * HOG_SECONDS, task.cancel)
            done, _ = await asyncio.wait({task}, timeout=STRANDED_AFTER)
            if not done:
                storm.stranded.append(tag)
                task.cancel()
                return  # its thread is wedged: every later call of it would wait as long
            if task.cancelled():
                storm.cancelled.add(tag)
            elif task.exception() is not None:
                storm.failed[tag] = task.exception()  # type: ignore[assignment]
            else:
                result = task.result()
                storm.acknowledged[tag] = result if isinstance(result, list) else [result]
            await asyncio.sleep(rng.random() * 0.002)

    helpers = [asyncio.ensure_future(hog()) for _ in range(WORKERS)]
    try:
        await asyncio.gather(*(producer(p) for p in range(producers)))
    finally:
        stop.set()
        await asyncio.gather(*helpers)
        # A default executor of the usual size again (the loop's end shuts it down); the storm's
        # workers are joined from one of its threads. Not shutdown_default_executor(): after it,
        # this loop could offload nothing more, and the verdict reads through the store.
        loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="after-storm"))
        await asyncio.to_thread(workers.shutdown, True)
    return storm


async def verdict(storm: Storm, store: RunEventStore, fresh: RunEventStore) -> None:
    """Assert what the storm left against the reference model (see the module's docstring);
    ``fresh`` is a new instance on the same storage."""
    assert storm.stranded == [], f"callers never answered: {storm.stranded}"
    assert storm.failed == {}, f"calls failed: {storm.failed}"
    assert storm.acknowledged, "no call was acknowledged: the storm proved nothing"
    assert storm.cancelled, "no call was cancelled: the storm proved nothing"
    stored = {t: await fresh.list_events(t, "r1", limit=100_000) for t in storm.threads}
    contents = [r["content"] for records in stored.values() for r in records]
    assert len(contents) == len(set(contents)), "an event was stored twice"
    for records in storm.acknowledged.values():
        for record in records:
            assert record in stored[record["thread_id"]], f"acknowledged and lost or changed: {record}"
    for content in contents:
        tag = content.split(".")[0]
        assert tag in storm.acknowledged or tag in storm.cancelled, f"stored, never asked for: {content}"
    model = MemoryRunEventStore()
    for records in stored.values():
        for record in records:  # in seq order
            kept = {k: record[k] for k in ("thread_id", "run_id", "event_type", "category", "content")}
            await model.put(**kept, metadata=record["metadata"], created_at=record["created_at"])
    for thread_id in storm.threads:
        assert stored[thread_id] == await model.list_events(thread_id, "r1", limit=100_000)
        assert await fresh.list_messages(thread_id, limit=100_000) == await model.list_messages(
            thread_id, limit=100_000
        )
        assert await fresh.count_messages(thread_id) == await model.count_messages(thread_id)
        # The storm's store is not wedged: a put on each thread is answered, after what is stored.
        after = await asyncio.wait_for(
            store.put(thread_id=thread_id, run_id="r1", event_type="after", category="message"),
            STRANDED_AFTER,
        )
        assert after["seq"] == len(stored[thread_id]) + 1
