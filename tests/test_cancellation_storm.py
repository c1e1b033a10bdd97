"""A cancellation storm on a store's group commit never leaves a caller waiting, nor loses what it
acknowledged: the JSONL store, and the SQL stores' (SQLite, PostgreSQL).

The storm and its verdict against the reference model are in
``tests_blocking/anchors/storm.py`` (the gate runs a smaller one as an
anchor). Several seeds: each draws other threads, batches and cancellation
moments; the verdict must hold for any schedule the loop and the workers make.
"""

from __future__ import annotations

import asyncio

import pytest
from tests_blocking.anchors.stores import StoreUnderTest, kind_params
from tests_blocking.anchors.storm import run_storm, verdict

STORM_BOUND = 240  # seconds: a storm takes a few here; a hang fails the test instead of the run


@pytest.mark.parametrize("kind", kind_params())
@pytest.mark.parametrize("seed", [26, 2026, 20261206])
async def test_a_cancellation_storm_strands_no_caller_and_keeps_what_it_acknowledged(tmp_path, seed, kind):
    storage = StoreUnderTest(kind, tmp_path)
    try:
        store = await storage.open()
        storm = await asyncio.wait_for(
            run_storm(store, seed=seed, producers=64, threads=4, calls_each=10), STORM_BOUND
        )
        await verdict(storm, store, await storage.open())
    finally:
        await storage.close()
