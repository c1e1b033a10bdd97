"""The stores under test: one factory per kind, each on real storage.

``jsonl`` (files under a tmp dir), ``sqlite`` (a database file via aiosqlite)
and ``postgresql`` (a real server: ``RUNLOG_TEST_POSTGRES_URL``, set by
``.ci/run``). Each PostgreSQL test gets its own schema (``search_path``) in
that database and drops it afterwards, so tests never see each other's rows,
also under pytest-xdist. Without the variable the PostgreSQL cases skip, with
the reason in the summary; with it, an unreachable server is a failure.

Used by the matrix (``tests_blocking/anchors``) and the unit tests (``tests/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from runlog.events import JsonlRunEventStore, RunEventStore, SqlRunEventStore

POSTGRES_ENV = "RUNLOG_TEST_POSTGRES_URL"
KINDS = ("jsonl", "sqlite", "postgresql")
SKIP_POSTGRES = f"{POSTGRES_ENV} is not set: no PostgreSQL to test against (.ci/run sets it)"


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def kind_params(kinds: tuple[str, ...] = KINDS) -> list[Any]:
    """``pytest.param`` per kind; PostgreSQL skips with a reason when not configured."""
    return [
        pytest.param(
            kind,
            marks=pytest.mark.skipif(kind == "postgresql" and postgres_url() is None, reason=SKIP_POSTGRES),
        )
        for kind in kinds
    ]


def driver_dsn(url: str) -> str:
    """The URL asyncpg itself takes (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class StoreUnderTest:
    """One storage of a kind; ``open()`` gives a new store instance on it (a "reopen")."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        if kind not in KINDS:
            raise ValueError(kind)
        self.kind = kind
        self.base_dir = tmp_path / "events"  # JSONL only
        self.sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
        self.schema = f"runlog_test_{uuid.uuid4().hex[:16]}"  # PostgreSQL only
        self._opened: list[SqlRunEventStore] = []
        self._schema_created = False

    @property
    def url(self) -> str:
        """The store URL (for open_store, the gateway or another process)."""
        if self.kind == "jsonl":
            return str(self.base_dir)
        if self.kind == "sqlite":
            return self.sqlite_url
        url = postgres_url()
        assert url is not None, SKIP_POSTGRES
        # Server settings: its own schema; no fsync wait per commit (tests need no durability).
        return f"{url}{'&' if '?' in url else '?'}search_path={self.schema}&synchronous_commit=off"

    async def open(self) -> RunEventStore:
        if self.kind == "jsonl":
            return JsonlRunEventStore(self.base_dir)
        if self.kind == "postgresql" and not self._schema_created:
            await self._postgres(f"CREATE SCHEMA {self.schema}")
            self._schema_created = True
        store = SqlRunEventStore(self.url)
        self._opened.append(store)
        return store

    def track(self, store: SqlRunEventStore) -> SqlRunEventStore:
        """A store the test opened on this storage itself (other options): closed with it."""
        self._opened.append(store)
        return store

    async def close(self) -> None:
        for store in self._opened:
            await store.close()
        self._opened.clear()
        if self._schema_created:
            await self._postgres(f"DROP SCHEMA {self.schema} CASCADE")
            self._schema_created = False

    async def execute(self, statement: str) -> None:
        """Run SQL on the store's database behind its back (the test's own connection)."""
        if self.kind == "sqlite":
            path = self.sqlite_url.removeprefix("sqlite+aiosqlite:///")

            def run() -> None:
                with contextlib.closing(sqlite3.connect(path)) as db, db:
                    db.execute(statement)

            await asyncio.to_thread(run)
        elif self.kind == "postgresql":
            await self._postgres(statement, search_path=self.schema)
        else:
            raise ValueError(f"{self.kind} has no SQL")

    async def _postgres(self, statement: str, search_path: str | None = None) -> None:
        import asyncpg

        settings = {"search_path": search_path} if search_path else None
        conn = await asyncpg.connect(driver_dsn(postgres_url() or ""), server_settings=settings)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()
