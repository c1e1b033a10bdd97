"""Anchors: the SQL stores' group commit, driven by concurrent callers under the gate.

Concurrent ``put``s and ``put_batch``es on one thread and on many, callers cancelled before and
after their group was taken, a group whose statement fails, a writer task cancelled mid-write (as
the loop's end does), ``put_if_absent`` and the deletes beside the groups, and ``close`` with
groups queued: every path of the commit queue (``SqlRunEventStore._commit``, ``_write_groups``,
``_write``, ``_answer``, ``_drain``) and the writes themselves (PostgreSQL's one statement on the
loop; SQLite's offload to its writer thread) run while the gate watches, on SQLite and on
PostgreSQL. Each anchor checks what reached the database through a new store instance.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from runlog.events import SqlRunEventStore
from tests_blocking.anchors.stores import SKIP_POSTGRES, StoreUnderTest, kind_params, postgres_url

SQL_KINDS = kind_params(("sqlite", "postgresql"))
BOUND = 30  # seconds any wait here may take before the anchor fails


def ev(thread_id: str, content: object, **extra: object) -> dict[str, object]:
    return {
        "thread_id": thread_id,
        "run_id": "r1",
        "event_type": "assistant",
        "category": "message",
        "content": content,
        "created_at": "2026-01-01T00:00:00+00:00",
        **extra,
    }


@pytest.fixture(params=SQL_KINDS)
async def storage(request, tmp_path):
    storage = StoreUnderTest(request.param, tmp_path)
    try:
        yield storage
    finally:
        await storage.close()


async def contents(storage: StoreUnderTest, thread_id: str) -> list[object]:
    return [e["content"] for e in await (await storage.open()).list_events(thread_id, "r1", limit=1000)]


class HeldGroups:
    """Every group waits, taken and not yet written, until ``release()``."""

    def __init__(self, monkeypatch) -> None:
        self.entered, self.released = asyncio.Event(), asyncio.Event()
        write = SqlRunEventStore._write

        async def held(store, queue, group):
            self.entered.set()
            await asyncio.wait_for(self.released.wait(), BOUND)
            return await write(store, queue, group)

        monkeypatch.setattr(SqlRunEventStore, "_write", held)


async def test_concurrent_puts_and_batches_on_one_thread_and_on_many(storage):
    store = await storage.open()
    await store.put(**ev("t0", "seed"))
    calls = [store.put(**ev(f"t{i % 6}", i)) for i in range(36)]
    calls.insert(7, store.put_batch([ev("t0", "b0"), ev("t5", "b1"), ev("t0", "b2")]))
    results = await asyncio.wait_for(asyncio.gather(*calls), BOUND)
    batch = results.pop(7)
    assert [r["seq"] for r in batch] == [4, 2, 5]  # arrival order: after t0's seed, puts 0 and 6; t5's put 5
    for i, record in enumerate(results):
        assert record["thread_id"] == f"t{i % 6}"
    assert await contents(storage, "t0") == ["seed", 0, 6, "b0", "b2", 12, 18, 24, 30]
    assert await contents(storage, "t5") == [5, "b1", 11, 17, 23, 29, 35]


async def test_callers_cancelled_before_and_after_their_group_was_taken(storage, monkeypatch):
    store = await storage.open()
    await store.count_messages("t1")
    early = [asyncio.ensure_future(store.put(**ev("t1", f"e{i}"))) for i in range(3)]
    await asyncio.sleep(0)  # queued; the writer takes them at its first step
    early[1].cancel()
    done = await asyncio.wait_for(asyncio.gather(*early, return_exceptions=True), BOUND)
    assert isinstance(done[1], asyncio.CancelledError) and [done[0]["seq"], done[2]["seq"]] == [1, 2]
    held = HeldGroups(monkeypatch)
    taken = asyncio.ensure_future(store.put(**ev("t1", "taken")))
    await asyncio.wait_for(held.entered.wait(), BOUND)
    behind = asyncio.ensure_future(store.put(**ev("t1", "behind")))
    await asyncio.sleep(0)
    taken.cancel()
    held.released.set()
    with pytest.raises(asyncio.CancelledError):
        await taken
    assert (await asyncio.wait_for(behind, BOUND))["seq"] == 4
    assert await contents(storage, "t1") == ["e0", "e2", "taken", "behind"]


async def test_a_failing_group_fails_its_callers_and_the_next_one_is_written(storage):
    store = await storage.open()
    await store.put(**ev("t1", "seed"))
    if storage.kind == "sqlite":
        await storage.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON run_events WHEN NEW.content = '\"poison\"' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )
    else:
        await storage.execute(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.content = '\"poison\"' "
            "THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        await storage.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON run_events FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            store.put(**ev("t1", "a")),
            store.put_batch([ev("t2", "b"), ev("t1", "poison")]),
            return_exceptions=True,
        ),
        BOUND,
    )
    assert outcomes[0] is outcomes[1] and isinstance(outcomes[0], sa.exc.DBAPIError)
    assert (await store.put(**ev("t1", "after")))["seq"] == 2
    assert await contents(storage, "t1") == ["seed", "after"]
    assert await contents(storage, "t2") == []


async def test_a_writer_cancelled_mid_write_as_the_loop_end_does(storage, monkeypatch):
    store = await storage.open()
    await store.count_messages("t1")
    held = HeldGroups(monkeypatch)
    first = asyncio.ensure_future(store.put(**ev("t1", "first")))
    await asyncio.wait_for(held.entered.wait(), BOUND)
    behind = asyncio.ensure_future(store.put(**ev("t1", "behind")))
    await asyncio.sleep(0)
    (writer,) = store._commit_queues[asyncio.get_running_loop()].writers
    writer.cancel()
    with pytest.raises(RuntimeError, match="may or may not be stored"):
        await asyncio.wait_for(first, BOUND)
    held.released.set()
    assert (await asyncio.wait_for(behind, BOUND))["seq"] == 1
    assert await contents(storage, "t1") == ["behind"]


async def test_put_if_absent_and_the_deletes_beside_the_groups(storage):
    store = await storage.open()
    await store.put_batch([ev("t1", 0), ev("t2", 0, run_id="gone")])
    results = await asyncio.wait_for(
        asyncio.gather(
            *(store.put(**ev("t1", i, event_type="once")) for i in range(1, 4)),
            store.put_if_absent(**ev("t1", "maybe", event_type="once")),
            store.delete_by_run("t2", "gone"),
            store.put(**ev("t3", "x")),
            store.delete_by_thread("t3"),
        ),
        BOUND,
    )
    record, _created = results[3]
    once = await store.list_events("t1", "r1", event_types=["once"])
    assert record == once[0]
    assert results[4] == 1
    assert await store.list_events("t2", "gone") == []
    # The thread's put and its deletion raced: either order, each whole.
    assert results[6] in (0, 1)
    assert await store.count_messages("t3") == 1 - results[6]


async def test_close_answers_the_groups_queued_before_it(storage):
    store = await storage.open()
    await store.count_messages("t1")
    callers = [asyncio.ensure_future(store.put(**ev(f"t{i % 2}", i))) for i in range(8)]
    await asyncio.sleep(0)
    await asyncio.wait_for(store.close(), BOUND)
    assert [c.result()["seq"] for c in callers] == [1, 1, 2, 2, 3, 3, 4, 4]
    with pytest.raises(RuntimeError, match="is closed"):
        await store.put(**ev("t1", "late"))
    assert await contents(storage, "t0") == [0, 2, 4, 6]


async def test_a_text_the_database_cannot_store_fails_only_its_caller(storage):
    store = await storage.open()
    await store.count_messages("t1")
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            store.put(**ev("t1", "kept")),
            store.put(**ev("t1", "refused", event_type="lone \ud800 surrogate")),
            return_exceptions=True,
        ),
        BOUND,
    )
    assert isinstance(outcomes[1], ValueError) and outcomes[0]["seq"] == 1
    assert await contents(storage, "t1") == ["kept"]


@pytest.mark.skipif(postgres_url() is None, reason=SKIP_POSTGRES)
async def test_a_postgresql_writer_cancelled_while_its_statement_runs(tmp_path):
    storage = StoreUnderTest("postgresql", tmp_path)
    try:
        store = await storage.open()
        await store.put(**ev("t1", "seed"))
        await storage.execute(
            "CREATE FUNCTION slow() RETURNS trigger AS $$ BEGIN IF NEW.content = '\"slow\"' "
            "THEN PERFORM pg_sleep(0.5); END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        await storage.execute(
            "CREATE TRIGGER slow BEFORE INSERT ON run_events FOR EACH ROW EXECUTE FUNCTION slow()"
        )
        queue = store._commit_queues[asyncio.get_running_loop()]
        slow = asyncio.ensure_future(store.put(**ev("t1", "slow")))
        for _ in range(1000):  # until the statement is on its way (its connection taken from the idle ones)
            if not queue.connections:
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.1)
        (writer,) = queue.writers
        writer.cancel()
        with pytest.raises(RuntimeError, match="may or may not be stored"):
            await asyncio.wait_for(slow, BOUND)
        assert await contents(storage, "t1") in (["seed"], ["seed", "slow"])
    finally:
        await storage.close()
