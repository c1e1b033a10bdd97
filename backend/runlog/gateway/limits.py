"""Request limits: a cap on body size (413), on one event's encoded size (422), on the
threads one request names (422), on a page's size.

They protect the event loop and the memory of a server that reads bodies
whole and answers pages whole: a client cannot make the service buffer,
encode or decode an unbounded amount on its behalf. The threads cap bounds
what one request can make a store create: a new thread is two files in the
JSONL store (a small body naming many threads made tens of thousands of
files), rows in a SQL store. The page limit is the store's
(``max_page_bytes``): a page ends early, before reading what would pass it,
and the client continues from the page's first or last seq.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_EVENT_BYTES = 256 * 1024
# Distinct threads one request may name. Every thread a batch names counts, existing or new:
# the bound costs no lookup, is the same for every store, and bounds the new ones.
DEFAULT_MAX_THREADS_PER_REQUEST = 100
# What one page of events may hold (runlog.events.base.event_chars): about what one request may
# send, so a page of limit=1000 costs megabytes, not the 250 MiB of 1000 events of 256 KiB.
DEFAULT_MAX_PAGE_BYTES = 4 * 1024 * 1024


class BodyLimit:
    """ASGI middleware: answer 413 to an HTTP request whose body exceeds ``max_bytes``.

    A declared Content-Length over the limit is refused before any byte is
    read; a body sent without one (chunked) is counted as it arrives and
    refused as soon as it passes the limit, before the application sees it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                await self.app(scope, _replay([message]), send)
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(message)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, then=receive), send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive


def event_size(content: Any, metadata: Any) -> int:
    """Bytes of the event's content and metadata as JSON: what the store writes per event."""
    return len(json.dumps(content, ensure_ascii=True)) + len(json.dumps(metadata, ensure_ascii=True))


def check_threads(thread_ids: Iterable[str], limit: int) -> None:
    """ValueError (422) if ``thread_ids`` name more than ``limit`` distinct threads."""
    named = len(set(thread_ids))
    if named > limit:
        raise ValueError(f"the batch names {named} threads; a request may name at most {limit}")
