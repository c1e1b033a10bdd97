"""Graceful shutdown of a real server: SIGTERM during a write load loses no acknowledged event.

``python -m runlog serve`` runs as a child process; writers append events
(single and batch) over real connections; SIGTERM arrives mid-load. The
server must shut down on its own (finishing what is in flight and its
lifespan), every request it answered 201 must have a
complete body, and after a restart every acknowledged event is there with
its seq and content, no seq twice. Bounded: a fixed number of writers, each
stopping at its first refused connection or after its request budget.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM semantics are POSIX")

WRITERS = 6
BUDGET = 400  # requests per writer at most


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "runlog", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=base, timeout=1) as client:
        while True:
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "server did not answer within 30 s"
            await asyncio.sleep(0.1)


async def writer(base: str, n: int, acked: list[tuple[str, int, str]]) -> None:
    thread_id = f"t{n % 2}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for i in range(BUDGET):
            content = f"w{n}-{i}"
            try:
                if i % 5 == 4:  # every fifth request a batch of three
                    body = [
                        {
                            "thread_id": thread_id,
                            "run_id": f"r{n}",
                            "event_type": "b",
                            "category": "message",
                            "content": f"{content}-{k}",
                        }
                        for k in range(3)
                    ]
                    r = await client.post("/events/batch", json=body)
                    records = r.json() if r.status_code == 201 else []
                else:
                    r = await client.post(
                        f"/threads/{thread_id}/runs/r{n}/events",
                        json={"event_type": "u", "category": "message", "content": content},
                    )
                    records = [r.json()] if r.status_code == 201 else []
            except httpx.TransportError:
                return  # the server stopped taking requests: this writer is done
            assert r.status_code in (201, 503), r.text  # never a 500 or a half answer
            acked.extend((rec["thread_id"], rec["seq"], rec["content"]) for rec in records)


async def load_then_sigterm(base: str, proc: subprocess.Popen[bytes]) -> list[tuple[str, int, str]]:
    acked: list[tuple[str, int, str]] = []
    tasks = [asyncio.create_task(writer(base, n, acked)) for n in range(WRITERS)]
    while len(acked) < 60:  # the load is under way
        await asyncio.sleep(0.02)
        assert not all(t.done() for t in tasks), "writers stopped before the signal"
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return acked


async def stored_events(base: str) -> dict[str, list[tuple[int, str]]]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        out = {}
        for thread_id in ("t0", "t1"):
            r = await client.get(f"/threads/{thread_id}/messages", params={"limit": 1000})
            assert r.status_code == 200
            out[thread_id] = [(m["seq"], m["content"]) for m in r.json()]
        return out


def test_sigterm_during_writes_loses_no_acknowledged_event(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(data_dir, port)
    try:
        asyncio.run(wait_healthy(base, proc))
        acked = asyncio.run(load_then_sigterm(base, proc))
        code = proc.wait(timeout=30)
        log = proc.stdout.read().decode() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
    # uvicorn finishes the requests in flight and the lifespan's shutdown,
    # then re-raises the signal it caught: the exit status says SIGTERM.
    assert code in (0, -signal.SIGTERM), log
    for step in ("Shutting down", "Waiting for application shutdown", "Application shutdown complete"):
        assert step in log, log
    assert len(acked) >= 60
    assert len(acked) < WRITERS * BUDGET * 3, "the load was not cut by the signal"

    proc = serve(data_dir, port)
    try:
        asyncio.run(wait_healthy(base, proc))
        stored = asyncio.run(stored_events(base))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        if proc.stdout:
            proc.stdout.close()
    for thread_id, events in stored.items():
        seqs = [seq for seq, _ in events]
        assert seqs == sorted(set(seqs)), f"{thread_id}: a seq twice"
    present = {(thread_id, seq, content) for thread_id, events in stored.items() for seq, content in events}
    missing = [a for a in acked if a not in present]
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {missing[:3]}"
    assert os.path.exists(data_dir / "events" / "threads" / "t0.jsonl")
