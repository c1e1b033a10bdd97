"""Inter-process connections (``multiprocessing``): pipes, listeners, clients and their waits.

They wait on another process; a zero-timeout ``poll`` and ``wait`` pass.
"""

from __future__ import annotations

from typing import Any

from blockgate.rules.forms import zero_timeout
from blockgate.rules.model import Audit, Patch, Probe, Scene, options
from blockgate.rules.scenes import lookup


def _connection_poll_nonblocking(_conn: Any, timeout: float | None = 0.0) -> bool:
    return zero_timeout(timeout)


def _connection_wait_nonblocking(_objects: Any, timeout: float | None = None) -> bool:
    return zero_timeout(timeout)


def _mp_pipe(scene: Scene) -> None:
    from multiprocessing import Pipe

    mine, theirs = Pipe()
    theirs.send("ready")
    scene.keep("conn", mine, mine.close)
    scene.keep("peer", theirs, theirs.close)


def _mp_listener(scene: Scene) -> None:
    from multiprocessing.connection import Client, Listener

    listener = Listener(("127.0.0.1", 0))
    scene.keep("listener", listener, listener.close)
    client = Client(listener.address)  # queued in the backlog: accept returns at once
    scene.keep("client", client, client.close)


RULES: tuple[Patch | Audit, ...] = (
    # -- inter-process connections (multiprocessing) -----------------------------------
    Patch(
        "processes",
        "multiprocessing.connection.wait",
        "waits until a connection, socket or process sentinel is ready",
        fires=Probe(lambda s: lookup("multiprocessing.connection.wait")([s.extra["conn"]], 0.5), _mp_pipe),
        nonblocking_if=_connection_wait_nonblocking,
        passes=Probe(lambda s: lookup("multiprocessing.connection.wait")([s.extra["conn"]], 0), _mp_pipe),
    ),
    *(
        Patch(
            "processes",
            f"multiprocessing.connection.Connection.{method}",
            reason,
            fires=Probe(call, _mp_pipe),
            **options(**extra),
        )
        for method, reason, call, extra in (
            ("recv", "waits for the other process to send", lambda s: s.extra["conn"].recv(), {}),
            ("recv_bytes", "waits for the other process to send", lambda s: s.extra["conn"].recv_bytes(), {}),
            (
                "recv_bytes_into",
                "waits for the other process to send",
                lambda s: s.extra["conn"].recv_bytes_into(bytearray(64)),
                {},
            ),
            (
                "poll",
                "with a timeout, waits for the other process to send",
                lambda s: s.extra["conn"].poll(0.5),
                {
                    "nonblocking_if": _connection_poll_nonblocking,
                    "passes": Probe(lambda s: s.extra["conn"].poll(), _mp_pipe),
                },
            ),
            (
                "send",
                "waits for the other process to drain a full pipe",
                lambda s: s.extra["conn"].send(1),
                {},
            ),
            (
                "send_bytes",
                "waits for the other process to drain a full pipe",
                lambda s: s.extra["conn"].send_bytes(b"x"),
                {},
            ),
        )
    ),
    Patch(
        "processes",
        "multiprocessing.connection.Listener.accept",
        "waits for another process to connect",
        fires=Probe(lambda s: s.extra["listener"].accept().close(), _mp_listener),
    ),
)
