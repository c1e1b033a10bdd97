"""File locks: ``fcntl.flock``, ``lockf``, ``fcntl(F_SETLKW)``, ``os.lockf`` and Windows' ``msvcrt.locking``.

A blocking lock waits for another process to let go; the non-blocking forms
(``LOCK_NB``, ``F_TLOCK``, ``F_SETLK``, ``LK_NBLCK``) pass.
"""

from __future__ import annotations

import os
from typing import Any

from blockgate.rules.model import POSIX_SYSTEMS, Audit, Patch, Probe, Scene
from blockgate.rules.scenes import ignore_os_error, lookup, open_fd


def _flock_nonblocking(args: tuple[Any, ...]) -> bool:
    import fcntl

    return args[1] == fcntl.LOCK_UN or bool(args[1] & fcntl.LOCK_NB)


def _lockf_nonblocking(args: tuple[Any, ...]) -> bool:
    import fcntl

    return args[1] == fcntl.LOCK_UN or bool(args[1] & fcntl.LOCK_NB)


def _fcntl_nonblocking(args: tuple[Any, ...]) -> bool:
    import fcntl

    waits = {getattr(fcntl, name) for name in ("F_SETLKW", "F_OFD_SETLKW") if hasattr(fcntl, name)}
    return args[1] not in waits


def _msvcrt_locking_nonblocking(args: tuple[Any, ...]) -> bool:
    import msvcrt

    # Windows only: mypy reads the stubs as Linux has them.
    return bool(args[1] in (msvcrt.LK_NBLCK, msvcrt.LK_NBRLCK, msvcrt.LK_UNLCK))  # type: ignore[attr-defined,unused-ignore]


def _os_lockf_nonblocking(args: tuple[Any, ...]) -> bool:
    return bool(args[1] != os.F_LOCK)  # F_TLOCK fails at once, F_ULOCK and F_TEST never wait


def _flock_struct() -> bytes:
    """A ``struct flock`` asking for a write lock on the whole file (Linux, 64-bit offsets)."""
    import fcntl
    import struct

    return struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)


def _msvcrt_lock_and_release(fd: int, mode: str) -> None:
    """Lock the file's first byte (free: returns at once), then unlock it."""
    import msvcrt

    # Windows only: mypy reads the stubs as Linux has them.
    os.lseek(fd, 0, os.SEEK_SET)
    msvcrt.locking(fd, getattr(msvcrt, mode), 1)  # type: ignore[attr-defined,unused-ignore]
    os.lseek(fd, 0, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]


def _flock_try_and_release(fd: int, which: str) -> None:
    import fcntl

    call = getattr(fcntl, which)
    call(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    call(fd, fcntl.LOCK_UN)


def _lockf_try_and_release(scene: Scene) -> None:
    os.lockf(scene.extra["fd"], os.F_TLOCK, 0)
    os.lockf(scene.extra["fd"], os.F_ULOCK, 0)


RULES: tuple[Patch | Audit, ...] = (
    # -- file locks ------------------------------------------------------------------
    Audit(
        "locks",
        "fcntl.flock",
        "a blocking flock waits for another process",
        fires=Probe(lambda s: lookup("fcntl.flock")(s.extra["fd"], lookup("fcntl.LOCK_EX")), open_fd),
        nonblocking_if=_flock_nonblocking,
        passes=Probe(lambda s: _flock_try_and_release(s.extra["fd"], "flock"), open_fd),
        systems=POSIX_SYSTEMS,
        raised_by=("fcntl.flock",),
    ),
    Audit(
        "locks",
        "fcntl.lockf",
        "a blocking lockf waits for another process",
        fires=Probe(lambda s: lookup("fcntl.lockf")(s.extra["fd"], lookup("fcntl.LOCK_EX")), open_fd),
        nonblocking_if=_lockf_nonblocking,
        passes=Probe(lambda s: _flock_try_and_release(s.extra["fd"], "lockf"), open_fd),
        systems=POSIX_SYSTEMS,
        raised_by=("fcntl.lockf",),
    ),
    Audit(
        "locks",
        "fcntl.fcntl",
        "F_SETLKW (and F_OFD_SETLKW) waits for another process to release a record lock",
        fires=Probe(
            lambda s: ignore_os_error(
                lambda: lookup("fcntl.fcntl")(s.extra["fd"], lookup("fcntl.F_SETLKW"), _flock_struct())
            ),
            open_fd,
        ),
        nonblocking_if=_fcntl_nonblocking,
        passes=Probe(lambda s: lookup("fcntl.fcntl")(s.extra["fd"], lookup("fcntl.F_GETFL")), open_fd),
        systems=POSIX_SYSTEMS,
        raised_by=("fcntl.fcntl",),
    ),
    Audit(
        "locks",
        "msvcrt.locking",
        "LK_LOCK and LK_RLCK retry a held lock once a second, ten times (Windows)",
        fires=Probe(lambda s: _msvcrt_lock_and_release(s.extra["fd"], "LK_LOCK"), open_fd),
        nonblocking_if=_msvcrt_locking_nonblocking,
        passes=Probe(lambda s: _msvcrt_lock_and_release(s.extra["fd"], "LK_NBLCK"), open_fd),
        systems=("win32",),  # its probes run there only
        raised_by=("msvcrt.locking",),
    ),
    Audit(
        "locks",
        "os.lockf",
        "F_LOCK waits for another process to release the region",
        fires=Probe(lambda s: os.lockf(s.extra["fd"], os.F_LOCK, 0), open_fd),
        nonblocking_if=_os_lockf_nonblocking,
        passes=Probe(
            _lockf_try_and_release,
            open_fd,
        ),
        platform_has_it=hasattr(os, "lockf"),
        raised_by=("os.lockf", "posix.lockf"),
    ),
)
