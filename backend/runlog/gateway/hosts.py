"""The Host header: only the names the service is configured to answer to.

A web page can reach a server on 127.0.0.1 through DNS rebinding: its own
name (``evil.example``) is made to resolve to 127.0.0.1, and the browser then
sends the page's requests, with the page's name in ``Host``, to the local
service, reading the answers as same-origin. A loopback bind alone does not
stop that; refusing every Host the service was not told about does, since the
page cannot choose what its browser puts there.

The loopback names (``localhost``, ``127.0.0.1``, ``[::1]``) are always
served; an operator adds the names clients use to reach a non-loopback bind
(``--allowed-host``, ``RUNLOG_ALLOWED_HOSTS``). The port is not compared: the
name is what a rebinding page cannot forge. Other requests answer 400 in the
usual ``{"detail": ...}`` shape, before any other middleware or route runs.
"""

from __future__ import annotations

import ipaddress
import re

from runlog.gateway.limits import ASGIApp, Receive, Scope, Send, send_detail

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

# An RFC 1123 host name: dot-separated labels of letters, digits and '-', not starting or ending with '-'.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")
_SHOWN = 100  # characters of a refused Host quoted back in the answer


def host_name(name: str) -> str:
    """A configured host name or IP address in the form requests are compared in; ValueError if not one.

    Lower case, no trailing dot, an IPv6 address without brackets (``[::1]`` and
    ``::1`` are one name). A port, a path or a wildcard is refused: names only.
    """
    text = name.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.removesuffix(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if len(text) > 253 or not _HOST_NAME.fullmatch(text):
        raise ValueError(
            f"not a host name or IP address: {name!r} (give names only, such as runlog.example.org "
            "or 192.0.2.7: no port, scheme, path or wildcard)"
        )
    return text


def requested_host(header: bytes) -> str | None:
    """The name in a Host header value (port dropped, normalized like ``host_name``); None if malformed."""
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        return None
    if text.startswith("["):  # [v6] or [v6]:port
        address, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and _PORT.fullmatch(port[1:]))):
            return None
        name = f"[{address}]"
    else:
        name, colon, port = text.partition(":")
        if colon and not _PORT.fullmatch(port):
            return None
    try:
        return host_name(name)
    except ValueError:
        return None


class HostCheck:
    """ASGI middleware: 400 for an HTTP or WebSocket request whose Host is not one of ``hosts``
    (the app gives its settings' ``served_hosts``: the loopback names and the configured ones)."""

    def __init__(self, app: ASGIApp, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.hosts = frozenset(host_name(h) for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope.get("headers") or () if name.lower() == b"host"]
        if len(values) == 1 and requested_host(values[0]) in self.hosts:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # refused before the handshake is accepted: 403 to the client
            await send({"type": "websocket.close", "code": 1008})
            return
        if not values:
            detail = "a Host header is required"
        elif len(values) > 1:
            detail = "send one Host header"
        else:
            shown = values[0].decode("ascii", "replace")[:_SHOWN]
            detail = (
                f"this service does not answer to the host {shown!r}; its operator can add the name "
                "with --allowed-host or RUNLOG_ALLOWED_HOSTS"
            )
        await send_detail(send, 400, detail)
