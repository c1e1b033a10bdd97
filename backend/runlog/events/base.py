"""The run-event store contract, and the contract written once over storage hooks.

``RunEventStore`` is the pure contract: the public async methods, abstract.
The reference model (``MemoryRunEventStore``) implements it on its own, so it
shares nothing with the stores it judges but the record shape.

``StorageRunEventStore`` implements that contract once for the stores with a
storage behind them (JSONL files, SQL): each public method validates its
arguments and builds the events on the loop, then awaits exactly one storage
hook (``_put``, ``_list_messages``, ...). A storage implements the hooks
only, each as one offload (``asyncio.to_thread``) or one path of awaited
driver calls (the JSONL store's ``_put`` and ``_put_batch`` queue for its
group commit, whose writer makes the one offload for a whole group). So bad input fails the same way, and before any filesystem or
database access, whichever storage is behind the API, and the offload review
and the teeth check find one offload site per storage operation.
"""

from __future__ import annotations

import abc
import bisect
import itertools
import json
import json.encoder
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

T = TypeVar("T")

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MESSAGE_CATEGORY = "message"
PUT_FIELDS = (
    "thread_id",
    "run_id",
    "event_type",
    "category",
    "content",
    "metadata",
    "created_at",
)
REQUIRED_PUT_FIELDS = ("thread_id", "run_id", "event_type", "category")

# How deeply content, and metadata, may nest arrays and objects: a scalar is 0
# levels, [] or {} 1, [[1]] 2; metadata, a mapping, is at least 1. Deeper is
# refused with TypeError naming the field, by every store, like any value a
# store cannot keep. Why 100:
# * it must be read back, by every supported Python, in any process and on
#   any thread: a stored line adds at most 3 levels (a put_batch's line: its
#   object, its list, the record), and json reads about 993 levels on 3.10 and
#   3.11, less the caller's own stack (1497 on 3.12, 9998 on 3.13); the
#   reference model deep-copies each record, 2 Python frames a level (497
#   levels in all). 100 leaves the caller most of the stack on every one;
# * what a store returns must be readable by its clients: 103 levels stays
#   under the 128 of common JSON parsers' defaults (Rust's serde_json);
# * the HTTP API is to refuse bodies nested 256 levels or more: at 100, any
#   content the store refuses is refused there too, with the store's error;
# * events are records of agent runs: their payloads nest a few levels, 100
#   is far beyond any we have seen.
MAX_NESTING = 100

# The range of seq and of every cursor and limit: a signed 64-bit integer, what
# SQL's BIGINT holds and its drivers bind. A cursor outside it is refused by
# every store (ValueError), so no store fails on it and none answers apart.
MAX_SEQ = 2**63 - 1
MIN_CURSOR = -(2**63)

# What no stored text may hold, in one place for every store and both write
# paths (put, put_batch, put_if_absent), and for the event_types filter:
# * event_type, category and created_at hold no NUL character (PostgreSQL's
#   text cannot store one) and no surrogate code point (U+D800-U+DFFF: not a
#   Unicode character, with no UTF-8 form, so neither SQLite nor an HTTP
#   response can carry it; a "pair" of them would read back as the one
#   character it encodes, not as what was written);
# * content and metadata, stored as JSON whose strings escape every
#   non-ASCII character, hold no lone surrogate: JSON's "\ud83d\ude00" is one
#   character, and is read back (and returned by the write) as that
#   character, but "\ud800" alone is none, and no UTF-8 response can carry it.
#   A NUL in them is stored as "\u0000" and is fine.
_FORBIDDEN_IN_TEXT = re.compile("[\x00\ud800-\udfff]")
_JSON_ESCAPES = re.compile(r"\\(?:u(d[89a-f][0-9a-f]{2})|.)")  # ENCODER writes lowercase hex


class PartialBatchError(Exception):
    """A ``put_batch`` over several threads stored some threads' parts and failed the others.

    Each thread's part of a batch is all-or-nothing; the batch as a whole is
    not (the JSONL store writes each thread's part to that thread's file).
    Any other error from ``put_batch`` means nothing of the batch was stored.
    To retry without storing anything twice, retry only what was not stored::

        except PartialBatchError as exc:
            await store.put_batch([events[i] for i in exc.unstored])

    ``stored``: thread id -> the records of its part (what ``put_batch`` would
    have returned for those events, in input order); ``failed``: thread id ->
    the error its part failed with (the first one is also ``__cause__``);
    ``unstored``: the indexes, into the events given, of those not stored.
    """

    def __init__(
        self,
        stored: dict[str, list[dict[str, Any]]],
        failed: dict[str, BaseException],
        unstored: list[int],
    ) -> None:
        self.stored = stored
        self.failed = failed
        self.unstored = unstored
        errors = "; ".join(f"{thread}: {error!r}" for thread, error in failed.items())
        super().__init__(
            f"put_batch stored the parts of threads {sorted(stored)} and failed those of "
            f"{sorted(failed)} ({errors}): retry only the events at the indexes in .unstored"
        )


def check_id(field: str, value: object) -> str:
    """Return ``value`` if it is a valid thread or run id, else raise ValueError."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"{field} must match {ID_PATTERN.pattern} (1-128 letters, digits, '_' or '-'), got {value!r}"
        )
    return value


def check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
    return min(limit, MAX_SEQ)  # no page holds more: a thread has at most MAX_SEQ seqs


def check_cursor(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer or None, got {value!r}")
    if not MIN_CURSOR <= value <= MAX_SEQ:
        raise ValueError(f"{name} must be between {MIN_CURSOR} and {MAX_SEQ} (a 64-bit integer), got {value}")
    return value


def check_page(limit: object, before_seq: object, after_seq: object) -> tuple[int, int | None, int | None]:
    return check_limit(limit), check_cursor("before_seq", before_seq), check_cursor("after_seq", after_seq)


def _check_text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    if not value.isascii() or "\x00" in value:
        found = _FORBIDDEN_IN_TEXT.search(value)
        if found is not None:
            raise ValueError(
                f"{field} must not hold a NUL character or a surrogate code point (U+D800-U+DFFF), "
                f"found U+{ord(found.group()):04X} at position {found.start()}"
            )
    return value


def lone_surrogate(text: str) -> int | None:
    """The index, in JSON text ``ENCODER`` wrote, of an escape of a lone surrogate, else None."""
    if "\\ud" not in text:  # most texts: no surrogate escape at all
        return None
    high_end = -1  # where an unpaired high surrogate's escape ended, or -1
    high_start = -1
    for escape in _JSON_ESCAPES.finditer(text):
        code = escape.group(1)
        if high_end >= 0:
            if code is not None and code >= "dc00" and escape.start() == high_end:
                high_end = -1  # the pair is one character
                continue
            return high_start
        if code is None:
            continue
        if code >= "dc00":  # a low surrogate with no high one before it
            return escape.start()
        high_start, high_end = escape.start(), escape.end()
    return high_start if high_end >= 0 else None


def _check_surrogates(field: str, text: str) -> None:
    where = lone_surrogate(text)
    if where is not None:
        raise TypeError(
            f"{field} holds a lone surrogate ({text[where : where + 6]}): a code point of "
            "U+D800-U+DFFF that is not half of a pair is not a character, and no UTF-8 text can carry it"
        )


# One encoder for every store: ensure_ascii escapes every non-ASCII character
# (U+2028, U+0085, lone surrogates...), so an encoded value holds no byte a
# line splitter could take for an end of line; allow_nan=False because NaN and
# Infinity are not JSON. Built once: json.dumps with options builds one per call.
ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))
DECODER = json.JSONDecoder()
encode_string = json.encoder.encode_basestring_ascii  # one str -> its JSON text, ASCII only


def _chunks_encoder() -> Callable[[object, int], Any] | None:
    """ENCODER's C encoder, made once (``ENCODER.encode`` makes one per call: half its cost
    for a small dict), or None where the json module has no C part.

    It skips the circular-reference check: a value that holds itself recurses
    until RecursionError, which ``_encode_json`` reports like any value JSON
    cannot encode.
    """
    make = getattr(json.encoder, "c_make_encoder", None)  # typeshed does not declare it
    if make is None:  # pragma: no cover - CPython builds _json
        return None
    return make(  # type: ignore[no-any-return]
        None,
        ENCODER.default,
        encode_string,
        None,
        ENCODER.key_separator,
        ENCODER.item_separator,
        False,
        False,
        False,
    )


_CHUNKS = _chunks_encoder()


_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # JSON strings (whose brackets do not nest)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_nesting(text: str) -> int:
    """How many levels a valid JSON text nests arrays and objects (``MAX_NESTING`` counts the same way)."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _encode_json(value: object, field: str) -> str:
    try:
        text = ENCODER.encode(value) if _CHUNKS is None else "".join(_CHUNKS(value, 0))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{field} is not JSON-serializable: {exc}") from exc
    except RecursionError:
        raise TypeError(
            f"{field} is not JSON-serializable: it is nested more than {MAX_NESTING} levels deep or holds itself"
        ) from None
    # Checked on the text, before it is decoded (a text too deep for the
    # decoder raises RecursionError there). Fewer opening brackets than the
    # limit, strings' included, cannot nest deeper: most values stop at the count.
    if text.count("[") + text.count("{") > MAX_NESTING and json_nesting(text) > MAX_NESTING:
        raise TypeError(f"{field} is nested more than {MAX_NESTING} levels deep (arrays and objects)")
    return text


def _created_at(value: object) -> str:
    if value is None:
        return datetime.now(timezone.utc).isoformat()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, str) and value:
        return value
    raise TypeError(f"created_at must be a datetime, a non-empty ISO-8601 string or None, got {value!r}")


_SCALARS = (str, int, float, bool, type(None))


def _flat_json(mapping: dict[Any, Any]) -> bool:
    for key, value in mapping.items():  # noqa: SIM110 - a plain loop is faster than all() over a generator
        if type(key) is not str or type(value) not in _SCALARS:
            return False
    return True


@dataclass(slots=True)  # not frozen: a frozen dataclass is several times slower to build
class NewEvent:
    """A validated event before it gets its seq.

    ``content`` and ``metadata`` are what a reader of the stored JSON gets back
    (tuples become lists, keys strings) and are fresh objects: the store never
    aliases the caller's. ``content_json`` and ``metadata_json`` are their
    encodings, computed once and reused for the stored line.
    """

    thread_id: str
    run_id: str
    event_type: str
    category: str
    content: Any
    metadata: dict[str, Any]
    created_at: str
    content_json: str
    metadata_json: str


def build_event(
    *,
    thread_id: object,
    run_id: object,
    event_type: object,
    category: object,
    content: object = "",
    metadata: object = None,
    created_at: object = None,
) -> NewEvent:
    """Validate one event; raise ValueError or TypeError naming the field."""
    check_id("thread_id", thread_id)
    check_id("run_id", run_id)
    _check_text("event_type", event_type)
    _check_text("category", category)
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict and not isinstance(
        metadata, Mapping
    ):  # the ABC check is slow: dicts skip it
        raise TypeError(f"metadata must be a mapping or None, got {type(metadata).__name__}")
    created = created_at if type(created_at) is str and created_at else _created_at(created_at)
    if not created.isascii() or "\x00" in created:
        _check_text("created_at", created)
    # This runs for every event written, so the common cases take short cuts
    # (put_batch is measured against a plain append, see tools/bench.py):
    # a str content is encoded by the C string encoder and, being immutable
    # and unchanged by a JSON round trip, is kept as is; flat metadata (str
    # keys, scalar values) round-trips exactly, so a dict() copy is what a
    # reader would get back. Anything else is decoded from its encoding.
    # A surrogate escape in the text ("\\ud", rare) is checked, and its value is
    # the one decoded from the text: a pair is returned as the character it
    # encodes, as every later read returns it.
    if type(content) is str:
        content_json = encode_string(content)
        if not content.isascii() and "\\ud" in content_json:
            _check_surrogates("content", content_json)
            content = DECODER.decode(content_json)
    else:
        content_json = _encode_json(content, "content")
        _check_surrogates("content", content_json)
        content = DECODER.decode(content_json)
    if metadata:
        metadata = dict(metadata)
        metadata_json = _encode_json(metadata, "metadata")
        _check_surrogates("metadata", metadata_json)
        if not _flat_json(metadata) or "\\ud" in metadata_json:
            metadata = DECODER.decode(metadata_json)
    else:
        metadata, metadata_json = {}, "{}"
    # The checks above made the ids, type and category str and metadata a dict.
    return NewEvent(
        thread_id,  # type: ignore[arg-type]
        run_id,  # type: ignore[arg-type]
        event_type,  # type: ignore[arg-type]
        category,  # type: ignore[arg-type]
        content,
        metadata,  # type: ignore[arg-type]
        created,
        content_json,
        metadata_json,
    )


_PUT_FIELDS = frozenset(PUT_FIELDS)
_REQUIRED = frozenset(REQUIRED_PUT_FIELDS)


def build_batch(events: object) -> list[NewEvent]:
    """Validate every event of a batch before any of them is stored."""
    if not isinstance(events, list):
        raise TypeError(f"events must be a list of dicts, got {type(events).__name__}")
    built = []
    for index, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise TypeError(f"events[{index}] must be a dict, got {type(event).__name__}")
        keys = event.keys()
        if not (keys <= _PUT_FIELDS and keys >= _REQUIRED):
            unknown = sorted(keys - _PUT_FIELDS)
            if unknown:
                raise ValueError(f"events[{index}] has unknown keys {unknown}; allowed: {list(PUT_FIELDS)}")
            raise ValueError(f"events[{index}] is missing {sorted(_REQUIRED - keys)}")
        try:
            built.append(
                build_event(
                    thread_id=event["thread_id"],
                    run_id=event["run_id"],
                    event_type=event["event_type"],
                    category=event["category"],
                    content=event.get("content", ""),
                    metadata=event.get("metadata"),
                    created_at=event.get("created_at"),
                )
            )
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"events[{index}]: {exc}") from exc
    return built


def with_seq(event: NewEvent, seq: int) -> dict[str, Any]:
    """The public record of ``event`` once it has ``seq``."""
    return {
        "thread_id": event.thread_id,
        "run_id": event.run_id,
        "seq": seq,
        "event_type": event.event_type,
        "category": event.category,
        "content": event.content,
        "metadata": event.metadata,
        "created_at": event.created_at,
    }


def page(
    records: Sequence[T],
    limit: int,
    before_seq: int | None,
    after_seq: int | None,
    key: Callable[[T], int],
) -> Sequence[T]:
    """Select a page from records sorted ascending by seq (``key`` reads it).

    ``before_seq``: the last ``limit`` below it; ``after_seq``: the first
    ``limit`` above it; both: the first ``limit`` of the window between them
    (``after_seq < seq < before_seq``, empty when it holds no seq); neither:
    the latest ``limit``.
    """
    hi = len(records) if before_seq is None else bisect.bisect_left(records, before_seq, key=key)
    if after_seq is not None:
        lo = bisect.bisect_right(records, after_seq, key=key)
        return records[lo : max(lo, min(lo + limit, hi))]
    return records[max(0, hi - limit) : hi]


def event_chars(
    content_json: str, metadata_json: str, event_type: str, category: str, created_at: str
) -> int:
    """What an event weighs against ``max_page_bytes``: its content and metadata as the store's
    JSON (ASCII: one byte a character) and its event type, category and timestamp, in characters.

    The rest of a record (two ids of at most 128 characters, a seq) is bounded anyway. Every
    store counts the same way, from what it keeps: the SQL store with ``length()`` of its columns.
    """
    return len(content_json) + len(metadata_json) + len(event_type) + len(category) + len(created_at)


def check_page_bytes(max_page_bytes: object) -> int | None:
    """None (pages bounded by ``limit`` only) or a positive integer; else ValueError."""
    if max_page_bytes is None:
        return None
    if isinstance(max_page_bytes, bool) or not isinstance(max_page_bytes, int) or max_page_bytes < 1:
        raise ValueError(f"max_page_bytes must be a positive integer or None, got {max_page_bytes!r}")
    return max_page_bytes


def fit_page(
    items: Sequence[T], max_bytes: int | None, size: Callable[[T], int], *, newest: bool
) -> Sequence[T]:
    """The part of a page (ascending by seq) that fits in ``max_bytes``, never empty unless the page is.

    ``newest``: keep the newest items (a page read backwards: no cursor or ``before_seq`` alone,
    continued with ``before_seq`` = its first seq); else the oldest (``after_seq``, continued with
    ``after_seq`` = its last seq). An item alone over the limit is a page of its own.
    """
    if max_bytes is None or not items:
        return items
    order = range(len(items) - 1, -1, -1) if newest else range(len(items))
    total = 0
    kept = 0
    for index in order:
        total += size(items[index])
        if total > max_bytes and kept:
            break
        kept += 1
    return items[len(items) - kept :] if newest else items[:kept]


def check_event_types(event_types: object) -> list[str] | None:
    if event_types is None:
        return None
    if isinstance(event_types, str) or not isinstance(event_types, Iterable):
        raise ValueError(f"event_types must be a list of strings or None, got {event_types!r}")
    types = list(event_types)
    for value in types:
        _check_text("event_types item", value)
    return types


class RunEventStore(abc.ABC):
    """The async API every run-event store implements.

    ``seq`` starts at 1 per thread and grows by one across all runs of that
    thread; it is never reused while the thread exists (a deleted run leaves a
    gap). Unknown threads and runs read as empty.

    Every store takes ``max_page_bytes`` (None by default): pages bounded in
    bytes as well as by ``limit`` (``StorageRunEventStore`` says how).
    """

    @abc.abstractmethod
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
    ) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def put_batch(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store ``events`` (validated first, all of them); return their records, in input order.

        All-or-nothing per thread: a batch over several threads that fails on
        some of them after others were stored raises ``PartialBatchError``,
        which says what was stored; any other error means nothing was.
        """

    @abc.abstractmethod
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
    ) -> tuple[dict[str, Any], bool]: ...

    @abc.abstractmethod
    async def list_messages(
        self,
        thread_id: str,
        *,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def list_events(
        self,
        thread_id: str,
        run_id: str,
        *,
        event_types: Iterable[str] | None = None,
        task_id: str | None = None,
        limit: int = 500,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def list_messages_by_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def count_messages(self, thread_id: str) -> int: ...

    @abc.abstractmethod
    async def delete_by_run(self, thread_id: str, run_id: str) -> int: ...

    @abc.abstractmethod
    async def delete_by_thread(self, thread_id: str) -> int: ...


class StorageRunEventStore(RunEventStore):
    """The contract written once, over storage hooks a store implements.

    Each public method checks its arguments and builds its events here, on the
    loop, before any storage is touched, then awaits one hook. A hook is one
    storage operation: the JSONL store offloads it once to a worker thread, the
    SQL store runs it as one transaction of awaited driver calls. Hooks get
    validated arguments only and never see an empty batch.

    ``max_page_bytes`` (None: no limit) bounds what one page of a list method
    holds, as ``event_chars`` counts it: a page ends before the event that
    would take it past the limit (never before its first), so a page may hold
    fewer than ``limit`` events while more follow. Its hooks apply it before
    decoding anything.
    """

    max_page_bytes: int | None = None

    # -- the storage a store implements ------------------------------------

    @abc.abstractmethod
    async def _put(self, event: NewEvent) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def _put_batch(self, events: list[NewEvent]) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def _put_if_absent(self, event: NewEvent) -> tuple[dict[str, Any], bool]: ...

    @abc.abstractmethod
    async def _list_messages(
        self, thread_id: str, limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def _list_messages_by_run(
        self, thread_id: str, run_id: str, limit: int, before_seq: int | None, after_seq: int | None
    ) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def _list_events(
        self,
        thread_id: str,
        run_id: str,
        event_types: list[str] | None,
        task_id: str | None,
        limit: int,
        after_seq: int | None,
    ) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def _count_messages(self, thread_id: str) -> int: ...

    @abc.abstractmethod
    async def _delete_by_run(self, thread_id: str, run_id: str) -> int: ...

    @abc.abstractmethod
    async def _delete_by_thread(self, thread_id: str) -> int: ...

    # -- the public API --------------------------------------------------------

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
        event = build_event(
            thread_id=thread_id,
            run_id=run_id,
            event_type=event_type,
            category=category,
            content=content,
            metadata=metadata,
            created_at=created_at,
        )
        return await self._put(event)

    async def put_batch(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        built = build_batch(events)
        if not built:
            return []
        return await self._put_batch(built)

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
        event = build_event(
            thread_id=thread_id,
            run_id=run_id,
            event_type=event_type,
            category=category,
            content=content,
            metadata=metadata,
            created_at=created_at,
        )
        return await self._put_if_absent(event)

    async def list_messages(
        self,
        thread_id: str,
        *,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        check_id("thread_id", thread_id)
        limit, before_seq, after_seq = check_page(limit, before_seq, after_seq)
        return await self._list_messages(thread_id, limit, before_seq, after_seq)

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
        check_id("thread_id", thread_id)
        check_id("run_id", run_id)
        types = check_event_types(event_types)
        limit = check_limit(limit)
        after_seq = check_cursor("after_seq", after_seq)
        return await self._list_events(thread_id, run_id, types, task_id, limit, after_seq)

    async def list_messages_by_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        limit: int = 50,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        check_id("thread_id", thread_id)
        check_id("run_id", run_id)
        limit, before_seq, after_seq = check_page(limit, before_seq, after_seq)
        return await self._list_messages_by_run(thread_id, run_id, limit, before_seq, after_seq)

    async def count_messages(self, thread_id: str) -> int:
        check_id("thread_id", thread_id)
        return await self._count_messages(thread_id)

    async def delete_by_run(self, thread_id: str, run_id: str) -> int:
        check_id("thread_id", thread_id)
        check_id("run_id", run_id)
        return await self._delete_by_run(thread_id, run_id)

    async def delete_by_thread(self, thread_id: str) -> int:
        check_id("thread_id", thread_id)
        return await self._delete_by_thread(thread_id)
