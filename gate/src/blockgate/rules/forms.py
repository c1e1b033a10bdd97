"""The argument forms that cannot block, shared by several families (``nonblocking_if``).

A rule whose primitive has a non-blocking form (the console, an in-memory
stream, a descriptor in non-blocking mode, a zero timeout) lets that form
through; its must-pass probe proves it stays silent on the loop.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any


def is_console(file: Any) -> bool:
    """``file`` is sys.stdout/sys.stderr (as now redirected, e.g. by pytest), their buffer or raw
    file, or the null device (pytest's logging writes its file handler there by default)."""
    if getattr(file, "name", None) == os.devnull:
        return True
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        layer = stream
        while layer is not None:
            if layer is file:
                return True
            layer = getattr(layer, "buffer", None) or getattr(layer, "raw", None)
    return False


def not_a_disk_file(file: Any, *_: Any, **__: Any) -> bool:
    """True for in-memory streams, terminals and the process's stdout/stderr."""
    if is_console(file):
        return True
    try:
        file.fileno()
    except (io.UnsupportedOperation, AttributeError, ValueError):
        return True
    try:
        return bool(file.isatty())
    except (ValueError, OSError):
        return False


def fd_nonblocking(fd: Any, *_: Any, **__: Any) -> bool:
    try:
        return isinstance(fd, int) and not os.get_blocking(fd)
    except OSError:
        return False


def zero_timeout(timeout: Any) -> bool:
    return timeout is not None and timeout <= 0
