"""The event-store anchor matrix: scenarios x calls, with a differential oracle.

A *scenario* seeds a JSONL store (on real files) and a ``MemoryRunEventStore``
with the same events, and may damage the JSONL files the way crashes do
(malformed lines, a torn last line), which the memory store never sees. A
*call* is one invocation of a public async method. Each cell runs its call on
both stores and requires equal results, then equal state (every thread's
messages and every run's events) afterwards: the memory store is the reference
model of the contract.

Cells are generated: every call of a method runs in every scenario, so adding
a scenario or a call grows the matrix for all methods at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlog.events import JsonlRunEventStore, MemoryRunEventStore, RunEventStore

T0 = "2026-01-01T00:00:{:02d}+00:00"
THREADS = ("t1", "t2", "fresh", "ghost")
RUNS = ("r1", "r2", "r3", "new", "ghost")


def ev(thread_id: str, run_id: str, event_type: str, category: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "run_id": run_id,
        "event_type": event_type,
        "category": category,
        "content": f"{event_type} #{n} \u2028 \u00e9",
        "created_at": T0.format(n % 60),
        **extra,
    }


# -- scenarios -------------------------------------------------------------------

SEED = [
    ev("t1", "r1", "start", "lifecycle", 1),
    ev("t1", "r1", "user", "message", 2),
    ev("t1", "r1", "tool", "trace", 3, metadata={"task_id": "k1"}),
    ev("t1", "r2", "start", "lifecycle", 4),
    ev("t1", "r2", "assistant", "message", 5, metadata={"task_id": "k1"}),
    ev("t1", "r1", "assistant", "message", 6, metadata={"task_id": "k2"}),
    ev("t1", "r3", "user", "message", 7),
    ev("t1", "r2", "tool", "trace", 8, metadata={"task_id": "k2"}),
    ev("t1", "r2", "user", "message", 9),
    ev("t2", "r1", "user", "message", 10),
]


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: list[dict[str, Any]]
    reopen: bool = False  # the JSONL store under test is a new instance on the same files
    damage: Callable[[Path], None] | None = None  # applied to the JSONL base dir after seeding


def _malformed_and_torn(base_dir: Path) -> None:
    path = base_dir / "threads" / "t1.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(3, "{this is not json\n")
    lines.insert(6, json.dumps({"unexpected": "shape"}) + "\n")
    lines.append('{"thread_id": "t1", "run_id": "r1", "seq": 99, "eve')  # torn by a crash
    path.write_text("".join(lines))


SCENARIOS = [
    Scenario("empty", []),
    Scenario("multi_run_thread", SEED),
    Scenario("seeded_by_earlier_instance", SEED, reopen=True),
    Scenario("malformed_and_torn_lines", SEED, reopen=True, damage=_malformed_and_torn),
]


async def _seed(store: RunEventStore, events: list[dict[str, Any]]) -> None:
    for event in events:
        await store.put(**event)


async def build(scenario: Scenario, base_dir: Path) -> tuple[JsonlRunEventStore, MemoryRunEventStore]:
    """Seed both stores; return the JSONL store to test (reopened if the scenario says so)."""
    jsonl = JsonlRunEventStore(base_dir)
    memory = MemoryRunEventStore()
    await _seed(jsonl, scenario.seed)
    await _seed(memory, scenario.seed)
    if scenario.damage is not None:
        await asyncio.to_thread(scenario.damage, base_dir)
    if scenario.reopen:
        jsonl = JsonlRunEventStore(base_dir)
    return jsonl, memory


async def snapshot(store: RunEventStore) -> dict[str, Any]:
    """Everything observable through the API for the ids the matrix uses."""
    state: dict[str, Any] = {}
    for thread_id in THREADS:
        state[thread_id] = {
            "messages": await store.list_messages(thread_id, limit=1000),
            "count": await store.count_messages(thread_id),
            "runs": {run_id: await store.list_events(thread_id, run_id, limit=1000) for run_id in RUNS},
        }
    return state


# -- calls -------------------------------------------------------------------------

Call = Callable[[RunEventStore], Awaitable[Any]]


@dataclass(frozen=True)
class Cell:
    method: str
    variant: str
    call: Call


def _cells() -> list[Cell]:
    cells: list[Cell] = []

    def add(method: str, variant: str, call: Call) -> None:
        cells.append(Cell(method, variant, call))

    add("put", "existing_thread", lambda s: s.put(**ev("t1", "r1", "user", "message", 20)))
    add(
        "put",
        "new_run",
        lambda s: s.put(**ev("t1", "new", "user", "message", 21, metadata={"task_id": "k9"})),
    )
    add("put", "new_thread", lambda s: s.put(**ev("fresh", "r1", "user", "message", 22)))
    add(
        "put_batch",
        "across_runs_and_threads",
        lambda s: s.put_batch(
            [
                ev("t1", "r1", "user", "message", 30),
                ev("fresh", "r1", "user", "message", 31),
                ev("t1", "new", "tool", "trace", 32, metadata={"task_id": "k1"}),
                ev("t2", "r2", "assistant", "message", 33),
            ]
        ),
    )
    add("put_batch", "empty", lambda s: s.put_batch([]))
    add("put_if_absent", "absent", lambda s: s.put_if_absent(**ev("t1", "r3", "start", "lifecycle", 40)))
    add(
        "put_if_absent",
        "present_or_created",
        lambda s: s.put_if_absent(**ev("t1", "r1", "start", "lifecycle", 41)),
    )
    add("list_messages", "latest", lambda s: s.list_messages("t1", limit=3))
    add("list_messages", "before_seq", lambda s: s.list_messages("t1", limit=2, before_seq=6))
    add("list_messages", "after_seq", lambda s: s.list_messages("t1", limit=2, after_seq=2))
    add("list_messages", "unknown_thread", lambda s: s.list_messages("ghost"))
    add("list_events", "all", lambda s: s.list_events("t1", "r2"))
    add("list_events", "event_types", lambda s: s.list_events("t1", "r2", event_types=["tool", "start"]))
    add("list_events", "task_id", lambda s: s.list_events("t1", "r1", task_id="k2"))
    add("list_events", "after_seq_limit", lambda s: s.list_events("t1", "r2", after_seq=4, limit=2))
    add("list_events", "unknown_run", lambda s: s.list_events("t1", "ghost"))
    add("list_events", "unknown_thread", lambda s: s.list_events("ghost", "r1"))
    add("list_messages_by_run", "latest", lambda s: s.list_messages_by_run("t1", "r2", limit=1))
    add("list_messages_by_run", "before_seq", lambda s: s.list_messages_by_run("t1", "r1", before_seq=6))
    add("list_messages_by_run", "after_seq", lambda s: s.list_messages_by_run("t1", "r1", after_seq=2))
    add("list_messages_by_run", "unknown_run", lambda s: s.list_messages_by_run("t1", "ghost"))
    add("count_messages", "thread", lambda s: s.count_messages("t1"))
    add("count_messages", "unknown_thread", lambda s: s.count_messages("ghost"))
    add("delete_by_run", "existing_run", lambda s: s.delete_by_run("t1", "r2"))
    add("delete_by_run", "unknown_run", lambda s: s.delete_by_run("t1", "ghost"))
    add("delete_by_thread", "existing_thread", lambda s: s.delete_by_thread("t1"))
    add("delete_by_thread", "unknown_thread", lambda s: s.delete_by_thread("ghost"))
    return cells


CELLS = _cells()
METHODS = sorted({cell.method for cell in CELLS})


def cells_for(method: str) -> list[tuple[Scenario, Cell]]:
    return [(scenario, cell) for scenario in SCENARIOS for cell in CELLS if cell.method == method]


def cell_id(pair: tuple[Scenario, Cell]) -> str:
    scenario, cell = pair
    return f"{scenario.name}-{cell.variant}"
