"""Run-event stores: the contract, the JSONL store and the in-memory reference."""

from runlog.events.base import RunEventStore
from runlog.events.jsonl import JsonlRunEventStore
from runlog.events.memory import MemoryRunEventStore

__all__ = ["JsonlRunEventStore", "MemoryRunEventStore", "RunEventStore"]
