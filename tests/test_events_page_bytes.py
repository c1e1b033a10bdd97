"""Pages bounded in bytes (issue 27): a page of many large events ends early, with a cursor to go on.

``max_page_bytes`` (every store; ``RUNLOG_MAX_PAGE_BYTES`` for the service)
counts an event as ``base.event_chars`` does. A page ends before the event that
would take it past the limit, never before its first; a page read backwards
(no cursor, ``before_seq``) keeps its newest events and goes on with
``before_seq`` = its first seq, one read forwards its oldest and goes on with
``after_seq`` = its last seq. Every store cuts the same page (memory, the
reference model, with its own code); the JSONL store also after a reload,
when its sizes come from the file.

The JSONL store's read cache is bounded in bytes (``max_cache_bytes``), not in threads.
"""

from __future__ import annotations

import contextlib
import os

import httpx
import pytest
from tests_blocking.anchors.stores import StoreUnderTest, kind_params

from runlog.events import JsonlRunEventStore, MemoryRunEventStore, base, jsonl, open_store
from runlog.gateway import Settings, create_app, limits
from tests.factories import event

LIMIT = 1000  # bytes: a few events of the sizes below
DEFAULT_MAX_PAGE_BYTES = 4 * 1024 * 1024  # the service's default, as the docs state it


@contextlib.asynccontextmanager
async def stores(kind, tmp_path, max_page_bytes):
    """A store of ``kind`` with the page limit, and a reopened one on the same storage (JSONL: from
    its files, the sizes read from them)."""
    if kind == "memory":
        store = MemoryRunEventStore(max_page_bytes=max_page_bytes)
        yield store, store
        return
    storage = StoreUnderTest(kind, tmp_path)
    await (await storage.open()).count_messages("t0")  # PostgreSQL: the test's schema
    opened = [open_store(storage.url, max_page_bytes=max_page_bytes) for _ in range(2)]
    try:
        yield opened[0], opened[1]
    finally:
        for store in opened:
            if hasattr(store, "close"):
                await store.close()
        await storage.close()


def sizes(records):
    return [
        base.event_chars(
            base.ENCODER.encode(r["content"]),
            base.ENCODER.encode(r["metadata"]),
            r["event_type"],
            r["category"],
            r["created_at"],
        )
        for r in records
    ]


async def fill(store):
    """Twelve messages of growing sizes, non-ASCII texts and metadata included; a batch among them."""
    for i in range(6):
        await store.put(**event(content="x" * (60 * i), event_type="t\u00e9", created_at=f"2026-{i}"))
    await store.put_batch(
        [event(content={"n": "y" * (50 * i)}, metadata={"k": "\u2028" * i}, created_at="c") for i in range(6)]
    )


@pytest.mark.parametrize("kind", [*kind_params(), "memory"])
async def test_pages_end_before_the_limit_and_the_cursors_walk_every_event(kind, tmp_path):
    async with stores(kind, tmp_path, LIMIT) as (store, reopened):
        await fill(store)
        store.max_page_bytes = None  # the reference: the whole thread in one page
        whole = await store.list_messages("t1", limit=100)
        store.max_page_bytes = LIMIT
        assert len(whole) == 12
        for reader in (store, reopened):
            forward, after = [], 0
            while page := await reader.list_messages("t1", limit=100, after_seq=after):
                assert sum(sizes(page)) <= LIMIT or len(page) == 1
                if len(forward) + len(page) < 12:  # not the last page: the next event did not fit
                    nxt = whole[len(forward) + len(page)]
                    assert sum(sizes([*page, nxt])) > LIMIT
                forward += page
                after = page[-1]["seq"]
            backward, before = [], None
            while page := await reader.list_messages("t1", limit=100, before_seq=before):
                assert sum(sizes(page)) <= LIMIT or len(page) == 1
                backward = page + backward
                before = page[0]["seq"]
            assert forward == backward == whole
            assert 3 < len(await reader.list_events("t1", "r1", limit=100)) < 12
            by_run = await reader.list_messages_by_run("t1", "r1", limit=100)
            assert by_run == whole[-len(by_run) :] and 1 < len(by_run) < 12


@pytest.mark.parametrize("kind", [*kind_params(), "memory"])
async def test_an_event_alone_over_the_limit_is_a_page_of_its_own(kind, tmp_path):
    async with stores(kind, tmp_path, 10) as (store, reopened):
        await store.put_batch([event(content="a" * 50), event(content="b" * 50), event(content="c")])
        for reader in (store, reopened):
            assert [r["seq"] for r in await reader.list_messages("t1")] == [3]
            assert [r["seq"] for r in await reader.list_messages("t1", after_seq=0)] == [1]
            assert [r["seq"] for r in await reader.list_events("t1", "r1", after_seq=1)] == [2]
            assert [r["seq"] for r in await reader.list_messages_by_run("t1", "r1", before_seq=3)] == [2]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "4096"])
def test_a_page_limit_must_be_a_positive_integer(tmp_path, bad):
    for make in (
        lambda: MemoryRunEventStore(max_page_bytes=bad),
        lambda: JsonlRunEventStore(tmp_path, max_page_bytes=bad),
        lambda: open_store(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}", max_page_bytes=bad),
    ):
        with pytest.raises(ValueError, match="max_page_bytes must be a positive integer or None"):
            make()


# -- the service ---------------------------------------------------------------------------------


def test_the_page_limit_is_a_setting_with_a_default_and_a_variable():
    assert Settings().max_page_bytes == limits.DEFAULT_MAX_PAGE_BYTES == DEFAULT_MAX_PAGE_BYTES
    assert Settings.from_env({"RUNLOG_MAX_PAGE_BYTES": "5000"}).max_page_bytes == 5000
    assert Settings().max_cache_bytes == jsonl.DEFAULT_MAX_CACHE_BYTES == 64 * 1024 * 1024
    assert Settings.from_env({"RUNLOG_MAX_CACHE_BYTES": "7000"}).max_cache_bytes == 7000
    for variable in ("RUNLOG_MAX_PAGE_BYTES", "RUNLOG_MAX_CACHE_BYTES"):
        with pytest.raises(ValueError, match=variable.removeprefix("RUNLOG_").lower()):
            Settings.from_env({variable: "0"})


@pytest.mark.parametrize("kind", ["jsonl", "memory"])
async def test_a_page_of_limit_1000_with_large_events_is_bounded_by_the_default(kind, tmp_path):
    """24 events of 250 KiB (6 MiB): the default limit, 4 MiB, answers 16 and the rest on the next page."""
    events_url = "memory:" if kind == "memory" else str(tmp_path / "events")
    app = create_app(
        Settings(data_dir=tmp_path / "data", events_url=events_url, skills_dir=tmp_path / "none")
    )
    big = "z" * (250 * 1024)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            for _ in range(4):
                batch = [{**event(), "content": big} for _ in range(6)]
                assert (await client.post("/events/batch", json=batch)).status_code == 201
            first = await client.get("/threads/t1/messages", params={"limit": 1000, "after_seq": 0})
            assert first.status_code == 200
            assert len(first.content) < DEFAULT_MAX_PAGE_BYTES + 16 * 300  # the records' other fields
            seqs = [r["seq"] for r in first.json()]
            assert seqs == list(range(1, 17))
            rest = await client.get("/threads/t1/messages", params={"limit": 1000, "after_seq": seqs[-1]})
            assert [r["seq"] for r in rest.json()] == list(range(17, 25))
            latest = await client.get("/threads/t1/runs/r1/events", params={"limit": 1000})
            assert len(latest.json()) == 16


# -- the JSONL read cache, in bytes ------------------------------------------------------------------


async def test_the_jsonl_cache_keeps_what_its_bytes_allow_and_reads_the_rest_again(tmp_path):
    """Eight threads of one 100 KB event, a cache of 350 KB: the three read last stay cached (a
    change made behind the store's back is not seen), the others are read again from their files."""
    writer = JsonlRunEventStore(tmp_path)
    for i in range(8):
        await writer.put(**event(thread_id=f"t{i}", content=f"{i}-original-" + "p" * 100_000))
    reader = JsonlRunEventStore(tmp_path, max_cache_bytes=350_000)
    for i in range(8):
        assert (await reader.list_messages(f"t{i}"))[0]["content"].startswith(f"{i}-original-")
    for i in range(8):
        path = tmp_path / "threads" / f"t{i}.jsonl"
        text = path.read_text()
        stat = os.stat(path)
        path.write_text(text.replace(f"{i}-original-", f"{i}-EDITED!!-"))  # same size
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: only a kept cache misses it
    seen = {i: (await reader.list_messages(f"t{i}"))[0]["content"][:11] for i in (5, 6, 7)}
    assert seen == {5: "5-original-", 6: "6-original-", 7: "7-original-"}
    assert (await reader.list_messages("t0"))[0]["content"].startswith("0-EDITED!!-")


async def test_a_deleted_thread_leaves_the_jsonl_cache_with_its_bytes(tmp_path):
    """A delete forgets the thread's cache and its bytes: three threads of 100 KB each, deleted,
    then two more read into a cache of 250 KB, which must keep both (it would drop the first if the
    deleted threads were still counted)."""
    store = JsonlRunEventStore(tmp_path, max_cache_bytes=250_000)
    for i in range(3):
        await store.put(**event(thread_id=f"gone{i}", content="g" * 100_000))
        await store.list_messages(f"gone{i}")
        assert await store.delete_by_thread(f"gone{i}") == 1
    for name in ("kept0", "kept1"):
        await store.put(**event(thread_id=name, content=f"{name}-original-" + "k" * 100_000))
        await store.list_messages(name)
    path = tmp_path / "threads" / "kept0.jsonl"
    text, stat = path.read_text(), os.stat(path)
    path.write_text(text.replace("kept0-original-", "kept0-EDITED!!-"))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # only a kept cache misses the edit
    assert (await store.list_messages("kept0"))[0]["content"].startswith("kept0-original-")
