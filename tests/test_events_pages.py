"""Known pages of the matrix's seed, on every store (the reference model included).

The matrix compares stores with MemoryRunEventStore; these pin the answers
themselves, so a bug shared by a store and the oracle cannot hide. Each
cursor is a seq of the listed kind whose neighbour is one too, and each limit
cuts a longer list: an off-by-one anywhere changes the answer.
"""

from __future__ import annotations

import pytest
from tests_blocking.anchors import matrix

# (call, expected seqs): thread t1's messages are 2 5 6 7 9 10 11; run r1's 2 6 10 11;
# run r2's events 4 5 8 9; task k2 in r1 at 6 11 12.
PAGES = [
    (lambda s: s.list_messages("t1", limit=3), [9, 10, 11]),
    (lambda s: s.list_messages("t1", limit=2, before_seq=7), [5, 6]),
    (lambda s: s.list_messages("t1", limit=2, before_seq=5), [2]),
    (lambda s: s.list_messages("t1", limit=2, after_seq=5), [6, 7]),
    (lambda s: s.list_messages("t1", limit=3, after_seq=9), [10, 11]),
    (lambda s: s.list_messages("t1", limit=2, after_seq=5, before_seq=10), [6, 7]),
    (lambda s: s.list_messages("t1", after_seq=5, before_seq=10), [6, 7, 9]),
    (lambda s: s.list_messages("t1", after_seq=7, before_seq=9), []),
    (lambda s: s.list_messages_by_run("t1", "r1", limit=3), [6, 10, 11]),
    (lambda s: s.list_messages_by_run("t1", "r1", limit=1, before_seq=11), [10]),
    (lambda s: s.list_messages_by_run("t1", "r1", limit=1, after_seq=10), [11]),
    (lambda s: s.list_messages_by_run("t1", "r1", after_seq=2, before_seq=11), [6, 10]),
    (lambda s: s.list_events("t1", "r2", after_seq=4, limit=2), [5, 8]),
    (lambda s: s.list_events("t1", "r2", event_types=["tool", "start"]), [4, 8]),
    (lambda s: s.list_events("t1", "r1", task_id="k2", limit=2), [6, 11]),
    (lambda s: s.list_events("t1", "r1", task_id="k2", after_seq=6), [11, 12]),
]


@pytest.mark.parametrize(("call", "expected"), PAGES, ids=[f"page{i}" for i in range(len(PAGES))])
async def test_known_pages_of_the_seed(store, call, expected):
    for event in matrix.SEED:
        await store.put(**event)
    assert [record["seq"] for record in await call(store)] == expected
    assert await store.count_messages("t1") == 7


async def test_seq_after_runs_and_thread_deleted(store):
    for event in matrix.SEED:
        await store.put(**event)
    for run_id in ("r1", "r2", "r3"):
        await store.delete_by_run("t1", run_id)
    assert (await store.put(**matrix.ev("t1", "r1", "user", "message", 1)))["seq"] == 13  # never max(seq) + 1
    assert await store.delete_by_thread("t1") == 1
    assert (await store.put(**matrix.ev("t1", "r1", "user", "message", 2)))[
        "seq"
    ] == 1  # the thread starts over
