"""SQL store edges the mutation run (``tox -e mutation``) found untested: which transactions
take SQLite's write lock, the engine options that reach the driver, PostgreSQL's schema
lock, the schema-version refusal and a closed store.

The SQLite lock tests hold the database's write lock from a plain ``sqlite3``
connection, as another process's writer would. In WAL mode a reader is not
held up by it; a transaction begun with ``BEGIN IMMEDIATE`` is, until the busy
timeout gives up with "database is locked". So a read that takes the write
lock, or a write that does not take it up front, shows as an error here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests_blocking.anchors.stores import SKIP_POSTGRES, StoreUnderTest, driver_dsn, kind_params, postgres_url

from runlog.events import SchemaVersionError, SqlRunEventStore
from runlog.events import sql as sql_store
from tests.executors import BusyWorkers, until
from tests.factories import event

needs_postgres = pytest.mark.skipif(postgres_url() is None, reason=SKIP_POSTGRES)


@contextlib.contextmanager
def write_lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holds the database's write lock (an open ``BEGIN IMMEDIATE``)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
        other.execute("ROLLBACK")
    finally:
        other.close()


def take_and_release_write_lock(path: Path) -> None:
    """Take the write lock from another connection, without waiting, and give it back."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_sqlite_reads_run_beside_another_connection_writing(tmp_path):
    path = tmp_path / "events.db"
    store = SqlRunEventStore(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.2})
    try:
        await store.put(**event(content="first"))  # the schema exists before the lock is taken
        with write_lock_held(path):
            assert await store.count_messages("t1") == 1
            assert [e["content"] for e in await store.list_messages("t1")] == ["first"]
            assert [e["content"] for e in await store.list_messages_by_run("t1", "r1")] == ["first"]
            assert [e["content"] for e in await store.list_events("t1", "r1")] == ["first"]
            # A writer, by contrast, waits for the lock and gives up after its busy timeout.
            with pytest.raises(sa.exc.OperationalError, match="database is locked"):
                await store.put(**event(content="second"))
            async with store as entered:  # entering a store already open is a read too
                assert entered is store
    finally:
        await store.close()


async def test_sqlite_write_transactions_take_the_write_lock_up_front(tmp_path):
    path = tmp_path / "events.db"
    store = SqlRunEventStore(f"sqlite+aiosqlite:///{path}")
    try:
        await store.count_messages("t1")  # the schema exists
        async with store._transaction(write=True):
            # No statement yet: only BEGIN IMMEDIATE can have taken the lock.
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                take_and_release_write_lock(path)
        take_and_release_write_lock(path)
        async with store._transaction(write=False):
            take_and_release_write_lock(path)  # a read leaves the lock to writers
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("engine_options", "busy_timeout_ms"),
    [
        ({}, int(sql_store.SQLITE_BUSY_TIMEOUT_S * 1000)),
        ({"connect_args": {"timeout": 0.25}}, 250),
    ],
)
async def test_sqlite_busy_timeout_is_the_stores_default_unless_given(
    tmp_path, engine_options, busy_timeout_ms
):
    store = SqlRunEventStore(f"sqlite+aiosqlite:///{tmp_path}/events.db", **engine_options)
    try:
        async with store._transaction(write=False) as conn:
            assert await conn.scalar(sa.text("PRAGMA busy_timeout")) == busy_timeout_ms
    finally:
        await store.close()


@needs_postgres
async def test_postgresql_connect_args_reach_the_server(tmp_path):
    storage = StoreUnderTest("postgresql", tmp_path)
    try:
        await storage.open()  # the test's own schema
        store = storage.track(
            SqlRunEventStore(
                storage.url, connect_args={"server_settings": {"application_name": "runlog-edges"}}
            )
        )
        async with store._transaction(write=False) as conn:
            assert await conn.scalar(sa.text("SHOW application_name")) == "runlog-edges"
            assert await conn.scalar(sa.text("SHOW search_path")) == storage.schema  # from the URL
    finally:
        await storage.close()


@needs_postgres
async def test_postgresql_schema_creation_waits_for_the_schema_lock(tmp_path):
    import asyncpg

    storage = StoreUnderTest("postgresql", tmp_path)
    name = f"runlog-schema-lock-{uuid.uuid4().hex[:12]}"
    holder = await asyncpg.connect(driver_dsn(postgres_url()))
    counting = None
    try:
        await storage.open()  # the test's own schema, no tables yet
        store = storage.track(SqlRunEventStore(f"{storage.url}&application_name={name}"))
        # As another process creating the tables would: hold the lock the schema step takes.
        await holder.execute("SELECT pg_advisory_lock($1)", sql_store._PG_SCHEMA_LOCK)
        counting = asyncio.create_task(store.count_messages("t1"))
        waiting = (
            "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid)"
            " WHERE pg_locks.locktype = 'advisory' AND NOT pg_locks.granted"
            " AND pg_stat_activity.application_name = $1"
        )
        deadline = asyncio.get_running_loop().time() + 30
        while not await holder.fetchval(waiting, name):
            assert not counting.done(), "the store prepared its schema without the schema lock"
            assert asyncio.get_running_loop().time() < deadline, "the store never asked for the lock"
            await asyncio.sleep(0.02)
        assert not counting.done()
        await holder.execute("SELECT pg_advisory_unlock($1)", sql_store._PG_SCHEMA_LOCK)
        assert await counting == 0
    finally:
        if counting is not None and not counting.done():
            counting.cancel()
        await holder.close()
        await storage.close()


@needs_postgres
async def test_postgresql_pages_are_in_seq_order_whatever_the_plan(tmp_path):
    # With index scans off PostgreSQL reads the table in its physical order,
    # which an UPDATE changes (the new row version goes after the others):
    # only the queries' ORDER BY seq keeps a page in seq order.
    storage = StoreUnderTest("postgresql", tmp_path)
    try:
        await (await storage.open()).put_batch([event(content=n) for n in (1, 2, 3)])
        await storage.execute("UPDATE run_events SET content = content WHERE seq = 2")
        store = storage.track(
            SqlRunEventStore(
                f"{storage.url}&enable_indexscan=off&enable_indexonlyscan=off&enable_bitmapscan=off"
            )
        )
        assert [e["seq"] for e in await store.list_messages("t1", after_seq=0)] == [1, 2, 3]
        assert [e["seq"] for e in await store.list_messages_by_run("t1", "r1", after_seq=0)] == [1, 2, 3]
        assert [e["seq"] for e in await store.list_events("t1", "r1")] == [1, 2, 3]
        assert [e["seq"] for e in await store.list_messages("t1")] == [1, 2, 3]
    finally:
        await storage.close()


@pytest.mark.parametrize("kind", kind_params(("sqlite", "postgresql")))
async def test_a_newer_schema_is_refused_naming_both_versions(kind, tmp_path):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        await (await storage.open()).put(**event())
        newer_version = sql_store.SCHEMA_VERSION + 1
        await storage.execute(f"UPDATE runlog_schema SET version = {newer_version}")
        store = await storage.open()
        with pytest.raises(SchemaVersionError) as refused:
            await store.count_messages("t1")
        assert str(refused.value) == (
            f"{store!r}: the database holds run-event schema version {newer_version}, this runlog "
            f"knows version {sql_store.SCHEMA_VERSION}; refusing to read or change it"
        )
    finally:
        await storage.close()


@pytest.mark.parametrize("used", [True, False])
async def test_a_closed_store_refuses_every_call(tmp_path, used):
    store = SqlRunEventStore(f"sqlite+aiosqlite:///{tmp_path}/events.db")
    if used:
        await store.put(**event())
    await store.close()
    closed = re.escape(f"{store!r} is closed")
    with pytest.raises(RuntimeError, match=closed):
        await store.count_messages("t1")
    with pytest.raises(RuntimeError, match=closed):
        await store.list_messages("t1")
    with pytest.raises(RuntimeError, match=closed):
        await store.put(**event())
    await store.close()  # a second close is harmless
    assert store._engines is None


async def test_postgresql_connection_arguments_without_a_server(monkeypatch):
    # What the store hands asyncpg.connect, seen without a server: the URL's
    # parts, its query as server settings, connect_args merged in, and
    # nothing left for asyncpg to read from files on the loop.
    import asyncpg

    attempts = []

    @functools.wraps(asyncpg.connect)  # the store reads connect's signature
    async def refuse(**arguments):
        attempts.append(arguments)
        raise ConnectionRefusedError("no server in this test")

    monkeypatch.setattr(asyncpg, "connect", refuse)
    store = SqlRunEventStore(
        "postgresql+asyncpg://u@db.invalid:6543/d?search_path=s1&sslmode=disable",
        connect_args={"server_settings": {"application_name": "runlog-edges"}, "command_timeout": 7},
    )
    try:
        with pytest.raises(ConnectionRefusedError, match="no server in this test"):
            await store.count_messages("t1")
    finally:
        await store.close()
    assert attempts == [
        {
            "host": "db.invalid",
            "port": 6543,
            "user": "u",
            "database": "d",
            "server_settings": {"search_path": "s1", "application_name": "runlog-edges"},
            "command_timeout": 7,
            "password": "",
            "ssl": False,
        }
    ]
    # No connect_args: the URL alone. libpq's default sslmode=prefer asks for TLS
    # first and, when the server will not have it, connects in plain text.
    attempts.clear()
    store = SqlRunEventStore("postgresql+asyncpg://u@db.invalid:6543/d")
    try:
        with pytest.raises(ConnectionRefusedError, match="no server in this test"):
            await store.count_messages("t1")
    finally:
        await store.close()
    assert [type(attempt["ssl"]) for attempt in attempts] == [ssl.SSLContext, bool]
    assert attempts[1] == {**attempts[0], "ssl": False}


@pytest.mark.parametrize("kind", kind_params(("sqlite", "postgresql")))
async def test_a_first_call_cancelled_while_its_engine_creation_waits_for_a_worker(kind, tmp_path):
    """The attack that wedged the JSONL store's group commit (issue 26), on the SQL store's one
    offload: the engine's creation, queued behind a busy default executor when its caller is
    cancelled. The cancelled job never runs; the next call creates the engine and is answered."""
    storage = StoreUnderTest(kind, tmp_path)
    busy = BusyWorkers(asyncio.get_running_loop(), 1)
    try:
        store = await storage.open()
        busy.hold()
        first = asyncio.ensure_future(store.put(**event(content="first")))
        await until(store._opening.locked, "the first call waits for its engine")
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        second = asyncio.ensure_future(store.put(**event(content="second")))
        await busy.release()
        assert (await asyncio.wait_for(second, 30))["seq"] == 1
        assert [m["content"] for m in await store.list_messages("t1")] == ["second"]
    finally:
        await storage.close()
        await busy.close()
