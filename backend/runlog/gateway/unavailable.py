"""A store that cannot be reached answers 503, not a 500.

The event store and the run registry live behind a network (PostgreSQL) or a
disk (JSONL, SQLite). When that side is down, full or refusing connections,
the request was fine and may succeed later: the client gets 503 with the
usual ``{"detail": ...}`` body and a ``Retry-After``, and the server's log gets
the cause. Anything else a store raises is a bug and stays a 500.

What counts as "cannot be reached": an ``OSError`` (refused or reset
connections, timeouts, a full disk, a missing or unwritable data folder),
the DBAPI's operational and interface errors as SQLAlchemy wraps them (a
dropped connection, a server shutting down, the pool's timeout), asyncpg's
connection and operator-intervention errors when they arrive unwrapped, and
sqlite3's operational errors (a locked or unopenable database: the registry).
"""

from __future__ import annotations

import logging
import sqlite3

import sqlalchemy.exc
from fastapi import Request
from fastapi.responses import JSONResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
)


def _asyncpg_unavailable() -> tuple[type[BaseException], ...]:
    try:
        import asyncpg.exceptions as pg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return ()
    return (pg.PostgresConnectionError, pg.OperatorInterventionError, pg.InsufficientResourcesError)


UNAVAILABLE = _UNAVAILABLE + _asyncpg_unavailable()


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or the DBAPI error SQLAlchemy wraps in it) says the store cannot be reached."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and isinstance(exc.orig, UNAVAILABLE):
        return True
    return isinstance(exc, UNAVAILABLE)


def cause(exc: BaseException) -> str:
    """One line naming the error and its message, for the log."""
    text = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {text}"


def unavailable_response(detail: str) -> JSONResponse:
    return JSONResponse(
        {"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The exception handler: 503 for a store that cannot be reached; anything else re-raised (500)."""
    if not is_unavailable(exc):
        raise exc
    logger.error("503 for %s %s: a store is unavailable: %s", request.method, request.url.path, cause(exc))
    return unavailable_response("a store of the service is unavailable; retry later")
