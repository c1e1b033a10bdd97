"""The RunEventStore contract, checked on both stores."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timezone

import pytest

from tests.factories import event


async def test_put_returns_full_record(store):
    record = await store.put(
        **event(content="hello", metadata={"task_id": "k"}, created_at="2026-01-01T00:00:00+00:00")
    )
    assert record == {
        "thread_id": "t1",
        "run_id": "r1",
        "seq": 1,
        "event_type": "user",
        "category": "message",
        "content": "hello",
        "metadata": {"task_id": "k"},
        "created_at": "2026-01-01T00:00:00+00:00",
    }


async def test_put_defaults(store):
    record = await store.put(**event())
    assert record["content"] == ""
    assert record["metadata"] == {}
    created = datetime.fromisoformat(record["created_at"])
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60


async def test_seq_per_thread_across_runs(store):
    seqs = [
        (await store.put(**event(thread_id=t, run_id=r)))["seq"]
        for t, r in [("a", "r1"), ("a", "r2"), ("b", "r1"), ("a", "r1"), ("b", "r9")]
    ]
    assert seqs == [1, 2, 1, 3, 2]


async def test_put_batch_assigns_in_input_order_per_thread(store):
    records = await store.put_batch(
        [event(thread_id="a"), event(thread_id="b", run_id="x"), event(thread_id="a", run_id="r2")]
    )
    assert [(r["thread_id"], r["run_id"], r["seq"]) for r in records] == [
        ("a", "r1", 1),
        ("b", "x", 1),
        ("a", "r2", 2),
    ]
    assert await store.put_batch([]) == []


async def test_put_batch_invalid_event_writes_nothing(store):
    with pytest.raises(ValueError, match=r"events\[1\].*run_id"):
        await store.put_batch([event(), event(run_id="bad id")])
    with pytest.raises(TypeError, match=r"events\[1\]"):
        await store.put_batch([event(), event(content={1, 2})])
    with pytest.raises(ValueError, match="unknown keys"):
        await store.put_batch([event(colour="red")])
    with pytest.raises(ValueError, match="missing"):
        await store.put_batch([{"thread_id": "t1"}])
    with pytest.raises(TypeError, match="events must be a list"):
        await store.put_batch("not a list")
    assert await store.count_messages("t1") == 0
    assert await store.list_events("t1", "r1") == []


async def test_put_if_absent_both_outcomes(store):
    first, created = await store.put_if_absent(**event(event_type="start", content="one"))
    assert created and first["seq"] == 1
    again, created = await store.put_if_absent(**event(event_type="start", content="two"))
    assert not created and again == first
    other, created = await store.put_if_absent(**event(run_id="r2", event_type="start"))
    assert created and other["seq"] == 2
    assert len(await store.list_events("t1", "r1")) == 1


async def test_put_if_absent_is_atomic_under_gather(store):
    results = await asyncio.gather(
        *[store.put_if_absent(**event(event_type="once", content=i)) for i in range(20)]
    )
    assert sum(created for _, created in results) == 1
    assert len({r["seq"] for r, _ in results}) == 1


async def test_list_messages_pagination(store):
    for i in range(10):
        category = "message" if i % 2 == 0 else "trace"
        await store.put(**event(run_id=f"r{i % 3}", category=category, content=i))
    # message seqs: 1, 3, 5, 7, 9
    latest = await store.list_messages("t1", limit=2)
    assert [m["seq"] for m in latest] == [7, 9]
    assert [m["seq"] for m in await store.list_messages("t1", limit=2, before_seq=7)] == [3, 5]
    assert [m["seq"] for m in await store.list_messages("t1", limit=2, after_seq=3)] == [5, 7]
    assert [m["seq"] for m in await store.list_messages("t1", limit=50, after_seq=9)] == []
    assert [m["seq"] for m in await store.list_messages("t1", limit=50, before_seq=1)] == []
    assert all(m["category"] == "message" for m in await store.list_messages("t1"))
    assert await store.count_messages("t1") == 5


async def test_list_messages_by_run(store):
    for i in range(6):
        await store.put(**event(run_id="a" if i < 4 else "b", content=i))
    assert [m["seq"] for m in await store.list_messages_by_run("t1", "a", limit=2)] == [3, 4]
    assert [m["seq"] for m in await store.list_messages_by_run("t1", "a", limit=2, before_seq=3)] == [1, 2]
    assert [m["seq"] for m in await store.list_messages_by_run("t1", "a", after_seq=2)] == [3, 4]
    assert [m["seq"] for m in await store.list_messages_by_run("t1", "b")] == [5, 6]


async def test_list_events_filters(store):
    await store.put(**event(event_type="tool", category="trace", metadata={"task_id": "x"}))
    await store.put(**event(event_type="user"))
    await store.put(**event(event_type="tool", category="trace", metadata={"task_id": "y"}))
    await store.put(**event(run_id="other", event_type="tool"))
    await store.put(**event(event_type="assistant", metadata={"task_id": "x"}))
    assert [e["seq"] for e in await store.list_events("t1", "r1")] == [1, 2, 3, 5]
    assert [e["seq"] for e in await store.list_events("t1", "r1", event_types=["tool"])] == [1, 3]
    assert [e["seq"] for e in await store.list_events("t1", "r1", task_id="x")] == [1, 5]
    assert [e["seq"] for e in await store.list_events("t1", "r1", after_seq=2)] == [3, 5]
    assert [e["seq"] for e in await store.list_events("t1", "r1", limit=2)] == [1, 2]
    assert [
        e["seq"] for e in await store.list_events("t1", "r1", event_types=["tool", "assistant"], after_seq=1)
    ] == [3, 5]
    assert await store.list_events("t1", "r1", event_types=[]) == []


async def test_unknown_thread_and_run(store):
    assert await store.list_messages("nope") == []
    assert await store.list_events("nope", "r") == []
    assert await store.list_messages_by_run("nope", "r") == []
    assert await store.count_messages("nope") == 0
    assert await store.delete_by_run("nope", "r") == 0
    assert await store.delete_by_thread("nope") == 0
    await store.put(**event())
    assert await store.list_events("t1", "missing") == []
    assert await store.delete_by_run("t1", "missing") == 0


async def test_deletes_count_all_categories_and_never_reuse_seq(store):
    await store.put(**event(run_id="a"))
    await store.put(**event(run_id="b", category="trace"))
    await store.put(**event(run_id="b"))
    assert await store.delete_by_run("t1", "b") == 2
    assert [e["seq"] for e in await store.list_messages("t1")] == [1]
    assert (await store.put(**event(run_id="c")))["seq"] == 4
    assert await store.delete_by_thread("t1") == 2
    assert await store.list_messages("t1") == []
    assert (await store.put(**event()))["seq"] == 1


async def test_concurrent_puts_get_unique_consecutive_seqs(store):
    records = await asyncio.gather(*[store.put(**event(run_id=f"r{i % 4}", content=i)) for i in range(100)])
    assert sorted(r["seq"] for r in records) == list(range(1, 101))
    assert await store.count_messages("t1") == 100


async def test_unicode_round_trips(store):
    # A lone surrogate is refused (tests/test_events_content.py): no response could carry it.
    text = "line\u2028sep\u2029para\x85nel\r\n\x00nul \U0001f600 \u00e9"
    await store.put(**event(content=text, metadata={"k\u2028": ["\u2029"]}))
    [got] = await store.list_messages("t1")
    assert got["content"] == text
    assert got["metadata"] == {"k\u2028": ["\u2029"]}


async def test_results_are_copies(store):
    record = await store.put(**event(metadata={"a": [1]}))
    record["metadata"]["a"].append(2)
    [again] = await store.list_messages("t1")
    assert again["metadata"] == {"a": [1]}
    again["content"] = "changed"
    assert (await store.list_messages("t1"))[0]["content"] == ""


@pytest.mark.parametrize("field", ["thread_id", "run_id"])
@pytest.mark.parametrize("bad", ["", "a/b", "../x", "a b", "x" * 129, None, 5, "é"])
async def test_bad_ids_rejected_and_nothing_written(store, field, bad):
    with pytest.raises(ValueError, match=field):
        await store.put(**{**event(), field: bad})
    with pytest.raises(ValueError, match=field):
        await store.put_if_absent(**{**event(), field: bad})
    if field == "thread_id":
        for call in (store.list_messages(bad), store.count_messages(bad), store.delete_by_thread(bad)):
            with pytest.raises(ValueError, match=field):
                await call
    with pytest.raises(ValueError, match=field):
        await store.list_events(*(("t1", bad) if field == "run_id" else (bad, "r1")))
    with pytest.raises(ValueError, match=field):
        await store.list_messages_by_run(*(("t1", bad) if field == "run_id" else (bad, "r1")))
    with pytest.raises(ValueError, match=field):
        await store.delete_by_run(*(("t1", bad) if field == "run_id" else (bad, "r1")))
    assert await store.count_messages("t1") == 0


async def test_bad_ids_touch_no_filesystem(tmp_path):
    from runlog.events import JsonlRunEventStore

    store = JsonlRunEventStore(tmp_path / "never")
    with pytest.raises(ValueError, match="thread_id"):
        await store.put(**event(thread_id="../escape"))
    with pytest.raises(ValueError, match="thread_id"):
        await store.list_messages("../escape")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": "5"}, "limit"),
        ({"before_seq": "3"}, "before_seq"),
        ({"after_seq": 1.5}, "after_seq"),
    ],
)
async def test_bad_paging_rejected(store, kwargs, message):
    with pytest.raises(ValueError, match=message):
        await store.list_messages("t1", **kwargs)
    with pytest.raises(ValueError, match=message):
        await store.list_messages_by_run("t1", "r1", **kwargs)


async def test_bad_list_events_args(store):
    with pytest.raises(ValueError, match="limit"):
        await store.list_events("t1", "r1", limit=0)
    with pytest.raises(ValueError, match="event_types"):
        await store.list_events("t1", "r1", event_types="tool")
    with pytest.raises(ValueError, match="event_types"):
        await store.list_events("t1", "r1", event_types=["tool", ""])
    with pytest.raises(ValueError, match="after_seq"):
        await store.list_events("t1", "r1", after_seq="1")


def _holding_itself():
    looped = {"a": []}
    looped["a"].append(looped)
    return looped


def _nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "extra",
    [
        {"content": object()},
        {"content": {1, 2}},
        {"content": math.nan},
        {"content": [math.inf]},
        {"metadata": {"x": object()}},
        {"metadata": {"x": math.nan}},
        {"metadata": ["not", "a", "mapping"]},
        {"metadata": {("tuple", "key"): 1}},
        {"content": _holding_itself()},
        {"metadata": {"deep": _nested(100_000)}},
        {"created_at": 12},
    ],
    ids=lambda extra: next(iter(extra)),
)
async def test_unserializable_rejected_and_nothing_written(store, extra):
    [field] = extra
    with pytest.raises(TypeError, match=field):
        await store.put(**event(**extra))
    with pytest.raises(TypeError, match=rf"events\[0\].*{field}"):
        await store.put_batch([event(**extra)])
    assert await store.count_messages("t1") == 0


@pytest.mark.parametrize("field", ["event_type", "category"])
async def test_empty_type_or_category_rejected(store, field):
    with pytest.raises(ValueError, match=field):
        await store.put(**{**event(), field: ""})


async def test_content_and_metadata_are_normalized_and_never_aliased(store):
    metadata = {"nested": {"list": (1, 2)}, 3: "int key", "flat": "x"}
    content = {"parts": ["a", ("b", "c")]}
    record = await store.put(**event(content=content, metadata=metadata))
    assert record["metadata"] == {"nested": {"list": [1, 2]}, "3": "int key", "flat": "x"}
    assert record["content"] == {"parts": ["a", ["b", "c"]]}
    metadata["flat"] = "changed"
    content["parts"].append("d")
    flat = {"task_id": "k", "n": 1.5, "ok": True, "none": None}
    second = await store.put(**event(metadata=flat))
    flat["task_id"] = "mutated"
    second["metadata"]["n"] = 99
    stored = await store.list_messages("t1")
    assert stored[0]["metadata"]["flat"] == "x"
    assert stored[0]["content"] == {"parts": ["a", ["b", "c"]]}
    assert stored[1]["metadata"] == {"task_id": "k", "n": 1.5, "ok": True, "none": None}
    assert [e["seq"] for e in await store.list_events("t1", "r1", task_id="k")] == [2]


async def test_cursors_next_to_messages_known_values(store):
    """Cursors and limits where every off-by-one changes the answer: seqs 1-8, all messages but 4."""
    for i in range(1, 9):
        await store.put(**event(run_id="a" if i % 2 else "b", category="trace" if i == 4 else "message"))
    seqs = lambda page: [m["seq"] for m in page]  # noqa: E731
    assert seqs(await store.list_messages("t1", limit=2, after_seq=2)) == [3, 5]
    assert seqs(await store.list_messages("t1", limit=3, after_seq=0)) == [1, 2, 3]
    assert seqs(await store.list_messages("t1", limit=2, before_seq=3)) == [1, 2]
    assert seqs(await store.list_messages("t1", limit=2, before_seq=6)) == [3, 5]
    assert seqs(await store.list_messages("t1", limit=3)) == [6, 7, 8]
    assert seqs(await store.list_messages("t1", limit=1, after_seq=7)) == [8]
    assert seqs(await store.list_messages("t1", limit=7)) == [1, 2, 3, 5, 6, 7, 8]
    assert seqs(await store.list_messages_by_run("t1", "a", limit=2, after_seq=3)) == [5, 7]
    assert seqs(await store.list_messages_by_run("t1", "a", limit=2, before_seq=5)) == [1, 3]
    assert seqs(await store.list_messages_by_run("t1", "b", limit=1)) == [8]
    assert seqs(await store.list_messages_by_run("t1", "b", after_seq=2)) == [6, 8]
    assert seqs(await store.list_events("t1", "b", after_seq=4)) == [6, 8]
    assert seqs(await store.list_events("t1", "b", after_seq=3, limit=1)) == [4]
    assert seqs(await store.list_events("t1", "b", limit=2)) == [2, 4]
    assert await store.count_messages("t1") == 7
