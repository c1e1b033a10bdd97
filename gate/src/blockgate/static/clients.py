"""Synchronous clients of common third-party libraries: rules of the static half.

A blocking HTTP request, database query or cloud call made on the loop with a
synchronous client (``requests``, ``httpx.Client``, ``urllib3``, sync
``psycopg``/``psycopg2``, sync ``redis``, ``boto3``) blocks where every such
client does, in the standard library: the runtime half catches it there, at
the socket (``socket.socket.connect``, ``send``, ``recv``, ``socket.getaddrinfo``
and the TLS rules), and names the library frame that made it. The static half
reads only the scanned packages, so without these entries it would see no
blocking call at all: they name the client call in your code. Each entry is
static only (nothing is patched: the socket rules are its runtime
counterpart, named in ``runtime``); ``blockgate.rules`` stays the standard
library's table.

Calls are matched by what astroid resolves them to, so every spelling a
library's own source gives is listed (``requests.get`` is defined as
``requests.api.get``). A method of a client object is matched in two ways:
by its definition (``requests.sessions.Session.get``), or, when the method is
inherited from a mixin that async clients share (redis's commands), by the
class of the receiver (``redis.client.Redis`` and its subclasses, not
``redis.asyncio.client.Redis``; a ``redis.client.Pipeline`` only buffers, so
only its ``execute`` blocks). A package that never imports a library pays
nothing for its entries (their method names are not inferred there).
"""

from __future__ import annotations

from dataclasses import dataclass

HTTP_VERBS = ("request", "get", "options", "head", "post", "put", "patch", "delete")

# The sync redis commands applications call most; every one is a round trip to the server.
REDIS_COMMANDS = (
    "execute_command",
    "get",
    "set",
    "setex",
    "getset",
    "mget",
    "mset",
    "delete",
    "exists",
    "expire",
    "ttl",
    "incr",
    "decr",
    "incrby",
    "keys",
    "scan",
    "hget",
    "hset",
    "hmget",
    "hgetall",
    "hdel",
    "hincrby",
    "lpush",
    "rpush",
    "lpop",
    "rpop",
    "blpop",
    "brpop",
    "lrange",
    "llen",
    "sadd",
    "srem",
    "smembers",
    "sismember",
    "zadd",
    "zrange",
    "zrem",
    "zscore",
    "publish",
    "xadd",
    "xread",
    "ping",
    "flushdb",
)


@dataclass(frozen=True)
class ClientRule:
    """One library's blocking client calls: primitive name -> the qualified names it resolves to."""

    name: str  # the library, as imported: a package that never imports it skips this rule
    reason: str
    runtime: str  # where the runtime half sees the same calls
    callables: dict[str, tuple[str, ...]]
    receivers: tuple[str, ...] = ()  # classes whose listed methods block whatever defines them


def _spelled(shown: str, defining: tuple[str, ...], names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {f"{shown}.{n}": tuple(f"{d}.{n}" for d in defining) for n in names}


PSYCOPG2_CURSOR: tuple[str, ...] = ("execute", "executemany", "callproc", "fetchone", "fetchmany")
PSYCOPG2_CURSOR += ("fetchall", "copy_from", "copy_to", "copy_expert")

SOCKETS = "the socket rules: socket.socket.connect, send, recv..., socket.getaddrinfo"

CLIENT_RULES: tuple[ClientRule, ...] = (
    ClientRule(
        "requests",
        "sends an HTTP request and waits for the whole response on the calling thread",
        SOCKETS,
        {
            **_spelled("requests", ("requests.api",), HTTP_VERBS),
            **_spelled("requests.Session", ("requests.sessions.Session",), (*HTTP_VERBS, "send")),
        },
    ),
    ClientRule(
        "httpx",
        "httpx's sync API and httpx.Client send on the calling thread (httpx.AsyncClient is the loop's); "
        "constructing either client builds an SSL context that reads the CA bundle from disk",
        SOCKETS + "; the gate's ssl.SSLContext.load_verify_locations rule for the construction",
        {
            "httpx.Client": ("httpx._client.Client",),
            "httpx.AsyncClient": ("httpx._client.AsyncClient",),
            **_spelled("httpx", ("httpx._api",), (*HTTP_VERBS, "stream")),
            **_spelled("httpx.Client", ("httpx._client.Client",), (*HTTP_VERBS, "send", "stream")),
        },
    ),
    ClientRule(
        "urllib3",
        "urllib3 connects, sends and reads the response on the calling thread",
        SOCKETS,
        {
            "urllib3.request": ("urllib3.request",),
            **_spelled(
                "urllib3.PoolManager",
                ("urllib3._request_methods.RequestMethods",),
                ("request", "request_encode_url", "request_encode_body"),
            ),
            "urllib3.PoolManager.urlopen": (
                "urllib3.poolmanager.PoolManager.urlopen",
                "urllib3.poolmanager.ProxyManager.urlopen",
            ),
            "urllib3.HTTPConnectionPool.urlopen": ("urllib3.connectionpool.HTTPConnectionPool.urlopen",),
        },
    ),
    ClientRule(
        "psycopg",
        "a sync psycopg connection waits for the server on the calling thread (psycopg.AsyncConnection does not)",
        "only where psycopg waits in Python (the gate's select and selectors rules, when psycopg's C "
        "wait is not built): libpq's C code does the IO, which no socket rule sees",
        {
            "psycopg.connect": ("psycopg.connection.Connection.connect",),
            **_spelled(
                "psycopg.Connection", ("psycopg.connection.Connection",), ("execute", "commit", "rollback")
            ),
            **_spelled(
                "psycopg.Cursor",
                ("psycopg.cursor.Cursor",),
                ("execute", "executemany", "fetchone", "fetchmany", "fetchall", "stream", "copy", "scroll"),
            ),
        },
    ),
    ClientRule(
        "psycopg2",
        "psycopg2 is synchronous: connecting and every query wait for the server on the calling thread",
        "none at the socket: libpq's C code does the IO, which no rule patches (a blind spot); "
        "only this static rule sees psycopg2",
        {
            "psycopg2.connect": ("psycopg2.connect",),
            **_spelled(
                "psycopg2.extensions.connection",
                ("psycopg2.extensions.connection", "psycopg2._psycopg.connection"),
                ("commit", "rollback"),
            ),
            **_spelled(
                "psycopg2.extensions.cursor",
                ("psycopg2.extensions.cursor", "psycopg2._psycopg.cursor"),
                PSYCOPG2_CURSOR,
            ),
        },
    ),
    ClientRule(
        "redis",
        "a sync redis command is a round trip to the server on the calling thread (redis.asyncio is the loop's)",
        SOCKETS,
        {
            **_spelled("redis.Redis", ("redis.client.Redis",), REDIS_COMMANDS),
            "redis.client.Pipeline.execute": ("redis.client.Pipeline.execute",),
        },
        receivers=("redis.client.Redis", "redis.client.Pipeline"),
    ),
    ClientRule(
        "boto3",
        "creating a client or resource reads the shared config and credentials files and may query the "
        "instance metadata endpoint; its API calls (a class boto3 builds at run time, which no static "
        "reading resolves) send HTTP requests on the calling thread",
        SOCKETS + "; the file rules for the config and credentials files",
        {
            "boto3.client": ("boto3.client",),
            "boto3.resource": ("boto3.resource",),
            "boto3.session.Session.client": ("boto3.session.Session.client",),
            "boto3.session.Session.resource": ("boto3.session.Session.resource",),
            "botocore.session.Session.create_client": ("botocore.session.Session.create_client",),
        },
    ),
)


def markdown_table() -> str:
    """The table of docs/static-half.md ("Third-party clients"), held against this module by a test."""
    rows = ["| library | calls reported (primitives) | runtime counterpart |", "|---|---|---|"]
    for rule in CLIENT_RULES:
        shown = sorted(rule.callables)
        listed = ", ".join(f"`{name}`" for name in shown[:6])
        more = f" and {len(shown) - 6} more" if len(shown) > 6 else ""
        rows.append(f"| `{rule.name}` | {listed}{more} | {rule.runtime} |")
    return "\n".join(rows) + "\n"
