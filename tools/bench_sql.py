"""SQL store figures for ``tools/bench.py``: throughput beside JSONL, group commit, floors,
latest-page scaling, writer processes.

Each store runs as shipped (JSONL with fsync, SQLite in WAL with its default
synchronous=FULL, PostgreSQL with synchronous_commit on), so the figures
compare durable writes with durable writes.

* throughput, per store, each figure's events/s and CPU time per event (the
  whole process, and the loop thread alone), stores in a rotating order per
  round, figures in this order:

  - ``floor`` (SQL stores): the least a durable single-event write costs
    through the raw driver: PostgreSQL, one prepared ``INSERT ... RETURNING``
    per event, autocommitted, through asyncpg on one connection; SQLite, one
    ``INSERT ... RETURNING`` per event, autocommitted, by ``sqlite3`` in a
    worker thread (``asyncio.to_thread``), WAL and synchronous=FULL; into a
    table shaped as ``run_events`` (its columns and indexes);
  - ``put``: 300 single events, one producer, into an existing thread,
    alternating with the floor in chunks of 30 (the disk's flush time
    changes from one second to the next on a shared machine);
  - ``concurrent_puts_64_threads`` / ``concurrent_puts_one_thread``: 64
    producers of 40 single ``put``s each, at once, on a thread each / all on
    one thread (the group commit);
  - ``put_batch``: ``put_batch(1000)``, 5 batches;

  the ratios are medians of per-round ratios: ``put`` / ``floor`` and each
  concurrency figure / ``put_batch`` (``GOALS``);
* scaling: ``list_messages(limit=50)`` (the latest page) and ``list_events``
  of one 100-event run, on threads of 1k, 10k and 100k events (every other
  event a message), median of 30 calls per round; the figure is 100k / 1k;
* writers: 1 and then 4 OS processes appending single events (each to its
  own thread) to PostgreSQL, started together once all are connected, total
  events/s; the figure is 4 / 1.

PostgreSQL figures need a server: ``RUNLOG_TEST_POSTGRES_URL`` (as for the
tests) or ``--postgres-url``; each run works in its own schema and drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from runlog.events import JsonlRunEventStore, RunEventStore, SqlRunEventStore

REPO = Path(__file__).resolve().parents[1]
SINGLES = 300  # single puts, and as many floor inserts
CHUNK = 30  # ... alternating in chunks of this many
BATCHES = 5
PRODUCERS = 64
PUTS_PER_PRODUCER = 40
RUN_SIZE = 100
WRITER_EVENTS = 300
FIGURES = ("floor", "put", "concurrent_puts_64_threads", "concurrent_puts_one_thread", "put_batch")
# The goals (issue 24), judged by tools/bench.py (GOALS): per SQL store, a ratio and its bound.
RATIO_GOALS = {
    "put_vs_floor": 0.5,
    "concurrent_puts_64_threads_vs_put_batch": 0.25,
    "concurrent_puts_one_thread_vs_put_batch": 0.25,
}
WRITERS_GOAL = 2.0  # 4 writer processes / 1, PostgreSQL


def say(message: str) -> None:
    print(f"[bench sql {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _event(i: int, thread_id: str = "t", run_id: str = "r") -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "run_id": run_id,
        "event_type": "assistant" if i % 2 else "tool",
        "category": "message" if i % 2 else "trace",
        "content": f"event {i}: " + "x" * 80,
        "metadata": {"task_id": f"k{i % 7}"},
        "created_at": "2026-01-01T00:00:00+00:00",
    }


class PostgresSchemas:
    """Throwaway schemas in one database: a URL per schema, all dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.created: list[str] = []

    async def _execute(self, statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def new(self) -> str:
        schema = f"runlog_bench_{uuid.uuid4().hex[:12]}"
        await self._execute(f"CREATE SCHEMA {schema}")
        self.created.append(schema)
        return f"{self.url}{'&' if '?' in self.url else '?'}search_path={schema}"

    async def drop_all(self) -> None:
        for schema in self.created:
            await self._execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.created.clear()


@asynccontextmanager
async def _stores(base: Path, postgres: PostgresSchemas | None) -> AsyncIterator[dict[str, RunEventStore]]:
    stores: dict[str, RunEventStore] = {
        "jsonl": JsonlRunEventStore(base / "jsonl"),
        "sqlite": SqlRunEventStore(f"sqlite+aiosqlite:///{base / 'events.db'}"),
    }
    if postgres is not None:
        stores["postgresql"] = SqlRunEventStore(await postgres.new())
    try:
        yield stores
    finally:
        for store in stores.values():
            if isinstance(store, SqlRunEventStore):
                await store.close()
        if postgres is not None:
            await postgres.drop_all()


class _Cpu:
    """``with``: CPU time of the whole process and of this (the loop's) thread, in seconds."""

    def __enter__(self) -> _Cpu:
        self.process, self.loop = time.process_time(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process, self.loop = time.process_time() - self.process, time.thread_time() - self.loop


class _Span:
    """``with``: adds the wall time and CPU time (whole process, loop thread) of each block."""

    def __init__(self) -> None:
        self.wall = self.process = self.loop = 0.0

    def __enter__(self) -> None:
        self._started = (time.perf_counter(), time.process_time(), time.thread_time())

    def __exit__(self, *exc: object) -> None:
        wall, process, loop = self._started
        self.wall += time.perf_counter() - wall
        self.process += time.process_time() - process
        self.loop += time.thread_time() - loop

    def figures(self, events: int) -> tuple[float, float, float]:
        """(events/s, process CPU µs per event, loop-thread CPU µs per event)."""
        return events / self.wall, 1e6 * self.process / events, 1e6 * self.loop / events


async def _timed(run: Callable[[], Awaitable[None]], events: int) -> tuple[float, float, float]:
    span = _Span()
    with span:
        await run()
    return span.figures(events)


def _floor_row(i: int) -> tuple[Any, ...]:
    e = _event(i, thread_id="floor")
    return (
        e["thread_id"],
        e["run_id"],
        e["event_type"],
        e["category"],
        json.dumps(e["metadata"]["task_id"]),
        json.dumps(e["content"]),
        json.dumps(e["metadata"]),
        e["created_at"],
    )


_FLOOR_COLUMNS = "thread_id, run_id, event_type, category, task_id, content, metadata, created_at"
Insert = Callable[[int], Awaitable[Any]]


@asynccontextmanager
async def _postgres_floor(url: str) -> AsyncIterator[Insert]:
    """One prepared INSERT ... RETURNING per event, autocommitted, asyncpg, one connection."""
    import asyncpg

    dsn, _, query = url.replace("postgresql+asyncpg://", "postgresql://", 1).partition("?")
    settings = dict(part.split("=", 1) for part in query.split("&") if part)
    conn = await asyncpg.connect(dsn, server_settings=settings)
    try:
        # run_events' shape (columns, primary key, indexes), the seq given by an identity.
        await conn.execute("CREATE TABLE floor_events (LIKE run_events INCLUDING ALL)")
        await conn.execute("ALTER TABLE floor_events ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY")
        insert = await conn.prepare(
            f"INSERT INTO floor_events ({_FLOOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq"
        )

        async def insert_one(i: int) -> Any:
            return await insert.fetchval(*_floor_row(i))

        yield insert_one
    finally:
        await conn.close()


def _sqlite_floor_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    # run_events' shape: its columns, primary key and indexes (the seq given by the floor).
    conn.execute(
        "CREATE TABLE IF NOT EXISTS floor_events (thread_id VARCHAR(128) NOT NULL, seq BIGINT NOT NULL, "
        "run_id VARCHAR(128) NOT NULL, event_type TEXT NOT NULL, category TEXT NOT NULL, task_id TEXT, "
        "content TEXT NOT NULL, metadata TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (thread_id, seq))"
    )
    for name, columns in (
        ("category", "thread_id, category, seq"),
        ("run", "thread_id, run_id, seq"),
        ("run_category", "thread_id, run_id, category, seq"),
        ("run_type", "thread_id, run_id, event_type, seq"),
    ):
        conn.execute(f"CREATE INDEX IF NOT EXISTS floor_by_{name} ON floor_events ({columns})")
    return conn


@asynccontextmanager
async def _sqlite_floor(path: Path) -> AsyncIterator[Insert]:
    """One INSERT ... RETURNING per event, autocommitted, sqlite3 in a worker thread."""
    conn = await asyncio.to_thread(_sqlite_floor_connect, path)
    statement = (
        f"INSERT INTO floor_events (seq, {_FLOOR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq"
    )
    seqs = itertools.count(1)

    def insert(i: int) -> int:
        seq: int = conn.execute(statement, (next(seqs), *_floor_row(i))).fetchone()[0]
        return seq

    async def insert_one(i: int) -> int:
        return await asyncio.to_thread(insert, i)

    try:
        yield insert_one
    finally:
        await asyncio.to_thread(conn.close)


async def _store_figures(
    store: RunEventStore, batch: int, floor: Callable[[], AbstractAsyncContextManager[Insert]] | None
) -> dict[str, tuple[float, float, float]]:
    """Every figure of one store, in FIGURES' order. The floor and ``put`` alternate in chunks of
    CHUNK events: this disk's flush time changes from one second to the next."""
    got: dict[str, tuple[float, float, float]] = {}
    await store.put(**_event(0))  # the thread and the schema exist: the steady state
    put, floored = _Span(), _Span()
    async with floor() if floor is not None else contextlib.nullcontext() as insert:
        if insert is not None:
            await insert(0)
        for chunk in range(0, SINGLES, CHUNK):
            if insert is not None:
                with floored:
                    for i in range(chunk, chunk + CHUNK):
                        await insert(i)
            with put:
                for i in range(chunk, chunk + CHUNK):
                    await store.put(**_event(i))
    if floor is not None:
        got["floor"] = floored.figures(SINGLES)
    got["put"] = put.figures(SINGLES)
    for figure, thread_of in (
        ("concurrent_puts_64_threads", lambda p: f"own{p}"),
        ("concurrent_puts_one_thread", lambda p: "shared"),
    ):
        for p in range(PRODUCERS):
            await store.put(**_event(0, thread_id=thread_of(p)))

        async def produce(p: int, thread_of: Callable[[int], str] = thread_of) -> None:
            for i in range(PUTS_PER_PRODUCER):
                await store.put(**_event(i, thread_id=thread_of(p), run_id=f"p{p}"))

        async def producers(produce: Callable[[int], Awaitable[None]] = produce) -> None:
            await asyncio.gather(*(produce(p) for p in range(PRODUCERS)))

        got[figure] = await _timed(producers, PRODUCERS * PUTS_PER_PRODUCER)
    batches = [[_event(n * batch + i, thread_id="b") for i in range(batch)] for n in range(BATCHES)]
    await store.put(**_event(0, thread_id="b"))

    async def batched() -> None:
        for events in batches:
            await store.put_batch(events)

    got["put_batch"] = await _timed(batched, BATCHES * batch)
    return got


def measure_throughput(rounds: int, batch: int, postgres_url: str | None) -> dict[str, Any]:
    rates: dict[str, dict[str, list[float]]] = {}
    cpu: dict[str, dict[str, list[float]]] = {}

    async def run_round(base: Path, n: int) -> None:
        postgres = PostgresSchemas(postgres_url) if postgres_url else None
        async with _stores(base, postgres) as stores:
            names = list(stores)
            for name in names[n % len(names) :] + names[: n % len(names)]:  # rotating order
                store = stores[name]
                floor: Callable[[], AbstractAsyncContextManager[Insert]] | None = None
                if isinstance(store, SqlRunEventStore) and store.dialect == "postgresql":
                    floor = partial(_postgres_floor, str(store.url))
                elif isinstance(store, SqlRunEventStore):
                    floor = partial(_sqlite_floor, base / "floor.db")
                for figure, (rate, process, loop) in (await _store_figures(store, batch, floor)).items():
                    rates.setdefault(name, {}).setdefault(figure, []).append(rate)
                    cpu.setdefault(name, {}).setdefault(f"{figure}_process_cpu", []).append(process)
                    cpu[name].setdefault(f"{figure}_loop_cpu", []).append(loop)

    for n in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run_round(Path(tmp), n))
        say(
            f"throughput round {n + 1}/{rounds}: "
            + "; ".join(
                f"{k} " + ", ".join(f"{f} {v[f][-1]:.0f}/s" for f in FIGURES if f in v)
                for k, v in rates.items()
            )
        )

    def ratio(store: str, a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rates[store][a], rates[store][b], strict=True))

    ratios = {
        name: {
            "put_vs_floor": ratio(name, "put", "floor"),
            "concurrent_puts_64_threads_vs_put_batch": ratio(name, "concurrent_puts_64_threads", "put_batch"),
            "concurrent_puts_one_thread_vs_put_batch": ratio(name, "concurrent_puts_one_thread", "put_batch"),
        }
        for name in rates
        if "floor" in rates[name]
    }
    return {
        "events_per_s": {k: {m: statistics.median(v) for m, v in s.items()} for k, s in rates.items()},
        "cpu_us_per_event": {k: {m: statistics.median(v) for m, v in s.items()} for k, s in cpu.items()},
        "ratios": ratios,
        "samples": rates,
    }


async def _median_call(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_scaling(sizes: list[int], rounds: int, postgres_url: str | None) -> dict[str, Any]:
    async def run(base: Path) -> dict[str, Any]:
        postgres = PostgresSchemas(postgres_url) if postgres_url else None
        out: dict[str, Any] = {}
        stores: list[tuple[str, SqlRunEventStore]] = [
            ("sqlite", SqlRunEventStore(f"sqlite+aiosqlite:///{base / 'scaling.db'}"))
        ]
        if postgres is not None:
            stores.append(("postgresql", SqlRunEventStore(await postgres.new())))
        try:
            for name, store in stores:
                for size in sizes:
                    thread_id = f"s{size}"
                    events = [_event(i, thread_id, run_id=f"r{i // RUN_SIZE}") for i in range(size)]
                    for start in range(0, size, 1000):
                        await store.put_batch(events[start : start + 1000])
                    say(f"scaling: {name} filled {size} events")
                samples: dict[int, dict[str, list[float]]] = {
                    s: {"list_messages": [], "list_events": []} for s in sizes
                }
                for _ in range(rounds):
                    for size in sizes:  # alternating sizes within a round
                        thread_id, run_id = f"s{size}", f"r{size // RUN_SIZE // 2}"
                        await store.list_messages(thread_id)  # warm: the first call pays for the plan
                        samples[size]["list_messages"].append(
                            await _median_call(partial(store.list_messages, thread_id, limit=50), 30)
                        )
                        samples[size]["list_events"].append(
                            await _median_call(partial(store.list_events, thread_id, run_id), 30)
                        )
                per_size = {str(s): {k: statistics.median(v) for k, v in samples[s].items()} for s in sizes}
                small, large = per_size[str(sizes[0])], per_size[str(sizes[-1])]
                out[name] = {
                    "median_s": per_size,
                    "list_messages_large_vs_small": large["list_messages"] / small["list_messages"],
                    "list_events_large_vs_small": large["list_events"] / small["list_events"],
                }
        finally:
            for _, store in stores:
                await store.close()
            if postgres is not None:
                await postgres.drop_all()
        return out

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(run(Path(tmp)))


WRITER = textwrap.dedent(
    """
    import asyncio, sys, time
    from runlog.events import open_store

    url, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    async def main():
        store = open_store(url)
        thread = f"w{worker}"
        await store.put(thread_id=thread, run_id="r", event_type="user", category="message", content=-1)
        print("ready", flush=True)  # connected, schema checked, the group statement prepared
        await asyncio.to_thread(sys.stdin.readline)  # go
        started = time.time()
        for i in range(count):
            await store.put(thread_id=thread, run_id="r", event_type="user", category="message", content=i)
        print(started, time.time(), flush=True)
        await store.close()

    asyncio.run(main())
    """
)
READY_TIMEOUT_S = 120.0


def _writers(url: str, processes: int) -> float:
    """Events/s of ``processes`` writers told to start together once every one is connected:
    all their events over the time from the first start to the last end."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(w), str(WRITER_EVENTS)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = _readline(worker, READY_TIMEOUT_S)
            if line.strip() != "ready":
                raise SystemExit(f"bench: a writer process did not get ready (exit {worker.poll()})")
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        spans = []
        for worker in workers:
            out, _ = worker.communicate(timeout=300)
            if worker.returncode != 0:
                raise SystemExit(f"bench: a writer process failed (exit {worker.returncode})")
            spans.append([float(x) for x in out.split()])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(30)
    return processes * WRITER_EVENTS / (max(end for _, end in spans) - min(start for start, _ in spans))


def _readline(worker: subprocess.Popen[str], timeout: float) -> str:
    """The next line of a worker's output, or "" if it ends or says nothing for ``timeout`` s."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(worker.stdout.readline() if worker.stdout else ""))
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        worker.kill()
        reader.join(30)
    return got[0] if got else ""


def measure_writers(rounds: int, postgres_url: str) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"1": [], "4": []}
    postgres = PostgresSchemas(postgres_url)
    try:
        for n in range(rounds):
            for processes in (1, 4) if n % 2 == 0 else (4, 1):
                url = asyncio.run(postgres.new())
                samples[str(processes)].append(_writers(url, processes))
            say(
                f"writers round {n + 1}/{rounds}: 1 process {samples['1'][-1]:.0f}/s, 4 processes {samples['4'][-1]:.0f}/s"
            )
    finally:
        asyncio.run(postgres.drop_all())
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratios = [four / one for four, one in zip(samples["4"], samples["1"], strict=True)]
    return {"events_per_s": med, "samples": samples, "four_vs_one": statistics.median(ratios)}


def measure(rounds: int, sizes: list[int], batch: int, postgres_url: str | None) -> dict[str, Any]:
    say("SQL stores: throughput beside JSONL")
    result: dict[str, Any] = {"throughput": measure_throughput(rounds, batch, postgres_url)}
    say("SQL stores: latest-page scaling")
    result["scaling"] = measure_scaling(sizes, rounds, postgres_url)
    if postgres_url:
        say("PostgreSQL: 1 vs 4 writer processes")
        result["writers"] = measure_writers(rounds, postgres_url)
    else:
        say("no PostgreSQL URL: PostgreSQL figures skipped")
    result["postgresql"] = bool(postgres_url)
    result["batch"] = batch
    result["sizes"] = sizes
    return result


_FIGURE_NAMES = {
    "floor": "floor: the raw driver's single autocommitted INSERT",
    "put": "put, one producer",
    "concurrent_puts_64_threads": f"{PRODUCERS} producers of single puts, a thread each",
    "concurrent_puts_one_thread": f"{PRODUCERS} producers of single puts, one thread",
    "put_batch": "put_batch({batch})",
}
_RATIO_NAMES = {
    "put_vs_floor": "put, one producer / floor",
    "concurrent_puts_64_threads_vs_put_batch": f"{PRODUCERS} producers, a thread each / put_batch({{batch}})",
    "concurrent_puts_one_thread_vs_put_batch": f"{PRODUCERS} producers, one thread / put_batch({{batch}})",
}


def render(result: dict[str, Any]) -> str:
    batch = result["batch"]
    throughput = result["throughput"]
    rates = throughput["events_per_s"]
    stores = list(rates)
    lines = [
        "| events/s | " + " | ".join(stores) + " |",
        "|---|" + "---|" * len(stores),
    ]
    for figure in FIGURES:
        cells = [f"{rates[s][figure]:.0f}" if figure in rates[s] else "-" for s in stores]
        lines.append(f"| {_FIGURE_NAMES[figure].format(batch=batch)} | " + " | ".join(cells) + " |")
    ratios = throughput.get("ratios", {})
    if ratios:
        lines += ["", "| ratio (median of per-round ratios) | store | measured | goal |", "|---|---|---|---|"]
        for key, bound in RATIO_GOALS.items():
            for store, figures in ratios.items():
                lines.append(
                    f"| {_RATIO_NAMES[key].format(batch=batch)} | {store} | {figures[key]:.2f} | >= {bound:g} |"
                )
    cpu = throughput.get("cpu_us_per_event", {})
    if cpu:
        lines += [
            "",
            "| per event, µs | wall | CPU, whole process | CPU, loop thread |",
            "|---|---|---|---|",
        ]
        for figure in FIGURES:
            for store in stores:
                if figure not in rates[store]:
                    continue
                c = cpu[store]
                lines.append(
                    f"| {store}: {_FIGURE_NAMES[figure].format(batch=batch)} | {1e6 / rates[store][figure]:.1f} "
                    f"| {c[figure + '_process_cpu']:.1f} | {c[figure + '_loop_cpu']:.1f} |"
                )
    sizes = [str(s) for s in result["sizes"]]
    lines += [
        "",
        "| store | latest page (list_messages limit=50) ms at "
        + " / ".join(sizes)
        + f" events | {sizes[-1]} / {sizes[0]} (goal <= 2) | one run's events ms at "
        + " / ".join(sizes)
        + f" | {sizes[-1]} / {sizes[0]} |",
        "|---|---|---|---|---|",
    ]
    for name, s in result["scaling"].items():
        pages = " / ".join(f"{s['median_s'][z]['list_messages'] * 1e3:.2f}" for z in sizes)
        runs = " / ".join(f"{s['median_s'][z]['list_events'] * 1e3:.2f}" for z in sizes)
        lines.append(
            f"| {name} | {pages} | {s['list_messages_large_vs_small']:.2f} "
            f"| {runs} | {s['list_events_large_vs_small']:.2f} |"
        )
    writers = result.get("writers")
    if writers:
        e = writers["events_per_s"]
        lines += [
            "",
            "| PostgreSQL writer processes | events/s (single puts, one thread each) |",
            "|---|---|",
            f"| 1 | {e['1']:.0f} |",
            f"| 4 | {e['4']:.0f} |",
            f"| 4 / 1 (median of per-round ratios; goal >= {WRITERS_GOAL:g}) | {writers['four_vs_one']:.2f} |",
        ]
    return "\n".join(lines) + "\n"


# -- where the CPU of a put goes ------------------------------------------------------------------

PROFILE_PUTS = 1000  # single puts, and as many events of 64 producers (a thread each)
_PARTS = (
    ("validation and the records returned (runlog/events/base.py)", ("runlog/events/base.py",)),
    ("commit queue, groups, writer (runlog/events/sql.py)", ("runlog/events/sql.py",)),
    ("driver (asyncpg)", ("asyncpg",)),
    ("sqlite3 calls (C, in the writer thread's job)", ("sqlite3.Connection", "sqlite3.Cursor")),
    (
        "hand-off to the writer thread (its future, the queue put that wakes it)",
        ("_queue.SimpleQueue", "concurrent/futures", "threading.py", "_thread."),
    ),
    (
        "event loop (asyncio: tasks, futures, callbacks, the socket's send and receive)",
        ("asyncio", "_asyncio", "selectors", "_contextvars"),
    ),
)


_OTHER = "other (the bench's producers building their events)"


def _part(path: str, name: str) -> str:
    where = f"{path}:{name}"
    for part, marks in _PARTS:
        if any(mark in where for mark in marks):
            return part
    return _OTHER


def _parts(stats: dict[Any, Any]) -> dict[str, float]:
    """Seconds per part; a built-in (len, isinstance, a regex match...) counts for its callers'
    parts, shared by how often each called it; so do the abc checks it runs."""
    own: dict[tuple[str, int, str], str] = {}

    def part_of(
        key: tuple[str, int, str], seen: frozenset[tuple[str, int, str]] = frozenset()
    ) -> dict[str, float]:
        path, _line, name = key
        if path != "~" and "<frozen abc>" not in path:
            return {own.setdefault(key, _part(path, name)): 1.0}
        callers = stats[key][4] if key in stats else {}
        calls = sum(row[1] for caller, row in callers.items() if caller not in seen)
        if not calls:
            return {_part(path, name): 1.0}
        shares: dict[str, float] = {}
        for caller, row in callers.items():
            if caller in seen:
                continue
            for part, share in part_of(caller, seen | {key}).items():
                shares[part] = shares.get(part, 0.0) + share * row[1] / calls
        return shares

    parts: dict[str, float] = {}
    for key, row in stats.items():
        if key[2] == "<method 'poll' of 'select.epoll' objects>":
            continue  # waiting for the database or the writer thread
        for part, share in part_of(key).items():
            parts[part] = parts.get(part, 0.0) + row[2] * share
    return parts


async def _profiled(store: RunEventStore, producers: int) -> tuple[dict[str, float], float]:
    """cProfile of PROFILE_PUTS events put by ``producers`` producers: the loop thread's CPU
    seconds per part (the selector's poll left out: its CPU is the loop's, its waits are not);
    and the events put."""
    import cProfile
    import pstats

    for p in range(producers):
        await store.put(**_event(0, thread_id=f"own{p}"))
    each = PROFILE_PUTS // producers

    async def produce(p: int) -> None:
        for i in range(each):
            await store.put(**_event(i, thread_id=f"own{p}", run_id=f"p{p}"))

    profile = cProfile.Profile(time.thread_time)  # the loop thread's CPU time, not the wall clock
    profile.enable()
    await asyncio.gather(*(produce(p) for p in range(producers)))
    profile.disable()
    return _parts(pstats.Stats(profile).stats), float(each * producers)  # type: ignore[attr-defined]


def profile(postgres_url: str | None) -> str:
    """Where the CPU time of the loop thread goes, per store, for one producer and for 64."""

    async def run(base: Path) -> list[str]:
        postgres = PostgresSchemas(postgres_url) if postgres_url else None
        lines = []
        async with _stores(base, postgres) as stores:
            for name, store in stores.items():
                if not isinstance(store, SqlRunEventStore):
                    continue
                for producers in (1, PRODUCERS):
                    parts, events = await _profiled(store, producers)
                    total = sum(parts.values())
                    lines += [
                        "",
                        f"{name}, {producers} producer{'s' if producers > 1 else ''} of single puts: "
                        f"{1e6 * total / events:.0f} µs of the loop thread's CPU per event under cProfile "
                        "(which slows small calls: compare the shares)",
                        "",
                        "| part | share |",
                        "|---|---|",
                    ]
                    lines += [
                        f"| {part} | {seconds / total:.0%} |"
                        for part, seconds in sorted(parts.items(), key=lambda kv: -kv[1])
                    ]
        return lines

    with tempfile.TemporaryDirectory() as tmp:
        return "\n".join(asyncio.run(run(Path(tmp)))) + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os

    parser = argparse.ArgumentParser(description="Where a SQL store's put spends its CPU (cProfile).")
    parser.add_argument("--profile", action="store_true", required=True)
    parser.add_argument("--postgres-url", default=os.environ.get("RUNLOG_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    print(profile(args.postgres_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
