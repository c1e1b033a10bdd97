"""What the probes of several families share: descriptors and sockets they prepare, and call helpers.

Preparations run off the loop (they block on purpose); the call helpers make
the one blocking call their probe names, looking the primitive up at call
time so that the probe goes through whatever checker is installed.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Callable
from typing import Any

from blockgate.rules.model import Scene


def open_fd(scene: Scene) -> None:
    fd = os.open(scene.file, os.O_RDWR)
    scene.keep("fd", fd, lambda: os.close(fd))


def socket_pair(scene: Scene, blocking: bool) -> None:
    mine, theirs = socket.socketpair()
    theirs.sendall(b"ready")
    mine.setblocking(blocking)
    scene.keep("mine", mine, mine.close)
    scene.keep("theirs", theirs, theirs.close)


def ignoring(*errors: type[BaseException]) -> Callable[[Callable[[], Any]], None]:
    def run(call: Callable[[], Any]) -> None:
        try:
            call()
        except errors:
            pass  # the primitive ran (and failed on this machine): the blocking call happened

    return run


ignore_os_error = ignoring(OSError)


def lookup(dotted: str) -> Any:
    """Resolve ``module.attr`` at call time, so the probe goes through whatever is installed."""
    module_name, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)
