"""Anchor: a cancellation storm on the JSONL store's group commit, under the gate.

Producers on a few threads, calls cancelled at random moments, the default
executor's two workers kept busy so that jobs wait in its queue: every path of
the commit queue, the offload of a cancelled leader made again by a task of
its own included, runs on the loop while the gate watches. The verdict
(``storm.py``) reads the files back through a new store and checks them
against ``MemoryRunEventStore``: nothing acknowledged lost, nothing stored
twice, no caller left waiting.
"""

from __future__ import annotations

import asyncio

from runlog.events import JsonlRunEventStore

from .storm import run_storm, verdict

STORM_BOUND = 240  # seconds: the storm takes a few under the gate; a hang fails the anchor instead


async def test_a_cancellation_storm(tmp_path):
    store = JsonlRunEventStore(tmp_path)
    storm = await asyncio.wait_for(
        run_storm(store, seed=26, producers=32, threads=3, calls_each=8), STORM_BOUND
    )
    await verdict(storm, store)
