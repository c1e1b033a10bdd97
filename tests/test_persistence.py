"""The SQLite run registry and its bootstrap helpers."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from runlog.persistence import (
    RunRegistry,
    ensure_sqlite_parent_dir,
    prepare_sqlite_path,
    resolve_sqlite_conn_str,
)
from runlog.persistence.registry import RunExistsError


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_resolve_forms(in_tmp):
    assert resolve_sqlite_conn_str("sqlite:///rel/db.sqlite") == str(in_tmp / "rel" / "db.sqlite")
    assert resolve_sqlite_conn_str(f"sqlite:///{in_tmp}/abs.db") == str(in_tmp / "abs.db")
    assert resolve_sqlite_conn_str("sqlite:////tmp/x.db") == str(Path("/tmp/x.db").resolve())
    assert resolve_sqlite_conn_str("plain.db") == str(in_tmp / "plain.db")
    assert resolve_sqlite_conn_str(in_tmp / "p.db") == str(in_tmp / "p.db")
    assert resolve_sqlite_conn_str(":memory:") == ":memory:"
    assert resolve_sqlite_conn_str("sqlite:///:memory:") == ":memory:"
    assert resolve_sqlite_conn_str("sqlite+aiosqlite:///a.db") == str(in_tmp / "a.db")


@pytest.mark.parametrize(
    "bad", ["postgresql://u@h/db", "mysql:///x", "", "   ", "sqlite://", "sqlite://host/db"]
)
def test_resolve_rejects_with_accepted_forms(bad):
    with pytest.raises(ValueError, match="accepted forms") as info:
        resolve_sqlite_conn_str(bad)
    assert "sqlite:////absolute/path.db" in str(info.value)


def test_ensure_parent_dir(tmp_path):
    target = tmp_path / "a" / "b" / "db.sqlite"
    ensure_sqlite_parent_dir(str(target))
    assert target.parent.is_dir()
    ensure_sqlite_parent_dir(":memory:")
    assert prepare_sqlite_path(f"sqlite:///{tmp_path}/c/d.db") == str(tmp_path / "c" / "d.db")
    assert (tmp_path / "c").is_dir()


async def test_registry_round_trip(tmp_path):
    url = f"sqlite:///{tmp_path}/nested/dir/runs.db"
    async with RunRegistry(url) as registry:
        created = await registry.create_run("r1", "t1")
        assert created["status"] == "pending" and created["created_at"] == created["updated_at"]
        await registry.create_run("r2", "t1", status="running")
        await registry.create_run("r3", "t2")
        updated = await registry.set_status("r1", "success")
        assert updated["status"] == "success" and updated["updated_at"] >= created["updated_at"]
        assert (await registry.get_run("r1"))["status"] == "success"
        assert await registry.get_run("nope") is None
        assert [r["run_id"] for r in await registry.list_runs("t1")] == ["r1", "r2"]
        assert await registry.list_runs("t9") == []
    assert await asyncio.to_thread(os.path.exists, tmp_path / "nested" / "dir" / "runs.db")
    async with RunRegistry(url) as again:
        assert (await again.get_run("r2"))["status"] == "running"


async def test_registry_errors(tmp_path):
    registry = RunRegistry(":memory:")
    with pytest.raises(RuntimeError, match="not open"):
        await registry.get_run("r1")
    await registry.open()
    assert await registry.open() is registry
    try:
        await registry.create_run("r1", "t1")
        with pytest.raises(RunExistsError):
            await registry.create_run("r1", "t1")
        with pytest.raises(ValueError, match="status"):
            await registry.create_run("r2", "t1", status="weird")
        with pytest.raises(ValueError, match="status"):
            await registry.set_status("r1", "weird")
        with pytest.raises(KeyError):
            await registry.set_status("missing", "error")
        with pytest.raises(ValueError, match="run_id"):
            await registry.get_run("../x")
        with pytest.raises(ValueError, match="thread_id"):
            await registry.list_runs("a b")
    finally:
        await registry.close()
    await registry.close()  # idempotent


async def test_registry_rejects_bad_url():
    with pytest.raises(ValueError, match="accepted forms"):
        await RunRegistry("postgres://x/y").open()
