"""Crash safety of the SQL stores' group commit, tested for real: writer processes killed with SIGKILL
mid-load, on SQLite and on PostgreSQL.

Each writer process runs 8 concurrent producers (single puts, and put_batches of 3 events over two
threads), so its writes go out in groups; it appends every acknowledged record to an ack file of
its own and, just before each group's transaction, the group's events to an intent file of its own
(one ``write`` per line: a kill can only tear a file's last line). Two writers at a time are killed
at random moments, several times. Then a new store reads the database back:

* every acknowledged event is there, unchanged;
* no seq is given twice, and none is skipped (a group killed mid-transaction is rolled back
  with its counter rows);
* no batch is partly present, and no group: each group the intent files name is stored whole or
  not at all;
* the next put continues each thread's seqs.
"""

from __future__ import annotations

import asyncio
import json
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests_blocking.anchors.stores import StoreUnderTest, kind_params

from tests.factories import event

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

ROUNDS = 6
WRITERS = 2  # per round, writing to the same threads at once
PRODUCERS = 8  # per writer
THREADS = ("crash", "crash2")
READY_BOUND = 60  # seconds a writer may take to import, connect and say it is ready

WRITER = """
import asyncio, json, os, sys
from runlog.events import SqlRunEventStore

url, name, ack_path, intent_path, producers = sys.argv[1:6]

def opened(path):
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

ack, intents = opened(ack_path), opened(intent_path)
write = SqlRunEventStore._write

async def announced(self, queue, group):
    # Before the transaction: what goes together, one line.
    os.write(intents, (json.dumps([e.content for w in group.waiters for e in w.events]) + "\\n").encode())
    return await write(self, queue, group)

SqlRunEventStore._write = announced

async def produce(store, p):
    n = 0
    while True:
        n += 1
        if n % 3 == 0:
            batch = f"{name}-{p}-{n}"
            records = await store.put_batch([
                {"thread_id": ("crash", "crash2")[k % 2], "run_id": name, "event_type": "b", "category": "message",
                 "content": f"{batch}-{k}", "metadata": {"batch": batch}}
                for k in range(3)
            ])
        else:
            records = [await store.put(thread_id="crash", run_id=name, event_type="s", category="message",
                                       content=f"{name}-{p}-{n}")]
        os.write(ack, ("".join(json.dumps(r) + "\\n" for r in records)).encode())

async def main():
    store = SqlRunEventStore(url)
    await store.count_messages("crash")
    print("ready", flush=True)
    await asyncio.gather(*(produce(store, p) for p in range(int(producers))))

asyncio.run(main())
"""


def whole_lines(folder: Path, pattern: str) -> list[object]:
    """The JSON lines of every file of ``folder`` matching ``pattern``; a file's torn last piece is left out."""
    out = []
    for path in sorted(folder.glob(pattern)):
        lines = path.read_bytes().split(b"\n")
        out += [json.loads(line) for line in lines[:-1] if line]
    return out


def test_the_readers_of_the_writers_files_skip_only_a_torn_last_line(tmp_path):
    assert whole_lines(tmp_path, "*.ack") == []
    (tmp_path / "w0.ack").write_bytes(b'{"seq": 1}\n{"seq": 2}\n{"se')
    (tmp_path / "w1.ack").write_bytes(b'{"seq": 3}\n')
    (tmp_path / "w1.intent").write_bytes(b'["a", "b"]\n["c"')
    assert whole_lines(tmp_path, "*.ack") == [{"seq": 1}, {"seq": 2}, {"seq": 3}]
    assert whole_lines(tmp_path, "*.intent") == [["a", "b"]]


@pytest.mark.parametrize("kind", kind_params(("sqlite", "postgresql")))
async def test_sigkill_mid_load_loses_nothing_acknowledged_and_leaves_no_group_in_part(kind, tmp_path):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        await (await storage.open()).count_messages("crash")  # the schema exists before the first kill
        logs = tmp_path / "logs"
        logs.mkdir()
        kills = await asyncio.to_thread(_kill_writers, storage.url, logs, tmp_path / "writer.py")
        assert kills == ROUNDS * WRITERS
        acked = whole_lines(logs, "*.ack")
        intents = whole_lines(logs, "*.intent")
        assert len(acked) > ROUNDS * WRITERS, "the writers hardly wrote: the kills proved nothing"

        store = await storage.open()
        runs = sorted(
            {r["run_id"] for r in acked} | {f"w{n}x{k}" for n in range(ROUNDS) for k in range(WRITERS)}
        )
        stored: dict[str, list[dict]] = {t: [] for t in THREADS}
        for thread_id in THREADS:  # no await in a nested comprehension: Python 3.10 refuses it
            for run in runs:
                stored[thread_id] += await store.list_events(thread_id, run, limit=100_000)
        for thread_id, records in stored.items():
            seqs = sorted(r["seq"] for r in records)
            assert seqs == list(range(1, len(seqs) + 1)), f"{thread_id}: a seq given twice or skipped"
        by_key = {(r["thread_id"], r["seq"]): r for records in stored.values() for r in records}
        for record in acked:
            assert by_key.get((record["thread_id"], record["seq"])) == record, (
                f"acknowledged and lost: {record}"
            )
        present = {r["content"] for records in stored.values() for r in records}
        batches: dict[str, int] = {}
        for records in stored.values():
            for record in records:
                if "batch" in record["metadata"]:
                    batches[record["metadata"]["batch"]] = batches.get(record["metadata"]["batch"], 0) + 1
        assert all(count == 3 for count in batches.values()), f"a batch partly present: {batches}"
        assert intents, "no group was announced"
        for group in intents:
            found = [content in present for content in group]
            assert all(found) or not any(found), f"a group partly present: {group} {found}"
        for thread_id, records in stored.items():
            after = await store.put(**event(thread_id=thread_id, run_id="after"))
            assert after["seq"] == len(records) + 1
    finally:
        await storage.close()


def _kill_writers(url: str, logs: Path, script: Path) -> int:
    script.write_text(WRITER)
    rng = random.Random(20261201)
    kills = 0
    for round_no in range(ROUNDS):
        procs = []
        for n in range(WRITERS):
            name = f"w{round_no}x{n}"
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(script),
                        url,
                        name,
                        str(logs / f"{name}.ack"),
                        str(logs / f"{name}.intent"),
                        str(PRODUCERS),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            )
        started = time.monotonic()
        try:
            for proc in procs:
                assert proc.stdout is not None
                readable, _, _ = select.select([proc.stdout], [], [], READY_BOUND)
                assert readable, f"a writer was not ready within {READY_BOUND} s"
                line = proc.stdout.readline()
                assert line == b"ready\n", proc.stderr.read() if proc.stderr else line
            time.sleep(rng.uniform(0.05, 0.4))
            for proc in procs:
                proc.send_signal(signal.SIGKILL)
            for proc in procs:
                assert proc.wait(10) == -signal.SIGKILL
                kills += 1
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
                proc.stdout.close()  # type: ignore[union-attr]
                proc.stderr.close()  # type: ignore[union-attr]
        assert time.monotonic() - started < 60
    return kills
