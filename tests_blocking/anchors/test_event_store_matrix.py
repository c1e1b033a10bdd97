"""Anchors: every public async method of every store, cell by cell, under the gate.

One test function per store method, named after it and parametrized with
its cells (``matrix.cells``), so node ids read ``method[store-scenario-call]``,
e.g. ``list_messages[sqlite-run_deleted-before_seq]``; ``setup.cfg``'s
``python_functions`` lets pytest collect them by name. Each cell compares the
store with MemoryRunEventStore (results, then full state, then the next seq),
so a cell fails on a wrong answer as well as on a blocking call.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest

from runlog.events import JsonlRunEventStore, MemoryRunEventStore, SqlRunEventStore
from tests_blocking.anchors import matrix
from tests_blocking.anchors.stores import KINDS, StoreUnderTest, kind_params

KIND_PARAMS = kind_params()
CELL_ARGS = ("kind", "scenario", "call")


async def check_cell(kind: str, scenario: matrix.Scenario, call: matrix.Call, tmp_path) -> None:
    storage = StoreUnderTest(kind, tmp_path)
    try:
        store, memory = await matrix.build(scenario, storage)
        expected = await call.run(memory)
        assert await call.run(store) == expected
        assert await matrix.snapshot(store) == await matrix.snapshot(memory)
        follow = matrix.ev("t1", "r1", "after", "message", 50)
        assert await store.put(**follow) == await memory.put(**follow)
    finally:
        await storage.close()


@pytest.mark.parametrize(CELL_ARGS, matrix.cells("put", KIND_PARAMS))
async def put(kind, scenario, call, tmp_path):
    await check_cell(kind, scenario, call, tmp_path)


@pytest.mark.parametrize(CELL_ARGS, matrix.cells("put_batch", KIND_PARAMS))
async def put_batch(kind, scenario, call, tmp_path):
    await check_cell(kind, scenario, call, tmp_path)


@pytest.mark.parametrize(CELL_ARGS, matrix.cells("put_if_absent", KIND_PARAMS))
async def put_if_absent(kind, scenario, call, tmp_path):
    await check_cell(kind, scenario, call, tmp_path)


@pytest.mark.parametrize(CELL_ARGS, matrix.cells("list_messages", KIND_PARAMS))
async def list_messages(kind, scenario, call, tmp_path):
    await check_cell(kind, scenario, call, tmp_path)


@pytest.mark.parametrize(CELL_ARGS, matrix.cells("list_events", KIND_PARAMS))
async def list_events(kind, scenario, call, tmp_path):
    await check_cell(kind, scenario, call, tmp_path)


@pytest.mark.parametrize(CELL_ARGS, matrix.cells("list_messages_by_run", KIND_PARAMS))
async def list_messages_by_run(kind, scenario, call, tmp_path):
    await check_cell(kind, scenario, call, tmp_path)


@pytest.mark.parametrize(CELL_ARGS, matrix.cells("count_messages", KIND_PARAMS))
async def count_messages(kind, scenario, call, tmp_path):
    await check_cell(kind, scenario, call, tmp_path)


@pytest.mark.parametrize(CELL_ARGS, matrix.cells("delete_by_run", KIND_PARAMS))
async def delete_by_run(kind, scenario, call, tmp_path):
    await check_cell(kind, scenario, call, tmp_path)


@pytest.mark.parametrize(CELL_ARGS, matrix.cells("delete_by_thread", KIND_PARAMS))
async def delete_by_thread(kind, scenario, call, tmp_path):
    await check_cell(kind, scenario, call, tmp_path)


# Lifecycle methods of a store, not of the contract: anchored in test_sql_store.py.
LIFECYCLE = {SqlRunEventStore: {"close"}}


@pytest.mark.parametrize("store_class", [JsonlRunEventStore, SqlRunEventStore, MemoryRunEventStore])
def test_every_public_async_method_has_cells(store_class):
    public = {
        name
        for name, member in inspect.getmembers(store_class)
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }
    assert public, "introspection found no async method"
    contract = public - LIFECYCLE.get(store_class, set())
    assert contract == set(matrix.METHODS), f"methods without cells: {sorted(contract - set(matrix.METHODS))}"
    module = globals()
    for method in matrix.METHODS:
        assert inspect.iscoroutinefunction(module.get(method)), f"no anchor function named {method}"
        cells = matrix.cells(method, kind_params())
        for kind in KINDS:
            scenarios = {p.values[1].name for p in cells if p.values[0] == kind}
            expected = {s.name for s in matrix.SCENARIOS if kind == "jsonl" or not s.jsonl_only}
            assert scenarios == expected, (method, kind)


@pytest.mark.parametrize("kind", KIND_PARAMS)
async def test_concurrent_mixed_reads_and_writes(kind, tmp_path):
    scenario = next(s for s in matrix.SCENARIOS if s.name == "multi_run_thread")
    storage = StoreUnderTest(kind, tmp_path)
    try:
        store, _ = await matrix.build(scenario, storage)
        await _mixed_reads_and_writes(store, scenario)
    finally:
        await storage.close()


async def _mixed_reads_and_writes(store, scenario: matrix.Scenario) -> None:
    writes = [store.put(**matrix.ev("t1", f"r{i % 3 + 1}", "user", "message", 60 + i)) for i in range(16)]
    writes.append(store.put_batch([matrix.ev("t1", "new", "tool", "trace", 80 + i) for i in range(4)]))
    reads = [
        read
        for _ in range(5)
        for read in (
            store.list_messages("t1", limit=5),
            store.list_events("t1", "r1"),
            store.list_messages_by_run("t1", "r2"),
            store.count_messages("t1"),
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
    seeded = [step[1] for step in scenario.steps]
    before = sum(1 for e in seeded if e["thread_id"] == "t1")
    assert sorted(r["seq"] for r in written) == list(range(before + 1, before + 21))

    # The oracle: the seed, then the writes in the order of the seqs they got.
    memory = MemoryRunEventStore()
    for event in seeded:
        await memory.put(**event)
    for record in sorted(written, key=lambda r: r["seq"]):
        fields = {k: v for k, v in record.items() if k != "seq"}
        assert await memory.put(**fields) == record
    final = await matrix.snapshot(store)
    assert final == await matrix.snapshot(memory)

    all_seqs = {e["seq"] for run in final["t1"]["runs"].values() for e in run}
    seeded_messages = sum(1 for e in seeded if e["thread_id"] == "t1" and e["category"] == "message")
    for result in read_results:
        if isinstance(result, list):
            assert [e["seq"] for e in result] == sorted(e["seq"] for e in result)
            assert {e["seq"] for e in result} <= all_seqs
        elif isinstance(result, int):
            assert seeded_messages <= result <= final["t1"]["count"]
