"""Measured figures, side by side in one run: the gate's cost, store speed, the service under load.

Every figure is a ratio of two things measured in the same run, alternating,
and summarised by the median of at least 5 rounds, because these machines are
shared and noisy.

* the gate's whole commands: runlog's gate run (the pytest phase of ``tox -e
  blocking``, as it runs there: under coverage, two workers) armed and with
  ``--gate=off`` (the gate's overhead), in alternating rounds, beside one run
  of the gate's own tests (``gate/tests``, as ``tox -e gate`` runs them)
  between the first two rounds; the armed run's time has a goal of its own
  (``GATE_RUN_GOAL_S``). Teeth's time is not measured here: ``tox -e teeth``
  prints it;
* store throughput: ``put`` and ``put_batch(1000)`` events/s vs the floor, a
  plain synchronous append of the same JSON lines (``json.dumps`` per event,
  one ``write`` per call) to the same file; and group commit: 64 concurrent
  producers of single ``put``s, on one thread and on 64 threads, vs
  ``put_batch(1000)``, all with fsync;
* the service under load (``tools/service_bench.py``): loop lag and request
  latency of a real server, as built and with its store's IO on the loop;
* store scaling: ``list_messages(limit=50)`` and ``list_events`` of one run
  on threads of 1k, 10k and 100k events, against a naive store that re-reads
  and re-parses the file on every call; peak memory of a cold read of 100k
  events; the first read after another process appended;
* JSONL durability under another writer: put latency p50/p99 of producers
  on several threads, their files made durable by an fsync each (all at
  once, the default) or one ``syncfs``, on an idle file system and while
  another process streams buffered writes to it (``--stream-mb-s``);
* SQL stores (``tools/bench_sql.py``): put, group commit (64 producers) and
  put_batch beside JSONL, against the raw drivers' floors, with CPU time per
  event; latest-page scaling; 1 vs 4 writer processes on PostgreSQL.

Writes ``bench.json`` and ``bench.md`` under ``--out``; prints progress.
Exits 1 when a measured figure misses its goal (``GOALS``; ``bench.json``
lists each under ``goals``), unless ``--report-only``. docs/performance.md's tables are
copied from ``bench.md`` by ``python -m tools.readme_sections bench``.

``--only throughput,scaling`` measures those parts alone (a quick look at one
figure; the docs' tables want a whole run).

Usage: python -m tools.bench [--rounds 5] [--command-rounds 3] [--quick] [--sql-only] [--only PART,...]
       [--postgres-url URL] [--report-only] [--out reports/bench]
"""

from __future__ import annotations

import argparse
import asyncio
import configparser
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import filelock

from runlog.events import JsonlRunEventStore
from tools import bench_sql, service_bench

REPO = Path(__file__).resolve().parents[1]
BATCHES = 5  # put_batch calls per round
PRODUCERS = 64  # concurrent single-event producers, for group commit
PUTS_PER_PRODUCER = 40
LOCK_CYCLES = 2000  # inter-process lock + unlock cycles per round
# Figures whose CPU time per event is measured, loop thread and whole process.
CPU_FIGURES = ("put_batch_fsync", "concurrent_puts_one_thread_fsync", "concurrent_puts_64_threads_fsync")
SYNCED_FILES = 16  # files made durable at once, by an fsync each or one syncfs
SYNC_REPEATS = 9  # per round
PARTS = ("throughput", "scaling", "sync", "service", "sql", "commands")
# Rounds of the whole commands: each round runs the gate run armed and disarmed (a minute and a
# half each), and the whole bench has a goal of 15 minutes on the project's 2-core machines;
# 3 rounds still give medians.
COMMAND_ROUNDS = 3
GATE_RUN_GOAL_S = 90.0  # the pytest phase of tox -e blocking, warm env, 2 cores


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- whole commands ------------------------------------------------------------------


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TOX_", "COVERAGE_")) and k != "VIRTUAL_ENV"
    }
    env["PYTHONDONTWRITEBYTECODE"] = ""  # as tox.ini sets it: bytecode (and pytest's rewrites) cached
    env.update(extra)
    return env


def _timed(cmd: list[str], cwd: Path = REPO, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env or _clean_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return elapsed


def tox_command(env: str, starts: str) -> list[str]:
    """The command of tox.ini's ``[testenv:ENV]`` that starts with ``starts``, as this Python runs it."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini")
    line = next(
        line.strip()
        for line in tox[f"testenv:{env}"]["commands"].splitlines()
        if line.strip().startswith(starts)
    )
    words = shlex.split(line.replace("{posargs}", ""))
    return (
        [sys.executable, "-m", *words[2:]]
        if words[:2] == ["python", "-m"]
        else [sys.executable, "-m", *words]
    )


def gate_commands(scratch: Path) -> dict[str, tuple[list[str], Path, dict[str, str]]]:
    """The whole commands of the gate, each as its tox env runs it: (command, folder, environment)."""
    data = scratch / "coverage"
    data.mkdir(parents=True, exist_ok=True)
    # tox -e blocking's pytest phase: under coverage with per-test contexts, as its env sets it.
    covered = _clean_env(COVERAGE_CORE="ctrace", COVERAGE_FILE=str(data / ".coverage"))
    gate_run = tox_command("blocking{,-py310,-py311,-py312,-py313}", "coverage run -m pytest")
    own = tox_command("gate", "pytest tests")
    return {
        "gate_run_armed": (gate_run, REPO, covered),
        "gate_run_disarmed": ([*gate_run, "--gate=off"], REPO, covered),
        "gate_own_tests": (own, REPO / "gate", _clean_env()),
    }


def _collect_only(command: list[str]) -> list[str]:
    """The pytest command as a collection in one process: it imports and reads what the run does."""
    words = list(command)
    if "-n" in words:
        del words[words.index("-n") : words.index("-n") + 2]
    return [*words, "--collect-only", "-q", "-n", "0"]


def measure_commands(rounds: int) -> dict[str, Any]:
    """The gate run armed and disarmed in ``rounds`` alternating rounds (the order swapped each
    round), and the gate's own tests once, between the first two rounds."""
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        commands = gate_commands(Path(tmp))
        # A collection of each warms the file cache and the imports at a small part of a run's cost.
        say("warming up: each command collects its tests")
        for command, cwd, env in commands.values():
            _timed(_collect_only(command), cwd, env)
        pair = ["gate_run_armed", "gate_run_disarmed"]
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for n in range(rounds):
            for name in pair if n % 2 == 0 else pair[::-1]:
                samples[name].append(_timed(*commands[name]))
            if n == 0:
                samples["gate_own_tests"].append(_timed(*commands["gate_own_tests"]))
            say(f"round {n + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in samples.items()))
    med = {k: statistics.median(v) for k, v in samples.items()}
    ratios = [
        on / off for on, off in zip(samples["gate_run_armed"], samples["gate_run_disarmed"], strict=True)
    ]
    return {
        "rounds": rounds,
        "samples_s": samples,
        "median_s": med,
        "gate_run_s": med["gate_run_armed"],
        "gate_overhead": statistics.median(ratios),
    }


# -- store throughput --------------------------------------------------------------------


def _event(i: int, thread_id: str = "t", run_id: str = "r") -> dict[str, Any]:
    category = "message" if i % 2 == 0 else "trace"
    return {
        "thread_id": thread_id,
        "run_id": run_id,
        "event_type": "assistant" if category == "message" else "tool",
        "category": category,
        "content": f"event {i}: some words of content, \u00e9 and \u2028 included",
        "metadata": {"task_id": f"k{i % 7}", "step": i},
        "created_at": "2026-01-01T00:00:00+00:00",
    }


def _floor_lines(events: list[dict[str, Any]], first_seq: int) -> bytes:
    lines = [
        json.dumps({**e, "seq": first_seq + i}, ensure_ascii=True, separators=(",", ":"))
        for i, e in enumerate(events)
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


def measure_throughput(rounds: int, batch: int, singles: int) -> dict[str, Any]:
    results: dict[str, list[float]] = {
        k: []
        for k in (
            "put",
            "put_floor",
            "thread_hop",
            "put_batch",
            "put_batch_floor",
            "put_batch_fsync",
            "concurrent_puts_one_thread_fsync",
            "concurrent_puts_64_threads_fsync",
            "filelock_cycles",
            "kept_flock_cycles",
            "fsync_one_file_s",
            f"fsync_each_of_{SYNCED_FILES}_files_s",
            f"syncfs_{SYNCED_FILES}_files_s",
            f"fsync_parallel_{SYNCED_FILES}_files_s",
            *(f"{figure}_{cpu}_us" for figure in CPU_FIGURES for cpu in ("loop_cpu", "process_cpu")),
        )
    }

    class CpuPerEvent:
        """``with``: the loop thread's and the whole process's CPU time per event of a timed figure."""

        def __init__(self, figure: str, events: int) -> None:
            self.figure, self.events = figure, events

        def __enter__(self) -> None:
            self.loop, self.process = time.thread_time(), time.process_time()

        def __exit__(self, *exc: object) -> None:
            per_event = 1e6 / self.events
            results[f"{self.figure}_loop_cpu_us"].append((time.thread_time() - self.loop) * per_event)
            results[f"{self.figure}_process_cpu_us"].append((time.process_time() - self.process) * per_event)

    async def producers(store: JsonlRunEventStore, thread_of: Callable[[int], str], figure: str) -> float:
        """Events/s of PRODUCERS tasks, each putting its events one at a time, all at once."""

        async def produce(p: int) -> None:
            for i in range(PUTS_PER_PRODUCER):
                await store.put(**_event(i, thread_id=thread_of(p), run_id=f"p{p}"))

        for p in range(PRODUCERS):  # threads that exist already: the steady state
            await store.put(**_event(0, thread_id=thread_of(p)))
        started = time.perf_counter()
        with CpuPerEvent(figure, PRODUCERS * PUTS_PER_PRODUCER):
            await asyncio.gather(*(produce(p) for p in range(PRODUCERS)))
        return PRODUCERS * PUTS_PER_PRODUCER / (time.perf_counter() - started)

    async def run_round(base: Path) -> None:
        store = JsonlRunEventStore(base / "store", fsync=False)
        events = [_event(i) for i in range(singles)]
        started = time.perf_counter()
        for e in events:
            await store.put(**e)
        results["put"].append(singles / (time.perf_counter() - started))

        # The least any offloaded put pays: a round trip to a worker thread doing nothing.
        started = time.perf_counter()
        for _ in events:
            await asyncio.to_thread(int)
        results["thread_hop"].append(singles / (time.perf_counter() - started))

        floor_path = base / "floor-put.jsonl"
        started = time.perf_counter()
        for i, e in enumerate(events):
            with open(floor_path, "ab") as f:  # noqa: ASYNC230 - the synchronous floor, timed on purpose
                f.write(_floor_lines([e], i + 1))
        results["put_floor"].append(singles / (time.perf_counter() - started))

        # Batches go to a thread (and a floor file) that already exists: the
        # steady state. Creating a thread's files and lock is a one-off.
        batches = [[_event(n * batch + i, thread_id="b") for i in range(batch)] for n in range(BATCHES)]
        await store.put(**_event(0, thread_id="b"))
        started = time.perf_counter()
        for events in batches:
            await store.put_batch(events)
        results["put_batch"].append(BATCHES * batch / (time.perf_counter() - started))

        floor_path = base / "floor-batch.jsonl"
        floor_path.write_bytes(_floor_lines([_event(0)], 1))
        started = time.perf_counter()
        for n, events in enumerate(batches):
            with open(floor_path, "ab") as f:  # noqa: ASYNC230
                f.write(_floor_lines(events, 2 + n * batch))
        results["put_batch_floor"].append(BATCHES * batch / (time.perf_counter() - started))

        durable = JsonlRunEventStore(base / "durable", fsync=True)
        await durable.put(**_event(0, thread_id="d"))
        durable_batches = [[{**e, "thread_id": "d"} for e in events] for events in batches]
        started = time.perf_counter()
        with CpuPerEvent("put_batch_fsync", BATCHES * batch):
            for events in durable_batches:
                await durable.put_batch(events)
        results["put_batch_fsync"].append(BATCHES * batch / (time.perf_counter() - started))

        for figure, thread_of in (
            ("concurrent_puts_one_thread_fsync", lambda p: "shared"),
            ("concurrent_puts_64_threads_fsync", lambda p: f"own{p}"),
        ):
            store = JsonlRunEventStore(base / figure, fsync=True)
            results[figure].append(await producers(store, thread_of, figure))

    def lock_cycles(base: Path) -> None:
        """Inter-process lock and unlock per second: a filelock.FileLock, and the store's kept flock."""
        from runlog.events.jsonl import _ThreadFiles

        (base / "locks").mkdir()
        path = base / "locks" / "cycle.lock"
        lock = filelock.FileLock(path, timeout=30)
        started = time.perf_counter()
        for _ in range(LOCK_CYCLES):
            lock.acquire()
            lock.release()
        results["filelock_cycles"].append(LOCK_CYCLES / (time.perf_counter() - started))
        kept = _ThreadFiles(path, timeout=30, base_dir=str(base))
        started = time.perf_counter()
        for _ in range(LOCK_CYCLES):
            kept.lock_file()
            kept.unlock_file()
        results["kept_flock_cycles"].append(LOCK_CYCLES / (time.perf_counter() - started))
        kept.close()

    def sync_costs(base: Path) -> None:
        """What makes several threads' appends durable: an fsync each, or one syncfs (the store's choice)."""
        from runlog.events import jsonl

        fds = [
            os.open(base / f"synced{i}", os.O_WRONLY | os.O_CREAT | os.O_APPEND) for i in range(SYNCED_FILES)
        ]
        line = _floor_lines([_event(0)], 1)
        each, one, shared, parallel = [], [], [], []
        try:
            for _ in range(SYNC_REPEATS):
                started = time.perf_counter()
                os.write(fds[0], line)
                os.fsync(fds[0])
                one.append(time.perf_counter() - started)
                started = time.perf_counter()
                for fd in fds:
                    os.write(fd, line)
                    os.fsync(fd)
                each.append(time.perf_counter() - started)
                if jsonl._SYNCFS is not None:
                    started = time.perf_counter()
                    for fd in fds:
                        os.write(fd, line)
                    jsonl._syncfs(fds[0])
                    shared.append(time.perf_counter() - started)
                # What the store does by default: an fsync of each file, all at once.
                started = time.perf_counter()
                for fd in fds:
                    os.write(fd, line)
                jsonl._helpers().fsync_all(fds)
                parallel.append(time.perf_counter() - started)
        finally:
            for fd in fds:
                os.close(fd)
        results["fsync_one_file_s"].append(statistics.median(one))
        results[f"fsync_each_of_{SYNCED_FILES}_files_s"].append(statistics.median(each))
        if shared:
            results[f"syncfs_{SYNCED_FILES}_files_s"].append(statistics.median(shared))
        results[f"fsync_parallel_{SYNCED_FILES}_files_s"].append(statistics.median(parallel))

    for n in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run_round(Path(tmp)))
            lock_cycles(Path(tmp))
            sync_costs(Path(tmp))
        say(
            f"throughput round {n + 1}/{rounds}: put_batch {results['put_batch'][-1]:.0f}/s vs floor {results['put_batch_floor'][-1]:.0f}/s, "
            f"put {results['put'][-1]:.0f}/s vs floor {results['put_floor'][-1]:.0f}/s, "
            f"{PRODUCERS} producers {results['concurrent_puts_one_thread_fsync'][-1]:.0f}/s on one thread, "
            f"{results['concurrent_puts_64_threads_fsync'][-1]:.0f}/s on {PRODUCERS} threads, "
            f"put_batch with fsync {results['put_batch_fsync'][-1]:.0f}/s"
        )
    syncs = {k: results.pop(k) for k in list(results) if k.endswith("_s")}
    cpu = {
        k.removesuffix("_us"): statistics.median(results.pop(k))
        for k in list(results)
        if k.endswith("_cpu_us")
    }
    med = {k: statistics.median(v) for k, v in results.items()}

    def ratio(a: str, b: str) -> float:
        """The median of the rounds' ratios: each compares two figures of one round, side by side."""
        return statistics.median(x / y for x, y in zip(results[a], results[b], strict=True))

    return {
        "events_per_s": med,
        "samples": results,
        "put_vs_floor": ratio("put", "put_floor"),
        "thread_hop_vs_floor": ratio("thread_hop", "put_floor"),
        "put_batch_vs_floor": ratio("put_batch", "put_batch_floor"),
        # Group commit: many producers of single events reach what one batching producer does.
        "concurrent_puts_one_thread_vs_put_batch_fsync": ratio(
            "concurrent_puts_one_thread_fsync", "put_batch_fsync"
        ),
        "concurrent_puts_64_threads_vs_put_batch_fsync": ratio(
            "concurrent_puts_64_threads_fsync", "put_batch_fsync"
        ),
        # Why an offload of several threads calls syncfs once rather than fsync per file (ms).
        "sync_ms": {k.removesuffix("_s"): 1e3 * statistics.median(v) for k, v in syncs.items() if v},
        # Where the time goes: CPU time per event, of the loop thread and of the whole process (µs).
        "cpu_us_per_event": cpu,
        # Why the JSONL store keeps its lock file open instead of a FileLock per write.
        "filelock_cycle_us": 1e6 / med["filelock_cycles"],
        "kept_flock_cycle_us": 1e6 / med["kept_flock_cycles"],
    }


# -- JSONL: syncfs or an fsync per file, while another process writes -------------------------

SYNC_PRODUCERS = 8  # producers of single puts, a thread each: every offload holds several threads
SYNC_SECONDS = 2.5  # per cell: one sync mode, idle or loaded file system
# The other process: buffered writes of 1 MiB, as fast as it can (0) or at most this many MB/s,
# into one file it rewrites from the start once it holds STREAM_RING_MB (bounded disk use).
STREAM_MB_S = 0.0
STREAM_RING_MB = 1024
STREAMER = """
import os, sys, time
path, rate, ring = sys.argv[1], float(sys.argv[2]) * 2**20, int(sys.argv[3]) * 2**20
chunk = os.urandom(2**20)
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
print("streaming", flush=True)
started, written = time.monotonic(), 0
while True:
    os.pwrite(fd, chunk, written % ring)
    written += len(chunk)
    ahead = written / rate - (time.monotonic() - started) if rate else 0
    if ahead > 0:
        time.sleep(ahead)
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _put_latencies(store: JsonlRunEventStore, seconds: float) -> list[float]:
    """Latency of every put of SYNC_PRODUCERS producers, a thread each, for ``seconds``."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def produce(p: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await store.put(**_event(i, thread_id=f"sync{p}"))
            latencies.append(time.perf_counter() - started)
            i += 1

    for p in range(SYNC_PRODUCERS):  # the threads exist: the steady state
        await store.put(**_event(0, thread_id=f"sync{p}"))
    await asyncio.gather(*(produce(p) for p in range(SYNC_PRODUCERS)))
    return latencies


def measure_sync_under_load(
    rounds: int, seconds: float = SYNC_SECONDS, stream_mb_s: float = STREAM_MB_S
) -> dict[str, Any]:
    """Put latency with fsync on, an offload's threads made durable by one syncfs or an fsync each,
    on an idle file system and while another process streams buffered writes to the same one."""
    modes = {"syncfs": True, "fsync_per_file": False}
    samples: dict[str, dict[str, list[float]]] = {
        f"{mode}_{load}": {"p50_ms": [], "p99_ms": [], "puts_per_s": []}
        for load in ("idle", "loaded")
        for mode in modes
    }

    def cell(base: Path, mode: str, load: str) -> None:
        store = JsonlRunEventStore(base / f"{mode}-{load}", fsync=True, syncfs=modes[mode])
        latencies = asyncio.run(_put_latencies(store, seconds))
        got = samples[f"{mode}_{load}"]
        got["p50_ms"].append(1e3 * _percentile(latencies, 0.50))
        got["p99_ms"].append(1e3 * _percentile(latencies, 0.99))
        got["puts_per_s"].append(len(latencies) / seconds)

    for n in range(rounds):
        order = list(modes) if n % 2 == 0 else list(reversed(modes))
        with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
            base = Path(tmp)
            for mode in order:
                cell(base, mode, "idle")
            streamer = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    STREAMER,
                    str(base / "stream.bin"),
                    str(stream_mb_s),
                    str(STREAM_RING_MB),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert streamer.stdout is not None
                if streamer.stdout.readline().strip() != "streaming":
                    raise SystemExit("bench: the streaming writer did not start")
                time.sleep(1.0)  # its dirty pages build up
                for mode in order:
                    cell(base, mode, "loaded")
            finally:
                streamer.kill()
                streamer.wait(30)
                if streamer.stdout is not None:
                    streamer.stdout.close()
        say(
            f"sync round {n + 1}/{rounds}: p99 ms "
            + ", ".join(f"{k} {v['p99_ms'][-1]:.1f}" for k, v in samples.items())
        )
    med = {k: {m: statistics.median(v) for m, v in figures.items()} for k, figures in samples.items()}
    return {
        "producers": SYNC_PRODUCERS,
        "seconds": seconds,
        "stream_mb_s": stream_mb_s,
        "median": med,
        "samples": samples,
        # The decision (issue 24): syncfs stays the default only if this is at most 2.
        "loaded_p99_syncfs_vs_fsync_per_file": statistics.median(
            a / b
            for a, b in zip(
                samples["syncfs_loaded"]["p99_ms"], samples["fsync_per_file_loaded"]["p99_ms"], strict=True
            )
        ),
    }


def _sync_rows(sync: dict[str, Any]) -> list[str]:
    med = sync["median"]
    rows = [
        "",
        f"JSONL put latency, fsync on, {sync['producers']} producers of single puts on a thread each "
        f"({sync['seconds']:g} s per cell); loaded: another process writes, buffered, "
        + (f"{sync['stream_mb_s']:g} MB/s" if sync["stream_mb_s"] else "as fast as it can")
        + " to the same file system:",
        "",
        "| an offload's threads made durable by | file system | put p50 ms | put p99 ms | puts/s |",
        "|---|---|---|---|---|",
    ]
    for mode, name in (("syncfs", "one syncfs"), ("fsync_per_file", "an fsync per thread file")):
        for load in ("idle", "loaded"):
            m = med[f"{mode}_{load}"]
            rows.append(
                f"| {name} | {load} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | {m['puts_per_s']:.0f} |"
            )
    rows.append(
        f"| loaded p99: syncfs / fsync per file | | | {sync['loaded_p99_syncfs_vs_fsync_per_file']:.2f} | |"
    )
    return rows


# -- store scaling ---------------------------------------------------------------------------


class NaiveStore:
    """The common design, as a reference: every call re-reads and re-parses the whole file."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir

    def _records(self, thread_id: str) -> list[dict[str, Any]]:
        path = self.base_dir / "threads" / f"{thread_id}.jsonl"
        out = []
        with open(path, "rb") as f:
            for line in f:
                obj = json.loads(line)
                if "batch" in obj:
                    out.extend(obj["batch"])
                elif "seq" in obj:
                    out.append(obj)
        return out

    async def list_messages(self, thread_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        records = await asyncio.to_thread(self._records, thread_id)
        return [r for r in records if r["category"] == "message"][-limit:]

    async def list_events(self, thread_id: str, run_id: str, *, limit: int = 500) -> list[dict[str, Any]]:
        records = await asyncio.to_thread(self._records, thread_id)
        return [r for r in records if r["run_id"] == run_id][:limit]


async def _median_call(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _append_in_another_process(base: Path, thread_id: str, count: int) -> None:
    code = (
        "import asyncio, sys\n"
        "from runlog.events import JsonlRunEventStore\n"
        "from tools.bench import _event\n"
        "async def main():\n"
        f"    s = JsonlRunEventStore({str(base)!r}, fsync=False)\n"
        f"    await s.put_batch([_event(i, thread_id={thread_id!r}, run_id='late') for i in range({count})])\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, env=_clean_env())


def measure_scaling(sizes: list[int], rounds: int, run_size: int = 100) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": sizes, "per_size": {}}

    async def main(base: Path) -> None:
        for size in sizes:
            thread_id = f"t{size}"
            writer = JsonlRunEventStore(base, fsync=False)
            for start in range(0, size, 1000):
                await writer.put_batch(
                    [
                        _event(i, thread_id=thread_id, run_id=f"r{i // run_size}")
                        for i in range(start, min(size, start + 1000))
                    ]
                )
            # Peak memory of a cold read, on its own instance: tracemalloc
            # slows allocation, so the cold time is taken on another one.
            tracemalloc.start()
            await JsonlRunEventStore(base, fsync=False).list_messages(thread_id, limit=50)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            store = JsonlRunEventStore(base, fsync=False)
            naive = NaiveStore(base)
            started = time.perf_counter()
            await store.list_messages(thread_id, limit=50)
            cold = time.perf_counter() - started
            run_id = f"r{(size // run_size) // 2}"
            figures: dict[str, list[float]] = {
                k: [] for k in ("list_messages", "list_events", "naive_list_messages", "naive_list_events")
            }
            repeat = 20
            for _ in range(rounds):
                figures["list_messages"].append(
                    await _median_call(partial(store.list_messages, thread_id, limit=50), repeat)
                )
                figures["naive_list_messages"].append(
                    await _median_call(
                        partial(naive.list_messages, thread_id, limit=50), 1 if size >= 100_000 else 3
                    )
                )
                figures["list_events"].append(
                    await _median_call(partial(store.list_events, thread_id, run_id), repeat)
                )
                figures["naive_list_events"].append(
                    await _median_call(
                        partial(naive.list_events, thread_id, run_id), 1 if size >= 100_000 else 3
                    )
                )
            # Same page, same data: the two designs agree.
            assert await store.list_events(thread_id, run_id) == [
                {
                    k: r[k]
                    for k in (
                        "thread_id",
                        "run_id",
                        "seq",
                        "event_type",
                        "category",
                        "content",
                        "metadata",
                        "created_at",
                    )
                }
                for r in await naive.list_events(thread_id, run_id)
            ]
            await asyncio.to_thread(_append_in_another_process, base, thread_id, 100)
            started = time.perf_counter()
            page = await store.list_messages(thread_id, limit=50)
            after_append = time.perf_counter() - started
            assert page[-1]["run_id"] == "late", "the reader did not see the other process's append"
            med = {k: statistics.median(v) for k, v in figures.items()}
            out["per_size"][size] = {
                "median_s": med,
                "cold_first_read_s": cold,
                "peak_memory_cold_read_mb": peak / 1e6,
                "first_read_after_other_process_appended_s": after_append,
                "speedup_vs_naive_list_messages": med["naive_list_messages"] / med["list_messages"],
                "speedup_vs_naive_list_events": med["naive_list_events"] / med["list_events"],
            }
            say(
                f"scaling {size:>6} events: list_messages {med['list_messages'] * 1e3:.3f} ms "
                f"(naive {med['naive_list_messages'] * 1e3:.1f} ms), list_events {med['list_events'] * 1e3:.3f} ms, "
                f"cold read peak {peak / 1e6:.1f} MB"
            )

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(Path(tmp)))
    small, large = str(min(sizes)), str(max(sizes))
    per = {str(k): v for k, v in out["per_size"].items()}
    out["per_size"] = per
    out["list_messages_large_vs_small"] = (
        per[large]["median_s"]["list_messages"] / per[small]["median_s"]["list_messages"]
    )
    out["list_events_large_vs_small"] = (
        per[large]["median_s"]["list_events"] / per[small]["median_s"]["list_events"]
    )
    return out


# -- goals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """A figure of ``bench.json`` (a path of keys) and the bound it must meet."""

    path: tuple[str, ...]
    bound: float
    at_most: bool  # True: measured <= bound; False: measured >= bound

    @property
    def text(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.bound:g}"

    def measured(self, result: dict[str, Any]) -> float | None:
        value: Any = result
        for key in self.path:
            if not isinstance(value, dict) or key not in value:
                return None  # not measured in this run (e.g. --quick)
            value = value[key]
        return float(value)

    def met(self, value: float) -> bool:
        return value <= self.bound if self.at_most else value >= self.bound


GOALS = (
    Goal(("commands", "gate_overhead"), 1.15, at_most=True),
    Goal(("commands", "gate_run_s"), GATE_RUN_GOAL_S, at_most=True),
    Goal(("throughput", "put_vs_floor"), 0.2, at_most=False),
    Goal(("throughput", "put_batch_vs_floor"), 0.5, at_most=False),
    Goal(("throughput", "concurrent_puts_one_thread_vs_put_batch_fsync"), 0.5, at_most=False),
    Goal(("throughput", "concurrent_puts_64_threads_vs_put_batch_fsync"), 0.3, at_most=False),
    Goal(("scaling", "list_messages_large_vs_small"), 2.0, at_most=True),
    Goal(("scaling", "list_events_large_vs_small"), 2.0, at_most=True),
    # The SQL stores (issue 24): group commit against each store's own put_batch, a single put
    # against the raw driver's floor, 4 writer processes against 1.
    *(
        Goal(("sql", "throughput", "ratios", store, key), bound, at_most=False)
        for store in ("postgresql", "sqlite")
        for key, bound in bench_sql.RATIO_GOALS.items()
    ),
    Goal(("sql", "writers", "four_vs_one"), bench_sql.WRITERS_GOAL, at_most=False),
)


def judge(result: dict[str, Any], goals: tuple[Goal, ...] = GOALS) -> list[dict[str, Any]]:
    """Each goal with what this run measured; a figure the run did not measure is not judged."""
    verdicts = []
    for goal in goals:
        value = goal.measured(result)
        if value is not None:
            verdicts.append(
                {"figure": ".".join(goal.path), "measured": value, "goal": goal.text, "met": goal.met(value)}
            )
    return verdicts


def _goal(key: str) -> str:
    return next(g.text for g in GOALS if g.path[-1] == key)


# -- report ---------------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    lines = [
        f"Machine: {result['machine']}; Python {result['python']}; {result['rounds']} rounds, medians.",
        "",
        "| figure | measured | goal |",
        "|---|---|---|",
    ]
    cmd = result.get("commands")
    if cmd:
        m = cmd["median_s"]
        lines += [
            f"| runlog's gate run (tox -e blocking's pytest phase), s ({cmd['rounds']} rounds) | {m['gate_run_armed']:.1f} | {_goal('gate_run_s')} |",
            f"| gate overhead: that run armed / disarmed (median of per-round ratios) | {cmd['gate_overhead']:.2f} ({m['gate_run_armed']:.1f} s / {m['gate_run_disarmed']:.1f} s) | {_goal('gate_overhead')} |",
            f"| the gate's own tests (tox -e gate's pytest, one run between the first two rounds), s | {m['gate_own_tests']:.1f} | - |",
        ]
    if "sql" in result and not any(part in result for part in ("throughput", "scaling", "sync", "commands")):
        return "\n".join(lines[:1]) + "\n\n" + bench_sql.render(result["sql"])  # --sql-only
    t = result.get("throughput")
    if t:
        e = t["events_per_s"]
        b = result["batch"]
        lines += [
            f"| put events/s / floor (fsync off on both) | {t['put_vs_floor']:.2f} ({e['put']:.0f} / {e['put_floor']:.0f}) | {_goal('put_vs_floor')} |",
            f"| bare thread hops (asyncio.to_thread of a no-op)/s / put floor | {t['thread_hop_vs_floor']:.2f} ({e['thread_hop']:.0f} / {e['put_floor']:.0f}) | - |",
            f"| put_batch({b}) events/s / floor | {t['put_batch_vs_floor']:.2f} ({e['put_batch']:.0f} / {e['put_batch_floor']:.0f}) | {_goal('put_batch_vs_floor')} |",
            f"| put_batch({b}) with fsync, events/s | {e['put_batch_fsync']:.0f} | - |",
            f"| {PRODUCERS} producers of single puts, one thread, fsync: events/s / put_batch({b}) | {t['concurrent_puts_one_thread_vs_put_batch_fsync']:.2f} ({e['concurrent_puts_one_thread_fsync']:.0f} / {e['put_batch_fsync']:.0f}) | {_goal('concurrent_puts_one_thread_vs_put_batch_fsync')} |",
            f"| {PRODUCERS} producers of single puts, a thread each, fsync: events/s / put_batch({b}) | {t['concurrent_puts_64_threads_vs_put_batch_fsync']:.2f} ({e['concurrent_puts_64_threads_fsync']:.0f} / {e['put_batch_fsync']:.0f}) | {_goal('concurrent_puts_64_threads_vs_put_batch_fsync')} |",
        ]
        if "filelock_cycle_us" in t:  # absent from reports made before it was measured
            lines.append(
                f"| inter-process lock + unlock, µs: filelock.FileLock / the store's kept flock | {t['filelock_cycle_us'] / t['kept_flock_cycle_us']:.0f}x ({t['filelock_cycle_us']:.1f} / {t['kept_flock_cycle_us']:.1f}) | - |"
            )
        sync = t.get("sync_ms", {})
        each, shared = f"fsync_each_of_{SYNCED_FILES}_files", f"syncfs_{SYNCED_FILES}_files"
        if each in sync and shared in sync:
            lines.append(
                f"| durable append to {SYNCED_FILES} files, ms: an fsync each / one syncfs (one file, one fsync: {sync['fsync_one_file']:.2f}) | {sync[each] / sync[shared]:.1f}x ({sync[each]:.2f} / {sync[shared]:.2f}) | - |"
            )
        parallel = f"fsync_parallel_{SYNCED_FILES}_files"
        if parallel in sync and shared in sync:
            lines.append(
                f"| durable append to {SYNCED_FILES} files, ms: an fsync each, all at once (the default) / one syncfs | {sync[parallel] / sync[shared]:.1f}x ({sync[parallel]:.2f} / {sync[shared]:.2f}) | - |"
            )
    lines += _scaling_rows(result)
    if t and t.get("cpu_us_per_event"):  # its own table, after the rows of the first
        lines += _cpu_rows(t, result["batch"])
    if "sync" in result:
        lines += _sync_rows(result["sync"])
    if "service" in result:
        lines += [
            "",
            "Service under load (`tools/service_bench.py`):",
            "",
            service_bench.render(result["service"]).rstrip(),
        ]
    text = "\n".join(lines) + "\n"
    return text + "\n" + bench_sql.render(result["sql"]) if "sql" in result else text


def _cpu_rows(throughput: dict[str, Any], batch: int) -> list[str]:
    """Where the time of the group-commit figures goes: CPU time per event beside wall time per event."""
    cpu, rates = throughput["cpu_us_per_event"], throughput["events_per_s"]
    names = {
        "put_batch_fsync": f"put_batch({batch}), fsync",
        "concurrent_puts_one_thread_fsync": f"{PRODUCERS} producers of single puts, one thread, fsync",
        "concurrent_puts_64_threads_fsync": f"{PRODUCERS} producers of single puts, a thread each, fsync",
    }
    rows = ["", "| per event, µs | wall | CPU, whole process | CPU, loop thread |", "|---|---|---|---|"]
    for figure, name in names.items():
        rows.append(
            f"| {name} | {1e6 / rates[figure]:.1f} | {cpu[figure + '_process_cpu']:.1f} | {cpu[figure + '_loop_cpu']:.1f} |"
        )
    return rows


def _scaling_rows(result: dict[str, Any]) -> list[str]:
    if "scaling" not in result:
        return []
    s = result["scaling"]
    sizes = [str(x) for x in s["sizes"]]
    lines = [
        f"| list_messages(limit=50) {sizes[-1]} / {sizes[0]} events | {s['list_messages_large_vs_small']:.2f} | {_goal('list_messages_large_vs_small')} |",
        f"| list_events(one run) {sizes[-1]} / {sizes[0]} events | {s['list_events_large_vs_small']:.2f} | {_goal('list_events_large_vs_small')} |",
        "",
        "| events in thread | list_messages ms (naive ms, speedup) | list_events ms (naive ms, speedup) | cold first read ms | peak MB, cold read | first read after another process appended 100, ms |",
        "|---|---|---|---|---|---|",
    ]
    for size in sizes:
        p = s["per_size"][size]
        m = p["median_s"]
        lines.append(
            f"| {size} | {m['list_messages'] * 1e3:.3f} ({m['naive_list_messages'] * 1e3:.1f}, {p['speedup_vs_naive_list_messages']:.0f}x) "
            f"| {m['list_events'] * 1e3:.3f} ({m['naive_list_events'] * 1e3:.1f}, {p['speedup_vs_naive_list_events']:.0f}x) "
            f"| {p['cold_first_read_s'] * 1e3:.1f} | {p['peak_memory_cold_read_mb']:.1f} | {p['first_read_after_other_process_appended_s'] * 1e3:.2f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds per figure (>= 5 for the docs' figures)"
    )
    parser.add_argument(
        "--command-rounds",
        type=int,
        default=COMMAND_ROUNDS,
        help=f"alternating rounds of the whole commands (default {COMMAND_ROUNDS})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="skip the whole-command figures (the gate's runs)"
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="thread sizes for the scaling figures")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "bench")
    parser.add_argument(
        "--sql-only", action="store_true", help="only the SQL store figures (tools/bench_sql.py)"
    )
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to measure, of {','.join(PARTS)} (default: all; --quick drops commands)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("RUNLOG_TEST_POSTGRES_URL"),
        help="PostgreSQL for the SQL figures (default: $RUNLOG_TEST_POSTGRES_URL; none: SQLite only)",
    )
    parser.add_argument(
        "--stream-mb-s",
        type=float,
        default=STREAM_MB_S,
        help="the sync part's other writer: MB/s of buffered writes (default 0: as fast as it can)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="exit 0 even when a figure misses its goal (the misses are still listed)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "rounds": args.rounds,
        "batch": args.batch,
    }
    sizes = [int(x) for x in args.sizes.split(",")]
    parts = set(args.only.split(","))
    if parts - set(PARTS):
        parser.error(f"--only: unknown part(s) {sorted(parts - set(PARTS))}; known: {', '.join(PARTS)}")
    if args.sql_only:
        parts = {"sql"}
    if args.quick:
        parts.discard("commands")
    result["parts"] = [p for p in PARTS if p in parts]
    if "throughput" in parts:
        say("store throughput")
        result["throughput"] = measure_throughput(args.rounds, args.batch, singles=300)
    if "scaling" in parts:
        say("store scaling")
        result["scaling"] = measure_scaling(sizes, args.rounds)
    if "sync" in parts:
        say("JSONL: put latency with syncfs or an fsync per file, idle and under another writer")
        result["sync"] = measure_sync_under_load(max(3, args.rounds // 2), stream_mb_s=args.stream_mb_s)
    if "service" in parts:
        say("the service under load: offloaded vs store IO on the loop")
        result["service"] = service_bench.measure(args.out, rounds=max(2, args.rounds // 2))
    if "sql" in parts:
        result["sql"] = bench_sql.measure(args.rounds, sizes, args.batch, args.postgres_url)
    if "commands" in parts:
        say("whole commands: runlog's gate run armed and disarmed, the gate's own tests")
        result["commands"] = measure_commands(args.command_rounds)
    result["seconds"] = time.perf_counter() - started
    result["date"] = time.strftime("%Y-%m-%d")
    result["goals"] = judge(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    table = render(result)
    (args.out / "bench.md").write_text(table)
    print(table)
    say(f"done in {result['seconds']:.0f} s; {args.out / 'bench.json'}")
    missed = [g for g in result["goals"] if not g["met"]]
    for g in missed:
        print(f"bench: {g['figure']} = {g['measured']:.2f} misses its goal {g['goal']}", file=sys.stderr)
    print(f"bench: goals met {len(result['goals']) - len(missed)}/{len(result['goals'])}")
    return 1 if missed and not args.report_only else 0


if __name__ == "__main__":
    sys.exit(main())
