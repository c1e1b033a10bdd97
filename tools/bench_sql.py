"""SQL store figures for ``tools/bench.py``: throughput beside JSONL, latest-page scaling, writer processes.

Each store runs as shipped (JSONL with fsync, SQLite in WAL with its default
synchronous=FULL, PostgreSQL with synchronous_commit on), so the throughput
compares durable writes with durable writes.

* throughput: ``put`` (300 single events) and ``put_batch(1000)`` (5
  batches) into an existing thread, events/s, stores alternating per round;
* scaling: ``list_messages(limit=50)`` (the latest page) and ``list_events``
  of one 100-event run, on threads of 1k, 10k and 100k events (every other
  event a message), median of 30 calls per round; the figure is 100k / 1k;
* writers: 1 and then 4 OS processes appending single events (each to its
  own thread) to PostgreSQL at the same moment, total events/s; the figure
  is 4 / 1.

PostgreSQL figures need a server: ``RUNLOG_TEST_POSTGRES_URL`` (as for the
tests) or ``--postgres-url``; each run works in its own schema and drops it.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from runlog.events import JsonlRunEventStore, RunEventStore, SqlRunEventStore

REPO = Path(__file__).resolve().parents[1]
SINGLES = 300
BATCHES = 5
RUN_SIZE = 100
WRITER_EVENTS = 300


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


def measure_throughput(rounds: int, batch: int, postgres_url: str | None) -> dict[str, Any]:
    samples: dict[str, dict[str, list[float]]] = {}

    async def run_round(base: Path) -> None:
        postgres = PostgresSchemas(postgres_url) if postgres_url else None
        async with _stores(base, postgres) as stores:
            for name, store in stores.items():
                got = samples.setdefault(name, {"put": [], "put_batch": []})
                await store.put(**_event(0))  # the thread exists: the steady state
                started = time.perf_counter()
                for i in range(SINGLES):
                    await store.put(**_event(i))
                got["put"].append(SINGLES / (time.perf_counter() - started))
                batches = [[_event(n * batch + i) for i in range(batch)] for n in range(BATCHES)]
                started = time.perf_counter()
                for events in batches:
                    await store.put_batch(events)
                got["put_batch"].append(BATCHES * batch / (time.perf_counter() - started))

    for n in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run_round(Path(tmp)))
        say(
            f"throughput round {n + 1}/{rounds}: "
            + ", ".join(f"{k} put_batch {v['put_batch'][-1]:.0f}/s" for k, v in samples.items())
        )
    return {
        "events_per_s": {k: {m: statistics.median(v) for m, v in s.items()} for k, s in samples.items()},
        "samples": samples,
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

    url, worker, count, start_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])

    async def main():
        store = open_store(url)
        await store.count_messages(f"w{worker}")  # connected and schema checked before the start
        ready = time.time()
        await asyncio.sleep(max(0.0, start_at - ready))
        for i in range(count):
            await store.put(thread_id=f"w{worker}", run_id="r", event_type="user", category="message", content=i)
        print(ready, time.time())
        await store.close()

    asyncio.run(main())
    """
)


def _writers(url: str, processes: int) -> float:
    """Events/s of ``processes`` writers starting together, wall clock from the start to the last one done."""
    lead = 3.0 + 1.5 * processes  # time for every process to import, connect and wait
    for _attempt in range(3):
        rate = _writers_once(url, processes, lead)
        if rate is not None:
            return rate
        lead *= 2  # a busy machine: a writer was not ready at the start
    raise SystemExit(f"bench: {processes} writers were never all ready within {lead / 2:.0f} s")


def _writers_once(url: str, processes: int, lead: float) -> float | None:
    start_at = time.time() + lead
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(w), str(WRITER_EVENTS), str(start_at)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(processes)
    ]
    finished = []
    late = 0.0
    for worker in workers:
        out, _ = worker.communicate(timeout=300)
        if worker.returncode != 0:
            raise SystemExit(f"bench: a writer process failed (exit {worker.returncode})")
        ready, done = (float(x) for x in out.split())
        late = max(late, ready - start_at)
        finished.append(done)
    if late > 0:
        say(f"a writer was ready {late:.1f} s after the start: again with a longer lead")
        return None
    return processes * WRITER_EVENTS / (max(finished) - start_at)


def measure_writers(rounds: int, postgres_url: str) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"1": [], "4": []}
    postgres = PostgresSchemas(postgres_url)
    try:
        for n in range(rounds):
            for processes in (1, 4):
                url = asyncio.run(postgres.new())
                asyncio.run(SqlRunEventStore(url).close())
                samples[str(processes)].append(_writers(url, processes))
            say(
                f"writers round {n + 1}/{rounds}: 1 process {samples['1'][-1]:.0f}/s, 4 processes {samples['4'][-1]:.0f}/s"
            )
    finally:
        asyncio.run(postgres.drop_all())
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {"events_per_s": med, "samples": samples, "four_vs_one": med["4"] / med["1"]}


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


def render(result: dict[str, Any]) -> str:
    batch = result["batch"]
    lines = [
        "| store | put events/s | put_batch(" + str(batch) + ") events/s |",
        "|---|---|---|",
    ]
    for name, figures in result["throughput"]["events_per_s"].items():
        lines.append(f"| {name} | {figures['put']:.0f} | {figures['put_batch']:.0f} |")
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
            f"| 4 / 1 | {writers['four_vs_one']:.2f} |",
        ]
    return "\n".join(lines) + "\n"
