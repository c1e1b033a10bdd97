"""What a store may keep (issue 27): nothing it accepts poisons a later read, nothing it refuses is half-written.

One rule, in ``runlog.events.base`` (the memory model has its own code for it),
for every store and every write path, and for the filter and cursors of reads:

* content and metadata hold no lone surrogate (a pair is the character it
  encodes, returned as that character by the write and by every read);
* event_type, category, created_at and the event_types filter hold no NUL
  and no surrogate code point;
* a cursor is a 64-bit integer: outside it, ValueError (SQL would fail on it).

Then the same over HTTP, on every store: one 422 in words before anything is
written, and every later page answers 200; a record the answer cannot carry
(stored before the rule) is a 500 in words, never a 422 quoting the serializer.
"""

from __future__ import annotations

import contextlib
import json

import httpx
import pytest
from tests_blocking.anchors.stores import StoreUnderTest, kind_params

from runlog.events import base
from runlog.gateway import Settings, create_app
from tests.factories import event

LONE = ["\ud800", "a\udfffb", "\ud83d", "x\ud800\ud800"]  # high, low, high at the end, two highs
TEXT_FIELDS = ["event_type", "category", "created_at"]
BAD_TEXT = ["a\x00b", "\x00", "a\ud800", "\udc00"]
MAX_SEQ = 2**63 - 1


def writes(store, **fields):
    """The three write paths, each given one event with ``fields``."""
    return {
        "put": lambda: store.put(**event(**fields)),
        "put_batch": lambda: store.put_batch([event(content="ok"), event(**fields)]),
        "put_if_absent": lambda: store.put_if_absent(**event(**{"event_type": "once", **fields})),
    }


@pytest.mark.parametrize("lone", LONE)
async def test_a_lone_surrogate_in_content_or_metadata_is_refused_by_every_path(store, lone):
    values = {
        "content": [lone, {"k": [lone]}],
        "metadata": [{"k": lone}, {lone: 1}, {"k": {"deeper": [lone]}}],
    }
    for field, cases in values.items():
        for value in cases:
            for path, write in writes(store, **{field: value}).items():
                with pytest.raises(TypeError, match=rf"{field} holds a lone surrogate"):
                    await write()
                assert await store.count_messages("t1") == 0, (path, field, value)


async def test_a_surrogate_pair_is_the_character_it_encodes_on_write_and_read(store):
    pair = "\ud83d\ude00"  # two code points in a Python str; in JSON, one character
    single = await store.put(**event(content=pair, metadata={"k": pair}))
    [batched] = await store.put_batch([event(content={"a": pair})])
    assert (single["content"], single["metadata"], batched["content"]) == (
        "\U0001f600",
        {"k": "\U0001f600"},
        {"a": "\U0001f600"},
    )
    assert [e["content"] for e in await store.list_events("t1", "r1")] == ["\U0001f600", {"a": "\U0001f600"}]


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("bad", BAD_TEXT)
async def test_a_nul_or_a_surrogate_in_a_text_field_is_refused_by_every_path(store, field, bad):
    for path, write in writes(store, **{field: bad}).items():
        with pytest.raises(ValueError, match=rf"{field} must not hold a NUL character or a surrogate"):
            await write()
        assert await store.count_messages("t1") == 0, path


@pytest.mark.parametrize("bad", BAD_TEXT)
async def test_a_nul_or_a_surrogate_in_the_event_types_filter_is_refused(store, bad):
    await store.put(**event(event_type="a"))
    with pytest.raises(ValueError, match="event_types item must not hold"):
        await store.list_events("t1", "r1", event_types=["a", bad])


@pytest.mark.parametrize("cursor", [MAX_SEQ + 1, 2**64, -(2**63) - 1, 10**30])
async def test_a_cursor_outside_64_bits_is_refused_by_every_store(store, cursor):
    await store.put(**event())
    reads = {
        "list_messages after": store.list_messages("t1", after_seq=cursor),
        "list_messages before": store.list_messages("t1", before_seq=cursor),
        "list_messages_by_run after": store.list_messages_by_run("t1", "r1", after_seq=cursor),
        "list_messages_by_run before": store.list_messages_by_run("t1", "r1", before_seq=cursor),
        "list_events after": store.list_events("t1", "r1", after_seq=cursor),
    }
    for name, read in reads.items():
        with pytest.raises(
            ValueError, match=r"_seq must be between -9223372036854775808 and 9223372036854775807"
        ):
            await read
        assert name


async def test_the_64_bit_bounds_themselves_are_cursors(store):
    record = await store.put(**event())
    assert await store.list_messages("t1", after_seq=MAX_SEQ) == []
    assert await store.list_messages("t1", before_seq=MAX_SEQ) == [record]
    assert await store.list_messages("t1", after_seq=-(2**63)) == [record]
    assert await store.list_events("t1", "r1", after_seq=MAX_SEQ, limit=2**80) == []


def test_lone_surrogate_reads_escapes_as_json_does():
    escape = base.ENCODER.encode
    assert base.lone_surrogate(escape("\U0001f600 \u00e9")) is None
    assert base.lone_surrogate(escape("\\ud800")) is None  # a backslash, then the text "ud800"
    assert base.lone_surrogate(escape("\\\ud800")) == 3  # a backslash, then a lone surrogate
    assert base.lone_surrogate(escape("\ud800x\udc00")) == 1  # not adjacent: not a pair
    assert base.lone_surrogate(escape(["\ud83d", "\ude00"])) == 2  # two strings: two halves


# -- over HTTP, every store ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(kind, tmp_path):
    storage = None if kind == "memory" else StoreUnderTest(kind, tmp_path)
    url = "memory:" if storage is None else storage.url
    if storage is not None and kind == "postgresql":
        await (await storage.open()).count_messages("t0")  # creates the test's schema
    app = create_app(Settings(data_dir=tmp_path / "data", events_url=url, skills_dir=tmp_path / "none"))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
                yield client
    finally:
        if storage is not None:
            await storage.close()


HTTP_KINDS = [*kind_params(), "memory"]


def body(**fields):
    return {"event_type": "e", "category": "message", **fields}


def raw(value: object) -> str:
    """JSON text as a client writes it: a lone surrogate as its escape (ensure_ascii)."""
    return json.dumps(value, ensure_ascii=True)


async def pages_answer(client, thread="t1"):
    """Every read of the thread answers 200 (no record it holds poisons a page)."""
    routes = [
        f"/threads/{thread}/messages",
        f"/threads/{thread}/runs/r1/events",
        f"/threads/{thread}/runs/r1/messages",
    ]
    return [(await client.get(route)).status_code for route in routes]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_a_lone_surrogate_is_one_422_in_words_and_no_page_is_poisoned(kind, tmp_path):
    headers = {"content-type": "application/json"}
    async with serving(kind, tmp_path) as client:
        await client.post("/threads/t1/runs/r1/events", json=body(content="fine"))
        for content in ["\ud800", {"k": ["\udfff"]}]:
            answers = [
                await client.post(
                    "/threads/t1/runs/r1/events", content=raw(body(content=content)), headers=headers
                ),
                await client.post(
                    "/events/batch",
                    content=raw([body(thread_id="t1", run_id="r1", content=content)]),
                    headers=headers,
                ),
                await client.put(
                    "/threads/t1/runs/r1/events/once",
                    content=raw({"category": "message", "content": content}),
                    headers=headers,
                ),
                await client.post(
                    "/threads/t1/runs/r1/events", content=raw(body(metadata={"k": content})), headers=headers
                ),
            ]
            assert [a.status_code for a in answers] == [422] * 4
            for answer in answers:
                assert "holds a lone surrogate" in answer.json()["detail"]
                assert "serializ" not in answer.text
        assert (await client.get("/threads/t1/messages/count")).json() == {"count": 1}
        assert await pages_answer(client) == [200, 200, 200]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_a_nul_in_a_text_field_or_the_filter_is_one_422(kind, tmp_path):
    async with serving(kind, tmp_path) as client:
        answers = [
            await client.post("/threads/t1/runs/r1/events", json=body(event_type="a\x00")),
            await client.post("/threads/t1/runs/r1/events", json=body(category="message\x00")),
            await client.post("/threads/t1/runs/r1/events", json=body(created_at="2026\x00")),
            await client.post("/events/batch", json=[body(thread_id="t1", run_id="r1", event_type="\x00")]),
            await client.put("/threads/t1/runs/r1/events/once", json={"category": "\x00"}),
            await client.get("/threads/t1/runs/r1/events", params={"event_types": ["e", "e\x00"]}),
        ]
        assert [a.status_code for a in answers] == [422] * 6
        assert all("must not hold a NUL character" in a.json()["detail"] for a in answers)
        assert (await client.get("/threads/t1/messages/count")).json() == {"count": 0}
        assert await pages_answer(client) == [200, 200, 200]


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_a_cursor_above_2_63_minus_1_is_422_on_every_route(kind, tmp_path):
    async with serving(kind, tmp_path) as client:
        await client.post("/threads/t1/runs/r1/events", json=body())
        routes = [
            "/threads/t1/messages?after_seq={}",
            "/threads/t1/messages?before_seq={}",
            "/threads/t1/runs/r1/messages?after_seq={}",
            "/threads/t1/runs/r1/messages?before_seq={}",
            "/threads/t1/runs/r1/events?after_seq={}",
        ]
        for route in routes:
            above = await client.get(route.format(MAX_SEQ + 1))
            assert above.status_code == 422, route
            assert above.json()["detail"].endswith("less than or equal to 9223372036854775807"), route
            assert (await client.get(route.format(MAX_SEQ))).status_code == 200, route


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_http_the_deepest_content_a_store_keeps_is_returned_and_256_levels_are_one_422(kind, tmp_path):
    def nested(levels):
        value: object = "leaf"
        for level in range(levels):
            value = [value] if level % 2 else {"k": value}
        return value

    async with serving(kind, tmp_path) as client:
        deepest = nested(base.MAX_NESTING)
        single = await client.post("/threads/t1/runs/r1/events", json=body(content=deepest))
        batch = await client.post(
            "/events/batch", json=[body(thread_id="t1", run_id="r1", metadata={"k": nested(99)})]
        )
        assert (single.status_code, batch.status_code) == (201, 201)
        for too_deep in (nested(base.MAX_NESTING + 1), nested(256)):
            refused = await client.post("/threads/t1/runs/r1/events", json=body(content=too_deep))
            assert refused.status_code == 422
            assert f"more than {base.MAX_NESTING} levels" in refused.json()["detail"]
        page = await client.get("/threads/t1/messages")
        assert page.status_code == 200 and [e["content"] for e in page.json()] == [deepest, ""]


async def test_http_a_record_the_answer_cannot_carry_is_a_500_in_words_not_a_422(tmp_path):
    """A JSONL line with a lone surrogate, written before the rule: the page is the server's
    failure, said plainly; the serializer's message stays in the log."""
    async with serving("jsonl", tmp_path) as client:
        await client.post("/threads/t1/runs/r1/events", json=body())
        line = '{"thread_id":"t1","run_id":"r1","seq":2,"event_type":"e","category":"message",'
        line += '"content":"\\ud800","metadata":{},"created_at":"2026-12-06T10:00:00+00:00"}\n'
        with (tmp_path / "events" / "threads" / "t1.jsonl").open("a") as f:
            f.write(line)
        answer = await client.get("/threads/t1/messages")
        assert answer.status_code == 500
        assert answer.json() == {
            "detail": "the answer could not be written as JSON (the server's log says why)"
        }


async def test_http_422_bodies_say_what_was_wrong_in_the_requests_terms(tmp_path):
    """pydantic's wording of its own workings ("JSON decode error" at a bare index, "unable to
    parse raw data as a unicode string") is said in the request's terms."""
    headers = {"content-type": "application/json"}
    async with serving("memory", tmp_path) as client:
        not_json = await client.post("/threads/t1/runs/r1/events", content=b"{nope", headers=headers)
        lone_type = await client.post(
            "/threads/t1/runs/r1/events", content=raw(body(event_type="\ud800")), headers=headers
        )
        lone_in_batch = await client.post(
            "/events/batch",
            content=raw([body(thread_id="t1", run_id="r1", category="\udc00")]),
            headers=headers,
        )
    assert [a.status_code for a in (not_json, lone_type, lone_in_batch)] == [422] * 3
    assert not_json.json() == {
        "detail": "body: not valid JSON at character 1: Expecting property name enclosed in double quotes"
    }
    lone = "holds a lone surrogate (U+D800-U+DFFF), which no UTF-8 text can carry"
    assert lone_type.json() == {"detail": f"body.event_type: {lone}"}
    assert lone_in_batch.json() == {"detail": f"body.0.category: {lone}"}
