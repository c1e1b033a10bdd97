"""Unit tests: semantics of the backend. The blocking-IO gate is not armed here."""

from __future__ import annotations

import pytest

from runlog.events import JsonlRunEventStore, MemoryRunEventStore


@pytest.fixture(params=["jsonl", "memory"])
def store(request, tmp_path):
    if request.param == "jsonl":
        return JsonlRunEventStore(tmp_path / "events")
    return MemoryRunEventStore()
