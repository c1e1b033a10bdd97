"""In-memory run-event store: the reference model of the contract.

This is the oracle the other stores are compared against (the anchor matrix,
the unit tests), so it is written apart from them on purpose: it imports
nothing from their modules but the abstract class, validates input with its
own code, and answers every query the naive way (filter, sort, slice a
list). A bug in the stores' shared helpers therefore cannot show up here as
well and cancel out. Speed is not a goal.

No method awaits, so each call is atomic on the event loop without a lock.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

# The nesting limit and the seq range are numbers of the contract, like the record's shape; the
# checks are this model's own.
from runlog.events.base import MAX_NESTING, MAX_SEQ, MIN_CURSOR, RunEventStore

_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_FIELDS = ("thread_id", "run_id", "event_type", "category", "content", "metadata", "created_at")
_REQUIRED = ("thread_id", "run_id", "event_type", "category")


def _id(name: str, value: object) -> str:
    if type(value) is not str or _ID.fullmatch(value) is None:
        raise ValueError(f"{name} must be 1-128 letters, digits, '_' or '-', got {value!r}")
    return value


def _unstorable_char(text: str) -> str | None:
    """A character no stored text may hold: a NUL or a surrogate code point (the contract's rule)."""
    for char in text:
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            return char
    return None


def _text(name: str, value: object) -> str:
    if type(value) is not str or value == "":
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    char = _unstorable_char(value)
    if char is not None:
        raise ValueError(
            f"{name} must not hold a NUL character or a surrogate code point (U+D800-U+DFFF), "
            f"found U+{ord(char):04X} at position {value.index(char)}"
        )
    return value


def _whole_number(name: str, value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def _limit(value: object) -> int:
    limit = _whole_number("limit", value)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


def _cursor(name: str, value: object) -> int | None:
    if value is None:
        return None
    cursor = _whole_number(name, value)
    if cursor < MIN_CURSOR or cursor > MAX_SEQ:
        raise ValueError(
            f"{name} must be between {MIN_CURSOR} and {MAX_SEQ} (a 64-bit integer), got {cursor}"
        )
    return cursor


def _levels(value: object) -> int:
    """How many levels of lists and dicts ``value`` (as JSON gives it back) nests; stops past the limit."""
    deepest = 0
    todo = [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if deepest > MAX_NESTING:
                break
            todo.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _as_json(name: str, value: object) -> Any:
    """What a reader gets back after the value is stored as JSON."""
    try:
        stored = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} cannot be stored as JSON: {exc}") from exc
    except RecursionError:
        raise TypeError(f"{name} cannot be stored as JSON: it is nested too deeply") from None
    if _levels(stored) > MAX_NESTING:
        raise TypeError(
            f"{name} cannot be stored: it nests more than {MAX_NESTING} levels of arrays and objects"
        )
    # Read back from JSON, a surrogate pair is the one character it encodes: a surrogate left is lone.
    for text in _strings(stored):
        if any("\ud800" <= char <= "\udfff" for char in text):
            raise TypeError(f"{name} holds a lone surrogate (U+D800-U+DFFF), which no UTF-8 text can carry")
    return stored


def _strings(value: object) -> Iterable[str]:
    """Every string in a JSON value, keys included."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)


def _timestamp(value: object) -> str:
    if value is None:
        return datetime.now(timezone.utc).isoformat()
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc).isoformat()
    if type(value) is str and value != "":
        return value
    raise TypeError(f"created_at must be a datetime, a non-empty string or None, got {value!r}")


def _record(
    thread_id: object,
    run_id: object,
    event_type: object,
    category: object,
    content: object,
    metadata: object,
    created_at: object,
) -> dict[str, Any]:
    """A validated record without its seq (checked in the stores' order: ids, texts, then values)."""
    checked_thread = _id("thread_id", thread_id)
    checked_run = _id("run_id", run_id)
    checked_type = _text("event_type", event_type)
    checked_category = _text("category", category)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping or None, got {type(metadata).__name__}")
    stamp = _text("created_at", _timestamp(created_at))
    return {
        "thread_id": checked_thread,
        "run_id": checked_run,
        "event_type": checked_type,
        "category": checked_category,
        "content": _as_json("content", content),
        "metadata": _as_json("metadata", dict(metadata)),
        "created_at": stamp,
    }


def _from_mapping(index: int, event: object) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise TypeError(f"events[{index}] must be a dict, got {type(event).__name__}")
    unknown = sorted(set(event) - set(_FIELDS))
    if unknown:
        raise ValueError(f"events[{index}] has unknown keys {unknown}")
    missing = [name for name in _REQUIRED if name not in event]
    if missing:
        raise ValueError(f"events[{index}] is missing {missing}")
    try:
        return _record(
            event["thread_id"],
            event["run_id"],
            event["event_type"],
            event["category"],
            event.get("content", ""),
            event.get("metadata"),
            event.get("created_at"),
        )
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"events[{index}]: {exc}") from exc


def _is_message(record: dict[str, Any]) -> bool:
    return bool(record["category"] == "message")


def _page(
    records: list[dict[str, Any]], limit: int, before_seq: int | None, after_seq: int | None
) -> list[dict[str, Any]]:
    """Records (any order) -> the asked page, ascending by seq."""
    ordered = sorted(records, key=lambda record: record["seq"])
    if before_seq is not None:
        ordered = [r for r in ordered if r["seq"] < before_seq]
    if after_seq is not None:
        return [r for r in ordered if r["seq"] > after_seq][:limit]
    return ordered[-limit:]


def _chars(record: dict[str, Any]) -> int:
    """What a record weighs against ``max_page_bytes`` (the contract's measure: ``base.event_chars``)."""
    as_json = [
        json.dumps(record[key], separators=(",", ":"), ensure_ascii=True) for key in ("content", "metadata")
    ]
    return sum(map(len, as_json)) + sum(len(record[key]) for key in ("event_type", "category", "created_at"))


def _within(records: list[dict[str, Any]], max_bytes: int | None, *, newest: bool) -> list[dict[str, Any]]:
    """The newest (else the oldest) records of a page whose sizes add up to at most max_bytes; one at least."""
    if max_bytes is None:
        return records
    kept: list[dict[str, Any]] = []
    total = 0
    for record in reversed(records) if newest else records:
        total += _chars(record)
        if kept and total > max_bytes:
            break
        kept.append(record)
    return sorted(kept, key=lambda record: record["seq"])


def _page_args(limit: object, before_seq: object, after_seq: object) -> tuple[int, int | None, int | None]:
    return _limit(limit), _cursor("before_seq", before_seq), _cursor("after_seq", after_seq)


class MemoryRunEventStore(RunEventStore):
    """Every record in a list per thread, plus the last seq each thread handed out."""

    def __init__(self, *, max_page_bytes: int | None = None) -> None:
        if max_page_bytes is not None and (type(max_page_bytes) is not int or max_page_bytes < 1):
            raise ValueError(f"max_page_bytes must be a positive integer or None, got {max_page_bytes!r}")
        self.max_page_bytes = max_page_bytes
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._last_seq: dict[str, int] = {}

    def _store(self, record: dict[str, Any]) -> dict[str, Any]:
        thread_id = record["thread_id"]
        seq = self._last_seq.get(thread_id, 0) + 1
        self._last_seq[thread_id] = seq
        stored = {
            "thread_id": thread_id,
            "run_id": record["run_id"],
            "seq": seq,
            "event_type": record["event_type"],
            "category": record["category"],
            "content": record["content"],
            "metadata": record["metadata"],
            "created_at": record["created_at"],
        }
        self._records.setdefault(thread_id, []).append(stored)
        return copy.deepcopy(stored)

    def _thread(self, thread_id: str) -> list[dict[str, Any]]:
        return self._records.get(thread_id, [])

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
        record = _record(thread_id, run_id, event_type, category, content, metadata, created_at)
        return self._store(record)

    async def put_batch(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not isinstance(events, list):
            raise TypeError(f"events must be a list of dicts, got {type(events).__name__}")
        records = [_from_mapping(index, event) for index, event in enumerate(events)]
        return [self._store(record) for record in records]

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
        record = _record(thread_id, run_id, event_type, category, content, metadata, created_at)
        for existing in self._thread(thread_id):
            if existing["run_id"] == run_id and existing["event_type"] == event_type:
                return copy.deepcopy(existing), False
        return self._store(record), True

    async def list_messages(
        self,
        thread_id: str,
        *,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        _id("thread_id", thread_id)
        size, before, after = _page_args(limit, before_seq, after_seq)
        messages = [r for r in self._thread(thread_id) if _is_message(r)]
        page = _within(_page(messages, size, before, after), self.max_page_bytes, newest=after is None)
        return copy.deepcopy(page)

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
        _id("thread_id", thread_id)
        _id("run_id", run_id)
        types: list[str] | None = None
        if event_types is not None:
            if isinstance(event_types, str) or not isinstance(event_types, Iterable):
                raise ValueError(f"event_types must be a list of strings or None, got {event_types!r}")
            types = [_text("event_types item", value) for value in event_types]
        size = _limit(limit)
        after = _cursor("after_seq", after_seq)
        found = [
            r
            for r in self._thread(thread_id)
            if r["run_id"] == run_id
            and (types is None or r["event_type"] in types)
            and (task_id is None or r["metadata"].get("task_id") == task_id)
            and (after is None or r["seq"] > after)
        ]
        page = _within(sorted(found, key=lambda r: r["seq"])[:size], self.max_page_bytes, newest=False)
        return copy.deepcopy(page)

    async def list_messages_by_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        _id("thread_id", thread_id)
        _id("run_id", run_id)
        size, before, after = _page_args(limit, before_seq, after_seq)
        messages = [r for r in self._thread(thread_id) if r["run_id"] == run_id and _is_message(r)]
        page = _within(_page(messages, size, before, after), self.max_page_bytes, newest=after is None)
        return copy.deepcopy(page)

    async def count_messages(self, thread_id: str) -> int:
        _id("thread_id", thread_id)
        return len([r for r in self._thread(thread_id) if _is_message(r)])

    async def delete_by_run(self, thread_id: str, run_id: str) -> int:
        _id("thread_id", thread_id)
        _id("run_id", run_id)
        records = self._thread(thread_id)
        kept = [r for r in records if r["run_id"] != run_id]
        if thread_id in self._records:
            self._records[thread_id] = kept
        return len(records) - len(kept)

    async def delete_by_thread(self, thread_id: str) -> int:
        _id("thread_id", thread_id)
        self._last_seq.pop(thread_id, None)
        return len(self._records.pop(thread_id, []))
