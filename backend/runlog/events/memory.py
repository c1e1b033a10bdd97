"""In-memory run-event store: the reference model of the contract.

It is deliberately plain (lists, no IO) so that it can serve as the oracle the
JSONL store is compared against. No method awaits, so each call is atomic on
the event loop without a lock.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from runlog.events import base


class _Thread:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.last_seq = 0


class MemoryRunEventStore(base.RunEventStore):
    def __init__(self) -> None:
        self._threads: dict[str, _Thread] = {}

    def _append(self, event: base.NewEvent) -> dict[str, Any]:
        thread = self._threads.setdefault(event.thread_id, _Thread())
        thread.last_seq += 1
        record = base.with_seq(event, thread.last_seq)
        thread.records.append(record)
        return copy.deepcopy(record)

    def _records(self, thread_id: str) -> list[dict[str, Any]]:
        thread = self._threads.get(thread_id)
        return [] if thread is None else thread.records

    async def put(
        self,
        *,
        thread_id: str,
        run_id: str,
        event_type: str,
        category: str,
        content: Any = "",
        metadata: Mapping[str, Any] | None = None,
        created_at: str | datetime | None = None,
    ) -> dict[str, Any]:
        event = base.build_event(
            thread_id=thread_id,
            run_id=run_id,
            event_type=event_type,
            category=category,
            content=content,
            metadata=metadata,
            created_at=created_at,
        )
        return self._append(event)

    async def put_batch(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self._append(event) for event in base.build_batch(events)]

    async def put_if_absent(
        self,
        *,
        thread_id: str,
        run_id: str,
        event_type: str,
        category: str,
        content: Any = "",
        metadata: Mapping[str, Any] | None = None,
        created_at: str | datetime | None = None,
    ) -> tuple[dict[str, Any], bool]:
        event = base.build_event(
            thread_id=thread_id,
            run_id=run_id,
            event_type=event_type,
            category=category,
            content=content,
            metadata=metadata,
            created_at=created_at,
        )
        for record in self._records(thread_id):
            if record["run_id"] == run_id and record["event_type"] == event_type:
                return copy.deepcopy(record), False
        return self._append(event), True

    async def list_messages(
        self,
        thread_id: str,
        *,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        base.check_id("thread_id", thread_id)
        limit, before_seq, after_seq = base.check_page(limit, before_seq, after_seq)
        messages = [r for r in self._records(thread_id) if r["category"] == base.MESSAGE_CATEGORY]
        return copy.deepcopy(list(base.page(messages, limit, before_seq, after_seq)))

    async def list_events(
        self,
        thread_id: str,
        run_id: str,
        *,
        event_types: Iterable[str] | None = None,
        task_id: str | None = None,
        limit: int = 500,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        base.check_id("thread_id", thread_id)
        base.check_id("run_id", run_id)
        types = base.check_event_types(event_types)
        limit = base.check_limit(limit)
        after_seq = base.check_cursor("after_seq", after_seq)
        run = (r for r in self._records(thread_id) if r["run_id"] == run_id)
        found = base.filter_events(run, event_types=types, task_id=task_id, after_seq=after_seq, limit=limit)
        return copy.deepcopy(found)

    async def list_messages_by_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        base.check_id("thread_id", thread_id)
        base.check_id("run_id", run_id)
        limit, before_seq, after_seq = base.check_page(limit, before_seq, after_seq)
        messages = [
            r
            for r in self._records(thread_id)
            if r["run_id"] == run_id and r["category"] == base.MESSAGE_CATEGORY
        ]
        return copy.deepcopy(list(base.page(messages, limit, before_seq, after_seq)))

    async def count_messages(self, thread_id: str) -> int:
        base.check_id("thread_id", thread_id)
        return sum(1 for r in self._records(thread_id) if r["category"] == base.MESSAGE_CATEGORY)

    async def delete_by_run(self, thread_id: str, run_id: str) -> int:
        base.check_id("thread_id", thread_id)
        base.check_id("run_id", run_id)
        thread = self._threads.get(thread_id)
        if thread is None:
            return 0
        kept = [r for r in thread.records if r["run_id"] != run_id]
        removed = len(thread.records) - len(kept)
        thread.records = kept
        return removed

    async def delete_by_thread(self, thread_id: str) -> int:
        base.check_id("thread_id", thread_id)
        thread = self._threads.pop(thread_id, None)
        return 0 if thread is None else len(thread.records)
