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


def _record_calls(monkeypatch, owner, name):
    """Replace ``owner.name`` by a spy that records each descriptor and still makes the real call."""
    calls = []
    real = getattr(owner, name)

    def spy(fd):
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(owner, name, spy)
    return calls


@pytest.fixture
def fsyncs(monkeypatch):
    """Every descriptor passed to ``os.fsync`` during the test (the real call still runs)."""
    return _record_calls(monkeypatch, os, "fsync")


@pytest.fixture
def syncfs_calls(monkeypatch):
    """Every descriptor the JSONL store passed to ``syncfs`` during the test (the real call still runs)."""
    from runlog.events import jsonl

    if jsonl._SYNCFS is None:
        pytest.skip("this C library has no syncfs: the store fsyncs each file")
    return _record_calls(monkeypatch, jsonl, "_syncfs")
