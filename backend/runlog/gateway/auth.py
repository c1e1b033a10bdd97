"""Bearer-token access: every route but ``/health`` needs ``Authorization: Bearer <token>``.

The token is the operator's (``RUNLOG_TOKEN``, or a file named by
``RUNLOG_TOKEN_FILE``, read once at startup); without one the service is open,
which ``python -m runlog serve`` allows on a loopback address only. The
comparison takes the same time whatever the guess (``hmac.compare_digest``), so
timing tells nothing about the token. Refusals answer 401 in the one error
shape with ``WWW-Authenticate: Bearer`` (RFC 6750), before a byte of the body
is read. The OpenAPI document then declares the scheme and every 401
(``document_bearer``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from runlog.gateway.limits import ASGIApp, Receive, Scope, Send, send_detail

OPEN_PATHS = frozenset({"/health"})  # liveness: a probe that sends no credentials


class BearerAuth:
    """ASGI middleware: 401 for an HTTP request without the token ``expected()`` returns.

    ``expected()`` is read per request: the token comes from a file the app
    reads when it starts. ``None`` means "no token configured": every request
    passes; ``b""`` means "a token is configured but not loaded yet": every
    request is refused (fail closed).
    """

    def __init__(self, app: ASGIApp, expected: Callable[[], bytes | None]) -> None:
        self.app = app
        self.expected = expected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = self.expected()
        if scope["type"] != "http" or token is None or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = _bearer(scope)
        if given is None:
            await _refuse(
                send, "send the service's token: Authorization: Bearer <token>", 'Bearer realm="runlog"'
            )
        elif not token or not hmac.compare_digest(given, token):
            await _refuse(
                send, "the bearer token is not the service's", 'Bearer realm="runlog", error="invalid_token"'
            )
        else:
            await self.app(scope, receive, send)


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            if scheme.lower() == b"bearer" and credentials.strip():
                return bytes(credentials.strip())
            return None
    return None


async def _refuse(send: Send, detail: str, challenge: str) -> None:
    await send_detail(send, 401, detail, (b"www-authenticate", challenge.encode()))


SECURITY_SCHEME = "bearerToken"


def document_bearer(schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI document with the bearer scheme required by every operation but the open paths'.

    Each protected operation also lists its 401 (``ErrorOut``, with the
    ``WWW-Authenticate`` challenge); the open ones say ``security: []``.
    """
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "the service's token (RUNLOG_TOKEN or RUNLOG_TOKEN_FILE): Authorization: Bearer <token>",
    }
    schema["security"] = [{SECURITY_SCHEME: []}]
    unauthorized = {
        "description": "no bearer token, or not the service's",
        "headers": {
            "WWW-Authenticate": {
                "description": 'Bearer realm="runlog" (RFC 6750)',
                "schema": {"type": "string"},
            }
        },
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if path in OPEN_PATHS:
                operation["security"] = []
            else:
                operation.setdefault("responses", {})["401"] = unauthorized
    return schema


def read_token_file(path: str) -> str:
    """The token in a file (surrounding whitespace, a trailing newline, ignored); ValueError if empty."""
    with open(path, encoding="utf-8") as file:
        token = file.read().strip()
    if not token:
        raise ValueError(f"the token file {path} is empty: write the token into it")
    return token
