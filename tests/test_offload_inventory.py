"""The offload inventory (AST) and the review's join with coverage contexts."""

from __future__ import annotations

import textwrap

from tools.offload_inventory import async_functions, inventory, sites_in_source
from tools.offload_review import gate_contexts, render_markdown

SOURCE = textwrap.dedent(
    """
    import asyncio
    import anyio
    import anyio.to_thread
    from asyncio import to_thread as offload
    from functools import partial


    class Store:
        async def direct(self):
            return await asyncio.to_thread(self._sync, 1)

        async def aliased(self):
            return await offload(partial(self._sync, 2))

        async def executor(self):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, lambda: self._sync(3))

        async def via_anyio(self):
            value = await anyio.to_thread.run_sync(
                self._sync,
                4,
            )
            return value

        async def not_awaited(self):
            future = asyncio.get_running_loop().run_in_executor(None, self._sync, 5)
            return await future

        def _sync(self, x):
            return x


    def sync_only():
        return asyncio.to_thread  # a reference, not a call
    """
)


def test_sites_kinds_targets_and_enclosing_functions():
    sites = sites_in_source(SOURCE, "pkg/store.py")
    found = [(s.function, s.kind, s.target, s.awaited, s.function_is_async) for s in sites]
    assert found == [
        ("Store.direct", "to_thread", "self._sync", True, True),
        ("Store.aliased", "to_thread", "partial(self._sync, 2)", True, True),
        ("Store.executor", "run_in_executor", "lambda: self._sync(3)", True, True),
        ("Store.via_anyio", "anyio.run_sync", "self._sync", True, True),
        ("Store.not_awaited", "run_in_executor", "self._sync", False, True),
    ]
    anyio_site = sites[3]
    assert anyio_site.line == anyio_site.statement_line + 0  # the call starts the assignment's line
    assert sites[0].where == f"pkg/store.py:{sites[0].line}"


def test_statement_line_is_what_coverage_records():
    source = "import asyncio\nasync def f():\n    return (\n        await asyncio.to_thread(\n            print)\n    )\n"
    [site] = sites_in_source(source, "m.py")
    assert (site.line, site.statement_line) == (4, 3)


def test_inventory_and_async_functions_of_the_backend():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    sites = inventory(repo / "backend", relative_to=repo)
    assert sites, "the backend has offload sites"
    assert all(s.awaited and s.function_is_async for s in sites)
    functions = {f.function for f in async_functions(repo / "backend", relative_to=repo)}
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


def test_gate_contexts_exclude_ungated_and_other_trees():
    contexts = [
        "",
        "tests/test_x.py::test_a",
        "tests_blocking/anchors/test_a.py::put[empty-new_thread]",
        "tests_blocking/anchors/test_a.py::test_opted|ungated",
    ]
    assert gate_contexts(contexts) == ["tests_blocking/anchors/test_a.py::put[empty-new_thread]"]


def test_markdown_names_missing_sites_and_functions():
    sites = [
        {
            "where": "a.py:3",
            "function": "f",
            "target": "g",
            "exercised": True,
            "tests": ["tests_blocking/x.py::t"],
        },
        {"where": "a.py:9", "function": "h", "target": "g", "exercised": False, "tests": []},
    ]
    functions = [{"path": "a.py", "function": "h", "line": 8, "exercised": False, "tests": []}]
    md = render_markdown(sites, functions, "3.12.1")
    assert "offload sites exercised: 1/2" in md
    assert "| `a.py:9` | `h` | `g` | **NO** |" in md
    assert "never run under the gate" in md


def test_starlette_and_targets_through_a_variable():
    source = textwrap.dedent(
        """
        import asyncio
        from starlette.concurrency import run_in_threadpool


        async def handler(path):
            job = read
            await asyncio.to_thread(job, path)
            return await run_in_threadpool(read, path, encoding="utf-8")


        def read(path, encoding="utf-8"):
            return path
        """
    )
    found = [(s.kind, s.target, s.awaited) for s in sites_in_source(source, "m.py")]
    assert found == [("to_thread", "job", True), ("run_in_threadpool", "read", True)]
