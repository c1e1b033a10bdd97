"""A put_batch over several threads that fails (issue 26): the caller learns what was stored.

A batch is all-or-nothing per thread only. When some threads' parts were
stored and others failed, ``put_batch`` raises ``PartialBatchError`` naming
them (and the input indexes to retry); any other error means nothing of the
batch was stored. Checked on every store with a storage that can fail (JSONL:
a thread's file that cannot be written; SQL: a trigger refusing one thread's
rows), against what a fresh store reads back, and by retrying what the error
says was not stored: every event ends up stored exactly once.
"""

from __future__ import annotations

import asyncio
import errno

import pytest
from tests_blocking.anchors.stores import StoreUnderTest, kind_params

from runlog.events import JsonlRunEventStore, PartialBatchError
from tests.factories import event

BATCH = [event(thread_id=t, content=f"{t}{n}") for n, t in enumerate(("a", "b", "c", "a", "b"))]
THREADS = ("a", "b", "c")


async def contents(store, thread_id):
    return [e["content"] for e in await store.list_events(thread_id, "r1")]


async def refuse_thread_b(storage: StoreUnderTest, store) -> None:
    """From now on, storing anything in thread "b" fails in the storage itself."""
    if storage.kind == "jsonl":
        # A folder where b's file should be: opening it for appends fails.
        path = storage.base_dir / "threads" / "b.jsonl"
        await asyncio.to_thread(path.mkdir, parents=True)
        return
    await store.put(**event(thread_id="seed"))  # the schema exists
    if storage.kind == "sqlite":
        await storage.execute(
            "CREATE TRIGGER refuse_b BEFORE INSERT ON run_events WHEN NEW.thread_id = 'b' "
            "BEGIN SELECT RAISE(ABORT, 'no room for thread b'); END"
        )
    else:
        await storage.execute(
            "CREATE FUNCTION refuse_b() RETURNS trigger AS $$ BEGIN "
            "IF NEW.thread_id = 'b' THEN RAISE EXCEPTION 'no room for thread b'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        await storage.execute(
            "CREATE TRIGGER refuse_b BEFORE INSERT ON run_events FOR EACH ROW EXECUTE FUNCTION refuse_b()"
        )


async def allow_thread_b(storage: StoreUnderTest) -> None:
    if storage.kind == "jsonl":
        await asyncio.to_thread((storage.base_dir / "threads" / "b.jsonl").rmdir)
    else:
        await storage.execute(
            "DROP TRIGGER refuse_b" + (" ON run_events" if storage.kind == "postgresql" else "")
        )


@pytest.mark.parametrize("kind", kind_params())
async def test_a_failed_batch_says_what_it_stored_and_a_retry_of_the_rest_stores_each_event_once(
    kind, tmp_path
):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        store = await storage.open()
        await refuse_thread_b(storage, store)
        with pytest.raises(Exception) as failure:
            await store.put_batch(BATCH)
        error = failure.value
        await allow_thread_b(storage)  # (a JSONL thread whose file is a folder cannot be read either)
        fresh = await storage.open()
        if isinstance(error, PartialBatchError):
            # Stored: what a fresh store reads back, and nothing else.
            for thread_id in THREADS:
                assert await fresh.list_events(thread_id, "r1") == error.stored.get(thread_id, [])
            assert set(error.failed) == {"b"} and error.__cause__ is error.failed["b"]
            retry = [BATCH[i] for i in error.unstored]
        else:
            # Any other error: nothing of the batch was stored.
            for thread_id in THREADS:
                assert await fresh.list_events(thread_id, "r1") == []
            retry = BATCH
        await store.put_batch(retry)
        assert [await contents(fresh, t) for t in THREADS] == [["a0", "a3"], ["b1", "b4"], ["c2"]]
    finally:
        await storage.close()


async def test_the_jsonl_store_names_the_stored_threads_their_records_and_the_events_to_retry(
    tmp_path, monkeypatch
):
    store = JsonlRunEventStore(tmp_path)
    original = JsonlRunEventStore._append_locked
    full = OSError(errno.ENOSPC, "no space left on device")

    def no_room_for_b(self, held, thread_id, parts, *rest):
        if thread_id == "b":
            raise full
        return original(self, held, thread_id, parts, *rest)

    monkeypatch.setattr(JsonlRunEventStore, "_append_locked", no_room_for_b)
    with pytest.raises(PartialBatchError) as failure:
        await store.put_batch(BATCH)
    error = failure.value
    assert error.failed == {"b": full} and error.__cause__ is full
    assert error.unstored == [1, 4]
    assert {t: [r["content"] for r in records] for t, records in error.stored.items()} == {
        "a": ["a0", "a3"],
        "c": ["c2"],
    }
    assert [r["seq"] for r in error.stored["a"]] == [1, 2]
    assert "['a', 'c']" in str(error) and "['b']" in str(error)
    monkeypatch.undo()
    retried = await store.put_batch([BATCH[i] for i in error.unstored])
    assert [(r["thread_id"], r["seq"], r["content"]) for r in retried] == [("b", 1, "b1"), ("b", 2, "b4")]


async def test_a_batch_whose_every_part_failed_raises_the_error_itself(tmp_path, monkeypatch):
    """Nothing stored: the plain error, as for a batch of one thread (retrying it all is safe)."""
    store = JsonlRunEventStore(tmp_path)
    full = OSError(errno.ENOSPC, "no space left on device")

    def no_room(self, *args):
        raise full

    monkeypatch.setattr(JsonlRunEventStore, "_append_locked", no_room)
    with pytest.raises(OSError) as failure:
        await store.put_batch(BATCH)
    assert failure.value is full
    monkeypatch.undo()
    assert [await store.count_messages(t) for t in THREADS] == [0, 0, 0]
