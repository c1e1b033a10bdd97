"""Group commit of the SQL stores (SQLite, PostgreSQL): concurrent puts and put_batches go out
together, in arrival order, each caller with its own records, one transaction per group; a failed
group fails each of its callers and leaves nothing; a cancelled caller cancels only its own wait.

A group's write is held still by making ``SqlRunEventStore._write`` wait for an ``asyncio.Event``
before it writes (the write itself is real), so a test can act while a group is taken and not yet
written. Every wait is bounded: a caller never answered fails the test after seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import pytest
import sqlalchemy as sa
from tests_blocking.anchors.stores import SKIP_POSTGRES, StoreUnderTest, driver_dsn, kind_params, postgres_url

from runlog.events import SqlRunEventStore, base, open_store
from runlog.events import sql as sql_store
from tests.executors import until
from tests.factories import event

SQL_KINDS = kind_params(("sqlite", "postgresql"))
needs_postgres = pytest.mark.skipif(postgres_url() is None, reason=SKIP_POSTGRES)
BOUND = 30  # seconds any single wait of these tests may take before it fails


@pytest.fixture(params=SQL_KINDS)
async def storage(request, tmp_path):
    storage = StoreUnderTest(request.param, tmp_path)
    try:
        yield storage
    finally:
        await storage.close()


def contents(records):
    return [r["content"] for r in records]


def flat(results):
    return [r for result in results for r in (result if isinstance(result, list) else [result])]


class Groups:
    """Records each group a store writes (per caller, its events' contents); ``hold()`` makes
    every group wait, taken and not yet written, until ``release()``."""

    def __init__(self, monkeypatch) -> None:
        self.taken: list[list[list[object]]] = []
        self.entered = asyncio.Event()
        self.released = asyncio.Event()
        self.released.set()
        original = SqlRunEventStore._write

        async def write(store, queue, group):
            self.taken.append([[e.content for e in w.events] for w in group.waiters])
            self.entered.set()
            await asyncio.wait_for(self.released.wait(), BOUND)
            return await original(store, queue, group)

        monkeypatch.setattr(SqlRunEventStore, "_write", write)

    def hold(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    async def wait_entered(self) -> None:
        await asyncio.wait_for(self.entered.wait(), BOUND)


def queue_of(store: SqlRunEventStore) -> sql_store._CommitQueue:
    return store._commit_queues[asyncio.get_running_loop()]


async def test_concurrent_callers_share_one_group_in_arrival_order(storage, monkeypatch):
    store = await storage.open()
    seed = await store.put(**event(content="seed"))
    groups = Groups(monkeypatch)
    calls = [store.put(**event(content=f"p{i}")) for i in range(10)]
    calls.insert(4, store.put_batch([event(content="b0"), event(content="b1", category="trace")]))
    results = await asyncio.wait_for(asyncio.gather(*calls), BOUND)
    assert groups.taken == [
        [["p0"], ["p1"], ["p2"], ["p3"], ["b0", "b1"], *([f"p{i}"] for i in range(4, 10))]
    ]
    records = flat(results)
    assert [r["seq"] for r in records] == list(range(2, 14))
    assert contents(records) == [f"p{i}" for i in range(4)] + ["b0", "b1"] + [f"p{i}" for i in range(4, 10)]
    assert results[4][1]["category"] == "trace"
    fresh = await storage.open()
    assert await fresh.list_events("t1", "r1", limit=100) == [seed, *records]


@needs_postgres
async def test_a_postgresql_group_is_one_statement_one_round_trip(tmp_path, monkeypatch):
    """Every caller of a group, on every thread of it: one statement, autocommitted (no BEGIN, no
    COMMIT), so one message to the server and one answer. The store before group commit made four
    round trips per put (BEGIN, the counter row, the insert, COMMIT)."""
    from asyncio import selector_events

    import asyncpg

    storage = StoreUnderTest("postgresql", tmp_path)
    try:
        store = await storage.open()
        await store.put_batch([event(thread_id=f"t{i}") for i in range(5)])  # connected and prepared
        calls: list[str] = []
        for name in ("fetch", "fetchrow", "fetchval", "execute", "executemany", "prepare", "transaction"):
            real = getattr(asyncpg.Connection, name)

            def spy(self, *args, _name=name, _real=real, **kwargs):
                calls.append(_name)
                return _real(self, *args, **kwargs)

            monkeypatch.setattr(asyncpg.Connection, name, spy)
        sent: list[bytes] = []
        write = selector_events._SelectorSocketTransport.write

        def counted(self, data):
            sent.append(bytes(data[:1]))
            return write(self, data)

        monkeypatch.setattr(selector_events._SelectorSocketTransport, "write", counted)
        results = await asyncio.wait_for(
            asyncio.gather(
                *(store.put(**event(thread_id=f"t{i % 5}", content=i)) for i in range(20)),
                store.put_batch([event(thread_id="t0"), event(thread_id="new")]),
            ),
            BOUND,
        )
        monkeypatch.undo()
        assert calls == ["fetch"]
        assert sent == [b"B"]  # Bind, Execute and Sync of the prepared statement, in one write
        assert [r["seq"] for r in results[:5]] == [2] * 5
        assert [r["seq"] for r in results[-1]] == [6, 1]
    finally:
        await storage.close()


async def test_a_sqlite_group_is_one_transaction_in_one_job_of_the_writer(tmp_path, monkeypatch):
    storage = StoreUnderTest("sqlite", tmp_path)
    try:
        store = await storage.open()
        await store.put(**event(content="seed"))
        engines = store._engines
        statements: list[str] = []
        connection = await asyncio.get_running_loop().run_in_executor(
            engines.sqlite.executor, store._sqlite, engines.sqlite
        )
        connection.set_trace_callback(statements.append)
        jobs = []
        original = SqlRunEventStore._sync_write_group

        def job(self, target, group):
            jobs.append(threading.current_thread().name)
            return original(self, target, group)

        monkeypatch.setattr(SqlRunEventStore, "_sync_write_group", job)
        await asyncio.wait_for(
            asyncio.gather(*(store.put(**event(thread_id=f"t{i % 3}", content=i)) for i in range(9))), BOUND
        )
        connection.set_trace_callback(None)
        assert jobs == ["runlog-sqlite-writer_0"]
        kinds = [s.split()[0] + (" RETURNING" if "RETURNING" in s else "") for s in statements]
        assert kinds == ["BEGIN", "INSERT RETURNING", *["INSERT"] * 9, "COMMIT"]
        assert statements[0] == "BEGIN IMMEDIATE"
    finally:
        await storage.close()


async def test_callers_arriving_during_a_write_form_the_next_group(storage, monkeypatch):
    store = await storage.open()
    await store.count_messages("t1")  # opened
    groups = Groups(monkeypatch)
    groups.hold()
    first = asyncio.ensure_future(store.put(**event(content="alone")))
    await groups.wait_entered()
    later = [asyncio.ensure_future(store.put(**event(content=f"n{i}"))) for i in range(5)]
    await asyncio.sleep(0.05)
    assert not first.done() and not any(t.done() for t in later)  # they wait for the group being written
    groups.release()
    assert (await asyncio.wait_for(first, BOUND))["seq"] == 1
    assert [(await asyncio.wait_for(t, BOUND))["seq"] for t in later] == [2, 3, 4, 5, 6]
    assert groups.taken == [[["alone"]], [[f"n{i}"] for i in range(5)]]


async def test_the_next_group_is_what_queued_during_the_write(storage, monkeypatch):
    """A group's callers are woken after the next group was taken: it holds the callers that
    queued while the write was under way, not those its answer lets put again."""
    store = await storage.open()
    await store.count_messages("t1")
    groups = Groups(monkeypatch)
    groups.hold()

    async def put_twice(tag):
        await store.put(**event(content=f"{tag}1"))
        return await store.put(**event(content=f"{tag}2"))

    twice = asyncio.ensure_future(put_twice("a"))
    await groups.wait_entered()
    queued = [asyncio.ensure_future(store.put(**event(content=f"q{i}"))) for i in range(2)]
    await asyncio.sleep(0)
    groups.release()
    assert (await asyncio.wait_for(twice, BOUND))["seq"] == 4
    assert [(await t)["seq"] for t in queued] == [2, 3]
    assert groups.taken == [[["a1"]], [["q0"], ["q1"]], [["a2"]]]


async def test_a_failed_group_fails_each_of_its_callers_and_leaves_nothing(storage):
    store = await storage.open()
    seed = await store.put(**event(content="seed"))
    if storage.kind == "sqlite":
        await storage.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON run_events WHEN NEW.content = '\"poison\"' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )
    else:
        await storage.execute(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.content = '\"poison\"' "
            "THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        await storage.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON run_events FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            store.put(**event(content="a")),
            store.put(**event(thread_id="t2", content="b")),
            store.put_batch([event(content="c"), event(thread_id="t3", content="poison")]),
            store.put(**event(content="d")),
            return_exceptions=True,
        ),
        BOUND,
    )
    assert all(outcome is outcomes[0] for outcome in outcomes)  # one group, one error, every caller
    assert isinstance(outcomes[0], sa.exc.DBAPIError) and "poisoned" in str(outcomes[0])
    fresh = await storage.open()
    assert await fresh.list_events("t1", "r1") == [seed]
    assert await fresh.list_events("t2", "r1") == await fresh.list_events("t3", "r1") == []
    # Nothing of the group stayed, its counter rows included: the next seqs follow the seed.
    after = await store.put_batch([event(content="e"), event(thread_id="t2", content="f")])
    assert [r["seq"] for r in after] == [2, 1]


async def test_a_caller_cancelled_before_its_group_is_taken_is_never_written(storage):
    store = await storage.open()
    await store.count_messages("t1")
    callers = [asyncio.ensure_future(store.put(**event(content=f"c{i}"))) for i in range(3)]
    await asyncio.sleep(0)  # every caller queued; the writer takes them at its first step, after this
    callers[1].cancel()
    done = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), BOUND)
    assert isinstance(done[1], asyncio.CancelledError)
    assert [done[0]["seq"], done[2]["seq"]] == [1, 2]
    assert contents(await (await storage.open()).list_events("t1", "r1")) == ["c0", "c2"]
    assert queue_of(store).pending == []


async def test_a_caller_cancelled_while_its_group_is_written_cancels_only_its_wait(storage, monkeypatch):
    store = await storage.open()
    await store.count_messages("t1")
    groups = Groups(monkeypatch)
    groups.hold()
    first = asyncio.ensure_future(store.put_batch([event(content="first"), event(content="second")]))
    await groups.wait_entered()  # taken: its group is on its way
    behind = asyncio.ensure_future(store.put(**event(content="behind")))
    await asyncio.sleep(0)
    first.cancel()
    groups.release()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (await asyncio.wait_for(behind, BOUND))["seq"] == 3
    # Taken before the cancellation reached it: written, whole.
    assert contents(await (await storage.open()).list_events("t1", "r1")) == ["first", "second", "behind"]


async def test_the_caller_that_started_the_writer_cancelled_while_its_group_waits_for_the_database(
    storage, monkeypatch
):
    """The writer's job waits (SQLite: the writer thread is busy; PostgreSQL: a new connection is
    on its way) when the caller whose put started the writer is cancelled: the group is written
    all the same and every other caller answered; none waits forever."""
    store = await storage.open()
    await store.put(**event(content="seed"))
    engines = store._engines
    released = threading.Event()
    if storage.kind == "sqlite":
        busy = asyncio.get_running_loop().run_in_executor(engines.sqlite.executor, released.wait, BOUND)
    else:
        queue = queue_of(store)
        for conn in queue.connections:  # the next group must connect anew
            await conn.close()
        queue.connections.clear()
        connect = engines.connect

        async def slow_connect():
            assert await asyncio.to_thread(released.wait, BOUND), "the test never let the connection through"
            return await connect()

        store._engines = dataclasses.replace(engines, connect=slow_connect)
        busy = None
    callers = [asyncio.ensure_future(store.put(**event(content=f"c{i}"))) for i in range(3)]
    await until(lambda: queue_of(store).writing == {"t1"}, "the writer took the group")
    callers[0].cancel()
    later = asyncio.ensure_future(store.put(**event(content="later")))
    await asyncio.sleep(0.05)
    assert not any(c.done() for c in callers[1:]) and not later.done()
    released.set()
    if busy is not None:
        assert await asyncio.wait_for(busy, BOUND)
    with pytest.raises(asyncio.CancelledError):
        await callers[0]
    assert [(await asyncio.wait_for(c, BOUND))["seq"] for c in callers[1:]] == [3, 4]
    assert (await asyncio.wait_for(later, BOUND))["seq"] == 5
    stored = contents(await (await storage.open()).list_events("t1", "r1"))
    assert stored == ["seed", "c0", "c1", "c2", "later"]


async def test_a_writer_cancelled_mid_write_answers_its_callers_and_strands_none(storage, monkeypatch):
    """Only the loop's end cancels a writer task: its group's callers are told their events may or
    may not be stored; callers queued behind get a writer of their own."""
    store = await storage.open()
    await store.count_messages("t1")
    groups = Groups(monkeypatch)
    groups.hold()
    first = asyncio.ensure_future(store.put(**event(content="first")))
    await groups.wait_entered()
    behind = asyncio.ensure_future(store.put(**event(content="behind")))
    await asyncio.sleep(0)
    (writer,) = queue_of(store).writers
    writer.cancel()
    with pytest.raises(RuntimeError, match="may or may not be stored"):
        await asyncio.wait_for(first, BOUND)
    groups.release()
    assert (await asyncio.wait_for(behind, BOUND))["seq"] == 1  # the held group never reached the database
    assert contents(await (await storage.open()).list_events("t1", "r1")) == ["behind"]
    queue = queue_of(store)
    await until(lambda: not queue.writers, "the writers ended")
    assert (queue.pending, queue.writing, queue.taking) == ([], set(), 0)


async def test_close_waits_for_the_groups_queued_before_it(storage, monkeypatch):
    store = await storage.open()
    await store.count_messages("t1")
    groups = Groups(monkeypatch)
    groups.hold()
    first = asyncio.ensure_future(store.put(**event(content="first")))
    await groups.wait_entered()
    queued = [asyncio.ensure_future(store.put(**event(content=f"q{i}"))) for i in range(3)]
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(store.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # the groups are not written yet
    with pytest.raises(RuntimeError, match="is closed"):
        await store.put(**event(content="too late"))
    groups.release()
    await asyncio.wait_for(closing, BOUND)
    assert [t.result()["seq"] for t in (first, *queued)] == [1, 2, 3, 4]
    assert contents(await (await storage.open()).list_events("t1", "r1")) == ["first", "q0", "q1", "q2"]


async def test_put_if_absent_is_atomic_against_the_groups_writes(storage):
    """put_if_absent takes the thread's counter row (SQLite: the write lock) before it looks, as a
    group does before it writes: whichever goes first, the event it returns is the thread's first
    of that run and type, and it creates one only if there was none."""
    store = await storage.open()
    await store.count_messages("t1")
    for round_no in range(8):
        kind = f"k{round_no}"
        calls = []
        for i in range(6):
            once = event(run_id="once", event_type=kind, content=f"{kind}-{i}")
            calls.append(store.put_if_absent(**once) if i % 2 else store.put(**once))
        results = await asyncio.wait_for(asyncio.gather(*calls), BOUND)
        stored = await store.list_events("t1", "once", event_types=[kind])
        created = [record for record, made in results[1::2] if made]
        assert len(stored) == 3 + len(created) and len(created) <= 1
        assert all(record == stored[0] for record, _ in results[1::2])


async def test_a_text_the_database_cannot_store_fails_its_caller_not_its_group(storage):
    store = await storage.open()
    await store.count_messages("t1")
    bad = ["user\ud800", "user\x00"]
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            store.put(**event(content="before")),
            *(store.put(**event(event_type=t)) for t in bad),
            store.put_batch([event(content="batched"), event(category=bad[-1])]),
            store.put(**event(content="after")),
            return_exceptions=True,
        ),
        BOUND,
    )
    assert all(isinstance(o, ValueError) for o in outcomes[1:-1])
    assert "must not hold" in str(outcomes[1])
    assert [outcomes[0]["seq"], outcomes[-1]["seq"]] == [1, 2]


async def test_many_producers_on_a_few_threads(storage, monkeypatch):
    store = await storage.open()
    await store.count_messages("t0")
    groups = Groups(monkeypatch)
    acknowledged: dict[int, list[dict]] = {}

    async def produce(p: int) -> None:
        acknowledged[p] = [
            await store.put(**event(thread_id=f"t{p % 8}", run_id=f"p{p}", content=i)) for i in range(10)
        ]

    await asyncio.wait_for(asyncio.gather(*(produce(p) for p in range(64))), BOUND * 4)
    assert len(groups.taken) < 64 * 10 / 4  # they went out in groups
    fresh = await storage.open()
    for t in range(8):
        stored = await fresh.list_messages(f"t{t}", limit=1000)
        assert [r["seq"] for r in stored] == list(range(1, 81))
        mine = sorted((r for p in range(t, 64, 8) for r in acknowledged[p]), key=lambda r: r["seq"])
        assert stored == mine
    for records in acknowledged.values():
        assert [r["content"] for r in records] == list(range(10))  # each producer's puts in its order


async def test_a_group_holds_at_most_group_events(storage, monkeypatch):
    monkeypatch.setattr(sql_store, "GROUP_EVENTS", 5)
    store = await storage.open()
    await store.count_messages("t1")
    groups = Groups(monkeypatch)
    batches = [[event(content=f"b{n}.{k}") for k in range(3)] for n in range(4)]
    results = await asyncio.wait_for(asyncio.gather(*(store.put_batch(b) for b in batches)), BOUND)
    assert [len(g) for g in groups.taken] == [2, 2]  # 3 + 3 events reach the bound: the rest waits
    assert [r["seq"] for r in flat(results)] == list(range(1, 13))


def _waiter(loop, *threads):
    events = [base.build_event(**event(thread_id=t)) for t in threads]
    return sql_store._Waiter(events, frozenset(threads), loop.create_future())


async def test_a_caller_left_out_of_a_group_holds_back_the_later_callers_of_its_threads():
    loop = asyncio.get_running_loop()
    queue = sql_store._CommitQueue(loop, 2)
    queue.writing = {"b"}  # a group of thread b is in flight
    first, both, after, other, gone = (
        _waiter(loop, "a"),
        _waiter(loop, "a", "b"),
        _waiter(loop, "a"),
        _waiter(loop, "c"),
        _waiter(loop, "c"),
    )
    gone.future.cancel()
    queue.pending = [first, both, after, gone, other]
    group = queue.take()
    assert group is not None and group.waiters == [first, other]
    assert queue.pending == [both, after]  # after waits for both, which waits for b
    assert queue.writing == {"a", "b", "c"}
    assert queue.take() is None


@needs_postgres
async def test_postgresql_writes_of_many_producers_take_few_connections(tmp_path, monkeypatch):
    """However many producers write at once, the groups take at most PG_GROUPS_IN_FLIGHT
    connections of their own; the engine's pool (here one connection) is left to reads."""
    storage = StoreUnderTest("postgresql", tmp_path)
    try:
        await storage.open()
        store = storage.track(SqlRunEventStore(storage.url, pool_size=1, max_overflow=0, pool_timeout=BOUND))
        await store.count_messages("t0")
        connects = []
        connect = store._engines.connect

        async def counted():
            connects.append(1)
            return await connect()

        store._engines = dataclasses.replace(store._engines, connect=counted)

        async def produce(p: int) -> None:
            for i in range(5):
                await store.put(**event(thread_id=f"t{p}", content=i))
                assert await store.count_messages(f"t{p}") == i + 1

        await asyncio.wait_for(asyncio.gather(*(produce(p) for p in range(64))), BOUND * 4)
        assert 1 <= len(connects) <= sql_store.PG_GROUPS_IN_FLIGHT
        assert len(queue_of(store).connections) <= sql_store.PG_GROUPS_IN_FLIGHT
    finally:
        await storage.close()


# -- the SQLite durability setting ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "keyword", "expected"),
    [
        ("", None, "full"),
        ("?synchronous=normal", None, "normal"),
        ("?synchronous=FULL", None, "full"),
        ("", "normal", "normal"),
        ("", "Full", "full"),
        ("?synchronous=normal", "NORMAL", "normal"),
    ],
)
def test_sqlite_durability_comes_from_the_url_or_the_keyword(tmp_path, query, keyword, expected):
    url = f"sqlite+aiosqlite:///{tmp_path}/events.db{query}"
    assert SqlRunEventStore(url, synchronous=keyword).synchronous == expected
    if keyword is None:
        assert open_store(url).synchronous == expected


@pytest.mark.parametrize(
    ("url", "keyword", "message"),
    [
        (
            "sqlite+aiosqlite:///e.db?synchronous=off",
            None,
            r"synchronous must be one of 'full', 'normal'.*'off'",
        ),
        ("sqlite+aiosqlite:///e.db", "extra", r"synchronous must be one of 'full', 'normal'.*'extra'"),
        ("sqlite+aiosqlite:///e.db", 1, r"synchronous must be one of .* got 1"),
        (
            "sqlite+aiosqlite:///e.db?synchronous=full",
            "normal",
            "'full' in the URL and 'normal' as a keyword",
        ),
        ("sqlite+aiosqlite:///e.db?synchronous=full&synchronous=normal", None, "given 2 times"),
        ("postgresql+asyncpg://u@h/db?synchronous=full", None, "synchronous_commit"),
        ("postgresql+asyncpg://u@h/db", "full", "synchronous_commit"),
        ("sqlite+aiosqlite://", None, "use memory:"),
        ("sqlite+aiosqlite:///:memory:", None, "use memory:"),
    ],
)
def test_a_durability_setting_the_store_cannot_honour_is_refused(url, keyword, message):
    with pytest.raises(ValueError, match=message):
        SqlRunEventStore(url, synchronous=keyword)


@pytest.mark.parametrize(("setting", "pragma"), [(None, 2), ("full", 2), ("normal", 1)])
async def test_every_sqlite_connection_runs_with_the_durability_setting(tmp_path, setting, pragma):
    query = "" if setting is None else f"?synchronous={setting}"
    store = SqlRunEventStore(f"sqlite+aiosqlite:///{tmp_path}/events.db{query}")
    try:
        assert (await store.put(**event()))["seq"] == 1
        engines = store._engines

        def writer_pragmas():
            conn = store._sqlite(engines.sqlite)
            return conn.execute("PRAGMA synchronous").fetchone()[0], conn.execute(
                "PRAGMA journal_mode"
            ).fetchone()[0]

        assert await asyncio.get_running_loop().run_in_executor(engines.sqlite.executor, writer_pragmas) == (
            pragma,
            "wal",
        )
        async with store._transaction(write=False) as conn:
            assert await conn.scalar(sa.text("PRAGMA synchronous")) == pragma
        assert (await store.list_messages("t1"))[0]["seq"] == 1
    finally:
        await store.close()


async def until_backend_gone(pid: int) -> None:
    """Wait (bounded) until the PostgreSQL server process ``pid`` has ended."""
    import asyncpg

    watcher = await asyncpg.connect(driver_dsn(postgres_url()))
    try:
        deadline = asyncio.get_running_loop().time() + BOUND
        while await watcher.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            assert asyncio.get_running_loop().time() < deadline, f"server process {pid} never ended"
            await asyncio.sleep(0.02)
    finally:
        await watcher.close()


@needs_postgres
async def test_a_postgresql_writer_cancelled_while_its_statement_runs(tmp_path):
    """The loop's end cancels a writer whose statement the server is running (a trigger makes it
    last): its connection is cut off (its state is unknown), its callers told their events may or
    may not be stored, and the group is in the database whole or not at all."""
    storage = StoreUnderTest("postgresql", tmp_path)
    try:
        store = await storage.open()
        await store.put(**event(content="seed"))
        await storage.execute(
            "CREATE FUNCTION slow() RETURNS trigger AS $$ BEGIN IF NEW.content = '\"slow\"' "
            "THEN PERFORM pg_sleep(0.5); END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        await storage.execute(
            "CREATE TRIGGER slow BEFORE INSERT ON run_events FOR EACH ROW EXECUTE FUNCTION slow()"
        )
        queue = queue_of(store)
        (conn,) = queue.connections
        server_pid = conn.get_server_pid()
        callers = [
            asyncio.ensure_future(store.put(**event(content="slow"))),
            asyncio.ensure_future(store.put(**event(thread_id="t2", content="other"))),
        ]
        await until(lambda: not queue.connections, "the group's statement is on its way")
        await asyncio.sleep(0.1)  # the server is in the trigger's sleep
        (writer,) = queue.writers
        writer.cancel()
        for caller in callers:
            with pytest.raises(RuntimeError, match="may or may not be stored"):
                await asyncio.wait_for(caller, BOUND)
        assert conn.is_closed()
        # The server goes on with a statement whose client was cut off (here, to the trigger's
        # end) and may commit it later: the outcome is settled once the server process that ran
        # it is gone. Read before that, each thread's listing may see a different outcome.
        await until_backend_gone(server_pid)
        fresh = await storage.open()
        stored = contents(await fresh.list_events("t1", "r1")) + contents(await fresh.list_events("t2", "r1"))
        assert stored in (["seed"], ["seed", "slow", "other"])
        after = await store.put(**event(content="after"))
        assert after["seq"] == len(await fresh.list_events("t1", "r1"))
    finally:
        await storage.close()


@needs_postgres
async def test_close_cuts_off_a_group_connection_that_does_not_close(tmp_path):
    storage = StoreUnderTest("postgresql", tmp_path)
    try:
        store = await storage.open()
        await store.put(**event())
        (conn,) = queue_of(store).connections
        terminated = []

        class Stuck:
            async def close(self):
                raise ConnectionResetError("gone")

            def terminate(self):
                terminated.append(True)
                conn.terminate()

        queue_of(store).connections[:] = [Stuck()]
        await store.close()
        assert terminated == [True] and conn.is_closed()
    finally:
        await storage.close()


async def test_close_writes_callers_queued_with_no_writer(storage):
    """A safety net: were a caller ever queued with no writer to take it, close() starts one."""
    store = await storage.open()
    assert (await store.put(**event(thread_id="t0")))["seq"] == 1  # the loop's queue exists
    queue = queue_of(store)
    waiter = sql_store._Waiter(
        [base.build_event(**event(content="orphan"))],
        frozenset(("t1",)),
        asyncio.get_running_loop().create_future(),
    )
    queue.pending.append(waiter)
    await asyncio.wait_for(store.close(), BOUND)
    assert waiter.future.result()[0]["seq"] == 1
    assert contents(await (await storage.open()).list_events("t1", "r1")) == ["orphan"]


async def test_a_writer_cancelled_before_its_first_step_strands_no_caller(storage):
    store = await storage.open()
    await store.put(**event(content="seed"))
    caller = asyncio.ensure_future(store.put(**event(content="queued")))
    await asyncio.sleep(0)  # the caller queued and started a writer, which has not run yet
    queue = queue_of(store)
    (writer,) = queue.writers
    writer.cancel()
    assert (await asyncio.wait_for(caller, BOUND))["seq"] == 2  # taken by the writer started in its place
    await until(lambda: not queue.writers, "the writers ended")
    assert (queue.pending, queue.writing, queue.taking) == ([], set(), 0)
    assert (await store.put(**event(content="after")))["seq"] == 3


async def test_the_pool_options_of_the_docs_reach_the_engine(storage):
    """docs: ``SqlRunEventStore(url, pool_size=4, max_overflow=4)``, 4 + 4 pooled connections
    beside the groups' own."""
    await storage.open()  # PostgreSQL: the test's schema
    store = storage.track(SqlRunEventStore(storage.url, pool_size=4, max_overflow=4))
    assert (await store.put(**event()))["seq"] == 1
    pool = store._engines.reader.pool
    assert (pool.size(), pool._max_overflow) == (4, 4)


async def test_a_writer_that_fails_before_its_group_fails_the_queued_callers_at_once(storage, monkeypatch):
    """A writer that raises outside a group's write (a defect, or a blocking call a gate caught in
    it) fails the callers it left queued, nothing of theirs written, instead of a writer started
    after writer that never answers them; the next caller starts a sound one."""
    store = await storage.open()
    await store.put(**event(content="seed"))
    queue = queue_of(store)
    await until(lambda: not queue.writers, "the seed's writer ended")
    take = sql_store._CommitQueue.take
    calls = []

    def failing_take(self):
        calls.append(1)
        raise OSError("the writer broke")

    monkeypatch.setattr(sql_store._CommitQueue, "take", failing_take)
    callers = [asyncio.ensure_future(store.put(**event(content=f"c{i}"))) for i in range(3)]
    done = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), BOUND)
    assert [type(result) for result in done] == [OSError] * 3
    assert calls == [1]  # one writer failed; none was started in its place
    assert (queue.pending, queue.writers, queue.writing, queue.taking) == ([], set(), set(), 0)
    monkeypatch.setattr(sql_store._CommitQueue, "take", take)
    assert (await store.put(**event(content="after")))["seq"] == 2
    assert contents(await store.list_events("t1", "r1")) == ["seed", "after"]


async def test_a_writer_that_fails_after_a_write_still_answers_its_callers(storage, monkeypatch):
    """The group is written when answering it fails: the writer's last act gives its callers
    their records, and the next caller starts a sound writer."""
    store = await storage.open()
    answer = sql_store.SqlRunEventStore._answer
    calls = []

    def failing_answer(group, outcome):
        calls.append(outcome)
        if len(calls) == 1:  # the answer after the write; the writer's finally answers again
            raise OSError("answering broke")
        answer(group, outcome)

    monkeypatch.setattr(sql_store.SqlRunEventStore, "_answer", staticmethod(failing_answer))
    record = await asyncio.wait_for(store.put(**event(content="written")), BOUND)
    assert (record["seq"], len(calls)) == (1, 2)
    queue = queue_of(store)
    await until(lambda: not queue.writers, "the failed writer ended")
    assert (queue.pending, queue.writing, queue.taking) == ([], set(), 0)
    assert (await store.put(**event(content="after")))["seq"] == 2
    assert contents(await store.list_events("t1", "r1")) == ["written", "after"]


async def test_a_failed_writer_leaves_a_caller_that_came_after_it_to_the_writer_it_started(
    storage, monkeypatch
):
    """Between a writer's failure and its done callback, a caller may queue and start a writer of
    its own (the caller the failed writer answered can put again at once): the new writer takes
    what is queued, the callers the failed one left included; none gets the old writer's error."""
    store = await storage.open()
    await store.put(**event(content="seed"))
    queue = queue_of(store)
    await until(lambda: not queue.writers, "the seed's writer ended")
    take = sql_store._CommitQueue.take
    ended = sql_store.SqlRunEventStore._writer_ended
    late: list[sql_store._Waiter] = []

    def failing_take(self):
        monkeypatch.setattr(sql_store._CommitQueue, "take", take)  # the next writer's are sound
        raise OSError("the writer broke")

    def ended_after_a_late_caller(self, queue, started, writer):
        if not late:  # the late caller queues, as _commit does, and starts a writer
            late.append(
                sql_store._Waiter(
                    [base.build_event(**event(content="late"))],
                    frozenset(("t1",)),
                    asyncio.get_running_loop().create_future(),
                )
            )
            queue.pending.append(late[0])
            self._start_writer(queue)
        ended(self, queue, started, writer)

    monkeypatch.setattr(sql_store._CommitQueue, "take", failing_take)
    monkeypatch.setattr(sql_store.SqlRunEventStore, "_writer_ended", ended_after_a_late_caller)
    first = await asyncio.wait_for(store.put(**event(content="first")), BOUND)
    assert (first["seq"], (await asyncio.wait_for(late[0].future, BOUND))[0]["seq"]) == (2, 3)
    assert contents(await store.list_events("t1", "r1")) == ["seed", "first", "late"]
