"""The HTTP API's request and response models: what the OpenAPI schema publishes.

The schema is a contract for generated clients, so it says exactly what the
service accepts and answers: id patterns and lengths, page bounds, closed
request bodies (an unknown key is a 422, not silently dropped), the one error
body every 4xx uses, and every status code a route can return.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from runlog.events.base import MAX_SEQ
from runlog.persistence import RUN_STATUSES

ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
# An event type in a URL path: no '/', '%', '?' or '#', which routing or
# percent-decoding would change. In a body, any non-empty string is accepted.
PATH_EVENT_TYPE_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
MAX_PAGE = 1000  # the largest page any list route returns

RunStatus = Literal["pending", "running", "success", "error", "cancelled"]
assert set(RunStatus.__args__) == set(RUN_STATUSES)  # type: ignore[attr-defined]

_id_doc = "1-128 letters, digits, '_' or '-'"
ThreadIdPath = Annotated[str, Path(pattern=ID_PATTERN, min_length=1, max_length=128, description=_id_doc)]
RunIdPath = Annotated[str, Path(pattern=ID_PATTERN, min_length=1, max_length=128, description=_id_doc)]
EventTypePath = Annotated[
    str,
    Path(
        pattern=PATH_EVENT_TYPE_PATTERN,
        min_length=1,
        max_length=128,
        description="1-128 letters, digits, '_', '-', '.' or ':'",
    ),
]
_window = (
    "With both before_seq and after_seq: the first `limit` messages with after_seq < seq < before_seq "
    "(none when no seq lies between them)."
)
# Cursors are seqs: 0 to 2^63-1 (a 64-bit integer, what every store holds); outside: 422.
BeforeSeq = Annotated[
    int | None,
    Query(ge=0, le=MAX_SEQ, description=f"The last `limit` messages with a seq below this one. {_window}"),
]
AfterSeq = Annotated[
    int | None,
    Query(ge=0, le=MAX_SEQ, description=f"The first `limit` items with a seq above this one. {_window}"),
]
EventsAfterSeq = Annotated[
    int | None, Query(ge=0, le=MAX_SEQ, description="The first `limit` events with a seq above this one.")
]


# The texts a store keeps as they are (event_type, category, created_at, the event_types filter)
# hold no NUL: the store refuses one (runlog.events.base, with its message); the schema says so
# to clients without enforcing it a second time, so the answer is the store's.
NO_NUL: JsonDict = {"pattern": "^[^\\x00]+$"}


def page_limit(default: int) -> Any:
    return Query(default, ge=1, le=MAX_PAGE, description=f"Page size, 1-{MAX_PAGE}")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventBody(_Closed):
    """An event for the run named by the path; its type is in the path too (PUT)."""

    category: str = Field(
        min_length=1, description="'message' makes it part of the conversation", json_schema_extra=NO_NUL
    )
    content: Any = Field("", description="any JSON value (NaN and Infinity are not JSON: 422)")
    metadata: dict[str, Any] | None = Field(None, description="'task_id' is a filter of list_events")
    created_at: str | None = Field(
        None, min_length=1, description="ISO-8601; default: now, UTC", json_schema_extra=NO_NUL
    )


class EventIn(EventBody):
    event_type: str = Field(min_length=1, json_schema_extra=NO_NUL)


class BatchEventIn(EventIn):
    thread_id: str = Field(pattern=ID_PATTERN, min_length=1, max_length=128)
    run_id: str = Field(pattern=ID_PATTERN, min_length=1, max_length=128)


class RunIn(_Closed):
    run_id: str = Field(pattern=ID_PATTERN, min_length=1, max_length=128)
    thread_id: str = Field(pattern=ID_PATTERN, min_length=1, max_length=128)
    status: RunStatus = "pending"


class StatusIn(_Closed):
    status: RunStatus


class EventOut(BaseModel):
    thread_id: str
    run_id: str
    seq: int = Field(ge=1)
    event_type: str
    category: str
    content: Any
    metadata: dict[str, Any]
    created_at: str


class OnceOut(BaseModel):
    event: EventOut
    created: bool


class CountOut(BaseModel):
    count: int = Field(ge=0)


class DeletedOut(BaseModel):
    deleted: int = Field(ge=0)


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready"]


class SkillOut(BaseModel):
    name: str
    description: str
    path: str
    body: str
    metadata: dict[str, Any]


class RunOut(BaseModel):
    run_id: str
    thread_id: str
    status: RunStatus
    created_at: str
    updated_at: str


class ErrorOut(BaseModel):
    """The body of every 4xx and 503 answer."""

    detail: str = Field(description="what was wrong, in words")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can answer these error statuses."""
    words = {
        400: "the body is not JSON text (not UTF-8, say)",
        404: "unknown run or skill",
        409: "the run id is taken",
        413: "request body too large",
        422: "invalid path, query or body",
        503: "a store is unavailable (database down, disk full...): retry after Retry-After seconds",
    }
    return {status: {"model": ErrorOut, "description": words[status]} for status in statuses}
