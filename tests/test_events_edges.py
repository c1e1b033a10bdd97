"""Contract edges the mutation run (``tox -e mutation``) found untested, checked on every store.

Each test pins a behaviour a surviving mutant changed without any test
noticing: which field an error names, the defaults of every writer, the page
sizes, that every read returns copies, and how datetimes become UTC text.
"""

from __future__ import annotations

import math
import os
import time
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

import pytest

from runlog.events import base
from tests.factories import event

# (call, error type, the message's start): the field must come first, as the
# README promises ("ValueError naming the field"), not merely appear.
BAD_CALLS = [
    (lambda s: s.put(**event(thread_id="a b")), ValueError, "thread_id must"),
    (lambda s: s.put(**event(run_id="a b")), ValueError, "run_id must"),
    (lambda s: s.put(**event(event_type="")), ValueError, "event_type must"),
    (lambda s: s.put(**event(category="")), ValueError, "category must"),
    (lambda s: s.put(**event(content=object())), TypeError, "content "),
    (lambda s: s.put(**event(metadata={"x": object()})), TypeError, "metadata "),
    (lambda s: s.put(**event(created_at="")), TypeError, "created_at must"),
    (lambda s: s.put_if_absent(**event(run_id="a b")), ValueError, "run_id must"),
    (lambda s: s.put_if_absent(**event(content=object())), TypeError, "content "),
    (lambda s: s.list_messages("a b"), ValueError, "thread_id must"),
    (lambda s: s.list_messages("t1", limit=0), ValueError, "limit must"),
    (lambda s: s.list_messages("t1", limit="5"), ValueError, "limit must"),
    (lambda s: s.list_events("t1", "r1", limit=True), ValueError, "limit must"),
    (lambda s: s.list_messages("t1", before_seq="3"), ValueError, "before_seq must"),
    (lambda s: s.list_messages("t1", after_seq="3"), ValueError, "after_seq must"),
    (lambda s: s.list_messages_by_run("a b", "r1"), ValueError, "thread_id must"),
    (lambda s: s.list_messages_by_run("t1", "a b"), ValueError, "run_id must"),
    (lambda s: s.list_messages_by_run("t1", "r1", before_seq=1.5), ValueError, "before_seq must"),
    (lambda s: s.list_messages_by_run("t1", "r1", after_seq=1.5), ValueError, "after_seq must"),
    (lambda s: s.list_events("a b", "r1"), ValueError, "thread_id must"),
    (lambda s: s.list_events("t1", "a b"), ValueError, "run_id must"),
    (lambda s: s.list_events("t1", "r1", limit=0), ValueError, "limit must"),
    (lambda s: s.list_events("t1", "r1", after_seq="1"), ValueError, "after_seq must"),
    (lambda s: s.list_events("t1", "r1", event_types=["tool", ""]), ValueError, "event_types item must"),
    (lambda s: s.count_messages("a b"), ValueError, "thread_id must"),
    (lambda s: s.delete_by_run("a b", "r1"), ValueError, "thread_id must"),
    (lambda s: s.delete_by_run("t1", "a b"), ValueError, "run_id must"),
    (lambda s: s.delete_by_thread("a b"), ValueError, "thread_id must"),
    (lambda s: s.put_batch([event(), event(run_id="a b")]), ValueError, r"events\[1\]: run_id must"),
]


@pytest.mark.parametrize(("call", "error", "start"), BAD_CALLS)
async def test_an_error_message_starts_with_the_field_it_is_about(store, call, error, start):
    with pytest.raises(error, match=rf"^{start}"):
        await call(store)
    assert await store.count_messages("t1") == 0


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.put(**event(metadata=["a"])), TypeError, "metadata must be a mapping or None, got list"),
        (lambda s: s.put_batch("text"), TypeError, "events must be a list of dicts, got str"),
        (lambda s: s.put_batch(["text"]), TypeError, r"events\[0\] must be a dict, got str"),
    ],
)
async def test_a_type_error_names_the_type_it_got(store, call, error, message):
    with pytest.raises(error, match=rf"^{message}$"):
        await call(store)


@pytest.mark.parametrize("method", ["list_messages", "list_messages_by_run"])
async def test_both_cursors_give_the_window_between_them(store, method):
    args = ("t1",) if method == "list_messages" else ("t1", "r1")
    for n in range(6):
        await store.put(**event(content=n))  # seqs 1..6, all messages of t1/r1
    page = getattr(store, method)
    assert [m["seq"] for m in await page(*args, after_seq=1, before_seq=6)] == [2, 3, 4, 5]
    assert [m["seq"] for m in await page(*args, after_seq=1, before_seq=6, limit=2)] == [
        2,
        3,
    ]  # the first ones
    assert [m["seq"] for m in await page(*args, after_seq=4, before_seq=99)] == [5, 6]
    assert [m["seq"] for m in await page(*args, after_seq=0, before_seq=2)] == [1]
    for empty in ((3, 4), (3, 3), (5, 2)):  # no seq strictly between: an empty page, not an error
        assert await page(*args, after_seq=empty[0], before_seq=empty[1]) == []


async def test_batch_and_put_if_absent_defaults(store):
    [batched] = await store.put_batch([event(run_id="b")])
    assert (batched["content"], batched["metadata"]) == ("", {})
    record, created = await store.put_if_absent(**event(run_id="p"))
    assert created and (record["content"], record["metadata"]) == ("", {})
    assert [(m["run_id"], m["content"]) for m in await store.list_messages("t1")] == [("b", ""), ("p", "")]


async def test_put_if_absent_stores_what_it_is_given(store):
    given = {
        "content": {"text": "hi"},
        "metadata": {"task_id": "k"},
        "created_at": "2026-02-03T04:05:06+00:00",
    }
    record, created = await store.put_if_absent(**event(**given))
    assert created
    assert {key: record[key] for key in given} == given
    [stored] = await store.list_events("t1", "r1", task_id="k")
    assert {key: stored[key] for key in given} == given


async def test_a_batch_event_may_carry_every_field(store):
    full = event(content=[1], metadata={"m": 1}, created_at="2026-01-01T00:00:00+00:00")
    assert sorted(full) == sorted(
        ["thread_id", "run_id", "event_type", "category", "content", "metadata", "created_at"]
    )
    [record] = await store.put_batch([full])
    assert record == {**full, "seq": 1}


async def test_default_page_sizes(store):
    await store.put_batch([event(content=i) for i in range(501)])
    assert [m["seq"] for m in await store.list_messages("t1")] == list(range(452, 502))
    assert [m["seq"] for m in await store.list_messages_by_run("t1", "r1")] == list(range(452, 502))
    assert [e["seq"] for e in await store.list_events("t1", "r1")] == list(range(1, 501))


async def test_every_read_returns_copies(store):
    await store.put(**event(event_type="start", metadata={"a": [1]}))
    reads = [
        lambda: store.list_messages("t1"),
        lambda: store.list_messages_by_run("t1", "r1"),
        lambda: store.list_events("t1", "r1"),
    ]
    for read in reads:
        [record] = await read()
        record["metadata"]["a"].append(2)
    existing, created = await store.put_if_absent(**event(event_type="start"))
    assert not created
    existing["metadata"]["a"].append(3)
    for read in reads:
        assert [r["metadata"] for r in await read()] == [{"a": [1]}]


@pytest.fixture
def far_from_utc():
    """The process's local time zone set to UTC+05:30, so local time and UTC differ."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset (setting the local zone) is POSIX only")
@pytest.mark.usefixtures("far_from_utc")
async def test_datetimes_are_stored_as_utc_whatever_the_local_zone(store):
    naive = await store.put(**event(created_at=datetime(2026, 1, 1, 12, 0)))
    assert naive["created_at"] == "2026-01-01T12:00:00+00:00"
    plus_two = timezone(timedelta(hours=2))
    aware = await store.put(**event(created_at=datetime(2026, 1, 1, 14, 30, tzinfo=plus_two)))
    assert aware["created_at"] == "2026-01-01T12:30:00+00:00"
    default = await store.put(**event())
    assert default["created_at"].endswith("+00:00")
    assert [m["created_at"] for m in await store.list_messages("t1", limit=2)] == [
        "2026-01-01T12:30:00+00:00",
        default["created_at"],
    ]


async def test_metadata_is_normalized_whatever_its_keys_and_values(store):
    nested = {"inner": {"pair": (1, 2)}}
    record = await store.put(**event(metadata=nested))
    assert record["metadata"] == {"inner": {"pair": [1, 2]}}
    nested["inner"]["pair"] = "changed"
    int_keys = await store.put(**event(metadata={3: "three", 4: "four"}))
    assert int_keys["metadata"] == {"3": "three", "4": "four"}
    stored = [m["metadata"] for m in await store.list_messages("t1")]
    assert stored == [{"inner": {"pair": [1, 2]}}, {"3": "three", "4": "four"}]
    # Keys keep the order they were given in, at every depth.
    ordered = await store.put(**event(content={"z": 1, "a": {"y": 2, "b": 3}}, metadata={"z": 1, "a": 2}))
    [again] = await store.list_messages("t1", after_seq=ordered["seq"] - 1)
    for record in (ordered, again):
        assert list(record["metadata"]) == ["z", "a"]
        assert list(record["content"]) == ["z", "a"] and list(record["content"]["a"]) == ["y", "b"]


async def test_delete_by_run_keeps_every_other_record_intact(store):
    for run_id, content in [("a", "one"), ("b", "gone"), ("a", "two"), ("c", "three"), ("b", "gone too")]:
        await store.put(**event(run_id=run_id, content=content))
    assert await store.delete_by_run("t1", "b") == 2
    assert [(m["seq"], m["content"]) for m in await store.list_messages("t1")] == [
        (1, "one"),
        (3, "two"),
        (4, "three"),
    ]
    assert (await store.put(**event(content="next")))["seq"] == 6


async def test_metadata_may_be_any_mapping(store):
    frozen = MappingProxyType({"task_id": "k", "n": 1})
    record = await store.put(**event(metadata=frozen))
    assert record["metadata"] == {"task_id": "k", "n": 1}
    [batched] = await store.put_batch([event(metadata=MappingProxyType({"nested": {"a": 1}}))])
    assert batched["metadata"] == {"nested": {"a": 1}}
    assert [e["seq"] for e in await store.list_events("t1", "r1", task_id="k")] == [1]


async def test_put_if_absent_looks_only_at_its_own_thread_run_and_type(store):
    await store.put(**event(thread_id="t2", event_type="start"))  # same run and type, other thread
    await store.put(**event(event_type="user"))  # same thread and run, other type
    await store.put(**event(run_id="r2", event_type="start"))  # same thread and type, other run
    record, created = await store.put_if_absent(**event(event_type="start", content="mine"))
    assert created and (record["thread_id"], record["seq"], record["content"]) == ("t1", 3, "mine")


async def test_put_if_absent_answers_with_the_first_of_several(store):
    # put may repeat a (run, type) pair; put_if_absent then returns the earliest.
    first = await store.put(**event(event_type="start", content="first"))
    await store.put(**event(event_type="start", content="second"))
    found, created = await store.put_if_absent(**event(event_type="start", content="third"))
    assert not created and found == first


async def test_deletes_touch_only_their_thread_and_count_what_they_removed(store):
    await store.put_batch([event(), event(), event(run_id="r2")])
    await store.put_batch([event(thread_id="t2"), event(thread_id="t2", run_id="r2")])
    assert await store.delete_by_run("t1", "r1") == 2
    assert await store.delete_by_run("t1", "r1") == 0
    assert [(e["thread_id"], e["seq"]) for e in await store.list_events("t2", "r1")] == [("t2", 1)]
    assert await store.delete_by_thread("t1") == 1
    assert await store.delete_by_thread("t1") == 0
    assert await store.count_messages("t2") == 2


def test_the_encoder_made_once_writes_what_the_store_encoder_writes():
    """``build_event`` encodes content and metadata with a C encoder made at import, with
    ``base.ENCODER``'s settings: the same text, and the same refusals, for any value."""
    chunks = base._chunks_encoder()
    assert chunks is not None  # CPython has the C part of json
    values = [
        {"z": 1, "a": [1, 2.5, None, True, False, -0.0, 1e300]},  # key order kept, compact separators
        "\u00e9 \u2028 \ud800",  # escaped to ASCII, lone surrogate included
        {"k": {"nested": (1, 2)}, 3: "int key"},
        [],
        {},
    ]
    for value in values:
        assert "".join(chunks(value, 0)) == base.ENCODER.encode(value)
    with pytest.raises(ValueError, match="Out of range float"):
        "".join(chunks({"x": math.nan}, 0))
    with pytest.raises(TypeError, match="keys must be"):
        "".join(chunks({("tuple",): 1}, 0))  # not skipped
    with pytest.raises(TypeError, match="not JSON serializable"):
        "".join(chunks({"x": object()}, 0))
