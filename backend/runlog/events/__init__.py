"""Run-event stores: the contract, the JSONL, SQL and in-memory stores, and ``open_store``."""

from runlog.events.base import PartialBatchError, RunEventStore, StorageRunEventStore
from runlog.events.jsonl import JsonlRunEventStore
from runlog.events.memory import MemoryRunEventStore
from runlog.events.open import open_store
from runlog.events.sql import SchemaVersionError, SqlRunEventStore

__all__ = [
    "JsonlRunEventStore",
    "MemoryRunEventStore",
    "PartialBatchError",
    "RunEventStore",
    "SchemaVersionError",
    "SqlRunEventStore",
    "StorageRunEventStore",
    "open_store",
]
