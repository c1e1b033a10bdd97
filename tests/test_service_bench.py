"""The service bench's instruments: the loop-lag monitor, the on-loop variant, the summary."""

from __future__ import annotations

import asyncio
import threading
import time

from tools import service_bench

from runlog.events import JsonlRunEventStore
from tests.factories import event


async def test_loop_lag_monitor_sees_a_blocked_loop():
    # Only what timer order guarantees, whatever the machine's load: a tick due before the
    # sleep's end runs before it, and the tick due during the block runs after it, at least
    # the block's length late. (How many ticks come, and how late the others are, is the
    # scheduler's: under load the process waits for a core, and counting ticks flaked.)
    monitor = service_bench.LoopLagMonitor(interval=0.002)
    monitor.start()
    await asyncio.sleep(0.05)
    before = len(monitor.samples)
    blocked_at = time.time()
    time.sleep(0.12)  # noqa: ASYNC251 - blocks the loop on purpose: what the monitor must see
    await asyncio.sleep(0.02)
    monitor.stop()
    assert before >= 1, "no tick during the 50 ms the loop was free"
    late = [(at, lag) for at, lag in monitor.samples[before:] if lag >= 0.11]
    assert late and late[0][0] >= blocked_at + 0.1, "the blocked tick was not seen, or not as late"
    stopped = len(monitor.samples)
    await asyncio.sleep(0.01)
    assert len(monitor.samples) == stopped, "the monitor ticked after stop()"


async def test_on_loop_variant_runs_store_io_on_the_loop_thread(tmp_path, monkeypatch):
    from runlog.events import jsonl

    monkeypatch.setattr(jsonl, "asyncio", jsonl.asyncio)  # undone after the test
    seen = []
    original = JsonlRunEventStore._sync_append

    def spy(self, thread_id, parts, *rest):
        seen.append(threading.current_thread() is threading.main_thread())
        return original(self, thread_id, parts, *rest)

    monkeypatch.setattr(JsonlRunEventStore, "_sync_append", spy)
    store = JsonlRunEventStore(tmp_path)
    await store.put(**event())
    service_bench._store_io("on_loop", 0.0)
    await store.put(**event())
    assert seen == [False, True]
    assert await store.count_messages("t1") == 2


async def test_the_slow_disk_waits_where_the_store_operation_runs(tmp_path, monkeypatch):
    """--io-delay-ms: each store operation waits first, in its worker thread (offloaded) or on the loop."""
    from runlog.events import jsonl

    monkeypatch.setattr(jsonl, "asyncio", jsonl.asyncio)  # undone after the test
    slept = []
    monkeypatch.setattr(
        service_bench.time,
        "sleep",
        lambda s: slept.append((s, threading.current_thread() is threading.main_thread())),
    )
    store = JsonlRunEventStore(tmp_path)
    service_bench._store_io("offloaded", 0.002)
    await store.put(**event())
    await store.count_messages("t1")
    service_bench._store_io("on_loop", 0.002)
    await store.put(**event())
    assert slept == [(0.002, False), (0.002, False), (0.002, True)]
    assert await store.count_messages("t1") == 2


def run(lags_ms, latencies_ms, health_ms, seconds=10.0):
    return {
        "lag": [(i * 0.005, x / 1e3) for i, x in enumerate(lags_ms)],
        "all": [x / 1e3 for x in latencies_ms],
        "latencies": {"health": [x / 1e3 for x in health_ms]},
        "elapsed_s": seconds,
        "errors": 0,
        "requests": len(latencies_ms),
    }


def test_summary_and_table():
    offloaded = service_bench.summarise([run([1] * 99 + [50], [10] * 100, [2] * 10)])
    on_loop = service_bench.summarise([run([1] * 90 + [400] * 10, [10] * 90 + [900] * 10, [300] * 10)])
    assert offloaded["loop_lag_ms"] == {"p50": 1.0, "p99": 50.0, "max": 50.0}
    assert on_loop["latency_ms"] == {"p50": 10.0, "p99": 900.0}
    assert offloaded["throughput_rps"] == 10.0
    result = {
        "load": {
            "requests": 100,
            "clients": 4,
            "cap_s": 5.0,
            "rounds": 1,
            "big_thread_events": 10,
            "cold_threads": 2,
        },
        "variants": {"offloaded": offloaded, "on_loop": on_loop},
        "on_loop_vs_offloaded": {
            "loop_lag_p99": 8.0,
            "latency_p99": 90.0,
            "health_latency_p99": 150.0,
            "throughput": 1.0,
        },
    }
    table = service_bench.render(result)
    assert "| offloaded | 1.00 / 50.0 / 50 | 10.0 / 10.0 | 2.0 / 2.0 | 10 | 0 |" in table
    assert "loop lag p99 x8.0, latency p99 x90.0, /health latency p99 x150.0" in table
