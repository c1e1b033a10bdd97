"""Durability and concurrency of the JSONL store on real files."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os

import pytest

from runlog.events import JsonlRunEventStore
from tests.factories import event


def thread_file(base, thread_id="t1"):
    return base / "threads" / f"{thread_id}.jsonl"


async def test_new_store_sees_everything_and_continues_seq(tmp_path):
    first = JsonlRunEventStore(tmp_path)
    await first.put(**event())
    await first.put_batch([event(run_id="r2"), event(run_id="r2", category="trace")])
    second = JsonlRunEventStore(tmp_path)
    assert [e["seq"] for e in await second.list_events("t1", "r2")] == [2, 3]
    assert (await second.put(**event()))["seq"] == 4
    assert await second.count_messages("t1") == 3


async def test_reader_sees_appends_of_another_store(tmp_path):
    reader = JsonlRunEventStore(tmp_path)
    writer = JsonlRunEventStore(tmp_path)
    await writer.put(**event(content="a"))
    assert [m["content"] for m in await reader.list_messages("t1")] == ["a"]
    await writer.put(**event(content="b"))
    assert [m["content"] for m in await reader.list_messages("t1")] == ["a", "b"]
    await writer.delete_by_run("t1", "r1")
    assert await reader.list_messages("t1") == []
    await writer.put(**event(content="c"))
    assert [(m["seq"], m["content"]) for m in await reader.list_messages("t1")] == [(3, "c")]
    await writer.delete_by_thread("t1")
    assert await reader.count_messages("t1") == 0


async def test_reader_reloads_when_file_replaced_with_same_size(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="aaaa"))
    path = thread_file(tmp_path)
    text = path.read_text().replace("aaaa", "bbbb")
    tmp = path.with_suffix(".new")
    tmp.write_text(text)
    os.replace(tmp, path)
    assert [m["content"] for m in await store.list_messages("t1")] == ["bbbb"]


def _rewrite_in_place(path, old: str, new: str) -> None:
    """Overwrite bytes through the same inode (no rename), as an editor or a repair tool might."""
    assert len(old) == len(new)
    data = path.read_bytes()
    at = data.index(old.encode())
    before = path.stat()
    with path.open("r+b") as f:
        f.seek(at)
        f.write(new.encode())
    # A rewrite in the same clock tick as the last write would keep the mtime:
    # make the new mtime certain, as the next tick would.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert path.stat().st_ino == before.st_ino and path.stat().st_size == before.st_size


async def test_reader_reloads_a_same_size_rewrite_far_from_the_end(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="first-original"))
    for i in range(5):
        await store.put(**event(content=f"later {i} " + "x" * 40))
    assert (await store.list_messages("t1", limit=1, after_seq=0))[0]["content"] == "first-original"
    path = thread_file(tmp_path)
    _rewrite_in_place(path, "first-original", "first-REWRITTE")  # hundreds of bytes before the end
    [first] = await store.list_messages("t1", limit=1, after_seq=0)
    assert first["content"] == "first-REWRITTE"
    assert await store.count_messages("t1") == 6


async def test_reader_reloads_when_the_last_bytes_changed_and_the_file_grew(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="one"))
    await store.put(**event(content="two-original"))
    assert await store.count_messages("t1") == 2
    path = thread_file(tmp_path)
    text = path.read_text().replace("two-original", "two-REWRITTEN")
    other = JsonlRunEventStore(tmp_path)
    path.write_text(text)  # same inode, grown by one byte, last line changed
    assert [m["content"] for m in await store.list_messages("t1")] == ["one", "two-REWRITTEN"]
    assert [m["content"] for m in await other.list_messages("t1")] == ["one", "two-REWRITTEN"]


async def test_malformed_lines_are_skipped_and_logged_once(tmp_path, caplog):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="one"))
    with thread_file(tmp_path).open("a") as f:
        f.write("{not json\n")
        f.write('{"seq": "x"}\n')
        f.write("\n")
    await store.put(**event(content="two"))
    fresh = JsonlRunEventStore(tmp_path)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="runlog.events.jsonl"):
        assert [m["content"] for m in await fresh.list_messages("t1")] == ["one", "two"]
        assert [m["content"] for m in await fresh.list_messages("t1")] == ["one", "two"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings
    assert f"{thread_file(tmp_path)}:2" in warnings[0] and f"{thread_file(tmp_path)}:3" in warnings[1]


async def test_torn_last_line_never_swallows_the_next_record(tmp_path, caplog):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="before"))
    with thread_file(tmp_path).open("a") as f:
        f.write('{"thread_id": "t1", "run_id": "r1", "seq": 2, "event_')  # crash mid-append
    assert [m["content"] for m in await store.list_messages("t1")] == ["before"]
    with caplog.at_level(logging.WARNING, logger="runlog.events.jsonl"):
        after = await store.put(**event(content="after"))
    assert after["seq"] == 2
    assert any(
        r.getMessage().startswith("dropping 53 bytes after the last complete line of ")
        for r in caplog.records
    )
    assert (
        b'"seq": 2, "event_' not in thread_file(tmp_path).read_bytes()
    )  # cut off, not kept as a malformed line
    for reader in (store, JsonlRunEventStore(tmp_path)):
        assert [(m["seq"], m["content"]) for m in await reader.list_messages("t1")] == [
            (1, "before"),
            (2, "after"),
        ]


async def test_torn_batch_is_all_or_nothing(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="kept"))
    await store.put_batch([event(content=i) for i in range(5)])
    path = thread_file(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # a crash cut the batch line short
    fresh = JsonlRunEventStore(tmp_path)
    assert [m["content"] for m in await fresh.list_messages("t1")] == ["kept"]
    assert (await fresh.put(**event(content="next")))["seq"] == 2


async def test_unicode_separators_on_disk_stay_inside_one_line(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event(content="a\u2028b\u2029c\x85d"))
    await store.put(**event(content="e"))
    raw = thread_file(tmp_path).read_bytes()
    assert raw.count(b"\n") == 2
    assert [json.loads(line)["content"] for line in raw.splitlines()] == ["a\u2028b\u2029c\x85d", "e"]


async def test_cache_eviction_keeps_results_correct(tmp_path):
    store = JsonlRunEventStore(tmp_path, max_cache_bytes=1)  # every other thread evicted at each read
    for i in range(5):
        await store.put(**event(thread_id=f"t{i}", content=i))
    for i in range(5):
        assert [m["content"] for m in await store.list_messages(f"t{i}")] == [i]
    assert (await store.put(**event(thread_id="t0")))["seq"] == 2


def test_max_cache_bytes_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="max_cache_bytes"):
        JsonlRunEventStore(tmp_path, max_cache_bytes=0)


def _write_many(base_dir: str, worker: int, count: int) -> None:
    import asyncio

    async def main() -> None:
        store = JsonlRunEventStore(base_dir, fsync=False)
        for i in range(count):
            await store.put(**event(run_id=f"w{worker}", content=i))

    asyncio.run(main())


def test_two_processes_never_duplicate_seqs(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), w, 60)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    seqs = [json.loads(line)["seq"] for line in thread_file(tmp_path).read_text().splitlines()]
    assert sorted(seqs) == list(range(1, 121))


def _race_put_if_absent(base_dir: str, worker: int, rounds: int, barrier, results) -> None:
    import asyncio

    async def main() -> None:
        store = JsonlRunEventStore(base_dir, fsync=False)
        for k in range(rounds):
            await asyncio.to_thread(barrier.wait, 60)  # every process starts the round together
            record, created = await store.put_if_absent(
                **event(event_type=f"once-{k}", content=f"from {worker}")
            )
            results.put((k, worker, record["seq"], record["content"], created))

    asyncio.run(main())


def test_put_if_absent_is_atomic_across_processes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    workers, rounds = 4, 25
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    procs = [
        ctx.Process(target=_race_put_if_absent, args=(str(tmp_path), w, rounds, barrier, results))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    answers = [results.get(timeout=120) for _ in range(workers * rounds)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    for k in range(rounds):
        got = [a for a in answers if a[0] == k]
        assert len(got) == workers
        assert sum(created for *_, created in got) == 1, f"round {k}: {got}"
        assert len({(seq, content) for _, _, seq, content, _ in got}) == 1, f"round {k}: {got}"
    stored = [json.loads(line) for line in thread_file(tmp_path).read_text().splitlines()]
    assert sorted(r["event_type"] for r in stored) == sorted(f"once-{k}" for k in range(rounds))
    assert [r["seq"] for r in stored] == list(range(1, rounds + 1))


async def test_no_fsync_mode_still_persists(tmp_path):
    store = JsonlRunEventStore(tmp_path, fsync=False)
    await store.put(**event())
    assert (await JsonlRunEventStore(tmp_path).count_messages("t1")) == 1


@pytest.mark.parametrize("chunk", [7, 100, 4096])
async def test_reads_in_chunks_across_line_boundaries(tmp_path, monkeypatch, chunk):
    from runlog.events import jsonl

    writer = JsonlRunEventStore(tmp_path, fsync=False)
    await writer.put_batch([event(run_id=f"r{i % 3}", content="x" * (i % 50)) for i in range(40)])
    for i in range(10):
        await writer.put(**event(content=f"single {i}"))
    expected = await writer.list_messages("t1", limit=1000)
    monkeypatch.setattr(jsonl, "_CHUNK", chunk)
    reader = JsonlRunEventStore(tmp_path)
    assert await reader.list_messages("t1", limit=1000) == expected
    await writer.put(**event(content="after"))
    assert (await reader.list_messages("t1", limit=1))[0]["content"] == "after"
    assert await reader.count_messages("t1") == 51
