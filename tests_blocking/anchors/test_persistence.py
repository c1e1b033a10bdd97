"""Anchors: the run registry's whole open path and every method, on a real file."""

from __future__ import annotations

import asyncio

import pytest

from runlog.persistence import RunRegistry
from runlog.persistence.registry import RunExistsError


@pytest.mark.parametrize("form", ["relative_url", "absolute_url", "plain_path", "memory"])
async def test_open_path_and_every_method(tmp_path, monkeypatch, form):
    monkeypatch.chdir(tmp_path)  # relative forms resolve against the cwd, in a worker thread
    conn_str = {
        "relative_url": "sqlite:///nested/rel/runs.db",
        "absolute_url": f"sqlite:///{tmp_path}/abs/dir/runs.db",
        "plain_path": "plain/runs.db",
        "memory": ":memory:",
    }[form]
    registry = RunRegistry(conn_str)
    await registry.open()
    try:
        created = await registry.create_run("r1", "t1")
        assert created["status"] == "pending"
        await registry.create_run("r2", "t1", status="running")
        with pytest.raises(RunExistsError):
            await registry.create_run("r1", "t1")
        assert (await registry.set_status("r1", "success"))["status"] == "success"
        with pytest.raises(KeyError):
            await registry.set_status("ghost", "error")
        assert (await registry.get_run("r2"))["status"] == "running"
        assert await registry.get_run("ghost") is None
        assert [r["run_id"] for r in await registry.list_runs("t1")] == ["r1", "r2"]
    finally:
        await registry.close()
    if form != "memory":
        exists = await asyncio.to_thread(lambda: __import__("os").path.exists(registry.db_path))
        assert exists, registry.db_path


async def test_context_manager_reopens_existing_file(tmp_path):
    url = f"sqlite:///{tmp_path}/db/runs.db"
    async with RunRegistry(url) as registry:
        await registry.create_run("r1", "t1")
    async with RunRegistry(url) as again:
        assert (await again.get_run("r1"))["thread_id"] == "t1"
