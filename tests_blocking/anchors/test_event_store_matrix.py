"""Anchors: every public async method of JsonlRunEventStore, cell by cell, under the gate.

Node ids read ``method[scenario-variant]``: the conftest collects the
generated functions by the store method they drive. Each cell compares the
JSONL store with MemoryRunEventStore (results, then full state, then the next
seq), so a cell fails on a wrong answer as well as on a blocking call.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest

from runlog.events import JsonlRunEventStore, MemoryRunEventStore
from tests_blocking.anchors import matrix


def _anchor_for(method: str):
    @pytest.mark.parametrize("pair", matrix.cells_for(method), ids=matrix.cell_id)
    async def anchor(pair, tmp_path):
        scenario, cell = pair
        jsonl, memory = await matrix.build(scenario, tmp_path / "events")
        expected = await cell.call(memory)
        assert await cell.call(jsonl) == expected
        assert await matrix.snapshot(jsonl) == await matrix.snapshot(memory)
        follow = matrix.ev("t1", "r1", "after", "message", 50)
        assert await jsonl.put(**follow) == await memory.put(**follow)

    anchor.matrix_method = method
    anchor.__name__ = anchor.__qualname__ = method
    return anchor


for _method in matrix.METHODS:
    globals()[_method] = _anchor_for(_method)


def test_every_public_async_method_has_cells():
    public = {
        name
        for name, member in inspect.getmembers(JsonlRunEventStore)
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }
    assert public, "introspection found no async method"
    assert public == set(matrix.METHODS), f"methods without cells: {sorted(public - set(matrix.METHODS))}"
    for method in public:
        scenarios = {scenario.name for scenario, _ in matrix.cells_for(method)}
        assert scenarios == {s.name for s in matrix.SCENARIOS}, method


async def test_concurrent_mixed_reads_and_writes(tmp_path):
    scenario = next(s for s in matrix.SCENARIOS if s.name == "multi_run_thread")
    jsonl, _ = await matrix.build(scenario, tmp_path / "events")
    writes = [jsonl.put(**matrix.ev("t1", f"r{i % 3 + 1}", "user", "message", 60 + i)) for i in range(16)]
    writes.append(jsonl.put_batch([matrix.ev("t1", "new", "tool", "trace", 80 + i) for i in range(4)]))
    reads = [
        read
        for _ in range(5)
        for read in (
            jsonl.list_messages("t1", limit=5),
            jsonl.list_events("t1", "r1"),
            jsonl.list_messages_by_run("t1", "r2"),
            jsonl.count_messages("t1"),
        )
    ]
    assert len(reads) >= len(writes)
    interleaved = [op for pair in zip(writes, reads[: len(writes)], strict=True) for op in pair] + reads[
        len(writes) :
    ]
    results = await asyncio.gather(*interleaved)
    write_results = results[0 : 2 * len(writes) : 2]
    read_results = results[1 : 2 * len(writes) : 2] + results[2 * len(writes) :]

    written = []
    for result in write_results:
        written.extend(result if isinstance(result, list) else [result])
    before = sum(1 for e in scenario.seed if e["thread_id"] == "t1")
    assert sorted(r["seq"] for r in written) == list(range(before + 1, before + 21))

    # The oracle: the seed, then the writes in the order of the seqs they got.
    memory = MemoryRunEventStore()
    for event in scenario.seed:
        await memory.put(**event)
    for record in sorted(written, key=lambda r: r["seq"]):
        fields = {k: v for k, v in record.items() if k != "seq"}
        assert await memory.put(**fields) == record
    final = await matrix.snapshot(jsonl)
    assert final == await matrix.snapshot(memory)

    all_seqs = {e["seq"] for run in final["t1"]["runs"].values() for e in run}
    for result in read_results:
        if isinstance(result, list):
            assert [e["seq"] for e in result] == sorted(e["seq"] for e in result)
            assert {e["seq"] for e in result} <= all_seqs
        elif isinstance(result, int):
            assert 6 <= result <= final["t1"]["count"]
