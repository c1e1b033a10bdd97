"""blockbuster's default rules, by the names its handle uses (``blockbuster.BlockBuster().functions``)."""

from __future__ import annotations

from blockgate.classification.engine import Entry, blockbuster_rule

BLOCKBUSTER: tuple[Entry, ...] = (
    blockbuster_rule("builtins.input"),
    blockbuster_rule("time.sleep"),
    *(
        blockbuster_rule(f"os.{n}")
        for n in (
            "statvfs",
            "rename",
            "remove",
            "rmdir",
            "link",
            "symlink",
            "listdir",
            "access",
            "getcwd",
            "stat",
            "mkdir",
            "replace",
            "readlink",
            "sendfile",
            "unlink",
            "read",
            "write",
        )
    ),
    *(blockbuster_rule(f"os.path.{n}") for n in ("ismount", "samestat", "sameopenfile", "islink", "abspath")),
    *(
        blockbuster_rule(f"io.{cls}.{m}")
        for cls in ("BufferedReader", "BufferedRandom", "TextIOWrapper")
        for m in ("read",)
    ),
    *(blockbuster_rule(f"io.{cls}.write") for cls in ("BufferedWriter", "BufferedRandom", "TextIOWrapper")),
    *(
        blockbuster_rule(f"socket.socket.{m}")
        for m in (
            "connect",
            "accept",
            "send",
            "sendall",
            "sendto",
            "recv",
            "recv_into",
            "recvfrom",
            "recvfrom_into",
            "recvmsg",
        )
    ),
    *(blockbuster_rule(f"ssl.SSLSocket.{m}") for m in ("write", "send", "read", "recv")),
    *(
        blockbuster_rule(f"sqlite3.Cursor.{m}")
        for m in ("execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall")
    ),
    *(
        blockbuster_rule(f"sqlite3.Connection.{m}")
        for m in ("execute", "executemany", "executescript", "commit", "rollback")
    ),
)
