"""Crash safety of the JSONL store, tested for real: SIGKILL mid-write, and every torn tail.

* Writer processes put and put_batch in a loop (fsync on) and append each
  acknowledged record to an ack file of their own; the test kills them with SIGKILL at
  random moments, about 30 times, then reopens the store: every acknowledged
  event is there and equal, seqs contiguous with none twice, no batch partly
  present, at most each writer's last write there unacknowledged (killed
  after its write, before its acknowledgement), and the next put continues
  the seq.
* A thread file cut at every byte offset of its last line (a single record,
  then a batch) loads with only that line's events lost, and the next append
  is intact.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runlog.events import JsonlRunEventStore
from tests.factories import event

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

ROUNDS = 15
WRITERS = 2  # per round, appending to the same thread at once
THREAD = "crash"

WRITER = """
import asyncio, json, os, sys
from runlog.events import JsonlRunEventStore

base_dir, name, ack_path = sys.argv[1], sys.argv[2], sys.argv[3]

async def main():
    store = JsonlRunEventStore(base_dir, fsync=True)
    ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(ack, b"")
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        if n % 3 == 0:
            batch = f"{name}-{n}"
            records = await store.put_batch([
                {"thread_id": "crash", "run_id": name, "event_type": "b", "category": "message",
                 "content": f"{batch}-{k}", "metadata": {"batch": batch, "size": 3}}
                for k in range(3)
            ])
        else:
            records = [await store.put(thread_id="crash", run_id=name, event_type="s", category="message",
                                       content=f"{name}-{n}")]
        # One write per acknowledgement. A kill can still cut it short (Linux
        # checks for a fatal signal between the pages a write copies): only
        # this writer's last ack line can be torn, since the file is its own.
        os.write(ack, ("".join(json.dumps(r) + "\\n" for r in records)).encode())

asyncio.run(main())
"""


def acknowledged(acks: Path) -> list[dict]:
    """The records the writers acknowledged: one ack file per writer, whose last piece may be torn."""
    records = []
    for ack_path in sorted(acks.glob("*.jsonl")):
        lines = ack_path.read_bytes().split(b"\n")
        records += [json.loads(line) for line in lines[:-1] if line]
    return records


def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path):
    rng = random.Random(20261129)
    base, acks = tmp_path / "store", tmp_path / "acks"
    acks.mkdir()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    kills = 0
    for round_no in range(ROUNDS):
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(script),
                    str(base),
                    f"w{round_no}x{n}",
                    str(acks / f"w{round_no}x{n}.jsonl"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for n in range(WRITERS)
        ]
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"ready\n", proc.stderr.read() if proc.stderr else ""
        # From the writers' readiness on, not from their start: starting Python and importing
        # the store takes what the machine gives it (seconds under load), and is not the kill.
        # What is bounded is the kill itself: it lands at the random moment drawn below.
        started = time.monotonic()
        time.sleep(rng.uniform(0.02, 0.25))
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        for proc in procs:
            assert proc.wait(10) == -signal.SIGKILL
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
            kills += 1
        assert time.monotonic() - started < 10
    assert kills == ROUNDS * WRITERS

    acked = acknowledged(acks)
    assert len(acked) > ROUNDS, "the writers hardly wrote: the kills proved nothing"

    # Every writer's run, acknowledged or not: a writer killed after its write and before its
    # acknowledgement leaves events the acks do not name (in a run with no ack at all, even).
    runs = [f"w{round_no}x{n}" for round_no in range(ROUNDS) for n in range(WRITERS)]

    async def reopen() -> tuple[list[dict], dict]:
        store = JsonlRunEventStore(base)
        stored = []
        for run_id in runs:
            stored += await store.list_events(THREAD, run_id, limit=100_000)
        after = await store.put(**event(thread_id=THREAD, run_id="after"))
        return stored, after

    stored, after = asyncio.run(reopen())
    by_seq = {r["seq"]: r for r in stored}
    assert len(by_seq) == len(stored), "a seq appears twice"
    assert sorted(by_seq) == list(range(1, len(by_seq) + 1)), "the seqs are not contiguous from 1"
    for record in acked:
        assert by_seq.get(record["seq"]) == record, f"acknowledged and lost or changed: {record}"
    batches: dict[str, int] = {}
    for record in stored:
        batch = record["metadata"].get("batch")
        if batch:
            batches[batch] = batches.get(batch, 0) + 1
    assert all(count == 3 for count in batches.values()), f"a batch partly present: {batches}"
    # Beyond its acknowledgements, each writer may have left its last write only (one put, or the
    # rest of one batch whose ack line the kill cut): after its acknowledged events, never between.
    acked_seqs = {r["seq"] for r in acked}
    for run_id in runs:
        extra = [r for r in stored if r["run_id"] == run_id and r["seq"] not in acked_seqs]
        units = {r["metadata"].get("batch") or f"put {r['seq']}" for r in extra}
        assert len(units) <= 1, f"{run_id}: more than its last write unacknowledged: {extra}"
        last_acked = max((r["seq"] for r in acked if r["run_id"] == run_id), default=0)
        assert all(r["seq"] > last_acked for r in extra), f"{run_id}: an unacknowledged event before an ack"
    assert after["seq"] == max(by_seq) + 1


def _cut_at_every_offset_of_last_line(tmp_path: Path, make_last_line) -> None:
    base = tmp_path / "store"

    async def write() -> tuple[list[dict], int]:
        store = JsonlRunEventStore(base, fsync=False)
        kept = [await store.put(**event(content=f"kept {i}")) for i in range(3)]
        await make_last_line(store)
        return kept, len(kept)

    kept, _ = asyncio.run(write())
    path = base / "threads" / "t1.jsonl"
    whole = path.read_bytes()
    head_end = whole.rstrip(b"\n").rfind(b"\n") + 1
    head, last = whole[:head_end], whole[head_end:]
    assert last.endswith(b"\n") and last.count(b"\n") == 1

    async def check(cut: int) -> None:
        path.write_bytes(head + last[:cut])
        store = JsonlRunEventStore(base, fsync=False)
        assert await store.list_messages("t1", limit=1000) == kept, f"cut at {cut}"
        added = await store.put(**event(content=f"after cut {cut}"))
        assert added["seq"] == kept[-1]["seq"] + 1
        again = await JsonlRunEventStore(base).list_messages("t1", limit=1000)
        assert again == [*kept, added], f"cut at {cut}: the next append is not intact"

    for cut in range(len(last)):  # every offset, the empty cut included; len(last) is the whole line
        asyncio.run(check(cut))


def test_a_torn_single_record_loses_only_itself(tmp_path):
    async def last_line(store: JsonlRunEventStore) -> None:
        await store.put(**event(content="the last one \u2028", metadata={"k": [1, 2]}))

    _cut_at_every_offset_of_last_line(tmp_path, last_line)


def test_a_torn_batch_loses_only_itself(tmp_path):
    async def last_line(store: JsonlRunEventStore) -> None:
        await store.put_batch([event(content=f"batched {k}") for k in range(3)])

    _cut_at_every_offset_of_last_line(tmp_path, last_line)


def test_the_kill_writer_reports_only_what_it_was_told(tmp_path):
    """The ack files' reader ignores each file's torn last acknowledgement and nothing else."""
    assert acknowledged(tmp_path) == []
    (tmp_path / "w0.jsonl").write_bytes(b'{"seq": 1}\n{"seq": 2}\n{"se')
    (tmp_path / "w1.jsonl").write_bytes(b'{"seq": 3}\n{"seq": 4, "run_id": "w1"')
    (tmp_path / "w2.jsonl").write_bytes(b"")
    assert acknowledged(tmp_path) == [{"seq": 1}, {"seq": 2}, {"seq": 3}]
