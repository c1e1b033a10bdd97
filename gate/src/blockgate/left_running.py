"""What gate tests leave running: a red gate must exit red, promptly, whatever aborted code left behind.

A gate test aborted by a blocking error may leave threads or child processes
running (an open connection's worker thread, when its ``close()`` was the
call that raised), and interpreter shutdown waits for non-daemon threads
forever. The plugin notes what each gate test leaves running; at the end of
the session ``settle`` gives it a short grace, terminates leftover child
processes, and the plugin names every leftover and the test that started it,
turns the run red and, if a thread is still alive when the interpreter shuts
down, ends the process with that code instead of waiting.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

GRACE_SECONDS = 2.0  # what a leftover thread gets to finish on its own at session end


def _child_pids() -> set[int] | None:
    """This process's live child processes (Linux ``/proc``); None where they cannot be listed."""
    me = os.getpid()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
    except OSError:
        return None
    pids: set[int] = set()
    readable = False
    for task in tasks:
        try:
            with open(f"/proc/{me}/task/{task}/children", encoding="ascii") as f:
                pids.update(int(pid) for pid in f.read().split())
            readable = True
        except OSError:  # the thread ended meanwhile, or the kernel does not list children
            continue
    return {pid for pid in pids if _process_state(pid) not in (None, "Z")} if readable else None


def _process_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return None


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    except OSError:
        return "?"


# Helpers the standard library starts on first use and ends itself when the
# interpreter exits (a process pool's resource tracker): not left behind.
_STDLIB_SERVICES = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _stdlib_service(pid: int) -> bool:
    command = _command_line(pid)
    return any(service in command for service in _STDLIB_SERVICES)


@dataclass
class LeftRunning:
    """Non-daemon threads and child processes a gate test started and did not end, by test."""

    threads: dict[threading.Thread, str] = field(default_factory=dict)
    processes: dict[int, str] = field(default_factory=dict)
    _threads_before: set[threading.Thread] = field(default_factory=set)
    _processes_before: set[int] | None = None
    report: list[str] = field(default_factory=list)
    still_alive: list[threading.Thread] = field(default_factory=list)

    def before(self, item: pytest.Item) -> None:
        self._threads_before = set(threading.enumerate())
        self._processes_before = _child_pids()

    def after(self, item: pytest.Item) -> None:
        for thread in threading.enumerate():
            if thread not in self._threads_before and not thread.daemon and thread.is_alive():
                self.threads.setdefault(thread, item.nodeid)
        children = _child_pids()
        if children is not None and self._processes_before is not None:
            for pid in children - self._processes_before:
                if not _stdlib_service(pid):
                    self.processes.setdefault(pid, item.nodeid)

    def settle(self) -> None:
        """At session end: a short grace, then terminate child processes and list what is left."""
        gc.collect()  # a connection that nothing references any more stops its thread
        deadline = time.monotonic() + GRACE_SECONDS
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.still_alive = [t for t in self.threads if t.is_alive()]
        for thread in self.still_alive:
            self.report.append(
                f"thread {thread.name!r} (non-daemon), started by {self.threads[thread]}: still running"
            )
        alive = _child_pids() or set()
        for pid, nodeid in self.processes.items():
            if pid in alive:
                command = _command_line(pid)
                self.report.append(f"child process {pid} ({command}), started by {nodeid}: {_terminate(pid)}")


def _terminate(pid: int) -> str:
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if _process_state(pid) in (None, "Z"):
                return "terminated"
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        return "killed"
    except OSError as exc:
        return f"could not be ended ({exc})"


def end_process_at_shutdown(threads: list[threading.Thread], code: int) -> None:
    """When the interpreter shuts down with these threads alive, exit with ``code`` instead of joining them."""

    def end() -> None:
        if any(thread.is_alive() for thread in threads):
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)

    # threading's own exit hooks run before it joins the non-daemon threads
    # (concurrent.futures registers there too); atexit would run too late.
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # an interpreter without the hook: end now, the summary is printed
        end_now.append(end)
    else:
        register(end)


end_now: list[Callable[[], None]] = []
