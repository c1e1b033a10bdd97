"""Anchor: a cancellation storm on each store's group commit, under the gate.

Producers on a few threads, calls cancelled at random moments, the default
executor's two workers kept busy so that jobs wait in its queue: every path of
the commit queues runs on the loop while the gate watches (the JSONL store's,
the offload of a cancelled leader made again by a task of its own included;
the SQL stores' writer tasks, their answers and the callers they drop). The
verdict (``storm.py``) reads the storage back through a new store and checks
it against ``MemoryRunEventStore``: nothing acknowledged lost, nothing stored
twice, no caller left waiting.
"""

from __future__ import annotations

import asyncio

import pytest

from tests_blocking.anchors.stores import StoreUnderTest, kind_params

from .storm import run_storm, verdict

STORM_BOUND = 240  # seconds: the storm takes a few under the gate; a hang fails the anchor instead


@pytest.mark.parametrize("kind", kind_params())
async def test_a_cancellation_storm(tmp_path, kind):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        store = await storage.open()
        storm = await asyncio.wait_for(
            run_storm(store, seed=26, producers=32, threads=3, calls_each=8), STORM_BOUND
        )
        await verdict(storm, store, await storage.open())
    finally:
        await storage.close()
