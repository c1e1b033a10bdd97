"""SQL run-event store over SQLAlchemy's asyncio API: SQLite embedded, PostgreSQL shared.

URLs: ``sqlite+aiosqlite:///path.db`` (one machine, several processes) and
``postgresql+asyncpg://user@host:port/db`` (several hosts). Nothing here
blocks the loop, and the gate proves it on both drivers: PostgreSQL is spoken
by asyncpg on the loop, SQLite's reads go through aiosqlite (sqlite3 in its
own thread) and its writes through one sqlite3 connection in one thread of
the store's own (``_SqliteWriter``), each write one offload.

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

Group commit: ``put`` and ``put_batch`` queue their events (``_Waiter``) on
the store's commit queue (one per event loop) and wait for their answer. A
caller that finds no writer task about to take the queue starts one
(``_flush``, while fewer than the store's limit are running); at its first
step, one turn of the loop later, the callers started with the first have
queued too. A writer takes every queued caller whose threads have no group in
flight (in arrival order; a caller left out holds back the later callers of
its threads, so a thread's callers get their seqs in arrival order) and
writes them, as one group, in one transaction, every thread of it together,
with one commit (one WAL flush), its counter rows taken in sorted order (the
order of every writer, in every process, so no two wait for each other in a
cycle):

* PostgreSQL: one statement (``_PG_GROUP``), autocommitted, so one round
  trip: a data-modifying CTE adds each thread's count to its counter row and
  returns the new ``last_seq``, and inserts every event with ``last_seq`` less
  its place from the end (the columns sent as arrays, one per column; the
  statement is prepared once per connection). Groups of disjoint threads may
  be in flight at once (``PG_GROUPS_IN_FLIGHT``), each on its own connection.
* SQLite: one job in the writer thread (``_sync_write_group``): ``BEGIN
  IMMEDIATE``, the counter rows by one ``INSERT ... ON CONFLICT ... RETURNING``,
  the events by one ``executemany``, ``COMMIT``. One group at a time: SQLite
  has one writer anyway.

Each caller gets its own records and seqs. A group that fails leaves nothing
(its transaction is rolled back) and fails each of its callers with the
error. The writer task, not a caller, runs the transaction and answers every
caller, so a cancelled caller cancels nothing but its own wait: a caller
cancelled before its group was taken is dropped from the queue and nothing
of it is written; one cancelled later has its events written or not with its
whole group, never in part, and the others are answered all the same. When
a group ends, the writer takes what queued meanwhile before it wakes the
group's callers: the next group is what arrived while this one was written;
if nothing did, it waits one turn for them (a lone producer puts again at
once) and ends when a turn brings nothing. ``close()`` waits for the groups
queued before it.

Why ``put_if_absent`` serialises on the counter row rather than a unique
constraint: it must also find events written by ``put`` and ``put_batch``,
which may repeat a (run, type) pair, so no unique key can hold. Taking the
counter row first makes the look-up and the insert one step against every
other writer of the thread, groups included, in any process (on SQLite the
write lock, taken by ``BEGIN IMMEDIATE``, does the same).

SQLite: the driver's own implicit transactions are turned off and the store
says ``BEGIN IMMEDIATE`` for writes (the write lock up front, so a read-then-
write never fails to upgrade), ``BEGIN`` for reads; WAL lets readers run
beside a writer; a busy timeout makes other processes' writers wait.
Durability: ``synchronous`` (``?synchronous=normal`` in the URL, or the
keyword), ``full`` by default: with ``full`` every commit is on stable storage
before it returns; with ``normal`` a commit survives the process being killed
but the last ones may be rolled back by a power failure or an OS crash
(never half of one: each group is one transaction).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sqlite3
import sys
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from runlog.events import base
from runlog.redact import hide_password

T = TypeVar("T")

SCHEMA_VERSION = 1
SCHEMA_COMPONENT = "run_events"
DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
# Other processes' writers hold SQLite's write lock for one transaction each.
SQLITE_BUSY_TIMEOUT_S = 30.0
# Serialises schema creation between processes on PostgreSQL (any constant).
_PG_SCHEMA_LOCK = 0x72756E6C6F67
# SQLite's PRAGMA synchronous values the store takes (WAL mode); the first is the default.
SYNCHRONOUS = ("full", "normal")
# Groups of disjoint threads a PostgreSQL store has in flight at once, each on a connection of
# its own; SQLite writes one group at a time (one writer per database).
PG_GROUPS_IN_FLIGHT = 2
CLOSE_TIMEOUT_S = 10.0  # a group connection that does not close gracefully in time is cut off
# A group takes queued callers until it holds this many events (at least one caller): a
# statement's size stays bounded however many producers wait.
GROUP_EVENTS = 10_000
_GROUP_CANCELLED = (
    "the write of this call's group was cancelled (the event loop is ending): "
    "its events may or may not be stored"
)

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
# base.event_chars in SQL: content and metadata are ASCII JSON text, length() counts characters.
_EVENT_CHARS = (
    sa.func.length(_E.content)
    + sa.func.length(_E.metadata)
    + sa.func.length(_E.event_type)
    + sa.func.length(_E.category)
    + sa.func.length(_E.created_at)
)
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
    """Parse a SQL store URL; ValueError unless it names a supported async driver (never showing a password)."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        # Not chained: SQLAlchemy's message quotes the URL, password and all.
        shown = hide_password(url) if isinstance(url, str) else url.render_as_string(hide_password=True)
        reason = "" if isinstance(exc, sa.exc.ArgumentError) else f" ({exc})"
        raise ValueError(f"not a SQLAlchemy URL: {shown!r}{reason}") from None
    if parsed.drivername not in DRIVERS:
        raise ValueError(
            f"SqlRunEventStore supports {' and '.join(d + '://' for d in DRIVERS)} URLs, "
            f"got {parsed.drivername}://"
        )
    return parsed


def check_synchronous(url: URL, synchronous: str | None) -> str | None:
    """The SQLite durability setting a URL (``?synchronous=``) and the keyword ask for.

    ``full`` unless given; ValueError for another value, for two that differ,
    and for a PostgreSQL URL (its setting is the server's ``synchronous_commit``).
    None for PostgreSQL.
    """
    from_url = url.query.get("synchronous")
    if url.get_backend_name() != "sqlite":
        if from_url is not None or synchronous is not None:
            raise ValueError(
                "synchronous is SQLite's durability setting; PostgreSQL's is the server setting "
                "synchronous_commit (postgresql+asyncpg://.../db?synchronous_commit=on)"
            )
        return None
    if isinstance(from_url, tuple):
        raise ValueError(f"synchronous is given {len(from_url)} times in the URL: {list(from_url)}")
    for given in (from_url, synchronous):
        if given is not None and (not isinstance(given, str) or given.lower() not in SYNCHRONOUS):
            raise ValueError(
                f"synchronous must be one of {', '.join(map(repr, SYNCHRONOUS))} (SQLite's PRAGMA "
                f"synchronous in WAL mode), got {given!r}"
            )
    if from_url is not None and synchronous is not None and from_url.lower() != synchronous.lower():
        raise ValueError(
            f"synchronous is {from_url!r} in the URL and {synchronous!r} as a keyword: give it once"
        )
    chosen = synchronous if synchronous is not None else from_url
    return SYNCHRONOUS[0] if chosen is None else chosen.lower()


def _check_storable(event: base.NewEvent, postgresql: bool) -> None:
    """ValueError for a text the database cannot store, before it can fail a group of callers.

    Ids are ASCII (base checks them) and the JSON texts too (``ENSURE_ASCII``);
    the other texts are the caller's: a lone surrogate has no UTF-8 form, and
    PostgreSQL's text holds no NUL character.
    """
    for field in ("event_type", "category", "created_at"):
        value: str = getattr(event, field)
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"{field} cannot be stored in a SQL database: {exc}") from None
        if postgresql and "\x00" in value:
            raise ValueError(f"{field} holds a NUL character, which PostgreSQL cannot store in text")


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


def _sqlite_on_connect(synchronous: str, dbapi_connection: Any, _record: Any) -> None:
    # Runs inside SQLAlchemy's greenlet: each call below is an awaited
    # aiosqlite call, not sqlite3 on the loop.
    dbapi_connection.isolation_level = None  # the store says BEGIN itself
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")  # one of SYNCHRONOUS
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get("runlog_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# -- the group commit's statements -----------------------------------------------------------

_COLUMNS = "thread_id, seq, run_id, event_type, category, task_id, content, metadata, created_at"

# One statement, one round trip, one commit: the counter rows first (in the order given: sorted),
# then every event, its seq the new last_seq less its place from the end of its thread's part.
_PG_GROUP = f"""
WITH claimed AS (
    INSERT INTO run_event_threads AS t (thread_id, last_seq)
    SELECT c.thread_id, c.n FROM unnest($1::varchar[], $2::int8[]) WITH ORDINALITY AS c(thread_id, n, o)
    ORDER BY c.o
    ON CONFLICT (thread_id) DO UPDATE SET last_seq = t.last_seq + excluded.last_seq
    RETURNING t.thread_id, t.last_seq
), inserted AS (
    INSERT INTO run_events ({_COLUMNS})
    SELECT e.thread_id, claimed.last_seq - e.back, e.run_id, e.event_type, e.category, e.task_id,
           e.content, e.metadata, e.created_at
    FROM unnest($3::varchar[], $4::int8[], $5::varchar[], $6::text[], $7::text[], $8::text[],
                $9::text[], $10::text[], $11::text[])
         AS e(thread_id, back, run_id, event_type, category, task_id, content, metadata, created_at)
    JOIN claimed ON claimed.thread_id = e.thread_id
)
SELECT thread_id, last_seq FROM claimed
"""

_SQLITE_CLAIM_ROWS = 100  # counter rows per statement (2 variables each)
_SQLITE_INSERT = f"INSERT INTO run_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SQLITE_FIND = (
    "SELECT thread_id, run_id, seq, event_type, category, content, metadata, created_at FROM run_events"
    " WHERE thread_id = ? AND run_id = ? AND event_type = ? ORDER BY seq LIMIT 1"
)


@functools.lru_cache(maxsize=_SQLITE_CLAIM_ROWS)
def _sqlite_claim(rows: int) -> str:
    """Add each thread's count to its counter row (made if missing); return the new last seqs."""
    values = ", ".join(["(?, ?)"] * rows)
    return (
        f"INSERT INTO run_event_threads (thread_id, last_seq) VALUES {values}"
        " ON CONFLICT (thread_id) DO UPDATE SET last_seq = last_seq + excluded.last_seq"
        " RETURNING thread_id, last_seq"
    )


def _sqlite_transaction_end(conn: sqlite3.Connection) -> None:
    """Roll back what a failed write left open (its error is the one raised)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is unusable or the transaction already gone: the first error tells


def _sqlite_claim_all(conn: sqlite3.Connection, counts: Iterable[tuple[str, int]]) -> dict[str, int]:
    lasts: dict[str, int] = {}
    pending = list(counts)
    for start in range(0, len(pending), _SQLITE_CLAIM_ROWS):
        chunk = pending[start : start + _SQLITE_CLAIM_ROWS]
        flat = [value for pair in chunk for value in pair]
        lasts.update(conn.execute(_sqlite_claim(len(chunk)), flat).fetchall())
    return lasts


@dataclass(eq=False)
class _Waiter:
    """One ``put``, or one ``put_batch``, waiting for its group: its events, their threads, its answer."""

    events: list[base.NewEvent]
    threads: frozenset[str]
    future: asyncio.Future[list[dict[str, Any]]]
    taken: bool = False


class _Group:
    """The callers one transaction writes, and what it sends: per thread its count, per event
    its thread and its place in its thread's part (1, 2, ...), in the callers' order."""

    __slots__ = ("counts", "places", "threads", "waiters")

    def __init__(self, waiters: list[_Waiter]) -> None:
        self.waiters = waiters
        counts: dict[str, int] = {}
        places: list[int] = []
        for waiter in waiters:
            for event in waiter.events:
                place = counts.get(event.thread_id, 0) + 1
                counts[event.thread_id] = place
                places.append(place)
        self.counts = counts
        self.places = places
        self.threads = sorted(counts)  # the counter rows' order: the same for every writer

    def events(self) -> Iterable[base.NewEvent]:
        return (event for waiter in self.waiters for event in waiter.events)

    def records(self, lasts: dict[str, int]) -> list[list[dict[str, Any]]]:
        """Each caller's records, once the transaction gave each thread its new last seq."""
        first = {thread_id: lasts[thread_id] - count for thread_id, count in self.counts.items()}
        places = iter(self.places)
        return [
            [base.with_seq(event, first[event.thread_id] + next(places)) for event in waiter.events]
            for waiter in self.waiters
        ]


class _CommitQueue:
    """The writes waiting in one event loop.

    ``pending``: callers not taken yet, in arrival order; ``writing``: the
    threads of the groups in flight; ``writers``: the writer tasks, at most
    ``limit`` (the loop holds tasks only weakly); ``taking``: how many of them
    will take from the queue at their next step (just started, or waiting one
    turn for callers): a caller then starts no other; ``connections``:
    PostgreSQL, the groups' idle connections (asyncpg connections belong to
    the loop that made them).
    """

    __slots__ = ("connections", "limit", "loop", "pending", "taking", "writers", "writing")

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self.pending: list[_Waiter] = []
        self.writing: set[str] = set()
        self.writers: set[asyncio.Task[None]] = set()
        self.taking = 0
        self.connections: list[Any] = []

    def take(self) -> _Group | None:
        """The next group: queued callers whose threads are free, in arrival order (None: none)."""
        blocked = set(self.writing)
        taken: list[_Waiter] = []
        kept: list[_Waiter] = []
        size = 0
        for waiter in self.pending:
            if waiter.future.done():
                continue  # cancelled since it queued (its except clause has not run): never written
            if size >= GROUP_EVENTS or not blocked.isdisjoint(waiter.threads):
                # Left for a later group; so are the later callers of its threads (their order).
                kept.append(waiter)
                blocked |= waiter.threads
                continue
            waiter.taken = True
            taken.append(waiter)
            size += len(waiter.events)
        self.pending = kept
        if not taken:
            return None
        group = _Group(taken)
        self.writing.update(group.threads)
        return group


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


_SQLITE_CONNECT_OPTIONS = frozenset(("timeout", "detect_types", "cached_statements", "uri"))


@dataclass(frozen=True)
class _SqliteTarget:
    """Where a SQLite store's writer connects, and the one thread that uses that connection."""

    database: str
    options: dict[str, Any]
    synchronous: str
    executor: ThreadPoolExecutor


@dataclass(frozen=True)
class _Engines:
    reader: AsyncEngine
    writer: AsyncEngine  # SQLite: BEGIN IMMEDIATE (the schema step)
    # PostgreSQL: a new connection for the groups, as the engine's pool makes one (asyncpg).
    connect: Callable[[], Awaitable[Any]] | None
    sqlite: _SqliteTarget | None


class _SqliteErrors:
    """``with``: a sqlite3 error leaves as SQLAlchemy's (``sqlalchemy.exc.OperationalError``...),
    as the store's reads raise them."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any) -> None:
        if isinstance(error, sqlite3.Error):
            raise sa.exc.DBAPIError.instance(None, None, error, sqlite3.Error) from error


def _in_transaction(conn: sqlite3.Connection, work: Callable[[], T]) -> T:
    """``work`` in one write transaction (the write lock up front), committed, or rolled back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work()
        conn.execute("COMMIT")
    except BaseException:
        _sqlite_transaction_end(conn)
        raise
    return result


def _sqlite_row(event: base.NewEvent, seq: int) -> tuple[Any, ...]:
    return (
        event.thread_id,
        seq,
        event.run_id,
        event.event_type,
        event.category,
        _task_id_json(event.metadata),
        event.content_json,
        event.metadata_json,
        event.created_at,
    )


def _sqlite_rows(group: _Group, lasts: dict[str, int]) -> Iterable[tuple[Any, ...]]:
    first = {thread_id: lasts[thread_id] - count for thread_id, count in group.counts.items()}
    for event, place in zip(group.events(), group.places, strict=True):
        yield _sqlite_row(event, first[event.thread_id] + place)


class SqlRunEventStore(base.StorageRunEventStore):
    """Run events in a SQL database (SQLite via aiosqlite, PostgreSQL via asyncpg).

    Connects and creates its schema on first use; ``async with`` does the
    same on entry and closes on exit; ``await close()`` waits for the writes
    queued before it, then releases the engine (a closed store refuses
    further calls). One store serves one event loop.

    ``synchronous`` (SQLite only, or ``?synchronous=`` in the URL): ``"full"``
    (the default: a commit is on stable storage when it returns) or
    ``"normal"`` (a commit survives the process, not a power failure or an
    OS crash). ``engine_options`` go to ``create_async_engine``: the pool
    (``pool_size``, ``max_overflow``, ``pool_timeout``), ``connect_args``...

    Connections: the puts and put_batches of any number of concurrent
    callers go out in groups, on connections of the store's own, outside
    the pool: at most ``PG_GROUPS_IN_FLIGHT`` (PostgreSQL, kept open between
    groups) or one (SQLite, in the writer thread, which also writes
    ``put_if_absent`` and the deletes). The pool serves reads (one connection
    each while it runs), PostgreSQL's ``put_if_absent`` and deletes, and the
    schema step: at most ``pool_size + max_overflow`` (SQLAlchemy's defaults:
    5 + 10) at once, a call finding them all busy waiting up to
    ``pool_timeout`` (30 s) for one.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        synchronous: str | None = None,
        max_page_bytes: int | None = None,
        **engine_options: Any,
    ) -> None:
        self.url = check_url(url)
        self.max_page_bytes = base.check_page_bytes(max_page_bytes)
        self.dialect = self.url.get_backend_name()  # "sqlite" or "postgresql"
        self.synchronous = check_synchronous(self.url, synchronous)  # None for PostgreSQL
        self._engine_url = self.url.difference_update_query(["synchronous"])
        if self.dialect == "sqlite" and (
            self.url.database in (None, "", ":memory:") or "mode=memory" in (self.url.database or "")
        ):
            raise ValueError(
                f"{self!r}: an in-memory SQLite database is private to each connection, and the store "
                "reads and writes through several; use memory: for an in-memory store"
            )
        self._engine_options = engine_options
        self._engines: _Engines | None = None
        self._closed = False
        self._schema_ready = False
        self._opening = asyncio.Lock()
        self._readying = asyncio.Lock()
        # One per event loop, like the JSONL store's; weak keys: a loop that ended takes its queue.
        self._commit_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _CommitQueue] = (
            weakref.WeakKeyDictionary()
        )
        self._writer_connection: sqlite3.Connection | None = None  # SQLite: used in the writer thread only

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
        """Wait for the writes queued in this loop, then release every connection; the store
        cannot be used afterwards."""
        self._closed = True
        queue = self._commit_queues.get(asyncio.get_running_loop())
        if queue is not None:
            await self._drain(queue)
            connections, queue.connections = queue.connections, []
            for conn in connections:
                try:
                    await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT_S)
                except Exception:  # gone already, or no answer in time: cut it off
                    conn.terminate()
        engines, self._engines = self._engines, None
        if engines is not None:
            try:
                if engines.sqlite is not None:
                    await asyncio.get_running_loop().run_in_executor(
                        engines.sqlite.executor, self._sync_close_writer, engines.sqlite
                    )
            finally:
                await engines.reader.dispose()

    def _create_engines(self) -> _Engines:
        """Build the engine; runs in a worker thread (it resolves paths and reads driver config files)."""
        options = dict(self._engine_options)
        if self.dialect == "sqlite":
            synchronous = self.synchronous or SYNCHRONOUS[0]
            connect_args = dict(options.get("connect_args", {}))
            connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
            options["connect_args"] = connect_args
            engine = create_async_engine(self._engine_url, **options)

            def on_connect(dbapi_connection: Any, record: Any) -> None:
                _sqlite_on_connect(synchronous, dbapi_connection, record)

            sa_event.listen(engine.sync_engine, "connect", on_connect)
            sa_event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
            # The writer connects as the engine would (the path resolved, the URL's options), with
            # the same connect_args; in a thread of its own, one job at a time.
            database, parameters = engine.sync_engine.dialect.create_connect_args(engine.url)
            parameters = {**parameters, **connect_args}
            sqlite = _SqliteTarget(
                str(database[0]),
                {k: v for k, v in parameters.items() if k in _SQLITE_CONNECT_OPTIONS},
                synchronous,
                ThreadPoolExecutor(1, thread_name_prefix="runlog-sqlite-writer"),
            )
            return _Engines(engine, engine.execution_options(runlog_write=True), None, sqlite)
        probe = create_async_engine(self._engine_url)
        _args, probe_args = probe.sync_engine.dialect.create_connect_args(self._engine_url)
        connect_args = {**probe_args, **options.pop("connect_args", {})}
        arguments, advisory = _asyncpg_arguments(connect_args)
        connect = functools.partial(_asyncpg_connect, arguments, advisory)
        options["async_creator"] = connect
        engine = create_async_engine(self._engine_url, **options)
        return _Engines(engine, engine, connect, None)

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
                    await self._prepare_schema(self._engines.writer)
                    self._schema_ready = True
        engines = self._engines
        async with (engines.writer if write else engines.reader).begin() as conn:
            yield conn

    async def _ready(self) -> _Engines:
        """The engines, connected to a database whose schema this store knows (opened on first use)."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self._engines is None or not self._schema_ready:
            async with self._readying:  # callers of a store that is opening wait for the first
                if self._engines is None or not self._schema_ready:
                    async with self._transaction(write=False):
                        pass
        engines = self._engines
        if engines is None:
            raise RuntimeError(f"{self!r} is closed")
        return engines

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

    # -- writing: the group commit of put and put_batch -------------------------

    async def _put(self, event: base.NewEvent) -> dict[str, Any]:
        _check_storable(event, self.dialect == "postgresql")
        return (await self._commit([event], frozenset((event.thread_id,))))[0]

    async def _put_batch(self, events: list[base.NewEvent]) -> list[dict[str, Any]]:
        # One caller, one transaction for every thread of the batch: it is
        # stored or fails as a whole, so this store never raises PartialBatchError.
        postgresql = self.dialect == "postgresql"
        for event in events:
            _check_storable(event, postgresql)
        return await self._commit(events, frozenset(event.thread_id for event in events))

    async def _commit(self, events: list[base.NewEvent], threads: frozenset[str]) -> list[dict[str, Any]]:
        """Queue the events of one caller; return their records once their group is committed."""
        await self._ready()  # a caller cancelled while the store opens has queued nothing
        loop = asyncio.get_running_loop()
        queue = self._commit_queues.get(loop)
        if queue is None:
            limit = PG_GROUPS_IN_FLIGHT if self.dialect == "postgresql" else 1
            queue = self._commit_queues[loop] = _CommitQueue(loop, limit)
        waiter = _Waiter(events, threads, loop.create_future())
        queue.pending.append(waiter)
        if not queue.taking and len(queue.writers) < queue.limit and threads.isdisjoint(queue.writing):
            self._start_writer(queue)
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if not waiter.taken and waiter in queue.pending:  # not taken: nothing of it is written
                queue.pending.remove(waiter)
            raise

    def _start_writer(self, queue: _CommitQueue) -> None:
        queue.taking += 1
        started: list[bool] = []
        writer = queue.loop.create_task(self._write_groups(queue, started))
        queue.writers.add(writer)
        writer.add_done_callback(functools.partial(self._writer_ended, queue, started))

    def _writer_ended(self, queue: _CommitQueue, started: list[bool], writer: asyncio.Task[None]) -> None:
        """A writer is done (its callers answered): if callers are left and no writer will take
        them (it was cancelled, even before its first step), start one: none may wait forever.

        A writer that failed outside a group's write (a defect, or a blocking call a gate caught
        in it) would fail the same way again: unless a caller has started another since, the
        callers still queued get its error, nothing of theirs written, rather than a writer
        started after writer in a loop that never answers.
        """
        if not started:
            queue.taking -= 1  # ended before its first step, which counts it out
        queue.writers.discard(writer)
        error = None if writer.cancelled() else writer.exception()
        if error is not None and not queue.writers and not queue.taking:
            stranded, queue.pending = queue.pending, []
            for waiter in stranded:
                if not waiter.future.done():
                    waiter.future.set_exception(error)
        elif queue.pending and not queue.writers and not queue.loop.is_closed():
            self._start_writer(queue)

    async def _write_groups(self, queue: _CommitQueue, started: list[bool]) -> None:
        """A writer: take a group, write it, answer its callers, again while there are callers.

        It takes its first group at its first step, one turn of the loop after
        the caller that started it. Only the loop's end cancels it (no caller
        holds it): the callers of the group it was writing then get an error
        saying their events may or may not be stored. Should it fail (a defect,
        or a blocking call a gate caught in it: a write's own errors are its
        group's outcome), no caller it took is left waiting: a written group
        gets its outcome, a group taken and not yet written the failure.
        """
        started.append(True)
        queue.taking -= 1
        group: _Group | None = None  # taken, not answered
        written: tuple[_Group, list[list[dict[str, Any]]] | Exception] | None = None  # not answered yet
        try:
            group = queue.take()
            while group is not None:
                outcome = await self._write(queue, group)
                queue.writing.difference_update(group.threads)
                written, group = (group, outcome), None
                group = queue.take()  # what queued while it was written goes next,
                self._answer(*written)  # before its callers wake
                written = None
                if group is None:
                    # Its callers may put again at once (a lone producer does): one turn for them.
                    queue.taking += 1
                    try:
                        await asyncio.sleep(0)
                    finally:
                        queue.taking -= 1
                    group = queue.take()
        finally:
            queue.writers.discard(asyncio.current_task())  # at once: a caller may start the next
            failure = sys.exc_info()[1]
            if written is not None:
                self._answer(*written)
            if group is not None:
                queue.writing.difference_update(group.threads)
                # Cancelled while it was written (the loop's end), or failed before its write.
                self._answer(
                    group, failure if isinstance(failure, Exception) else RuntimeError(_GROUP_CANCELLED)
                )

    async def _write(self, queue: _CommitQueue, group: _Group) -> list[list[dict[str, Any]]] | Exception:
        """One group in one transaction: each caller's records, or the error that failed them all."""
        try:
            if self.dialect == "postgresql":
                lasts = await self._pg_write_group(queue, group)
            else:
                engines = self._engines
                assert engines is not None and engines.sqlite is not None  # close() waits for groups
                lasts = await asyncio.get_running_loop().run_in_executor(
                    engines.sqlite.executor, self._sync_write_group, engines.sqlite, group
                )
            return group.records(lasts)
        except Exception as exc:
            return exc

    @staticmethod
    def _answer(group: _Group, outcome: list[list[dict[str, Any]]] | BaseException) -> None:
        for index, waiter in enumerate(group.waiters):
            if waiter.future.done():
                continue  # cancelled: its events went with the group, or not, as a whole
            if isinstance(outcome, BaseException):
                waiter.future.set_exception(outcome)
            else:
                waiter.future.set_result(outcome[index])

    async def _pg_write_group(self, queue: _CommitQueue, group: _Group) -> dict[str, int]:
        """The group's one statement, autocommitted: one round trip, one commit.

        On a connection of the groups' own (``queue.connections``), outside the
        engine's pool: SQLAlchemy's checkout and execution cost about as much
        CPU as the rest of a single put (measured: docs/performance.md, "Where a
        put's time goes").
        """
        import asyncpg

        counts = group.counts
        threads: list[str] = []
        backs: list[int] = []
        runs: list[str] = []
        types: list[str] = []
        categories: list[str] = []
        tasks: list[str | None] = []
        contents: list[str] = []
        metadatas: list[str] = []
        created: list[str] = []
        for event, place in zip(group.events(), group.places, strict=True):
            threads.append(event.thread_id)
            backs.append(counts[event.thread_id] - place)
            runs.append(event.run_id)
            types.append(event.event_type)
            categories.append(event.category)
            tasks.append(_task_id_json(event.metadata))
            contents.append(event.content_json)
            metadatas.append(event.metadata_json)
            created.append(event.created_at)
        engines = self._engines
        assert engines is not None and engines.connect is not None  # close() waits for the groups
        conn = None
        while queue.connections and conn is None:
            conn = queue.connections.pop()
            if conn.is_closed():  # the server or the network closed it while it was kept
                conn = None
        if conn is None:
            conn = await engines.connect()
        try:
            rows = await conn.fetch(
                _PG_GROUP,
                group.threads,
                [counts[thread_id] for thread_id in group.threads],
                threads,
                backs,
                runs,
                types,
                categories,
                tasks,
                contents,
                metadatas,
                created,
            )
        except asyncpg.PostgresError as exc:
            # The server refused the statement, which it rolled back (autocommit).
            self._keep(queue, conn)
            raise sa.exc.DBAPIError.instance(_PG_GROUP, None, exc, asyncpg.PostgresError) from exc
        except BaseException:
            # Cancelled or cut off: the statement may be on its way, the connection's state unknown.
            conn.terminate()
            raise
        self._keep(queue, conn)
        return {row[0]: row[1] for row in rows}

    @staticmethod
    def _keep(queue: _CommitQueue, conn: Any) -> None:
        if not conn.is_closed():
            queue.connections.append(conn)

    async def _drain(self, queue: _CommitQueue) -> None:
        """Wait until the queue's callers are answered (their groups written)."""
        while queue.writers or queue.pending:
            if not queue.writers:
                self._start_writer(queue)
            await asyncio.wait(set(queue.writers))

    # -- writing: SQLite, in the writer thread -----------------------------------

    def _sqlite(self, target: _SqliteTarget) -> sqlite3.Connection:
        """The writer's connection (in the writer thread), opened on first use."""
        if self._writer_connection is None:
            conn = sqlite3.connect(
                target.database, isolation_level=None, check_same_thread=False, **target.options
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={target.synchronous.upper()}")  # one of SYNCHRONOUS
            except BaseException:
                conn.close()
                raise
            self._writer_connection = conn
        return self._writer_connection

    def _sync_write_group(self, target: _SqliteTarget, group: _Group) -> dict[str, int]:
        """One group, one transaction: the counter rows, then every event (one executemany)."""
        with _SqliteErrors():
            conn = self._sqlite(target)

            def write() -> dict[str, int]:
                lasts = _sqlite_claim_all(conn, ((t, group.counts[t]) for t in group.threads))
                conn.executemany(_SQLITE_INSERT, _sqlite_rows(group, lasts))
                return lasts

            return _in_transaction(conn, write)

    def _sync_put_if_absent(
        self, target: _SqliteTarget, event: base.NewEvent
    ) -> tuple[Sequence[Any] | None, int]:
        with _SqliteErrors():
            conn = self._sqlite(target)

            def write() -> tuple[Sequence[Any] | None, int]:
                found = conn.execute(
                    _SQLITE_FIND, (event.thread_id, event.run_id, event.event_type)
                ).fetchone()
                if found is not None:
                    return found, 0
                seq = _sqlite_claim_all(conn, [(event.thread_id, 1)])[event.thread_id]
                conn.execute(_SQLITE_INSERT, _sqlite_row(event, seq))
                return None, seq

            return _in_transaction(conn, write)

    def _sync_delete_by_run(self, target: _SqliteTarget, thread_id: str, run_id: str) -> int:
        with _SqliteErrors():
            conn = self._sqlite(target)
            statement = "DELETE FROM run_events WHERE thread_id = ? AND run_id = ?"
            return _in_transaction(conn, lambda: conn.execute(statement, (thread_id, run_id)).rowcount)

    def _sync_delete_by_thread(self, target: _SqliteTarget, thread_id: str) -> int:
        with _SqliteErrors():
            conn = self._sqlite(target)

            def write() -> int:
                # The counter row too: the thread starts over at seq 1.
                conn.execute("DELETE FROM run_event_threads WHERE thread_id = ?", (thread_id,))
                return conn.execute("DELETE FROM run_events WHERE thread_id = ?", (thread_id,)).rowcount

            return _in_transaction(conn, write)

    def _sync_close_writer(self, target: _SqliteTarget) -> None:
        """The writer thread's last job: close its connection and let the thread end."""
        connection: sqlite3.Connection | None = self._writer_connection
        self._writer_connection = None
        try:
            if connection is not None:
                connection.close()
        finally:
            target.executor.shutdown(wait=False)

    # -- writing: put_if_absent and the deletes -------------------------------------

    async def _claim(self, conn: AsyncConnection, thread_id: str, count: int) -> int:
        """Reserve ``count`` seqs of a thread (0: just lock its counter row); return the last."""
        upsert = postgresql.insert(threads_table).values(thread_id=thread_id, last_seq=count)
        upsert = upsert.on_conflict_do_update(
            index_elements=[_T.thread_id], set_={"last_seq": _T.last_seq + count}
        )
        last: int = (await conn.execute(upsert.returning(_T.last_seq))).scalar_one()
        return last

    async def _put_if_absent(self, event: base.NewEvent) -> tuple[dict[str, Any], bool]:
        _check_storable(event, self.dialect == "postgresql")
        engines = await self._ready()
        if engines.sqlite is not None:
            found, seq = await asyncio.get_running_loop().run_in_executor(
                engines.sqlite.executor, self._sync_put_if_absent, engines.sqlite, event
            )
            if found is not None:
                return _record(found), False
            return base.with_seq(event, seq), True
        async with self._transaction(write=True) as conn:
            # First the counter row: every writer of the thread takes it
            # before writing (a group too), so from here to commit no one
            # else can add the event this looks for. The look-up is a
            # statement of its own: it sees what committed while this waited.
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
        engines = await self._ready()
        if engines.sqlite is not None:
            return await asyncio.get_running_loop().run_in_executor(
                engines.sqlite.executor, self._sync_delete_by_run, engines.sqlite, thread_id, run_id
            )
        async with self._transaction(write=True) as conn:
            deleted = await conn.execute(
                events_table.delete().where(_E.thread_id == thread_id, _E.run_id == run_id)
            )
        return deleted.rowcount

    async def _delete_by_thread(self, thread_id: str) -> int:
        engines = await self._ready()
        if engines.sqlite is not None:
            return await asyncio.get_running_loop().run_in_executor(
                engines.sqlite.executor, self._sync_delete_by_thread, engines.sqlite, thread_id
            )
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
        if before_seq is not None:
            query = query.where(_E.seq < before_seq)
        if after_seq is not None:  # alone or with before_seq (the window between them): the first ones
            query = query.where(_E.seq > after_seq).order_by(_E.seq).limit(limit)
        else:
            query = query.order_by(_E.seq.desc()).limit(limit)
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(self._fitted(query, newest=after_seq is None))).all()
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
        query = self._fitted(query.order_by(_E.seq).limit(limit), newest=False)
        async with self._transaction(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [_record(row) for row in rows]

    def _fitted(self, page: sa.Select[Any], *, newest: bool) -> sa.Select[Any]:
        """``page`` (a select of the record columns, ordered and limited) cut to ``max_page_bytes``,
        as ``base.fit_page`` cuts it, by the database: only the rows kept are sent.

        The running total is taken over the page's rows only (its LIMIT applies first), in the
        page's order (newest first for ``newest``), so a page costs what it holds.
        """
        if self.max_page_bytes is None:
            return page
        rows = page.add_columns(_EVENT_CHARS.label("chars")).subquery("page")
        order = rows.c.seq.desc() if newest else rows.c.seq
        total = sa.func.sum(rows.c.chars).over(order_by=order)
        ranked = sa.select(rows, total.label("total")).subquery("ranked")
        return (
            sa.select(*(ranked.c[column.name] for column in _RECORD_COLUMNS))
            # The first row's total is its own size: it is kept whatever its size.
            .where(sa.or_(ranked.c.total <= self.max_page_bytes, ranked.c.total == ranked.c.chars))
            .order_by(ranked.c.seq.desc() if newest else ranked.c.seq)
        )

    async def _count_messages(self, thread_id: str) -> int:
        query = sa.select(sa.func.count()).where(
            _E.thread_id == thread_id, _E.category == base.MESSAGE_CATEGORY
        )
        async with self._transaction(write=False) as conn:
            count: int = (await conn.execute(query)).scalar_one()
        return count
