"""``socket``: connections, transfers and name resolution."""

from __future__ import annotations

from blockgate.classification.engine import NOW, POSIX_SYSTEMS, PURE, WINDOWS, Entry, fine, rule

_SOCKET = (
    *(
        fine(f"socket.{n}", PURE)
        for n in (
            "CMSG_LEN",
            "CMSG_SPACE",
            "htonl",
            "htons",
            "ntohl",
            "ntohs",
            "inet_aton",
            "inet_ntoa",
            "inet_ntop",
            "inet_pton",
        )
    ),
    *(
        fine(f"socket.{n}", NOW)
        for n in (
            "close",
            "dup",
            "fromfd",
            "getdefaulttimeout",
            "setdefaulttimeout",
            "has_dualstack_ipv6",
            "if_indextoname",
            "if_nameindex",
            "if_nametoindex",
            "gethostname",
            "sethostname",
        )
    ),
    fine("socket.socketpair", NOW, systems=POSIX_SYSTEMS),
    # Windows has no socketpair(2): socket.py listens on localhost, connects and accepts
    rule("socket.socketpair", "blockbuster:socket.socket.accept", systems=WINDOWS),
    fine("socket.socket", "creates a socket"),
    fine("socket.SocketType", "the C socket type: creating one makes a socket"),
    *(fine(f"socket.socket.{m}", NOW) for m in ("dup", "get_inheritable", "set_inheritable")),
    rule("socket.SocketType.bind", "audit:socket.bind"),
    rule("socket.create_server", "audit:socket.bind"),
    *(
        fine(f"socket.{c}.{m}", NOW)
        for c in ("socket", "SocketType")
        for m in (
            "close",
            "detach",
            "fileno",
            "getblocking",
            "setblocking",
            "gettimeout",
            "settimeout",
            "getpeername",
            "getsockname",
            "getsockopt",
            "setsockopt",
            "listen",
            "shutdown",
        )
    ),
    fine(
        "socket.socket.makefile",
        "wraps the socket in a file object: its reads and writes go through recv_into and send",
    ),
    *(
        rule(f"socket.{c}.{m}", f"blockbuster:socket.socket.{m}")
        for c in ("SocketType",)
        for m in (
            "connect",
            "recv",
            "recv_into",
            "recvfrom",
            "recvfrom_into",
            "recvmsg",
            "send",
            "sendall",
            "sendto",
        )
    ),
    rule("socket.SocketType.connect_ex", "audit:socket.connect"),
    *(rule(f"socket.{c}.sendmsg", "audit:socket.sendmsg") for c in ("socket", "SocketType")),
    *(rule(f"socket.{c}.sendmsg_afalg", "audit:socket.sendmsg") for c in ("socket", "SocketType")),
    rule("socket.socket.sendfile", "blockbuster:os.sendfile"),
    rule("socket.SocketType.recvmsg_into", "socket.socket.recvmsg_into"),
    rule("socket.send_fds", "audit:socket.sendmsg"),
    rule("socket.recv_fds", "blockbuster:socket.socket.recvmsg"),
)


ENTRIES: tuple[Entry, ...] = (*_SOCKET,)
