"""Subprocesses: starting programs and waiting for them.

``subprocess`` and ``os.system``/``os.spawn*``/``os.wait*`` fork, exec and
wait for children; ``WNOHANG`` waits pass. asyncio's own subprocess
transport is exempt (``exemptions``): it is the non-blocking API.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from blockgate.rules.factories import os_patches
from blockgate.rules.forms import fd_nonblocking
from blockgate.rules.model import Audit, Patch, Probe, Scene
from blockgate.rules.scenes import ignoring, lookup


def _wnohang(options: Any) -> bool:
    return bool(options & getattr(os, "WNOHANG", 0))


def _child(scene: Scene) -> None:
    proc = subprocess.Popen(["sleep", "0.05"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    scene.extra["proc"] = proc

    def reap() -> None:
        try:
            proc.wait(10)
        finally:
            assert proc.stdout is not None  # stdout=PIPE
            proc.stdout.close()

    scene.cleanups.append(reap)


def _eventfd(scene: Scene) -> None:
    fd = os.eventfd(0)
    os.eventfd_write(fd, 1)
    scene.keep("fd", fd, lambda: os.close(fd))


def _nonblocking_eventfd(scene: Scene) -> None:
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    os.eventfd_write(fd, 1)
    scene.keep("fd", fd, lambda: os.close(fd))


RULES: tuple[Patch | Audit, ...] = (
    # -- subprocesses -----------------------------------------------------------
    Audit(
        "subprocess",
        "subprocess.Popen",
        "fork/exec and, with run/check_output, waiting for the child",
        fires=Probe(lambda s: subprocess.Popen(["true"]).wait()),
        raised_by=(
            "subprocess.Popen",
            "subprocess.run",
            "subprocess.call",
            "subprocess.check_call",
            "subprocess.check_output",
            "subprocess.getoutput",
            "subprocess.getstatusoutput",
            "os.popen",
        ),
    ),
    Audit(
        "subprocess",
        "_wmi.exec_query",
        "asks the WMI service, another process, and waits for its answer (platform on Windows)",
        fires=Probe(lambda s: lookup("_wmi.exec_query")("SELECT Name FROM Win32_Processor")),
        # platform's Windows answers come from WMI from 3.12 (uname's first call, then cached)
        raised_by=tuple(
            f"platform.{n}"
            for n in (
                "machine",
                "node",
                "platform",
                "processor",
                "release",
                "system",
                "uname",
                "version",
                "win32_ver",
            )
        ),
        min_version=(3, 12),
        systems=("win32",),  # its probe runs there only
    ),
    Audit(
        "subprocess",
        "os.system",
        "runs a shell and waits for it",
        fires=Probe(lambda s: os.system("true")),
        raised_by=("os.system", "posix.system"),
    ),
    *os_patches(
        "subprocess",
        "waitpid",
        "waits for a child process to exit",
        lambda s: (s.extra["proc"].pid, 0),
        prepare=_child,
        nonblocking_if=lambda _pid, options=0, *_, **__: _wnohang(options),
        passes_with=(lambda s: (s.extra["proc"].pid, os.WNOHANG), _child),
    ),
    *os_patches(
        "subprocess",
        "wait",
        "waits for any child process to exit",
        lambda s: (),
        prepare=_child,  # the child exits in 50 ms: wait returns it (or an older zombie)
        run=ignoring(ChildProcessError),
    ),
    *os_patches(
        "subprocess",
        "wait3",
        "waits for any child process to exit",
        lambda s: (0,),
        prepare=_child,  # the child exits in 50 ms: wait returns it (or an older zombie)
        run=ignoring(ChildProcessError),
        nonblocking_if=lambda options, *_, **__: _wnohang(options),
        passes_with=(lambda s: (os.WNOHANG,), None),
    ),
    *os_patches(
        "subprocess",
        "wait4",
        "waits for a child process to exit",
        lambda s: (s.extra["proc"].pid, 0),
        prepare=_child,
        nonblocking_if=lambda _pid, options, *_, **__: _wnohang(options),
        passes_with=(lambda s: (s.extra["proc"].pid, os.WNOHANG), _child),
    ),
    *os_patches(
        "subprocess",
        "waitid",
        "waits for a child process to change state",
        lambda s: (os.P_PID, s.extra["proc"].pid, os.WEXITED | os.WNOWAIT),
        prepare=_child,
        nonblocking_if=lambda _idtype, _id, options, *_, **__: _wnohang(options),
        passes_with=(lambda s: (os.P_PID, s.extra["proc"].pid, os.WEXITED | os.WNOHANG | os.WNOWAIT), _child),
    ),
    *os_patches(
        "subprocess",
        "eventfd_read",
        "waits until another thread or process writes the eventfd",
        lambda s: (s.extra["fd"],),
        prepare=_eventfd,
        nonblocking_if=fd_nonblocking,
        passes_with=(lambda s: (s.extra["fd"],), _nonblocking_eventfd),
    ),
    Patch(
        "subprocess",
        "subprocess.Popen.wait",
        "waits for a child process to exit",
        fires=Probe(lambda s: s.extra["proc"].wait(), _child),
        nonblocking_if=lambda _p, timeout=None, **__: timeout == 0,
        passes=Probe(
            lambda s: ignoring(subprocess.TimeoutExpired)(lambda: s.extra["proc"].wait(timeout=0)), _child
        ),
    ),
    Patch(
        "subprocess",
        "subprocess.Popen.communicate",
        "waits for a child process and its pipes",
        fires=Probe(lambda s: s.extra["proc"].communicate(), _child),
    ),
)
