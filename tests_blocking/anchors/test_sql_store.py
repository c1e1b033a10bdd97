"""Anchors: the SQL store's life cycle, schema check and connect path, under the gate.

The matrix drives the contract methods; this drives what only the SQL store
has: ``async with``, ``close()``, the schema-version check on first use, and
connecting to PostgreSQL (also to a server that refuses, so the connect path
runs under the gate without one). It also proves the gate sees through
SQLAlchemy: a store that makes a synchronous driver call on the loop goes red.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3

import pytest
import sqlalchemy as sa

from blockgate import GateBlockingError, strict_gate
from runlog.events import SchemaVersionError, SqlRunEventStore, open_store
from runlog.events import sql as sql_store
from tests_blocking.anchors.stores import StoreUnderTest, kind_params

SQL_KINDS = kind_params(("sqlite", "postgresql"))


def event(n: int, **extra):
    return {
        "thread_id": "t1",
        "run_id": "r1",
        "event_type": f"e{n}",
        "category": "message",
        "content": n,
        **extra,
    }


@pytest.mark.parametrize("kind", SQL_KINDS)
async def test_async_with_close_and_reopen(kind, tmp_path):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        first = await storage.open()
        assert isinstance(first, SqlRunEventStore)
        async with first as store:
            assert store is first
            assert (await store.put(**event(1)))["seq"] == 1
        with pytest.raises(RuntimeError, match="is closed"):
            await first.count_messages("t1")
        await first.close()  # closing twice is harmless
        again = await storage.open()  # a new instance on the same database, connecting on first use
        assert [e["content"] for e in await again.list_messages("t1")] == [1]
        assert (await again.put(**event(2)))["seq"] == 2
        await again.close()
    finally:
        await storage.close()


async def test_open_store_gives_a_working_sql_store(tmp_path):
    store = open_store(f"sqlite+aiosqlite:///{tmp_path}/via-open-store.db")
    assert isinstance(store, SqlRunEventStore)
    async with store:
        record, created = await store.put_if_absent(**event(1))
        assert created and record["seq"] == 1
        assert await store.put_if_absent(**event(1, content="other")) == (record, False)


@pytest.mark.parametrize("kind", SQL_KINDS)
async def test_unknown_schema_version_is_refused(kind, tmp_path):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        store = await storage.open()
        await store.put(**event(1))
        await storage.execute(f"UPDATE runlog_schema SET version = {sql_store.SCHEMA_VERSION + 1}")
        newer = await storage.open()
        with pytest.raises(
            SchemaVersionError, match=rf"schema version {sql_store.SCHEMA_VERSION + 1}.*refusing"
        ):
            await newer.list_messages("t1")
        await storage.execute(f"UPDATE runlog_schema SET version = {sql_store.SCHEMA_VERSION}")
        assert [e["seq"] for e in await newer.list_messages("t1")] == [1]  # nothing was rewritten
    finally:
        await storage.close()


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: nothing listens there


async def test_postgresql_connect_path_when_the_server_refuses():
    # Runs without a PostgreSQL server: asyncpg's connection parameters are
    # resolved (password and TLS files) and the connection is attempted.
    port = await asyncio.to_thread(_refused_port)
    store = SqlRunEventStore(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nothing")
    try:
        with pytest.raises(OSError):
            await store.count_messages("t1")
    finally:
        await store.close()


# -- the gate sees a synchronous driver call inside a SQL store ----------------------


class SqliteOnTheLoop(SqlRunEventStore):
    """A broken store: counts with the synchronous sqlite3 module, on the loop."""

    async def _count_messages(self, thread_id: str) -> int:
        path = self.url.database
        assert path is not None
        with contextlib.closing(sqlite3.connect(path)) as db:
            return db.execute("SELECT count(*) FROM run_events WHERE thread_id = ?", (thread_id,)).fetchone()[
                0
            ]


class SyncEngineOnTheLoop(SqlRunEventStore):
    """A broken store: counts through a synchronous SQLAlchemy engine, on the loop."""

    async def _count_messages(self, thread_id: str) -> int:
        engine = sa.create_engine(f"sqlite:///{self.url.database}")
        try:
            with engine.connect() as conn:
                return conn.execute(
                    sa.select(sa.func.count()).select_from(sql_store.events_table)
                ).scalar_one()
        finally:
            engine.dispose()


@pytest.mark.allow_blocking_io(reason="meta-test: arms its own strict_gate and expects it to fire")
@pytest.mark.parametrize("broken", [SqliteOnTheLoop, SyncEngineOnTheLoop])
async def test_gate_catches_a_synchronous_driver_call_in_a_sql_store(broken, tmp_path):
    store = broken(f"sqlite+aiosqlite:///{tmp_path}/broken.db")
    try:
        with strict_gate(["runlog", __name__]) as armed:
            assert (await store.put(**event(1)))["seq"] == 1  # the real storage path: silent
            assert not armed.hits
            with pytest.raises(GateBlockingError, match=r"Blocking call to \S+ from .*_count_messages"):
                await store.count_messages("t1")
            assert armed.hits, "the gate recorded no blocking call"
    finally:
        await store.close()
