"""Loop lag and latency of a real server under load: the service as built, and with its store's IO on the loop.

Two variants of ``python -m runlog serve``'s app, each in its own server
process on 127.0.0.1, driven by the same bounded load from this process:

* ``offloaded``: the service as shipped;
* ``on_loop``: the same app, with the JSONL store's ``asyncio.to_thread``
  replaced by a direct call (what the teeth check does to one site, done to
  all of them), so every store operation runs on the event loop.

Inside each server a loop-lag monitor reschedules itself every
``LAG_INTERVAL`` and records how late it ran (the time the loop could not
run anything else); at shutdown it writes the samples. The client records
each request's latency. The load: writers (single events and batches of 50),
readers paging a 100,000-event thread and listing one run's events, the run
list of a thread, and the skills; a fixed number of requests with a time cap,
so it stops by itself. The variants alternate, ``rounds`` each.

``python -m tools.service_bench`` prints the figures and writes
``service.json`` and ``service.png`` (loop lag over time, latency
distribution); ``tools/bench.py`` runs it as its ``service`` section.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LAG_INTERVAL = 0.005  # s between the monitor's wake-ups
BIG_THREAD = "big"
BIG_EVENTS = 100_000
COLD_THREADS = 8  # older threads, each read once during the load: a first read parses the whole file
COLD_EVENTS = 10_000
VARIANTS = ("offloaded", "on_loop")
# Paced well below what one server process answers here (600-800 requests/s when
# driven flat out, when the loop is always busy and its lag is only the queue).
DEFAULT_RATE = 200.0
# This machine's disk answers from its page cache in microseconds, and a store
# call then blocks for too little to show; 2 ms per operation is a slow disk or
# a network file system. `--io-delay-ms 0` measures the disk as it is.
DEFAULT_IO_DELAY = 0.002


# -- inside the server process ------------------------------------------------------------


class LoopLagMonitor:
    """A callback that re-arms itself every ``interval``; its lateness is the loop's lag."""

    def __init__(self, interval: float = LAG_INTERVAL) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (wall-clock time, lag in seconds)
        self._handle: asyncio.TimerHandle | None = None
        self._start = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._start = loop.time()
        self._arm(loop, self._start + self.interval)

    def _arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        self._handle = loop.call_at(due, self._tick, loop, due)

    def _tick(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        now = loop.time()
        self.samples.append((time.time(), max(0.0, now - due)))
        self._arm(loop, now + self.interval)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


def _store_io(variant: str, io_delay: float) -> None:
    """Set how the JSONL store's ``asyncio.to_thread`` calls run in this server process.

    ``on_loop``: each becomes a direct call, on the event loop. ``io_delay`` (s):
    each store operation first waits that long (``time.sleep``, where the
    operation runs: a worker thread, or the loop), as on a disk or network
    file system slower than this machine's page cache.
    """
    import types

    from runlog.events import jsonl

    def slowed(func: Any) -> Any:
        if not io_delay:
            return func

        def call(*args: Any, **kwargs: Any) -> Any:
            time.sleep(io_delay)
            return func(*args, **kwargs)

        return call

    async def direct(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        return slowed(func)(*args, **kwargs)

    async def offloaded(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(slowed(func), *args, **kwargs)

    # The rest of asyncio (futures, tasks of the group commit) stays as it is.
    to_thread = direct if variant == "on_loop" else offloaded
    jsonl.asyncio = types.SimpleNamespace(**{**vars(asyncio), "to_thread": to_thread})  # type: ignore[attr-defined]


def serve(variant: str, data_dir: Path, port: int, lag_out: Path, io_delay: float = 0.0) -> None:
    from contextlib import asynccontextmanager

    import uvicorn

    from runlog.gateway import Settings, create_app

    if variant == "on_loop" or io_delay:
        _store_io(variant, io_delay)
    app = create_app(Settings(data_dir=data_dir))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def with_monitor(app_: Any):  # type: ignore[no-untyped-def]
        monitor = LoopLagMonitor()
        monitor.start()
        try:
            async with inner(app_) as state:
                yield state
        finally:
            monitor.stop()
            await asyncio.to_thread(lag_out.write_text, json.dumps(monitor.samples))

    app.router.lifespan_context = with_monitor
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- the client side ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(data_dir: Path) -> None:
    """A 100k-event thread, older threads, a few skills: written directly, before any server runs."""
    from runlog.events import JsonlRunEventStore

    async def fill(store: JsonlRunEventStore, thread_id: str, count: int) -> None:
        for start in range(0, count, 5000):
            await store.put_batch(
                [
                    {
                        "thread_id": thread_id,
                        "run_id": f"r{i // 1000}",
                        "event_type": "assistant" if i % 2 else "tool",
                        "category": "message" if i % 2 else "trace",
                        "content": f"event {i} with some words of content",
                    }
                    for i in range(start, min(count, start + 5000))
                ]
            )

    async def main() -> None:
        store = JsonlRunEventStore(data_dir / "events", fsync=False)
        await fill(store, BIG_THREAD, BIG_EVENTS)
        for n in range(COLD_THREADS):
            await fill(store, f"old{n}", COLD_EVENTS)

    asyncio.run(main())
    for n in range(5):
        folder = data_dir / "skills" / f"skill{n}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "SKILL.md").write_text(f"---\nname: skill{n}\ndescription: number {n}\n---\nbody\n")


def _request(rng: random.Random, n: int, cold: list[str]) -> tuple[str, str, str, Any]:
    """(kind, method, path, json body) of the n-th request; ``cold``: older threads not read yet."""
    roll = rng.random()
    if cold and roll < 0.01:
        return "cold_read", "GET", f"/threads/{cold.pop()}/messages?limit=50", None
    if roll < 0.10:
        return "health", "GET", "/health", None
    if roll < 0.30:
        body = {"event_type": "user", "category": "message", "content": f"single {n}"}
        return "write", "POST", f"/threads/w{n % 8}/runs/r1/events", body
    if roll < 0.40:
        thread = f"w{n % 8}"
        body = [
            {"thread_id": thread, "run_id": "r2", "event_type": "tool", "category": "trace", "content": k}
            for k in range(50)
        ]
        return "batch", "POST", "/events/batch", body
    if roll < 0.70:
        before = rng.randrange(100, BIG_EVENTS)
        return "page", "GET", f"/threads/{BIG_THREAD}/messages?limit=50&before_seq={before}", None
    if roll < 0.85:
        return "run_events", "GET", f"/threads/{BIG_THREAD}/runs/r{rng.randrange(100)}/events?limit=100", None
    if roll < 0.93:
        return "runs", "GET", f"/threads/{BIG_THREAD}/runs", None
    return "skills", "GET", "/skills", None


async def drive(
    base: str, requests: int, clients: int, cap_s: float, seed_value: int, rate: float = 0.0
) -> dict[str, Any]:
    """Issue ``requests`` from ``clients`` connections; with ``rate`` > 0, the n-th request
    starts no earlier than n / rate seconds into the load (a paced load, below what the
    server can take, so the loop has idle time and its lag shows what stalls it)."""
    import httpx

    latencies: dict[str, list[float]] = {}
    errors = 0
    issued = 0
    deadline = time.monotonic() + cap_s
    cold = [f"old{n}" for n in range(COLD_THREADS)]
    random.Random(seed_value).shuffle(cold)

    async def client(index: int) -> None:
        nonlocal errors, issued
        rng = random.Random(seed_value * 1000 + index)
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while issued < requests and time.monotonic() < deadline:
                issued += 1
                n = issued
                if rate > 0:
                    wait = begun + n / rate - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                kind, method, path, body = _request(rng, n, cold)
                started = time.perf_counter()
                response = await http.request(method, path, json=body)
                latencies.setdefault(kind, []).append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1

    begun = started = time.perf_counter()
    window_start = time.time()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    every = [x for values in latencies.values() for x in values]
    return {
        "latencies": latencies,
        "all": every,
        "elapsed_s": elapsed,
        "errors": errors,
        "requests": len(every),
        "window": (window_start, time.time()),
    }


async def _healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get("/health")).status_code == 200:
                    # A first read of the big thread warms the cache, as any long-running server has.
                    await http.get(f"/threads/{BIG_THREAD}/messages", params={"limit": 1}, timeout=60)
                    return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
            if proc.poll() is not None:
                break
    raise RuntimeError(f"server did not start: {proc.stdout.read().decode() if proc.stdout else ''}")


def run_variant(
    variant: str,
    data_dir: Path,
    requests: int,
    clients: int,
    cap_s: float,
    n: int,
    rate: float = 0.0,
    io_delay: float = 0.0,
) -> dict[str, Any]:
    port = _free_port()
    lag_file = data_dir.parent / f"lag-{variant}-{n}.json"
    cmd = [
        sys.executable,
        "-m",
        "tools.service_bench",
        "serve",
        variant,
        str(data_dir),
        str(port),
        str(lag_file),
        str(io_delay),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(_healthy(base, proc))
        load = asyncio.run(drive(base, requests, clients, cap_s, seed_value=n, rate=rate))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
    # Only the load's window: the server's start and the cache warm-up are not the load.
    start, end = load["window"]
    samples = [(t - start, lag) for t, lag in json.loads(lag_file.read_text()) if start <= t <= end]
    return {**load, "lag": samples}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over rounds of each figure of one variant."""

    def med(figure: list[float]) -> float:
        return statistics.median(figure)

    lag = [[x for _, x in r["lag"]] for r in runs]
    return {
        "rounds": len(runs),
        "requests": med([r["requests"] for r in runs]),
        "errors": sum(r["errors"] for r in runs),
        "throughput_rps": med([r["requests"] / r["elapsed_s"] for r in runs]),
        "latency_ms": {
            "p50": med([_pct(r["all"], 0.50) * 1e3 for r in runs]),
            "p99": med([_pct(r["all"], 0.99) * 1e3 for r in runs]),
        },
        "health_latency_ms": {
            "p50": med([_pct(r["latencies"].get("health", []), 0.50) * 1e3 for r in runs]),
            "p99": med([_pct(r["latencies"].get("health", []), 0.99) * 1e3 for r in runs]),
        },
        "loop_lag_ms": {
            "p50": med([_pct(x, 0.50) * 1e3 for x in lag]),
            "p99": med([_pct(x, 0.99) * 1e3 for x in lag]),
            "max": med([max(x) * 1e3 for x in lag]),
        },
    }


def plot(runs: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"offloaded": "tab:blue", "on_loop": "tab:red"}
    fig, (lag_ax, lat_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    for variant, variant_runs in runs.items():
        # The worst lag of each quarter second: thousands of samples stay readable.
        buckets: dict[int, float] = {}
        for t, lag in variant_runs[0]["lag"]:
            buckets[int(t * 4)] = max(buckets.get(int(t * 4), 0.0), lag * 1e3)
        times = sorted(buckets)
        lag_ax.step(
            [b / 4 for b in times],
            [buckets[b] for b in times],
            where="post",
            color=colours[variant],
            label=variant,
        )
        latencies = sorted(x * 1e3 for r in variant_runs for x in r["all"])
        share = [(i + 1) / len(latencies) for i in range(len(latencies))]
        lat_ax.plot(latencies, share, color=colours[variant], label=variant)
    lag_ax.set(
        title="event-loop lag during the load (first round)",
        xlabel="seconds",
        ylabel="lag, ms",
        yscale="symlog",
    )
    lat_ax.set(
        title="request latency, all rounds", xlabel="ms (log)", ylabel="share of requests", xscale="log"
    )
    for ax in (lag_ax, lat_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def measure(
    out: Path,
    rounds: int = 2,
    requests: int = 1500,
    clients: int = 16,
    cap_s: float = 20.0,
    rate: float = DEFAULT_RATE,
    io_delay: float = DEFAULT_IO_DELAY,
) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            order = VARIANTS if n % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                data_dir = Path(tmp) / f"{variant}-{n}" / "data"
                seed(data_dir)
                runs[variant].append(
                    run_variant(variant, data_dir, requests, clients, cap_s, n, rate, io_delay)
                )
                s = summarise(runs[variant][-1:])
                print(
                    f"[service] round {n + 1}/{rounds} {variant}: {s['requests']:.0f} requests, "
                    f"{s['throughput_rps']:.0f}/s, latency p99 {s['latency_ms']['p99']:.1f} ms, "
                    f"loop lag p99 {s['loop_lag_ms']['p99']:.1f} ms, max {s['loop_lag_ms']['max']:.0f} ms",
                    flush=True,
                )
        out.mkdir(parents=True, exist_ok=True)
        plot(runs, out / "service.png")
    result: dict[str, Any] = {
        "load": {
            "requests": requests,
            "clients": clients,
            "cap_s": cap_s,
            "rate": rate,
            "io_delay_ms": io_delay * 1e3,
            "rounds": rounds,
            "big_thread_events": BIG_EVENTS,
            "cold_threads": COLD_THREADS,
        },
        "variants": {v: summarise(r) for v, r in runs.items()},
        "png": str(out / "service.png"),
    }
    off, on = result["variants"]["offloaded"], result["variants"]["on_loop"]
    result["on_loop_vs_offloaded"] = {
        "loop_lag_p99": on["loop_lag_ms"]["p99"] / max(off["loop_lag_ms"]["p99"], 1e-3),
        "latency_p99": on["latency_ms"]["p99"] / off["latency_ms"]["p99"],
        "health_latency_p99": on["health_latency_ms"]["p99"] / off["health_latency_ms"]["p99"],
        "throughput": on["throughput_rps"] / off["throughput_rps"],
    }
    (out / "service.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def render(result: dict[str, Any]) -> str:
    load = result["load"]
    lines = [
        f"Load: {load['requests']} requests from {load['clients']} clients "
        + (f"at {load['rate']:.0f}/s " if load.get("rate") else "as fast as they go ")
        + f"(cap {load['cap_s']:.0f} s), "
        + (
            f"each store operation {load['io_delay_ms']:g} ms slower (a slow disk), "
            if load.get("io_delay_ms")
            else ""
        )
        + f"{load['rounds']} rounds per variant, alternating; a {load['big_thread_events']}-event thread paged, "
        + f"{load['cold_threads']} older threads read once each.",
        "",
        "| variant | loop lag p50 / p99 / max, ms | latency p50 / p99, ms | /health latency p50 / p99, ms | requests/s | errors |",
        "|---|---|---|---|---|---|",
    ]
    for variant, v in result["variants"].items():
        lag, lat, health = v["loop_lag_ms"], v["latency_ms"], v["health_latency_ms"]
        lines.append(
            f"| {variant} | {lag['p50']:.2f} / {lag['p99']:.1f} / {lag['max']:.0f} "
            f"| {lat['p50']:.1f} / {lat['p99']:.1f} | {health['p50']:.1f} / {health['p99']:.1f} "
            f"| {v['throughput_rps']:.0f} | {v['errors']} |"
        )
    r = result["on_loop_vs_offloaded"]
    lines += [
        "",
        f"Store IO on the loop vs offloaded: loop lag p99 x{r['loop_lag_p99']:.1f}, "
        f"latency p99 x{r['latency_p99']:.1f}, /health latency p99 x{r['health_latency_p99']:.1f}, "
        f"throughput x{r['throughput']:.2f}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # the server process of one variant
        _, variant, data_dir, port, lag_out, io_delay = argv
        serve(variant, Path(data_dir), int(port), Path(lag_out), float(io_delay))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "bench")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"requests per second, paced (default {DEFAULT_RATE:.0f}); 0: as fast as the clients go",
    )
    parser.add_argument(
        "--io-delay-ms",
        type=float,
        default=DEFAULT_IO_DELAY * 1e3,
        help=f"added wait per store operation, in ms (default {DEFAULT_IO_DELAY * 1e3:g}): a slower disk",
    )
    args = parser.parse_args(argv)
    result = measure(
        args.out,
        rounds=args.rounds,
        requests=args.requests,
        clients=args.clients,
        rate=args.rate,
        io_delay=args.io_delay_ms / 1e3,
    )
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
