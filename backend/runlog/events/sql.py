"""SQL run-event store over SQLAlchemy's asyncio API: SQLite embedded, PostgreSQL shared.

URLs: ``sqlite+aiosqlite:///path.db`` (one machine, several processes) and
``postgresql+asyncpg://user@host:port/db`` (several hosts). Every database
call is an awaited driver call (aiosqlite runs sqlite3 in its own thread,
asyncpg speaks the protocol on the loop): nothing here blocks the loop, and
the gate proves it on both drivers.

Tables (schema version ``SCHEMA_VERSION``, recorded in ``runlog_schema``):

* ``run_event_threads(thread_id, last_seq)``: the highest seq ever given in
  a thread. Every writer of a thread updates this row first in its
  transaction (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), which
  both hands out seqs and serialises the thread's writers across processes
  and hosts: the row lock (PostgreSQL) or the write lock (SQLite) is held
  until the events are in. ``delete_by_run`` leaves the row, so a deleted
  run leaves a gap; ``delete_by_thread`` removes it, so the thread starts over.
* ``run_events``: one row per event, keyed by ``(thread_id, seq)``, with an
  index for each query (latest messages, a run's events, a run's messages, a
  run's events of one type), so a page costs the same whatever the thread's
  length. ``content`` and ``metadata`` are stored as the JSON text the event
  was validated into; ``task_id`` holds the JSON text of ``metadata.task_id``.

Why ``put_if_absent`` serialises on the counter row rather than a unique
constraint: it must also find events written by ``put`` and ``put_batch``,
which may repeat a (run, type) pair, so no unique key can hold. Taking the
counter row first makes the look-up and the insert one step against every
other writer of the thread, in any process.

SQLite: the driver's own implicit transactions are turned off and the store
says ``BEGIN IMMEDIATE`` for writes (the write lock up front, so a read-then-
write never fails to upgrade), ``BEGIN`` for reads; WAL lets readers run
beside a writer; a busy timeout makes other processes' writers wait.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from runlog.events import base

SCHEMA_VERSION = 1
SCHEMA_COMPONENT = "run_events"
DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
# Other processes' writers hold SQLite's write lock for one transaction each.
SQLITE_BUSY_TIMEOUT_S = 30.0
# Serialises schema creation between processes on PostgreSQL (any constant).
_PG_SCHEMA_LOCK = 0x72756E6C6F67

_metadata = sa.MetaData()

schema_table = sa.Table(
    "runlog_schema",
    _metadata,
    sa.Column("component", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

threads_table = sa.Table(
    "run_event_threads",
    _metadata,
    sa.Column("thread_id", sa.String(128), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)

events_table = sa.Table(
    "run_events",
    _metadata,
    sa.Column("thread_id", sa.String(128), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("run_id", sa.String(128), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("task_id", sa.Text, nullable=True),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("run_events_by_category", "thread_id", "category", "seq"),
    sa.Index("run_events_by_run", "thread_id", "run_id", "seq"),
    sa.Index("run_events_by_run_category", "thread_id", "run_id", "category", "seq"),
    sa.Index("run_events_by_run_type", "thread_id", "run_id", "event_type", "seq"),
)

_E = events_table.c
_T = threads_table.c
_RECORD_COLUMNS = (
    _E.thread_id,
    _E.run_id,
    _E.seq,
    _E.event_type,
    _E.category,
    _E.content,
    _E.metadata,
    _E.created_at,
)


class SchemaVersionError(RuntimeError):
    """The database holds a run-event schema of a version this runlog does not know."""


def check_url(url: str | URL) -> URL:
    """Parse a SQL store URL; ValueError unless it names a supported async driver."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ValueError(f"not a SQLAlchemy URL: {url!r}") from exc
    if parsed.drivername not in DRIVERS:
        raise ValueError(
            f"SqlRunEventStore supports {' and '.join(d + '://' for d in DRIVERS)} URLs, "
            f"got {parsed.drivername}://"
        )
    return parsed


def _task_id_json(metadata: dict[str, Any]) -> str | None:
    return base.ENCODER.encode(metadata["task_id"]) if "task_id" in metadata else None


def _row(event: base.NewEvent, seq: int) -> dict[str, Any]:
    return {
        "thread_id": event.thread_id,
        "seq": seq,
        "run_id": event.run_id,
        "event_type": event.event_type,
        "category": event.category,
        "task_id": _task_id_json(event.metadata),
        "content": event.content_json,
        "metadata": event.metadata_json,
        "created_at": event.created_at,
    }


def _record(row: Sequence[Any]) -> dict[str, Any]:
    thread_id, run_id, seq, event_type, category, content, metadata, created_at = row
    return {
        "thread_id": thread_id,
        "run_id": run_id,
        "seq": int(seq),
        "event_type": event_type,
        "category": category,
        "content": base.DECODER.decode(content),
        "metadata": base.DECODER.decode(metadata),
        "created_at": created_at,
    }


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Runs inside SQLAlchemy's greenlet: each call below is an awaited
    # aiosqlite call, not sqlite3 on the loop.
    dbapi_connection.isolation_level = None  # the store says BEGIN itself
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get("runlog_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _asyncpg_arguments(connect_args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """asyncpg.connect's arguments with everything it would read from files resolved.

    asyncpg resolves a connection's password (``~/.pgpass``) and TLS files
    (``~/.postgresql/*``) inside ``connect``, on the loop, for every new
    connection. This runs its own resolution once, in a worker thread, and
    returns arguments that leave nothing to read: an explicit password and an
    explicit TLS context (or none). The flag says the TLS is only preferred
    (libpq's default ``sslmode=prefer``): a server without TLS gets a plain
    connection, as asyncpg itself would do.
    """
    import asyncpg
    from asyncpg import connect_utils

    # As in asyncpg's own DSNs, a URL parameter connect() does not take is a
    # server setting: ...?search_path=tenant_a sets the schema.
    accepted = inspect.signature(asyncpg.connect).parameters
    connect_args = dict(connect_args)
    settings = {
        k: str(connect_args.pop(k)) for k in list(connect_args) if k not in accepted and k != "sslmode"
    }
    if settings:
        connect_args["server_settings"] = {**settings, **connect_args.get("server_settings", {})}
    if "sslmode" in connect_args:  # libpq's name for what asyncpg.connect calls ssl
        connect_args.setdefault("ssl", connect_args["sslmode"])
    parse = connect_utils._parse_connect_dsn_and_args
    wanted = inspect.signature(parse).parameters
    _addresses, params = parse(**{name: connect_args.get(name) for name in wanted})
    resolved = {k: v for k, v in connect_args.items() if k not in ("sslmode", "passfile")}
    resolved["password"] = "" if params.password is None else params.password
    resolved["ssl"] = params.ssl or False
    advisory = bool(params.ssl) and params.sslmode.name in ("allow", "prefer")
    return resolved, advisory


async def _asyncpg_connect(arguments: dict[str, Any], advisory_tls: bool) -> Any:
    import asyncpg

    try:
        return await asyncpg.connect(**arguments)
    except ConnectionError:
        if not advisory_tls:
            raise
        # The server refused the TLS upgrade that sslmode=prefer only asked for.
        return await asyncpg.connect(**{**arguments, "ssl": False})


class SqlRunEventStore(base.StorageRunEventStore):
    """Run events in a SQL database (SQLite via aiosqlite, PostgreSQL via asyncpg).

    Connects and creates its schema on first use; ``async with`` does the
    same on entry and closes on exit; ``await close()`` releases the engine
    (a closed store refuses further calls). One store serves one event loop.
    ``engine_options`` go to ``create_async_engine`` (pool sizes, echo...).
    """

    def __init__(self, url: str | URL, **engine_options: Any) -> None:
        self.url = check_url(url)
        self.dialect = self.url.get_backend_name()  # "sqlite" or "postgresql"
        self._engine_options = engine_options
        self._engines: tuple[AsyncEngine, AsyncEngine] | None = None  # (reader, writer)
        self._closed = False
        self._schema_ready = False
        self._opening = asyncio.Lock()
        self._insert = sqlite.insert if self.dialect == "sqlite" else postgresql.insert

    def __repr__(self) -> str:
        return f"SqlRunEventStore({self.url.render_as_string(hide_password=True)!r})"

    # -- life cycle ------------------------------------------------------------

    async def __aenter__(self) -> SqlRunEventStore:
        async with self._transaction(write=False):
            pass
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Release every pooled connection; the store cannot be used afterwards."""
        self._closed = True
        engines, self._engines = self._engines, None
        if engines is not None:
            await engines[0].dispose()

    def _create_engines(self) -> tuple[AsyncEngine, AsyncEngine]:
        """Build the engine; runs in a worker thread (it resolves paths and reads driver config files)."""
        options = dict(self._engine_options)
        if self.dialect == "sqlite":
            connect_args = dict(options.get("connect_args", {}))
            connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
            options["connect_args"] = connect_args
            engine = create_async_engine(self.url, **options)
            sa_event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
            sa_event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        else:
            probe = create_async_engine(self.url)
            _args, probe_args = probe.sync_engine.dialect.create_connect_args(self.url)
            connect_args = {**probe_args, **options.pop("connect_args", {})}
            arguments, advisory = _asyncpg_arguments(connect_args)
            options["async_creator"] = functools.partial(_asyncpg_connect, arguments, advisory)
            engine = create_async_engine(self.url, **options)
        return engine, engine.execution_options(runlog_write=True)

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """One transaction, on a database whose schema this store knows."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self._engines is None or not self._schema_ready:
            async with self._opening:
                if self._engines is None:
                    self._engines = await asyncio.to_thread(self._create_engines)
                if not self._schema_ready:
                    await self._prepare_schema(self._engines[1])
                    self._schema_ready = True
        reader, writer = self._engines
        async with (writer if write else reader).begin() as conn:
            yield conn

    async def _prepare_schema(self, writer: AsyncEngine) -> None:
        """Create the tables on first use (idempotent, safe against other processes doing the same)."""
        async with writer.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
            await conn.run_sync(schema_table.create, checkfirst=True)
            found = await conn.scalar(
                sa.select(schema_table.c.version).where(schema_table.c.component == SCHEMA_COMPONENT)
            )
            if found is not None and found != SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{self!r}: the database holds run-event schema version {found}, this runlog "
                    f"knows version {SCHEMA_VERSION}; refusing to read or change it"
                )
            if found is None:
                await conn.run_sync(_metadata.create_all, tables=[threads_table, events_table])
                await conn.execute(
                    schema_table.insert().values(component=SCHEMA_COMPONENT, version=SCHEMA_VERSION)
                )

    # -- writing ---------------------------------------------------------------

    async def _claim(self, conn: AsyncConnection, thread_id: str, count: int) -> int:
        """Reserve ``count`` seqs of a thread (0: just lock its counter row); return the last."""
        upsert = self._insert(threads_table).values(thread_id=thread_id, last_seq=count)
        upsert = upsert.on_conflict_do_update(
            index_elements=[_T.thread_id], set_={"last_seq": _T.last_seq + count}
        )
        last: int = (await conn.execute(upsert.returning(_T.last_seq))).scalar_one()
        return last

    async def _put(self, event: base.NewEvent) -> dict[str, Any]:
        async with self._transaction(write=True) as conn:
            seq = await self._claim(conn, event.thread_id, 1)
            await conn.execute(events_table.insert(), [_row(event, seq)])
        return base.with_seq(event, seq)

    async def _put_batch(self, events: list[base.NewEvent]) -> list[dict[str, Any]]:
        # One transaction for every thread of the batch: it fails as a whole,
        # so this store never raises PartialBatchError.
        by_thread: dict[str, list[int]] = defaultdict(list)
        for index, event in enumerate(events):
            by_thread[event.thread_id].append(index)
        seqs = [0] * len(events)
        async with self._transaction(write=True) as conn:
            # Counter rows in one global order: two batches over the same
            # threads never wait on each other in a cycle.
            for thread_id in sorted(by_thread):
                indexes = by_thread[thread_id]
                last = await self._claim(conn, thread_id, len(indexes))
                for offset, index in enumerate(indexes):
                    seqs[index] = last - len(indexes) + 1 + offset
            await conn.execute(
                events_table.insert(), [_row(event, seq) for event, seq in zip(events, seqs, strict=True)]
            )
        return [base.with_seq(event, seq) for event, seq in zip(events, seqs, strict=True)]

    async def _put_if_absent(self, event: base.NewEvent) -> tuple[dict[str, Any], bool]:
        async with self._transaction(write=True) as conn:
            # First the counter row: every writer of the thread takes it
            # before writing, so from here to commit no one else can add
            # the event this looks for.
            await self._claim(conn, event.thread_id, 0)
            found = (
                await conn.execute(
                    sa.select(*_RECORD_COLUMNS)
                    .where(
                        _E.thread_id == event.thread_id,
                        _E.run_id == event.run_id,
                        _E.event_type == event.event_type,
                    )
                    .order_by(_E.seq)
                    .limit(1)
                )
            ).first()
            if found is not None:
                return _record(found), False
            seq = await self._claim(conn, event.thread_id, 1)
            await conn.execute(events_table.insert(), [_row(event, seq)])
        return base.with_seq(event, seq), True

    async def _delete_by_run(self, thread_id: str, run_id: str) -> int:
        async with self._transaction(write=True) as conn:
            deleted = await conn.execute(
                events_table.delete().where(_E.thread_id == thread_id, _E.run_id == run_id)
            )
        return deleted.rowcount

    async def _delete_by_thread(self, thread_id: str) -> int:
        async with self._transaction(write=True) as conn:
            # The counter row first: this waits for the thread's writers in
            # flight, so the delete below sees (and removes) their events
            # before the thread starts over at seq 1.
            await conn.execute(threads_table.delete().where(_T.thread_id == thread_id))
            deleted = await conn.execute(events_table.delete().where(_E.thread_id == thread_id))
        return deleted.rowcount

    # -- reading ---------------------------------------------------------------

    async def _page(
        self, where: list[sa.ColumnElement[bool]], limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]:
        query = sa.select(*_RECORD_COLUMNS).where(*where)
        if after_seq is not None:
            query = query.where(_E.seq > after_seq).order_by(_E.seq).limit(limit)
        else:
            if before_seq is not None:
                query = query.where(_E.seq < before_seq)
            query = query.order_by(_E.seq.desc()).limit(limit)
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(query)).all()
        records = [_record(row) for row in rows]
        if after_seq is None:
            records.reverse()  # fetched newest first
        return records

    async def _list_messages(
        self, thread_id: str, limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]:
        where = [_E.thread_id == thread_id, _E.category == base.MESSAGE_CATEGORY]
        return await self._page(where, limit, before_seq, after_seq)

    async def _list_messages_by_run(
        self, thread_id: str, run_id: str, limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]:
        where = [_E.thread_id == thread_id, _E.run_id == run_id, _E.category == base.MESSAGE_CATEGORY]
        return await self._page(where, limit, before_seq, after_seq)

    async def _list_events(
        self,
        thread_id: str,
        run_id: str,
        event_types: list[str] | None,
        task_id: str | None,
        limit: int,
        after_seq: int | None,
    ) -> list[dict[str, Any]]:
        query = sa.select(*_RECORD_COLUMNS).where(_E.thread_id == thread_id, _E.run_id == run_id)
        if after_seq is not None:
            query = query.where(_E.seq > after_seq)
        if event_types is not None:
            query = query.where(_E.event_type.in_(event_types))
        if task_id is not None:
            try:
                wanted = base.ENCODER.encode(task_id)
            except (TypeError, ValueError):
                return []  # no stored task_id (JSON) can equal a value JSON cannot encode
            query = query.where(_E.task_id == wanted)
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(query.order_by(_E.seq).limit(limit))).all()
        return [_record(row) for row in rows]

    async def _count_messages(self, thread_id: str) -> int:
        query = sa.select(sa.func.count()).where(
            _E.thread_id == thread_id, _E.category == base.MESSAGE_CATEGORY
        )
        async with self._transaction(write=False) as conn:
            count: int = (await conn.execute(query)).scalar_one()
        return count
