"""runlog as the gate's user: what the gate's review sees in the backend, checked without a gate run.

The gate (``gate/``, package ``blockgate``) knows nothing of runlog; these are
runlog's own expectations of it: every async path offloads what blocks, each
JSONL storage operation in its own hook, and the accepted file
(``tests_blocking/accepted.toml``) accepts no unguarded call.
"""

from __future__ import annotations

from pathlib import Path

from blockgate.accepted import accepted_unguarded, outside_sites
from blockgate.offloads import async_functions, inventory
from blockgate.static import primitive_table, scan

REPO = Path(__file__).resolve().parents[1]
ACCEPTED = REPO / "tests_blocking" / "accepted.toml"


def test_inventory_and_async_functions_of_the_backend():
    sites = inventory(REPO / "backend", relative_to=REPO)
    assert sites, "the backend has offload sites"
    assert all(s.awaited and s.function_is_async for s in sites)
    functions = {f.function for f in async_functions(REPO / "backend", relative_to=REPO)}
    assert "StorageRunEventStore.put" in functions  # the contract, written once
    assert "JsonlRunEventStore._put" in functions  # its storage hook
    assert "create_app.lifespan" in functions
    assert "RunEventStore.put" not in functions  # abstract: never runs
    assert "StorageRunEventStore._put" not in functions
    # One offload per JSONL storage operation, each in its own hook; put and
    # put_batch share one, the group commit's write (``_offload``: awaited by the
    # group's leader, or by a task of its own if the leader was cancelled first).
    jsonl = [s.function for s in sites if s.path.endswith("events/jsonl.py")]
    hooks = ["put_if_absent", "list_messages", "list_messages_by_run", "list_events"]
    hooks += ["count_messages", "delete_by_run", "delete_by_thread", "offload"]
    assert sorted(jsonl) == sorted(f"JsonlRunEventStore._{name}" for name in hooks)


def test_runlog_offloads_every_blocking_call_the_loop_reaches():
    result = scan(REPO / "backend", ["runlog"], primitive_table())
    assert result.entry_count > 40  # every async def of the backend is an entry point
    assert len(result.loop_functions) > result.entry_count  # and the sync code they call
    assert [c.to_dict() for c in result.candidates] == []
    offloaded = {s.function for s in result.offloads}
    # One offload per storage hook of the JSONL store, and the SQL store's engine creation.
    assert {"JsonlRunEventStore._offload", "JsonlRunEventStore._list_messages"} <= offloaded


def test_runlogs_accepted_file_accepts_no_unguarded_call():
    assert ACCEPTED.exists()
    assert accepted_unguarded(ACCEPTED) == ([], [])
    outside, errors = outside_sites(ACCEPTED)
    assert errors == []
    sites = {
        f"{Path(s.path).relative_to('backend').as_posix()}::{s.function}"
        for s in inventory(REPO / "backend", relative_to=REPO)
    }
    assert set(outside) <= sites, "an [[outside]] entry names no offload site"
