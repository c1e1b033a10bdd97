"""The event-store anchor matrix: store x scenario x call, with a differential oracle.

A *scenario* is data: a list of steps applied to the store under test and
to a ``MemoryRunEventStore`` (the reference model) alike. A step is one of

* ``("put", event)``, ``("put_batch", [event, ...])``,
  ``("delete_by_run", thread_id, run_id)``, ``("delete_by_thread", thread_id)``:
  a store operation, run on both stores (their results must agree already);
* ``("reopen",)``: the store under test becomes a new instance on the same
  files or database (what another process or a restart sees);
* ``("damage", function)``: ``function(base_dir)`` damages the JSONL files the
  way crashes do. A scenario with damage runs on the JSONL store only.

A *call* is one invocation of a public async method. Each cell runs its call
on both stores and requires equal results, then equal state (every thread's
messages and every run's events), then the same seq for one more event.

Adding a scenario or a call is adding one entry below; every store and every
method gets the new cells. Cursors and limits are chosen so that an
off-by-one anywhere (``<`` for ``<=``, a cursor moved by one, a limit of one
more or less) changes the answer: each cursor is a seq of the listed kind
whose neighbour is one too, and each limit cuts a longer list.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlog.events import MemoryRunEventStore, RunEventStore
from tests_blocking.anchors.stores import StoreUnderTest

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

# Thread t1, seq = position: messages 2 5 6 7 9 10 11; run r1's messages 2 6 10 11;
# run r2's events 4 5 8 9; task k2 in r1 at 6 11 12. Thread t2: one message.
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
    ev("t1", "r1", "user", "message", 10),
    ev("t1", "r1", "assistant", "message", 11, metadata={"task_id": "k2"}),
    ev("t1", "r1", "tool", "trace", 12, metadata={"task_id": "k2"}),
    ev("t2", "r1", "user", "message", 13),
]

Step = tuple[Any, ...]


def seeded_by_put(events: list[dict[str, Any]]) -> list[Step]:
    return [("put", event) for event in events]


def _malformed_and_torn(base_dir: Path) -> None:
    path = base_dir / "threads" / "t1.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(3, "{this is not json\n")
    lines.insert(6, json.dumps({"unexpected": "shape"}) + "\n")
    lines.append('{"thread_id": "t1", "run_id": "r1", "seq": 99, "eve')  # torn by a crash
    path.write_text("".join(lines))


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[Step]

    @property
    def jsonl_only(self) -> bool:
        """File damage exists for the JSONL store only."""
        return any(step[0] == "damage" for step in self.steps)


SCENARIOS = [
    Scenario("empty", []),
    Scenario("multi_run_thread", seeded_by_put(SEED)),
    Scenario("seeded_by_earlier_instance", [*seeded_by_put(SEED), ("reopen",)]),
    Scenario("seeded_by_one_batch", [("put_batch", SEED)]),
    # A deleted run leaves a gap in the seqs; a later writer continues after it.
    Scenario("run_deleted", [*seeded_by_put(SEED), ("delete_by_run", "t1", "r2"), ("reopen",)]),
    # Every run of t1 gone: the thread still exists, its next seq follows the last one given.
    Scenario(
        "all_runs_deleted_then_one_event",
        [
            *seeded_by_put(SEED),
            ("delete_by_run", "t1", "r1"),
            ("delete_by_run", "t1", "r2"),
            ("delete_by_run", "t1", "r3"),
            ("put", ev("t1", "r2", "user", "message", 14)),
        ],
    ),
    # The thread itself deleted: it starts over at seq 1.
    Scenario(
        "thread_deleted_then_one_event",
        [
            *seeded_by_put(SEED),
            ("delete_by_thread", "t1"),
            ("reopen",),
            ("put", ev("t1", "r1", "user", "message", 15)),
        ],
    ),
    Scenario(
        "malformed_and_torn_lines", [*seeded_by_put(SEED), ("damage", _malformed_and_torn), ("reopen",)]
    ),
]


async def _apply(step: Step, store: RunEventStore) -> Any:
    operation, *args = step
    if operation == "put":
        return await store.put(**args[0])
    return await getattr(store, operation)(*args)


async def build(scenario: Scenario, storage: StoreUnderTest) -> tuple[RunEventStore, MemoryRunEventStore]:
    """Run the scenario's steps on a store of ``storage`` and on the reference model."""
    store = await storage.open()
    memory = MemoryRunEventStore()
    for step in scenario.steps:
        if step[0] == "reopen":
            store = await storage.open()
        elif step[0] == "damage":
            assert storage.kind == "jsonl", f"{scenario.name}: file damage needs the JSONL store"
            await asyncio.to_thread(step[1], storage.base_dir)
        else:
            expected = await _apply(step, memory)
            assert await _apply(step, store) == expected, f"{scenario.name}: step {step[:3]}"
    return store, memory


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


@dataclass(frozen=True)
class Call:
    method: str
    name: str
    run: Callable[[RunEventStore], Awaitable[Any]]


CALLS = [
    Call("put", "existing_thread", lambda s: s.put(**ev("t1", "r1", "user", "message", 20))),
    Call(
        "put",
        "new_run",
        lambda s: s.put(**ev("t1", "new", "user", "message", 21, metadata={"task_id": "k9"})),
    ),
    Call("put", "new_thread", lambda s: s.put(**ev("fresh", "r1", "user", "message", 22))),
    Call(
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
    ),
    Call("put_batch", "empty", lambda s: s.put_batch([])),
    # r3 has no start in any scenario: created everywhere.
    Call(
        "put_if_absent",
        "new_run_and_type",
        lambda s: s.put_if_absent(**ev("t1", "r3", "start", "lifecycle", 40)),
    ),
    # r1's start as the seed writes it: found where the seed is, created where it is gone.
    Call(
        "put_if_absent",
        "seed_run_and_type",
        lambda s: s.put_if_absent(**ev("t1", "r1", "start", "lifecycle", 41)),
    ),
    # A type the seed writes more than once in r1: the first one is returned.
    Call(
        "put_if_absent",
        "repeated_type",
        lambda s: s.put_if_absent(**ev("t1", "r1", "assistant", "message", 42)),
    ),
    Call("list_messages", "latest", lambda s: s.list_messages("t1", limit=3)),
    Call("list_messages", "before_seq", lambda s: s.list_messages("t1", limit=2, before_seq=7)),
    Call("list_messages", "before_seq_near_start", lambda s: s.list_messages("t1", limit=2, before_seq=5)),
    Call("list_messages", "after_seq", lambda s: s.list_messages("t1", limit=2, after_seq=5)),
    Call("list_messages", "after_seq_near_end", lambda s: s.list_messages("t1", limit=3, after_seq=9)),
    Call("list_messages", "window", lambda s: s.list_messages("t1", limit=2, after_seq=5, before_seq=10)),
    Call("list_messages", "empty_window", lambda s: s.list_messages("t1", after_seq=7, before_seq=9)),
    Call("list_messages", "unknown_thread", lambda s: s.list_messages("ghost")),
    Call("list_events", "all", lambda s: s.list_events("t1", "r2")),
    Call("list_events", "event_types", lambda s: s.list_events("t1", "r2", event_types=["tool", "start"])),
    Call("list_events", "no_event_types", lambda s: s.list_events("t1", "r2", event_types=[])),
    Call("list_events", "task_id_limit", lambda s: s.list_events("t1", "r1", task_id="k2", limit=2)),
    Call("list_events", "task_id_after_seq", lambda s: s.list_events("t1", "r1", task_id="k2", after_seq=6)),
    Call("list_events", "after_seq_limit", lambda s: s.list_events("t1", "r2", after_seq=4, limit=2)),
    Call("list_events", "unknown_run", lambda s: s.list_events("t1", "ghost")),
    Call("list_events", "unknown_thread", lambda s: s.list_events("ghost", "r1")),
    Call("list_messages_by_run", "latest", lambda s: s.list_messages_by_run("t1", "r1", limit=3)),
    Call(
        "list_messages_by_run",
        "before_seq",
        lambda s: s.list_messages_by_run("t1", "r1", limit=1, before_seq=11),
    ),
    Call(
        "list_messages_by_run",
        "after_seq",
        lambda s: s.list_messages_by_run("t1", "r1", limit=1, after_seq=10),
    ),
    Call(
        "list_messages_by_run",
        "window",
        lambda s: s.list_messages_by_run("t1", "r1", limit=1, after_seq=2, before_seq=11),
    ),
    Call("list_messages_by_run", "unknown_run", lambda s: s.list_messages_by_run("t1", "ghost")),
    Call("count_messages", "thread", lambda s: s.count_messages("t1")),
    Call("count_messages", "unknown_thread", lambda s: s.count_messages("ghost")),
    Call("delete_by_run", "existing_run", lambda s: s.delete_by_run("t1", "r2")),
    Call("delete_by_run", "unknown_run", lambda s: s.delete_by_run("t1", "ghost")),
    Call("delete_by_thread", "existing_thread", lambda s: s.delete_by_thread("t1")),
    Call("delete_by_thread", "unknown_thread", lambda s: s.delete_by_thread("ghost")),
]

METHODS = sorted({call.method for call in CALLS})


def cells(method: str, kinds: list[Any]) -> list[Any]:
    """``pytest.param(kind, scenario, call)`` for every cell of ``method``, id ``store-scenario-call``.

    ``kinds`` are ``stores.kind_params()``: a kind's marks (the PostgreSQL
    skip) carry over to its cells.
    """
    import pytest

    found = []
    for kind in kinds:
        for scenario in SCENARIOS:
            if scenario.jsonl_only and kind.values[0] != "jsonl":
                continue
            for call in CALLS:
                if call.method == method:
                    found.append(
                        pytest.param(
                            kind.values[0],
                            scenario,
                            call,
                            id=f"{kind.values[0]}-{scenario.name}-{call.name}",
                            marks=kind.marks,
                        )
                    )
    return found
