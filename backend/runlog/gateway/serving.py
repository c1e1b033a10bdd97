"""How ``python -m runlog serve`` runs the app under uvicorn: bounded time and connections per client.

A client that connects and sends nothing, sends its request's head a byte at
a time (slowloris), or keeps an idle connection must not hold a socket, and a
file descriptor, for ever. uvicorn bounds some of that itself:

* ``timeout_keep_alive``: an idle connection is closed that many seconds
  after its last answer; but any byte the client sends stops that timer;
* ``limit_concurrency``: a request arriving while that many connections are
  open (its own included), or that many other requests are in progress, is
  answered 503 (uvicorn's ``text/plain`` "Service Unavailable") instead of
  reaching the app; the connection itself is still accepted, and closed by
  the timeouts like any other;
* ``h11_max_incomplete_event_size``: when that many bytes of a request head
  are buffered and the head is still not complete, the request is answered
  400 and the connection closed (h11 only; httptools has no such limit). A
  complete head that arrives in one read is parsed whatever its size: this
  bounds the memory a slow head holds, not the size of a head.

Nothing in uvicorn bounds the time a request's head takes to arrive, counted
from the connection (or the last answer) on: ``HeadDeadlineH11`` adds that,
and is the protocol the server runs (h11, whatever else is installed, so that
the head size limit holds too). The body's time is bounded in the app
(``runlog.gateway.limits.BodyLimit``: 408), where the body is read.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from runlog.gateway.settings import Settings

logger = logging.getLogger(__name__)


class HeadDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not in within
    ``head_timeout`` seconds: of the connection, or of the first byte of a later request.

    Between requests, while nothing arrives, the idle connection is uvicorn's
    (its keep-alive timeout); the first byte of the next request arms the
    deadline again. Parsing a request's head (uvicorn then starts a new request
    cycle) disarms it. Bytes trickling in do not move it.
    """

    head_timeout: float = 10.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._head_deadline: asyncio.TimerHandle | None = None
        self._awaiting_head = True
        super().connection_made(transport)  # type: ignore[arg-type]
        self._waiting_after = self.cycle  # None: no request yet
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head and self._head_deadline is None:
            self._arm_head_deadline()
        super().data_received(data)
        self._check_request_started()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request, whose head is in
        if self.cycle is self._waiting_after:
            self._awaiting_head = True  # the next request's first byte arms the deadline
        else:
            self._waiting_after = self.cycle

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _check_request_started(self) -> None:
        if self._awaiting_head and self.cycle is not self._waiting_after:
            self._awaiting_head = False
            self._waiting_after = self.cycle
            self._disarm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            logger.debug("closing a connection whose request head took over %g s", self.head_timeout)
            self.transport.close()


def protocol_class(head_timeout: float) -> type[HeadDeadlineH11]:
    """The protocol class for one server: ``HeadDeadlineH11`` with this deadline."""
    return type("HeadDeadlineH11", (HeadDeadlineH11,), {"head_timeout": head_timeout})


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` with the settings' timeouts and limits (``options``: the rest)."""
    return uvicorn.Config(
        app,
        http=protocol_class(settings.header_timeout),
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]  # a float works: call_later
        # uvicorn counts the requesting connection itself: its limit N serves N - 1 connections.
        limit_concurrency=settings.max_connections + 1,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        **options,
    )
