"""Request limits: a cap on body size (413), on the time a body takes to arrive (408), on
one event's encoded size (422), on the threads one request names (422), on a page's size.

They protect the event loop, the memory and the connections of a server that
reads bodies whole and answers pages whole: a client cannot make the service
buffer, encode or decode an unbounded amount on its behalf, nor hold a
connection open by sending its body a byte at a time (the time a request's
head may take is bounded by the server's protocol, runlog.gateway.serving).
The threads cap bounds what one request can make a store create: a new thread
is two files in the JSONL store (a small body naming many threads made tens of
thousands of files), rows in a SQL store. The page limit is the store's
(``max_page_bytes``): a page ends early, before reading what would pass it,
and the client continues from the page's first or last seq.
"""

from __future__ import annotations

import asyncio
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
DEFAULT_BODY_TIMEOUT = 30.0  # seconds for a whole body: 4 MiB at about 1 Mbit/s


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for an HTTP request whose body exceeds ``max_bytes``, 408 for one
    whose body has not all arrived ``timeout`` seconds after the application got the request.

    A declared Content-Length over the limit is refused before any byte is
    read; a body sent without one (chunked) is counted as it arrives and
    refused as soon as it passes the limit, before the application sees it.
    Both refusals close the connection: what is left of the body is not read.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = DEFAULT_BODY_TIMEOUT) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, 413, f"request body larger than {self.max_bytes} bytes")
            return
        try:
            chunks = await asyncio.wait_for(self._body(receive), self.timeout)
        except _TooLarge:
            await _refuse(send, 413, f"request body larger than {self.max_bytes} bytes")
            return
        except asyncio.TimeoutError:  # the builtin TimeoutError from 3.11 on; asyncio's own on 3.10
            await _refuse(send, 408, f"request body not received within {self.timeout:g} s")
            return
        if chunks[-1]["type"] != "http.request":  # a disconnect: the app sees it, and nothing after
            await self.app(scope, _replay(chunks), send)
            return
        await self.app(scope, _replay(chunks, then=receive), send)

    async def _body(self, receive: Receive) -> list[Message]:
        """The body's messages, or the disconnect that cut it short; _TooLarge past ``max_bytes``."""
        chunks: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return [message]
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                raise _TooLarge
            chunks.append(message)
            if not message.get("more_body", False):
                return chunks


async def send_detail(send: Send, status: int, detail: str, *headers: tuple[bytes, bytes]) -> None:
    """Answer ``status`` with the usual ``{"detail": ...}`` body, from ASGI middleware; ``headers`` added."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _refuse(send: Send, status: int, detail: str) -> None:
    # The rest of the body is never read: the connection cannot serve another request.
    await send_detail(send, status, detail, (b"connection", b"close"))


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
