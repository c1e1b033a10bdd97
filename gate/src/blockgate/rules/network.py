"""Sockets, name resolution, TLS, and the standard library's outbound protocol clients.

blockbuster patches socket methods; name resolution (``getaddrinfo``,
``gethostbyname``...) goes through the C library and may wait on DNS for
seconds, and TLS contexts that load certificate files read the disk. Calls on
a non-blocking socket and numeric addresses pass.
"""

from __future__ import annotations

import _socket
import socket
from collections.abc import Callable
from typing import Any

from blockgate.rules.model import Audit, Patch, Probe, Scene, options
from blockgate.rules.scenes import ignore_os_error, ignoring, lookup, socket_pair


def _socket_nonblocking(args: tuple[Any, ...]) -> bool:
    try:
        return not args[0].getblocking()
    except (AttributeError, OSError):
        return False


def _sock_method_nonblocking(sock: Any, *_: Any, **__: Any) -> bool:
    return _socket_nonblocking((sock,))


def _numeric_address(args: tuple[Any, ...]) -> bool:
    """The address names no host to resolve: a numeric IP, any-address, or not an IP address at all."""
    address = args[1]
    if not isinstance(address, tuple) or not address or not isinstance(address[0], str):
        return True
    host = address[0]
    if host in ("", "<broadcast>"):
        return True
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host.split("%")[0])
            return True
        except OSError:
            pass
    return False


def _only_in_memory_ca(_ctx: Any, cafile: Any = None, capath: Any = None, cadata: Any = None) -> bool:
    return cafile is None and capath is None


def _listener(scene: Scene) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    scene.keep("address", server.getsockname(), server.close)


def _listener_and_nonblocking_socket(scene: Scene) -> None:
    _listener(scene)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    scene.keep("sock", sock, sock.close)


def _unbound_socket(scene: Scene) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    scene.keep("sock", sock, sock.close)


def _ssl_context(scene: Scene) -> None:
    import ssl

    scene.extra["ctx"] = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    empty = scene.fresh("empty.pem")
    empty.write_text("")
    scene.extra["pem"] = str(empty)


def _tls_socket_without_peer(scene: Scene, blocking: bool = True) -> None:
    import ssl

    mine, theirs = socket.socketpair()
    mine.setblocking(blocking)
    theirs.close()  # the handshake meets end-of-file at once instead of waiting
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(mine, do_handshake_on_connect=False)
    scene.keep("tls", tls, tls.close)


def _c_connect(address: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        _socket.socket.connect(sock, address)  # the C method, below blockbuster's patch


def _store_reader(function: str) -> Callable[[Scene], Any]:
    def call(scene: Scene) -> Any:
        return lookup(f"ssl.{function}")("CA")

    return call


RULES: tuple[Patch | Audit, ...] = (
    # -- sockets, name resolution, TLS --------------------------------------------
    Audit(
        "network",
        "socket.getaddrinfo",
        "name resolution: may wait on DNS for seconds",
        fires=Probe(lambda s: socket.getaddrinfo("localhost", 80)),
        raised_by=("socket.getaddrinfo", "socket.create_connection"),
    ),
    Audit(
        "network",
        "socket.gethostbyname",
        "name resolution: may wait on DNS",
        fires=Probe(lambda s: socket.gethostbyname("localhost")),
        raised_by=("socket.gethostbyname", "socket.gethostbyname_ex"),
    ),
    Audit(
        "network",
        "socket.gethostbyaddr",
        "reverse name resolution: may wait on DNS",
        fires=Probe(lambda s: ignore_os_error(lambda: socket.gethostbyaddr("127.0.0.1"))),
        raised_by=("socket.gethostbyaddr", "socket.getfqdn"),
    ),
    Audit(
        "network",
        "socket.getnameinfo",
        "reverse name resolution: may wait on DNS",
        fires=Probe(lambda s: socket.getnameinfo(("127.0.0.1", 80), 0)),
        raised_by=("socket.getnameinfo",),
    ),
    Audit(
        "network",
        "socket.getservbyname",
        "reads the services database (/etc/services, or NSS)",
        fires=Probe(lambda s: ignore_os_error(lambda: socket.getservbyname("http"))),
        raised_by=("socket.getservbyname",),
    ),
    Audit(
        "network",
        "socket.getservbyport",
        "reads the services database (/etc/services, or NSS)",
        fires=Probe(lambda s: ignore_os_error(lambda: socket.getservbyport(80))),
        raised_by=("socket.getservbyport",),
    ),
    Audit(
        "network",
        "socket.connect",
        "a blocking socket connect waits for the peer",
        fires=Probe(lambda s: _c_connect(s.extra["address"]), _listener),
        nonblocking_if=_socket_nonblocking,
        passes=Probe(
            lambda s: s.extra["sock"].connect_ex(s.extra["address"]), _listener_and_nonblocking_socket
        ),
        raised_by=("socket.socket.connect", "socket.socket.connect_ex", "socket.create_connection"),
    ),
    Audit(
        "network",
        "socket.bind",
        "binding to a host name resolves it first (DNS), inside the C call",
        fires=Probe(lambda s: s.extra["sock"].bind(("localhost", 0)), _unbound_socket),
        nonblocking_if=_numeric_address,
        passes=Probe(lambda s: s.extra["sock"].bind(("127.0.0.1", 0)), _unbound_socket),
        raised_by=("socket.socket.bind", "socket.create_server", "ssl.SSLSocket.bind"),
    ),
    Patch(
        "network",
        "socket.getprotobyname",
        "reads the protocols database (/etc/protocols, or NSS)",
        fires=Probe(lambda s: lookup("socket.getprotobyname")("tcp")),
    ),
    Audit(
        "network",
        "socket.sendmsg",
        "sendmsg on a blocking socket waits while the peer's buffer is full",
        fires=Probe(lambda s: s.extra["mine"].sendmsg([b"x"]), lambda s: socket_pair(s, blocking=True)),
        nonblocking_if=_socket_nonblocking,
        passes=Probe(lambda s: s.extra["mine"].sendmsg([b"x"]), lambda s: socket_pair(s, blocking=False)),
        raised_by=("socket.socket.sendmsg", "socket.socket.sendmsg_afalg", "socket.send_fds"),
        platform_has_it=hasattr(socket.socket, "sendmsg"),
    ),
    Patch(
        "network",
        "socket.socket.recvmsg_into",
        "waits for the peer to send",
        fires=Probe(
            lambda s: s.extra["mine"].recvmsg_into([bytearray(8)]), lambda s: socket_pair(s, blocking=True)
        ),
        nonblocking_if=_sock_method_nonblocking,
        passes=Probe(
            lambda s: s.extra["mine"].recvmsg_into([bytearray(8)]), lambda s: socket_pair(s, blocking=False)
        ),
        platform_has_it=hasattr(socket.socket, "recvmsg_into"),
    ),
    *(
        Patch(
            "network",
            f"ssl.SSLContext.{method}",
            "reads certificate or parameter files from disk",
            fires=Probe(call, _ssl_context),
            **options(**extra),
        )
        for method, call, extra in (
            (
                "load_cert_chain",
                lambda s: ignore_os_error(lambda: s.extra["ctx"].load_cert_chain(s.extra["pem"])),
                {},
            ),
            (
                "load_verify_locations",
                lambda s: ignore_os_error(lambda: s.extra["ctx"].load_verify_locations(s.extra["pem"])),
                {
                    "nonblocking_if": _only_in_memory_ca,
                    "passes": Probe(
                        lambda s: ignoring(ValueError, OSError)(
                            lambda: s.extra["ctx"].load_verify_locations(cadata="")
                        ),
                        _ssl_context,
                    ),
                },
            ),
            ("load_default_certs", lambda s: s.extra["ctx"].load_default_certs(), {}),
            ("set_default_verify_paths", lambda s: s.extra["ctx"].set_default_verify_paths(), {}),
            (
                "load_dh_params",
                lambda s: ignore_os_error(lambda: s.extra["ctx"].load_dh_params(s.extra["pem"])),
                {},
            ),
        )
    ),
    *(
        Patch(
            "network",
            f"ssl.{function}",
            "reads the Windows certificate store (the registry, on disk)",
            fires=Probe(_store_reader(function)),
            systems=("win32",),  # its probe runs there only
        )
        for function in ("enum_certificates", "enum_crls")
    ),
    Patch(
        "network",
        "ssl.SSLSocket.do_handshake",
        "a TLS handshake on a blocking socket waits for the peer",
        fires=Probe(lambda s: ignore_os_error(s.extra["tls"].do_handshake), _tls_socket_without_peer),
        nonblocking_if=_sock_method_nonblocking,
        passes=Probe(
            lambda s: ignore_os_error(s.extra["tls"].do_handshake),
            lambda s: _tls_socket_without_peer(s, blocking=False),
        ),
        classifies=("ssl.SSLContext.wrap_socket",),  # and ssl.wrap_socket up to 3.11: see the classification
    ),
    Patch(
        "network",
        "ssl.SSLSocket.unwrap",
        "the TLS close handshake on a blocking socket waits for the peer",
        fires=Probe(lambda s: ignoring(OSError, ValueError)(s.extra["tls"].unwrap), _tls_socket_without_peer),
    ),
    # -- outbound protocols ----------------------------------------------------------------
    Audit(
        "network",
        "urllib.Request",
        "urlopen reads a URL: the network, or a file",
        fires=Probe(lambda s: lookup("urllib.request.urlopen")(s.file.as_uri()).close()),
        raised_by=("urllib.request.urlopen", "urllib.request.OpenerDirector.open"),
    ),
)
