"""How deeply content may nest (issue 26): what a store accepts, every store and every Python reads back.

* Every store (JSONL, SQLite, PostgreSQL when configured, memory) keeps content
  and metadata nested ``MAX_NESTING`` levels and refuses one level more with
  the documented TypeError naming the field, storing nothing.
* The deepest content a store accepts, found by asking it (not by reading the
  constant), stored by ``put`` and by ``put_batch`` (a batch line, 3 levels
  more), is read back by a fresh process on the same Python: the interpreter
  running this test, so each unit env (py310 ... py313) checks its own.
* A line nested deeper than the running Python can parse is a malformed line:
  skipped with a warning, the rest of its thread read and written as usual.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys

import pytest
from tests_blocking.anchors.stores import StoreUnderTest, kind_params

from runlog.events import JsonlRunEventStore, MemoryRunEventStore, base
from tests.factories import event

CHILD_TIMEOUT = 120  # seconds: a fresh interpreter, one store opened, a few reads and one write


def nested(levels: int, leaf: object = "leaf") -> object:
    """A value nesting ``levels`` levels of arrays and objects, alternately (0: the leaf itself)."""
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nested_counts_levels_as_the_limit_does():
    assert [base.json_nesting(json.dumps(nested(n))) for n in (0, 1, 2, 7)] == [0, 1, 2, 7]
    assert base.json_nesting('{"a": "[[[{{{", "b": [1, "\\"]"]}') == 2


@pytest.mark.parametrize("field", ["content", "metadata"])
async def test_nesting_to_the_limit_is_kept_and_one_level_more_is_refused(store, field):
    deepest = nested(base.MAX_NESTING) if field == "content" else {"k": nested(base.MAX_NESTING - 1)}
    too_deep = nested(base.MAX_NESTING + 1) if field == "content" else {"k": nested(base.MAX_NESTING)}
    single = await store.put(**event(**{field: deepest}))
    batch = await store.put_batch([event(**{field: deepest}), event(**{field: deepest})])
    assert [r[field] for r in (single, *batch)] == [deepest] * 3
    assert [e[field] for e in await store.list_events("t1", "r1")] == [deepest] * 3
    with pytest.raises(TypeError, match=rf"{field} .*nest.* {base.MAX_NESTING} levels"):
        await store.put(**event(**{field: too_deep}))
    with pytest.raises(TypeError, match=rf"events\[1\]: {field} .*nest.* {base.MAX_NESTING} levels"):
        await store.put_batch([event(), event(**{field: too_deep})])
    with pytest.raises(TypeError, match=field):
        await store.put_if_absent(**event(event_type="other", **{field: too_deep}))
    assert await store.count_messages("t1") == 3  # nothing of the refused calls was stored


async def test_far_too_deep_is_the_same_type_error_in_every_store(store):
    """Deep enough that encoding itself runs out of stack: still the documented TypeError."""
    for value in (nested(100_000), nested(base.MAX_NESTING * 10)):
        with pytest.raises(TypeError, match="content"):
            await store.put(**event(content=value))
    assert await store.count_messages("t1") == 0


async def deepest_accepted(store) -> tuple[int, list[str]]:
    """The deepest content ``put_batch`` accepts (on thread "probe"), and the errors it raised that
    are not the documented TypeError (each counts as a refusal for the search)."""
    low, high = 0, 100_000  # low is accepted; high is refused (checked first)
    wrong: list[str] = []

    async def accepts(levels: int) -> bool:
        try:
            await store.put_batch([event(thread_id="probe", content=nested(levels))])
        except TypeError:
            return False
        except Exception as exc:
            wrong.append(f"{levels} levels: {exc!r}")
            return False
        return True

    assert not await accepts(high)
    while high - low > 1:
        middle = (low + high) // 2
        if await accepts(middle):
            low = middle
        else:
            high = middle
    return low, wrong


READ_BACK = """
import asyncio, json, sys
from runlog.events import open_store

async def main():
    store = open_store(sys.argv[1])
    try:
        events = await store.list_events("deep", "r1", limit=100)
        count = await store.count_messages("deep")
        after = await store.put(thread_id="deep", run_id="r1", event_type="after", category="message")
        print(json.dumps({"events": events, "count": count, "after": after["seq"]}))
    finally:
        if hasattr(store, "close"):
            await store.close()

asyncio.run(main())
"""


@pytest.mark.parametrize("kind", kind_params())
async def test_the_deepest_accepted_content_reads_back_in_a_fresh_process(kind, tmp_path):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        store = await storage.open()
        depth, wrong = await deepest_accepted(store)
        deepest = nested(depth)
        metadata = {"k": nested(depth - 1)}
        written = [await store.put(**event(thread_id="deep", content=deepest, metadata=metadata))]
        written += await store.put_batch(
            [event(thread_id="deep", content=deepest, metadata=metadata) for _ in range(2)]
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", READ_BACK, storage.url],
            capture_output=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        read = json.loads(done.stdout)
        assert read["events"] == written
        assert (read["count"], read["after"]) == (3, 4)
        assert wrong == []
        assert depth == base.MAX_NESTING
    finally:
        await storage.close()


async def test_the_memory_model_accepts_as_deep_as_the_stores():
    assert await deepest_accepted(MemoryRunEventStore()) == (base.MAX_NESTING, [])


def too_deep_line(seq: int, levels: int = 20_000) -> bytes:
    """A record line whose content nests deeper than any supported Python's json parses."""
    content = "[" * levels + "]" * levels
    return (
        f'{{"thread_id":"t1","run_id":"r1","seq":{seq},"event_type":"user","category":"message",'
        f'"content":{content},"metadata":{{}},"created_at":"2026-01-01T00:00:00+00:00"}}\n'
    ).encode()


async def test_a_line_too_deep_to_parse_is_skipped_and_the_thread_stays_usable(tmp_path, caplog):
    writer = JsonlRunEventStore(tmp_path)
    first = await writer.put(**event(content="before"))
    path = tmp_path / "threads" / "t1.jsonl"
    with path.open("ab") as f:
        f.write(too_deep_line(2))
    caplog.set_level(logging.WARNING, logger="runlog.events.jsonl")
    store = JsonlRunEventStore(tmp_path)
    assert await store.list_messages("t1") == [first]
    assert await store.count_messages("t1") == 1
    after = await store.put(**event(content="after"))
    assert after["seq"] == 3  # not 2: the line another Python may parse holds it
    assert await JsonlRunEventStore(tmp_path).list_messages("t1") == [first, after]
    assert any("too deeply" in r.getMessage() and ":2:" in r.getMessage() for r in caplog.records)
