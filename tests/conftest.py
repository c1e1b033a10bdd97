"""Unit tests: semantics of the backend. The blocking-IO gate is not armed here."""

from __future__ import annotations

import os

import pytest
from tests_blocking.anchors.stores import StoreUnderTest, kind_params

from runlog.events import MemoryRunEventStore


@pytest.fixture(params=[*kind_params(), "memory"])
async def store(request, tmp_path):
    """Every store, held to one contract: JSONL, SQLite, PostgreSQL (when configured) and memory."""
    if request.param == "memory":
        yield MemoryRunEventStore()
        return
    storage = StoreUnderTest(request.param, tmp_path)
    try:
        yield await storage.open()
    finally:
        await storage.close()


@pytest.fixture
def fsyncs(monkeypatch):
    """Every descriptor passed to ``os.fsync`` during the test (the real call still runs)."""
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return synced


@pytest.fixture
def syncfs_calls(monkeypatch):
    """Every descriptor the JSONL store passed to ``syncfs`` during the test (the real call still runs)."""
    from runlog.events import jsonl

    if jsonl._SYNCFS is None:
        pytest.skip("this C library has no syncfs: the store fsyncs each file")
    synced = []
    real = jsonl._syncfs

    def spy(fd):
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(jsonl, "_syncfs", spy)
    return synced
