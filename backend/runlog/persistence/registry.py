"""The SQLite run registry: one row per run, over aiosqlite.

aiosqlite runs every sqlite3 call on its own worker thread; the only other IO
of the open path (resolving the path, creating its folder) is offloaded with
``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from typing import Any

import aiosqlite

from runlog.events.base import check_id
from runlog.persistence.bootstrap import prepare_sqlite_path

RUN_STATUSES = ("pending", "running", "success", "error", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id     TEXT PRIMARY KEY,
    thread_id  TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_thread ON runs (thread_id, created_at);
"""
_COLUMNS = "run_id, thread_id, status, created_at, updated_at"


class RunExistsError(ValueError):
    """create_run for a run_id that is already registered."""


def _check_status(status: object) -> str:
    if status not in RUN_STATUSES:
        raise ValueError(f"status must be one of {list(RUN_STATUSES)}, got {status!r}")
    return status


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _row(row: aiosqlite.Row | tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(("run_id", "thread_id", "status", "created_at", "updated_at"), row, strict=True))


class RunRegistry:
    """``await RunRegistry(conn_str).open()`` or ``async with RunRegistry(...)``."""

    def __init__(self, conn_str: str | os.PathLike[str]) -> None:
        self.conn_str = conn_str
        self.db_path: str | None = None
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> RunRegistry:
        if self._db is not None:
            return self
        self.db_path = await asyncio.to_thread(prepare_sqlite_path, self.conn_str)
        db = await aiosqlite.connect(self.db_path)
        try:
            await db.executescript(_SCHEMA)
            await db.commit()
        except BaseException:
            await db.close()
            raise
        self._db = db
        return self

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    async def __aenter__(self) -> RunRegistry:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def check(self) -> None:
        """One query: raises if the database cannot answer (readiness)."""
        async with self._conn.execute("SELECT 1") as cur:
            await cur.fetchone()

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("RunRegistry is not open; await registry.open() first")
        return self._db

    async def create_run(self, run_id: str, thread_id: str, status: str = "pending") -> dict[str, Any]:
        check_id("run_id", run_id)
        check_id("thread_id", thread_id)
        _check_status(status)
        now = _now()
        try:
            await self._conn.execute(
                f"INSERT INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (run_id, thread_id, status, now, now),
            )
        except aiosqlite.IntegrityError as exc:
            raise RunExistsError(f"run {run_id!r} already exists") from exc
        await self._conn.commit()
        return {
            "run_id": run_id,
            "thread_id": thread_id,
            "status": status,
            "created_at": now,
            "updated_at": now,
        }

    async def set_status(self, run_id: str, status: str) -> dict[str, Any]:
        check_id("run_id", run_id)
        _check_status(status)
        cursor = await self._conn.execute(
            "UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?", (status, _now(), run_id)
        )
        await self._conn.commit()
        if cursor.rowcount == 0:
            raise KeyError(f"unknown run {run_id!r}")
        run = await self.get_run(run_id)
        assert run is not None
        return run

    async def get_run(self, run_id: str) -> dict[str, Any] | None:
        check_id("run_id", run_id)
        async with self._conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)) as cur:
            row = await cur.fetchone()
        return None if row is None else _row(row)

    async def list_runs(self, thread_id: str) -> list[dict[str, Any]]:
        check_id("thread_id", thread_id)
        async with self._conn.execute(
            f"SELECT {_COLUMNS} FROM runs WHERE thread_id = ? ORDER BY created_at, run_id", (thread_id,)
        ) as cur:
            rows = await cur.fetchall()
        return [_row(row) for row in rows]
