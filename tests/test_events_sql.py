"""The SQL store beyond the shared contract: open_store, many writer processes, indexes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests_blocking.anchors.stores import StoreUnderTest, kind_params

from runlog.events import JsonlRunEventStore, MemoryRunEventStore, SqlRunEventStore, open_store
from runlog.events import sql as sql_store

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("events", JsonlRunEventStore),
        ("/var/lib/runlog/events", JsonlRunEventStore),
        ("jsonl:///var/lib/runlog/events", JsonlRunEventStore),
        ("jsonl://relative/events", JsonlRunEventStore),
        ("memory:", MemoryRunEventStore),
        ("sqlite+aiosqlite:///events.db", SqlRunEventStore),
        ("sqlite+aiosqlite:////abs/events.db", SqlRunEventStore),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/runlog", SqlRunEventStore),
    ],
)
def test_open_store_url_forms(url, kind):
    store = open_store(url)
    assert type(store) is kind
    if kind is JsonlRunEventStore:
        assert store.base_dir == Path(url.removeprefix("jsonl://"))


def test_open_store_path_object(tmp_path):
    store = open_store(tmp_path / "events")
    assert isinstance(store, JsonlRunEventStore) and store.base_dir == tmp_path / "events"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "non-empty"),
        ("jsonl://", "jsonl:///absolute/dir"),
        ("sqlite:///events.db", "unknown event store URL"),
        ("postgresql://postgres@localhost/db", "unknown event store URL"),
        ("mysql+aiomysql://u@h/db", "unknown event store URL"),
        ("memory:x", "unknown event store URL"),
    ],
)
def test_open_store_rejects_unknown_urls(url, message):
    with pytest.raises(ValueError, match=message):
        open_store(url)


def test_an_unknown_url_is_answered_with_the_forms_that_work():
    # The message is the user's only guide to the URL forms: it lists each one.
    with pytest.raises(ValueError) as refused:
        open_store("mysql+aiomysql://u@h/db")
    assert str(refused.value) == (
        "unknown event store URL 'mysql+aiomysql://u@h/db': use a directory path, jsonl:///dir, "
        "memory:, sqlite+aiosqlite:///file.db or postgresql+asyncpg://user@host/db"
    )


def test_sql_store_rejects_other_drivers():
    with pytest.raises(ValueError, match="sqlite\\+aiosqlite:// and postgresql\\+asyncpg://"):
        SqlRunEventStore("sqlite:///x.db")
    with pytest.raises(ValueError, match="not a SQLAlchemy URL"):
        SqlRunEventStore("::not a url::")


async def test_bad_input_touches_no_database(tmp_path):
    store = SqlRunEventStore(f"sqlite+aiosqlite:///{tmp_path}/never.db")
    with pytest.raises(ValueError, match="thread_id"):
        await store.put(thread_id="a b", run_id="r1", event_type="x", category="message")
    with pytest.raises(ValueError, match="limit"):
        await store.list_messages("t1", limit=0)
    with pytest.raises(TypeError, match="content"):
        await store.put(thread_id="t1", run_id="r1", event_type="x", category="message", content=float("nan"))
    assert store._engines is None  # never connected
    assert not (tmp_path / "never.db").exists()
    await store.close()


@pytest.mark.parametrize("kind", kind_params(("sqlite", "postgresql")))
async def test_schema_tables_and_indexes(kind, tmp_path):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        store = await storage.open()
        await store.put(thread_id="t1", run_id="r1", event_type="x", category="message")
        async with store._transaction(write=False) as conn:
            names = await conn.run_sync(
                lambda sync: __import__("sqlalchemy").inspect(sync).get_indexes("run_events")
            )
            version = await conn.scalar(sql_store.sa.select(sql_store.schema_table.c.version))
        assert {index["name"] for index in names} == {
            "run_events_by_category",
            "run_events_by_run",
            "run_events_by_run_category",
            "run_events_by_run_type",
        }
        assert version == sql_store.SCHEMA_VERSION
        again = await storage.open()  # the schema step is idempotent
        assert await again.count_messages("t1") == 1
    finally:
        await storage.close()


async def test_sqlite_queries_use_the_indexes(tmp_path):
    storage = StoreUnderTest("sqlite", tmp_path)
    try:
        store = await storage.open()
        await store.put(thread_id="t1", run_id="r1", event_type="x", category="message")
        queries = {
            "latest messages": "SELECT seq FROM run_events WHERE thread_id='t1' AND category='message' ORDER BY seq DESC LIMIT 50",
            "run events": "SELECT seq FROM run_events WHERE thread_id='t1' AND run_id='r1' AND seq > 3 ORDER BY seq LIMIT 50",
            "run messages": "SELECT seq FROM run_events WHERE thread_id='t1' AND run_id='r1' AND category='message' ORDER BY seq DESC LIMIT 5",
            "put_if_absent": "SELECT seq FROM run_events WHERE thread_id='t1' AND run_id='r1' AND event_type='x' ORDER BY seq LIMIT 1",
        }
        async with store._transaction(write=False) as conn:
            for name, query in queries.items():
                plan = " ".join(
                    str(row[-1]) for row in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}")
                )
                assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (name, plan)
                assert "TEMP B-TREE" not in plan, (name, plan)  # no sort: the index gives the order
    finally:
        await storage.close()


# -- many writer processes ------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from runlog.events import open_store

    url, worker, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

    async def main():
        store = open_store(url)
        out = []
        await asyncio.sleep(max(0.0, start_at - time.time()))  # all writers start together
        for i in range(30):
            ev = dict(thread_id=f"t{i % 2}", run_id=f"w{worker}", event_type="put", category="message", content=[worker, i])
            out.append(["put", await store.put(**ev)])
            if i % 10 == 0:
                batch = [dict(ev, event_type="batch", content=[worker, i, k], thread_id=f"t{k % 2}") for k in range(5)]
                out.append(["put_batch", await store.put_batch(batch)])
            if i == 15:
                once = dict(thread_id="t0", run_id="shared", event_type="once", category="lifecycle", content=worker)
                record, created = await store.put_if_absent(**once)
                out.append(["put_if_absent", [record, created]])
        if hasattr(store, "close"):
            await store.close()
        print(json.dumps(out))

    asyncio.run(main())
    """
)


def _run_writers(url: str, count: int, script: str = WRITER) -> list[list]:
    """Start ``count`` writer processes together; their outputs, in worker order."""
    start_at = time.time() + 3.0  # every process has imported and connected by then
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, str(w), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for w in range(count)
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        outputs.append(json.loads(out))
    return outputs


@pytest.mark.parametrize("kind", kind_params())
async def test_four_writer_processes(kind, tmp_path):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        store = await storage.open()
        await store.count_messages("t0")  # the schema exists before the writers race
        outputs = await asyncio.to_thread(_run_writers, storage.url, 4)
        acknowledged, once = [], []
        for output in outputs:
            for operation, result in output:
                if operation == "put":
                    acknowledged.append(result)
                elif operation == "put_batch":
                    acknowledged.extend(result)
                else:
                    once.append(result)
        # Per worker: 15 puts to each thread, 3 batches of 5 (3 events to t0, 2 to t1).
        expected = {"t0": 4 * (15 + 3 * 3), "t1": 4 * (15 + 3 * 2)}
        reader = await storage.open()
        for thread_id, count in expected.items():
            stored = await reader.list_messages(thread_id, limit=10_000)
            mine = sorted((r for r in acknowledged if r["thread_id"] == thread_id), key=lambda r: r["seq"])
            assert len(mine) == count
            assert stored == mine, f"{thread_id}: what was acknowledged is not what is stored"
            seqs = [r["seq"] for r in stored] + [
                r["seq"] for r in await reader.list_events(thread_id, "shared")
            ]
            assert sorted(seqs) == list(range(1, count + (thread_id == "t0") + 1)), (
                f"{thread_id}: seq gap or duplicate"
            )
        assert sum(created for _, created in once) == 1, once
        assert all(record == once[0][0] for record, _ in once), once
        assert await reader.list_events("t0", "shared") == [once[0][0]]
    finally:
        await storage.close()


def test_asyncpg_arguments_leave_nothing_to_read():
    arguments, advisory = sql_store._asyncpg_arguments(
        {
            "host": "127.0.0.1",
            "port": 5432,
            "user": "u",
            "database": "d",
            "search_path": "s1",
            "sslmode": "disable",
        }
    )
    assert arguments["server_settings"] == {"search_path": "s1"}
    assert arguments["ssl"] is False and not advisory
    assert arguments["password"] == ""  # explicit: asyncpg reads no password file
    assert "sslmode" not in arguments and "search_path" not in arguments
    preferred, advisory = sql_store._asyncpg_arguments({"host": "127.0.0.1", "user": "u", "database": "d"})
    assert preferred["ssl"] and advisory  # sslmode=prefer: a TLS context, with a plain fallback


def test_asyncpg_arguments_merge_url_settings_with_explicit_server_settings():
    arguments, _ = sql_store._asyncpg_arguments(
        {
            "host": "127.0.0.1",
            "user": "u",
            "database": "d",
            "search_path": "from_url",
            "application_name": "from_url",
            "server_settings": {"application_name": "explicit"},
            "sslmode": "disable",
        }
    )
    # Both kinds reach the server; a setting given both ways keeps the explicit value.
    assert arguments["server_settings"] == {"search_path": "from_url", "application_name": "explicit"}


def test_asyncpg_arguments_read_the_password_file_once(tmp_path):
    passfile = tmp_path / "pgpass"
    passfile.write_text("127.0.0.1:5432:d:u:from-the-file\n")
    passfile.chmod(0o600)  # a password file others can read is ignored, as libpq does
    arguments, _ = sql_store._asyncpg_arguments(
        {"host": "127.0.0.1", "port": 5432, "user": "u", "database": "d", "passfile": str(passfile)}
    )
    assert arguments["password"] == "from-the-file"
    assert "passfile" not in arguments  # asyncpg.connect would read it again, on the loop
    explicit, _ = sql_store._asyncpg_arguments(
        {"host": "127.0.0.1", "user": "u", "database": "d", "password": "given", "sslmode": "disable"}
    )
    assert explicit["password"] == "given"


@pytest.mark.parametrize(
    ("sslmode", "advisory"), [("disable", False), ("allow", True), ("prefer", True), ("require", False)]
)
def test_asyncpg_arguments_only_allow_and_prefer_fall_back_to_plain(sslmode, advisory):
    arguments, fallback = sql_store._asyncpg_arguments(
        {"host": "127.0.0.1", "user": "u", "database": "d", "sslmode": sslmode}
    )
    assert fallback is advisory
    assert bool(arguments["ssl"]) is (sslmode != "disable")  # require is TLS or nothing


@pytest.mark.parametrize("advisory", [True, False])
async def test_a_refused_tls_upgrade_falls_back_only_when_tls_was_advisory(monkeypatch, advisory):
    import asyncpg

    attempts = []

    async def connect(**arguments):
        attempts.append(arguments["ssl"])
        if arguments["ssl"]:
            raise ConnectionResetError("the server does not speak TLS")
        return "plain connection"

    monkeypatch.setattr(asyncpg, "connect", connect)
    arguments = {"host": "127.0.0.1", "ssl": "a TLS context"}
    if advisory:
        assert await sql_store._asyncpg_connect(arguments, True) == "plain connection"
        assert attempts == ["a TLS context", False]
    else:
        with pytest.raises(ConnectionResetError):
            await sql_store._asyncpg_connect(arguments, False)
        assert attempts == ["a TLS context"]


def test_repr_hides_the_password():
    store = SqlRunEventStore("postgresql+asyncpg://u:s3cret@127.0.0.1:5432/db")
    assert "s3cret" not in repr(store)
    assert repr(store) == "SqlRunEventStore('postgresql+asyncpg://u:***@127.0.0.1:5432/db')"


CONCURRENT_WRITER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from runlog.events import open_store

    url, worker, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

    async def produce(store, p, out):
        for i in range(12):
            ev = dict(thread_id=f"t{(p + i) % 2}", run_id=f"w{worker}p{p}", event_type="put", category="message",
                      content=[worker, p, i])
            out.append(["put", await store.put(**ev)])
            if i % 4 == 0:
                batch = [dict(ev, event_type="batch", content=[worker, p, i, k], thread_id=f"t{k % 2}") for k in range(3)]
                out.append(["put_batch", await store.put_batch(batch)])
            if i == 6:
                once = dict(thread_id="t0", run_id="shared", event_type="once", category="lifecycle", content=[worker, p])
                record, created = await store.put_if_absent(**once)
                out.append(["put_if_absent", [record, created]])

    async def main():
        store = open_store(url)
        await store.count_messages("t0")  # connected before the start
        await asyncio.sleep(max(0.0, start_at - time.time()))  # all writers start together
        outs = [[] for _ in range(16)]
        await asyncio.gather(*(produce(store, p, outs[p]) for p in range(16)))
        await store.close()
        print(json.dumps(outs))

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("kind", kind_params(("sqlite", "postgresql")))
async def test_four_writer_processes_of_sixteen_producers_each(kind, tmp_path):
    """The group commit across processes: each process's groups (of many producers, over both
    threads, batches among them) take the counter rows in one order, so four processes together
    give no seq twice and skip none, and put_if_absent creates its event once."""
    storage = StoreUnderTest(kind, tmp_path)
    try:
        await (await storage.open()).count_messages("t0")  # the schema exists before the writers race
        outputs = await asyncio.to_thread(_run_writers, storage.url, 4, CONCURRENT_WRITER)
        acknowledged, once = [], []
        for producers in outputs:
            for calls in producers:
                mine: dict[str, list[int]] = {}
                for operation, result in calls:
                    records = [result] if operation == "put" else result if operation == "put_batch" else []
                    if operation == "put_if_absent":
                        once.append(result)
                    for record in records:
                        acknowledged.append(record)
                        mine.setdefault(record["thread_id"], []).append(record["seq"])
                for seqs in mine.values():
                    assert seqs == sorted(seqs), "a producer's later call got an earlier seq"
        reader = await storage.open()
        for thread_id in ("t0", "t1"):
            stored = await reader.list_messages(thread_id, limit=100_000)
            mine = sorted((r for r in acknowledged if r["thread_id"] == thread_id), key=lambda r: r["seq"])
            assert stored == mine, f"{thread_id}: what was acknowledged is not what is stored"
            seqs = [r["seq"] for r in stored] + [
                r["seq"] for r in await reader.list_events(thread_id, "shared")
            ]
            assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"{thread_id}: seq gap or duplicate"
        # 4 processes x 16 producers: 12 puts and 3 batches of 3 each.
        assert len(acknowledged) == 4 * 16 * (12 + 3 * 3)
        assert sum(created for _, created in once) == 1, once
        assert all(record == once[0][0] for record, _ in once), once
    finally:
        await storage.close()
